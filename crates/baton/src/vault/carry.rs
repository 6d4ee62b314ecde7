//! Carrying over changes made under the previous generation's keys after a rotation
//! (docs/format.md#carry-over): a device that was offline while another rotated
//! commits under generation N and leaves `heads/<w>.g<N>.age`; under generation N + 1
//! that head is read with the previous `E` (the header's `previous_key`), merged like
//! one more head (in memory for a reader) and committed by the next write, which
//! re-encrypts what it takes; only then are the old head and its files removed.

use std::collections::{HashMap, HashSet};
use std::fs;

use zeroize::Zeroizing;

use crate::client::{ClientRef, ClientSummary, Removal};
use crate::crypto::keys::{AuthKey, EmergencySecret};
use crate::crypto::seal::{self, DecryptFailure};
use crate::store::head::{self, HEADS_DIR, HeadBody};
use crate::store::shard::{ShardFile, ShardKind};
use crate::store::{CLIENTS_DIR, fsio, is_client_file_name};
use crate::sync::Ver;

use super::state::ReadHead;
use super::{Vault, VaultError};

/// What an open vault knows of the previous generations.
#[derive(Default)]
pub(crate) struct Carry {
    /// The previous generation's keys, if the vault has them, then those of earlier
    /// generations that the header keeps (newest first; docs/format.md#header,
    /// `earlier`).
    previous: Vec<Previous>,
    /// Stranded heads of the previous generation merged into the state (in memory until
    /// a write commits the merge).
    pub heads: Vec<CarriedHead>,
    /// After a rotation that replaced the emergency key: stranded heads of other
    /// writers, which only their own device carries over (files in `heads/`).
    pub(crate) for_their_device: Vec<String>,
    /// After such a rotation: a stranded head in this writer's name that is not one this
    /// machine wrote (its fingerprint is not in the machine's memory), so it is not
    /// carried and this writer writes nothing over it.
    pub(crate) not_own: Vec<String>,
    /// Stranded heads that cannot be carried yet (a file they need has not arrived;
    /// files in `heads/`). While one is in this writer's name, this writer writes
    /// nothing, or its next head and audit records would leave those changes behind.
    pub(crate) waiting: Vec<String>,
    /// Heads of the previous generation that the state covers (files in `heads/`):
    /// nothing to carry; they go once their writer has a head of this generation
    /// (`remove_carried_heads`).
    pub(crate) covered: Vec<String>,
}

pub(crate) struct Previous {
    pub(crate) generation: u64,
    emergency: EmergencySecret,
    auth: AuthKey,
    /// Shard files the rotation removed (docs/format.md#header, `retired_shards`).
    retired: HashSet<String>,
    /// The rotation replaced the emergency key: only this machine's own heads are
    /// carried (docs/format.md#carry-over).
    own_only: bool,
}

/// A stranded head taken into the state: what it changed after the rotation.
pub(crate) struct CarriedHead {
    /// Its name in `heads/` (of the previous generation; maybe a conflicted copy).
    pub file: String,
    pub writer: String,
    pub revision: u64,
    /// The generation it was written under.
    generation: u64,
    /// Its rows that the state of the current generation has not seen, with their
    /// catalog summaries.
    refs: Vec<ClientRef>,
    removed: Vec<Removal>,
    summaries: Vec<ClientSummary>,
    /// Whether its vault-wide settings changed after the rotation (they are not
    /// carried; the merge's record says so).
    settings_changed: bool,
    /// Every file in `clients/` it names (shards here, and the client files of its rows).
    files: HashSet<String>,
}

/// The largest head file read (as in `state`).
const MAX_HEAD_BYTES: u64 = 16 << 20;
/// The most heads of the previous generation read.
const MAX_OLD_HEADS: usize = 4096;

