//! Integrity problems found in a vault's files (docs/threat-model.md).

use crate::audit::AuditProblem;
use crate::store::shard::ShardKind;

/// A problem with the integrity of the vault's files. Each variant names what is
/// affected (docs/threat-model.md).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntegrityError {
    #[error("the index file {0} is missing")]
    IndexMissing(String),
    #[error(
        "the writer heads of generation {0} are missing from heads/ (deleted, or not yet synced)"
    )]
    NoHead(u64),
    #[error("the writer head {file} was refused: {reason}")]
    HeadRefused { file: String, reason: String },
    /// docs/format.md#forked-writers
    #[error(
        "writer {writer} ({file}) made changes under numbers another device had already seen from it, as after restoring its folder from a backup: both histories are shown; check that device's recent changes"
    )]
    WriterForked { writer: String, file: String },
    #[error("the index cannot be decrypted (damaged, or not encrypted to this vault's keys)")]
    IndexUnreadable,
    #[error("the index failed authentication: it was replaced or altered")]
    IndexForged,
    #[error("the index does not match vault.json ({0})")]
    IndexMismatch(&'static str),
    #[error("the index has format version {0}, written by a development build of baton before 0.1")]
    IndexVersion(u32),
    #[error("the {kind}'s shard {shard} file {file} is missing (deleted, or not synced yet)")]
    ShardMissing {
        kind: ShardKind,
        shard: String,
        file: String,
    },
    #[error("the {kind}'s shard {shard} was replaced, altered or cannot be decrypted")]
    ShardDamaged { kind: ShardKind, shard: String },
    #[error("the catalog does not list exactly the clients the index names")]
    CatalogMismatch,
    #[error("vault.json names recipients that do not belong to this key (header altered)")]
    HeaderRecipients,
    #[error("client '{client}': its file {file} is missing (deleted, or not synced yet)")]
    ClientMissing { client: String, file: String },
    #[error("client '{client}': its file was replaced, swapped or rolled back")]
    ClientModified { client: String },
    #[error("client '{client}': its file cannot be decrypted or parsed")]
    ClientUnreadable { client: String },
    #[error("client '{client}': its file belongs to another client or vault")]
    ClientMismatch { client: String },
    #[error(transparent)]
    Audit(#[from] AuditProblem),
    #[error(
        "{missing} audit record(s) are missing and files of generation {generation} are here: a rotation made on another device is still arriving (its vault.json not yet); run again when the sync is done (if this stays, the records were deleted)"
    )]
    RotationArriving { generation: u64, missing: usize },
    #[error(
        "the index was rolled back: it ends the audit log at record {head}, but records up to {last} exist"
    )]
    RolledBack { head: u64, last: u64 },
    #[error(
        "the vault was rolled back: it is at revision {revision}, but this machine has seen revision {seen}"
    )]
    VaultRolledBack { revision: u64, seen: u64 },
    #[error("{0}/ in the vault is not a plain folder (symlink or file)")]
    NotADirectory(&'static str),
    #[error(
        "{file} is a sync service's conflicted copy of {original}: another device's version, whose changes are not in this vault"
    )]
    ConflictCopy { file: String, original: String },
    #[error("{file} in the vault folder was not written by baton")]
    UnknownFile { file: String },
    #[error(
        "{file} is an index or head of generation {generation}, not of the current generation {current}: left by an interrupted rotation, or written by a device that still used the old keys, and this vault has no key to carry it over (rotated by an older baton, or from a generation whose key the vault no longer keeps): its changes are only there; make them again under the new keys, then move the file out"
    )]
    OtherGeneration {
        file: String,
        generation: u64,
        current: u64,
    },
    #[error(
        "{file} holds changes a device made under the keys of generation {generation} after the rotation: they are shown, and the next write carries them over (docs/format.md#carry-over)"
    )]
    StrandedHead { file: String, generation: u64 },
    #[error(
        "{file} holds changes another device made under the keys of generation {generation} after a rotation that replaced the emergency key: only that device carries them over, on its next change; until then they are not shown here (docs/format.md#carry-over)"
    )]
    StrandedForItsDevice { file: String, generation: u64 },
    #[error(
        "{file} claims to hold this machine's changes under the keys of generation {generation}, but it is not the head this machine wrote there: it was written by someone who holds the replaced keys (this machine keeps the fingerprint of every head it writes); it is not carried over, and no change is written in this folder over it"
    )]
    StrandedNotOwn { file: String, generation: u64 },
}

impl IntegrityError {
    /// The client this problem is about, if any.
    pub fn client(&self) -> Option<&str> {
        match self {
            IntegrityError::ClientMissing { client, .. }
            | IntegrityError::ClientModified { client }
            | IntegrityError::ClientUnreadable { client }
            | IntegrityError::ClientMismatch { client } => Some(client),
            _ => None,
        }
    }
}
