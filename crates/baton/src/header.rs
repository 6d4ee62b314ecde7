//! The public header `vault.json` (docs/format.md#header).

use serde::{Deserialize, Serialize};

use crate::kdf::KdfParams;

pub const HEADER_FILE: &str = "vault.json";
pub const FORMAT: &str = "baton-vault";
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipients {
    pub owner: String,
    pub emergency: String,
}

/// Public facts about the current SLIP-39 share set. Holder names are in the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareSet {
    /// The 15-bit SLIP-39 identifier, 4 hex digits.
    pub id: String,
    pub threshold: u8,
    pub count: u8,
    pub extendable: bool,
    pub iteration_exponent: u8,
    pub created: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub vault_id: String,
    pub created: String,
    pub generation: u64,
    pub recipients: Recipients,
    pub kdf: KdfParams,
    /// HMAC-SHA256(mac_key, "baton-passphrase-check") truncated to 16 bytes, hex: tells
    /// a wrong passphrase from a damaged owner key (docs/format.md#owner-key).
    pub passphrase_check: String,
    /// Armored age file, see docs/format.md#owner-key.
    pub owner_key: String,
    pub share_set: ShareSet,
}

impl Header {
    pub fn vault_id_bytes(&self) -> Option<[u8; 16]> {
        let mut b = [0u8; 16];
        hex::decode_to_slice(&self.vault_id, &mut b).ok()?;
        Some(b)
    }

    pub fn index_file(&self) -> String {
        index_file(self.generation)
    }
}

pub fn index_file(generation: u64) -> String {
    format!("index.g{generation}.age")
}