impl Carry {
    /// The previous generation's keys of a vault opened with `identity` (a key of the
    /// header's generation) and `emergency`: from the header's `previous_key` if it
    /// opens and authenticates, else the current `E` (a plain rotation keeps it; a head
    /// it does not authenticate is only reported).
    pub(crate) fn new(
        header: &crate::store::header::Header,
        identity: &age::x25519::Identity,
        emergency: &EmergencySecret,
        auth: &AuthKey,
    ) -> Carry {
        let Some(vid) = header.vault_id_bytes() else {
            return Carry::default();
        };
        if header.version < crate::store::header::VERSION || header.generation < 2 {
            return Carry::default();
        }
        let generation = header.generation - 1;
        let previous = header
            .previous_key
            .as_deref()
            .and_then(|armored| {
                crate::store::previous::unwrap(
                    identity,
                    auth,
                    &header.vault_id,
                    header.generation,
                    armored,
                )
                .ok()
            })
            .map(|p| {
                let earlier = p.earlier.into_iter().map(|k| Previous {
                    generation: k.generation,
                    auth: k.emergency.auth_key(&vid),
                    emergency: k.emergency,
                    retired: k.retired_shards.into_iter().collect(),
                    own_only: k.own_only,
                });
                std::iter::once(Previous {
                    generation,
                    auth: p.emergency.auth_key(&vid),
                    emergency: p.emergency,
                    retired: p.retired_shards.into_iter().collect(),
                    own_only: p.own_only,
                })
                .chain(earlier)
                .collect()
            })
            .unwrap_or_else(|| {
                vec![Previous {
                    generation,
                    auth: emergency.auth_key(&vid),
                    emergency: emergency.duplicate(),
                    retired: HashSet::new(),
                    own_only: false,
                }]
            });
        Carry {
            previous,
            ..Carry::default()
        }
    }

    /// Counts `retired` (per generation, from [`retired_in`]) as retired for the
    /// generations whose keys this vault keeps: a stranded head may name such a shard,
    /// and its rows are in that rotation's state, which this state merges
    /// (docs/format.md#sibling-rotations).
    pub(crate) fn add_retired(&mut self, retired: Vec<(u64, Vec<String>)>) {
        for (generation, files) in retired {
            if let Some(mine) = self
                .previous
                .iter_mut()
                .find(|x| x.generation == generation)
            {
                mine.retired.extend(files);
            }
        }
    }

    /// The generations whose keys the vault keeps, newest first.
    pub(crate) fn generations(&self) -> Vec<u64> {
        self.previous.iter().map(|p| p.generation).collect()
    }

    /// The keys of generation `generation`, if the vault keeps them.
    fn keys_of(&self, generation: u64) -> Option<&Previous> {
        self.previous.iter().find(|p| p.generation == generation)
    }

    /// The earlier generations' keys a rotation keeps in the next header's
    /// `previous_key` (docs/format.md#header, `earlier`).
    pub(crate) fn earlier_for_rotation(&self) -> Vec<crate::store::previous::EarlierKey> {
        self.previous
            .iter()
            .map(|p| crate::store::previous::EarlierKey {
                generation: p.generation,
                emergency: p.emergency.duplicate(),
                retired_shards: {
                    let mut v: Vec<String> = p.retired.iter().cloned().collect();
                    v.sort();
                    v
                },
                own_only: p.own_only,
            })
            .collect()
    }

    /// The rows a carried head brings, if `h` is the stand-in of one (`merge_heads`
    /// reads them instead of its shards).
    pub(crate) fn rows_of(
        &self,
        h: &HeadBody,
    ) -> Option<(Vec<ClientRef>, Vec<Removal>, Vec<ClientSummary>)> {
        // A stand-in has an empty `updated`: no head written by baton has.
        if !h.index.updated.is_empty() {
            return None;
        }
        self.heads
            .iter()
            .find(|c| c.writer == h.writer && c.revision == h.index.revision)
            .map(|c| (c.refs.clone(), c.removed.clone(), c.summaries.clone()))
    }

    /// Whether `file` (in `heads/`) is a stranded head whose changes the state shows.
    pub(crate) fn is_carried(&self, file: &str) -> bool {
        self.heads.iter().any(|c| c.file == file)
    }

    /// The stranded head in `writer`'s name that waits for a file, if any.
    pub(crate) fn waiting_of(&self, writer: &str) -> Option<&String> {
        self.waiting
            .iter()
            .find(|f| head::parse_head_file(f).is_some_and(|(w, _)| w == writer))
    }

