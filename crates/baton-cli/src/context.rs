//! Where the vault is and how it is opened: the global flags, the passphrase or
//! emergency key, the public header's warnings, and the rollback memory.

use std::path::PathBuf;

use baton::Passphrase;
use baton::rotate::UnfinishedRotation::{Interrupted, Running};
use baton::vault::{Access, Vault};

use crate::input;
use crate::msg::{self, Result};

pub(crate) struct Ctx {
    pub(crate) vault: Option<PathBuf>,
    pub(crate) passphrase_file: Option<PathBuf>,
    pub(crate) identity: Option<PathBuf>,
}

impl Ctx {
    pub(crate) fn vault_path(&self) -> Result<PathBuf> {
        self.vault
            .clone()
            .or_else(|| std::env::var_os("BATON_VAULT").map(PathBuf::from))
            .ok_or_else(msg::no_vault)
    }

    pub(crate) fn passphrase_file(&self) -> Option<PathBuf> {
        self.passphrase_file
            .clone()
            .or_else(|| std::env::var_os("BATON_PASSPHRASE_FILE").map(PathBuf::from))
    }

    pub(crate) fn passphrase(&self) -> Result<Passphrase> {
        input::passphrase(self.passphrase_file().as_deref(), "--passphrase-file")
    }

    /// The emergency key from `--identity FILE` (or BATON_IDENTITY), if given.
    pub(crate) fn identity_secret(&self) -> Result<Option<baton::EmergencySecret>> {
        let Some(file) = self
            .identity
            .clone()
            .or_else(|| std::env::var_os("BATON_IDENTITY").map(PathBuf::from))
        else {
            return Ok(None);
        };
        let bytes = input::read_secret_file(&file, "--identity")?;
        let text = std::str::from_utf8(&bytes).map_err(|_| msg::identity_not_text())?;
        baton::EmergencySecret::from_identity_file(text)
            .map(Some)
            .ok_or_else(msg::identity_without_key)
    }

    pub(crate) fn open(&self, access: Access) -> Result<Opened> {
        self.open_keep_passphrase(access).map(|(v, _)| v)
    }

    /// Opens for writing, so the command goes into the audit log; or read-only where
    /// the folder cannot be written (a copy on a read-only medium), saying so.
    pub(crate) fn open_recording(&self) -> Result<Opened> {
        let path = self.vault_path()?;
        if baton::fs::is_read_only_folder(&path) {
            eprintln!(
                "baton: note: the vault folder is read-only, so this is not recorded in its audit log"
            );
            return self.open(Access::Read);
        }
        self.open(Access::Write)
    }

    /// Opens the vault and keeps the passphrase for a command that needs it again
    /// (a rotation that changes the key derivation).
    pub(crate) fn open_keep_passphrase(&self, access: Access) -> Result<(Opened, Passphrase)> {
        let path = self.checked_path()?;
        match self.identity_secret()? {
            Some(e) => Ok((
                self.remember(Vault::open_emergency(&path, &e, access)?)?,
                Passphrase::new(String::new()),
            )),
            None => {
                let p = self.passphrase()?;
                Ok((self.remember(Vault::open(&path, &p, access)?)?, p))
            }
        }
    }

    /// Opens with an emergency key rebuilt from shares, with the same checks as every
    /// other open.
    pub(crate) fn open_emergency(
        &self,
        e: &baton::EmergencySecret,
        access: Access,
    ) -> Result<Opened> {
        let path = self.checked_path()?;
        self.remember(Vault::open_emergency(&path, e, access)?)
    }

    /// The vault folder, after its public header was read (so a missing vault is
    /// reported before anything is asked) and its warnings printed.
    pub(crate) fn checked_path(&self) -> Result<PathBuf> {
        let path = self.vault_path()?;
        let header = baton::vault::read_header(&path)?;
        if header.kdf.is_insecure() {
            eprintln!(
                "baton: warning: this vault uses the insecure test key derivation; do not store real secrets in it"
            );
        }
        match baton::rotate::unfinished(&path) {
            // Refused before the passphrase is asked for (the library refuses it too).
            Some(Running(g)) => return Err(baton::vault::UnlockError::RotationRunning(g).into()),
            Some(Interrupted(g)) => eprintln!(
                "baton: warning: a rotation to generation {g} was interrupted; {}",
                msg::HINT_ROTATION_PENDING
            ),
            None => {}
        }
        Ok(path)
    }

    /// Refuses a vault older than this machine has seen (a rollback of the whole
    /// folder); the returned handle records the revision when dropped.
    pub(crate) fn remember(&self, vault: Vault) -> Result<Opened> {
        let Some(memory) = seen_folder() else {
            return Ok(vault);
        };
        // The file to name in a rollback hint: this folder's record, or the memory from
        // before records were per folder while it still decides.
        let file = match memory.legacy_file(&vault.header().vault_id) {
            legacy if legacy.is_file() => legacy,
            _ => memory.file(&vault.header().vault_id, vault.path()),
        };
        let (path, generation) = (vault.path().to_path_buf(), vault.header().generation);
        let index_file = vault.header().index_file();
        let vault = vault.guard_rollback(Box::new(memory)).map_err(|e| {
            // A sync service that kept another device's index and renamed this
            // one's looks like a rollback here: say what it is.
            let copy = baton::store::survey::survey(&path, generation)
                .strays
                .into_iter()
                .find_map(|s| match s {
                    baton::store::survey::Stray::ConflictCopy { file, original, .. }
                        if original == index_file =>
                    {
                        Some(file)
                    }
                    _ => None,
                });
            match copy {
                Some(copy) => msg::index_replaced_by_sync(&e, &copy),
                None => msg::rolled_back(&e, &file),
            }
        })?;
        if let Some(o) = vault.older_copy() {
            eprintln!("baton: warning: {}", msg::older_copy(o));
        }
        if let Some(g) = vault.header_copy_removed() {
            eprintln!(
                "baton: warning: {}",
                msg::header_copy_removed(g, vault.header().generation)
            );
        }
        if vault.passphrase_not_kept() {
            eprintln!(
                "baton: warning: {}",
                msg::passphrase_not_kept(vault.header().generation)
            );
        }
        if let Some(g) = vault.header_restored() {
            eprintln!(
                "baton: warning: {}",
                msg::header_restored(g, vault.header().generation)
            );
        }
        Ok(vault)
    }
}

/// An open vault; it records the highest index revision this machine has seen when
/// dropped (docs/threat-model.md: rollback of the whole vault).
pub(crate) type Opened = Vault;

/// This machine's secret that keys its writer ids (docs/format.md#writers), if it has a
/// state folder.
pub(crate) fn machine_secret() -> Option<zeroize::Zeroizing<[u8; 32]>> {
    use baton::vault::rollback::RevisionMemory;
    seen_folder()?.machine_secret()
}

/// The per-machine record of the last seen revision of each vault:
/// `$XDG_STATE_HOME/baton/seen/<vault id>` (or `~/.local/state/...`).
pub(crate) fn seen_folder() -> Option<baton::vault::rollback::SeenFolder> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(baton::vault::rollback::SeenFolder::new(
        base.join("baton").join("seen"),
    ))
}
