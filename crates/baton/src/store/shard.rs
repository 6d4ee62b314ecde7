//! Shard files (docs/format.md#locator, #catalog): the index pins a few files in
//! `clients/` that each hold part of a per-client table, so that reading one client or
//! writing one change does not cost the whole vault.

use serde::{Deserialize, Serialize};

use crate::store::is_client_file_name;

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
    /// A locator shard's client tombstones (docs/format.md#multi-writer, "Versions"):
    /// the id (as `name`) and version of each client removed, so that an older copy
    /// arriving later cannot bring it back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<crate::client::Removal>,
}

impl<T> ShardFile<T> {
    pub(crate) fn new(kind: ShardKind, vault_id: &str, shard: &str, clients: Vec<T>) -> Self {
        ShardFile {
            format: kind.format().into(),
            version: 1,
            vault_id: vault_id.into(),
            shard: shard.into(),
            clients,
            removed: Vec::new(),
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
pub(crate) struct ShardNames<'a> {
    pub(crate) format: &'a str,
    pub(crate) version: u32,
    pub(crate) vault_id: &'a str,
    pub(crate) shard: &'a str,
}
