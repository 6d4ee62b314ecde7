//! Opening, reading and changing a vault (docs/format.md#opening, #writes).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::x25519;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::audit::{self, AUDIT_DIR, AuditEvent, AuditHead, AuditProblem, AuditRecord};
use crate::client::{ClientFile, ClientRef, ClientSummary};
use crate::emergency::{self, Holder, HolderShare, Policy, PolicyError, ShareSetError};
use crate::fsio::{self, WriteLock};
use crate::header::{self, HEADER_FILE, Header, Recipients};
use crate::index::{IndexBody, IndexError};
use crate::kdf::{DerivedKeys, KdfError, KdfParams};
use crate::keys::{self, AuthKey, EmergencySecret, OwnerIdentity, OwnerKeyError};
use crate::seal;
use crate::secret::Passphrase;
use crate::shard::{ShardFile, ShardKind, ShardRef};
use crate::{catalog, locator};

pub const CLIENTS_DIR: &str = "clients";

/// An audit record with the exact plaintext its hash is taken over.
pub(crate) type RawRecord = (Zeroizing<Vec<u8>>, AuditRecord);

/// The current time as RFC 3339, seconds precision, UTC.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    now()[..10].to_string()
}

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

/// A problem with the integrity of the vault's files. Each variant names what is
/// affected (docs/threat-model.md).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntegrityError {
    #[error("the index file {0} is missing")]
    IndexMissing(String),
    #[error("the index cannot be decrypted (damaged, or not encrypted to this vault's keys)")]
    IndexUnreadable,
    #[error("the index failed authentication: it was replaced or altered")]
    IndexForged,
    #[error("the index does not match vault.json ({0})")]
    IndexMismatch(&'static str),
    #[error("the index has format version {0}, written by a development build of baton before 0.1")]
    IndexVersion(u32),
    #[error("the {kind}'s shard {shard} file {file} is missing (deleted)")]
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
    #[error("client '{client}': its file {file} is missing (deleted)")]
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
        "the index was rolled back: it ends the audit log at record {head}, but records up to {last} exist"
    )]
    RolledBack { head: u64, last: u64 },
    #[error("{0}/ in the vault is not a plain folder (symlink or file)")]
    NotADirectory(&'static str),
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
    #[error("the owner key in vault.json is damaged or was tampered with ({0})")]
    OwnerKeyDamaged(&'static str),
    #[error("this key is not the vault's emergency key")]
    WrongEmergencyKey,
    #[error("the vault is locked by another baton process")]
    Locked,
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
    #[error("invalid value: {0}")]
    Invalid(String),
    #[error("the vault was opened read-only")]
    ReadOnly,
    #[error("only the owner can do this")]
    OwnerOnly,
    #[error("client '{client}' is under a legal hold ({reason})")]
    LegalHold { client: String, reason: String },
    #[error(
        "a rotation to generation {0} was interrupted; no other change is possible until it is finished or undone"
    )]
    RotationPending(u64),
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
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn parse_recipients(r: &Recipients) -> Option<Vec<x25519::Recipient>> {
    Some(vec![
        x25519::Recipient::from_str(&r.owner).ok()?,
        x25519::Recipient::from_str(&r.emergency).ok()?,
    ])
}

pub(crate) fn passphrase_check(derived: &DerivedKeys) -> String {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(derived.mac_key()).expect("any key length");
    m.update(b"baton-passphrase-check");
    hex::encode(&m.finalize().into_bytes()[..16])
}

