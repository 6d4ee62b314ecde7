//! Key rotation (docs/format.md#rotation): every file of the vault is re-encrypted to
//! new keys as a new generation written beside the old one, checked, and switched to
//! with one atomic replace of `vault.json`; only then is the old generation removed.
//!
//! A crash at any point leaves a vault that opens with all data: before the switch in
//! the old generation (the new files are named by nothing the old index knows), after
//! it in the new one (the old files are leftovers). The state file
//! `rotation.g<N>.age` says which, so `resume` can finish and `abort` can undo.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use age::x25519;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::audit::{self, AUDIT_DIR, AuditAction, AuditArchive, AuditEvent, AuditHead};
use crate::client::{ClientRef, Removal};
use crate::crypto::kdf::{DerivedKeys, KdfError, KdfParams};
use crate::crypto::keys::{self, AuthKey, EmergencySecret, OwnerIdentity, OwnerKeyError};
use crate::crypto::seal;
use crate::crypto::secret::Passphrase;
use crate::emergency::{self, Holder, HolderShare, Policy};
use crate::store::fsio;
use crate::store::header::write_header_file;
use crate::store::header::{self, HEADER_FILE, Header, Recipients, ShareSet};
use crate::store::index::IndexBody;
use crate::store::locator;
use crate::store::shard::{ShardFile, ShardKind, ShardRef};
use crate::store::{CLIENTS_DIR, IntegrityError, is_client_file_name, sha256_hex};
use crate::time::now;
use crate::vault::{self, InitError, Key, RawRecord, Vault, VaultError};

const STATE_MAC_DOMAIN: &[u8] = b"baton-rotation/1\n";

/// The first change of a takeover's rotation (a new owner, by the emergency key).
const TAKEOVER_CHANGE: &str = "owner key and passphrase (takeover)";

/// What kind of rotation a state file describes (docs/format.md#rotation): it decides
/// the rotation's audit action and whether a new share set comes with it. Any of them
/// may also change the Argon2id parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RotationKind {
    /// The owner replaces the owner key; the emergency key stays.
    Plain,
    /// The owner replaces the owner key and the emergency key (a new share set).
    Emergency,
    /// The emergency key re-keys the vault for a new owner and new holders.
    Takeover,
}

impl RotationKind {
    /// Whether the rotation makes a new emergency key and share set.
    pub fn replaces_emergency(self) -> bool {
        !matches!(self, RotationKind::Plain)
    }

    /// The action of the rotation's own audit record.
    pub fn action(self) -> AuditAction {
        match self {
            RotationKind::Takeover => AuditAction::VaultTakeover,
            RotationKind::Plain | RotationKind::Emergency => AuditAction::VaultRotate,
        }
    }

    /// State files written before `kind` existed name it only in their `changes`
    /// texts, which those versions spelled exactly so.
    fn from_legacy_changes(changes: &[String]) -> RotationKind {
        if changes.iter().any(|c| c == TAKEOVER_CHANGE) {
            RotationKind::Takeover
        } else if changes.iter().any(|c| c.starts_with("emergency")) {
            RotationKind::Emergency
        } else {
            RotationKind::Plain
        }
    }
}

/// What a rotation changes besides the owner key, which it always replaces.
#[derive(Clone, Debug, Default)]
pub struct RotateOptions {
    /// A new emergency key and share set for these holders; `None` keeps the emergency
    /// key.
    pub emergency: Option<Policy>,
    /// New Argon2id parameters (with a new salt); `None` keeps them. Needs the
    /// passphrase.
    pub kdf: Option<KdfParams>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Decrypting each client file and encrypting it to the new keys.
    Encrypt,
    /// Reading every new file back and decrypting it with the new key.
    Verify,
}

#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub phase: Phase,
    pub done: usize,
    pub total: usize,
}

/// What a finished rotation did.
#[derive(Clone, Debug)]
pub struct RotateReport {
    pub from_generation: u64,
    pub to_generation: u64,
    pub clients: usize,
    /// Records re-encrypted into the new generation's archive (including the
    /// rotation's own record).
    pub audit_records: u64,
    pub kind: RotationKind,
    /// "owner key", "emergency key", "key derivation".
    pub changes: Vec<String>,
    pub share_set: ShareSet,
    pub emergency_rotated: bool,
    /// Files of the old generation removed after the switch.
    pub removed_files: usize,
}

/// An interrupted rotation, as its state file describes it.
#[derive(Clone, Debug)]
pub struct PendingRotation {
    pub to: u64,
    /// Whether `vault.json` already names the new generation (then it can only be
    /// finished).
    pub switched: bool,
    pub started: String,
    pub kind: RotationKind,
    pub changes: Vec<String>,
    /// The new share set, if the rotation replaces the emergency key.
    pub share_set: Option<ShareSet>,
    pub holders: Vec<Holder>,
}

