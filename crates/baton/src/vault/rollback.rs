//! Rollback of a vault folder, and copies of a vault (docs/threat-model.md#rollback,
//! docs/format.md#opening).
//!
//! Every file of an older state is authentic, so only a memory outside the folder can
//! tell that a folder went back in time. The caller supplies that memory; it keeps one
//! record per vault **and folder** this machine opened: the highest revision seen there
//! and the last few states (audit record number and hash). So:
//!
//! - the same folder at a lower revision than remembered is a rollback (refused);
//! - another folder of the same vault (a USB copy, a colleague's test copy, the other
//!   device's folder) is a copy, not tampering: if a folder this machine remembers has
//!   gone on from exactly this state, this copy is **older**, by how many changes, and
//!   it is opened read-only (unless that folder no longer exists); a copy whose state
//!   no other folder went on from opens normally.

use std::path::{Path, PathBuf};

use crate::store::{IntegrityError, fsio, sha256_hex};
use crate::vault::Vault;

/// States kept per folder for telling an older copy from a diverged one.
const STATES_KEPT: usize = 32;
/// A record file is small; anything larger is not one.
const MAX_RECORD_BYTES: u64 = 16 * 1024;

/// One state of a vault folder: its revision and the last audit record (number and
/// hash), which names the state across generations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub revision: u64,
    pub seq: u64,
    pub hash: String,
}

/// What a machine remembers of one folder of a vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderRecord {
    /// The folder, as resolved when it was opened.
    pub folder: PathBuf,
    /// When it was last opened here (RFC 3339).
    pub time: String,
    /// The highest revision seen in this folder.
    pub revision: u64,
    /// The last states seen, oldest first.
    pub states: Vec<State>,
    /// Version 3: the highest revision of each writer's head seen in this folder
    /// (docs/format.md#multi-writer, "Rollback and copies"), in generation
    /// `writers_generation`.
    pub writers: crate::sync::Ver,
    pub writers_generation: u64,
    /// Version 3: the heads this machine's writer wrote in this folder, the latest of
    /// each generation, by SHA-256 of the file (docs/format.md#carry-over: after a
    /// rotation that replaced the emergency key, a device carries over only a head of
    /// the old generation it finds here).
    pub own_heads: Vec<OwnHead>,
}

/// A head this machine wrote: its generation, revision and the SHA-256 of its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnHead {
    pub generation: u64,
    pub revision: u64,
    pub sha256: String,
}

/// Own heads kept per folder: the last two of the current generation (the last may
/// not have been written) and those of the generations before.
const OWN_HEADS_KEPT: usize = 4;

/// Where a machine remembers the folders of each vault it opened.
pub trait RevisionMemory: Send + Sync {
    /// Every folder of `vault_id` this machine remembers.
    fn folders(&self, vault_id: &str) -> Vec<FolderRecord>;
    /// Stores `record` (replacing the one of the same folder). Best effort: a machine
    /// without a writable place simply does not remember.
    fn store(&self, vault_id: &str, record: &FolderRecord);
    /// A revision remembered from before memory was kept per folder: the highest seen
    /// of `vault_id` in any folder. `forget_legacy` drops it once a folder took it over.
    fn legacy(&self, _vault_id: &str) -> Option<u64> {
        None
    }
    fn forget_legacy(&self, _vault_id: &str) {}
    /// A secret this machine keeps for naming its writers (sync::writer::derive_keyed);
    /// `None`: writer ids are derived from the machine id instead.
    fn machine_secret(&self) -> Option<zeroize::Zeroizing<[u8; 32]>> {
        None
    }
}

/// This copy is older than another folder of the same vault this machine saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OlderCopy {
    /// The folder that went on from this copy's state.
    pub newer: PathBuf,
    /// How many changes that folder is ahead (audit records).
    pub behind: u64,
    /// When that folder was last opened here (RFC 3339).
    pub seen: String,
}

/// One file per vault and folder in a private folder (the CLI uses
/// `$XDG_STATE_HOME/baton/seen/`): `<vault id>-<16 hex of SHA-256(folder)>`.
#[derive(Clone, Debug)]
pub struct SeenFolder {
    dir: PathBuf,
}

