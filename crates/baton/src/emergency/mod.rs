//! The emergency key's share set (docs/format.md#emergency-key): who holds which share
//! (the policy), the split that lets the owner print any share of the current set
//! again, the public check codes, the diagnosis of shares typed by holders, and
//! recovery with the rebuilt key (`recover`).

mod recover;

pub use recover::{EMERGENCY_KEY_FILE, RecoverError, RecoverReport};

use std::collections::HashSet;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::audit::{AuditAction, AuditEvent};
use crate::client::valid_holder;
use crate::crypto::keys::EmergencySecret;
use crate::slip39::{self, GroupSpec, Mnemonic, Slip39Error};
use crate::store::header::{RetiredSet, ShareCheck, ShareGroup, ShareSet};
use crate::vault::{Vault, VaultError};

/// SLIP-39 iteration exponent of new share sets: 20000 PBKDF2 rounds, cheap, because
/// the secret is 256 random bits and needs no stretching.
pub const ITERATION_EXPONENT: u8 = 1;

/// Months after which `status` suggests a drill (the kits' "check it once a year").
pub use crate::store::index::Holder;

pub const DRILL_MONTHS: u32 = 12;

/// Who must come together to rebuild the emergency key: every group is needed, and in
/// each group `threshold` of its holders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub groups: Vec<PolicyGroup>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    pub threshold: u8,
    pub holders: Vec<String>,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("invalid holder name {0:?}")]
    BadHolder(String),
    #[error("holder {0:?} is named twice")]
    DuplicateHolder(String),
    #[error("cannot read the policy group {0:?}: expected \"T of NAME,NAME,...\"")]
    Syntax(String),
    #[error("a group needs {threshold} of {holders} holders, which is impossible")]
    BadThreshold { threshold: usize, holders: usize },
    #[error("a policy has 1 to 16 groups of 1 to 16 holders each")]
    TooMany,
}

impl Policy {
    /// One group: `threshold` of `holders`.
    pub fn single(holders: Vec<String>, threshold: u8) -> Policy {
        Policy {
            groups: vec![PolicyGroup { threshold, holders }],
        }
    }

