//! The encrypted, authenticated index (docs/format.md#index).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::{AuditArchive, AuditHead};
use crate::crypto::keys::AuthKey;
use crate::store::envelope::{self, EnvelopeError};
use crate::store::header::{Recipients, ShareSet};
use crate::store::shard::ShardRef;

const MAC_DOMAIN: &[u8] = b"baton-index/1\n";
const FORMAT: &str = "baton-index";
/// Version 2 split the entry summaries out into the catalog; version 3 records each
/// holder's SLIP-39 group and member.
const VERSION: u32 = 3;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexBody {
    pub vault_id: String,
    pub generation: u64,
    pub revision: u64,
    pub updated: String,
    pub recipients: Recipients,
    /// Must equal the header's: authenticates the public share-set facts.
    pub share_set: ShareSet,
    pub holders: Vec<Holder>,
    /// Who keeps this vault, as named in client packages.
    #[serde(default)]
    pub owner: OwnerProfile,
    /// When holders last proved their shares in a drill (RFC 3339; empty: never).
    #[serde(default)]
    pub last_drill: String,
    /// Months an ended client's data is kept before `purge` deletes it
    /// (docs/gdpr.md#retention).
    #[serde(default = "default_retention_months")]
    pub retention_months: u32,
    pub audit_head: AuditHead,
    /// Version 3 (docs/format.md#multi-writer, "Audit log"): the last record of every
    /// chain this state includes, the legacy chain under `legacy`. Empty in version 2,
    /// where `audit_head` is the one chain's.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub audit: crate::audit::Chains,
    /// Records of earlier generations in one file (after the first rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_archive: Option<AuditArchive>,
    /// The archives of other rotations to this generation, made apart on other devices
    /// (docs/format.md#sibling-rotations): each chain's records are read from the
    /// archive that holds most of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_archives_apart: Vec<AuditArchive>,
    /// The shards of the previous generation that each rotation to this generation
    /// retired, as its header's `previous_key` lists them: where rotations were made
    /// apart on two devices, the losing header's copy may never reach every device, and
    /// a head of the previous generation may name a shard only that rotation retired
    /// (docs/format.md#sibling-rotations). The merge joins them; the next rotation
    /// clears them (its `previous_key` keeps them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_apart: Vec<RetiredShards>,
    /// The locator's shard files, sorted by `shard` (docs/format.md#locator).
    pub locator: Vec<ShardRef>,
    /// The catalog's shard files, sorted by `shard` (docs/format.md#catalog).
    pub catalog: Vec<ShardRef>,
}

/// Shard files of `generation` that a rotation removed (docs/format.md#sibling-rotations).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredShards {
    pub generation: u64,
    pub shards: Vec<String>,
}

/// Joins `lists` by generation, each generation's shards sorted once.
pub fn join_retired<'a>(lists: impl Iterator<Item = &'a RetiredShards>) -> Vec<RetiredShards> {
    let mut by_gen: std::collections::BTreeMap<u64, std::collections::BTreeSet<&'a str>> =
        Default::default();
    for l in lists {
        by_gen
            .entry(l.generation)
            .or_default()
            .extend(l.shards.iter().map(String::as_str));
    }
    by_gen
        .into_iter()
        .map(|(generation, shards)| RetiredShards {
            generation,
            shards: shards.into_iter().map(str::to_string).collect(),
        })
        .collect()
}

/// Keep an ended client's data for one year (the privacy statement's yearly purge).
pub const DEFAULT_RETENTION_MONTHS: u32 = 12;

fn default_retention_months() -> u32 {
    DEFAULT_RETENTION_MONTHS
}

/// The vault owner's name and contact, shown in client packages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerProfile {
    pub name: String,
    pub contact: String,
    /// Where copies of the vault are, for the emergency kits ("Nextcloud folder
    /// baton of max@…, USB stick in the office safe").
    #[serde(default)]
    pub vault_copies: String,
    /// The colleague meant to take over, as the kits name them for the holders.
    #[serde(default)]
    pub successor: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexError {
    #[error("index is not valid JSON of a known version")]
    Malformed,
    #[error("index version {0} was written by a development build of baton before 0.1")]
    OldVersion(u32),
    #[error("index authentication failed: it was replaced or altered")]
    BadMac,
}

impl IndexBody {
    /// Every audit chain's last record: `audit`, or in version 2 the one chain.
    pub fn chains(&self) -> crate::audit::Chains {
        if self.audit.is_empty() {
            [(
                crate::audit::LEGACY_CHAIN.to_string(),
                self.audit_head.clone(),
            )]
            .into()
        } else {
            self.audit.clone()
        }
    }