/// What `abort` undid.
#[derive(Clone, Debug)]
pub struct AbortReport {
    pub generation: u64,
    /// The share set of the discarded generation, if it had a new one: those shares
    /// open nothing and should be destroyed.
    pub void_share_set: Option<String>,
    pub removed_files: usize,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    #[error("the vault was opened read-only")]
    ReadOnly,
    /// This folder is an older copy of another folder of the vault (vault::rollback).
    #[error("{0}")]
    OlderCopy(VaultError),
    #[error("only the owner can do this")]
    OwnerOnly,
    #[error(
        "a takeover is for the emergency key; the owner changes keys with 'rotate' and 'passwd'"
    )]
    TakeoverByOwner,
    #[error("a rotation to generation {0} was interrupted")]
    Pending(u64),
    #[error("there is no interrupted rotation")]
    NothingPending,
    #[error(
        "the rotation to generation {0} already switched the vault to its new keys; it can be finished, not undone"
    )]
    AlreadySwitched(u64),
    /// The state file is another device's (docs/format.md#sibling-rotations): that
    /// rotation may still be running there, or may have switched with its `vault.json`
    /// not here yet, and undoing it here would remove the files it switched to.
    #[error(
        "the rotation to generation {generation} was started by another writer ({writer}: another device, or this vault folder under another path); it may still be running there, or may have finished with its files not all here yet"
    )]
    OtherDevice { writer: String, generation: u64 },
    #[error("the passphrase is needed to change the key derivation")]
    PassphraseNeeded,
    #[error("wrong passphrase")]
    WrongPassphrase,
    #[error(
        "the rotation state file {0} failed authentication (damaged, or not written with this vault's keys)"
    )]
    StateForged(String),
    #[error("the rotation state file {0} does not match the vault (it lists other files)")]
    StateMismatch(String),
    #[error("a re-encrypted file did not verify: {0}")]
    VerifyFailed(String),
    #[error(transparent)]
    Setup(#[from] InitError),
    #[error(transparent)]
    Kdf(#[from] KdfError),
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<(PathBuf, std::io::Error)> for RotateError {
    fn from((path, source): (PathBuf, std::io::Error)) -> Self {
        RotateError::Io { path, source }
    }
}

impl From<VaultError> for RotateError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Integrity(i) => RotateError::Integrity(i),
            VaultError::Kdf(k) => RotateError::Kdf(k),
            VaultError::Io { path, source } => RotateError::Io { path, source },
            VaultError::ReadOnly => RotateError::ReadOnly,
            e @ VaultError::OlderCopy { .. } => RotateError::OlderCopy(e),
            VaultError::OwnerOnly => RotateError::OwnerOnly,
            VaultError::RotationPending(g) => RotateError::Pending(g),
            other => RotateError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

pub use crate::store::header::pending_rotation as pending;
pub use crate::store::header::{UnfinishedRotation, unfinished_rotation as unfinished};

/// The plaintext body of the state file (docs/format.md#rotation).
#[derive(Serialize, Deserialize)]
struct StateBody {
    vault_id: String,
    from: u64,
    to: u64,
    started: String,
    /// Always written; missing in state files of earlier versions (then `kind()`
    /// reads it from `changes`).
    #[serde(default)]
    kind: Option<RotationKind>,
    /// What the rotation changes, in words, for its record and the report.
    changes: Vec<String>,
    /// The complete header of the new generation, owner key included.
    header: Header,
    holders: Vec<Holder>,
    /// `[old, new]` client file names.
    files: Vec<[String; 2]>,
    /// Files of the old generation that heads kept after replacing them
    /// (docs/format.md#mw-commit): the new generation needs none of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    kept: Vec<String>,
    /// The heads of the old generation the rotation merged: `[file in heads/,
    /// SHA-256]`. Only these are removed with the old generation; a head that arrived
    /// or changed meanwhile holds a change the new generation lacks and stays, reported
    /// (docs/format.md#mw-rotation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    old_heads: Vec<[String; 2]>,
    /// The audit archives the rotation read into its own (files in `audit/`): only
    /// these go with the old generation. Another one (of a rotation to the old
    /// generation made apart, whose heads the rotation did not merge) holds records
    /// the new archive lacks and stays (docs/format.md#sibling-rotations). Absent in
    /// state files of an older baton: then every older archive goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    archives: Option<Vec<String>>,
    /// The writer that started the rotation: an undo removes its head of the new
    /// generation (and the undoing writer's own), never another writer's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    writer: String,
    /// The index revision and audit head the rotation started from: a state file
    /// replayed after an abort or a later write no longer matches and is refused.
    base_revision: u64,
    base_head: String,
    /// The revision of the new generation's head: this writer's next (docs/format.md#
    /// multi-writer); missing in state files of version 2 vaults (then the base's
    /// plus one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_revision: Option<u64>,
}

impl StateBody {
    fn new_revision(&self) -> u64 {
        self.new_revision.unwrap_or(self.base_revision + 1)
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    version: u32,
    mac_old: String,
    mac_new: String,
    body: &'a RawValue,
}

#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    format: String,
    version: u32,
    mac_old: String,
    mac_new: String,
    #[serde(borrow)]
    body: &'a RawValue,
}

/// Which of the two MACs to check: the old generation's key before the switch, the
/// new one after it.
#[derive(Clone, Copy)]
enum Side {
    Old,
    New,
}

/// The new generation's keys while a rotation runs.
struct NewKeys {
    owner: OwnerIdentity,
    emergency: EmergencySecret,
    auth: AuthKey,
    recipients: Vec<x25519::Recipient>,
}

/// One file a rotation re-encrypts unchanged: a client file or a catalog shard. (The
/// locator's shards are written anew: they name the new files.)
#[derive(Clone, Copy)]
enum Stored<'a> {
    Client(&'a ClientRef),
    Catalog(&'a ShardRef),
}

impl Stored<'_> {
    fn file(&self) -> &str {
        match self {
            Stored::Client(c) => &c.file,
            Stored::Catalog(s) => &s.file,
        }
    }
    fn label(&self) -> String {
        match self {
            Stored::Client(c) => format!("client '{}'", c.id),
            Stored::Catalog(s) => format!("catalog shard {}", s.shard),
        }
    }
}

/// A file of the new generation, written but not yet named by any index.
struct Rewritten {
    file: String,
    sha256: String,
    plain_hash: [u8; 32],
}

impl StateBody {
    fn kind(&self) -> RotationKind {
        self.kind
            .unwrap_or_else(|| RotationKind::from_legacy_changes(&self.changes))
    }
}

fn describe(changes: &[String]) -> String {
    changes.join(", ")
}

/// The most archives no head pins that one rotation reads to remove them.
const MAX_UNPINNED_ARCHIVES: usize = 16;

impl Vault {
    fn require_rotator(&self) -> Result<(), RotateError> {
        Ok(self.require_lock()?)
    }

    /// Rotates the keys: a new owner identity always (so every file gets a new data key
    /// too), optionally a new emergency key with a new share set and new Argon2id
    /// parameters. `deliver` receives the new shares before anything is written: if it
    /// fails, nothing changes. `passphrase` is needed only for new KDF parameters.
    pub fn rotate(
        &mut self,
        opts: RotateOptions,
        passphrase: Option<&Passphrase>,
        deliver: impl FnOnce(&Header, &[HolderShare]) -> Result<(), String>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RotateReport, RotateError> {
        self.require_rotator()?;
        // The emergency key re-keys the owner only through a takeover (its own record,
        // a new passphrase), never as an ordinary rotation.
        if !self.is_owner() {
            return Err(RotateError::OwnerOnly);
        }
        let derived_new = match &opts.kdf {
            Some(params) => {
                params.validate()?;
                let p = passphrase.ok_or(RotateError::PassphraseNeeded)?;
                // The passphrase must be the one that opened the vault, or this would
                // silently change it.
                let current = self.header.kdf.derive(p)?;
                use subtle::ConstantTimeEq;
                if !bool::from(
                    vault::passphrase_check(&current)
                        .as_bytes()
                        .ct_eq(self.header.passphrase_check.as_bytes()),
                ) {
                    return Err(RotateError::WrongPassphrase);
                }
                Some(params.derive(p)?)
            }
            None => None,
        };
        let kind = if opts.emergency.is_some() {
            RotationKind::Emergency
        } else {
            RotationKind::Plain
        };
        self.rotate_with(opts, derived_new, kind, deliver, progress)
    }

    /// The colleague's takeover (docs/recovery.md#takeover), with the emergency key: a
    /// rotation to a new owner key under `new_passphrase` (same Argon2id parameters,
    /// new salt) and a new emergency key split under `policy`. Afterwards the old
    /// passphrase and the old shares open nothing written from then on.
    ///
    /// `kdf` are the new passphrase's Argon2id parameters, chosen by the caller: the
    /// header's are not authenticated to the emergency key (a folder writer could have
    /// lowered them), so they are not reused.
    pub fn take_over(
        &mut self,
        new_passphrase: &Passphrase,
        kdf: KdfParams,
        policy: Policy,
        deliver: impl FnOnce(&Header, &[HolderShare]) -> Result<(), String>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RotateReport, RotateError> {
        self.require_rotator()?;
        if self.is_owner() {
            return Err(RotateError::TakeoverByOwner);
        }
        kdf.validate()?;
        let params = kdf.resalted();
        let derived = params.derive(new_passphrase)?;
        let opts = RotateOptions {
            emergency: Some(policy),
            kdf: Some(params),
        };
        self.rotate_with(
            opts,
            Some(derived),
            RotationKind::Takeover,
            deliver,
            progress,
        )
    }

    /// Every client file and shard of the state is in `clients/` (names only).
    fn all_files_here(&self) -> Result<(), RotateError> {
        let here = |f: &str| self.path.join(CLIENTS_DIR).join(f).is_file();
        if let Some((kind, r)) = self.missing_shard(&self.index) {
            return Err(IntegrityError::ShardMissing {
                kind,
                shard: r.shard.clone(),
                file: format!("{CLIENTS_DIR}/{}", r.file),
            }
            .into());
        }
        if let Some(c) = self.clients()?.iter().find(|c| !here(&c.file)) {
            return Err(IntegrityError::ClientMissing {
                client: c.id.clone(),
                file: format!("{CLIENTS_DIR}/{}", c.file),
            }
            .into());
        }
        Ok(())
    }

    fn rotate_with(
        &mut self,
        opts: RotateOptions,
        derived_new: Option<DerivedKeys>,
        kind: RotationKind,
        deliver: impl FnOnce(&Header, &[HolderShare]) -> Result<(), String>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RotateReport, RotateError> {
        if let Some(g) = pending(&self.path) {
            return Err(RotateError::Pending(g));
        }
        // One state to rotate: a version 2 vault is upgraded and several writers'
        // heads are merged first (docs/format.md#multi-writer, "Rotation").
        self.prepare_write()?;
        // Every file the new generation is made from is here before anything of it is
        // written (docs/format.md#rotation, step 1): in a half-synced folder the
        // rotation waits, instead of failing halfway and settling on a head that names
        // another writer's missing shard.
        self.all_files_here()?;
        // A damaged log must not be laundered into a fresh archive: check it before
        // anything is written (the records then go into the archive as read here).
        let records = self.checked_audit()?;
        let from = self.header.generation;
        let to = from + 1;
        let started = now();
        let vault_id = self.header.vault_id.clone();
        let vid_bytes = self.header.vault_id_bytes().expect("checked on open");

        let owner = OwnerIdentity::generate();
        let mut changes = vec![if kind == RotationKind::Takeover {
            TAKEOVER_CHANGE.to_string()
        } else {
            "owner key".to_string()
        }];
        let (emergency, share_set, holders, shares) = match &opts.emergency {
            Some(policy) => {
                let e = EmergencySecret::generate();
                let (set, holders) = emergency::new_share_set(
                    &e,
                    &vault_id,
                    policy,
                    &started,
                    Some(&self.header.share_set),
                )
                .map_err(InitError::from)?;
                let shares = emergency::holder_shares(&e, &vault_id, &set, &holders)
                    .map_err(InitError::from)?;
                changes.push(format!(
                    "emergency key (share set {}: {})",
                    set.id,
                    policy.describe()
                ));
                (e, set, holders, Some(shares))
            }
            None => (
                self.emergency.duplicate(),
                self.header.share_set.clone(),
                self.index.holders.clone(),
                None,
            ),
        };
        let auth = emergency.auth_key(&vid_bytes);
        let emergency_recipient = emergency.identity().to_public().to_string();
        let derived: &DerivedKeys = match (&derived_new, &self.derived) {
            (Some(d), _) | (None, Some(d)) => d,
            (None, None) => return Err(RotateError::PassphraseNeeded),
        };
        let mut new_header = self.header.clone();
        new_header.generation = to;
        new_header.recipients = Recipients {
            owner: owner.recipient().to_string(),
            emergency: emergency_recipient,
        };
        if let Some(k) = &opts.kdf {
            new_header.kdf = k.clone();
            changes.push(format!(
                "key derivation (argon2id m={} KiB t={} p={})",
                k.m_cost_kib, k.t_cost, k.p_cost
            ));
        }
        new_header.passphrase_check = vault::passphrase_check(derived);
        new_header.owner_key = keys::wrap_owner_key(derived, &vault_id, &owner, &emergency);
        new_header.share_set = share_set;
        new_header.rotation.last = started.clone();
        // This generation's E, for carrying over a change another device makes under
        // these keys after the switch (docs/format.md#carry-over), with the shards of
        // every head this state includes and the files heads keep (replaced shards
        // among them): the rotation removes them, and such a change's head may still
        // name some. Not those of a head still waiting for its files: its rows are not
        // in the new generation.
        let mut retired_shards: Vec<String> = self
            .read_heads()
            .unwrap_or_default()
            .iter()
            .filter(|h| !self.waiting_heads.iter().any(|w| w.file == h.file))
            .flat_map(|h| h.body.index.shard_files().map(str::to_string))
            .chain(self.kept_files().into_iter().map(|(f, _)| f))
            .collect();
        retired_shards.sort();
        retired_shards.dedup();
        // Where the emergency key is replaced, it may be in the wrong hands: whoever holds
        // it could write an authentic head of the old generation, so a stranded head is
        // carried only by the device that wrote it (docs/threat-model.md, "What the new
        // generation keeps of the old one"; docs/format.md#carry-over).
        // The keys of earlier generations go along (at most 16): a device may have
        // written under any of them while offline across several rotations, also one
        // whose changes no device here has seen yet (docs/format.md#header, `earlier`;
        // the simulator's Syncthing seed 2036).
        new_header.previous_key = Some(crate::store::previous::wrap(
            &vault::parse_recipients(&new_header.recipients).expect("just generated"),
            &auth,
            &vault_id,
            &crate::store::previous::PreviousKey {
                generation: from,
                emergency: self.emergency.duplicate(),
                retired_shards,
                own_only: kind.replaces_emergency(),
                earlier: self.carry.earlier_for_rotation(),
            },
        ));

        // The shares exist only here: hand them out before anything is written, so a
        // generation never exists whose shares were not delivered.
        if let Some(shares) = shares {
            deliver(&new_header, &shares).map_err(InitError::Delivery)?;
        }

        let keys = NewKeys {
            recipients: vault::parse_recipients(&new_header.recipients).expect("just generated"),
            owner,
            emergency,
            auth,
        };
        let body = StateBody {
            vault_id,
            from,
            to,
            started,
            kind: Some(kind),
            changes,
            header: new_header,
            holders,
            files: self
                .clients()?
                .iter()
                .map(|c| c.file.as_str())
                .chain(self.index.shard_files())
                .map(|f| {
                    [
                        f.to_string(),
                        crate::sync::writer::new_file_name(&self.writer),
                    ]
                })
                .collect(),
            kept: self.kept_files().into_iter().map(|(f, _)| f).collect(),
            old_heads: self
                .heads
                .iter()
                .flat_map(|h| &h.files)
                .filter_map(|i| {
                    let p = self.path.join(crate::store::head::HEADS_DIR).join(&i.file);
                    let bytes = fsio::read_bounded(&p, crate::store::MAX_SHARD_BYTES).ok()?;
                    Some([i.file.clone(), sha256_hex(&bytes)])
                })
                .collect(),
            archives: Some(
                self.index
                    .archives()
                    .map(|a| a.file.clone())
                    .chain(self.covered_archives(&records))
                    .collect(),
            ),
            writer: self.writer.clone(),
            base_revision: self.index.revision,
            base_head: self.index.audit_head.hash.clone(),
            new_revision: self.is_multi_writer().then(|| self.next_own_revision()),
        };
        self.write_state(&body, &keys)?;
        fsio::fault_point("rotate: state written");
        match self.run_rotation(&body, keys, derived_new, Some(records), progress) {
            Ok(r) => Ok(r),
            Err((e, false)) => {
                // Failed before the switch (a full disk, a damaged file): undo, so the
                // vault is exactly as before, and record it, so that a copy of the
                // state file can never be resumed later. If the undo fails, the state
                // file stays and `abort` finishes the job. `discard` itself refuses if
                // vault.json did switch after all (an error after its rename).
                let record = AuditEvent::new(
                    AuditAction::VaultRotateFailed,
                    None,
                    format!("generation {} discarded: {e}", body.to),
                );
                let _ = self.discard(&body, Some(record));
                Err(e)
            }
            Err((e, true)) => Err(e),
        }
    }

    /// What an interrupted rotation would finish or undo, read from its authenticated
    /// state file; `None` if there is none.
    pub fn pending_rotation(&self) -> Result<Option<PendingRotation>, RotateError> {
        let Some(to) = pending(&self.path) else {
            return Ok(None);
        };
        let switched = to == self.header.generation;
        let side = if switched { Side::New } else { Side::Old };
        let body = self.read_state(to, side, None)?;
        let kind = body.kind();
        Ok(Some(PendingRotation {
            to,
            switched,
            started: body.started,
            kind,
            changes: body.changes,
            share_set: kind.replaces_emergency().then_some(body.header.share_set),
            holders: body.holders,
        }))
    }

    /// Finishes an interrupted rotation: before the switch it redoes the new generation
    /// (needs the passphrase only if the KDF parameters change), after it it removes
    /// the old files.
    pub fn resume_rotation(
        &mut self,
        passphrase: Option<&Passphrase>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RotateReport, RotateError> {
        self.require_rotator()?;
        let to = pending(&self.path).ok_or(RotateError::NothingPending)?;
        if to == self.header.generation {
            // Another device's rotation to this generation, made apart from the one
            // here, whose state file the sync service kept (docs/format.md#sibling-rotations):
            // bound to its own index, not this one; what is left of it is the same
            // clean-up, of the files the state here does not name.
            // Only once that device's head of this generation is merged here: until
            // then its old heads and archives are the only copies of its changes.
            let body = match self.read_state_any(to, Side::New, None)? {
                (body, true) => body,
                (body, false)
                    if self.started_elsewhere(&body) && self.merged_head_of(&body.writer, to) =>
                {
                    if body.header.recipients != self.header.recipients {
                        // The plan of the rotation whose vault.json lost: its head
                        // holds what it merged, and its own device cleans up after it.
                        let p = self.path.join(header::rotation_file(to));
                        fsio::remove_durable(&p).map_err(vault::io_err(&p))?;
                        return Ok(self.report(&body, 0));
                    }
                    body
                }
                (_, false) => return Err(RotateError::StateMismatch(header::rotation_file(to))),
            };
            let removed = self.finish_rotation(&body)?;
            return Ok(self.report(&body, removed));
        }
        let body = self.read_state(to, Side::Old, None)?;
        let derived_new = if body.header.kdf == self.header.kdf {
            None
        } else {
            let p = passphrase.ok_or(RotateError::PassphraseNeeded)?;
            Some(body.header.kdf.derive(p)?)
        };
        let derived = match (&derived_new, &self.derived) {
            (Some(d), _) | (None, Some(d)) => d,
            (None, None) => return Err(RotateError::PassphraseNeeded),
        };
        let name = header::rotation_file(to);
        let (owner, emergency) =
            keys::unwrap_owner_key(derived, &body.vault_id, &body.header.owner_key).map_err(
                |e| match e {
                    OwnerKeyError::WrongPassphrase => RotateError::WrongPassphrase,
                    OwnerKeyError::Damaged(_) => RotateError::StateForged(name.clone()),
                },
            )?;
        if owner.recipient().to_string() != body.header.recipients.owner
            || !emergency.matches(&body.header.recipients.emergency)
        {
            return Err(RotateError::StateForged(name));
        }
        let vid = self.header.vault_id_bytes().expect("checked on open");
        let auth = emergency.auth_key(&vid);
        // Both MACs must hold: the new one proves the body goes with this owner key.
        self.read_state(to, Side::New, Some(&auth))?;
        let keys = NewKeys {
            recipients: vault::parse_recipients(&body.header.recipients)
                .ok_or_else(|| RotateError::StateForged(name.clone()))?,
            owner,
            emergency,
            auth,
        };
        self.run_rotation(&body, keys, derived_new, None, progress)
            .map_err(|(e, _)| e)
    }

    /// Undoes an interrupted rotation that has not switched yet: removes the new
    /// generation's files and the state file, and records the abort.
    /// A rotation another device started is refused (`OtherDevice`): see
    /// [`Vault::abort_another_devices_rotation`].
    pub fn abort_rotation(&mut self) -> Result<AbortReport, RotateError> {
        self.abort_rotation_of(false)
    }

    /// `abort_rotation`, also of a rotation another device started: for when that
    /// device is gone for good (it died during the rotation), which only the owner can
    /// tell (docs/format.md#sibling-rotations). If it did switch and its `vault.json`
    /// arrives later, the files it switched to are gone.
    pub fn abort_another_devices_rotation(&mut self) -> Result<AbortReport, RotateError> {
        self.abort_rotation_of(true)
    }

    fn abort_rotation_of(&mut self, other_device: bool) -> Result<AbortReport, RotateError> {
        self.require_rotator()?;
        let to = pending(&self.path).ok_or(RotateError::NothingPending)?;
        if to == self.header.generation {
            return Err(RotateError::AlreadySwitched(to));
        }
        let (body, current) = self.read_state_any(to, Side::Old, None)?;
        if !other_device && self.started_elsewhere(&body) {
            return Err(RotateError::OtherDevice {
                writer: body.writer.clone(),
                generation: to,
            });
        }
        let void = (body.header.share_set.id != self.header.share_set.id)
            .then(|| body.header.share_set.id.clone());
        let detail = match &void {
            Some(id) => format!("generation {to} discarded; its share set {id} is void"),
            None => format!("generation {to} discarded"),
        };
        // A state file older than the index (its rotation was undone and recorded, and
        // the process died before removing it; or a copy put back) can only be removed.
        let record = current.then(|| AuditEvent::new(AuditAction::VaultRotateAbort, None, detail));
        let removed = self.discard(&body, record)?;
        Ok(AbortReport {
            generation: to,
            void_share_set: void,
            removed_files: removed,
        })
    }

    /// Archives in `audit/` of this generation or an earlier one that the state no
    /// longer pins, each of whose records is among `records`: a sibling rotation's or
    /// a carried head's archive that the merge left out because another archive holds
    /// all of it (docs/format.md#sibling-rotations). The new archive holds them too, so
    /// the rotation removes them with the ones it read. One that does not open, or
    /// holds a record the state lacks, stays. At most [`MAX_UNPINNED_ARCHIVES`] are
    /// read, the first by name.
    fn covered_archives(&self, records: &[RawRecord]) -> Vec<String> {
        let pinned: Vec<&str> = self.index.archives().map(|a| a.file.as_str()).collect();
        let held: HashSet<[u8; 32]> = records
            .iter()
            .map(|(plain, _)| Sha256::digest(plain).into())
            .collect();
        let dir = self.path.join(AUDIT_DIR);
        let Ok(rd) = fs::read_dir(&dir) else {
            return vec![];
        };
        let mut unpinned: Vec<(String, u64)> = rd
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let g = audit::parse_archive_file(&name)?;
                (g <= self.header.generation && !pinned.contains(&name.as_str()))
                    .then_some((name, g))
            })
            .collect();
        unpinned.sort();
        unpinned.truncate(MAX_UNPINNED_ARCHIVES);
        unpinned
            .into_iter()
            .filter(|(name, g)| {
                let Ok(bytes) =
                    fsio::read_bounded(&dir.join(name), crate::store::MAX_ARCHIVE_BYTES)
                else {
                    return false;
                };
                let plain = if *g == self.header.generation {
                    self.decrypt_current(&bytes).ok()
                } else {
                    self.emergency_of(*g)
                        .and_then(|e| seal::decrypt(&e.identity(), &bytes).ok())
                };
                plain
                    .as_deref()
                    .and_then(|p| audit::archive_records(p))
                    .is_some_and(|list| {
                        list.iter()
                            .all(|r| held.contains(&<[u8; 32]>::from(Sha256::digest(r))))
                    })
            })
            .map(|(name, _)| name)
            .collect()
    }

    /// Whether a rotation's state was written by another writer (another device, or
    /// this folder under another path). A state file of an older baton names none.
    fn started_elsewhere(&self, body: &StateBody) -> bool {
        crate::is_lower_hex(&body.writer, 16) && body.writer != self.writer
    }

    /// Whether `writer`'s head of `generation` is among the heads the state is read
    /// from (here, and not waiting for its files).
    fn merged_head_of(&self, writer: &str, generation: u64) -> bool {
        let file = format!("{writer}.g{generation}.age");
        self.heads
            .as_ref()
            .is_some_and(|h| h.files.iter().any(|i| i.file == file))
            && !self.waiting_heads.iter().any(|w| w.file == file)
    }

    /// The whole audit log with each record's exact bytes, if its chain is intact.
    fn checked_audit(&self) -> Result<Vec<RawRecord>, RotateError> {
        let (records, problems) = self.audit_raw(&self.index);
        match problems.into_iter().next() {
            Some(p) => Err(IntegrityError::Audit(p).into()),
            None => Ok(records),
        }
    }

    fn report(&self, body: &StateBody, removed: usize) -> RotateReport {
        RotateReport {
            from_generation: body.from,
            to_generation: body.to,
            clients: self.clients().map_or(0, |c| c.len()),
            audit_records: self
                .index
                .audit_archive
                .as_ref()
                .map(|a| a.through)
                .unwrap_or(0),
            kind: body.kind(),
            changes: body.changes.clone(),
            share_set: self.header.share_set.clone(),
            emergency_rotated: body.kind().replaces_emergency(),
            removed_files: removed,
        }
    }

    /// Writes the state file, encrypted to the old and the new recipients and
    /// authenticated with both generations' auth keys.
    fn write_state(&self, body: &StateBody, keys: &NewKeys) -> Result<(), RotateError> {
        let raw = crate::crypto::secret::json_bytes(body);
        let raw = RawValue::from_string(String::from_utf8(raw.to_vec()).expect("UTF-8"))
            .expect("valid JSON");
        let env = EnvelopeOut {
            format: "baton-rotation",
            version: 1,
            mac_old: hex::encode(self.auth.mac(STATE_MAC_DOMAIN, raw.get().as_bytes())),
            mac_new: hex::encode(keys.auth.mac(STATE_MAC_DOMAIN, raw.get().as_bytes())),
            body: &raw,
        };
        let plain = crate::crypto::secret::json_bytes(&env);
        let mut to: Vec<x25519::Recipient> = self.recipients.clone();
        to.extend(keys.recipients.iter().cloned());
        let p = self.path.join(header::rotation_file(body.to));
        fsio::write_atomic(&p, &seal::encrypt(&to, &plain)).map_err(vault::io_err(&p))?;
        Ok(())
    }

    /// Reads and authenticates the state file with this vault's key (`side` says which
    /// generation that is) or with `auth` when given.
    fn read_state(
        &self,
        to: u64,
        side: Side,
        auth: Option<&AuthKey>,
    ) -> Result<StateBody, RotateError> {
        match self.read_state_any(to, side, auth)? {
            (body, true) => Ok(body),
            (_, false) => Err(RotateError::StateMismatch(header::rotation_file(to))),
        }
    }

    /// `read_state`, also returning an authentic but stale state (false).
    fn read_state_any(
        &self,
        to: u64,
        side: Side,
        auth: Option<&AuthKey>,
    ) -> Result<(StateBody, bool), RotateError> {
        let name = header::rotation_file(to);
        let forged = || RotateError::StateForged(name.clone());
        let bytes = fsio::read_bounded(&self.path.join(&name), crate::store::MAX_SHARD_BYTES)
            .map_err(|_| forged())?;
        // (With the owner key, a sibling rotation's state file opens with `E`: it is
        // encrypted to its own new keys, which share it; docs/format.md#sibling-rotations.)
        let plain = self.decrypt_current(&bytes).map_err(|_| forged())?;
        let env: EnvelopeIn = serde_json::from_slice(&plain).map_err(|_| forged())?;
        if env.format != "baton-rotation" || env.version != 1 {
            return Err(forged());
        }
        let mac = match side {
            Side::Old => &env.mac_old,
            Side::New => &env.mac_new,
        };
        let tag = hex::decode(mac).map_err(|_| forged())?;
        if !auth
            .unwrap_or(&self.auth)
            .verify(STATE_MAC_DOMAIN, env.body.get().as_bytes(), &tag)
        {
            return Err(forged());
        }
        let body: StateBody = serde_json::from_str(env.body.get()).map_err(|_| forged())?;
        if body.vault_id != self.header.vault_id
            || body.to != to
            || body.from + 1 != to
            || body.header.generation != to
            || body.header.vault_id != self.header.vault_id
        {
            return Err(forged());
        }
        // Bound to the index it was made from (before the switch) or made (after it):
        // an old copy of a state file, replayed after an abort or later writes, is stale.
        let current = match side {
            Side::Old => {
                self.header.generation == body.from
                    && self.index.revision == body.base_revision
                    && self.index.audit_head.hash == body.base_head
            }
            Side::New => {
                self.header.generation == body.to && self.index.revision == body.new_revision()
            }
        };
        Ok((body, current || auth.is_some()))
    }

    /// Writes and checks the new generation, switches to it, removes the old one. The
    /// error's flag says whether the switch had happened.
    fn run_rotation(
        &mut self,
        body: &StateBody,
        keys: NewKeys,
        derived_new: Option<DerivedKeys>,
        records: Option<Vec<RawRecord>>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<RotateReport, (RotateError, bool)> {
        let before = |e: RotateError| (e, false);
        let state_name = header::rotation_file(body.to);
        // The state lists exactly the files of the index it was made from; writes are
        // refused while it exists, so anything else means it is stale.
        let plan: HashMap<&str, &str> = body
            .files
            .iter()
            .map(|[o, n]| (o.as_str(), n.as_str()))
            .collect();
        let clients: Vec<ClientRef> = self.clients().map_err(|e| before(e.into()))?.to_vec();
        let stored: Vec<Stored> = clients
            .iter()
            .map(Stored::Client)
            .chain(self.index.catalog.iter().map(Stored::Catalog))
            .collect();
        if plan.len() != stored.len() + self.index.locator.len()
            || stored.iter().any(|f| !plan.contains_key(f.file()))
            || self
                .index
                .locator
                .iter()
                .any(|r| !plan.contains_key(r.file.as_str()))
            || body.files.iter().any(|[_, n]| !is_client_file_name(n))
        {
            return Err(before(RotateError::StateMismatch(state_name)));
        }
        let clients_dir = self.path.join(CLIENTS_DIR);
        let audit_dir = self.path.join(AUDIT_DIR);
        let total = stored.len();
        // A head of the new generation that names only files of this rotation's plan
        // is the leftover of an interrupted run of it (perhaps by another writer):
        // this run writes those files anew, so it must go first. Any other is another
        // writer's rotation: this one stops before writing anything.
        if let Ok(rd) = fs::read_dir(self.path.join(crate::store::head::HEADS_DIR)) {
            let planned: HashSet<&str> = body.files.iter().map(|[_, n]| n.as_str()).collect();
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let Some((writer, g)) = crate::store::head::parse_head_file(&name) else {
                    continue;
                };
                if g != body.to {
                    continue;
                }
                let ours = fsio::read_bounded(&e.path(), crate::store::MAX_SHARD_BYTES)
                    .ok()
                    .and_then(|b| seal::decrypt(keys.owner.identity(), &b).ok())
                    .and_then(|p| crate::store::head::HeadBody::open(&p, &keys.auth, &writer).ok())
                    .is_some_and(|h| h.index.shard_files().all(|f| planned.contains(f)));
                if !ours {
                    return Err(before(RotateError::VerifyFailed(format!(
                        "{}/{name}: another device's rotation to generation {} (let it sync, then open the vault again)",
                        crate::store::head::HEADS_DIR,
                        body.to
                    ))));
                }
                fsio::remove_durable(&e.path())
                    .map_err(vault::io_err(&e.path()))
                    .map_err(|e| before(e.into()))?;
            }
        }

        // Opened before the first write, so that syncing through it reports any
        // write-back error of the files written after (syncfs, Linux 5.8 and later).
        let batch = fsio::SyncBatch::open(&clients_dir)
            .map_err(vault::io_err(&clients_dir))
            .map_err(|e| before(e.into()))?;

        // 1. Every client file and catalog shard: check against the index, decrypt,
        // encrypt to the new recipients (a new file key), write without syncing.
        let done = AtomicUsize::new(0);
        let this = &*self;
        let vault_id = &self.index.vault_id;
        let rewritten: Vec<Rewritten> = stored
            .par_iter()
            .map(|st| -> Result<_, RotateError> {
                let plain = match st {
                    Stored::Client(c) => this.read_client_plain(c)?,
                    Stored::Catalog(r) => this.shard_plaintext(ShardKind::Catalog, vault_id, r)?,
                };
                let cipher = seal::encrypt(&keys.recipients, &plain);
                let new = plan[st.file()];
                let p = clients_dir.join(new);
                fsio::write_unsynced(&p, &cipher).map_err(vault::io_err(&p))?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(Progress {
                    phase: Phase::Encrypt,
                    done: n,
                    total,
                });
                Ok(Rewritten {
                    file: new.to_string(),
                    sha256: sha256_hex(&cipher),
                    plain_hash: Sha256::digest(&plain).into(),
                })
            })
            .collect::<Result<_, _>>()
            .map_err(before)?;

        // The locator's shards, written anew: they name the new client files. The ids
        // are unchanged, so are the shards.
        let mut new_clients = clients.clone();
        for (slot, r) in new_clients.iter_mut().zip(&rewritten) {
            (slot.file, slot.sha256) = (r.file.clone(), r.sha256.clone());
        }
        let mut groups: std::collections::BTreeMap<String, (Vec<ClientRef>, Vec<Removal>)> =
            locator::group(&new_clients)
                .into_iter()
                .map(|(k, rows)| (k, (rows, vec![])))
                .collect();
        for t in self.client_tombstones().map_err(|e| before(e.into()))? {
            groups
                .entry(locator::shard_of(&t.name))
                .or_default()
                .1
                .push(t.clone());
        }
        if !groups
            .keys()
            .eq(self.index.locator.iter().map(|r| &r.shard))
        {
            return Err(before(RotateError::StateMismatch(state_name)));
        }
        let mut labels: Vec<String> = stored.iter().map(Stored::label).collect();
        let mut rewritten = rewritten;
        for (r, (shard, (rows, removed))) in self.index.locator.iter().zip(groups) {
            let mut file = ShardFile::new(ShardKind::Locator, vault_id, &shard, rows);
            file.removed = removed;
            let plain = crate::crypto::secret::json_bytes(&file);
            let cipher = seal::encrypt(&keys.recipients, &plain);
            let new = plan[r.file.as_str()];
            let p = clients_dir.join(new);
            fsio::write_unsynced(&p, &cipher)
                .map_err(vault::io_err(&p))
                .map_err(|e| before(e.into()))?;
            labels.push(format!("locator shard {shard}"));
            rewritten.push(Rewritten {
                file: new.to_string(),
                sha256: sha256_hex(&cipher),
                plain_hash: Sha256::digest(&plain).into(),
            });
        }
        let total = rewritten.len();

        // 2. The audit log, re-encrypted as one archive that ends with this rotation's
        // record; the chain and every record's bytes stay exactly as they were.
        let records = match records {
            Some(r) => r,
            None => self.checked_audit().map_err(before)?,
        };
        let detail = format!(
            "generation {} -> {}: new {}; {} client files, {} catalog and {} locator shards and {} audit records re-encrypted",
            body.from,
            body.to,
            describe(&body.changes),
            clients.len(),
            self.index.catalog.len(),
            self.index.locator.len(),
            records.len() + 1
        );
        let chain = self.own_chain();
        let record = self.next_record(AuditEvent::new(body.kind().action(), None, detail), &now());
        let rec_plain = serde_json::to_vec(&record).expect("serializable");
        // The archive holds the legacy chain, then each writer's chain in order of its
        // id (docs/format.md#multi-writer, "Audit log"); this record ends its chain.
        let mut by_chain: std::collections::BTreeMap<&str, Vec<&[u8]>> = Default::default();
        for (p, r) in &records {
            by_chain
                .entry(r.writer.as_str())
                .or_default()
                .push(p.as_slice());
        }
        by_chain
            .entry(record.writer.as_str())
            .or_default()
            .push(rec_plain.as_slice());
        let legacy_count = by_chain.get("").map_or(0, |l| l.len() as u64);
        let chain_counts: std::collections::BTreeMap<String, u64> = by_chain
            .iter()
            .filter(|(w, _)| !w.is_empty())
            .map(|(w, l)| (w.to_string(), l.len() as u64))
            .collect();
        let archive_plain = audit::archive_plaintext(by_chain.values().flatten().copied());
        drop(by_chain);
        drop(records);
        let archive_cipher = seal::encrypt(&keys.recipients, &archive_plain);
        let archive_name = audit::archive_file_of(body.to, &body.writer);
        let archive_path = audit_dir.join(&archive_name);
        fsio::write_unsynced(&archive_path, &archive_cipher)
            .map_err(vault::io_err(&archive_path))
            .map_err(|e| before(e.into()))?;

        // 3. One batch sync for all new files instead of one round trip each, then the
        // folders.
        let mut new_paths: Vec<PathBuf> = rewritten
            .iter()
            .map(|r| clients_dir.join(&r.file))
            .collect();
        new_paths.push(archive_path.clone());
        batch
            .sync(&new_paths)
            .map_err(|(p, e)| before(vault::io_err(&p)(e).into()))?;
        for d in [&clients_dir, &audit_dir] {
            fsio::sync_dir(d)
                .map_err(vault::io_err(d))
                .map_err(|e| before(e.into()))?;
        }
        fsio::fault_point("rotate: new files synced");

        // 4. Read every new file back and decrypt it with the new key: what is on disk
        // must give back exactly the old plaintext.
        let identity = keys.owner.identity();
        let checked = AtomicUsize::new(0);
        rewritten
            .par_iter()
            .zip(labels.par_iter())
            .try_for_each(|(r, label)| {
                let bad = || RotateError::VerifyFailed(label.clone());
                let bytes = fs::read(clients_dir.join(&r.file)).map_err(|_| bad())?;
                if sha256_hex(&bytes) != r.sha256 {
                    return Err(bad());
                }
                let plain = seal::decrypt(identity, &bytes).map_err(|_| bad())?;
                if Sha256::digest(&plain).as_slice() != r.plain_hash {
                    return Err(bad());
                }
                let n = checked.fetch_add(1, Ordering::Relaxed) + 1;
                progress(Progress {
                    phase: Phase::Verify,
                    done: n,
                    total,
                });
                Ok(())
            })
            .map_err(before)?;
        let archive_ok = fs::read(&archive_path)
            .ok()
            .filter(|b| b[..] == archive_cipher[..])
            .and_then(|b| seal::decrypt(identity, &b).ok())
            .is_some_and(|p| p[..] == archive_plain[..]);
        if !archive_ok {
            return Err(before(RotateError::VerifyFailed(format!(
                "{AUDIT_DIR}/{archive_name}"
            ))));
        }

        // 5. The new index (version 3: this writer's head), written durably and read
        // back.
        let mut next = self.index.clone();
        next.generation = body.to;
        next.revision = body.new_revision();
        next.updated = record.time.clone();
        next.recipients = body.header.recipients.clone();
        next.share_set = body.header.share_set.clone();
        next.holders = body.holders.clone();
        if self.is_multi_writer() {
            next.audit = self.index.live_chains();
        }
        next.audit_head = AuditHead {
            seq: record.seq,
            hash: audit::hash(&rec_plain),
        };
        if self.is_multi_writer() {
            next.audit.insert(chain.clone(), next.audit_head.clone());
        }
        // The new archive holds every record, also those of the archives of rotations
        // to the old generation made apart (docs/format.md#sibling-rotations).
        next.audit_archives_apart.clear();
        // The shards of generation `from` this rotation retires (and those of earlier
        // generations it keeps), in its head as well:
        // if another device rotated to this generation apart and its vault.json wins,
        // this header's copy may never reach every device (docs/format.md#sibling-rotations).
        next.retired_apart = vault::retired_in(&body.header, &keys.emergency)
            .into_iter()
            .map(|(generation, shards)| crate::store::index::RetiredShards { generation, shards })
            .collect();
        next.audit_archive = Some(AuditArchive {
            file: archive_name,
            through: legacy_count,
            sha256: sha256_hex(&archive_cipher),
            chains: chain_counts,
        });
        let mut fresh = rewritten.into_iter().skip(clients.len());
        for slot in next.catalog.iter_mut().chain(next.locator.iter_mut()) {
            let r = fresh.next().expect("one per file");
            (slot.file, slot.sha256) = (r.file, r.sha256);
        }
        drop(stored);
        let multi = self.is_multi_writer();
        let state = self.heads.clone().unwrap_or_default();
        let head_body = crate::store::head::HeadBody {
            index: next.clone(),
            writer: self.writer.clone(),
            seen: state.seen.clone().with(&self.writer, next.revision),
            settings_ver: state.settings_ver.clone(),
            deferred: vec![],
            branches: vec![],
        };
        let (sealed, name) = if multi {
            let dir = self.path.join(crate::store::head::HEADS_DIR);
            if !dir.is_dir() {
                fs::create_dir(&dir)
                    .map_err(vault::io_err(&dir))
                    .map_err(|e| before(e.into()))?;
            }
            (
                head_body.seal(&keys.auth),
                crate::store::head::head_file(&self.writer, body.to),
            )
        } else {
            (next.seal(&keys.auth), header::index_file(body.to))
        };
        let ip = self.path.join(&name);
        let bytes = seal::encrypt(&keys.recipients, &sealed);
        if multi {
            // As for every head this machine writes (docs/format.md#carry-over).
            self.remember_own_head(body.to, next.revision, &bytes);
        }
        fsio::write_atomic(&ip, &bytes)
            .map_err(vault::io_err(&ip))
            .map_err(|e| before(e.into()))?;
        let plain = fs::read(&ip)
            .ok()
            .and_then(|b| seal::decrypt(identity, &b).ok());
        let index_ok = plain
            .and_then(|p| match multi {
                true => crate::store::head::HeadBody::open(&p, &keys.auth, &self.writer)
                    .ok()
                    .map(|h| h.index),
                false => IndexBody::open(&p, &keys.auth).ok(),
            })
            .is_some_and(|ix| {
                ix.revision == next.revision
                    && ix.locator == next.locator
                    && ix.catalog == next.catalog
            });
        if !index_ok {
            return Err(before(RotateError::VerifyFailed(name)));
        }

        // 6. The switch: one atomic replace of vault.json.
        let hp = self.path.join(HEADER_FILE);
        if let Err(e) = write_header_file(&self.path, &body.header) {
            // The rename may have happened before the error (a failed folder sync):
            // then this is the new generation, and only `--resume` may continue.
            let switched =
                vault::read_header_only(&self.path).is_ok_and(|h| h.generation == body.to);
            return Err((vault::io_err(&hp)(e).into(), switched));
        }
        fsio::fault_point("rotate: switched");
        self.header = body.header.clone();
        self.recipients = keys.recipients;
        self.key = Key::Owner(keys.owner);
        self.emergency = keys.emergency;
        self.auth = keys.auth;
        self.index = next;
        self.located = new_clients.into();
        if multi {
            let file = crate::store::head::head_file(&self.writer, body.to);
            let file = file.rsplit('/').next().unwrap_or_default().to_string();
            self.heads = Some(crate::vault::HeadState {
                files: vec![crate::vault::HeadInfo::of(&file, &head_body)],
                seen_all: head_body.seen.clone(),
                seen: head_body.seen,
                settings_ver: head_body.settings_ver,
            });
        }
        if derived_new.is_some() {
            self.derived = derived_new;
        }

        // 7. Remove the old generation.
        let removed = self.finish_rotation(body).map_err(|e| (e, true))?;
        Ok(self.report(body, removed))
    }

    /// After the switch: removes every file of the old generation, then the state file.
    /// Safe to repeat.
    fn finish_rotation(&self, body: &StateBody) -> Result<usize, RotateError> {
        let clients_dir = self.path.join(CLIENTS_DIR);
        let audit_dir = self.path.join(AUDIT_DIR);
        let named = self.named_files_settling();
        let mut old: Vec<PathBuf> = body
            .files
            .iter()
            .map(|[o, _]| o)
            .chain(&body.kept)
            .filter(|o| is_client_file_name(o) && !named.contains(o.as_str()))
            .map(|o| clients_dir.join(o))
            .collect();
        // This writer's own leftovers (docs/format.md#writers): files it wrote that no
        // index names, from a write or purge that was interrupted. Another device's
        // unnamed files may be its change still syncing, and are left alone.
        // Only with the index's own list of names (never the fallback of a damaged
        // locator), never a file of this rotation, and only when no other state of the
        // vault is in the folder (Vault::no_other_states).
        let new_files: HashSet<&str> = body.files.iter().map(|[_, n]| n.as_str()).collect();
        if let Ok(indexed) = self.named_files()
            && self.no_other_states(Some(body.from))
            && let Ok(rd) = fs::read_dir(&clients_dir)
        {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if crate::sync::writer::written_by(&name, &self.writer)
                    && !indexed.contains(name.as_str())
                    && !named.contains(name.as_str())
                    && !new_files.contains(name.as_str())
                    && !old.contains(&e.path())
                {
                    old.push(e.path());
                }
            }
        }
        // Audit files of earlier generations: records the archive now holds, their
        // interrupted-write leftovers, and older archives.
        // (An archive of this generation stays: it is this rotation's, or one made apart
        // on another device, docs/format.md#sibling-rotations.)
        let archived = |chain: &str| self.index.archived(chain);
        if let Ok(rd) = fs::read_dir(&audit_dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let base = name
                    .split_once(".interrupted-")
                    .map_or(name.as_str(), |x| x.0);
                let old_record = audit::parse_chain_record_file(base)
                    .is_some_and(|(chain, s)| s <= archived(&chain));
                let old_archive = audit::parse_archive_file(&name)
                    .is_some_and(|g| g < self.header.generation)
                    && body
                        .archives
                        .as_ref()
                        .is_none_or(|read| read.contains(&name));
                if old_record || old_archive {
                    old.push(e.path());
                }
            }
        }
        old.push(self.path.join(header::index_file(body.from)));
        // The old generation's heads this rotation merged, unchanged since: the new
        // head covers them. Another (one that arrived, or went on, meanwhile) stays.
        for [file, sha] in &body.old_heads {
            let p = self.path.join(crate::store::head::HEADS_DIR).join(file);
            let same = fsio::read_bounded(&p, crate::store::MAX_SHARD_BYTES)
                .is_ok_and(|b| sha256_hex(&b) == *sha);
            if same
                && crate::store::head::parse_head_file(file).is_some_and(|(_, g)| g == body.from)
            {
                old.push(p);
            }
        }
        // Names of the old generation only, in parallel (the folder is synced once
        // after). unlink(2) never follows a symlink; a planted folder (which unlink
        // refuses) is left alone; one failure does not stop the rest.
        let outcomes: Vec<Result<bool, RotateError>> = old
            .into_par_iter()
            .map(|p| {
                // The crash point comes before the change, as in fsio::write_unsynced:
                // parallel work that a crash test lets run on must stop before it.
                fsio::fault_point("rotate: removing old file");
                match fs::remove_file(&p) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(_) if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) => Ok(false),
                    Err(e) => Err(RotateError::Io { path: p, source: e }),
                }
            })
            .collect();
        let mut removed = 0;
        for o in outcomes {
            removed += usize::from(o?);
        }
        for d in [&clients_dir, &audit_dir, &self.path] {
            fsio::sync_dir(d).map_err(vault::io_err(d))?;
        }
        fsio::fault_point("rotate: old generation removed");
        let sp = self.path.join(header::rotation_file(body.to));
        fsio::remove_durable(&sp).map_err(vault::io_err(&sp))?;
        self.remove_temp_files();
        Ok(removed)
    }

    /// Before the switch: removes what the rotation wrote, then the state file.
    /// The files the index names, as a safety net for settling a rotation: the names in
    /// a state file are fresh random ones, so a locator shard that cannot be read (the
    /// vault needs restoring anyway) must not keep `--abort` or `--resume` from
    /// finishing while every write is held back.
    fn named_files_settling(&self) -> HashSet<String> {
        match self.named_files() {
            Ok(named) => named,
            Err(_) => self.index.shard_files().map(str::to_string).collect(),
        }
    }

    /// `record`, if given, is committed after the new files are gone and before the
    /// state file is: a copy of the state file then no longer matches the index.
    fn discard(
        &mut self,
        body: &StateBody,
        record: Option<AuditEvent>,
    ) -> Result<usize, RotateError> {
        // Never undo a generation that vault.json already names.
        match vault::read_header_only(&self.path) {
            Ok(h) if h.generation == body.from => {}
            _ => return Err(RotateError::AlreadySwitched(body.to)),
        }
        let clients_dir = self.path.join(CLIENTS_DIR);
        let named = self.named_files_settling();
        let mut removed = 0;
        let mut targets: Vec<PathBuf> = body
            .files
            .iter()
            .filter(|[_, new]| is_client_file_name(new) && !named.contains(new.as_str()))
            .map(|[_, new]| clients_dir.join(new))
            .collect();
        targets.push(self.path.join(header::index_file(body.to)));
        targets.push(
            self.path
                .join(AUDIT_DIR)
                .join(audit::archive_file_of(body.to, &body.writer)),
        );
        // The new generation's head of the writer that started this rotation and of
        // this one (which may have resumed it); another writer's is its own rotation.
        for w in [&body.writer, &self.writer] {
            if crate::is_lower_hex(w, 16) {
                targets.push(self.path.join(crate::store::head::head_file(w, body.to)));
            }
        }
        // A head of the new generation written by a third writer that resumed this
        // rotation: recognised by naming only files of its plan, where the owner's
        // keys can read it (the new owner key, unwrapped as `resume` does).
        if let Some(d) = &self.derived
            && let Ok((owner, emergency)) =
                keys::unwrap_owner_key(d, &body.vault_id, &body.header.owner_key)
            && let Some(vid) = self.header.vault_id_bytes()
            && let Ok(rd) = fs::read_dir(self.path.join(crate::store::head::HEADS_DIR))
        {
            let auth = emergency.auth_key(&vid);
            let planned: HashSet<&str> = body.files.iter().map(|[_, n]| n.as_str()).collect();
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let Some((writer, g)) = crate::store::head::parse_head_file(&name) else {
                    continue;
                };
                let this_rotation = g == body.to
                    && fsio::read_bounded(&e.path(), crate::store::MAX_SHARD_BYTES)
                        .ok()
                        .and_then(|b| seal::decrypt(owner.identity(), &b).ok())
                        .and_then(|p| crate::store::head::HeadBody::open(&p, &auth, &writer).ok())
                        .is_some_and(|h| h.index.shard_files().all(|f| planned.contains(f)));
                if this_rotation && !targets.contains(&e.path()) {
                    targets.push(e.path());
                }
            }
        }
        for p in targets {
            match fs::remove_file(&p) {
                Ok(()) => {
                    fsio::fault_point("rotate: new file removed");
                    removed += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RotateError::Io { path: p, source: e }),
            }
        }
        for d in [
            clients_dir,
            self.path.join(AUDIT_DIR),
            self.path.to_path_buf(),
        ] {
            fsio::sync_dir(&d).map_err(vault::io_err(&d))?;
        }
        if let Some(r) = record {
            self.commit_settling_rotation(r)?;
        }
        let sp = self.path.join(header::rotation_file(body.to));
        fsio::remove_durable(&sp).map_err(vault::io_err(&sp))?;
        self.remove_temp_files();
        Ok(removed)
    }
}