impl SeenFolder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SeenFolder { dir: dir.into() }
    }

    /// The file that holds what this machine remembers of `folder` of `vault_id` (to
    /// name in a hint).
    pub fn file(&self, vault_id: &str, folder: &Path) -> PathBuf {
        let key = sha256_hex(resolved(folder).as_os_str().as_encoded_bytes());
        self.dir.join(format!("{vault_id}-{}", &key[..16]))
    }

    /// The file of the memory kept before it was per folder (one number).
    pub fn legacy_file(&self, vault_id: &str) -> PathBuf {
        self.dir.join(vault_id)
    }

    fn read_small(p: &Path) -> Option<String> {
        use std::io::Read;
        let f = std::fs::File::open(p).ok()?;
        let mut s = String::new();
        f.take(MAX_RECORD_BYTES).read_to_string(&mut s).ok()?;
        Some(s)
    }

    fn parse(text: &str) -> Option<FolderRecord> {
        let mut lines = text.lines();
        if lines.next()? != "baton-seen 1" {
            return None;
        }
        let mut r = FolderRecord {
            folder: PathBuf::new(),
            time: String::new(),
            revision: 0,
            states: vec![],
            writers: crate::sync::Ver::new(),
            writers_generation: 0,
            own_heads: vec![],
        };
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            match key {
                "folder" => r.folder = PathBuf::from(value),
                "time" => r.time = value.to_string(),
                "revision" => r.revision = value.parse().ok()?,
                "writers-generation" => r.writers_generation = value.parse().ok()?,
                "writer" => {
                    let (w, n) = value.split_once(' ')?;
                    if !crate::is_lower_hex(w, 16) {
                        return None;
                    }
                    r.writers = std::mem::take(&mut r.writers).with(w, n.parse().ok()?);
                }
                "own-head" => {
                    let (generation, revision, sha256) = two_numbers_and_a_hash(value)?;
                    r.own_heads.push(OwnHead {
                        generation,
                        revision,
                        sha256,
                    });
                }
                "state" => {
                    let (revision, seq, hash) = two_numbers_and_a_hash(value)?;
                    r.states.push(State {
                        revision,
                        seq,
                        hash,
                    });
                }
                _ => {}
            }
        }
        (!r.folder.as_os_str().is_empty()).then_some(r)
    }

    fn format(r: &FolderRecord) -> Option<String> {
        let folder = r.folder.to_str()?;
        if folder.contains('\n') {
            return None;
        }
        let mut s = format!(
            "baton-seen 1\nfolder {folder}\ntime {}\nrevision {}\n",
            r.time, r.revision
        );
        for st in &r.states {
            s.push_str(&format!("state {} {} {}\n", st.revision, st.seq, st.hash));
        }
        s.push_str(&format!("writers-generation {}\n", r.writers_generation));
        for (w, n) in r.writers.iter() {
            if crate::is_lower_hex(w, 16) {
                s.push_str(&format!("writer {w} {n}\n"));
            }
        }
        for h in &r.own_heads {
            s.push_str(&format!(
                "own-head {} {} {}\n",
                h.generation, h.revision, h.sha256
            ));
        }
        Some(s)
    }
}