    /// `chains` without an empty legacy chain (a vault made in version 3 has none).
    pub fn live_chains(&self) -> crate::audit::Chains {
        let mut c = self.chains();
        c.retain(|k, h| !(k == crate::audit::LEGACY_CHAIN && h.seq == 0));
        c
    }

    /// Every archive this state pins: its own, then those of rotations to this
    /// generation made apart (docs/format.md#sibling-rotations).
    pub fn archives(&self) -> impl Iterator<Item = &AuditArchive> {
        self.audit_archive.iter().chain(&self.audit_archives_apart)
    }

    /// The archive that holds most of `chain`'s records (the state's own on a tie), if
    /// any holds one: the others hold a prefix of the same chain.
    pub fn archive_of(&self, chain: &str) -> Option<&AuditArchive> {
        self.archives()
            .filter(|a| a.count(chain) > 0)
            .reduce(|best, a| {
                if a.count(chain) > best.count(chain) {
                    a
                } else {
                    best
                }
            })
    }

    /// How many of `chain`'s records are archived: the rest are single files.
    pub fn archived(&self, chain: &str) -> u64 {
        self.archive_of(chain).map_or(0, |a| a.count(chain))
    }

    /// How many audit records this state includes, over all chains.
    pub fn audit_records(&self) -> u64 {
        self.chains().values().map(|h| h.seq).sum()
    }

    /// The shard files in `clients/` this index names (locator, then catalog).
    pub fn shard_files(&self) -> impl Iterator<Item = &str> {
        self.locator
            .iter()
            .chain(&self.catalog)
            .map(|s| s.file.as_str())
    }

    /// Serializes and authenticates the index; the result is the plaintext to encrypt.
    pub fn seal(&self, auth: &AuthKey) -> Zeroizing<Vec<u8>> {
        envelope::seal(FORMAT, VERSION, MAC_DOMAIN, self, auth)
    }

    /// Verifies the MAC over the exact bytes of `body`, then parses it.
    pub fn open(plaintext: &[u8], auth: &AuthKey) -> Result<IndexBody, IndexError> {
        // Authenticate first: an unauthenticated file must not choose the message.
        let (version, body) =
            envelope::open(plaintext, FORMAT, MAC_DOMAIN, auth).map_err(|e| match e {
                EnvelopeError::Malformed => IndexError::Malformed,
                EnvelopeError::BadMac => IndexError::BadMac,
            })?;
        if version < VERSION {
            return Err(IndexError::OldVersion(version));
        }
        if version != VERSION {
            return Err(IndexError::Malformed);
        }
        serde_json::from_str(body).map_err(|_| IndexError::Malformed)
    }
}

/// One holder of the current share set (kept in the index; names are private).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub name: String,
    /// 0-based SLIP-39 group index.
    pub group: u8,
    /// 0-based SLIP-39 member index. Holders of a group with threshold 1 all hold
    /// copies of member 0.
    pub member: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> IndexBody {
        IndexBody {
            vault_id: "v".into(),
            generation: 1,
            revision: 3,
            updated: "t".into(),
            recipients: Recipients {
                owner: "o".into(),
                emergency: "e".into(),
            },
            share_set: ShareSet {
                id: "0001".into(),
                group_threshold: 1,
                groups: vec![crate::store::header::ShareGroup {
                    threshold: 1,
                    count: 1,
                }],
                extendable: true,
                iteration_exponent: 1,
                created: "t".into(),
                checks: vec![],
                retired: vec![],
            },
            holders: vec![Holder {
                name: "anna".into(),
                group: 0,
                member: 0,
            }],
            owner: OwnerProfile::default(),
            last_drill: String::new(),
            retention_months: DEFAULT_RETENTION_MONTHS,
            audit_head: AuditHead::empty(),
            audit: Default::default(),
            audit_archive: None,
            audit_archives_apart: vec![],
            retired_apart: vec![],
            locator: vec![],
            catalog: vec![],
        }
    }

    #[test]
    fn seal_open_and_tamper() {
        let k = AuthKey::from_bytes([9; 32]);
        let sealed = body().seal(&k);
        let back = IndexBody::open(&sealed, &k).unwrap();
        assert_eq!(back.revision, 3);
        assert_eq!(
            IndexBody::open(&sealed, &AuthKey::from_bytes([8; 32])).err(),
            Some(IndexError::BadMac)
        );
        let s = String::from_utf8(sealed.to_vec())
            .unwrap()
            .replace("\"revision\":3", "\"revision\":4");
        assert_eq!(
            IndexBody::open(s.as_bytes(), &k).err(),
            Some(IndexError::BadMac)
        );
        assert_eq!(
            IndexBody::open(b"{}", &k).err(),
            Some(IndexError::Malformed)
        );
    }
}
