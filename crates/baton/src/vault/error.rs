//! The errors of vault operations.

use std::io;
use std::path::{Path, PathBuf};

use crate::crypto::kdf::KdfError;
use crate::emergency::{PolicyError, ShareSetError};

use crate::store::IntegrityError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    #[error("no vault at {0} (vault.json not found)")]
    NotAVault(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("vault.json is not a valid baton header ({0})")]
    BadHeader(String),
    #[error("vault format version {0} is not supported by this baton")]
    UnsupportedVersion(u32),
    #[error(transparent)]
    Kdf(#[from] KdfError),
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The passphrase opens the other header of two rotations to this generation made
    /// apart, whose passphrase or Argon2id settings differ (a `passwd` or `rotate --kdf`
    /// on one side after them): the vault opens with the kept header's passphrase
    /// (docs/format.md#sibling-rotations).
    #[error(
        "this passphrase opens the other vault.json of two key rotations to generation {0} made apart on two devices, the one the sync service did not keep; the vault opens with the passphrase of the vault.json it kept"
    )]
    PassphraseNotKept(u64),
    #[error("the owner key in vault.json is damaged or was tampered with ({0})")]
    OwnerKeyDamaged(&'static str),
    #[error("this key is not the vault's emergency key")]
    WrongEmergencyKey,
    #[error("the vault is locked by another baton process")]
    Locked,
    /// Another process is rotating the keys now (it holds the lock and its state file
    /// exists): not an interrupted rotation, nothing to settle.
    #[error("a rotation to generation {0} is in progress; try again when it finishes")]
    RotationRunning(u64),
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    #[error("{0} already exists and is not empty")]
    NotEmpty(PathBuf),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Kdf(#[from] KdfError),
    #[error("emergency split failed: {0}")]
    Split(#[from] ShareSetError),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("the shares could not be handed out ({0}); nothing was created")]
    Delivery(String),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error("no client '{0}'")]
    UnknownClient(String),
    #[error("client '{0}' already exists")]
    ClientExists(String),
    #[error("client '{client}' has no entry '{entry}'")]
    UnknownEntry { client: String, entry: String },
    #[error("client '{client}' already has an entry '{entry}'")]
    EntryExists { client: String, entry: String },
    #[error(
        "'{0}' is not a valid name (1-64 characters a-z 0-9 . _ -, starting with a letter or digit)"
    )]
    InvalidId(String),
    #[error("invalid value: {what} must be at most {max} bytes without control characters")]
    BadText { what: String, max: usize },
    #[error("invalid value: {0}")]
    BadTotp(#[source] crate::otp::TotpError),
    #[error("invalid value: password must be at most 4096 bytes")]
    PasswordTooLong,
    #[error("invalid value: '{0}' is not a date (YYYY-MM-DD)")]
    BadDate(String),
    #[error("invalid value: client '{0}' has not ended")]
    NotEnded(String),
    #[error("invalid value: retention above 100 years")]
    RetentionTooLong,
    #[error("invalid value: attachment name '{0}' is not a plain file name")]
    BadAttachmentName(String),
    #[error("invalid value: attachment is larger than {0} KiB")]
    AttachmentTooLarge(usize),
    #[error(
        "invalid value: entry '{entry}' already has an attachment whose name differs from '{name}' only in case"
    )]
    AttachmentCaseClash { entry: String, name: String },
    #[error(
        "invalid value: entry '{entry}' already has an attachment '{name}' (use --force to replace it)"
    )]
    AttachmentExists { entry: String, name: String },
    #[error("invalid value: entry '{entry}' has no attachment '{name}'")]
    UnknownAttachment { entry: String, name: String },
    #[error("invalid value: one change names client '{0}' twice")]
    ClientTwice(String),
    #[error("invalid value: rotation interval above 120 months")]
    RotationIntervalTooLong,
    #[error("invalid value: '{0}' does not hold a share of this vault")]
    NotAHolder(String),
    #[error("invalid value: the policy has {0} groups: say which one the holder joins")]
    GroupNeeded(usize),
    #[error("invalid value: the kit could not be written ({0}); nothing was changed")]
    KitNotWritten(String),
    #[error("invalid value: a KeePass export is locked with a password, not with recipients")]
    KdbxNeedsPassword,
    #[error("invalid value: {0}")]
    Package(String),
    #[error("invalid value: {0}")]
    BadRecipient(String),
    #[error("the vault was opened read-only")]
    ReadOnly,
    #[error(
        "this folder is an older copy of the vault: the copy in {} has {behind} more change(s), so nothing is written here",
        newer.display()
    )]
    OlderCopy {
        newer: std::path::PathBuf,
        behind: u64,
    },
    #[error("only the owner can do this")]
    OwnerOnly,
    #[error("client '{client}' is under a legal hold ({reason})")]
    LegalHold { client: String, reason: String },
    #[error(
        "a rotation to generation {0} was interrupted; no other change is possible until it is finished or undone"
    )]
    RotationPending(u64),
    /// The audit log is damaged: no record is chained onto it
    /// (`Vault::check_chain_for_write`).
    #[error("the audit log is broken ({0}); no change is written on top of it")]
    BrokenAuditLog(#[source] crate::audit::AuditProblem),
    /// Audit records are missing while files of a later generation are here: another
    /// device's rotation is still syncing (docs/format.md#rotation-arriving).
    #[error(
        "a rotation to generation {0} made on another device is still arriving (some of its files are here, others not yet: its vault.json, or the audit archive that holds the records it removed); no change is written until it is complete"
    )]
    RotationArriving(u64),
    /// An item with versions from different devices cannot change before the owner
    /// resolves it (docs/format.md#merge).
    #[error("client '{client}': {source}")]
    InConflict {
        client: String,
        #[source]
        source: crate::sync::StampError,
    },
    /// A resolution that does not fit the conflict (docs/format.md#merge); `target` is
    /// `CLIENT` or `CLIENT/ENTRY`.
    #[error("{target}: {source}")]
    Resolve {
        target: String,
        #[source]
        source: crate::sync::ResolveError,
    },
    /// This folder's own latest head cannot be read (a file it names is gone), so a
    /// new change, which would supersede it, is refused.
    #[error(
        "this folder's own latest changes ({file}) cannot be read: {missing} is missing, so no change is written over them"
    )]
    OwnHeadIncomplete { file: String, missing: String },
    /// The head in this folder's own name cannot be read with this vault's keys (for
    /// example another device's rotation to this generation that replaced the
    /// emergency key won the sync race against this folder's own rotation), so a new
    /// change, whose head would replace that file, is refused
    /// (docs/format.md#sibling-rotations).
    #[error(
        "this folder's own latest changes ({file}) cannot be read with this vault's keys ({reason}), so no change is written over them"
    )]
    OwnHeadUnreadable { file: String, reason: String },
    /// Another device's head holds later records of this folder's own audit chain
    /// than the state and waits for a file, so a new change, which would take their
    /// numbers, is refused until it is here.
    #[error(
        "changes this folder made are held by another device's latest changes ({file}), which cannot be read yet: {missing} is missing (still syncing, or deleted), so no change is written until it is here"
    )]
    OwnChangesArriving { file: String, missing: String },
    /// No head of this writer is in the folder (`forget_writer`).
    #[error("no writer '{0}' has a head in this vault folder")]
    UnknownWriter(String),
    #[error("'{0}' is this folder's own writer; only another folder's can be forgotten")]
    OwnWriter(String),
    /// The writer's latest head is not included in this state yet.
    #[error("writer {0}'s latest changes have not all arrived here, so it is not forgotten")]
    WriterNotMerged(String),
    #[error("the vault was rotated to generation {0} while this command read it")]
    RotatedMeanwhile(u64),
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    #[error(transparent)]
    Kdf(#[from] KdfError),
    #[error(transparent)]
    ShareSet(#[from] ShareSetError),
    #[error("cannot access {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Attaches the path to an I/O error; `?` turns the pair into the caller's error type.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> (PathBuf, io::Error) + '_ {
    move |source| (path.to_path_buf(), source)
}

impl From<(PathBuf, io::Error)> for UnlockError {
    fn from((path, source): (PathBuf, io::Error)) -> Self {
        UnlockError::Io { path, source }
    }
}

impl From<(PathBuf, io::Error)> for InitError {
    fn from((path, source): (PathBuf, io::Error)) -> Self {
        InitError::Io { path, source }
    }
}

impl From<(PathBuf, io::Error)> for VaultError {
    fn from((path, source): (PathBuf, io::Error)) -> Self {
        VaultError::Io { path, source }
    }
}
