//! Writer heads (docs/format.md#multi-writer, "Head"): in the multi-writer format each
//! writer replaces only its own head, `heads/<writer>.g<generation>.age`, which holds
//! what the version 2 index holds plus what that writer has seen of the others.
//!
//! This module is the file format and its checks; the vault does not write heads yet
//! (docs/format.md#multi-writer, "Status").

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::keys::AuthKey;
use crate::store::envelope::{self, EnvelopeError};
use crate::store::index::IndexBody;
use crate::sync::{Ver, names, valid_writer};

const MAC_DOMAIN: &[u8] = b"baton-head/1\n";
const FORMAT: &str = "baton-head";
const VERSION: u32 = 1;
pub const HEADS_DIR: &str = "heads";

/// A writer's head: its state of the vault and what it has merged.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeadBody {
    #[serde(flatten)]
    pub index: IndexBody,
    /// The writer that wrote this head (16 lowercase hex).
    pub writer: String,
    /// For each writer, the highest revision of its head this state includes; the
    /// writer's own entry equals `index.revision`.
    pub seen: Ver,
    /// The version of the vault-wide fields (holders, owner, drill, retention).
    #[serde(default)]
    pub settings_ver: Ver,
    /// Files in `clients/` that this writer's commits replaced and that a device may
    /// still read: each goes once every writer's head has seen the revision that
    /// replaced it (docs/format.md#mw-commit).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<Deferred>,
    /// Where this writer's own audit chain ended in its other histories that this state
    /// merged: the writer wrote two histories under the same numbers (a restored
    /// backup, docs/format.md#forked-writers), and a head of the other one is covered
    /// by this head only through this list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<crate::audit::AuditHead>,
}

/// A replaced file kept until every writer has seen its replacement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferred {
    pub file: String,
    /// This writer's revision that replaced it.
    pub since: u64,
}

/// Why a head file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    #[error("head is not valid JSON of a known version")]
    Malformed,
    #[error("head authentication failed: it was replaced or altered")]
    BadMac,
    #[error("head names writer {found}, but its file is writer {expected}'s")]
    WrongWriter { expected: String, found: String },
    #[error("head's versions are not well formed")]
    BadVersions,
}

impl HeadBody {
    /// Serializes and authenticates the head; the result is the plaintext to encrypt.
    pub fn seal(&self, auth: &AuthKey) -> Zeroizing<Vec<u8>> {
        envelope::seal(FORMAT, VERSION, MAC_DOMAIN, self, auth)
    }

    /// Verifies the MAC over the exact bytes of `body` before anything else is believed,
    /// then parses it and checks that it is `writer`'s (the one its file name gives).
    pub fn open(plaintext: &[u8], auth: &AuthKey, writer: &str) -> Result<HeadBody, HeadError> {
        let (version, body) =
            envelope::open(plaintext, FORMAT, MAC_DOMAIN, auth).map_err(|e| match e {
                EnvelopeError::Malformed => HeadError::Malformed,
                EnvelopeError::BadMac => HeadError::BadMac,
            })?;
        if version != VERSION {
            return Err(HeadError::Malformed);
        }
        let head: HeadBody = serde_json::from_str(body).map_err(|_| HeadError::Malformed)?;
        if head.writer != writer {
            return Err(HeadError::WrongWriter {
                expected: writer.to_string(),
                found: head.writer,
            });
        }
        let own = head.seen.get(&head.writer);
        if !crate::is_lower_hex(&head.writer, 16)
            || !head.seen.is_valid()
            || !head.settings_ver.is_valid()
            || own != head.index.revision
            || head.index.audit.is_empty()
            || !head.index.audit.keys().all(|w| valid_writer(w))
            || !head
                .deferred
                .iter()
                .all(|d| crate::store::is_client_file_name(&d.file) && d.since <= own)
            || !crate::store::shard::valid_refs(&head.index.locator)
            || !crate::store::shard::valid_refs(&head.index.catalog)
        {
            return Err(HeadError::BadVersions);
        }
        Ok(head)
    }

