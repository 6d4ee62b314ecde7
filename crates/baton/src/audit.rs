//! The append-only, hash-chained, encrypted audit log (docs/format.md#audit-log).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const AUDIT_DIR: &str = "audit";
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The last committed record, pinned by the authenticated index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: String,
}

impl AuditHead {
    pub fn empty() -> Self {
        AuditHead {
            seq: 0,
            hash: GENESIS.into(),
        }
    }
}

/// One audit record. Never holds secret values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub prev: String,
    pub time: String,
    pub actor: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What a caller asks to record; the vault fills in sequence, chain and time.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub action: String,
    pub client: Option<String>,
    pub detail: String,
}

impl AuditEvent {
    pub fn new(action: &str, client: Option<&str>, detail: impl Into<String>) -> Self {
        AuditEvent {
            action: action.into(),
            client: client.map(str::to_string),
            detail: detail.into(),
        }
    }
}

pub fn record_file(seq: u64) -> String {
    format!("{seq:012}.age")
}

pub fn hash(plaintext: &[u8]) -> String {
    hex::encode(Sha256::digest(plaintext))
}

/// A problem found while checking the chain, naming the record.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditProblem {
    #[error("audit record {0} is missing")]
    Missing(u64),
    #[error("audit record {0} cannot be decrypted or parsed")]
    Unreadable(u64),
    #[error("audit record {0} does not continue the chain (altered, reordered or replaced)")]
    BrokenChain(u64),
    #[error(
        "the last audit record does not match the one the index pins (log truncated or altered)"
    )]
    HeadMismatch,
}