impl RevisionMemory for SeenFolder {
    fn folders(&self, vault_id: &str) -> Vec<FolderRecord> {
        if !crate::is_lower_hex(vault_id, 32) {
            return vec![];
        }
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return vec![];
        };
        let prefix = format!("{vault_id}-");
        let mut out: Vec<FolderRecord> = rd
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_prefix(&prefix))
                    .is_some_and(|k| crate::is_lower_hex(k, 16))
            })
            .filter_map(|e| Self::read_small(&e.path()).and_then(|t| Self::parse(&t)))
            .collect();
        out.sort_by(|a, b| a.folder.cmp(&b.folder));
        out
    }

    fn store(&self, vault_id: &str, record: &FolderRecord) {
        if !crate::is_lower_hex(vault_id, 32) {
            return;
        }
        let Some(text) = Self::format(record) else {
            return;
        };
        if fsio::create_private_dir(&self.dir).is_ok() {
            let _ =
                fsio::write_atomic_memory(&self.file(vault_id, &record.folder), text.as_bytes());
        }
    }

    fn legacy(&self, vault_id: &str) -> Option<u64> {
        if !crate::is_lower_hex(vault_id, 32) {
            return None;
        }
        Self::read_small(&self.legacy_file(vault_id))?
            .trim()
            .parse()
            .ok()
    }

    fn forget_legacy(&self, vault_id: &str) {
        if crate::is_lower_hex(vault_id, 32) {
            let _ = std::fs::remove_file(self.legacy_file(vault_id));
        }
    }

    /// `machine-secret` in the folder: 32 random bytes in hex, made on first use.
    fn machine_secret(&self) -> Option<zeroize::Zeroizing<[u8; 32]>> {
        let p = self.dir.join("machine-secret");
        let parse = |t: &str| {
            let bytes = hex::decode(t.trim()).ok()?;
            let key: [u8; 32] = bytes.as_slice().try_into().ok()?;
            Some(zeroize::Zeroizing::new(key))
        };
        if let Some(k) = Self::read_small(&p).as_deref().and_then(parse) {
            return Some(k);
        }
        fsio::create_private_dir(&self.dir).ok()?;
        let key = zeroize::Zeroizing::new(rand::random::<[u8; 32]>());
        // A new file only: two processes making it at once agree on the first.
        match fsio::write_new(&p, hex::encode(*key).as_bytes()) {
            Ok(()) => Some(key),
            Err(_) => Self::read_small(&p).as_deref().and_then(parse),
        }
    }
}

/// A folder as the memory names it: resolved if it can be.
fn resolved(folder: &Path) -> PathBuf {
    std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf())
}

impl Vault {
    /// This vault's state as the memory names it.
    fn memory_state(&self) -> State {
        if self.is_multi_writer() {
            // Every chain's head at once (docs/format.md#multi-writer).
            let chains = serde_json::to_vec(&self.index.chains()).expect("serializable");
            return State {
                revision: self.state_revision(),
                seq: self.index.audit_records(),
                hash: crate::audit::hash(&chains),
            };
        }
        State {
            revision: self.index.revision,
            seq: self.index.audit_head.seq,
            hash: self.index.audit_head.hash.clone(),
        }
    }

