//! Opening a vault with the owner passphrase or the emergency key
//! (docs/format.md#opening).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::x25519;
use sha2::Sha256;

use crate::audit::{self, AUDIT_DIR, AuditHead};
use crate::crypto::kdf::DerivedKeys;
use crate::crypto::keys::{self, EmergencySecret, OwnerKeyError};
use crate::crypto::seal;
use crate::crypto::secret::Passphrase;
use crate::store::fsio;
use crate::store::fsio::WriteLock;
use crate::store::header::{self, HEADER_FILE, Header, Recipients};
use crate::store::index::{IndexBody, IndexError};

use super::error::*;
use super::{Access, Key, Vault};
use crate::store::CLIENTS_DIR;
use crate::store::IntegrityError;
use crate::store::header::write_header_file;

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
///
/// When a sync service kept another device's `vault.json` as a conflicted copy and that
/// copy names a later generation whose index is here (one device rotated while another
/// changed the header), the later one is the vault's (docs/format.md#header-conflicts).
pub fn read_header(path: &Path) -> Result<Header, UnlockError> {
    let h = read_header_file(path, &path.join(HEADER_FILE))?;
    Ok(newer_header_copy(path, &h).map_or(h, |(newer, _)| newer))
}

/// The sync services' conflicted copies of `vault.json` that read as headers of the
/// vault `h` names, with their paths. At most [`MAX_HEADER_COPIES`] are read, the
/// first by name: more than a few never come from syncing (each is a rotation or
/// header change made apart), and the rest are reported as conflicted copies by
/// `verify`.
fn header_copies(path: &Path, h: &Header) -> Vec<(Header, std::path::PathBuf)> {
    let Ok(rd) = fs::read_dir(path) else {
        return vec![];
    };
    let mut names: Vec<std::ffi::OsString> = rd
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| {
            let name = n.to_string_lossy();
            name != HEADER_FILE
                && crate::sync::names::original_name(&name).as_deref() == Some(HEADER_FILE)
        })
        .collect();
    names.sort();
    names.truncate(MAX_HEADER_COPIES);
    names
        .into_iter()
        .filter_map(|n| {
            let p = path.join(n);
            let copy = read_header_file(path, &p).ok()?;
            (copy.vault_id == h.vault_id).then_some((copy, p))
        })
        .collect()
}

/// The most conflicted copies of `vault.json` one read of the folder reads.
const MAX_HEADER_COPIES: usize = 16;

/// A conflicted copy of `vault.json` of the same vault that names a later generation
/// than `h` and whose index file exists, with its path: the latest such.
pub fn newer_header_copy(path: &Path, h: &Header) -> Option<(Header, std::path::PathBuf)> {
    let mut best: Option<(Header, std::path::PathBuf)> = None;
    for (copy, p) in header_copies(path, h) {
        let later = copy.generation > best.as_ref().map_or(h.generation, |b| b.0.generation)
            && has_state_of(path, &copy);
        if later {
            best = Some((copy, p));
        }
    }
    best
}

/// Conflicted copies of `vault.json` of this vault that hold nothing it still needs,
/// with their generations: of `h`'s generation with the same emergency key and another
/// owner key (a rotation to it made apart on another device, whose heads are read with
/// `E`: docs/format.md#sibling-rotations), or of an earlier generation whose emergency
/// key `holds` says the vault keeps (its heads are carried over with it; a setting
/// changed there is not kept, and the caller says so).
fn spent_header_copies(
    path: &Path,
    h: &Header,
    holds: impl Fn(u64, &str) -> bool,
) -> Vec<(Header, std::path::PathBuf)> {
    header_copies(path, h)
        .into_iter()
        .filter(|(copy, _)| {
            let e_of = &copy.recipients.emergency;
            if copy.generation == h.generation {
                *e_of == h.recipients.emergency && copy.recipients.owner != h.recipients.owner
            } else {
                copy.generation < h.generation && holds(copy.generation, e_of)
            }
        })
        .collect()
}