    /// Parses `"2 of anna,ben,carla; 1 of notary,spouse"`: groups separated by `;`,
    /// each `T of` a comma-separated list of holders. Every group is needed.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let mut groups = Vec::new();
        for part in text.split(';') {
            let part = part.trim();
            let syntax = || PolicyError::Syntax(part.to_string());
            let (t, names) = part.split_once(" of ").ok_or_else(syntax)?;
            let threshold: u8 = t.trim().parse().map_err(|_| syntax())?;
            let holders: Vec<String> = names.split(',').map(|n| n.trim().to_string()).collect();
            groups.push(PolicyGroup { threshold, holders });
        }
        let p = Policy { groups };
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.groups.is_empty() || self.groups.len() > 16 {
            return Err(PolicyError::TooMany);
        }
        let mut seen = HashSet::new();
        for g in &self.groups {
            for h in &g.holders {
                if !valid_holder(h) {
                    return Err(PolicyError::BadHolder(h.clone()));
                }
                if !seen.insert(h.to_lowercase()) {
                    return Err(PolicyError::DuplicateHolder(h.clone()));
                }
            }
            let (n, t) = (g.holders.len(), usize::from(g.threshold));
            if n > 16 {
                return Err(PolicyError::TooMany);
            }
            if n == 0 || t == 0 || t > n {
                return Err(PolicyError::BadThreshold {
                    threshold: t,
                    holders: n,
                });
            }
        }
        Ok(())
    }

    /// Rebuilds the policy of a share set from its holders.
    pub fn of(set: &ShareSet, holders: &[Holder]) -> Policy {
        Policy {
            groups: (0u8..)
                .zip(&set.groups)
                .map(|(g, spec)| PolicyGroup {
                    threshold: spec.threshold,
                    holders: holders
                        .iter()
                        .filter(|h| h.group == g)
                        .map(|h| h.name.clone())
                        .collect(),
                })
                .collect(),
        }
    }

    /// `2 of anna, ben, carla; 1 of notary, spouse`
    pub fn describe(&self) -> String {
        self.groups
            .iter()
            .map(|g| format!("{} of {}", g.threshold, g.holders.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Every holder's name, group by group.
    pub fn holder_names(&self) -> Vec<String> {
        self.groups.iter().flat_map(|g| g.holders.clone()).collect()
    }
}

/// The random values of a split, drawn from a stream keyed by `E`
/// (docs/format.md#emergency-key): block `i` is HMAC-SHA256(K, "baton-share-stream/1" ||
/// u64be(i)) with K = HKDF-SHA256(salt = vault id, ikm = E, info =
/// "baton/v1/share-split" || u16be(identifier)). So whoever holds `E` can derive any
/// share of the set again, and nobody without `E` can.
struct ShareStream {
    key: Zeroizing<[u8; 32]>,
    block: Zeroizing<[u8; 32]>,
    used: usize,
    counter: u64,
}

impl ShareStream {
    fn new(e: &EmergencySecret, vault_id: &[u8; 16], identifier: u16) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(vault_id), e.expose_bytes());
        let mut info = b"baton/v1/share-split".to_vec();
        info.extend_from_slice(&identifier.to_be_bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        hk.expand(&info, key.as_mut())
            .expect("32 bytes is a valid HKDF length");
        ShareStream {
            key,
            block: Zeroizing::new([0; 32]),
            used: 32,
            counter: 0,
        }
    }
}

impl rand::RngCore for ShareStream {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used == 32 {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_ref())
                    .expect("any key length");
                m.update(b"baton-share-stream/1");
                m.update(&self.counter.to_be_bytes());
                self.block.copy_from_slice(&m.finalize().into_bytes());
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand::CryptoRng for ShareStream {}

/// A share's check code: the first 8 bytes of SHA-256("baton-share-check/1\n" ||
/// vault id (hex) || "\n" || the share's words, lowercase, single spaces), in hex.
/// Public: it proves a typed share is one this vault issued, and reveals nothing of it.
pub fn share_check(vault_id: &str, m: &Mnemonic) -> String {
    let mut h = Sha256::new();
    h.update(b"baton-share-check/1\n");
    h.update(vault_id.as_bytes());
    h.update(b"\n");
    h.update(m.expose_words().as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// `3f2a91bc07d4e5aa` as `3f2a-91bc-07d4-e5aa`, for reading aloud and comparing.
pub fn format_check(check: &str) -> String {
    check
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShareSetError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("slip-39: {0}")]
    Slip39(#[from] Slip39Error),
    #[error(
        "the shares derived now differ from the check codes on record (share set {0}): refusing to print shares that might not combine"
    )]
    Derivation(String),
    #[error("group {0} does not exist")]
    NoGroup(usize),
    #[error("group {0} already has 16 members, the SLIP-39 maximum")]
    GroupFull(usize),
    #[error("the vault's share set {0} is damaged: {1}")]
    Damaged(String, &'static str),
}

fn specs(set: &ShareSet) -> Vec<GroupSpec> {
    set.groups
        .iter()
        .map(|g| GroupSpec {
            threshold: g.threshold,
            count: g.count,
        })
        .collect()
}

/// Every share of `set`, by group and member, derived from `E` and checked against
/// the check codes on record.
pub fn derive_shares(
    e: &EmergencySecret,
    vault_id: &str,
    set: &ShareSet,
) -> Result<Vec<Vec<Mnemonic>>, ShareSetError> {
    let groups = derive_unchecked(e, vault_id, set)?;
    let mut n = 0;
    for (g, members) in (0u8..).zip(&groups) {
        for (m, share) in (0u8..).zip(members) {
            if set.check_of(g, m) != Some(share_check(vault_id, share).as_str()) {
                return Err(ShareSetError::Derivation(set.id.clone()));
            }
            n += 1;
        }
    }
    if n != set.checks.len() {
        return Err(ShareSetError::Derivation(set.id.clone()));
    }
    Ok(groups)
}

fn derive_unchecked(
    e: &EmergencySecret,
    vault_id: &str,
    set: &ShareSet,
) -> Result<Vec<Vec<Mnemonic>>, ShareSetError> {
    let damaged = |what| ShareSetError::Damaged(set.id.clone(), what);
    let identifier = set.identifier().ok_or_else(|| damaged("id"))?;
    let mut vid = [0u8; 16];
    hex::decode_to_slice(vault_id, &mut vid).map_err(|_| damaged("vault id"))?;
    let split = slip39::split_with_identifier(
        identifier,
        e.expose_bytes(),
        b"",
        set.group_threshold,
        &specs(set),
        true,
        set.iteration_exponent,
        &mut ShareStream::new(e, &vid, identifier),
    )?;
    Ok(split.groups)
}

/// A new share set for `E` under `policy` (docs/format.md#emergency-key), with its
/// holders. `previous` is the set it replaces: its id joins `retired`, and the new
/// id differs from every earlier one so that an old share is recognised as old.
pub fn new_share_set(
    e: &EmergencySecret,
    vault_id: &str,
    policy: &Policy,
    created: &str,
    previous: Option<&ShareSet>,
) -> Result<(ShareSet, Vec<Holder>), ShareSetError> {
    policy.validate()?;
    let mut retired = previous.map(|p| p.retired.clone()).unwrap_or_default();
    if let Some(p) = previous {
        retired.push(RetiredSet {
            id: p.id.clone(),
            created: p.created.clone(),
            retired: created.to_string(),
        });
    }
    let used: HashSet<&str> = retired.iter().map(|r| r.id.as_str()).collect();
    let id = loop {
        let candidate = format!("{:04x}", rand::random::<u16>() & slip39::MAX_IDENTIFIER);
        if !used.contains(candidate.as_str()) {
            break candidate;
        }
    };
    let groups: Vec<ShareGroup> = policy
        .groups
        .iter()
        .map(|g| ShareGroup {
            threshold: g.threshold,
            // A threshold-1 group has one share; its holders keep copies of it
            // (SLIP-39 forbids several members with threshold 1).
            count: if g.threshold == 1 {
                1
            } else {
                g.holders.len() as u8
            },
        })
        .collect();
    let mut set = ShareSet {
        id,
        group_threshold: policy.groups.len() as u8,
        groups,
        extendable: true,
        iteration_exponent: ITERATION_EXPONENT,
        created: created.to_string(),
        checks: vec![],
        retired,
    };
    let shares = derive_unchecked(e, vault_id, &set)?;
    set.checks = checks_of(vault_id, &shares);
    prove(e, &set, &shares)?;
    let holders = (0u8..)
        .zip(&policy.groups)
        .flat_map(|(g, pg)| {
            (0u8..).zip(&pg.holders).map(move |(i, name)| Holder {
                name: name.clone(),
                group: g,
                member: if pg.threshold == 1 { 0 } else { i },
            })
        })
        .collect();
    Ok((set, holders))
}

fn checks_of(vault_id: &str, shares: &[Vec<Mnemonic>]) -> Vec<ShareCheck> {
    (0u8..)
        .zip(shares)
        .flat_map(|(g, members)| {
            (0u8..).zip(members).map(move |(m, s)| ShareCheck {
                group: g,
                member: m,
                check: share_check(vault_id, s),
            })
        })
        .collect()
}

/// Proves a split before it is used: the first and the last qualifying subsets of
/// shares must each rebuild exactly `E`.
fn prove(
    e: &EmergencySecret,
    set: &ShareSet,
    shares: &[Vec<Mnemonic>],
) -> Result<(), ShareSetError> {
    let gt = usize::from(set.group_threshold);
    let n = shares.len();
    for (groups, from_end) in [(&shares[..gt], false), (&shares[n - gt..], true)] {
        let subset: Vec<Mnemonic> = groups
            .iter()
            .zip(if from_end {
                &set.groups[n - gt..]
            } else {
                &set.groups[..gt]
            })
            .flat_map(|(members, spec)| {
                let t = usize::from(spec.threshold);
                let pick = if from_end {
                    &members[members.len() - t..]
                } else {
                    &members[..t]
                };
                pick.iter()
                    .map(|m| Mnemonic::parse(m.expose_words()).expect("just generated"))
            })
            .collect();
        let back = slip39::combine(&subset, b"")?;
        if back.as_slice() != e.expose_bytes() {
            return Err(ShareSetError::Slip39(Slip39Error::InvalidDigest));
        }
    }
    Ok(())
}

/// One holder's share of the current set.
pub struct HolderShare {
    pub holder: Holder,
    pub mnemonic: Mnemonic,
    pub check: String,
}

/// The shares of the named holders (all if `only` is empty), derived from `E`.
pub fn holder_shares(
    e: &EmergencySecret,
    vault_id: &str,
    set: &ShareSet,
    holders: &[Holder],
) -> Result<Vec<HolderShare>, ShareSetError> {
    let shares = derive_shares(e, vault_id, set)?;
    holders
        .iter()
        .map(|h| {
            let m = shares
                .get(usize::from(h.group))
                .and_then(|g| g.get(usize::from(h.member)))
                .ok_or(ShareSetError::Damaged(set.id.clone(), "holder list"))?;
            Ok(HolderShare {
                holder: h.clone(),
                check: share_check(vault_id, m),
                mnemonic: Mnemonic::parse(m.expose_words())?,
            })
        })
        .collect()
}

/// The set with one more holder in `group` (0-based): a new member share of the same
/// polynomial (or, in a threshold-1 group, a copy of its one share). Every existing
/// share stays valid and unchanged.
pub fn add_member(
    e: &EmergencySecret,
    vault_id: &str,
    set: &ShareSet,
    holders: &[Holder],
    name: &str,
    group: usize,
) -> Result<(ShareSet, Holder), ShareSetError> {
    if !valid_holder(name) {
        return Err(PolicyError::BadHolder(name.to_string()).into());
    }
    if holders
        .iter()
        .any(|h| h.name.to_lowercase() == name.to_lowercase())
    {
        return Err(PolicyError::DuplicateHolder(name.to_string()).into());
    }
    let spec = *set
        .groups
        .get(group)
        .ok_or(ShareSetError::NoGroup(group + 1))?;
    let g = group as u8;
    // The shares on record must still derive, or the new one would not combine.
    derive_shares(e, vault_id, set)?;
    if spec.threshold == 1 {
        let holder = Holder {
            name: name.to_string(),
            group: g,
            member: 0,
        };
        return Ok((set.clone(), holder));
    }
    if spec.count >= slip39::MAX_SHARE_COUNT {
        return Err(ShareSetError::GroupFull(group + 1));
    }
    let mut next = set.clone();
    next.groups[group].count += 1;
    let shares = derive_unchecked(e, vault_id, &next)?;
    let checks = checks_of(vault_id, &shares);
    // Adding a member must not change any existing share.
    let new_check = checks
        .iter()
        .find(|c| c.group == g && c.member == spec.count)
        .cloned()
        .ok_or(ShareSetError::Derivation(set.id.clone()))?;
    let mut expected = set.checks.clone();
    expected.push(new_check.clone());
    let sorted = |v: &mut Vec<ShareCheck>| v.sort_by_key(|c| (c.group, c.member));
    let (mut a, mut b) = (expected.clone(), checks);
    sorted(&mut a);
    sorted(&mut b);
    if a != b {
        return Err(ShareSetError::Derivation(set.id.clone()));
    }
    // Appended, so the header's copy of the set stays a prefix (docs/format.md#writes).
    next.checks = expected;
    let holder = Holder {
        name: name.to_string(),
        group: g,
        member: spec.count,
    };
    Ok((next, holder))
}

/// What a typed share is, judged from the public header alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A share of the current set whose check code is on record.
    Current { group: u8, member: u8 },
    /// Carries the current set's id, but this vault never issued it: from another
    /// vault whose set has the same 15-bit id, or altered.
    NotIssued,
    /// A share of an earlier set of this vault: void.
    Retired(RetiredSet),
    /// A share of another set: another vault's, or a set this vault does not know.
    Foreign { id: String },
}

pub fn classify(vault_id: &str, set: &ShareSet, m: &Mnemonic) -> Verdict {
    let info = m.info();
    let id = format!("{:04x}", info.identifier);
    if id != set.id {
        return match set.retired.iter().find(|r| r.id == id) {
            Some(r) => Verdict::Retired(r.clone()),
            None => Verdict::Foreign { id },
        };
    }
    let (group, member) = (info.group_index, info.member_index);
    let matches_set = info.extendable == set.extendable
        && info.iteration_exponent == set.iteration_exponent
        && info.group_threshold == set.group_threshold
        && usize::from(info.group_count) == set.groups.len()
        && set
            .groups
            .get(usize::from(group))
            .is_some_and(|g| g.threshold == info.member_threshold);
    if matches_set && set.check_of(group, member) == Some(share_check(vault_id, m).as_str()) {
        Verdict::Current { group, member }
    } else {
        Verdict::NotIssued
    }
}

/// Why a typed share was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    #[error("{error}")]
    Invalid {
        error: Slip39Error,
        /// The 1-based position of the one mistyped word, if the checksum points to it.
        mistyped: Option<usize>,
    },
    #[error("this share was already entered (group {}, share {})", .group + 1, .member + 1)]
    Duplicate { group: u8, member: u8 },
    #[error("this share is from share set {}, which was replaced on {}: it is void", .0.id, &.0.retired[..10.min(.0.retired.len())])]
    Retired(RetiredSet),
    #[error("this share is from share set {id}, not from this vault (its share set is {current})")]
    Foreign { id: String, current: String },
    #[error(
        "this share carries the id of this vault's share set but was not issued by it (its check code is not on record): it is from another vault or was altered"
    )]
    NotIssued,
    #[error("group {} already has the {} shares it needs", .group + 1, .need)]
    GroupComplete { group: u8, need: u8 },
    #[error("enough groups are complete; this share is not needed")]
    NotNeeded,
    #[error("the shares combine to a key that is not this vault's emergency key")]
    WrongKey,
    #[error("not enough shares yet")]
    Incomplete,
}