    /// Checks the vault against `memory` and keeps it, so the state this handle ends
    /// at is recorded when it is dropped. A rollback of this folder is refused; an older
    /// copy of a folder this machine saw go on opens read-only ([`Vault::older_copy`]).
    pub fn guard_rollback(
        mut self,
        memory: Box<dyn RevisionMemory>,
    ) -> Result<Vault, IntegrityError> {
        let id = self.header.vault_id.clone();
        let here = resolved(&self.path);
        let folders = memory.folders(&id);
        let mine = folders.iter().find(|r| r.folder == here);
        // This machine's writer in this folder first: a writer's merge is stamped with
        // its own id and revision, the state includes the heads of the previous
        // generation it wrote (docs/format.md#carry-over), and the rollback check of
        // the audit tail is of its own chain.
        let keyed = memory.machine_secret();
        if let Some(secret) = &keyed {
            self.writer = crate::sync::writer::derive_keyed(secret, &id, &self.path);
            self.own_floor = mine.map_or(0, |r| r.writers.get(&self.writer));
            self.own_heads = mine.map_or_else(Vec::new, |r| r.own_heads.clone());
            if self.is_multi_writer() {
                self.load_heads()?;
            }
        }
        // Another writer whose head is no longer in the folder at all was forgotten
        // (docs/format.md#retired-writers; its deletion may arrive before the head that
        // forgot it) or deleted by a folder writer, which `verify` reports (its audit
        // records, of a chain no head names): not judged here. A head that went back
        // is.
        let present = |w: &str| {
            w == self.writer
                || self.heads.as_ref().is_some_and(|h| {
                    h.files.iter().any(|f| f.writer == w)
                        || self.waiting_heads.iter().any(|h| h.is_of(w))
                })
        };
        let gone: u64 = match (mine, &self.heads) {
            (Some(r), Some(h)) if r.writers_generation == self.header.generation => r
                .writers
                .iter()
                .filter(|(w, _)| !present(w))
                .map(|(w, n)| n.saturating_sub(h.seen_all.get(w)))
                .fold(0u64, u64::saturating_add),
            _ => 0,
        };
        // This machine's own changes under the previous generation's keys in a head it
        // cannot vouch for (docs/format.md#carry-over): not in the state, not carried,
        // and reported; counted as far as this machine remembers writing them.
        let not_carried: u64 = match &self.heads {
            Some(h) if !self.carry.not_own.is_empty() => self
                .own_heads
                .iter()
                .filter(|o| o.generation + 1 == self.header.generation)
                .map(|o| o.revision.saturating_sub(h.seen_all.get(&self.writer)))
                .max()
                .unwrap_or(0),
            _ => 0,
        };
        let revision = self
            .state_revision()
            .saturating_add(gone)
            .saturating_add(not_carried);
        let seen = match (mine, memory.legacy(&id)) {
            (Some(r), _) => Some(r.revision),
            // Memory from before it was per folder: it may be this folder's, so it is
            // held against this folder until this folder has its own record.
            (None, legacy) => legacy,
        };
        // A newer generation than this machine saw (a rotation on another device) may
        // leave this machine's own later change under the old keys: reported as another
        // generation's head (docs/format.md#mw-rotation), so the count starts again.
        let rotated_since = self.is_multi_writer()
            && mine.is_some_and(|r| {
                r.writers_generation != 0 && r.writers_generation < self.header.generation
            });
        if let Some(seen) = seen
            && seen > revision
            && !rotated_since
        {
            return Err(IntegrityError::VaultRolledBack { revision, seen });
        }
        // Version 3: no writer's head may be older here than this machine saw it; the
        // sum above misses one writer going back while another went on.
        // Within one generation only: a rotation elsewhere may leave a change of this
        // machine's under the old keys, reported as another generation's head, not a
        // rollback (docs/format.md#mw-rotation).
        if let (Some(r), Some(h)) = (mine, &self.heads)
            && r.writers_generation == self.header.generation
        {
            for (w, n) in r.writers.iter().filter(|(w, _)| present(w)) {
                let here = h.seen_all.get(w);
                if here < n {
                    return Err(IntegrityError::VaultRolledBack {
                        revision: here,
                        seen: n,
                    });
                }
            }
        }
        let state = self.memory_state();
        self.older = folders
            .iter()
            .filter(|r| {
                r.folder != here && r.folder.join(crate::store::header::HEADER_FILE).exists()
            })
            .filter_map(|r| {
                let last = r.states.last()?;
                let went_on = last.seq > state.seq
                    && r.states
                        .iter()
                        .any(|s| s.seq == state.seq && s.hash == state.hash);
                went_on.then(|| OlderCopy {
                    newer: r.folder.clone(),
                    behind: last.seq - state.seq,
                    seen: r.time.clone(),
                })
            })
            .max_by_key(|o| o.behind);
        if keyed.is_some() {
            self.check_audit_tail()?;
        }
        if mine.is_none() && memory.legacy(&id).is_some() {
            self.remember(memory.as_ref(), &folders);
            memory.forget_legacy(&id);
        }
        self.memory = Some(memory);
        Ok(self)
    }

    /// Set when this folder is an older copy of another folder of the same vault that
    /// this machine saw go on from this very state: then no change is written here.
    pub fn older_copy(&self) -> Option<&OlderCopy> {
        self.older.as_ref()
    }

    /// What `memory` holds of this folder, or an empty record for it.
    fn record_of(&self, folders: &[FolderRecord]) -> FolderRecord {
        let here = resolved(&self.path);
        folders
            .iter()
            .find(|r| r.folder == here)
            .cloned()
            .unwrap_or(FolderRecord {
                folder: here,
                time: String::new(),
                revision: 0,
                states: vec![],
                writers: crate::sync::Ver::new(),
                writers_generation: 0,
                own_heads: vec![],
            })
    }

    /// Keeps the fingerprint of the head this writer is about to write (`write_head`):
    /// a device that was offline during a rotation replacing the emergency key carries
    /// over only a head it finds here (docs/format.md#carry-over).
    pub(crate) fn remember_own_head(&self, generation: u64, revision: u64, file: &[u8]) {
        let Some(memory) = &self.memory else { return };
        let mut record = self.record_of(&memory.folders(&self.header.vault_id));
        // The one before stays: this one may never be written (a crash, a failed write).
        let mut same: Vec<OwnHead> = record
            .own_heads
            .iter()
            .filter(|h| h.generation == generation)
            .cloned()
            .collect();
        same.drain(..same.len().saturating_sub(1));
        record.own_heads.retain(|h| h.generation < generation);
        record.own_heads.extend(same);
        record.own_heads.push(OwnHead {
            generation,
            revision,
            sha256: sha256_hex(file),
        });
        let excess = record.own_heads.len().saturating_sub(OWN_HEADS_KEPT);
        record.own_heads.drain(..excess);
        memory.store(&self.header.vault_id, &record);
    }

