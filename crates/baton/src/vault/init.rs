//! Creating a vault (docs/format.md#layout).

use std::fs;
use std::io;
use std::path::Path;

use crate::audit::{AUDIT_DIR, AuditAction, AuditEvent, AuditHead};
use crate::crypto::keys::{self, AuthKey, EmergencySecret, OwnerIdentity};
use crate::crypto::secret::Passphrase;
use crate::emergency::{self, Holder, HolderShare, Policy};
use crate::store::fsio::{self, WriteLock};
use crate::store::header::{self, HEADER_FILE, Header, Recipients};
use crate::store::index::IndexBody;

use super::error::*;
use super::{InitOptions, Key, Vault};
use super::{parse_recipients, passphrase_check};
use crate::store::CLIENTS_DIR;
use crate::time::now;

impl Vault {
    /// Creates a new vault at `path` (docs/format.md#layout) and returns it with one
    /// share per holder. The emergency secret exists only inside this call.
    ///
    /// `deliver` receives the shares after every other file is durable and before
    /// `vault.json` is written: if it fails, the folder never becomes a vault and what
    /// `init` created is removed. So a vault never exists whose shares were not handed out.
    pub fn init(
        path: &Path,
        passphrase: &Passphrase,
        opts: InitOptions,
        deliver: impl FnOnce(&Header, &[HolderShare]) -> Result<(), String>,
    ) -> Result<Vault, InitError> {
        Self::init_on(path, passphrase, opts, None, deliver)
    }

    /// `init` on a machine whose rollback memory keeps a secret (see
    /// [`rollback::RevisionMemory::machine_secret`](super::rollback::RevisionMemory)):
    /// the first head carries the same writer id as every later open on this machine
    /// (docs/format.md#writers).
    pub fn init_on(
        path: &Path,
        passphrase: &Passphrase,
        opts: InitOptions,
        machine_secret: Option<&[u8; 32]>,
        deliver: impl FnOnce(&Header, &[HolderShare]) -> Result<(), String>,
    ) -> Result<Vault, InitError> {
        opts.policy.validate()?;
        opts.kdf.validate()?;
        let existed = path.exists();
        if existed {
            let mut rd = fs::read_dir(path).map_err(io_err(path))?;
            if rd.next().is_some() {
                return Err(InitError::NotEmpty(path.to_path_buf()));
            }
        }

        let vault_id_bytes: [u8; 16] = crate::replay::id_bytes();
        let vault_id = hex::encode(vault_id_bytes);
        let owner = OwnerIdentity::generate();
        let emergency = EmergencySecret::generate();
        let auth = emergency.auth_key(&vault_id_bytes);
        let recipients = Recipients {
            owner: owner.recipient().to_string(),
            emergency: emergency.identity().to_public().to_string(),
        };

        let created = now();
        let (share_set, holders) =
            emergency::new_share_set(&emergency, &vault_id, &opts.policy, &created, None)?;
        let shares = emergency::holder_shares(&emergency, &vault_id, &share_set, &holders)?;
        let derived = opts.kdf.derive(passphrase)?;
        let header = Header {
            format: header::FORMAT.into(),
            version: header::VERSION,
            vault_id: vault_id.clone(),
            created: created.clone(),
            generation: 1,
            recipients: recipients.clone(),
            passphrase_check: passphrase_check(&derived),
            owner_key: keys::wrap_owner_key(&derived, &vault_id, &owner, &emergency),
            kdf: opts.kdf,
            share_set,
            rotation: Default::default(),
            previous_key: None,
        };

        let created_files = Self::init_files(
            path,
            header,
            (owner, emergency, auth),
            recipients,
            holders,
            &opts.policy,
            machine_secret,
        );
        let mut vault = match created_files {
            Ok(v) => v,
            Err(e) => {
                Self::undo_init(path, existed);
                return Err(e);
            }
        };
        if let Err(reason) = deliver(&vault.header, &shares) {
            Self::undo_init(path, existed);
            return Err(InitError::Delivery(reason));
        }
        drop(shares);
        vault.derived = Some(derived);
        // The header is written last: a folder without vault.json is not a vault yet.
        if let Err(e) = vault.write_header() {
            Self::undo_init(path, existed);
            return Err(match e {
                VaultError::Io { path, source } => InitError::Io { path, source },
                other => InitError::Io {
                    path: path.to_path_buf(),
                    source: io::Error::other(other.to_string()),
                },
            });
        }
        Ok(vault)
    }

