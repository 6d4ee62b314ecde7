//! Opening, reading and changing a vault (docs/format.md#opening, #writes).

mod audit_log;
mod carry;
pub(crate) use carry::retired_in;
pub mod changes;
mod commit;
mod error;
mod fork;
mod init;
mod open;
mod passwd;
mod read;
mod resolve;
pub mod rollback;
mod shards;
mod state;
mod upgrade;
mod verify;
mod writers;

pub use crate::store::IntegrityError;
pub(crate) use audit_log::RawRecord;
pub use audit_log::WRITE_CHECK_TAIL;
pub(crate) use error::io_err;
pub use error::{InitError, UnlockError, VaultError};
pub(crate) use open::{parse_recipients, passphrase_check};
pub use open::{read_header, read_header_only};
pub use state::RETIRE_AFTER_DAYS;
pub(crate) use state::{HeadInfo, HeadState};
pub use writers::{ForgetReport, WriterInfo};

use std::path::{Path, PathBuf};

use age::x25519;
use zeroize::Zeroizing;

use crate::client::ClientRef;
use crate::crypto::kdf::{DerivedKeys, KdfParams};
use crate::crypto::keys::{AuthKey, EmergencySecret, OwnerIdentity};
use crate::emergency::Policy;
use crate::store::fsio::WriteLock;
use crate::store::header::Header;
use crate::store::index::IndexBody;

/// Whether an open vault may be changed. Writers hold the vault lock for their lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Which key opened the vault.
pub(crate) enum Key {
    Owner(OwnerIdentity),
    Emergency(x25519::Identity),
}

/// Options for a new vault.
pub struct InitOptions {
    pub policy: Policy,
    pub kdf: KdfParams,
}

/// An unlocked vault.
pub struct Vault {
    pub(crate) path: PathBuf,
    pub(crate) header: Header,
    pub(crate) key: Key,
    /// The emergency secret `E`: rebuilt from shares, or unwrapped with the owner key.
    pub(crate) emergency: EmergencySecret,
    pub(crate) auth: AuthKey,
    pub(crate) index: IndexBody,
    pub(crate) recipients: Vec<x25519::Recipient>,
    pub(crate) lock: Option<WriteLock>,
    /// The passphrase-derived keys of an owner open, kept so a rotation can wrap the new
    /// owner key without asking again (docs/format.md#rotation).
    pub(crate) derived: Option<DerivedKeys>,
    /// Every client's reference, once all locator shards were read (docs/format.md#locator).
    pub(crate) located: std::sync::OnceLock<Vec<ClientRef>>,
    /// Where this machine remembers the revisions it has seen (docs/threat-model.md).
    pub(crate) memory: Option<Box<dyn rollback::RevisionMemory>>,
    /// Set when this folder is an older copy of another one (vault::rollback): then
    /// nothing is written here.
    pub(crate) older: Option<rollback::OlderCopy>,
    /// This folder's writer id on this machine (docs/format.md#writers): the prefix of
    /// every file it writes in `clients/`.
    pub(crate) writer: String,
    /// The tombstones of removed clients, read with `located`.
    pub(crate) removed_clients: std::sync::OnceLock<Vec<crate::client::Removal>>,
    /// Version 3: the heads read and what the state includes; `None` before the
    /// upgrade (docs/format.md#multi-writer).
    pub(crate) heads: Option<state::HeadState>,
    /// Several writers' heads merged in memory (a reader's view; a writer commits it
    /// at open).
    pub(crate) merged: Option<Box<state::MergedView>>,
    /// Heads in `heads/` whose files have not all arrived (a sync in progress): not
    /// merged yet (docs/format.md#multi-writer).
    pub(crate) waiting_heads: Vec<state::WaitingHead>,
    /// Heads whose writer wrote two histories under the same change numbers (a
    /// restored backup; docs/format.md#forked-writers): (writer, head file).
    pub(crate) forked_heads: Vec<(String, String)>,
    /// The highest revision of this writer this machine remembers in this folder.
    pub(crate) own_floor: u64,
    /// The heads this machine remembers writing in this folder (vault::rollback).
    pub(crate) own_heads: Vec<rollback::OwnHead>,
    /// This writer's other histories the state merges, for its next head's `branches`
    /// (docs/format.md#forked-writers).
    pub(crate) own_branches: Vec<crate::audit::AuditHead>,
    /// Every writer's other histories that the heads name (`branches`), whose records
    /// belong to the audit log (docs/format.md#forked-writers).
    pub(crate) branches: Vec<(String, crate::audit::AuditHead)>,
    /// Heads of a writer's other history read from the shards that are here.
    pub(crate) partial_heads: Vec<fork::PartialHead>,
    /// Files in `heads/` that are no authentic head (ignored; `verify` reports them).
    pub(crate) refused_heads: std::sync::Mutex<Vec<IntegrityError>>,
    /// Set when opening put a later generation's header back in place of another
    /// device's older `vault.json` (its generation; docs/format.md#header-conflicts).
    pub(crate) header_restored: Option<u64>,
    /// Set when opening removed another device's conflicted copy of `vault.json` of an
    /// earlier generation (its generation): a setting changed there is not kept.
    pub(crate) header_copy_removed: Option<u64>,
    /// Set when a conflicted copy of `vault.json` of a rotation to this generation made
    /// apart has another passphrase or Argon2id settings than the header: a `passwd`
    /// or `rotate --kdf` made on that side after the rotations is not kept
    /// (docs/format.md#sibling-rotations).
    pub(crate) passphrase_not_kept: bool,
    /// Another device's conflicted copies of `vault.json` of a rotation to this
    /// generation made apart whose `previous_key` authenticates, with their owner
    /// recipients (names in the vault folder; docs/format.md#sibling-rotations).
    pub(crate) sibling_copies: Vec<(String, String)>,
    /// Heads of this generation written under another owner key by a rotation made
    /// apart, with that owner recipient (names in `heads/`;
    /// docs/format.md#sibling-rotations).
    pub(crate) sibling_heads: std::sync::Mutex<Vec<(String, String)>>,
    /// The previous generation's keys and the heads of it carried over
    /// (docs/format.md#carry-over).
    pub(crate) carry: carry::Carry,
}

