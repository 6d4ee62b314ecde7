//! The public header `vault.json` (docs/format.md#header).

use serde::{Deserialize, Serialize};

use std::io;
use std::path::Path;

use crate::crypto::kdf::KdfParams;
use crate::store::fsio;

pub const HEADER_FILE: &str = "vault.json";
pub const FORMAT: &str = "baton-vault";
/// Version 2: the owner key also wraps the emergency secret; share sets have groups
/// and check codes.
pub const VERSION: u32 = 3;
/// Version 2 has one index that every write replaces; version 3 a head per writer
/// (docs/format.md#multi-writer). A version 2 vault is read as it is and upgraded by
/// its first write.
pub const SINGLE_WRITER_VERSION: u32 = 2;
pub const READABLE_VERSIONS: [u32; 2] = [SINGLE_WRITER_VERSION, VERSION];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipients {
    pub owner: String,
    pub emergency: String,
}

/// Public facts about the current SLIP-39 share set (docs/format.md#emergency-key).
/// Holder names are in the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareSet {
    /// The 15-bit SLIP-39 identifier, 4 hex digits.
    pub id: String,
    /// How many groups are needed (all of them, for sets baton makes).
    pub group_threshold: u8,
    pub groups: Vec<ShareGroup>,
    pub extendable: bool,
    pub iteration_exponent: u8,
    pub created: String,
    /// The check code of every issued share, in the order they were issued.
    pub checks: Vec<ShareCheck>,
    /// Earlier share sets of this vault, oldest first: their shares are void.
    #[serde(default)]
    pub retired: Vec<RetiredSet>,
}

/// One SLIP-39 group: `threshold` of its `count` member shares are needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareGroup {
    pub threshold: u8,
    pub count: u8,
}

/// The check code of one issued share (docs/format.md#share-check).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareCheck {
    pub group: u8,
    pub member: u8,
    pub check: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredSet {
    pub id: String,
    pub created: String,
    pub retired: String,
}

impl ShareSet {
    pub fn identifier(&self) -> Option<u16> {
        if !crate::is_lower_hex(&self.id, 4) {
            return None;
        }
        u16::from_str_radix(&self.id, 16)
            .ok()
            .filter(|&i| i <= crate::slip39::MAX_IDENTIFIER)
    }

    pub fn check_of(&self, group: u8, member: u8) -> Option<&str> {
        self.checks
            .iter()
            .find(|c| c.group == group && c.member == member)
            .map(|c| c.check.as_str())
    }

    /// `2 of 3`, or `2 groups: 2 of 3 + 1 of 1` (counts of distinct shares).
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .groups
            .iter()
            .map(|g| format!("{} of {}", g.threshold, g.count))
            .collect();
        if parts.len() == 1 {
            parts[0].clone()
        } else {
            format!("{} groups: {}", self.groups.len(), parts.join(" + "))
        }
    }

    /// Whether `self` is `newer` one member addition earlier (docs/format.md#writes: the
    /// header is written after the index, so a crash between the two leaves it exactly
    /// that far behind): the same set, one group with one share fewer, and the check
    /// codes without the last one, which is that group's new member.
    pub fn lags(&self, newer: &ShareSet) -> bool {
        let Some((last, earlier)) = newer.checks.split_last() else {
            return false;
        };
        let grown: Vec<usize> = (0..self.groups.len().min(newer.groups.len()))
            .filter(|&g| self.groups[g] != newer.groups[g])
            .collect();
        let [g] = grown[..] else {
            return false;
        };
        let (old, new) = (self.groups[g], newer.groups[g]);
        self.id == newer.id
            && self.group_threshold == newer.group_threshold
            && self.extendable == newer.extendable
            && self.iteration_exponent == newer.iteration_exponent
            && self.created == newer.created
            && self.retired == newer.retired
            && self.groups.len() == newer.groups.len()
            && old.threshold == new.threshold
            && old.count.checked_add(1) == Some(new.count)
            && usize::from(last.group) == g
            && last.member == old.count
            && self.checks == earlier
    }
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
    /// When keys were last rotated and how often they should be (docs/format.md#rotation).
    #[serde(default)]
    pub rotation: RotationPolicy,
    /// The previous generation's emergency secret, wrapped for this generation's keys
    /// (docs/format.md#header, #carry-over). Absent before the first rotation and in
    /// vaults last rotated by an older baton.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key: Option<String>,
}

