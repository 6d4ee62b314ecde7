//! Judging and collecting the shares holders type or hand in (docs/recovery.md).

use crate::crypto::keys::EmergencySecret;
use crate::slip39::{self, Mnemonic, Slip39Error};
use crate::store::header::{RetiredSet, ShareSet};

use super::*;

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
    #[error("this share is from share set {}, which was replaced on {}: it is void", .0.id, crate::time::day_of(&.0.retired))]
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