/// Parses a typed share; a checksum error names the one mistyped word where it can.
pub fn parse_share(text: &str) -> Result<Mnemonic, ShareError> {
    Mnemonic::parse(text).map_err(|error| ShareError::Invalid {
        mistyped: matches!(error, Slip39Error::InvalidChecksum)
            .then(|| slip39::locate_mistyped_word(text))
            .flatten(),
        error,
    })
}

/// Collects typed shares until they rebuild the emergency key, judging each against
/// the public header as it comes, so a wrong share is named at once.
pub struct Collector<'a> {
    vault_id: &'a str,
    set: &'a ShareSet,
    recipient: &'a str,
    shares: Vec<Mnemonic>,
}

/// Progress of a [`Collector`]: per group, shares given and needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub groups: Vec<(u8, u8)>,
    pub groups_needed: u8,
}

impl Need {
    pub fn complete_groups(&self) -> usize {
        self.groups
            .iter()
            .filter(|(have, need)| have >= need)
            .count()
    }
    pub fn done(&self) -> bool {
        self.complete_groups() >= usize::from(self.groups_needed)
    }
}

impl<'a> Collector<'a> {
    pub fn new(vault_id: &'a str, set: &'a ShareSet, emergency_recipient: &'a str) -> Self {
        Collector {
            vault_id,
            set,
            recipient: emergency_recipient,
            shares: vec![],
        }
    }

