//! The upgrade of a version 2 vault to the multi-writer format
//! (docs/format.md#multi-writer, "Upgrade from version 2").
//!
//! Each step is atomic and the order makes a crash anywhere leave a vault that opens
//! with all data: (1) this writer's first record, `vault.upgrade`; (2) its head, made
//! from the index (rows keep the empty version, the records so far are the legacy
//! chain); (3) `vault.json` with `"version": 3`; (4) the index removed. Until (3) the
//! vault is version 2 and the head an unused file; after it the index is a leftover
//! that the next writer removes.

use crate::audit::{self, AuditAction, AuditEvent, AuditHead, LEGACY_CHAIN};
use crate::store::fsio;
use crate::store::header;

use super::{Vault, VaultError};

impl Vault {
    /// Upgrades a version 2 vault opened for writing. Nothing happens while a rotation
    /// is unfinished (it finishes or is undone in version 2 first).
    pub(crate) fn upgrade(&mut self) -> Result<(), VaultError> {
        if self.is_multi_writer() || header::pending_rotation(&self.path).is_some() {
            return Ok(());
        }
        self.require_lock()?;
        let index = self.index.clone();
        let mut next = index.clone();
        next.audit = [(LEGACY_CHAIN.to_string(), index.audit_head.clone())].into();
        // The header says version 3 only after the head exists; the record goes to this
        // writer's chain, so set the version for the record and head first.
        self.header.version = header::VERSION;
        let time = crate::time::now();
        let written = (|| {
            let detail = format!(
                "vault format 2 -> 3 (one head per writer) at revision {}",
                index.revision
            );
            let (record, plain) = self.write_record(
                AuditEvent::new(AuditAction::VaultUpgrade, None, detail),
                &time,
            )?;
            fsio::fault_point("upgrade: record written");
            let head = AuditHead {
                seq: record.seq,
                hash: audit::hash(&plain),
            };
            next.audit.insert(self.writer.clone(), head.clone());
            next.audit_head = head;
            // The writer's counter continues the index's revision, so the state's
            // revision (the sum of the version vector) never goes back.
            next.revision = index.revision + 1;
            next.updated = time.clone();
            self.heads = Some(Default::default());
            if let Some(e) = self.write_head(next, false, vec![], None)? {
                return Err(e);
            }
            fsio::fault_point("upgrade: head written");
            self.write_header()?;
            fsio::fault_point("upgrade: header written");
            Ok::<_, VaultError>(())
        })();
        if let Err(e) = written {
            self.header.version = header::SINGLE_WRITER_VERSION;
            self.heads = None;
            self.index = index;
            return Err(e);
        }
        self.remove_upgraded_index();
        Ok(())
    }

    /// Removes the version 2 index of a version 3 vault once the heads hold everything
    /// it holds: its legacy chain ends where the heads' does (an older baton never
    /// writes into a version 3 vault, which it refuses).
    pub(crate) fn remove_upgraded_index(&self) {
        let ip = self.path.join(self.header.index_file());
        if !ip.exists() {
            return;
        }
        let Ok(ix) = self.read_index() else { return };
        let legacy = self.index.chains().get(LEGACY_CHAIN).map_or(0, |h| h.seq);
        if ix.audit_head.seq <= legacy && fsio::remove_durable(&ip).is_ok() {
            fsio::fault_point("upgrade: index removed");
        }
    }
}
