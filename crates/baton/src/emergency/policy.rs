//! The emergency policy: who must come together to rebuild the key
//! (docs/format.md#emergency-key).

use crate::client::valid_holder;
use crate::store::header::ShareSet;
use std::collections::HashSet;

use super::*;

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