    /// Takes one share; returns its (group, member).
    pub fn add(&mut self, text: &str) -> Result<(u8, u8), ShareError> {
        self.add_mnemonic(parse_share(text)?)
    }

    pub fn add_mnemonic(&mut self, m: Mnemonic) -> Result<(u8, u8), ShareError> {
        let (group, member) = match classify(self.vault_id, self.set, &m) {
            Verdict::Current { group, member } => (group, member),
            Verdict::NotIssued => return Err(ShareError::NotIssued),
            Verdict::Retired(r) => return Err(ShareError::Retired(r)),
            Verdict::Foreign { id } => {
                return Err(ShareError::Foreign {
                    id,
                    current: self.set.id.clone(),
                });
            }
        };
        let need = self.need();
        if self
            .shares
            .iter()
            .any(|s| (s.info().group_index, s.info().member_index) == (group, member))
        {
            return Err(ShareError::Duplicate { group, member });
        }
        let (have, t) = need.groups[usize::from(group)];
        if have >= t {
            return Err(ShareError::GroupComplete { group, need: t });
        }
        if need.done() {
            return Err(ShareError::NotNeeded);
        }
        self.shares.push(m);
        Ok((group, member))
    }

    pub fn need(&self) -> Need {
        Need {
            groups: (0u8..)
                .zip(&self.set.groups)
                .map(|(g, spec)| {
                    let have = self
                        .shares
                        .iter()
                        .filter(|s| s.info().group_index == g)
                        .count();
                    (have as u8, spec.threshold)
                })
                .collect(),
            groups_needed: self.set.group_threshold,
        }
    }