    /// Removes what a failed `init` created (only baton's own names).
    pub(super) fn undo_init(path: &Path, existed: bool) {
        for name in [CLIENTS_DIR, AUDIT_DIR, crate::store::head::HEADS_DIR] {
            let _ = fs::remove_dir_all(path.join(name));
        }
        for name in [HEADER_FILE, ".lock", "index.g1.age"] {
            let _ = fs::remove_file(path.join(name));
        }
        if !existed {
            let _ = fs::remove_dir(path);
        }
    }

    pub(super) fn init_files(
        path: &Path,
        header: Header,
        (owner, emergency, auth): (OwnerIdentity, EmergencySecret, AuthKey),
        recipients: Recipients,
        holders: Vec<Holder>,
        policy: &Policy,
        machine_secret: Option<&[u8; 32]>,
    ) -> Result<Vault, InitError> {
        let created = header.created.clone();
        fsio::create_private_dir(path).map_err(io_err(path))?;
        for d in [CLIENTS_DIR, AUDIT_DIR] {
            let p = path.join(d);
            fsio::create_private_dir(&p).map_err(io_err(&p))?;
        }
        let lock = WriteLock::try_acquire(path)
            .map_err(io_err(path))?
            .ok_or_else(|| InitError::Io {
                path: path.to_path_buf(),
                source: io::Error::new(io::ErrorKind::WouldBlock, "locked"),
            })?;
        let index = IndexBody {
            vault_id: header.vault_id.clone(),
            generation: 1,
            revision: 0,
            updated: created,
            recipients: recipients.clone(),
            share_set: header.share_set.clone(),
            holders,
            owner: Default::default(),
            last_drill: String::new(),
            retention_months: crate::store::index::DEFAULT_RETENTION_MONTHS,
            audit_head: AuditHead::empty(),
            audit: Default::default(),
            audit_archive: None,
            audit_archives_apart: vec![],
            retired_apart: vec![],
            locator: vec![],
            catalog: vec![],
        };
        let writer = match machine_secret {
            Some(secret) => crate::sync::writer::derive_keyed(secret, &header.vault_id, path),
            None => crate::sync::writer::derive(&header.vault_id, path),
        };
        let mut vault = Vault {
            path: path.to_path_buf(),
            recipients: parse_recipients(&recipients).expect("just generated"),
            header,
            key: Key::Owner(owner),
            emergency,
            auth,
            index,
            lock: Some(lock),
            derived: None,
            located: Default::default(),
            memory: None,
            older: None,
            writer,
            header_restored: None,
            header_copy_removed: None,
            passphrase_not_kept: false,
            sibling_copies: Vec::new(),
            sibling_heads: Default::default(),
            removed_clients: Default::default(),
            heads: Some(Default::default()),
            merged: None,
            waiting_heads: Vec::new(),
            forked_heads: Vec::new(),
            own_heads: Vec::new(),
            own_branches: Vec::new(),
            partial_heads: Vec::new(),
            branches: Vec::new(),
            own_floor: 0,
            refused_heads: Default::default(),
            carry: Default::default(),
        };
        let detail = format!(
            "share set {} ({})",
            vault.header.share_set.id,
            policy.describe()
        );
        vault
            .commit(
                AuditEvent::new(AuditAction::VaultInit, None, detail),
                vec![],
                &[],
            )
            .map_err(|e| match e {
                VaultError::Io { path, source } => InitError::Io { path, source },
                other => InitError::Io {
                    path: path.to_path_buf(),
                    source: io::Error::other(other.to_string()),
                },
            })?;
        Ok(vault)
    }
}