/// Reads and checks the public header only: no passphrase needed.
pub fn read_header(path: &Path) -> Result<Header, UnlockError> {
    let hp = path.join(HEADER_FILE);
    let bytes = match fs::read(&hp) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(UnlockError::NotAVault(path.to_path_buf()));
        }
        Err(e) => {
            return Err(UnlockError::Io {
                path: hp,
                source: e,
            });
        }
    };
    #[derive(serde::Deserialize)]
    struct Probe {
        format: String,
        version: u32,
    }
    let probe: Probe =
        serde_json::from_slice(&bytes).map_err(|e| UnlockError::BadHeader(e.to_string()))?;
    if probe.format != header::FORMAT {
        return Err(UnlockError::BadHeader("not a baton vault".into()));
    }
    if probe.version != header::VERSION {
        return Err(UnlockError::UnsupportedVersion(probe.version));
    }
    let h: Header =
        serde_json::from_slice(&bytes).map_err(|e| UnlockError::BadHeader(e.to_string()))?;
    if h.vault_id_bytes().is_none() {
        return Err(UnlockError::BadHeader("vault_id".into()));
    }
    if parse_recipients(&h.recipients).is_none() {
        return Err(UnlockError::BadHeader("recipients".into()));
    }
    h.kdf.validate()?;
    Ok(h)
}

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
        opts.policy.validate()?;
        opts.kdf.validate()?;
        let existed = path.exists();
        if existed {
            let mut rd = fs::read_dir(path).map_err(io_err(path))?;
            if rd.next().is_some() {
                return Err(InitError::NotEmpty(path.to_path_buf()));
            }
        }

        let vault_id_bytes: [u8; 16] = rand::random();
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
        };

        let created_files = Self::init_files(
            path,
            header,
            (owner, emergency, auth),
            recipients,
            holders,
            &opts.policy,
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
    fn undo_init(path: &Path, existed: bool) {
        for name in [CLIENTS_DIR, AUDIT_DIR] {
            let _ = fs::remove_dir_all(path.join(name));
        }
        for name in [HEADER_FILE, ".lock", "index.g1.age"] {
            let _ = fs::remove_file(path.join(name));
        }
        if !existed {
            let _ = fs::remove_dir(path);
        }
    }

    fn init_files(
        path: &Path,
        header: Header,
        (owner, emergency, auth): (OwnerIdentity, EmergencySecret, AuthKey),
        recipients: Recipients,
        holders: Vec<Holder>,
        policy: &Policy,
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
            retention_months: crate::index::DEFAULT_RETENTION_MONTHS,
            audit_head: AuditHead::empty(),
            audit_archive: None,
            locator: vec![],
            catalog: vec![],
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
        };
        let detail = format!(
            "share set {} ({})",
            vault.header.share_set.id,
            policy.describe()
        );
        vault
            .commit(AuditEvent::new("vault.init", None, detail), vec![], &[])
            .map_err(|e| match e {
                VaultError::Io { path, source } => InitError::Io { path, source },
                other => InitError::Io {
                    path: path.to_path_buf(),
                    source: io::Error::other(other.to_string()),
                },
            })?;
        Ok(vault)
    }

    /// Opens a vault with the owner's passphrase (docs/format.md#opening).
    pub fn open(
        path: &Path,
        passphrase: &Passphrase,
        access: Access,
    ) -> Result<Vault, UnlockError> {
        let lock = Self::lock_for(path, access)?;
        let header = read_header(path)?;
        let derived = header.kdf.derive(passphrase)?;
        use subtle::ConstantTimeEq;
        let check_ok = bool::from(
            passphrase_check(&derived)
                .as_bytes()
                .ct_eq(header.passphrase_check.as_bytes()),
        );
        // docs/format.md#owner-key: the check value tells "wrong passphrase" from "damaged
        // owner key"; the owner key itself decides, so a forged check value cannot turn
        // tampering into a harmless-looking wrong passphrase.
        let (owner, emergency) =
            match keys::unwrap_owner_key(&derived, &header.vault_id, &header.owner_key) {
                Ok(pair) if check_ok => pair,
                Ok(_) => return Err(UnlockError::OwnerKeyDamaged("passphrase check value")),
                Err(OwnerKeyError::WrongPassphrase) if check_ok => {
                    return Err(UnlockError::OwnerKeyDamaged("age header"));
                }
                Err(OwnerKeyError::Damaged(what)) if check_ok => {
                    return Err(UnlockError::OwnerKeyDamaged(what));
                }
                Err(_) => return Err(UnlockError::WrongPassphrase),
            };
        if owner.recipient().to_string() != header.recipients.owner
            || !emergency.matches(&header.recipients.emergency)
        {
            return Err(IntegrityError::HeaderRecipients.into());
        }
        let mut vault = Self::finish_open(path, header, Key::Owner(owner), emergency, lock)?;
        vault.derived = Some(derived);
        Ok(vault)
    }

    /// Opens a vault with the emergency secret rebuilt from shares. Works on a
    /// read-only copy when `access` is `Read`.
    pub fn open_emergency(
        path: &Path,
        secret: &EmergencySecret,
        access: Access,
    ) -> Result<Vault, UnlockError> {
        let lock = Self::lock_for(path, access)?;
        let header = read_header(path)?;
        if !secret.matches(&header.recipients.emergency) {
            return Err(UnlockError::WrongEmergencyKey);
        }
        Self::finish_open(
            path,
            header,
            Key::Emergency(secret.identity()),
            secret.duplicate(),
            lock,
        )
    }

    fn lock_for(path: &Path, access: Access) -> Result<Option<WriteLock>, UnlockError> {
        if access == Access::Read {
            return Ok(None);
        }
        if !path.join(HEADER_FILE).exists() {
            return Err(UnlockError::NotAVault(path.to_path_buf()));
        }
        match WriteLock::try_acquire(path).map_err(io_err(path))? {
            Some(l) => Ok(Some(l)),
            None => Err(UnlockError::Locked),
        }
    }

    fn finish_open(
        path: &Path,
        header: Header,
        key: Key,
        emergency: EmergencySecret,
        lock: Option<WriteLock>,
    ) -> Result<Vault, UnlockError> {
        let auth = emergency.auth_key(&header.vault_id_bytes().expect("checked in read_header"));
        let mut vault = Vault {
            path: path.to_path_buf(),
            recipients: parse_recipients(&header.recipients).expect("checked in read_header"),
            header: header.clone(),
            key,
            emergency,
            auth,
            index: IndexBody {
                vault_id: String::new(),
                generation: 0,
                revision: 0,
                updated: String::new(),
                recipients: Recipients {
                    owner: String::new(),
                    emergency: String::new(),
                },
                share_set: header.share_set.clone(),
                holders: vec![],
                owner: Default::default(),
                last_drill: String::new(),
                retention_months: crate::index::DEFAULT_RETENTION_MONTHS,
                audit_head: AuditHead::empty(),
                audit_archive: None,
                locator: vec![],
                catalog: vec![],
            },
            lock,
            derived: None,
            located: Default::default(),
        };
        for d in [CLIENTS_DIR, AUDIT_DIR] {
            match fs::symlink_metadata(path.join(d)) {
                Ok(m) if m.is_dir() => {}
                _ => return Err(IntegrityError::NotADirectory(d).into()),
            }
        }
        vault.index = vault.read_index()?;
        vault.check_audit_tail()?;
        // A member addition whose header write did not happen (docs/format.md#writes):
        // the authenticated index has the whole set; catch the public copy up.
        if vault.lock.is_some() && vault.header.share_set != vault.index.share_set {
            vault.header.share_set = vault.index.share_set.clone();
            write_header_file(path, &vault.header).map_err(io_err(&path.join(HEADER_FILE)))?;
        }
        Ok(vault)
    }

    /// Audit records past the head: one is the leftover of a write that crashed before
    /// its commit; two or more mean the index was rolled back to an older, genuine copy
    /// (docs/format.md#audit-log).
    ///
    /// Probes the names after the head instead of listing `audit/`, so opening stays
    /// cheap however long the log grows.
    fn check_audit_tail(&self) -> Result<(), IntegrityError> {
        let head = self.index.audit_head.seq;
        let exists = |seq: u64| {
            self.path
                .join(AUDIT_DIR)
                .join(audit::record_file(seq))
                .exists()
        };
        if !exists(head + 2) {
            return Ok(());
        }
        let mut last = head + 2;
        while exists(last + 1) {
            last += 1;
        }
        Err(IntegrityError::RolledBack { head, last })
    }

    /// Sequence numbers of record files above the index's head.
    fn audit_beyond_head(&self) -> Vec<u64> {
        let head = self.index.audit_head.seq;
        let Ok(rd) = fs::read_dir(self.path.join(AUDIT_DIR)) else {
            return vec![];
        };
        rd.flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let seq = name.strip_suffix(".age")?;
                (seq.len() == 12).then_some(())?;
                seq.parse::<u64>().ok()
            })
            .filter(|&seq| seq > head)
            .collect()
    }

    pub(crate) fn identity(&self) -> &x25519::Identity {
        match &self.key {
            Key::Owner(o) => o.identity(),
            Key::Emergency(e) => e,
        }
    }

    /// Reads, decrypts and authenticates the index of the header's generation.
    pub(crate) fn read_index(&self) -> Result<IndexBody, IntegrityError> {
        let name = self.header.index_file();
        let bytes =
            fs::read(self.path.join(&name)).map_err(|_| IntegrityError::IndexMissing(name))?;
        let plain =
            seal::decrypt(self.identity(), &bytes).map_err(|_| IntegrityError::IndexUnreadable)?;
        let index = IndexBody::open(&plain, &self.auth).map_err(|e| match e {
            IndexError::BadMac => IntegrityError::IndexForged,
            IndexError::OldVersion(v) => IntegrityError::IndexVersion(v),
            _ => IntegrityError::IndexUnreadable,
        })?;
        if index.vault_id != self.header.vault_id {
            return Err(IntegrityError::IndexMismatch("vault id"));
        }
        if index.generation != self.header.generation {
            return Err(IntegrityError::IndexMismatch("generation"));
        }
        if index.recipients != self.header.recipients {
            return Err(IntegrityError::IndexMismatch("recipients"));
        }
        // The header may lag one member addition behind (docs/format.md#writes).
        if index.share_set != self.header.share_set && !self.header.share_set.lags(&index.share_set)
        {
            return Err(IntegrityError::IndexMismatch("share set"));
        }
        // Authenticated, but still checked: file names must stay inside clients/.
        for (kind, refs) in [
            (ShardKind::Locator, &index.locator),
            (ShardKind::Catalog, &index.catalog),
        ] {
            if !crate::shard::valid_refs(refs) {
                return Err(IntegrityError::ShardDamaged {
                    kind,
                    shard: refs.first().map(|r| r.shard.clone()).unwrap_or_default(),
                });
            }
        }
        Ok(index)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn header(&self) -> &Header {
        &self.header
    }
    pub fn index(&self) -> &IndexBody {
        &self.index
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
        crate::secret::concat_secret(&[&head, id.to_string().expose_secret(), "\n"])
    }

    /// Whether the vault was opened for writing (it holds the write lock).
    pub fn is_writable(&self) -> bool {
        self.lock.is_some()
    }

    pub fn is_owner(&self) -> bool {
        matches!(self.key, Key::Owner(_))
    }

    /// Reads one client's file and checks it against the index.
    pub fn client(&self, id: &str) -> Result<ClientFile, VaultError> {
        let first = self.locate(id).and_then(|s| Ok(self.read_client(&s)?));
        self.or_fresh(first, |fresh| {
            let s = self
                .locate_in(fresh, id)?
                .ok_or_else(|| VaultError::UnknownClient(id.to_string()))?;
            Ok(self.read_client(&s)?)
        })
    }

    /// A reader holds no lock: when a read fails its integrity check, a writer may have
    /// committed meanwhile and removed the files this (older) index names. Then `again`
    /// runs against the newer index; only if the index on disk is unchanged is the
    /// problem real.
    pub(crate) fn or_fresh<T>(
        &self,
        first: Result<T, VaultError>,
        again: impl FnOnce(&IndexBody) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        match first {
            Err(VaultError::Integrity(e)) if self.lock.is_none() => {
                // A rotation replaced every file and the keys: this open cannot follow.
                if let Ok(h) = read_header(&self.path)
                    && h.generation > self.header.generation
                {
                    return Err(VaultError::RotatedMeanwhile(h.generation));
                }
                match self.read_index() {
                    Ok(fresh) if fresh.revision > self.index.revision => again(&fresh),
                    _ => Err(e.into()),
                }
            }
            other => other,
        }
    }

    pub(crate) fn read_client(&self, s: &ClientRef) -> Result<ClientFile, IntegrityError> {
        let plain = self.client_plaintext(s)?;
        let file: ClientFile =
            serde_json::from_slice(&plain).map_err(|_| IntegrityError::ClientUnreadable {
                client: s.id.clone(),
            })?;
        self.check_client_names(s, [&file.format, &file.vault_id, &file.cid, &file.id])?;
        Ok(file)
    }

    /// A client file's plaintext, checked like `read_client` but without parsing more
    /// than the names: rotation copies the plaintext unchanged.
    pub(crate) fn read_client_plain(
        &self,
        s: &ClientRef,
    ) -> Result<Zeroizing<Vec<u8>>, IntegrityError> {
        #[derive(serde::Deserialize)]
        struct Names<'a> {
            format: &'a str,
            vault_id: &'a str,
            cid: &'a str,
            id: &'a str,
        }
        let plain = self.client_plaintext(s)?;
        let n: Names =
            serde_json::from_slice(&plain).map_err(|_| IntegrityError::ClientUnreadable {
                client: s.id.clone(),
            })?;
        self.check_client_names(s, [n.format, n.vault_id, n.cid, n.id])?;
        Ok(plain)
    }

    /// Reads a client file, checks its bytes against the index's SHA-256 and decrypts it.
    fn client_plaintext(&self, s: &ClientRef) -> Result<Zeroizing<Vec<u8>>, IntegrityError> {
        let client = s.id.clone();
        // The index is authenticated, but a path built from it must still stay inside
        // clients/ (docs/format.md#layout).
        if !is_client_file_name(&s.file) {
            return Err(IntegrityError::ClientMismatch { client });
        }
        let p = self.path.join(CLIENTS_DIR).join(&s.file);
        let bytes = fs::read(&p).map_err(|_| IntegrityError::ClientMissing {
            client: client.clone(),
            file: format!("{CLIENTS_DIR}/{}", s.file),
        })?;
        if sha256_hex(&bytes) != s.sha256 {
            return Err(IntegrityError::ClientModified { client });
        }
        seal::decrypt(self.identity(), &bytes)
            .map_err(|_| IntegrityError::ClientUnreadable { client })
    }

    /// The file must name the format, vault, cid and client id the index expects.
    fn check_client_names(
        &self,
        s: &ClientRef,
        [format, vault_id, cid, id]: [&str; 4],
    ) -> Result<(), IntegrityError> {
        if format != ClientFile::FORMAT
            || vault_id != self.index.vault_id
            || cid != s.cid
            || id != s.id
        {
            return Err(IntegrityError::ClientMismatch {
                client: s.id.clone(),
            });
        }
        Ok(())
    }

    pub(crate) fn require_write(&self) -> Result<(), VaultError> {
        self.require_lock()?;
        // A write now would be missing from the new generation (docs/format.md#rotation).
        if let Some(generation) = crate::rotate::pending(&self.path) {
            return Err(VaultError::RotationPending(generation));
        }
        Ok(())
    }

    fn require_lock(&self) -> Result<(), VaultError> {
        if self.lock.is_none() {
            return Err(VaultError::ReadOnly);
        }
        Ok(())
    }

    /// Commits one audit record while a rotation's state file still exists: the record
    /// that settles it (docs/format.md#rotation), written before the state file goes so
    /// that a copy of it can never be resumed.
    pub(crate) fn commit_settling_rotation(&mut self, event: AuditEvent) -> Result<(), VaultError> {
        self.require_lock()?;
        self.commit_unchecked(event, vec![], &[], |_| {})
    }

    /// Commits one change (docs/format.md#writes): audit record, changed client files
    /// under new names, then the index as the single commit point, then cleanup.
    pub fn commit(
        &mut self,
        event: AuditEvent,
        upserts: Vec<ClientFile>,
        removes: &[String],
    ) -> Result<(), VaultError> {
        self.commit_with(event, upserts, removes, |_| {})
    }

    /// `commit`, also applying `edit_index` to vault-wide index fields (owner profile).
    pub fn commit_with(
        &mut self,
        event: AuditEvent,
        upserts: Vec<ClientFile>,
        removes: &[String],
        edit_index: impl FnOnce(&mut IndexBody),
    ) -> Result<(), VaultError> {
        self.require_write()?;
        self.commit_unchecked(event, upserts, removes, edit_index)
    }

    fn commit_unchecked(
        &mut self,
        event: AuditEvent,
        upserts: Vec<ClientFile>,
        removes: &[String],
        edit_index: impl FnOnce(&mut IndexBody),
    ) -> Result<(), VaultError> {
        // What readers check, enforced before anything is written.
        let mut cids = HashSet::new();
        for f in &upserts {
            if !crate::client::valid_id(&f.id) {
                return Err(VaultError::InvalidId(f.id.clone()));
            }
            if !crate::is_lower_hex(&f.cid, 32)
                || !cids.insert(f.cid.as_str())
                || removes.contains(&f.cid)
            {
                return Err(VaultError::Invalid(format!(
                    "one change names client '{}' twice",
                    f.id
                )));
            }
        }
        drop(cids);
        // A change of vault-wide fields only (a settings or rotation record) needs no
        // client table, so it works even where a locator shard cannot be read.
        let touches_clients = !upserts.is_empty() || !removes.is_empty();
        let existing = if touches_clients {
            self.clients()?
        } else {
            &[]
        };
        for f in &upserts {
            if existing.iter().any(|c| c.id == f.id && c.cid != f.cid)
                || upserts.iter().any(|g| g.id == f.id && g.cid != f.cid)
            {
                return Err(VaultError::ClientExists(f.id.clone()));
            }
        }
        let time = now();
        // 1. The audit record. A leftover with this number is from a crashed write.
        let record = AuditRecord {
            seq: self.index.audit_head.seq + 1,
            prev: self.index.audit_head.hash.clone(),
            time: time.clone(),
            actor: self.actor().into(),
            action: event.action,
            client: event.client,
            detail: event.detail,
        };
        let rec_plain = serde_json::to_vec(&record).expect("serializable");
        let rec_path = self
            .path
            .join(AUDIT_DIR)
            .join(audit::record_file(record.seq));
        if rec_path.exists() {
            // The leftover of an interrupted write: keep it as evidence, never overwrite.
            let aside = rec_path.with_extension(format!(
                "age.interrupted-{}",
                hex::encode(rand::random::<[u8; 4]>())
            ));
            fs::rename(&rec_path, &aside).map_err(io_err(&rec_path))?;
        }
        fsio::write_new(&rec_path, &seal::encrypt(&self.recipients, &rec_plain))
            .map_err(io_err(&rec_path))?;

        // 2. Client files under fresh names, then the locator and catalog shards the
        // change touches, also under fresh names.
        let mut next = self.index.clone();
        let mut obsolete: Vec<String> = Vec::new();
        let before = existing.to_vec();
        let mut clients = before.clone();
        let shards = catalog::touched(upserts.iter().map(|f| f.cid.as_str()), removes);
        let mut summaries: Vec<ClientSummary> = Vec::with_capacity(upserts.len());
        for file in upserts {
            let plain = crate::secret::json_bytes(&file);
            let (fid, sha256) = self.write_new_file(&plain)?;
            let located = ClientRef {
                id: file.id.clone(),
                cid: file.cid.clone(),
                file: fid,
                sha256,
            };
            summaries.push(file.summary());
            match clients.iter_mut().find(|c| c.cid == located.cid) {
                Some(slot) => obsolete.push(std::mem::replace(slot, located).file),
                None => clients.push(located),
            }
        }
        clients.retain(|c| {
            let keep = !removes.contains(&c.cid);
            if !keep {
                obsolete.push(c.file.clone());
            }
            keep
        });
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        let (old_groups, new_groups) = (locator::group(&before), locator::group(&clients));
        let keys: std::collections::BTreeSet<&String> =
            old_groups.keys().chain(new_groups.keys()).collect();
        for shard in keys {
            if old_groups.get(shard) != new_groups.get(shard) {
                let rows = new_groups.get(shard).cloned().unwrap_or_default();
                self.replace_shard(
                    ShardKind::Locator,
                    &mut next,
                    shard.clone(),
                    rows,
                    &mut obsolete,
                )?;
            }
        }
        let mut current = std::collections::BTreeMap::new();
        for r in self
            .index
            .catalog
            .iter()
            .filter(|r| shards.contains(&r.shard))
        {
            let list: Vec<ClientSummary> =
                self.read_shard(ShardKind::Catalog, &self.index.vault_id, r)?;
            current.insert(r.shard.clone(), list);
        }
        for (shard, list) in catalog::apply(current, summaries, removes) {
            self.replace_shard(ShardKind::Catalog, &mut next, shard, list, &mut obsolete)?;
        }
        edit_index(&mut next);
        next.revision += 1;
        next.updated = time;
        next.audit_head = AuditHead {
            seq: record.seq,
            hash: audit::hash(&rec_plain),
        };

        // 3. The commit point.
        let sealed = next.seal(&self.auth);
        let ip = self.path.join(self.header.index_file());
        if let Err(e) = fsio::write_atomic(&ip, &seal::encrypt(&self.recipients, &sealed)) {
            // The rename may have happened before the error (a failed folder sync): then
            // every reader already sees this commit, and this handle must follow it, or
            // its next commit would reuse the record number and revision.
            let landed = self
                .read_index()
                .is_ok_and(|ix| ix.revision == next.revision && ix.audit_head == next.audit_head);
            if landed {
                self.index = next;
                if touches_clients {
                    self.located = clients.into();
                }
            }
            return Err(io_err(&ip)(e).into());
        }
        self.index = next;
        if touches_clients {
            self.located = clients.into();
        }

        // 4. Cleanup; failures here leave only unreferenced files.
        for f in obsolete.iter().filter(|f| is_client_file_name(f)) {
            let _ = fsio::remove_durable(&self.path.join(CLIENTS_DIR).join(f));
        }
        self.remove_temp_files();
        Ok(())
    }

    /// Writes a shard's new content under a fresh name (none if it is empty) and points
    /// `next` at it; the file it replaces becomes obsolete.
    fn replace_shard<T: serde::Serialize>(
        &self,
        kind: ShardKind,
        next: &mut IndexBody,
        shard: String,
        rows: Vec<T>,
        obsolete: &mut Vec<String>,
    ) -> Result<(), VaultError> {
        let refs = match kind {
            ShardKind::Locator => &mut next.locator,
            ShardKind::Catalog => &mut next.catalog,
        };
        if let Some(i) = refs.iter().position(|r| r.shard == shard) {
            obsolete.push(refs.remove(i).file);
        }
        if !rows.is_empty() {
            let plain =
                crate::secret::json_bytes(&ShardFile::new(kind, &next.vault_id, &shard, rows));
            let (file, sha256) = self.write_new_file(&plain)?;
            let refs = match kind {
                ShardKind::Locator => &mut next.locator,
                ShardKind::Catalog => &mut next.catalog,
            };
            refs.push(ShardRef {
                shard,
                file,
                sha256,
            });
            refs.sort_by(|a, b| a.shard.cmp(&b.shard));
        }
        Ok(())
    }

    /// Encrypts `plain` to the vault's recipients into a new file in `clients/` under a
    /// fresh random name, durably. Returns the name and the SHA-256 of the bytes.
    fn write_new_file(&self, plain: &[u8]) -> Result<(String, String), VaultError> {
        let cipher = seal::encrypt(&self.recipients, plain);
        let fid = format!("{}.age", hex::encode(rand::random::<[u8; 16]>()));
        let p = self.path.join(CLIENTS_DIR).join(&fid);
        fsio::write_new(&p, &cipher).map_err(io_err(&p))?;
        Ok((fid, sha256_hex(&cipher)))
    }

    pub(crate) fn actor(&self) -> &'static str {
        match self.key {
            Key::Owner(_) => "owner",
            Key::Emergency(_) => "emergency",
        }
    }

    /// Files the index does not name: client files and audit records of interrupted
    /// writes (docs/format.md#writes). They are reported, never deleted automatically:
    /// in a synced folder such a file may be another machine's commit whose index has
    /// not arrived yet.
    pub fn orphans(&self) -> Result<Vec<PathBuf>, IntegrityError> {
        let named = self.named_files()?;
        let mut out = Vec::new();
        if let Ok(rd) = fs::read_dir(self.path.join(CLIENTS_DIR)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if is_client_file_name(&name) && !named.contains(name.as_str()) {
                    out.push(e.path());
                }
            }
        }
        out.extend(
            self.audit_beyond_head()
                .into_iter()
                .map(|seq| self.path.join(AUDIT_DIR).join(audit::record_file(seq))),
        );
        Ok(out)
    }

    /// Every file in `clients/` the current index names: client files and shards.
    pub(crate) fn named_files(&self) -> Result<HashSet<&str>, IntegrityError> {
        Ok(self
            .clients()?
            .iter()
            .map(|c| c.file.as_str())
            .chain(self.index.shard_files())
            .collect())
    }

    /// Removes this machine's temporary files (`.<name>.<12 hex>.tmp`, see
    /// fsio::write_atomic). They are never part of a commit.
    pub(crate) fn remove_temp_files(&self) {
        for dir in [
            self.path.clone(),
            self.path.join(CLIENTS_DIR),
            self.path.join(AUDIT_DIR),
        ] {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if fsio::is_temp_name(&name) && e.file_type().map(|t| t.is_file()).unwrap_or(false)
                {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }

    pub(crate) fn write_header(&self) -> Result<(), VaultError> {
        let p = self.path.join(HEADER_FILE);
        Ok(write_header_file(&self.path, &self.header).map_err(io_err(&p))?)
    }

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
            AuditEvent::new("passphrase.change", None, detail),
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

    /// Reads the whole audit log and checks its chain against the index's head.
    pub fn audit_log(&self) -> (Vec<AuditRecord>, Vec<AuditProblem>) {
        self.audit_log_to(&self.index)
    }

    fn audit_log_to(&self, index: &IndexBody) -> (Vec<AuditRecord>, Vec<AuditProblem>) {
        let (raw, problems) = self.audit_raw(index);
        (raw.into_iter().map(|(_, r)| r).collect(), problems)
    }

    /// Every record up to the index's head with its exact plaintext, checked against the
    /// chain: first the archive of earlier generations, then the single record files.
    pub(crate) fn audit_raw(&self, index: &IndexBody) -> (Vec<RawRecord>, Vec<AuditProblem>) {
        let head = &index.audit_head;
        let mut records = Vec::new();
        let mut problems = Vec::new();
        let mut prev = audit::GENESIS.to_string();
        let check = |seq: u64,
                     plain: Zeroizing<Vec<u8>>,
                     prev: &mut String,
                     problems: &mut Vec<AuditProblem>| {
            let Ok(rec) = serde_json::from_slice::<AuditRecord>(&plain) else {
                problems.push(AuditProblem::Unreadable(seq));
                prev.clear();
                return None;
            };
            let hash = audit::hash(&plain);
            if rec.seq != seq || (rec.prev != *prev && !prev.is_empty()) {
                problems.push(AuditProblem::BrokenChain(seq));
            }
            if seq == head.seq && hash != head.hash {
                problems.push(AuditProblem::HeadMismatch);
            }
            *prev = hash;
            Some((plain, rec))
        };
        let mut first = 1;
        if let Some(a) = &index.audit_archive {
            let archived = self.read_archive(a);
            match archived {
                Some(list) if list.len() as u64 == a.through => {
                    for (i, plain) in list.into_iter().enumerate() {
                        if let Some(r) = check(i as u64 + 1, plain, &mut prev, &mut problems) {
                            records.push(r);
                        }
                    }
                }
                _ => {
                    problems.push(AuditProblem::Archive(a.file.clone()));
                    prev.clear();
                }
            }
            first = a.through + 1;
        }
        for seq in first..=head.seq {
            let p = self.path.join(AUDIT_DIR).join(audit::record_file(seq));
            let Ok(bytes) = fs::read(&p) else {
                problems.push(AuditProblem::Missing(seq));
                prev.clear();
                continue;
            };
            let Ok(plain) = seal::decrypt(self.identity(), &bytes) else {
                problems.push(AuditProblem::Unreadable(seq));
                prev.clear();
                continue;
            };
            if let Some(r) = check(seq, plain, &mut prev, &mut problems) {
                records.push(r);
            }
        }
        (records, problems)
    }

    /// The archive's records, if the file is the one the index pins and decrypts.
    fn read_archive(&self, a: &audit::AuditArchive) -> Option<Vec<Zeroizing<Vec<u8>>>> {
        audit::parse_archive_file(&a.file)?;
        let bytes = fs::read(self.path.join(AUDIT_DIR).join(&a.file)).ok()?;
        if sha256_hex(&bytes) != a.sha256 {
            return None;
        }
        let plain = seal::decrypt(self.identity(), &bytes).ok()?;
        let list = audit::archive_records(&plain)?;
        Some(
            list.into_iter()
                .map(|r| Zeroizing::new(r.to_vec()))
                .collect(),
        )
    }

    /// Checks every file: index (already checked on open), every client file, the audit
    /// chain. Returns every problem found, each naming what it is about.
    pub fn verify(&self) -> Vec<IntegrityError> {
        let problems = self.verify_against(&self.index);
        // A reader holds no lock: if a writer committed meanwhile, check the newer index
        // instead of reporting the files it legitimately replaced.
        if !problems.is_empty()
            && self.lock.is_none()
            && let Ok(fresh) = self.read_index()
            && fresh.revision > self.index.revision
        {
            return self.verify_against(&fresh);
        }
        problems
    }

    fn verify_against(&self, index: &IndexBody) -> Vec<IntegrityError> {
        let (clients, mut problems) = self.load_clients_partial(index);
        let summaries = match self.catalog_of(index, &clients) {
            Ok(list) => Some(list),
            Err(e) => {
                problems.push(e);
                None
            }
        };
        let mut stale = false;
        for (i, s) in clients.iter().enumerate() {
            match self.read_client(s) {
                // The catalog is derived from the client files; it must agree.
                Ok(file) => {
                    stale |= summaries
                        .as_ref()
                        .is_some_and(|list| list[i] != file.summary());
                }
                Err(e) => problems.push(e),
            }
        }
        if stale {
            problems.push(IntegrityError::CatalogMismatch);
        }
        problems.extend(
            self.audit_log_to(index)
                .1
                .into_iter()
                .map(IntegrityError::Audit),
        );
        problems
    }
}

pub(crate) fn is_client_file_name(name: &str) -> bool {
    name.strip_suffix(".age")
        .is_some_and(|fid| crate::is_lower_hex(fid, 32))
}

/// Checks a holder list and threshold (docs/format.md#names).
/// Replaces `vault.json` atomically.
pub(crate) fn write_header_file(vault: &Path, h: &Header) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(h).expect("serializable");
    json.push(b'\n');
    fsio::write_atomic(&vault.join(HEADER_FILE), &json)
}
