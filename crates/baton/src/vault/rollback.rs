//! Rollback of the whole vault folder (docs/threat-model.md#rollback): every file of
//! an older state is authentic, so only a memory outside the folder can tell. The
//! caller supplies that memory; a vault given one refuses to open at a revision lower
//! than the memory holds, and records its revision there when it is dropped.

use std::path::{Path, PathBuf};

use crate::store::{IntegrityError, fsio};
use crate::vault::Vault;

/// Where a machine remembers the highest index revision it has seen of each vault.
pub trait RevisionMemory: Send + Sync {
    /// The highest revision seen of `vault_id`, if any.
    fn last_seen(&self, vault_id: &str) -> Option<u64>;
    /// Raises the remembered revision to `revision` (never lowers it). Best effort:
    /// a machine without a writable place simply does not remember.
    fn record(&self, vault_id: &str, revision: u64);
}

/// One small file per vault id in a private folder (the CLI uses
/// `$XDG_STATE_HOME/baton/seen/`).
#[derive(Clone, Debug)]
pub struct SeenFolder {
    dir: PathBuf,
}

impl SeenFolder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SeenFolder { dir: dir.into() }
    }

    /// The file that holds `vault_id`'s revision (to name in a hint).
    pub fn file(&self, vault_id: &str) -> PathBuf {
        self.dir.join(vault_id)
    }

    fn read(p: &Path) -> Option<u64> {
        // Bounded: a revision is at most 20 digits.
        let mut buf = [0u8; 32];
        let n = std::io::Read::read(&mut std::fs::File::open(p).ok()?, &mut buf).ok()?;
        std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
    }
}

impl RevisionMemory for SeenFolder {
    fn last_seen(&self, vault_id: &str) -> Option<u64> {
        crate::is_lower_hex(vault_id, 32)
            .then(|| Self::read(&self.file(vault_id)))
            .flatten()
    }

    fn record(&self, vault_id: &str, revision: u64) {
        if !crate::is_lower_hex(vault_id, 32)
            || self
                .last_seen(vault_id)
                .is_some_and(|last| last >= revision)
        {
            return;
        }
        if fsio::create_private_dir(&self.dir).is_ok() {
            let _ = fsio::write_atomic(&self.file(vault_id), format!("{revision}\n").as_bytes());
        }
    }
}

impl Vault {
    /// Checks the vault against `memory` and keeps it, so the revision this handle
    /// ends at is recorded when it is dropped.
    pub fn guard_rollback(
        mut self,
        memory: Box<dyn RevisionMemory>,
    ) -> Result<Vault, IntegrityError> {
        let revision = self.index.revision;
        if let Some(seen) = memory.last_seen(&self.header.vault_id)
            && seen > revision
        {
            return Err(IntegrityError::VaultRolledBack { revision, seen });
        }
        self.memory = Some(memory);
        Ok(self)
    }
}

impl Drop for Vault {
    fn drop(&mut self) {
        if let Some(m) = &self.memory {
            m.record(&self.header.vault_id, self.index.revision);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn remembers_the_highest_revision_only() {
        let dir = tempfile::tempdir().unwrap();
        let m = SeenFolder::new(dir.path().join("seen"));
        assert_eq!(m.last_seen(ID), None);
        m.record(ID, 7);
        assert_eq!(m.last_seen(ID), Some(7));
        m.record(ID, 3);
        assert_eq!(m.last_seen(ID), Some(7));
        m.record(ID, 9);
        assert_eq!(m.last_seen(ID), Some(9));
    }

    #[test]
    fn a_vault_id_that_is_not_a_name_is_never_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let m = SeenFolder::new(dir.path());
        m.record("../escape", 5);
        assert_eq!(m.last_seen("../escape"), None);
        assert!(!dir.path().parent().unwrap().join("escape").exists());
    }

    #[test]
    fn garbage_and_huge_files_read_as_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let m = SeenFolder::new(dir.path());
        std::fs::write(m.file(ID), "not a number").unwrap();
        assert_eq!(m.last_seen(ID), None);
        std::fs::write(m.file(ID), "1".repeat(100)).unwrap();
        assert_eq!(m.last_seen(ID), None);
    }
}