    /// The shares of the complete groups (as many as the set needs) rebuild `E`, which
    /// is proven against the vault's public emergency recipient.
    pub fn combine(&self) -> Result<EmergencySecret, ShareError> {
        let need = self.need();
        if !need.done() {
            return Err(ShareError::Incomplete);
        }
        let complete: Vec<u8> = (0u8..)
            .zip(&need.groups)
            .filter(|(_, (have, t))| have >= t)
            .map(|(g, _)| g)
            .take(usize::from(self.set.group_threshold))
            .collect();
        let subset: Vec<Mnemonic> = self
            .shares
            .iter()
            .filter(|s| complete.contains(&s.info().group_index))
            .map(|s| Mnemonic::parse(s.expose_words()).expect("parsed before"))
            .collect();
        let secret = slip39::combine(&subset, b"").map_err(|error| ShareError::Invalid {
            error,
            mistyped: None,
        })?;
        let e = EmergencySecret::from_bytes(&secret).ok_or(ShareError::WrongKey)?;
        if !e.matches(self.recipient) {
            return Err(ShareError::WrongKey);
        }
        Ok(e)
    }

    /// (group, member) of every share taken.
    pub fn taken(&self) -> Vec<(u8, u8)> {
        self.shares
            .iter()
            .map(|s| (s.info().group_index, s.info().member_index))
            .collect()
    }
}