    /// Whether `file` (in `clients/`) is named by a stranded head being carried: a file
    /// of the previous generation, which no head of this generation may name.
    pub(crate) fn names_old_file(&self, file: &str) -> bool {
        self.heads.iter().any(|c| c.files.contains(file))
    }
}

/// The shards, per generation, that the rotation which wrote header `copy` (whose `E`
/// is `e`) retired: from its `previous_key`, nothing if that does not open and
/// authenticate. Read from another device's conflicted copy of `vault.json` (a
/// rotation made apart), and from a rotation's own new header for its head's
/// `retired_apart` (docs/format.md#sibling-rotations).
pub(crate) fn retired_in(
    copy: &crate::store::header::Header,
    e: &EmergencySecret,
) -> Vec<(u64, Vec<String>)> {
    let (Some(armored), Some(vid)) = (copy.previous_key.as_deref(), copy.vault_id_bytes()) else {
        return vec![];
    };
    let Ok(p) = crate::store::previous::unwrap(
        &e.identity(),
        &e.auth_key(&vid),
        &copy.vault_id,
        copy.generation,
        armored,
    ) else {
        return vec![];
    };
    std::iter::once((copy.generation.saturating_sub(1), p.retired_shards.clone()))
        .chain(
            p.earlier
                .iter()
                .map(|k| (k.generation, k.retired_shards.clone())),
        )
        .collect()
}

impl Vault {
    /// `E` of generation `generation`: the current one, or a previous one the vault
    /// keeps.
    pub(crate) fn emergency_of(&self, generation: u64) -> Option<&EmergencySecret> {
        if generation == self.header.generation {
            return Some(&self.emergency);
        }
        self.carry.keys_of(generation).map(|p| &p.emergency)
    }

    /// Whether the vault holds the emergency key `recipient` of generation
    /// `generation`.
    pub(crate) fn holds_emergency(&self, generation: u64, recipient: &str) -> bool {
        self.emergency_of(generation)
            .is_some_and(|e| e.matches(recipient))
    }

    /// What `verify` finds in the carried heads' client files (their shards were read
    /// at open).
    pub(crate) fn carried_problems(&self) -> Vec<crate::store::IntegrityError> {
        self.carry
            .heads
            .iter()
            .flat_map(|c| &c.refs)
            .filter_map(|r| self.read_client(r).err())
            .collect()
    }