impl Vault {
    /// Sets the rotation schedule (months between rotations, 0 for none), kept in
    /// `vault.json` (see `change_settings` for the order of header and record).
    pub fn set_rotation_interval(&mut self, months: u32) -> Result<(), VaultError> {
        self.change_settings(crate::vault::changes::SettingsChange {
            rotate_every_months: Some(months),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{Access, InitOptions};

    /// A state body as a rotation of `kind` writes it, as JSON.
    fn body_json(kind: RotationKind, changes: &[&str]) -> serde_json::Value {
        let dir = tempfile::tempdir().unwrap();
        let v = crate::vault::test_vault(&dir.path().join("v"), "correct horse battery staple");
        let body = StateBody {
            vault_id: v.header.vault_id.clone(),
            from: 1,
            to: 2,
            started: now(),
            kind: Some(kind),
            changes: changes.iter().map(|c| c.to_string()).collect(),
            header: v.header.clone(),
            holders: v.index.holders.clone(),
            files: vec![],
            kept: vec![],
            old_heads: vec![],
            archives: None,
            writer: String::new(),
            base_revision: v.index.revision,
            base_head: v.index.audit_head.hash.clone(),
            new_revision: None,
        };
        serde_json::to_value(&body).unwrap()
    }

    fn parse(v: &serde_json::Value) -> StateBody {
        serde_json::from_value(v.clone()).unwrap()
    }

    #[test]
    fn the_kind_is_written_and_read_back() {
        for kind in [
            RotationKind::Plain,
            RotationKind::Emergency,
            RotationKind::Takeover,
        ] {
            let v = body_json(kind, &["owner key"]);
            let label = serde_json::to_value(kind).unwrap();
            assert_eq!(v["kind"], label);
            // The typed field decides, whatever the words say.
            assert_eq!(parse(&v).kind(), kind);
        }
        assert_eq!(
            serde_json::to_value(RotationKind::Takeover).unwrap(),
            "takeover"
        );
        let v = body_json(RotationKind::Plain, &[TAKEOVER_CHANGE, "emergency key (x)"]);
        assert_eq!(parse(&v).kind().action(), AuditAction::VaultRotate);
    }

    #[test]
    fn state_files_without_a_kind_are_read_from_their_changes() {
        let legacy = |changes: &[&str]| {
            let mut v = body_json(RotationKind::Plain, changes);
            v.as_object_mut().unwrap().remove("kind");
            parse(&v).kind()
        };
        assert_eq!(
            legacy(&[
                "owner key and passphrase (takeover)",
                "emergency key (share set 1a2b: 2 of anna, ben)",
                "key derivation (argon2id m=65536 KiB t=3 p=4)"
            ]),
            RotationKind::Takeover
        );
        assert_eq!(
            legacy(&[
                "owner key",
                "emergency key (share set 1a2b: 2 of anna, ben)"
            ]),
            RotationKind::Emergency
        );
        assert_eq!(
            legacy(&[
                "owner key",
                "key derivation (argon2id m=131072 KiB t=3 p=4)"
            ]),
            RotationKind::Plain
        );
    }

    #[test]
    fn the_kind_decides_action_and_share_set() {
        assert_eq!(RotationKind::Takeover.action(), AuditAction::VaultTakeover);
        assert_eq!(RotationKind::Emergency.action(), AuditAction::VaultRotate);
        assert_eq!(RotationKind::Plain.action(), AuditAction::VaultRotate);
        assert!(RotationKind::Takeover.replaces_emergency());
        assert!(RotationKind::Emergency.replaces_emergency());
        assert!(!RotationKind::Plain.replaces_emergency());
    }

    #[test]
    fn a_rotation_reports_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let pass = Passphrase::new("correct horse battery staple".into());
        let policy = Policy::single(vec!["anna".into(), "ben".into()], 2);
        Vault::init(
            &path,
            &pass,
            InitOptions {
                policy: policy.clone(),
                kdf: KdfParams::insecure_test(),
            },
            |_, _| Ok(()),
        )
        .unwrap();
        let mut v = Vault::open(&path, &pass, Access::Write).unwrap();
        let r = v
            .rotate(RotateOptions::default(), None, |_, _| Ok(()), &|_| {})
            .unwrap();
        assert_eq!((r.kind, r.emergency_rotated), (RotationKind::Plain, false));
        let opts = RotateOptions {
            emergency: Some(policy.clone()),
            kdf: None,
        };
        let mut new_e = None;
        let r = v
            .rotate(
                opts,
                None,
                |h, shares| {
                    let mut c = emergency::Collector::new(
                        &h.vault_id,
                        &h.share_set,
                        &h.recipients.emergency,
                    );
                    for s in shares {
                        c.add(s.mnemonic.expose_words())
                            .map_err(|e| e.to_string())?;
                    }
                    new_e = Some(c.combine().map_err(|e| e.to_string())?);
                    Ok(())
                },
                &|_| {},
            )
            .unwrap();
        assert_eq!(
            (r.kind, r.emergency_rotated),
            (RotationKind::Emergency, true)
        );
        drop(v);
        let mut v = Vault::open_emergency(&path, &new_e.unwrap(), Access::Write).unwrap();
        let r = v
            .take_over(
                &pass,
                KdfParams::insecure_test(),
                policy,
                |_, _| Ok(()),
                &|_| {},
            )
            .unwrap();
        assert_eq!(r.kind, RotationKind::Takeover);
        let last = v.audit_log().0.pop().unwrap();
        assert_eq!(last.action, AuditAction::VaultTakeover);
        assert!(last.detail.contains(TAKEOVER_CHANGE), "{}", last.detail);
    }
}

/// The steps of docs/format.md#rotation, one rule at a time.
#[cfg(test)]
mod step_tests {
    use std::path::Path;

    use super::*;

    const PASS: &str = "rotation unit test";

    fn vault(dir: &Path) -> Vault {
        crate::vault::test_vault(&dir.join("v"), PASS)
    }

    /// The keys and the state file of a rotation of `v` to the next generation, as
    /// step 3 of docs/format.md#rotation writes it (with no files to re-encrypt).
    fn start(v: &Vault) -> (StateBody, NewKeys) {
        let owner = OwnerIdentity::generate();
        let emergency = EmergencySecret::generate();
        let recipients = Recipients {
            owner: owner.recipient().to_string(),
            emergency: emergency.identity().to_public().to_string(),
        };
        let keys = NewKeys {
            auth: emergency.auth_key(&v.header.vault_id_bytes().unwrap()),
            recipients: vault::parse_recipients(&recipients).unwrap(),
            owner,
            emergency,
        };
        let mut header = v.header.clone();
        header.generation += 1;
        header.recipients = recipients;
        let body = StateBody {
            vault_id: v.header.vault_id.clone(),
            from: v.header.generation,
            to: header.generation,
            started: now(),
            kind: Some(RotationKind::Plain),
            changes: vec!["owner key".into()],
            header,
            holders: v.index.holders.clone(),
            files: vec![],
            kept: vec![],
            old_heads: vec![],
            archives: None,
            writer: String::new(),
            base_revision: v.index.revision,
            base_head: v.index.audit_head.hash.clone(),
            new_revision: None,
        };
        v.write_state(&body, &keys).unwrap();
        (body, keys)
    }

    fn settling_record() -> AuditEvent {
        AuditEvent::new(
            AuditAction::VaultRotateAbort,
            None,
            "generation 2 discarded",
        )
    }

    /// The state file is bound to the index it was made from: once a record is
    /// committed on top (an abort's), it is stale, so `--resume` refuses it and
    /// `--abort` removes it without recording anything more (docs/format.md#rotation).
    #[test]
    fn the_state_file_is_bound_to_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        start(&v);
        assert_eq!(pending(&v.path), Some(2));
        let (_, current) = v.read_state_any(2, Side::Old, None).unwrap();
        assert!(current);
        assert!(v.pending_rotation().unwrap().is_some());

        v.commit_settling_rotation(settling_record()).unwrap();
        let (_, current) = v.read_state_any(2, Side::Old, None).unwrap();
        assert!(!current, "a state older than the index is stale");
        let e = v.resume_rotation(None, &|_| {}).unwrap_err();
        assert!(matches!(e, RotateError::StateMismatch(_)), "{e:?}");
        assert!(matches!(
            v.pending_rotation(),
            Err(RotateError::StateMismatch(_))
        ));
        let head = v.index.audit_head.seq;
        v.abort_rotation().unwrap();
        assert_eq!(pending(&v.path), None);
        assert_eq!(
            v.index.audit_head.seq, head,
            "a stale state's abort records nothing"
        );
        assert!(matches!(
            v.abort_rotation(),
            Err(RotateError::NothingPending)
        ));
    }

    /// Each side of the switch checks its own MAC: before it the old generation's key,
    /// after it the new one's, and neither key passes for the other side.
    #[test]
    fn the_state_file_needs_the_mac_of_its_side() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        let (_, keys) = start(&v);
        assert!(v.read_state(2, Side::Old, None).is_ok());
        assert!(v.read_state(2, Side::New, Some(&keys.auth)).is_ok());
        let forged =
            |r: Result<StateBody, RotateError>| matches!(r, Err(RotateError::StateForged(_)));
        assert!(forged(v.read_state(2, Side::New, None)));
        assert!(forged(v.read_state(2, Side::Old, Some(&keys.auth))));
        // A state file under another generation's name is refused too.
        fs::rename(
            v.path.join(header::rotation_file(2)),
            v.path.join(header::rotation_file(3)),
        )
        .unwrap();
        assert!(forged(v.read_state(3, Side::Old, None)));
    }

    /// An undo re-reads vault.json and refuses once it names the new generation (an
    /// error after the switch's rename): then only `--resume` may continue.
    #[test]
    fn an_undo_refuses_a_switched_vault() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let (body, _) = start(&v);
        let revision = v.index.revision;
        write_header_file(&v.path, &body.header).unwrap();
        let e = v.abort_rotation().unwrap_err();
        assert!(matches!(e, RotateError::AlreadySwitched(2)), "{e:?}");
        assert_eq!(pending(&v.path), Some(2), "nothing was undone");
        // And the failure path of a rotation refuses the same way.
        let e = v.discard(&body, Some(settling_record())).unwrap_err();
        assert!(matches!(e, RotateError::AlreadySwitched(2)), "{e:?}");
        assert_eq!(v.index.revision, revision, "nothing was recorded");
    }

    #[test]
    fn pending_names_the_highest_state_file_only() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(pending(dir.path()), None);
        for name in [
            "rotation.g2.age",
            "rotation.g10.age",
            "rotation.g07.age",
            "rotation.g3.age.tmp",
        ] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(pending(dir.path()), Some(10));
        assert_eq!(pending(&dir.path().join("missing")), None);
    }
}