impl Vault {
    /// The current set's shares of the named holders (all if `names` is empty), derived
    /// from `E` again: to print kits. Owner or emergency key.
    pub fn holder_shares(&self, names: &[String]) -> Result<Vec<HolderShare>, VaultError> {
        let holders = &self.index.holders;
        for n in names {
            if !holders.iter().any(|h| h.name.eq_ignore_ascii_case(n)) {
                return Err(VaultError::Invalid(format!(
                    "'{n}' does not hold a share of this vault"
                )));
            }
        }
        let chosen: Vec<Holder> = holders
            .iter()
            .filter(|h| names.is_empty() || names.iter().any(|n| h.name.eq_ignore_ascii_case(n)))
            .cloned()
            .collect();
        Ok(holder_shares(
            &self.emergency,
            &self.header.vault_id,
            &self.index.share_set,
            &chosen,
        )?)
    }

    /// The current policy, with the holders' names.
    pub fn policy(&self) -> Policy {
        Policy::of(&self.index.share_set, &self.index.holders)
    }

    /// Gives `name` a share of the current set in `group` (1-based; may be omitted
    /// with one group). `deliver` receives the header as it will be and the new share
    /// before anything is written; only if it succeeds is the holder recorded: in the
    /// index first, then in `vault.json` (docs/format.md#writes).
    pub fn add_holder(
        &mut self,
        name: &str,
        group: Option<usize>,
        deliver: impl FnOnce(&crate::store::header::Header, &[HolderShare]) -> Result<(), String>,
    ) -> Result<Holder, VaultError> {
        self.require_write()?;
        let groups = self.index.share_set.groups.len();
        let g = match group {
            Some(g) if g >= 1 && g <= groups => g - 1,
            Some(g) => return Err(ShareSetError::NoGroup(g).into()),
            None if groups == 1 => 0,
            None => {
                return Err(VaultError::Invalid(format!(
                    "the policy has {groups} groups: say which one the holder joins"
                )));
            }
        };
        let (set, holder) = add_member(
            &self.emergency,
            &self.header.vault_id,
            &self.index.share_set,
            &self.index.holders,
            name,
            g,
        )?;
        let share = holder_shares(
            &self.emergency,
            &self.header.vault_id,
            &set,
            std::slice::from_ref(&holder),
        )?;
        let mut next_header = self.header.clone();
        next_header.share_set = set.clone();
        deliver(&next_header, &share).map_err(|reason| {
            VaultError::Invalid(format!(
                "the kit could not be written ({reason}); nothing was changed"
            ))
        })?;
        drop(share);
        let detail = format!(
            "{name} holds share {} of group {} of share set {}",
            holder.member + 1,
            g + 1,
            set.id
        );
        let (s2, h2) = (set.clone(), holder.clone());
        self.commit_with(
            AuditEvent::new(AuditAction::EmergencyAddHolder, None, detail),
            vec![],
            &[],
            move |ix| {
                ix.share_set = s2;
                ix.holders.push(h2);
            },
        )?;
        let old = std::mem::replace(&mut self.header.share_set, set);
        if let Err(e) = self.write_header() {
            // The index has the holder; the next open with write access catches the
            // header up.
            self.header.share_set = old;
            return Err(e);
        }
        Ok(holder)
    }