/// The rotation schedule. Public, so `baton status --check` needs no passphrase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPolicy {
    /// Months between rotations; 0 means no schedule.
    pub interval_months: u32,
    /// RFC 3339 time of the last rotation; empty means "never" (the vault's `created`).
    #[serde(default)]
    pub last: String,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            interval_months: DEFAULT_ROTATION_MONTHS,
            last: String::new(),
        }
    }
}

/// Rotate once a year unless the owner chooses otherwise (issue: periodic re-encryption).
pub const DEFAULT_ROTATION_MONTHS: u32 = 12;

impl Header {
    /// The time keys were last changed: the last rotation, or the vault's creation.
    pub fn last_rotation(&self) -> &str {
        if self.rotation.last.is_empty() {
            &self.created
        } else {
            &self.rotation.last
        }
    }

    /// The due time, if a rotation is due at `now` (both RFC 3339 UTC, as `vault::now`
    /// writes them, so they compare as text).
    pub fn rotation_overdue(&self, now: &str) -> Option<String> {
        self.rotation_due().filter(|due| due.as_str() <= now)
    }

    /// When the next rotation is due (RFC 3339 date-time), if there is a schedule.
    pub fn rotation_due(&self) -> Option<String> {
        if self.rotation.interval_months == 0 {
            return None;
        }
        crate::time::add_months(self.last_rotation(), self.rotation.interval_months)
    }

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

/// The state file of an unfinished rotation to `generation` (docs/format.md#rotation).
pub fn rotation_file(generation: u64) -> String {
    format!("rotation.g{generation}.age")
}

/// Parses `rotation.g<N>.age`.
pub fn parse_rotation_file(name: &str) -> Option<u64> {
    let n = name.strip_prefix("rotation.g")?.strip_suffix(".age")?;
    if n.is_empty() || n.len() > 19 || !n.bytes().all(|b| b.is_ascii_digit()) || n.starts_with('0')
    {
        return None;
    }
    n.parse().ok()
}

/// Replaces `vault.json` atomically.
pub(crate) fn write_header_file(vault: &Path, h: &Header) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(h).expect("serializable");
    json.push(b'\n');
    fsio::write_atomic(&vault.join(HEADER_FILE), &json)
}

/// The generation an unfinished rotation is heading for, if its state file exists.
/// Needs no key: `status --check` uses it. A process that holds the writer lock knows
/// that such a rotation is not running; others ask [`unfinished_rotation`].
pub fn pending_rotation(vault: &Path) -> Option<u64> {
    std::fs::read_dir(vault)
        .ok()?
        .flatten()
        .filter_map(|e| parse_rotation_file(&e.file_name().to_string_lossy()))
        .max()
}

/// An unfinished rotation, as a process that does not hold the writer lock sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnfinishedRotation {
    /// Its state file exists and another process holds the lock: it is running now.
    Running(u64),
    /// Its state file exists and nobody holds the lock: it was interrupted (a crash,
    /// Ctrl-C, a full disk) and waits for `--resume` or `--abort`.
    Interrupted(u64),
}

impl UnfinishedRotation {
    /// The generation it is heading for.
    pub fn generation(self) -> u64 {
        match self {
            UnfinishedRotation::Running(g) | UnfinishedRotation::Interrupted(g) => g,
        }
    }
}

/// Whether a rotation's state file exists, and whether that rotation is running now
/// (the writer lock is held: a rotation holds it from start to end) or was
/// interrupted (docs/format.md#rotation). Needs no key. A lock that cannot be probed
/// counts as free, which reports an interruption as before.
pub fn unfinished_rotation(vault: &Path) -> Option<UnfinishedRotation> {
    let generation = pending_rotation(vault)?;
    if fsio::WriteLock::held_elsewhere(vault).unwrap_or(false) {
        return Some(UnfinishedRotation::Running(generation));
    }
    // Read again with the lock seen free: a rotation that finished meanwhile removed
    // its state file before it let go of the lock.
    pending_rotation(vault).map(UnfinishedRotation::Interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_file_names() {
        assert_eq!(parse_rotation_file(&rotation_file(7)), Some(7));
        for bad in [
            "rotation.g.age",
            "rotation.g07.age",
            "rotation.g7.age.tmp",
            "rotation.gx.age",
        ] {
            assert_eq!(parse_rotation_file(bad), None, "{bad}");
        }
    }
}