/// `WrongPassphrase` as `PassphraseNotKept` where `passphrase` is the one of the
/// other header of two rotations to this generation made apart ([`passphrase_not_kept`]).
/// Runs only after the open failed.
fn name_wrong_passphrase(path: &Path, passphrase: &Passphrase, e: UnlockError) -> UnlockError {
    match e {
        UnlockError::WrongPassphrase => match read_header(path) {
            Ok(h) if passphrase_not_kept(path, &h, passphrase) => {
                UnlockError::PassphraseNotKept(h.generation)
            }
            _ => e,
        },
        e => e,
    }
}

/// Whether `passphrase`, wrong for `h`, opens a conflicted copy of `vault.json` of a
/// rotation to `h`'s generation made apart whose passphrase or Argon2id settings differ
/// from `h`'s: a `passwd` or `rotate --kdf` made on one side after the rotations
/// (docs/format.md#sibling-rotations). The copy must be genuine: its owner key unwraps
/// with the passphrase and holds `h`'s emergency key. At most two copies are tried,
/// each one more Argon2id run, and only copies whose costs are at most four times the
/// header's (a folder writer could plant others).
fn passphrase_not_kept(path: &Path, h: &Header, passphrase: &Passphrase) -> bool {
    use subtle::ConstantTimeEq;
    let affordable = |k: &crate::crypto::kdf::KdfParams| {
        u64::from(k.m_cost_kib) <= 4 * u64::from(h.kdf.m_cost_kib)
            && u64::from(k.t_cost) <= 4 * u64::from(h.kdf.t_cost)
            && k.p_cost <= h.kdf.p_cost.max(4)
    };
    header_copies(path, h)
        .into_iter()
        .filter(|(c, _)| {
            c.generation == h.generation
                && c.recipients.emergency == h.recipients.emergency
                && c.recipients.owner != h.recipients.owner
                && (c.kdf != h.kdf || c.passphrase_check != h.passphrase_check)
                && affordable(&c.kdf)
        })
        .take(2)
        .any(|(c, _)| {
            c.kdf.derive(passphrase).is_ok_and(|d| {
                bool::from(
                    passphrase_check(&d)
                        .as_bytes()
                        .ct_eq(c.passphrase_check.as_bytes()),
                ) && keys::unwrap_owner_key(&d, &c.vault_id, &c.owner_key)
                    .is_ok_and(|(_, e)| e.matches(&h.recipients.emergency))
            })
        })
}

/// Whether the folder holds the commit point of `h`'s generation: its index (version
/// 2) or a writer's head (version 3).
fn has_state_of(path: &Path, h: &Header) -> bool {
    if h.version < header::VERSION {
        return path.join(h.index_file()).is_file();
    }
    fs::read_dir(path.join(crate::store::head::HEADS_DIR)).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            crate::store::head::parse_head_file(&e.file_name().to_string_lossy())
                .is_some_and(|(_, g)| g == h.generation)
        })
    })
}

/// The name of a file directly in the vault folder.
fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The largest header read (a real one is a few KiB).
const MAX_HEADER_BYTES: u64 = 1024 * 1024;

/// Reads a header file: a regular file (never through a symlink, never a FIFO or
/// device) of at most [`MAX_HEADER_BYTES`].
fn read_bounded(hp: &Path) -> io::Result<Vec<u8>> {
    fsio::read_bounded(hp, MAX_HEADER_BYTES)
}

/// The header `vault.json` itself holds, without looking at conflicted copies (what
/// rotation's switch checks and the keyless status read).
pub fn read_header_only(path: &Path) -> Result<Header, UnlockError> {
    read_header_file(path, &path.join(HEADER_FILE))
}