    /// Records a drill in which the shares `(group, member)` rebuilt the key.
    pub fn record_drill(&mut self, taken: &[(u8, u8)]) -> Result<(), VaultError> {
        let detail = format!(
            "share set {}: {}",
            self.header.share_set.id,
            self.holders_of(taken).join(", ")
        );
        let now = crate::time::now();
        self.commit_with(
            AuditEvent::new(AuditAction::EmergencyDrill, None, detail),
            vec![],
            &[],
            move |ix| ix.last_drill = now,
        )
    }

    /// When the next drill is due: a year after the last one, or after the share set
    /// was made if there was none since.
    pub fn drill_due(&self) -> Option<String> {
        let since = std::cmp::max(
            self.index.last_drill.as_str(),
            self.header.share_set.created.as_str(),
        );
        crate::time::add_months(since, DRILL_MONTHS)
    }

    /// The holders' names for `(group, member)` pairs, for records and messages.
    pub fn holders_of(&self, taken: &[(u8, u8)]) -> Vec<String> {
        taken
            .iter()
            .map(|&(g, m)| {
                let names: Vec<&str> = self
                    .index
                    .holders
                    .iter()
                    .filter(|h| h.group == g && h.member == m)
                    .map(|h| h.name.as_str())
                    .collect();
                match names.len() {
                    0 => format!("group {} share {}", g + 1, m + 1),
                    1 => names[0].to_string(),
                    _ => format!("{} (copies of one share)", names.join(" or ")),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VID: &str = "000102030405060708090a0b0c0d0e0f";

    fn e() -> EmergencySecret {
        EmergencySecret::from_bytes(&[7; 32]).unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn policy_parses_and_describes() {
        let p = Policy::parse("2 of anna, ben,carla ; 1 of notary,spouse").unwrap();
        assert_eq!(p.describe(), "2 of anna, ben, carla; 1 of notary, spouse");
        assert_eq!(p.holder_names().len(), 5);
        for bad in [
            "",
            "2 anna,ben",
            "x of anna",
            "3 of anna,ben",
            "0 of anna",
            "1 of anna; 1 of Anna",
            "1 of a/b",
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shares_derive_again_identically_and_combine() {
        let p = Policy::parse("2 of anna,ben,carla; 1 of notary,spouse").unwrap();
        let (set, holders) = new_share_set(&e(), VID, &p, "2026-11-27T00:00:00Z", None).unwrap();
        assert_eq!(set.group_threshold, 2);
        assert_eq!(
            set.groups[1],
            ShareGroup {
                threshold: 1,
                count: 1
            }
        );
        assert_eq!(set.checks.len(), 4);
        let shares = holder_shares(&e(), VID, &set, &holders).unwrap();
        // notary and spouse hold copies of one share.
        assert_eq!(
            shares[3].mnemonic.expose_words(),
            shares[4].mnemonic.expose_words()
        );
        let recipient = e().identity().to_public().to_string();
        let mut c = Collector::new(VID, &set, &recipient);
        c.add(shares[2].mnemonic.expose_words()).unwrap();
        assert!(matches!(
            c.add(shares[2].mnemonic.expose_words()),
            Err(ShareError::Duplicate { .. })
        ));
        c.add(shares[4].mnemonic.expose_words()).unwrap();
        assert!(matches!(
            c.add(shares[3].mnemonic.expose_words()),
            Err(ShareError::Duplicate { .. })
        ));
        assert!(matches!(c.combine(), Err(ShareError::Incomplete)));
        c.add(shares[0].mnemonic.expose_words()).unwrap();
        assert!(matches!(
            c.add(shares[1].mnemonic.expose_words()),
            Err(ShareError::GroupComplete { .. })
        ));
        assert_eq!(c.combine().unwrap().expose_bytes(), e().expose_bytes());
    }

    #[test]
    fn added_member_combines_with_the_existing_shares() {
        let p = Policy::single(names(&["anna", "ben", "carla"]), 2);
        let (set, holders) = new_share_set(&e(), VID, &p, "2026-11-27T00:00:00Z", None).unwrap();
        let before = holder_shares(&e(), VID, &set, &holders).unwrap();
        let (set2, dora) = add_member(&e(), VID, &set, &holders, "dora", 0).unwrap();
        assert_eq!(dora.member, 3);
        assert_eq!(set2.groups[0].count, 4);
        assert_eq!(&set2.checks[..3], &set.checks[..]);
        let mut all = holders.clone();
        all.push(dora);
        let after = holder_shares(&e(), VID, &set2, &all).unwrap();
        for (a, b) in before.iter().zip(&after) {
            assert_eq!(a.mnemonic.expose_words(), b.mnemonic.expose_words());
        }
        let recipient = e().identity().to_public().to_string();
        let mut c = Collector::new(VID, &set2, &recipient);
        c.add(after[3].mnemonic.expose_words()).unwrap();
        c.add(after[1].mnemonic.expose_words()).unwrap();
        assert_eq!(c.combine().unwrap().expose_bytes(), e().expose_bytes());
        // The old record does not know dora's share.
        let mut old = Collector::new(VID, &set, &recipient);
        assert!(matches!(
            old.add(after[3].mnemonic.expose_words()),
            Err(ShareError::NotIssued)
        ));
        assert!(add_member(&e(), VID, &set, &holders, "Anna", 0).is_err());
        assert!(add_member(&e(), VID, &set, &holders, "dora", 1).is_err());
    }

    #[test]
    fn a_group_can_grow_while_the_policy_has_more_than_16_holders() {
        let names = |p: &str, n: usize| (0..n).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
        let p = Policy {
            groups: vec![
                PolicyGroup {
                    threshold: 2,
                    holders: names("a", 9),
                },
                PolicyGroup {
                    threshold: 2,
                    holders: names("b", 8),
                },
            ],
        };
        let (set, holders) = new_share_set(&e(), VID, &p, "2026-11-27T00:00:00Z", None).unwrap();
        let (set2, h) = add_member(&e(), VID, &set, &holders, "c", 1).unwrap();
        assert_eq!((h.group, h.member), (1, 8));
        assert_eq!(set2.groups[1].count, 9);
        assert!(set.lags(&set2));
        assert!(!set2.lags(&set));
    }

    #[test]
    fn derivation_is_pinned() {
        // A change to the stream or the split would make reprinted kits differ from
        // the paper the holders keep: this fixes the derivation.
        let set = ShareSet {
            id: "1234".into(),
            group_threshold: 1,
            groups: vec![ShareGroup {
                threshold: 3,
                count: 5,
            }],
            extendable: true,
            iteration_exponent: 1,
            created: String::new(),
            checks: vec![],
            retired: vec![],
        };
        let shares = derive_unchecked(&e(), VID, &set).unwrap();
        let first: Vec<&str> = shares[0][0].expose_words().split(' ').collect();
        assert_eq!(first.len(), 33);
        assert_eq!(
            sha2::Sha256::digest(shares[0][4].expose_words().as_bytes())[..4],
            PINNED[..]
        );
    }
    const PINNED: [u8; 4] = [131, 9, 189, 76];

    #[test]
    fn retired_and_foreign_shares_are_named() {
        let p = Policy::single(names(&["anna", "ben"]), 2);
        let (old, oh) = new_share_set(&e(), VID, &p, "2026-01-01T00:00:00Z", None).unwrap();
        let f = EmergencySecret::from_bytes(&[9; 32]).unwrap();
        let (new, _) = new_share_set(&f, VID, &p, "2026-06-01T00:00:00Z", Some(&old)).unwrap();
        assert_ne!(new.id, old.id);
        let s = holder_shares(&e(), VID, &old, &oh).unwrap();
        assert!(matches!(
            classify(VID, &new, &s[0].mnemonic),
            Verdict::Retired(RetiredSet { ref id, .. }) if *id == old.id
        ));
        let other = "ffffffffffffffffffffffffffffffff";
        let (foreign, fh) = new_share_set(&f, other, &p, "2026-06-01T00:00:00Z", None).unwrap();
        let fs = holder_shares(&f, other, &foreign, &fh).unwrap();
        let v = classify(VID, &new, &fs[0].mnemonic);
        assert!(
            matches!(v, Verdict::Foreign { .. }) || matches!(v, Verdict::NotIssued),
            "{v:?}"
        );
    }

    #[test]
    fn check_codes_are_grouped() {
        assert_eq!(format_check("3f2a91bc07d4e5aa"), "3f2a-91bc-07d4-e5aa");
    }
}