    /// Whether this head's state includes `other`'s: the other writer's revision is
    /// at most what this head has seen of it.
    ///
    /// Not where the two contradict each other about `other`'s history (`forks`): then
    /// `other` reused change numbers this head has seen, and its changes are shown.
    pub fn covers(&self, other: &HeadBody) -> bool {
        self.seen.get(&other.writer) >= other.index.revision && !self.forks(other)
    }

    /// Whether this head pins `other`'s writer's audit chain at the record number that
    /// `other` pins for itself, but with another hash: that writer wrote two histories
    /// under the same numbers, as after its folder, or its machine's memory with it,
    /// was restored from a backup (docs/format.md#forked-writers).
    pub fn forks(&self, other: &HeadBody) -> bool {
        let w = &other.writer;
        match (self.index.audit.get(w), other.index.audit.get(w)) {
            (Some(a), Some(b)) => self.writer != other.writer && a.seq == b.seq && a.hash != b.hash,
            _ => false,
        }
    }
}

/// `heads/<writer>.g<generation>.age`, relative to the vault.
pub fn head_file(writer: &str, generation: u64) -> String {
    format!("{HEADS_DIR}/{writer}.g{generation}.age")
}

/// The writer and generation of a file in `heads/`, also of a sync service's conflicted
/// copy of one (docs/format.md#conflict-copies), which is read as one more head.
pub fn parse_head_file(name: &str) -> Option<(String, u64)> {
    let plain = |n: &str| {
        let rest = n.strip_suffix(".age")?;
        let (writer, generation) = rest.split_once(".g")?;
        let ok = crate::is_lower_hex(writer, 16)
            && !generation.is_empty()
            && generation.len() <= 19
            && generation.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Some((writer.to_string(), generation.parse().ok()?)))
            .flatten()
    };
    plain(name).or_else(|| plain(&names::original_name(name)?))
}

/// The heads that no other head covers, by position: the state is their merge. Heads
/// that are the same (one writer, one revision, copied twice) count once.
pub fn uncovered(heads: &[HeadBody]) -> Vec<usize> {
    uncovered_refs(&heads.iter().collect::<Vec<_>>())
}

/// `uncovered` over borrowed heads.
pub fn uncovered_refs(heads: &[&HeadBody]) -> Vec<usize> {
    uncovered_apart(heads, &|_, _| false)
}

/// The most pins of other histories a head keeps (`branches`).
pub const MAX_BRANCHES: usize = 64;

/// This writer's own audit chain pin in `h`.
pub fn own_pin(h: &HeadBody) -> Option<&crate::audit::AuditHead> {
    h.index.audit.get(&h.writer)
}

