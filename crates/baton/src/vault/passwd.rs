//! Changing the owner passphrase (docs/format.md#keys).

use crate::audit::{AuditAction, AuditEvent};
use crate::crypto::kdf::KdfParams;
use crate::crypto::keys::{self};
use crate::crypto::secret::Passphrase;

use super::error::*;
use super::passphrase_check;
use super::{Key, Vault};

impl Vault {
    /// Changes the owner passphrase (and optionally the Argon2id parameters): new salt,
    /// same identity, `vault.json` replaced atomically.
    pub fn change_passphrase(
        &mut self,
        new: &Passphrase,
        kdf: Option<KdfParams>,
    ) -> Result<(), VaultError> {
        self.require_write()?;
        let Key::Owner(owner) = &self.key else {
            return Err(VaultError::OwnerOnly);
        };
        let params = kdf.unwrap_or_else(|| self.header.kdf.resalted());
        params.validate()?;
        let derived = params.derive(new)?;
        let mut header = self.header.clone();
        header.owner_key = keys::wrap_owner_key(&derived, &header.vault_id, owner, &self.emergency);
        header.passphrase_check = passphrase_check(&derived);
        let detail = format!(
            "argon2id m={} KiB t={} p={}",
            params.m_cost_kib, params.t_cost, params.p_cost
        );
        header.kdf = params;
        // The record first: a crash between the two writes leaves a record of an
        // attempted change rather than a change without a record.
        self.commit(
            AuditEvent::new(AuditAction::PassphraseChange, None, detail),
            vec![],
            &[],
        )?;
        let old = std::mem::replace(&mut self.header, header);
        if let Err(e) = self.write_header() {
            self.header = old;
            return Err(e);
        }
        Ok(())
    }
}