    /// Whether this machine wrote `file` as its head of `generation` in this folder.
    pub(crate) fn wrote_own_head(&self, generation: u64, file: &[u8]) -> bool {
        let sha = sha256_hex(file);
        self.own_heads
            .iter()
            .any(|h| h.generation == generation && h.sha256 == sha)
    }

    /// Records this folder's current state in `memory`.
    fn remember(&self, memory: &dyn RevisionMemory, folders: &[FolderRecord]) {
        let mut record = self.record_of(folders);
        let state = self.memory_state();
        record.time = crate::time::now();
        record.revision = record.revision.max(state.revision);
        if let Some(h) = &self.heads {
            if record.writers_generation != self.header.generation {
                record.writers = crate::sync::Ver::new();
                record.writers_generation = self.header.generation;
            }
            record.writers = record.writers.join(&h.seen_all);
        }
        if record.states.last() != Some(&state) {
            record.states.retain(|s| s.seq < state.seq);
            record.states.push(state);
        }
        let excess = record.states.len().saturating_sub(STATES_KEPT);
        record.states.drain(..excess);
        memory.store(&self.header.vault_id, &record);
    }
}

impl Drop for Vault {
    fn drop(&mut self) {
        if let Some(m) = self.memory.take() {
            let folders = m.folders(&self.header.vault_id);
            self.remember(m.as_ref(), &folders);
        }
    }
}

/// `<u64> <u64> <64 lowercase hex>`: the value of a memory line `state` or `own-head`.
fn two_numbers_and_a_hash(value: &str) -> Option<(u64, u64, String)> {
    let mut p = value.split(' ');
    let a = p.next()?.parse().ok()?;
    let b = p.next()?.parse().ok()?;
    let hash = p.next()?.to_string();
    crate::is_lower_hex(&hash, 64).then_some((a, b, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn record(folder: &Path, revision: u64) -> FolderRecord {
        FolderRecord {
            writers: crate::sync::Ver::new(),
            writers_generation: 0,
            own_heads: vec![],
            folder: folder.to_path_buf(),
            time: "2026-12-01T00:00:00Z".into(),
            revision,
            states: vec![State {
                revision,
                seq: revision,
                hash: "ab".repeat(32),
            }],
        }
    }

    #[test]
    fn one_record_per_folder_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let m = SeenFolder::new(dir.path().join("seen"));
        assert!(m.folders(ID).is_empty());
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        m.store(ID, &record(&a, 7));
        m.store(ID, &record(&b, 3));
        m.store(ID, &record(&a, 9));
        assert_eq!(m.folders(ID), vec![record(&a, 9), record(&b, 3)]);
        assert_ne!(m.file(ID, &a), m.file(ID, &b));
    }

    #[test]
    fn a_vault_id_that_is_not_a_name_is_never_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let m = SeenFolder::new(dir.path());
        m.store("../escape", &record(dir.path(), 5));
        assert!(m.folders("../escape").is_empty());
        assert_eq!(m.legacy("../escape"), None);
        assert!(!dir.path().parent().unwrap().join("escape").exists());
    }

    #[test]
    fn garbage_and_huge_files_read_as_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let m = SeenFolder::new(dir.path());
        let f = m.file(ID, Path::new("/x"));
        std::fs::write(&f, "not a record").unwrap();
        assert!(m.folders(ID).is_empty());
        std::fs::write(&f, "baton-seen 1\nfolder /x\nrevision 1\n".repeat(2000)).unwrap();
        assert!(m.folders(ID).is_empty());
        std::fs::write(m.legacy_file(ID), "1".repeat(100)).unwrap();
        assert_eq!(m.legacy(ID), None);
        std::fs::write(m.legacy_file(ID), "42\n").unwrap();
        assert_eq!(m.legacy(ID), Some(42));
    }
}