impl Vault {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn index(&self) -> &IndexBody {
        &self.index
    }

    /// The earlier generations whose keys this vault keeps (the header's
    /// `previous_key`, newest first), for carrying over changes a device made under
    /// them (docs/format.md#carry-over).
    pub fn kept_generations(&self) -> Vec<u64> {
        self.carry.generations()
    }

    /// The key that opened the vault as an age identity file, for the standard `age`
    /// command (`age -d -i FILE`). Secret: the caller writes it to a 0600 file only.
    pub fn identity_file(&self) -> Zeroizing<String> {
        use age::secrecy::ExposeSecret;
        let who = if self.is_owner() {
            "owner"
        } else {
            "emergency"
        };
        let id = self.identity();
        let head = format!(
            "# baton {who} identity of vault {}\n# public key: {}\n",
            self.header.vault_id,
            id.to_public()
        );
        crate::crypto::secret::concat_secret(&[&head, id.to_string().expose_secret(), "\n"])
    }

    /// Whether the vault was opened for writing (it holds the write lock).
    pub fn is_writable(&self) -> bool {
        self.lock.is_some() && self.older.is_none()
    }

    /// The generation of the older `vault.json` this open replaced with the later one
    /// a sync service had kept as a conflicted copy (docs/format.md#header-conflicts):
    /// a change another device made to the old header (the rotation interval) is gone
    /// and may need making again.
    pub fn header_restored(&self) -> Option<u64> {
        self.header_restored
    }

    /// The generation of another device's conflicted copy of `vault.json` that opening
    /// removed: an earlier generation's, whose heads the vault carries over with the
    /// key it keeps (docs/format.md#header-conflicts).
    pub fn header_copy_removed(&self) -> Option<u64> {
        self.header_copy_removed
    }

    /// Whether a conflicted copy of `vault.json` of a rotation to this generation made
    /// apart on another device has another passphrase or Argon2id settings than
    /// `vault.json`: a `passwd` or `rotate --kdf` made on that side after the
    /// rotations is not kept, and the vault opens with `vault.json`'s passphrase
    /// (docs/format.md#sibling-rotations).
    pub fn passphrase_not_kept(&self) -> bool {
        self.passphrase_not_kept
    }

    pub fn is_owner(&self) -> bool {
        matches!(self.key, Key::Owner(_))
    }
}

/// A vault for unit tests: holders anna and ben (2 of 2), the fast test KDF.
#[cfg(test)]
pub(crate) fn test_vault(path: &Path, passphrase: impl Into<String>) -> Vault {
    Vault::init(
        path,
        &crate::crypto::secret::Passphrase::new(passphrase.into()),
        InitOptions {
            policy: Policy::single(vec!["anna".into(), "ben".into()], 2),
            kdf: KdfParams::insecure_test(),
        },
        |_, _| Ok(()),
    )
    .expect("a test vault")
}

/// Every file below `dir` but the lock, with its bytes: what a refused change must
/// leave exactly as it was (unit tests).
#[cfg(test)]
pub(crate) fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else if e.file_name() != ".lock" {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}
