//! The emergency operations on an open vault: kits, added holders, drills
//! (docs/recovery.md#drill).

use crate::audit::{AuditAction, AuditEvent};
use crate::vault::{Vault, VaultError};

use super::*;

impl Vault {
    /// The current set's shares of the named holders (all if `names` is empty), derived
    /// from `E` again: to print kits. Owner or emergency key.
    pub fn holder_shares(&self, names: &[String]) -> Result<Vec<HolderShare>, VaultError> {
        let holders = &self.index.holders;
        for n in names {
            if !holders.iter().any(|h| h.name.eq_ignore_ascii_case(n)) {
                return Err(VaultError::NotAHolder(n.to_string()));
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
                return Err(VaultError::GroupNeeded(groups));
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
        deliver(&next_header, &share).map_err(VaultError::KitNotWritten)?;
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
