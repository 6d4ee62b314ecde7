//! The append-only, hash-chained, encrypted audit log (docs/format.md#audit-log).

mod action;

pub use action::AuditAction;

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
    pub action: AuditAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The writer whose chain holds the record (docs/format.md#multi-writer, "Audit
    /// log"); empty for the records of version 2 (the `legacy` chain).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub writer: String,
    /// How many records of all chains the state it was written on held, plus one: a
    /// record made after another (on any device, after a merge) has a larger number,
    /// so records of several chains written within one second keep their order.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub order: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The chain of the records written before the upgrade to version 3.
pub const LEGACY_CHAIN: &str = "legacy";

/// Each chain's last record (`legacy` and one per writer), as a head pins them.
pub type Chains = std::collections::BTreeMap<String, AuditHead>;

/// The file of record `seq` of `chain`: `<seq>.age` for the legacy chain,
/// `<writer>.<seq>.age` for a writer's.
pub fn chain_record_file(chain: &str, seq: u64) -> String {
    if chain == LEGACY_CHAIN {
        record_file(seq)
    } else {
        format!("{chain}.{seq:012}.age")
    }
}

/// The chain and number of a record file's name (either form).
pub fn parse_chain_record_file(name: &str) -> Option<(String, u64)> {
    if let Some(seq) = parse_record_file(name) {
        return Some((LEGACY_CHAIN.to_string(), seq));
    }
    let (writer, rest) = name.split_once('.')?;
    (crate::is_lower_hex(writer, 16))
        .then(|| parse_record_file(rest).map(|seq| (writer.to_string(), seq)))
        .flatten()
}

/// What a caller asks to record; the vault fills in sequence, chain and time.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub action: AuditAction,
    pub client: Option<String>,
    pub detail: String,
}

impl AuditEvent {
    pub fn new(action: AuditAction, client: Option<&str>, detail: impl Into<String>) -> Self {
        AuditEvent {
            action,
            client: client.map(str::to_string),
            detail: detail.into(),
        }
    }
}

/// The records of earlier generations, re-encrypted into one file at a rotation
/// (docs/format.md#audit-log). Pinned by the authenticated index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditArchive {
    /// `archive.g<generation>.age` in `audit/`.
    pub file: String,
    /// The archive holds records 1 to `through`; later records are single files.
    pub through: u64,
    /// SHA-256 of the archive file's bytes on disk.
    pub sha256: String,
    /// How many records of each writer's chain the archive holds after the `through`
    /// records of the legacy chain, in this order (docs/format.md#multi-writer).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub chains: std::collections::BTreeMap<String, u64>,
}

impl AuditArchive {
    /// How many records of `chain` the archive holds.
    pub fn count(&self, chain: &str) -> u64 {
        if chain == LEGACY_CHAIN {
            self.through
        } else {
            self.chains.get(chain).copied().unwrap_or(0)
        }
    }

    /// Where `chain`'s records start in the archive's list (saturating: counts come
    /// from a head, and `total` tells a list that does not add up).
    pub fn offset(&self, chain: &str) -> u64 {
        if chain == LEGACY_CHAIN {
            return 0;
        }
        self.chains
            .iter()
            .filter(|(k, _)| k.as_str() < chain)
            .fold(self.through, |acc, (_, n)| acc.saturating_add(*n))
    }

    /// How many records the archive holds in all, if the counts add up at all.
    pub fn total(&self) -> Option<u64> {
        self.chains
            .values()
            .try_fold(self.through, |acc, n| acc.checked_add(*n))
    }
}

/// `archive.g<N>.age`: the name rotations gave the archive before they named it by
/// their writer (still read).
pub fn archive_file(generation: u64) -> String {
    format!("archive.g{generation}.age")
}

/// `archive.g<N>.<writer>.age`: the archive a rotation by `writer` writes, so that two
/// rotations to one generation made apart on two devices never write one file
/// (docs/format.md#sibling-rotations). Without a writer id (a version 2 vault), the
/// old name.
pub fn archive_file_of(generation: u64, writer: &str) -> String {
    if crate::is_lower_hex(writer, 16) {
        format!("archive.g{generation}.{writer}.age")
    } else {
        archive_file(generation)
    }
}

/// Parses `archive.g<N>.age` and `archive.g<N>.<writer>.age`: the generation.
pub fn parse_archive_file(name: &str) -> Option<u64> {
    let n = name.strip_prefix("archive.g")?.strip_suffix(".age")?;
    let n = match n.split_once('.') {
        Some((n, writer)) if crate::is_lower_hex(writer, 16) => n,
        Some(_) => return None,
        None => n,
    };
    (!n.is_empty() && n.len() <= 19 && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

/// Parses `<seq:012>.age`, the name of a single record file.
pub fn parse_record_file(name: &str) -> Option<u64> {
    let n = name.strip_suffix(".age")?;
    (n.len() == 12 && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

/// Plaintext of an archive: every record's plaintext bytes, exactly as hashed into the
/// chain, as the elements of a JSON array.
pub fn archive_plaintext<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = br#"{"format":"baton-audit-archive","version":1,"records":["#.to_vec();
    for (i, r) in records.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.extend_from_slice(b"]}");
    out
}

/// Splits an archive's plaintext back into the exact bytes of each record.
pub fn archive_records(plaintext: &[u8]) -> Option<Vec<&[u8]>> {
    #[derive(Deserialize)]
    struct Archive<'a> {
        format: String,
        version: u32,
        #[serde(borrow)]
        records: Vec<&'a serde_json::value::RawValue>,
    }
    let a: Archive = serde_json::from_slice(plaintext).ok()?;
    (a.format == "baton-audit-archive" && a.version == 1)
        .then(|| a.records.iter().map(|r| r.get().as_bytes()).collect())
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
    #[error("the audit archive {0} is missing, altered or unreadable")]
    Archive(String),
    #[error(
        "the last audit record does not match the one the index pins (log truncated or altered)"
    )]
    HeadMismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_keeps_record_bytes_exactly() {
        let a = br#"{"seq":1,"prev":"00","time":"t","actor":"owner","action":"x","detail":"a\nb \u00e9"}"#;
        let b = br#"{"seq":2,"prev":"ab","time":"t","actor":"owner","action":"y"}"#;
        let plain = archive_plaintext([&a[..], &b[..]]);
        let back = archive_records(&plain).unwrap();
        assert_eq!(back, vec![&a[..], &b[..]]);
        assert_eq!(hash(back[0]), hash(a));
        assert!(archive_records(b"{\"format\":\"x\",\"version\":1,\"records\":[]}").is_none());
        assert_eq!(parse_record_file(&record_file(42)), Some(42));
        assert_eq!(parse_archive_file(&archive_file(3)), Some(3));
        let w = "0123456789abcdef";
        assert_eq!(archive_file_of(3, w), "archive.g3.0123456789abcdef.age");
        assert_eq!(parse_archive_file(&archive_file_of(3, w)), Some(3));
        assert_eq!(archive_file_of(3, ""), archive_file(3));
        for bad in [
            "archive.g3.0123.age",
            "archive.g3.0123456789ABCDEF.age",
            "archive.g.age",
        ] {
            assert_eq!(parse_archive_file(bad), None, "{bad}");
        }
        assert_eq!(
            parse_record_file("000000000042.age.interrupted-1234abcd"),
            None
        );
    }
}