/// `uncovered_refs`, where `apart(j, i)` says that head `j` does not include the
/// history of head `i` of the same writer although its revision is higher (the writer
/// forked, docs/format.md#forked-writers): then `j` does not cover `i`.
pub fn uncovered_apart(heads: &[&HeadBody], apart: &dyn Fn(usize, usize) -> bool) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for (i, h) in heads.iter().enumerate() {
        // The same head twice (a copy) counts once; one writer's two different heads
        // at one revision (a reused revision) are both kept, neither covers the other.
        let same = |g: &HeadBody| {
            g.writer == h.writer
                && g.index.revision == h.index.revision
                && serde_json::to_vec(g).ok() == serde_json::to_vec(h).ok()
        };
        let same_as_kept = out.iter().any(|&j| same(heads[j]));
        let covered = heads.iter().enumerate().any(|(j, g)| {
            j != i
                && g.covers(h)
                && !(g.writer == h.writer && g.index.revision == h.index.revision)
                && !(g.writer == h.writer && apart(j, i))
        });
        if !covered && !same_as_kept {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditHead;
    use crate::store::header::{Recipients, ShareGroup, ShareSet};

    const A: &str = "aaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbb";

    fn head(writer: &str, revision: u64, seen: &[(&str, u64)]) -> HeadBody {
        let index = IndexBody {
            vault_id: "v".into(),
            generation: 1,
            revision,
            updated: "t".into(),
            recipients: Recipients {
                owner: "o".into(),
                emergency: "e".into(),
            },
            share_set: ShareSet {
                id: "0001".into(),
                group_threshold: 1,
                groups: vec![ShareGroup {
                    threshold: 1,
                    count: 1,
                }],
                extendable: true,
                iteration_exponent: 1,
                created: "t".into(),
                checks: vec![],
                retired: vec![],
            },
            holders: vec![],
            owner: Default::default(),
            last_drill: String::new(),
            retention_months: 12,
            audit_head: AuditHead::empty(),
            audit: [(writer.to_string(), AuditHead::empty())].into(),
            audit_archive: None,
            audit_archives_apart: vec![],
            retired_apart: vec![],
            locator: vec![],
            catalog: vec![],
        };
        let seen = seen
            .iter()
            .fold(Ver::of(writer, revision), |v, (w, n)| v.with(w, *n));
        HeadBody {
            index,
            writer: writer.into(),
            seen,
            settings_ver: Ver::new(),
            deferred: vec![],
            branches: vec![],
        }
    }

    #[test]
    fn seal_open_and_tamper() {
        let k = AuthKey::from_bytes([9; 32]);
        let sealed = head(A, 3, &[(B, 2)]).seal(&k);
        let back = HeadBody::open(&sealed, &k, A).unwrap();
        assert_eq!((back.index.revision, back.seen.get(B)), (3, 2));
        assert_eq!(
            HeadBody::open(&sealed, &AuthKey::from_bytes([8; 32]), A).err(),
            Some(HeadError::BadMac)
        );
        // A head put under another writer's name is refused (a replayed head).
        assert!(matches!(
            HeadBody::open(&sealed, &k, B),
            Err(HeadError::WrongWriter { .. })
        ));
        let forged = String::from_utf8(sealed.to_vec())
            .unwrap()
            .replace(&format!("\"{B}\":2"), &format!("\"{B}\":9"));
        assert_eq!(
            HeadBody::open(forged.as_bytes(), &k, A).err(),
            Some(HeadError::BadMac)
        );
        // Authentic but inconsistent: the own counter is not the revision.
        let mut bad = head(A, 3, &[]);
        bad.seen = Ver::of(A, 2);
        assert_eq!(
            HeadBody::open(&bad.seal(&k), &k, A).err(),
            Some(HeadError::BadVersions)
        );
    }

    #[test]
    fn heads_and_their_conflicted_copies_are_named() {
        assert_eq!(head_file(A, 2), format!("heads/{A}.g2.age"));
        assert_eq!(parse_head_file(&format!("{A}.g2.age")), Some((A.into(), 2)));
        assert_eq!(
            parse_head_file(&format!("{A}.g2.sync-conflict-20261201-154500-ABCDEFG.age")),
            Some((A.into(), 2))
        );
        assert_eq!(
            parse_head_file(&format!("{A}.g2 (conflicted copy 2026-12-01 154500).age")),
            Some((A.into(), 2))
        );
        for bad in [
            "x.g2.age",
            &format!("{A}.g.age"),
            &format!("{A}.g2.age.tmp"),
            "../x",
        ] {
            assert_eq!(parse_head_file(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_state_is_the_heads_nothing_covers() {
        // B merged A's revision 3: A's head is covered; A's later revision 4 is not.
        let heads = [head(A, 3, &[]), head(B, 5, &[(A, 3)])];
        assert_eq!(uncovered(&heads), vec![1]);
        let heads = [head(A, 4, &[]), head(B, 5, &[(A, 3)])];
        assert_eq!(uncovered(&heads), vec![0, 1]);
        // A conflicted copy of the same head counts once.
        let heads = [head(A, 4, &[]), head(A, 4, &[]), head(B, 5, &[(A, 4)])];
        assert_eq!(uncovered(&heads), vec![2]);
        let heads = [head(A, 4, &[]), head(A, 4, &[])];
        assert_eq!(uncovered(&heads), vec![0]);
        // One writer's two different heads at one revision: both stay.
        let mut other = head(A, 4, &[]);
        other.index.updated = "another".into();
        let heads = [head(A, 4, &[]), other];
        assert_eq!(uncovered(&heads), vec![0, 1]);
    }
}