fn read_header_file(path: &Path, hp: &Path) -> Result<Header, UnlockError> {
    let hp = hp.to_path_buf();
    let bytes = match read_bounded(&hp) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(UnlockError::NotAVault(path.to_path_buf()));
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(UnlockError::BadHeader(e.to_string()));
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
    if !header::READABLE_VERSIONS.contains(&probe.version) {
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
    /// Opens a vault with the owner's passphrase (docs/format.md#opening).
    pub fn open(
        path: &Path,
        passphrase: &Passphrase,
        access: Access,
    ) -> Result<Vault, UnlockError> {
        Self::with_header(path, |header| {
            Self::open_header(path, passphrase, access, header)
        })
        .map_err(|e| name_wrong_passphrase(path, passphrase, e))
    }

    /// Opens with the later header of a sync service's conflicted copy of `vault.json`
    /// if there is one and the vault opens with it (its owner key, its index), else with
    /// `vault.json`'s own: a planted copy cannot lock the owner out.
    fn with_header(
        path: &Path,
        open: impl Fn(Header) -> Result<Vault, UnlockError>,
    ) -> Result<Vault, UnlockError> {
        let file = read_header_only(path)?;
        if let Some((copy, _)) = newer_header_copy(path, &file)
            && let Ok(v) = open(copy)
        {
            return Ok(v);
        }
        open(file)
    }

    /// Opens for writing with the owner's passphrase under a lock the caller already
    /// holds (`baton sync` keeps the lock while git changes the folder between opens).
    /// The lock must be this vault folder's.
    pub fn open_locked(
        path: &Path,
        passphrase: &Passphrase,
        lock: &WriteLock,
    ) -> Result<Vault, UnlockError> {
        Self::with_header(path, |header| {
            let lock = lock.share().map_err(io_err(path))?;
            Self::open_header_with(path, passphrase, Some(lock), header)
        })
        .map_err(|e| name_wrong_passphrase(path, passphrase, e))
    }

    fn open_header(
        path: &Path,
        passphrase: &Passphrase,
        access: Access,
        header: Header,
    ) -> Result<Vault, UnlockError> {
        let lock = Self::lock_for(path, access)?;
        Self::open_header_with(path, passphrase, lock, header)
    }

    fn open_header_with(
        path: &Path,
        passphrase: &Passphrase,
        lock: Option<WriteLock>,
        header: Header,
    ) -> Result<Vault, UnlockError> {
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
        Self::with_header(path, |header| {
            Self::open_emergency_header(path, secret, access, header)
        })
    }

    fn open_emergency_header(
        path: &Path,
        secret: &EmergencySecret,
        access: Access,
        header: Header,
    ) -> Result<Vault, UnlockError> {
        let lock = Self::lock_for(path, access)?;
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

    pub(super) fn lock_for(path: &Path, access: Access) -> Result<Option<WriteLock>, UnlockError> {
        use header::UnfinishedRotation::Running;
        if access == Access::Read {
            // A running rotation removes the files a reader is reading.
            return match header::unfinished_rotation(path) {
                Some(Running(g)) => Err(UnlockError::RotationRunning(g)),
                _ => Ok(None),
            };
        }
        if !path.join(HEADER_FILE).exists() {
            return Err(UnlockError::NotAVault(path.to_path_buf()));
        }
        match WriteLock::try_acquire(path).map_err(io_err(path))? {
            Some(l) => Ok(Some(l)),
            None => Err(header::pending_rotation(path)
                .map_or(UnlockError::Locked, UnlockError::RotationRunning)),
        }
    }

    pub(super) fn finish_open(
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
                retention_months: crate::store::index::DEFAULT_RETENTION_MONTHS,
                audit_head: AuditHead::empty(),
                audit: Default::default(),
                audit_archive: None,
                audit_archives_apart: vec![],
                retired_apart: vec![],
                locator: vec![],
                catalog: vec![],
            },
            lock,
            derived: None,
            located: Default::default(),
            memory: None,
            older: None,
            writer: crate::sync::writer::derive(&header.vault_id, path),
            header_restored: None,
            header_copy_removed: None,
            passphrase_not_kept: false,
            sibling_copies: Vec::new(),
            sibling_heads: Default::default(),
            removed_clients: Default::default(),
            heads: None,
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
        vault.carry = super::carry::Carry::new(
            &vault.header,
            vault.identity(),
            &vault.emergency,
            &vault.auth,
        );
        // The shards that rotations made apart retired, from their headers' copies
        // (docs/format.md#sibling-rotations).
        // One of this generation that authenticates (its `previous_key` opens with
        // `E`) stays while its device has not written under this header's keys
        // (`remove_spent_header_copies`).
        if vault.header.version >= header::VERSION {
            let copies =
                spent_header_copies(path, &vault.header, |g, e| vault.holds_emergency(g, e));
            let mut retired = Vec::new();
            for (copy, p) in &copies {
                let Some(e) = vault.emergency_of(copy.generation) else {
                    continue;
                };
                let of_copy = super::carry::retired_in(copy, e);
                if !of_copy.is_empty() && copy.generation == vault.header.generation {
                    vault
                        .sibling_copies
                        .push((file_name(p), copy.recipients.owner.clone()));
                    vault.passphrase_not_kept |= copy.kdf != vault.header.kdf
                        || copy.passphrase_check != vault.header.passphrase_check;
                }
                retired.extend(of_copy);
            }
            vault.carry.add_retired(retired);
        }
        for d in [CLIENTS_DIR, AUDIT_DIR] {
            match fs::symlink_metadata(path.join(d)) {
                Ok(m) if m.is_dir() => {}
                // git keeps no empty folder: a clone of a vault without clients has no
                // `clients/` (docs/format.md#git). Empty is what the state says then; a
                // state that names client files reports each one missing.
                Err(e) if e.kind() == io::ErrorKind::NotFound && d == CLIENTS_DIR => {
                    if vault.lock.is_some() {
                        fsio::create_private_dir(&path.join(d)).map_err(io_err(path))?;
                    }
                }
                _ => return Err(IntegrityError::NotADirectory(d).into()),
            }
        }
        vault.load_state()?;
        vault.check_audit_tail()?;
        // Another device's older vault.json won a sync race against a rotation made
        // here (docs/format.md#header-conflicts): the later header was read from its
        // conflicted copy; a writer puts it back in place.
        if vault.lock.is_some()
            && let Ok(file) = read_header_file(path, &path.join(HEADER_FILE))
            && let Some((newer, copy)) = newer_header_copy(path, &file)
            && newer.generation == vault.header.generation
        {
            write_header_file(path, &vault.header).map_err(io_err(&path.join(HEADER_FILE)))?;
            let _ = fs::remove_file(&copy);
            vault.header_restored = Some(file.generation);
        }
        // Another device's header the vault no longer needs (docs/format.md#sibling-rotations).
        vault.remove_spent_header_copies(true)?;
        // Another device's state file of a rotation no longer pending here
        // (docs/format.md#sibling-rotations).
        vault.remove_settled_rotation_copies()?;
        // A member addition whose header write did not happen (docs/format.md#writes):
        // the authenticated index has the whole set; catch the public copy up.
        if vault.lock.is_some() && vault.header.share_set != vault.index.share_set {
            vault.header.share_set = vault.index.share_set.clone();
            write_header_file(path, &vault.header).map_err(io_err(&path.join(HEADER_FILE)))?;
        }
        Ok(vault)
    }

    /// Audit records past this writer's chain's head: one is the leftover of a write
    /// that crashed before its commit; two or more mean the state was rolled back to
    /// an older, genuine copy (docs/format.md#audit-log).
    ///
    /// Probes the names after each head instead of listing `audit/`, so opening stays
    /// cheap however long the log grows.
    pub(crate) fn check_audit_tail(&self) -> Result<(), IntegrityError> {
        for (chain, full) in self.chains_held_here(&self.index) {
            // This writer's records under the previous generation's keys, of a head
            // that is not carried over: reported as such, and no write follows them
            // (docs/format.md#carry-over).
            if chain == self.own_chain() && !self.carry.not_own.is_empty() {
                continue;
            }
            // This writer's records of a stranded head that waits for a file: they are
            // its changes still to be carried over, no rollback; it writes nothing
            // until they are (`prepare_write`).
            if chain == self.own_chain() && self.carry.waiting_of(&self.writer).is_some() {
                continue;
            }
            // This writer's records of its own head that another device's rotation to
            // this generation, made apart with a new emergency key, left unreadable
            // here: no rollback; it writes nothing over them (`prepare_write`,
            // docs/format.md#sibling-rotations).
            if chain == self.own_chain() && self.own_head_under_other_keys() {
                continue;
            }
            let head = full.seq;
            let exists = |seq: u64| {
                self.path
                    .join(AUDIT_DIR)
                    .join(audit::chain_record_file(&chain, seq))
                    .exists()
            };
            if !exists(head + 2) {
                continue;
            }
            let mut last = head + 2;
            while exists(last + 1) {
                last += 1;
            }
            // Records an authentic head here includes, which waits for a file (a sync
            // in progress): the state is behind them, not rolled back.
            if self
                .waiting_heads
                .iter()
                .any(|w| w.chains.get(&chain).is_some_and(|p| p.seq >= last))
            {
                continue;
            }
            // Another device's records, whose index a sync service kept as a
            // conflicted copy, are no rollback (docs/format.md#upgrade-fold).
            if chain == audit::LEGACY_CHAIN
                && self.copies_hold_records(&full, (head + 1..=last).filter(|&s| exists(s)))
            {
                continue;
            }
            return Err(IntegrityError::RolledBack { head, last });
        }
        Ok(())
    }

    /// Removes another device's conflicted copies of `vault.json` that the vault no
    /// longer needs ([`spent_header_copies`]) once no head of an earlier generation is
    /// left in `heads/`: until then a stranded head may name a shard only that
    /// header's rotation retired (docs/format.md#sibling-rotations). A writer only.
    ///
    /// A copy of a rotation to this generation made apart (`sibling_copies`) also stays
    /// while a head of this generation is still under its owner key: its device has not
    /// written under this header's keys yet, and while its header is here, an open
    /// there with a passphrase set after that rotation is told why it fails
    /// (`UnlockError::PassphraseNotKept`). Its retired shards no longer need it: the
    /// rotation's heads carry them (`retired_apart`).
    ///
    /// Without `earlier_too`, only copies of this generation go (after a head is
    /// written, when the open's warning that an earlier generation's copy went has
    /// been printed already).
    pub(crate) fn remove_spent_header_copies(
        &mut self,
        earlier_too: bool,
    ) -> Result<(), (PathBuf, io::Error)> {
        if self.lock.is_none() || self.header.version < header::VERSION {
            return Ok(());
        }
        let spent =
            spent_header_copies(&self.path, &self.header, |g, e| self.holds_emergency(g, e));
        if spent.is_empty() || self.holds_heads_of_earlier_generations() {
            return Ok(());
        }
        for (copy, p) in spent {
            let name = file_name(&p);
            if self.sibling_copy_needed(&name)
                || (!earlier_too && copy.generation < self.header.generation)
            {
                continue;
            }
            fsio::remove_durable(&p).map_err(io_err(&p))?;
            self.sibling_copies.retain(|(n, _)| *n != name);
            if copy.generation < self.header.generation {
                self.header_copy_removed = Some(copy.generation);
            }
        }
        Ok(())
    }

    /// Removes the sync services' conflicted copies of a rotation's state file
    /// `rotation.g<N>.age` once that file itself is gone: two devices rotated apart
    /// and at least one was interrupted, and the rotation here has since been resumed
    /// or aborted (docs/format.md#sibling-rotations). The copy holds another device's
    /// plan and no change: a rotation that switched left its heads, which are merged,
    /// and one that did not was never the vault's. While `rotation.g<N>.age` is here,
    /// the copy stays and is reported. A writer only.
    pub(crate) fn remove_settled_rotation_copies(&self) -> Result<(), (PathBuf, io::Error)> {
        if self.lock.is_none() {
            return Ok(());
        }
        let Ok(rd) = fs::read_dir(&self.path) else {
            return Ok(());
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(original) = crate::sync::names::original_name(&name) else {
                continue;
            };
            if original != name
                && header::parse_rotation_file(&original).is_some()
                && !self.path.join(&original).exists()
                && e.file_type().is_ok_and(|t| t.is_file())
            {
                let p = e.path();
                fsio::remove_durable(&p).map_err(io_err(&p))?;
            }
        }
        Ok(())
    }

    /// Whether `name` is the header copy of a rotation made apart (`sibling_copies`)
    /// whose owner key a head of this generation still names (`sibling_heads`): it is
    /// kept, and accounted for.
    pub(crate) fn sibling_copy_needed(&self, name: &str) -> bool {
        let heads = self
            .sibling_heads
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        self.sibling_copies
            .iter()
            .any(|(n, owner)| n == name && heads.iter().any(|(_, o)| o == owner))
    }

    /// Whether `heads/` holds a head (or a conflicted copy of one) of a generation
    /// before the header's. Names only.
    fn holds_heads_of_earlier_generations(&self) -> bool {
        fs::read_dir(self.path.join(crate::store::head::HEADS_DIR)).is_ok_and(|rd| {
            rd.flatten().any(|e| {
                crate::store::head::parse_head_file(&e.file_name().to_string_lossy())
                    .is_some_and(|(_, g)| g < self.header.generation)
            })
        })
    }

    /// Whether this writer's head of this generation was refused while a conflicted
    /// copy of `vault.json` names this generation with another emergency key: a
    /// rotation made here lost the sync race to one made apart that replaced the key.
    pub(crate) fn own_head_under_other_keys(&self) -> bool {
        let own = crate::store::head::head_file(&self.writer, self.header.generation);
        let refused = self
            .refused_heads()
            .iter()
            .any(|e| matches!(e, IntegrityError::HeadRefused { file, .. } if *file == own));
        refused
            && header_copies(&self.path, &self.header)
                .iter()
                .any(|(c, _)| {
                    c.generation == self.header.generation
                        && c.recipients.emergency != self.header.recipients.emergency
                })
    }

    /// Record files the state does not hold: above their chain's head (a crashed
    /// write, or another writer's commit whose head has not arrived), of a chain the
    /// state does not know, or below what the archive already holds.
    pub(super) fn audit_beyond_head(&self) -> Vec<std::path::PathBuf> {
        let chains = self.index.chains();
        let Ok(rd) = fs::read_dir(self.path.join(AUDIT_DIR)) else {
            return vec![];
        };
        rd.flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                audit::parse_chain_record_file(&name).is_some_and(|(chain, seq)| {
                    let archived = self.index.archived(&chain);
                    !chains
                        .get(&chain)
                        .is_some_and(|h| archived < seq && seq <= h.seq)
                })
            })
            .map(|e| e.path())
            .collect()
    }

    /// Loads the state: the version 2 index, or the version 3 heads and their merge.
    pub(crate) fn load_state(&mut self) -> Result<(), IntegrityError> {
        if self.is_multi_writer() {
            self.load_heads()
        } else {
            self.index = self.read_index()?;
            Ok(())
        }
    }

    pub(crate) fn identity(&self) -> &x25519::Identity {
        match &self.key {
            Key::Owner(o) => o.identity(),
            Key::Emergency(e) => e,
        }
    }

    /// Decrypts a file of the current generation: with the key that opened the vault,
    /// else with this generation's `E`, to which every file is encrypted too. A file
    /// only `E` opens was written under a rotation to this generation made apart on
    /// another device, which kept the emergency key (docs/format.md#sibling-rotations);
    /// what it holds is believed only after the MAC under this generation's `auth_key`,
    /// which whoever holds `E` can compute anyway.
    pub(crate) fn decrypt_current(
        &self,
        bytes: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, seal::DecryptFailure> {
        match (seal::decrypt(self.identity(), bytes), &self.key) {
            (Err(seal::DecryptFailure::NotForThisKey), Key::Owner(_)) => {
                seal::decrypt(&self.emergency.identity(), bytes)
            }
            (other, _) => other,
        }
    }

    /// Reads, decrypts and authenticates the index of the header's generation.
    pub(crate) fn read_index(&self) -> Result<IndexBody, IntegrityError> {
        Ok(self.read_index_file(&self.header.index_file())?.0)
    }

    /// Reads, decrypts, authenticates and checks the version 2 index in the file `name`
    /// of the vault folder (the index, or a sync service's conflicted copy of it), with
    /// its plaintext.
    pub(crate) fn read_index_file(
        &self,
        name: &str,
    ) -> Result<(IndexBody, zeroize::Zeroizing<Vec<u8>>), IntegrityError> {
        let bytes = fsio::read_bounded(&self.path.join(name), crate::store::MAX_SHARD_BYTES)
            .map_err(|_| IntegrityError::IndexMissing(name.to_string()))?;
        let plain =
            seal::decrypt(self.identity(), &bytes).map_err(|_| IntegrityError::IndexUnreadable)?;
        let index = IndexBody::open(&plain, &self.auth).map_err(|e| match e {
            IndexError::BadMac => IntegrityError::IndexForged,
            IndexError::OldVersion(v) => IntegrityError::IndexVersion(v),
            _ => IntegrityError::IndexUnreadable,
        })?;
        self.check_state(&index)?;
        Ok((index, plain))
    }
}