    /// Decrypts a file of the state: with the key that opened the vault, else with the
    /// previous generation's (a file a carried head names, or a record of its chain).
    pub(crate) fn decrypt_file(&self, bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptFailure> {
        match self.decrypt_current(bytes) {
            Err(DecryptFailure::NotForThisKey) => {
                // A plain rotation keeps `E`: each key is tried once.
                let mut tried = vec![self.emergency.identity().to_public().to_string()];
                for p in &self.carry.previous {
                    let id = p.emergency.identity();
                    let public = id.to_public().to_string();
                    if tried.contains(&public) {
                        continue;
                    }
                    tried.push(public);
                    match seal::decrypt(&id, bytes) {
                        Err(DecryptFailure::NotForThisKey) => continue,
                        other => return other,
                    }
                }
                Err(DecryptFailure::NotForThisKey)
            }
            other => other,
        }
    }

    /// The authentic heads of the previous generations in `heads/` (also conflicted
    /// copies), each read with its generation's keys. Heads that do not open are left
    /// alone (reported by `status` and `verify` as another generation's).
    fn read_old_heads(&self) -> Vec<ReadHead> {
        if self.carry.previous.is_empty() {
            return vec![];
        }
        let Ok(rd) = fs::read_dir(self.path.join(HEADS_DIR)) else {
            return vec![];
        };
        let mut out = Vec::new();
        for e in rd.flatten().take(MAX_OLD_HEADS * 4) {
            let name = e.file_name().to_string_lossy().to_string();
            let Some((writer, generation)) = head::parse_head_file(&name) else {
                continue;
            };
            let Some(p) = self.carry.keys_of(generation) else {
                continue;
            };
            if out.len() >= MAX_OLD_HEADS {
                continue;
            }
            let Ok(bytes) = fsio::read_bounded(&e.path(), MAX_HEAD_BYTES) else {
                continue;
            };
            let Ok(plain) = seal::decrypt(&p.emergency.identity(), &bytes) else {
                continue;
            };
            let Ok(body) = HeadBody::open(&plain, &p.auth, &writer) else {
                continue;
            };
            if body.index.vault_id != self.header.vault_id || body.index.generation != generation {
                continue;
            }
            out.push(ReadHead { file: name, body });
        }
        out.sort_by(|a, b| a.file.cmp(&b.file));
        out
    }

    /// Called by `load_heads` with the heads of the current generation: the stand-ins of
    /// the previous generation's stranded heads to merge with them
    /// (docs/format.md#carry-over). A stranded head whose files have not all arrived is
    /// left for a later open (it stays reported).
    /// Heads of this generation named in `absent` wait for their files: what they have
    /// seen does not count as in the state.
    pub(crate) fn stranded_heads(
        &mut self,
        heads: &[ReadHead],
        absent: &[String],
    ) -> Vec<ReadHead> {
        self.carry.heads.clear();
        self.carry.covered.clear();
        let Some(base) = heads.first() else {
            return vec![];
        };
        if self.carry.previous.is_empty() {
            return vec![];
        }
        let here = || heads.iter().filter(|h| !absent.contains(&h.file));
        let floor = here().fold(Ver::new(), |acc, h| acc.join(&h.body.seen));
        let settings_floor = here().fold(Ver::new(), |acc, h| acc.join(&h.body.settings_ver));
        let (mut old, covered): (Vec<ReadHead>, Vec<ReadHead>) = self
            .read_old_heads()
            .into_iter()
            .partition(|h| h.body.index.revision > floor.get(&h.body.writer));
        self.carry.covered = covered.into_iter().map(|h| h.file).collect();
        self.carry.for_their_device.clear();
        self.carry.not_own.clear();
        self.carry.waiting.clear();
        {
            // After a rotation that replaced the emergency key, whoever holds the
            // replaced keys could have written any head of a generation before it; this
            // machine vouches only for the heads it wrote (docs/format.md#carry-over).
            let (mut theirs, mut not_own) = (Vec::new(), Vec::new());
            old.retain(|h| {
                let generation = h.body.index.generation;
                if !self.carry.keys_of(generation).is_some_and(|p| p.own_only) {
                    return true;
                }
                if h.body.writer != self.writer {
                    theirs.push(h.file.clone());
                    return false;
                }
                let path = self.path.join(HEADS_DIR).join(&h.file);
                let wrote = fsio::read_bounded(&path, MAX_HEAD_BYTES)
                    .is_ok_and(|b| self.wrote_own_head(generation, &b));
                if !wrote {
                    not_own.push(h.file.clone());
                }
                wrote
            });
            self.carry.for_their_device = theirs;
            self.carry.not_own = not_own;
        }
        let bodies: Vec<&HeadBody> = old.iter().map(|h| &h.body).collect();
        let mut out = Vec::new();
        let mut carried = Vec::new();
        for i in head::uncovered_refs(&bodies) {
            let h = &old[i];
            let Some((c, stand_in)) = self.carry_rows(h, &floor, &base.body) else {
                self.carry.waiting.push(h.file.clone());
                continue;
            };
            carried.push(CarriedHead {
                settings_changed: !h.body.settings_ver.leq(&settings_floor),
                ..c
            });
            out.push(stand_in);
        }
        self.carry.heads = carried;
        out
    }

    /// The rows of stranded head `h` that the state has not seen (`floor`), and a head
    /// of the current generation that stands in for it in the merge (vault-wide fields
    /// of `base`, which it never wins: its settings version is empty). `None` while a
    /// file it needs is missing.
    fn carry_rows(
        &self,
        h: &ReadHead,
        floor: &Ver,
        base: &HeadBody,
    ) -> Option<(CarriedHead, ReadHead)> {
        let ix = &h.body.index;
        let p = self.carry.keys_of(ix.generation)?;
        let here =
            |f: &str| is_client_file_name(f) && self.path.join(CLIENTS_DIR).join(f).is_file();
        let mut files: HashSet<String> = ix.shard_files().map(str::to_string).collect();
        files.extend(h.body.deferred.iter().map(|d| d.file.clone()));
        // Shards the rotation removed hold only rows it had seen; any other missing
        // shard may be on its way.
        let mut present = ix.clone();
        for refs in [&mut present.locator, &mut present.catalog] {
            let mut keep = Vec::new();
            for r in refs.drain(..) {
                if here(&r.file) {
                    keep.push(r);
                } else if !p.retired.contains(&r.file) {
                    return None;
                }
            }
            *refs = keep;
        }
        let (refs, removed) = self.load_locator(&present).ok()?;
        files.extend(refs.iter().map(|r| r.file.clone()));
        let mut by_cid: HashMap<String, ClientSummary> = HashMap::new();
        for r in &present.catalog {
            let list: Vec<ClientSummary> =
                self.read_shard(ShardKind::Catalog, &ix.vault_id, r).ok()?;
            by_cid.extend(list.into_iter().map(|s| (s.cid.clone(), s)));
        }
        let refs: Vec<ClientRef> = refs.into_iter().filter(|r| !r.ver.leq(floor)).collect();
        let removed: Vec<Removal> = removed.into_iter().filter(|t| !t.ver.leq(floor)).collect();
        let mut summaries = Vec::with_capacity(refs.len());
        for r in &refs {
            let s = by_cid.get(&r.cid).filter(|s| s.id == r.id)?;
            if !here(&r.file) {
                return None;
            }
            summaries.push(s.clone());
        }
        let mut index = base.index.clone();
        index.revision = ix.revision;
        index.updated = String::new();
        index.audit = ix.chains();
        index.audit_head = ix.audit_head.clone();
        // Its archives, for the records of its chains the state's archive may lack
        // (a rotation to its generation made apart; the merge keeps only archives
        // that hold more of some chain than the others).
        index.audit_archive = None;
        index.audit_archives_apart = ix.archives().cloned().collect();
        index.locator = present.locator;
        index.catalog = present.catalog;
        let stand_in = ReadHead {
            file: h.file.clone(),
            body: HeadBody {
                index,
                writer: h.body.writer.clone(),
                seen: h.body.seen.clone(),
                settings_ver: Ver::new(),
                deferred: vec![],
                branches: vec![],
            },
        };
        let carried = CarriedHead {
            file: h.file.clone(),
            writer: h.body.writer.clone(),
            revision: ix.revision,
            generation: ix.generation,
            refs,
            removed,
            summaries,
            settings_changed: false,
            files,
        };
        Some((carried, stand_in))
    }

    /// Before a write (`prepare_write`): commits the merge that carries the stranded
    /// heads over, with every client file taken from them encrypted anew under this
    /// writer's names, then removes the previous generation's heads the state covers
    /// (docs/format.md#carry-over, steps 4 and 5).
    pub(crate) fn carry_over(&mut self) -> Result<(), VaultError> {
        // A stand-in whose client files had not all arrived waits (load_heads).
        let waiting: HashSet<String> = self.waiting_heads.iter().map(|w| w.file.clone()).collect();
        self.carry.heads.retain(|c| !waiting.contains(&c.file));
        // Stranded heads alone, no head of this generation here in full yet (the
        // rotation is still arriving): a head written now would name the old files
        // as they are, which the rotation removes (the simulator's Syncthing seed
        // 3002). The carry waits for the rotation.
        if !self.carry.heads.is_empty() && self.merged.is_none() {
            return Err(VaultError::RotationArriving(self.header.generation));
        }
        if !self.carry.heads.is_empty()
            && let Some(mut view) = self.merged.take()
        {
            let old: HashSet<String> = self
                .carry
                .heads
                .iter()
                .flat_map(|c| c.files.iter().cloned())
                .collect();
            for r in view.refs.iter_mut().filter(|r| old.contains(&r.file)) {
                match self.read_client(r) {
                    Ok(file) => {
                        view.files.insert(r.cid.clone(), file);
                        r.file.clear();
                        r.sha256.clear();
                    }
                    Err(e) => {
                        self.merged = Some(view);
                        return Err(e.into());
                    }
                }
            }
            // The old generation's files are removed below, not deferred.
            view.named.retain(|f| !old.contains(f));
            view.carried = self
                .carry
                .heads
                .iter()
                .map(|c| {
                    let mut clients: Vec<&str> = c
                        .refs
                        .iter()
                        .map(|r| r.id.as_str())
                        .chain(c.removed.iter().map(|t| t.name.as_str()))
                        .collect();
                    clients.sort();
                    clients.dedup();
                    let mut s =
                        format!("generation {}: {}@{}", c.generation, c.writer, c.revision);
                    if !clients.is_empty() {
                        s += &format!(" (clients {})", clients.join(", "));
                    }
                    if c.settings_changed {
                        s += " (its vault-wide settings changed under the old keys are not kept: set them again)";
                    }
                    s
                })
                .collect();
            // The stand-ins are no heads of this generation: the new head's `seen`
            // covers them, and no file of this generation waits for them.
            if let Some(state) = &mut self.heads {
                state
                    .files
                    .retain(|i| !self.carry.heads.iter().any(|c| c.file == i.file));
            }
            self.merged = Some(view);
            self.commit_merge()?;
            fsio::fault_point("carry: merge committed");
            self.carry.heads.clear();
        }
        if self.carry.heads.is_empty() && self.merged.is_none() {
            self.remove_carried_heads();
            self.remove_spent_header_copies(true)?;
        }
        Ok(())
    }

    /// Removes the previous generation's heads that the state covers, with the files
    /// in `clients/` they name that no head of this generation names: client files
    /// first, then shards, the head last (a crash leaves a head whose remaining files
    /// the next write removes). Called only on a state made of durable heads.
    fn remove_carried_heads(&self) {
        let Some(state) = &self.heads else { return };
        if crate::store::header::pending_rotation(&self.path).is_some() || !self.is_writable() {
            return;
        }
        if self.carry.previous.is_empty() {
            return;
        }
        let old = self.read_old_heads();
        let Ok(named) = self.named_files() else {
            return;
        };
        // A head of the old generation not covered yet (its files still arriving) may
        // need any old file: then nothing is removed.
        let all_covered = old
            .iter()
            .all(|h| h.body.index.revision <= state.seen.get(&h.body.writer));
        if !all_covered {
            return;
        }
        // A writer that has no head of this generation yet may still commit under the
        // old keys (its device has not received the rotation) naming its old shards:
        // they stay, with its head that names them, until it has switched; then they go
        // by name. (Telling them apart by key is unsound: after a rotation that kept the
        // emergency key, that key opens a later generation's files as well.)
        let switched = |w: &str| w == self.writer || state.files.iter().any(|i| i.writer == w);
        // What such a kept head names stays, also where another head lists it as replaced
        // (a writer that committed on the kept head's state rewrote its shards under its
        // own names): the lagging writer's next head under the old keys still names the
        // shards it did not change (the simulator's seed 1012).
        let kept: HashSet<&str> = old
            .iter()
            .filter(|h| !switched(&h.body.writer))
            .flat_map(|h| {
                h.body
                    .index
                    .shard_files()
                    .chain(h.body.deferred.iter().map(|d| d.file.as_str()))
            })
            .collect();
        for h in &old {
            let ix = &h.body.index;
            let keep = !switched(&h.body.writer);
            let remove = |f: &str| {
                if is_client_file_name(f) && !named.contains(f) && !kept.contains(f) {
                    let p = self.path.join(CLIENTS_DIR).join(f);
                    if fsio::remove_durable(&p).is_ok() {
                        fsio::fault_point("carry: old file removed");
                    }
                }
            };
            for r in &ix.locator {
                let file: Result<ShardFile<ClientRef>, _> =
                    self.read_shard_file(ShardKind::Locator, &ix.vault_id, r);
                for c in file.map(|f| f.clients).unwrap_or_default() {
                    remove(&c.file);
                }
            }
            if keep {
                continue;
            }
            for d in &h.body.deferred {
                remove(&d.file);
            }
            for f in ix.shard_files() {
                remove(f);
            }
            if fsio::remove_durable(&self.path.join(HEADS_DIR).join(&h.file)).is_ok() {
                fsio::fault_point("carry: old head removed");
            }
        }
    }
}
