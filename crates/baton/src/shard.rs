//! Shard files (docs/format.md#locator, #catalog): the index pins a few files in
//! `clients/` that each hold part of a per-client table, so that reading one client or
//! writing one change does not cost the whole vault.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::seal;
use crate::vault::{self, IntegrityError, Vault, is_client_file_name, sha256_hex};

/// What the index keeps about one shard file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ShardRef {
    /// One lowercase hex digit.
    pub shard: String,
    pub file: String,
    pub sha256: String,
}

/// The two tables kept in shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardKind {
    /// Where each client's file is (sharded by the client id's hash).
    Locator,
    /// What `list`, `show` and `search` need (sharded by the client's `cid`).
    Catalog,
}

impl ShardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ShardKind::Locator => "locator",
            ShardKind::Catalog => "catalog",
        }
    }
    pub(crate) fn format(self) -> &'static str {
        match self {
            ShardKind::Locator => "baton-locator",
            ShardKind::Catalog => "baton-catalog",
        }
    }
}

impl std::fmt::Display for ShardKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A shard file's plaintext: `clients` is the kind's row type, sorted by `id`.
#[derive(Serialize, Deserialize)]
pub(crate) struct ShardFile<T> {
    pub format: String,
    pub version: u32,
    pub vault_id: String,
    pub shard: String,
    pub clients: Vec<T>,
}

impl<T> ShardFile<T> {
    pub(crate) fn new(kind: ShardKind, vault_id: &str, shard: &str, clients: Vec<T>) -> Self {
        ShardFile {
            format: kind.format().into(),
            version: 1,
            vault_id: vault_id.into(),
            shard: shard.into(),
            clients,
        }
    }
}

/// A valid shard name: one lowercase hex digit.
pub(crate) fn valid_shard(s: &str) -> bool {
    crate::is_lower_hex(s, 1)
}

/// A list of shard references as the index must hold it: sorted by shard, no shard
/// twice, every name valid.
pub(crate) fn valid_refs(refs: &[ShardRef]) -> bool {
    refs.windows(2).all(|w| w[0].shard < w[1].shard)
        && refs
            .iter()
            .all(|r| valid_shard(&r.shard) && is_client_file_name(&r.file))
}

/// The names a shard file's plaintext must carry; parsed without the rows, so rotation
/// can check a shard it copies unchanged.
#[derive(Deserialize)]
struct ShardNames<'a> {
    format: &'a str,
    version: u32,
    vault_id: &'a str,
    shard: &'a str,
}

impl Vault {
    /// A shard's plaintext, checked against the index's SHA-256 and its names.
    pub(crate) fn shard_plaintext(
        &self,
        kind: ShardKind,
        vault_id: &str,
        r: &ShardRef,
    ) -> Result<Zeroizing<Vec<u8>>, IntegrityError> {
        let damaged = || IntegrityError::ShardDamaged {
            kind,
            shard: r.shard.clone(),
        };
        if !is_client_file_name(&r.file) || !valid_shard(&r.shard) {
            return Err(damaged());
        }
        let p = self.path.join(vault::CLIENTS_DIR).join(&r.file);
        let bytes = std::fs::read(&p).map_err(|_| IntegrityError::ShardMissing {
            kind,
            shard: r.shard.clone(),
            file: format!("{}/{}", vault::CLIENTS_DIR, r.file),
        })?;
        if sha256_hex(&bytes) != r.sha256 {
            return Err(damaged());
        }
        let plain = seal::decrypt(self.identity(), &bytes).map_err(|_| damaged())?;
        let n: ShardNames = serde_json::from_slice(&plain).map_err(|_| damaged())?;
        if n.format != kind.format()
            || n.version != 1
            || n.vault_id != vault_id
            || n.shard != r.shard
        {
            return Err(damaged());
        }
        Ok(plain)
    }

    /// A shard's rows.
    pub(crate) fn read_shard<T: serde::de::DeserializeOwned>(
        &self,
        kind: ShardKind,
        vault_id: &str,
        r: &ShardRef,
    ) -> Result<Vec<T>, IntegrityError> {
        let plain = self.shard_plaintext(kind, vault_id, r)?;
        let file: ShardFile<T> =
            serde_json::from_slice(&plain).map_err(|_| IntegrityError::ShardDamaged {
                kind,
                shard: r.shard.clone(),
            })?;
        Ok(file.clients)
    }
}
