//! Share sets: the split, the check codes, deriving a holder's share again, adding a
//! member (docs/format.md#emergency-key, #share-files).

use crate::client::valid_holder;
use crate::crypto::keys::EmergencySecret;
use crate::slip39::{self, GroupSpec, Mnemonic, Slip39Error};
use crate::store::header::{RetiredSet, ShareCheck, ShareGroup, ShareSet};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

use super::*;

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

pub(super) fn specs(set: &ShareSet) -> Vec<GroupSpec> {
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

pub(super) fn derive_unchecked(
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

pub(super) fn checks_of(vault_id: &str, shares: &[Vec<Mnemonic>]) -> Vec<ShareCheck> {
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
pub(super) fn prove(
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
