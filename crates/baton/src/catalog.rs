//! The catalog (docs/format.md#catalog): what `list`, `show` and `search` need about
//! every client (names, contacts, entry summaries; never a secret value), kept apart
//! from the index so that reading one entry does not cost the whole vault's summaries.
//!
//! Clients are spread over up to 16 shard files by the first hex digit of their `cid`,
//! so a write re-encrypts one shard, not all of them. Shard files live in `clients/`
//! under random names like client files, and the index pins each by its SHA-256.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::client::{ClientRef, ClientSummary};
use crate::vault::{IntegrityError, Vault, VaultError, is_client_file_name, sha256_hex};
use crate::{seal, vault};

/// What the index keeps about one shard file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ShardRef {
    /// One lowercase hex digit: the first digit of the `cid`s it holds.
    pub shard: String,
    pub file: String,
    pub sha256: String,
}

/// The plaintext of a shard file.
#[derive(Serialize, Deserialize)]
pub(crate) struct ShardFile {
    pub format: String,
    pub version: u32,
    pub vault_id: String,
    pub shard: String,
    /// Sorted by `id`.
    pub clients: Vec<ClientSummary>,
}

impl ShardFile {
    pub const FORMAT: &'static str = "baton-catalog";
}

/// The shard a client belongs to: the first hex digit of its `cid`.
pub fn shard_of(cid: &str) -> &str {
    cid.get(..1).unwrap_or("")
}

/// A valid shard name: one lowercase hex digit.
pub(crate) fn valid_shard(s: &str) -> bool {
    s.len() == 1 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The names a shard file's plaintext must carry; parsed without the summaries, so
/// rotation can check a shard it copies unchanged.
#[derive(Deserialize)]
pub(crate) struct ShardNames<'a> {
    pub format: &'a str,
    pub version: u32,
    pub vault_id: &'a str,
    pub shard: &'a str,
}

impl ShardNames<'_> {
    pub(crate) fn matches(&self, vault_id: &str, r: &ShardRef) -> bool {
        self.format == ShardFile::FORMAT
            && self.version == 1
            && self.vault_id == vault_id
            && self.shard == r.shard
    }
}

impl Vault {
    /// Every client's summary, sorted by id, checked against the index: each shard is
    /// the file the index pins, and the shards hold exactly the clients the index names.
    pub fn catalog(&self) -> Result<Vec<ClientSummary>, VaultError> {
        match self.catalog_of(&self.index) {
            Ok(c) => Ok(c),
            // A reader holds no lock: a writer may have replaced the shards this
            // (older) index names. Only if the index on disk is unchanged is the
            // problem real.
            Err(e) if self.lock.is_none() => match self.read_index() {
                Ok(fresh) if fresh.revision > self.index.revision => Ok(self.catalog_of(&fresh)?),
                _ => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn catalog_of(
        &self,
        index: &crate::index::IndexBody,
    ) -> Result<Vec<ClientSummary>, IntegrityError> {
        let mut by_cid: BTreeMap<String, ClientSummary> = BTreeMap::new();
        for r in &index.catalog {
            for s in self.read_shard(index, r)? {
                if by_cid.insert(s.cid.clone(), s).is_some() {
                    return Err(IntegrityError::CatalogMismatch);
                }
            }
        }
        let mut out = Vec::with_capacity(index.clients.len());
        for c in &index.clients {
            match by_cid.remove(&c.cid) {
                Some(s) if s.id == c.id => out.push(s),
                _ => {
                    return Err(IntegrityError::CatalogMismatch);
                }
            }
        }
        if !by_cid.is_empty() {
            return Err(IntegrityError::CatalogMismatch);
        }
        Ok(out)
    }

    /// A shard's plaintext, checked against the index's SHA-256 and names.
    pub(crate) fn shard_plaintext(
        &self,
        vault_id: &str,
        r: &ShardRef,
    ) -> Result<Zeroizing<Vec<u8>>, IntegrityError> {
        let damaged = || IntegrityError::CatalogDamaged(r.shard.clone());
        if !is_client_file_name(&r.file) || !valid_shard(&r.shard) {
            return Err(damaged());
        }
        let p = self.path.join(vault::CLIENTS_DIR).join(&r.file);
        let bytes = std::fs::read(&p).map_err(|_| IntegrityError::CatalogMissing {
            shard: r.shard.clone(),
            file: format!("{}/{}", vault::CLIENTS_DIR, r.file),
        })?;
        if sha256_hex(&bytes) != r.sha256 {
            return Err(damaged());
        }
        let plain = seal::decrypt(self.identity(), &bytes).map_err(|_| damaged())?;
        let names: ShardNames = serde_json::from_slice(&plain).map_err(|_| damaged())?;
        if !names.matches(vault_id, r) {
            return Err(damaged());
        }
        Ok(plain)
    }

    /// The summaries of one shard.
    pub(crate) fn read_shard(
        &self,
        index: &crate::index::IndexBody,
        r: &ShardRef,
    ) -> Result<Vec<ClientSummary>, IntegrityError> {
        let plain = self.shard_plaintext(&index.vault_id, r)?;
        let file: ShardFile = serde_json::from_slice(&plain)
            .map_err(|_| IntegrityError::CatalogDamaged(r.shard.clone()))?;
        if file.clients.iter().any(|c| shard_of(&c.cid) != r.shard) {
            return Err(IntegrityError::CatalogMismatch);
        }
        Ok(file.clients)
    }
}

/// Applies a write to the catalog: `upserts` replace or add summaries (matched by
/// `cid`), `removes` drop them. Returns the new content of every shard touched, keyed
/// by shard; an empty list means the shard file goes away.
pub(crate) fn apply(
    mut current: BTreeMap<String, Vec<ClientSummary>>,
    upserts: Vec<ClientSummary>,
    removes: &[String],
) -> BTreeMap<String, Vec<ClientSummary>> {
    for cid in removes {
        if let Some(list) = current.get_mut(shard_of(cid)) {
            list.retain(|c| &c.cid != cid);
        }
    }
    for s in upserts {
        let list = current.entry(shard_of(&s.cid).to_string()).or_default();
        match list.iter_mut().find(|c| c.cid == s.cid) {
            Some(slot) => *slot = s,
            None => list.push(s),
        }
    }
    for list in current.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    current
}

/// Shards a write touches.
pub(crate) fn touched<'a>(
    upserts: impl Iterator<Item = &'a str>,
    removes: &'a [String],
) -> Vec<String> {
    let mut v: Vec<String> = upserts
        .chain(removes.iter().map(String::as_str))
        .map(|cid| shard_of(cid).to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A `ClientRef` for each summary's client is kept by the caller; this checks that a
/// locator list is sorted by id with unique ids and cids of the right form.
pub(crate) fn check_locator(clients: &[ClientRef]) -> Result<(), String> {
    for w in clients.windows(2) {
        if w[0].id >= w[1].id {
            return Err(w[1].id.clone());
        }
    }
    let mut cids = std::collections::HashSet::new();
    for c in clients {
        let hex32 = c.cid.len() == 32
            && c.cid
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex32 || !cids.insert(c.cid.as_str()) || !is_client_file_name(&c.file) {
            return Err(c.id.clone());
        }
    }
    Ok(())
}
