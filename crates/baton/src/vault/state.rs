//! The version 3 state (docs/format.md#multi-writer): every writer's head, the merge of
//! the heads that no other head covers, and what a commit needs to write its own head.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;

use crate::audit::{AuditHead, Chains, LEGACY_CHAIN};
use crate::client::{ClientFile, ClientRef, ClientSummary, Removal};
use crate::store::IntegrityError;
use crate::store::fsio;
use crate::store::head::{self, HEADS_DIR, HeadBody};
use crate::store::index::IndexBody;
use crate::sync::{ClientVersion, Merged, Ver, merge_client, names};

use super::Vault;

/// The largest head file read. A head holds no client rows, only shard references
/// and the files it keeps for writers that have not synced (about 52 bytes each, so
/// some 300,000 of them; docs/format.md#mw-commit).
const MAX_HEAD_BYTES: u64 = 16 << 20;
/// The most heads a folder may hold for one generation (one per writer and copy).
const MAX_HEADS: usize = 4096;

/// What one pass of `load_heads` settles on: every head read (this generation's
/// first), the positions of those that wait for their files, and the forked pairs.
struct Settled {
    heads: Vec<ReadHead>,
    waiting: Vec<usize>,
    apart: Vec<(usize, usize)>,
}

/// One head file as read and authenticated.
#[derive(Clone, Debug)]
pub(crate) struct ReadHead {
    /// Its name in `heads/` (a sync service's conflicted copy keeps its own name).
    pub file: String,
    pub body: HeadBody,
}

/// What an open version 3 vault knows beside the state's index body.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeadState {
    /// Every head file of this generation (also covered ones and copies).
    pub files: Vec<HeadInfo>,
    /// The join of every head's `seen`: what this state includes.
    pub seen: Ver,
    /// The version of the vault-wide fields.
    pub settings_ver: Ver,
    /// The join of every head's `seen`, also of heads still waiting for their files:
    /// what the rollback memory compares (docs/format.md#multi-writer).
    pub seen_all: Ver,
}

/// A head whose files have not all arrived (a sync in progress): not merged yet.
pub(crate) struct WaitingHead {
    /// Its name in `heads/`.
    pub file: String,
    /// What it misses, for messages ("its catalog shard 3 (clients/….age)").
    pub missing: String,
    /// The audit records it includes, per chain (`IndexBody::chains`).
    pub chains: crate::audit::Chains,
}

impl WaitingHead {
    /// Whether it is `writer`'s head.
    pub fn is_of(&self, writer: &str) -> bool {
        head::parse_head_file(&self.file).is_some_and(|(w, _)| w == writer)
    }
}

/// One head file as far as commits need it.
#[derive(Clone, Debug)]
pub(crate) struct HeadInfo {
    /// Its name in `heads/`.
    pub file: String,
    pub writer: String,
    pub revision: u64,
    pub seen: Ver,
    pub deferred: Vec<head::Deferred>,
    /// When the head was written (its state's `updated`, RFC 3339).
    pub updated: String,
}

/// A writer whose head has not changed for this many days, and whose state the
/// committing writer's includes, is retired: replaced files are no longer kept for it
/// (docs/format.md#retired-writers).
pub const RETIRE_AFTER_DAYS: u64 = 30;

impl HeadInfo {
    pub(crate) fn of(file: &str, body: &HeadBody) -> HeadInfo {
        HeadInfo {
            file: file.to_string(),
            writer: body.writer.clone(),
            revision: body.index.revision,
            seen: body.seen.clone(),
            deferred: body.deferred.clone(),
            updated: body.index.updated.clone(),
        }
    }

    /// Whole days from the head's time to `now`; 0 for a time ahead of the clock, and
    /// also for one that cannot be read (never retired by a damaged time).
    pub(crate) fn idle_days(&self, now: std::time::SystemTime) -> u64 {
        humantime::parse_rfc3339_weak(&self.updated)
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .map_or(0, |d| d.as_secs() / 86_400)
    }

    /// Whether a state with `seen` includes this head and its writer has been idle
    /// for `RETIRE_AFTER_DAYS` (docs/format.md#retired-writers).
    pub(crate) fn retired(&self, seen: &Ver, now: std::time::SystemTime) -> bool {
        seen.get(&self.writer) >= self.revision && self.idle_days(now) >= RETIRE_AFTER_DAYS
    }
}

/// Several heads merged in memory: a reader's view of a folder whose writers have not
/// merged each other yet, or what a writer's merge commits.
#[derive(Debug, Default)]
pub(crate) struct MergedView {
    /// Every client, sorted by id; a merged client's `file` is empty until written.
    pub refs: Vec<ClientRef>,
    pub removed: Vec<Removal>,
    /// One summary per entry of `refs`.
    pub summaries: Vec<ClientSummary>,
    /// Merged client files not (yet) on disk, by cid.
    pub files: HashMap<String, ClientFile>,
    /// The merged heads' bodies (`verify` checks each).
    pub heads: Vec<IndexBody>,
    /// Clients whose merge keeps versions in conflict.
    pub conflicts: Vec<String>,
    /// Every file in `clients/` one of the merged heads names.
    pub named: HashSet<String>,
    /// The merged heads: writer and revision.
    pub from: Vec<(String, u64)>,
    /// Vault-wide settings of heads made apart that the merge did not keep: "writer:
    /// field, field" (named in the `vault.merge` record; docs/format.md#merge).
    pub settings_dropped: Vec<String>,
    /// Heads of the previous generation this merge carries over, as the `vault.merge`
    /// record names them (docs/format.md#carry-over).
    pub carried: Vec<String>,
}

impl Vault {
    /// Whether the vault is in the multi-writer format.
    pub fn is_multi_writer(&self) -> bool {
        self.header.version >= 3
    }

    /// The audit chain this handle appends to: its writer's, or before the upgrade the
    /// legacy chain.
    pub(crate) fn own_chain(&self) -> String {
        if self.is_multi_writer() {
            self.writer.clone()
        } else {
            LEGACY_CHAIN.to_string()
        }
    }

    /// The audit chains of `index` this folder answers for (its writer's and the
    /// legacy one), with their heads: another writer's records above its head may be
    /// its commit still syncing, so nothing is chained onto or judged by them here
    /// (docs/format.md#multi-writer, "Rollback and copies").
    pub(crate) fn chains_held_here(&self, index: &IndexBody) -> Vec<(String, AuditHead)> {
        let own = self.own_chain();
        index
            .chains()
            .into_iter()
            .filter(|(c, _)| *c == own || c == LEGACY_CHAIN)
            .collect()
    }

    /// The file whose replacement commits this handle's changes: its writer's head in
    /// version 3, the index in version 2 (tests and benchmarks tamper with it).
    pub fn commit_point(&self) -> std::path::PathBuf {
        match self.is_multi_writer() {
            true => self
                .path
                .join(head::head_file(&self.writer, self.header.generation)),
            false => self.path.join(self.header.index_file()),
        }
    }

    /// The file of record `seq` of this handle's audit chain.
    pub fn own_record_file(&self, seq: u64) -> std::path::PathBuf {
        self.path
            .join(crate::audit::AUDIT_DIR)
            .join(crate::audit::chain_record_file(&self.own_chain(), seq))
    }

    /// Files in `clients/` that some head keeps after replacing them, until every
    /// writer's head has seen the replacement (docs/format.md#mw-commit), with the
    /// writers still behind.
    pub fn kept_files(&self) -> Vec<(String, Vec<String>)> {
        let Some(h) = &self.heads else { return vec![] };
        let mut out = Vec::new();
        for i in &h.files {
            for d in &i.deferred {
                let behind: Vec<String> = h
                    .files
                    .iter()
                    .filter(|o| o.seen.get(&i.writer) < d.since)
                    .map(|o| o.writer.clone())
                    .collect();
                out.push((d.file.clone(), behind));
            }
        }
        out
    }

    /// Files in `heads/` named like heads that are no authentic head of this vault:
    /// ignored, and reported by `verify` (docs/threat-model.md).
    pub fn refused_heads(&self) -> Vec<IntegrityError> {
        self.refused_heads
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Heads in `heads/` whose files have not all arrived yet (a sync in progress),
    /// so their changes are not shown yet.
    pub fn waiting_heads(&self) -> Vec<String> {
        self.waiting_heads.iter().map(|w| w.file.clone()).collect()
    }

    /// This folder's writer id (docs/format.md#writers).
    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// One number that only grows as the folder's state moves forward: the index's
    /// revision, or in version 3 the sum of the state's version vector. The rollback
    /// memory compares it (docs/format.md#multi-writer, "Rollback and copies").
    pub fn state_revision(&self) -> u64 {
        match &self.heads {
            Some(h) => h
                .seen
                .iter()
                .map(|(_, n)| n)
                .fold(0u64, u64::saturating_add),
            None => self.index.revision,
        }
    }

    /// The revision this writer's next head gets: one more than any head shows of it.
    /// Also never below what this machine remembers of this writer in this folder
    /// (a restored backup must not make it reuse a revision another head has seen).
    pub(crate) fn next_own_revision(&self) -> u64 {
        let seen = self.heads.as_ref().map_or(0, |h| {
            h.seen.get(&self.writer).max(h.seen_all.get(&self.writer))
        });
        seen.max(self.own_floor)
            .max(self.index.revision * u64::from(!self.is_multi_writer()))
            .saturating_add(1)
    }

    /// Clients whose versions from different devices are in conflict, by id (what
    /// `status` and `list` mark; docs/format.md#merge).
    pub fn conflicted_clients(&self) -> Vec<String> {
        match &self.merged {
            Some(m) => m.conflicts.clone(),
            None => self
                .catalog()
                .map(|list| {
                    list.into_iter()
                        .filter(|s| s.conflicts > 0)
                        .map(|s| s.id)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The first locator or catalog shard `ix` names that is not in `clients/` (names
    /// only).
    pub(crate) fn missing_shard<'a>(
        &self,
        ix: &'a IndexBody,
    ) -> Option<(
        crate::store::shard::ShardKind,
        &'a crate::store::shard::ShardRef,
    )> {
        use crate::store::shard::ShardKind;
        let dir = self.path.join(crate::store::CLIENTS_DIR);
        ix.locator
            .iter()
            .map(|r| (ShardKind::Locator, r))
            .chain(ix.catalog.iter().map(|r| (ShardKind::Catalog, r)))
            .find(|(_, r)| !dir.join(&r.file).is_file())
    }

    /// Reads and authenticates every head of the current generation in `heads/`, also
    /// sync services' conflicted copies of one (docs/format.md#conflict-copies).
    pub(crate) fn read_heads(&self) -> Result<Vec<ReadHead>, IntegrityError> {
        let dir = self.path.join(HEADS_DIR);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(IntegrityError::NotADirectory(HEADS_DIR)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
            Err(_) => return Err(IntegrityError::NotADirectory(HEADS_DIR)),
        }
        let rd = fs::read_dir(&dir).map_err(|_| IntegrityError::NotADirectory(HEADS_DIR))?;
        let mut out = Vec::new();
        let mut siblings = Vec::new();
        let mut bad = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some((writer, generation)) = head::parse_head_file(&name) else {
                continue;
            };
            if generation != self.header.generation {
                continue;
            }
            if out.len() + siblings.len() + bad.len() >= MAX_HEADS {
                return Err(refused(&name, "more heads than any vault has"));
            }
            let read = (|| {
                let bytes = fsio::read_bounded(&e.path(), MAX_HEAD_BYTES)
                    .map_err(|_| refused(&name, "not a readable file of a head's size"))?;
                let plain = self
                    .decrypt_current(&bytes)
                    .map_err(|_| refused(&name, "it cannot be decrypted"))?;
                let body = HeadBody::open(&plain, &self.auth, &writer)
                    .map_err(|e| refused(&name, &e.to_string()))?;
                // A head of a rotation to this generation made apart on another device
                // that kept the emergency key: another owner key, the same `E`
                // (docs/format.md#sibling-rotations). Checked as if it named the
                // header's recipients, and taken only if another head does name them
                // (below): the heads are what authenticates the header's owner key
                // (an open with `E` checks nothing else).
                let r = &body.index.recipients;
                let sibling =
                    *r != self.header.recipients && r.emergency == self.header.recipients.emergency;
                let mut checked = body.index.clone();
                checked.recipients = self.header.recipients.clone();
                // The share set is checked for the state only: a covered head may be
                // older than a member addition another writer made.
                self.check_state_body(if sibling { &checked } else { &body.index })?;
                Ok::<_, IntegrityError>((body, sibling))
            })();
            match read {
                Ok((body, false)) => out.push(ReadHead { file: name, body }),
                Ok((body, true)) => siblings.push(ReadHead { file: name, body }),
                Err(e) => bad.push(e),
            }
        }
        // A sibling rotation's heads, once a head here authenticates the header's
        // recipients: what is written next goes to those.
        let mut sibling_files = Vec::new();
        for mut h in siblings {
            if !out
                .iter()
                .any(|o| o.body.index.recipients == self.header.recipients)
            {
                bad.push(IntegrityError::IndexMismatch("recipients"));
            } else {
                let owner =
                    std::mem::replace(&mut h.body.index.recipients, self.header.recipients.clone())
                        .owner;
                sibling_files.push((h.file.clone(), owner));
                out.push(h);
            }
        }
        *self.sibling_heads.lock().unwrap_or_else(|p| p.into_inner()) = sibling_files;
        // A file in heads/ that is no authentic head of this vault cannot be believed,
        // and ignoring it loses nothing: it is reported (`verify`, `status`) while the
        // authentic heads are read. With none authentic, the vault does not open.
        if out.is_empty()
            && let Some(e) = bad.first()
        {
            return Err(e.clone());
        }
        *self.refused_heads.lock().unwrap_or_else(|p| p.into_inner()) = bad;
        out.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(out)
    }

    /// Loads the state of a version 3 vault: the one head no other covers, or the merge
    /// of several (in memory; a writer commits it, see `commit_merge`).
    pub(crate) fn load_heads(&mut self) -> Result<(), IntegrityError> {
        let current = self.read_heads()?;
        if current.is_empty() {
            return Err(IntegrityError::NoHead(self.header.generation));
        }
        // Heads of this generation that wait for their files: what they have seen is not
        // in the state, so it must not decide which changes of a stranded head the state
        // already holds (it would take them for carried while the state lacks them, and
        // the next head would claim them seen: the simulator's Syncthing seed 2001).
        // Found waiting below, they are left out and the stranded heads read again.
        // The shards every rotation to this generation retired, also one made apart
        // whose header lost (docs/format.md#sibling-rotations): a stranded head may
        // name one.
        let retired: Vec<(u64, Vec<String>)> = current
            .iter()
            .flat_map(|h| &h.body.index.retired_apart)
            .map(|r| (r.generation, r.shards.clone()))
            .collect();
        self.carry.add_retired(retired);
        let mut absent: Vec<String> = Vec::new();
        let (heads, waiting, apart) = loop {
            let Settled {
                heads,
                waiting,
                apart,
            } = self.settle_heads(&current, &absent)?;
            let newly: Vec<String> = waiting
                .iter()
                .filter(|&&i| i < current.len())
                .map(|&i| heads[i].file.clone())
                .filter(|f| !absent.contains(f))
                .collect();
            if newly.is_empty() || absent.len() > MAX_HEADS {
                break (heads, waiting, apart);
            }
            absent.extend(newly);
        };
        self.note_waiting(&heads, &waiting, &apart);
        Ok(())
    }

    /// One pass of `load_heads`: the state from `current` (the heads of this
    /// generation) and the stranded heads of earlier ones, with the heads of this
    /// generation named in `absent` left out of the floor that stranded heads are read
    /// against. Returns every head read (this generation's first), the positions of
    /// those that wait, and the forked pairs.
    fn settle_heads(
        &mut self,
        current: &[ReadHead],
        absent: &[String],
    ) -> Result<Settled, IntegrityError> {
        let mut heads = current.to_vec();
        // The previous generation's stranded heads merge like heads of this one
        // (docs/format.md#carry-over).
        let stranded = self.stranded_heads(&heads, absent);
        heads.extend(stranded);
        // One writer's two histories (a restored backup): neither covers the other.
        let apart = self.apart_heads(&heads);
        let is_apart =
            |positions: &[usize], j: usize, i: usize| apart.contains(&(positions[j], positions[i]));
        // Each history's head is read from the shards that are here: the other history
        // may have replaced (removed) some it names, which held only rows from before
        // the fork. Either side may be the one with the higher revision.
        let mut forked: Vec<usize> = apart.iter().flat_map(|&(j, i)| [j, i]).collect();
        forked.sort_unstable();
        forked.dedup();
        self.partial_heads = forked
            .into_iter()
            .filter(|&i| {
                !heads[i]
                    .body
                    .index
                    .shard_files()
                    .all(|f| self.path.join(crate::store::CLIENTS_DIR).join(f).is_file())
            })
            .filter_map(|i| self.partial_head(&heads[i].body))
            .collect();

        // A head whose files have not all arrived (a sync in progress: a service may
        // deliver a head before the files it names) waits; it is not merged, nothing
        // it may need is removed meanwhile (`knows_every_head`), and it is read again
        // once its files are here. If no head is complete, the error names what is
        // missing.
        // This writer's own head never waits: its files were written here before it.
        let complete = |h: &HeadBody| {
            h.writer == self.writer
                || self.partial_rows(h).is_some()
                || h.index
                    .shard_files()
                    .all(|f| self.path.join(crate::store::CLIENTS_DIR).join(f).is_file())
        };
        // Only a head the state is read from needs its files: a covered one is not
        // read (and may be a retired writer's whose replaced files went, see
        // `waits_for`). A head that waits may uncover heads it covered, so repeat.
        let mut waiting: Vec<usize> = Vec::new();
        loop {
            let usable: Vec<&HeadBody> = (0..heads.len())
                .filter(|i| !waiting.contains(i))
                .map(|i| &heads[i].body)
                .collect();
            let positions: Vec<usize> = (0..heads.len()).filter(|i| !waiting.contains(i)).collect();
            let incomplete: Vec<usize> =
                head::uncovered_apart(&usable, &|j, i| is_apart(&positions, j, i))
                    .into_iter()
                    .map(|j| positions[j])
                    .filter(|&i| !complete(&heads[i].body))
                    .collect();
            if incomplete.is_empty() {
                break;
            }
            waiting.extend(incomplete);
        }
        if waiting.len() == heads.len() {
            waiting.clear();
        }
        loop {
            match self.load_from(&heads, &waiting, &apart) {
                Ok(()) => break,
                Err((e, Some(i))) if !waiting.contains(&i) && waiting.len() + 1 < heads.len() => {
                    let _ = e;
                    waiting.push(i);
                }
                Err((e, _)) => return Err(e),
            }
        }
        Ok(Settled {
            heads,
            waiting,
            apart,
        })
    }

    /// The rest of `load_heads` once the state is read: what waits, what is forked,
    /// the branches and what every head has seen.
    fn note_waiting(&mut self, heads: &[ReadHead], waiting: &[usize], apart: &[(usize, usize)]) {
        self.waiting_heads = waiting
            .iter()
            .map(|&i| {
                let h = &heads[i].body.index;
                let missing = self
                    .missing_shard(h)
                    .map(|(kind, r)| {
                        format!(
                            "its {kind} shard {} ({}/{})",
                            r.shard,
                            crate::store::CLIENTS_DIR,
                            r.file
                        )
                    })
                    .unwrap_or_else(|| "a client file it names".into());
                WaitingHead {
                    file: heads[i].file.clone(),
                    missing,
                    chains: h.chains(),
                }
            })
            .collect();
        // A writer that reused change numbers another head has seen (a restored
        // backup) is not covered by that head (`HeadBody::covers`): both histories
        // are shown, and `verify` names it.
        self.forked_heads = heads
            .iter()
            .enumerate()
            .filter(|(i, h)| {
                heads.iter().any(|g| g.body.forks(&h.body)) || apart.iter().any(|p| p.1 == *i)
            })
            .map(|(_, h)| (h.body.writer.clone(), h.file.clone()))
            .collect();
        let bodies: Vec<&HeadBody> = heads.iter().map(|h| &h.body).collect();
        self.own_branches = super::fork::branches_of(&self.writer, &bodies, apart);
        self.branches = Vec::new();
        for h in &bodies {
            for b in &h.branches {
                let named = (h.writer.clone(), b.clone());
                if !self.branches.contains(&named) {
                    self.branches.push(named);
                }
            }
        }
        let all = heads
            .iter()
            .fold(Ver::new(), |acc, h| acc.join(&h.body.seen));
        if let Some(h) = &mut self.heads {
            h.seen_all = all;
        }
    }

    /// `load_heads` without the heads `waiting`; on a missing client file, the error
    /// and the head (by position in `heads`) whose row named it.
    fn load_from(
        &mut self,
        heads: &[ReadHead],
        waiting: &[usize],
        apart: &[(usize, usize)],
    ) -> Result<(), (IntegrityError, Option<usize>)> {
        let usable: Vec<usize> = (0..heads.len()).filter(|i| !waiting.contains(i)).collect();
        let bodies: Vec<&HeadBody> = usable.iter().map(|&i| &heads[i].body).collect();
        let up = head::uncovered_apart(&bodies, &|j, i| apart.contains(&(usable[j], usable[i])));
        // Heads that each cover the other (only a holder of the keys can write them):
        // no state can be chosen.
        if up.is_empty() {
            return Err((
                IntegrityError::HeadRefused {
                    file: format!("{HEADS_DIR}/"),
                    reason: "its heads each claim to include the other".into(),
                },
                None,
            ));
        }
        let mut state = HeadState {
            files: usable
                .iter()
                .map(|&i| HeadInfo::of(&heads[i].file, &heads[i].body))
                .collect(),
            seen: bodies.iter().fold(Ver::new(), |acc, b| acc.join(&b.seen)),
            ..Default::default()
        };
        self.located = Default::default();
        self.removed_clients = Default::default();
        self.merged = None;
        if let [one] = up[..] {
            let h = &bodies[one];
            self.check_share_set(&h.index).map_err(|e| (e, None))?;
            self.index = h.index.clone();
            state.settings_ver = h.settings_ver.clone();
            self.heads = Some(state);
            return Ok(());
        }
        // Several heads: merge them. A writer's merge stamps what it collapses with
        // the revision it will commit.
        self.heads = Some(state);
        let stamp_rev = self.next_own_revision();
        let writer = self.writer.clone();
        let stamp = self.is_writable().then_some((writer.as_str(), stamp_rev));
        let chosen: Vec<&HeadBody> = up.iter().map(|&i| bodies[i]).collect();
        let (index, settings_ver, view) = self
            .merge_heads(&chosen, stamp)
            .map_err(|(e, at)| (e, at.map(|j| usable[up[j]])))?;
        self.check_share_set(&index).map_err(|e| (e, None))?;
        self.index = index;
        if let Some(s) = &mut self.heads {
            s.settings_ver = settings_ver;
        }
        let _ = self.located.set(view.refs.clone());
        let _ = self.removed_clients.set(view.removed.clone());
        self.merged = Some(Box::new(view));
        Ok(())
    }

    /// Merges the states of `heads` (docs/format.md#merge): per client, the rows no
    /// other row has seen; client files are read only where versions made apart remain.
    /// Returns the vault-wide index fields (no shard references: the merged tables are
    /// in the view), the settings version and the view.
    pub(crate) fn merge_heads(
        &self,
        heads: &[&HeadBody],
        stamp: Option<(&str, u64)>,
    ) -> Result<(IndexBody, Ver, MergedView), (IntegrityError, Option<usize>)> {
        enum Row {
            Live(ClientRef),
            Gone(Removal),
        }
        let mut rows: BTreeMap<String, Vec<(usize, Row)>> = BTreeMap::new();
        let mut catalogs: Vec<HashMap<String, ClientSummary>> = Vec::new();
        let mut view = MergedView::default();
        for (i, h) in heads.iter().enumerate() {
            let at = |e| (e, Some(i));
            // A carried head brings only the rows this generation has not seen.
            let (refs, removed, summaries) =
                match self.carry.rows_of(h).or_else(|| self.partial_rows(h)) {
                    Some(rows) => rows,
                    None => {
                        let (refs, removed) = self.load_locator(&h.index).map_err(at)?;
                        let summaries = self.catalog_of(&h.index, &refs).map_err(at)?;
                        (refs, removed, summaries)
                    }
                };
            view.named.extend(h.index.shard_files().map(str::to_string));
            view.named.extend(refs.iter().map(|r| r.file.clone()));
            view.heads.push(h.index.clone());
            view.from.push((h.writer.clone(), h.index.revision));
            catalogs.push(summaries.into_iter().map(|s| (s.cid.clone(), s)).collect());
            for r in refs {
                rows.entry(r.id.clone())
                    .or_default()
                    .push((i, Row::Live(r)));
            }
            for t in removed {
                rows.entry(t.name.clone())
                    .or_default()
                    .push((i, Row::Gone(t)));
            }
        }
        let ver_of = |r: &Row| match r {
            Row::Live(c) => c.ver.clone(),
            Row::Gone(t) => t.ver.clone(),
        };
        for (id, list) in rows {
            // Drop rows another row has seen, and rows equal to one kept.
            let mut kept: Vec<(usize, Row)> = Vec::new();
            for (i, r) in list.iter().map(|(i, r)| (*i, r)) {
                let v = ver_of(r);
                let superseded = list
                    .iter()
                    .any(|(_, o)| v.leq(&ver_of(o)) && v != ver_of(o));
                let same = kept.iter().any(|(_, k)| match (k, r) {
                    (Row::Live(a), Row::Live(b)) => a == b,
                    (Row::Gone(a), Row::Gone(b)) => a.ver == b.ver,
                    _ => false,
                });
                if !superseded && !same {
                    kept.push((
                        i,
                        match r {
                            Row::Live(c) => Row::Live(c.clone()),
                            Row::Gone(t) => Row::Gone(t.clone()),
                        },
                    ));
                }
            }
            if kept.iter().all(|(_, r)| matches!(r, Row::Gone(_))) {
                view.removed
                    .extend(kept.into_iter().filter_map(|(_, r)| match r {
                        Row::Gone(t) => Some(t),
                        Row::Live(_) => None,
                    }));
                continue;
            }
            if let [(i, Row::Live(c))] = &kept[..] {
                let summary = catalogs[*i]
                    .get(&c.cid)
                    .cloned()
                    .ok_or((IntegrityError::CatalogMismatch, None))?;
                view.refs.push(c.clone());
                view.summaries.push(summary);
                continue;
            }
            // Versions made apart: read them and merge entry by entry.
            let mut versions = Vec::with_capacity(kept.len());
            for (i, r) in kept {
                versions.push(match r {
                    Row::Live(c) => ClientVersion::Live {
                        ver: c.ver.clone(),
                        file: Box::new(self.read_client_file(&c).map_err(|e| (e, Some(i)))?),
                    },
                    Row::Gone(t) => ClientVersion::Removed(t),
                });
            }
            match merge_client(versions, stamp) {
                Merged::One(ClientVersion::Removed(t)) => view.removed.push(t),
                Merged::Gone(ts) => view.removed.extend(ts),
                Merged::One(ClientVersion::Live { ver, file }) => {
                    view.push_file(ver, *file);
                }
                Merged::Merged { ver, file } => {
                    if !crate::sync::conflicts_of(&file).is_empty() {
                        view.conflicts.push(id.clone());
                    }
                    view.push_file(ver, *file);
                }
            }
        }
        // Two clients under one cid (only a forged or broken state makes that).
        let mut cids = HashSet::new();
        if let Some(c) = view.refs.iter().find(|c| !cids.insert(c.cid.clone())) {
            return Err((
                IntegrityError::ClientMismatch {
                    client: c.id.clone(),
                },
                None,
            ));
        }

        // The vault-wide fields: the newest settings version, then the newest update,
        // then the higher writer id (docs/format.md#merge).
        let winner = heads
            .iter()
            .copied()
            .max_by(|a, b| {
                use crate::sync::Order;
                match a.settings_ver.compare(&b.settings_ver) {
                    Order::Before => std::cmp::Ordering::Less,
                    Order::After => std::cmp::Ordering::Greater,
                    _ => (&a.index.updated, &a.writer).cmp(&(&b.index.updated, &b.writer)),
                }
            })
            .ok_or((IntegrityError::NoHead(self.header.generation), None))?;
        for h in heads.iter().filter(|h| h.writer != winner.writer) {
            if h.settings_ver.leq(&winner.settings_ver) {
                continue;
            }
            let (a, b) = (&h.index, &winner.index);
            let fields: Vec<&str> = [
                ("holders", a.holders != b.holders),
                ("owner", a.owner != b.owner),
                ("last drill", a.last_drill != b.last_drill),
                ("retention", a.retention_months != b.retention_months),
            ]
            .into_iter()
            .filter_map(|(n, differs)| differs.then_some(n))
            .collect();
            if !fields.is_empty() {
                view.settings_dropped
                    .push(format!("{}: {}", h.writer, fields.join(", ")));
            }
        }
        let mut index = winner.index.clone();
        // A share set only grows within a generation (add-holder): the largest.
        if let Some(h) = heads
            .iter()
            .filter(|h| h.index.share_set.id == index.share_set.id)
            .max_by_key(|h| h.index.share_set.checks.len())
            && h.index.share_set != index.share_set
        {
            // With the holders that go with it (the new member's row).
            index.share_set = h.index.share_set.clone();
            index.holders = h.index.holders.clone();
        }
        index.locator.clear();
        index.catalog.clear();
        index.updated = heads
            .iter()
            .map(|h| h.index.updated.clone())
            .max()
            .unwrap_or_default();
        index.audit = join_chains(heads.iter().map(|h| (h.writer.as_str(), h.index.chains())));
        // One archive per rotation to this generation: more than one only after
        // rotations made apart (docs/format.md#sibling-rotations). Each that holds
        // more of some chain than the others is kept; one that does not is left out
        // (a carried head's archive of its older generation, which the state's own
        // archive holds whole).
        index.audit_archive = None;
        index.audit_archives_apart = vital_archives(heads.iter().flat_map(|h| h.index.archives()));
        if !index.audit_archives_apart.is_empty() {
            index.audit_archive = Some(index.audit_archives_apart.remove(0));
        }
        index.retired_apart = crate::store::index::join_retired(
            heads
                .iter()
                .filter(|h| h.index.generation == index.generation)
                .flat_map(|h| &h.index.retired_apart),
        );
        let settings_ver = heads
            .iter()
            .fold(Ver::new(), |acc, h| acc.join(&h.settings_ver));
        Ok((index, settings_ver, view))
    }

    /// A client file named by a locator row, checked, without the merged view.
    fn read_client_file(&self, c: &ClientRef) -> Result<ClientFile, IntegrityError> {
        let plain = self.client_plaintext(c)?;
        let file: ClientFile =
            serde_json::from_slice(&plain).map_err(|_| IntegrityError::ClientUnreadable {
                client: c.id.clone(),
            })?;
        self.check_client_names(c, [&file.format, &file.vault_id, &file.cid, &file.id])?;
        Ok(file)
    }

    /// Checks a state body (an index or a head) against the header: vault id,
    /// generation, recipients, share set, and shard names that stay inside `clients/`.
    pub(crate) fn check_state(&self, index: &IndexBody) -> Result<(), IntegrityError> {
        self.check_state_body(index)?;
        self.check_share_set(index)
    }

    /// The state's share set must be the header's, which may lag one member addition
    /// behind (docs/format.md#writes).
    pub(crate) fn check_share_set(&self, index: &IndexBody) -> Result<(), IntegrityError> {
        if index.share_set != self.header.share_set && !self.header.share_set.lags(&index.share_set)
        {
            return Err(IntegrityError::IndexMismatch("share set"));
        }
        Ok(())
    }

    /// `check_state` without the share set.
    fn check_state_body(&self, index: &IndexBody) -> Result<(), IntegrityError> {
        use crate::store::shard::ShardKind;
        if index.vault_id != self.header.vault_id {
            return Err(IntegrityError::IndexMismatch("vault id"));
        }
        if index.generation != self.header.generation {
            return Err(IntegrityError::IndexMismatch("generation"));
        }
        if index.recipients != self.header.recipients {
            return Err(IntegrityError::IndexMismatch("recipients"));
        }
        for (kind, refs) in [
            (ShardKind::Locator, &index.locator),
            (ShardKind::Catalog, &index.catalog),
        ] {
            if !crate::store::shard::valid_refs(refs) {
                return Err(IntegrityError::ShardDamaged {
                    kind,
                    shard: refs.first().map(|r| r.shard.clone()).unwrap_or_default(),
                });
            }
        }
        if let Some(a) = &index.audit_archive
            && !a.chains.keys().all(|w| crate::is_lower_hex(w, 16))
        {
            return Err(IntegrityError::IndexMismatch("audit archive"));
        }
        Ok(())
    }

    /// Whether the head files in `heads/` of this generation are exactly the ones this
    /// handle read (or wrote): a head that arrived since may need any file.
    pub(crate) fn knows_every_head(&self) -> bool {
        let Some(h) = &self.heads else { return false };
        let rd = match fs::read_dir(self.path.join(HEADS_DIR)) {
            Ok(rd) => rd,
            Err(e) => return e.kind() == io::ErrorKind::NotFound,
        };
        rd.flatten().all(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            match head::parse_head_file(&name) {
                Some((_, g)) if g == self.header.generation => {
                    h.files.iter().any(|i| i.file == name)
                }
                _ => true,
            }
        })
    }

    /// Whether a head with `seen` covers every head file now in `heads/` of this
    /// generation: then no reader needs the files it replaced.
    pub(crate) fn covers_all_heads(&self, seen: &Ver) -> bool {
        let rd = match fs::read_dir(self.path.join(HEADS_DIR)) {
            Ok(rd) => rd,
            Err(e) => return e.kind() == io::ErrorKind::NotFound,
        };
        rd.flatten().all(|e| {
            match head::parse_head_file(&e.file_name().to_string_lossy()) {
                Some((w, g)) if g == self.header.generation => {
                    // The revision is inside the encrypted head: trust only what was read.
                    let known = self.heads.as_ref().and_then(|h| {
                        h.files
                            .iter()
                            .find(|i| i.file == e.file_name().to_string_lossy())
                            .map(|i| i.revision)
                    });
                    known.is_some_and(|r| seen.get(&w) >= r)
                        && e.metadata().is_ok_and(|m| m.is_file())
                }
                _ => true,
            }
        })
    }

    /// Removes the heads' conflicted copies that a head with `seen` covers (their
    /// content is merged; docs/format.md#conflict-copies).
    pub(crate) fn remove_covered_head_copies(&self, seen: &Ver) {
        let Some(h) = &self.heads else { return };
        for i in &h.files {
            if names::is_conflict_copy(&i.file) && seen.get(&i.writer) >= i.revision {
                let _ = fsio::remove_durable(&self.path.join(HEADS_DIR).join(&i.file));
            }
        }
    }
}

impl MergedView {
    pub(crate) fn push_file(&mut self, ver: Ver, file: ClientFile) {
        self.refs.push(ClientRef {
            id: file.id.clone(),
            cid: file.cid.clone(),
            file: String::new(),
            sha256: String::new(),
            ver,
        });
        self.summaries.push(file.summary());
        self.files.insert(file.cid.clone(), file);
    }
}

/// Each chain's furthest head among several states.
///
/// Each chain's pin from the head that is furthest along it; at one record number, the
/// chain's own writer's pin, which only differs from another's where that writer forked
/// (docs/format.md#forked-writers): its own history is the one its records continue.
pub(crate) fn join_chains<'a>(all: impl Iterator<Item = (&'a str, Chains)>) -> Chains {
    let mut out = Chains::new();
    for (writer, chains) in all {
        for (chain, head) in chains {
            match out.get(&chain) {
                Some(h) if h.seq > head.seq || (h.seq == head.seq && chain != writer) => {}
                _ => {
                    out.insert(chain, head);
                }
            }
        }
    }
    out
}

/// Of the archives the heads pin, those each chain's records are read from: the
/// largest first, then any that holds more of some chain than every one before it
/// (docs/format.md#sibling-rotations); the same archive pinned twice counts once.
fn vital_archives<'a>(
    all: impl Iterator<Item = &'a crate::audit::AuditArchive>,
) -> Vec<crate::audit::AuditArchive> {
    let mut all: Vec<&crate::audit::AuditArchive> = all.collect();
    all.sort_by(|a, b| {
        (b.total().unwrap_or(0), &a.file, &a.sha256).cmp(&(
            a.total().unwrap_or(0),
            &b.file,
            &b.sha256,
        ))
    });
    all.dedup();
    let mut kept: Vec<crate::audit::AuditArchive> = Vec::new();
    for a in all {
        let chains =
            std::iter::once(crate::audit::LEGACY_CHAIN).chain(a.chains.keys().map(String::as_str));
        let more = |c: &str| kept.iter().all(|k| k.count(c) < a.count(c));
        if kept.is_empty() || chains.into_iter().any(more) {
            kept.push(a.clone());
        }
    }
    kept
}

fn refused(file: &str, reason: &str) -> IntegrityError {
    IntegrityError::HeadRefused {
        file: format!("{HEADS_DIR}/{file}"),
        reason: reason.to_string(),
    }
}

impl Vault {
    /// Commits the merge of several writers' heads that `load_heads` made
    /// (docs/format.md#mw-commit): merged client files and every shard under this
    /// writer's names, one `vault.merge` record, then this writer's head, which covers
    /// every head merged.
    pub(crate) fn commit_merge(&mut self) -> Result<(), super::VaultError> {
        use crate::audit::{AuditAction, AuditEvent, AuditHead};
        let Some(mut view) = self.merged.take() else {
            return Ok(());
        };
        let revision = self.next_own_revision();
        let time = crate::time::now();
        let from: Vec<String> = view.from.iter().map(|(w, r)| format!("{w}@{r}")).collect();
        let mut detail = format!("merged the heads {}", from.join(", "));
        if !view.conflicts.is_empty() {
            detail += &format!(
                "; versions in conflict kept for: {}",
                view.conflicts.join(", ")
            );
        }
        if !view.carried.is_empty() {
            detail += &format!("; carried over from {}", view.carried.join("; "));
        }
        if !view.settings_dropped.is_empty() {
            detail += &format!(
                "; settings changed apart, not kept (set them again): {}",
                view.settings_dropped.join("; ")
            );
        }
        let result = (|| {
            let (record, rec_plain) = self.write_record(
                AuditEvent::new(AuditAction::VaultMerge, None, detail),
                &time,
            )?;
            let head = AuditHead {
                seq: record.seq,
                hash: crate::audit::hash(&rec_plain),
            };
            let next = self.index.clone();
            match self.write_merged_head(&mut view, next, head, revision, &time, true)? {
                Some(e) => Err(e),
                None => Ok::<_, super::VaultError>(()),
            }
        })();
        match result {
            Ok(()) => {
                self.located = view.refs.into();
                self.removed_clients = view.removed.into();
                Ok(())
            }
            Err(e) => {
                // Nothing is committed before the head: read the folder again.
                drop(view);
                let _ = self.load_heads();
                Err(e)
            }
        }
    }
}

impl Vault {
    /// Writes a merged state (`view`, on the vault-wide fields of `next`) as this
    /// writer's head at `revision`, after its record `head`: the merged client files and
    /// every shard under this writer's names, then the head. With `defer`, the files the
    /// merged states named that it no longer needs join the head's deferred list
    /// (docs/format.md#mw-commit); without (the upgrade, whose cleanup removes them once
    /// the header says version 3), they are left where they are.
    pub(crate) fn write_merged_head(
        &mut self,
        view: &mut MergedView,
        mut next: IndexBody,
        head: AuditHead,
        revision: u64,
        time: &str,
        defer: bool,
    ) -> Result<Option<super::VaultError>, super::VaultError> {
        use crate::store::shard::ShardKind;
        next.locator.clear();
        next.catalog.clear();
        for r in &mut view.refs {
            if r.file.is_empty() {
                let file = &view.files[&r.cid];
                let plain = crate::crypto::secret::json_bytes(file);
                (r.file, r.sha256) = self.write_new_file(&plain)?;
            }
        }
        let mut ignored = Vec::new();
        let groups = crate::store::locator::group(&view.refs);
        let mut gone: BTreeMap<String, Vec<Removal>> = BTreeMap::new();
        for t in &view.removed {
            gone.entry(crate::store::locator::shard_of(&t.name))
                .or_default()
                .push(t.clone());
        }
        let shards: std::collections::BTreeSet<String> =
            groups.keys().chain(gone.keys()).cloned().collect();
        for shard in shards {
            let rows = groups.get(&shard).cloned().unwrap_or_default();
            let mut removed = gone.remove(&shard).unwrap_or_default();
            removed.sort_by(|a, b| (&a.name, &a.time).cmp(&(&b.name, &b.time)));
            self.replace_shard(
                ShardKind::Locator,
                &mut next,
                shard,
                (rows, removed),
                &mut ignored,
            )?;
        }
        let summaries = std::mem::take(&mut view.summaries);
        for (shard, list) in crate::store::catalog::apply(BTreeMap::new(), summaries, &[]) {
            self.replace_shard(
                ShardKind::Catalog,
                &mut next,
                shard,
                (list, vec![]),
                &mut ignored,
            )?;
        }
        next.revision = revision;
        next.updated = time.to_string();
        next.audit_head = head.clone();
        next.audit.insert(self.own_chain(), head);
        // The files the merged heads named that the merge no longer needs.
        let named: HashSet<&str> = next
            .shard_files()
            .chain(view.refs.iter().map(|r| r.file.as_str()))
            .collect();
        let mut obsolete: Vec<String> = view
            .named
            .iter()
            .filter(|f| defer && !named.contains(f.as_str()))
            .cloned()
            .collect();
        obsolete.sort();
        self.write_head(next, false, obsolete, None)
    }
}

/// Review of version 3 (branch review-v3): authenticated but hostile heads (a holder of
/// the keys, a future second key holder, or a buggy writer) must not panic a reader.
#[cfg(test)]
mod review_v3_tests {
    use super::*;
    use crate::crypto::seal;
    use crate::crypto::secret::Passphrase;
    use crate::vault::Access;

    const PASS: &str = "review v3 unit test";
    const OTHER: &str = "bbbbbbbbbbbbbbbb";

    fn put_head(v: &Vault, body: &HeadBody) {
        let sealed = body.seal(&v.auth);
        let p = v
            .path
            .join(head::head_file(&body.writer, body.index.generation));
        fs::write(p, seal::encrypt(&v.recipients, &sealed)).unwrap();
    }

    fn opens_without_panic(path: &std::path::Path, then: fn(&Vault)) -> bool {
        let path = path.to_path_buf();
        std::panic::catch_unwind(move || {
            if let Ok(v) = Vault::open(&path, &Passphrase::new(PASS.into()), Access::Read) {
                then(&v);
            }
        })
        .is_ok()
    }

    /// Two authentic heads that each cover the other (writer ids reused, or a hostile
    /// key holder): `uncovered` returns no head at all, and `load_heads` goes on to
    /// `merge_heads(&[])`, whose `expect("at least two heads")` panics on every open.
    #[test]
    fn heads_that_cover_each_other_do_not_panic_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let v = crate::vault::test_vault(&dir.path().join("v"), PASS);
        let mine = v.read_heads().unwrap().remove(0).body;
        let mut a = mine.clone();
        a.seen = a.seen.clone().with(OTHER, 1);
        let mut b = mine.clone();
        b.writer = OTHER.into();
        b.index.revision = 1;
        b.seen = Ver::of(OTHER, 1).with(&mine.writer, mine.index.revision);
        b.deferred = vec![];
        put_head(&v, &a);
        put_head(&v, &b);
        let path = v.path.clone();
        drop(v);
        assert!(
            opens_without_panic(&path, |_| {}),
            "opening a folder whose two heads cover each other panicked"
        );
    }

    /// Counters in an authentic head are data: an archive whose per-chain counts add up
    /// past u64::MAX makes `audit_raw` overflow (`through + sum`: a panic in debug, a
    /// wrapped total in release that passes `list.len() == total` and then indexes
    /// `list[off + i]` out of range). `baton audit` panics instead of naming the archive;
    /// `check_chain_for_write` (`a.count(chain) + 1`) and `merge_heads` do the same sums.
    #[test]
    fn an_archive_with_overflowing_counts_does_not_panic_the_audit() {
        let dir = tempfile::tempdir().unwrap();
        let v = crate::vault::test_vault(&dir.path().join("v"), PASS);
        let mut mine = v.read_heads().unwrap().remove(0).body;
        let archive = br#"{"format":"baton-audit-archive","version":1,"records":[]}"#;
        let bytes = seal::encrypt(&v.recipients, archive);
        let file = crate::audit::archive_file(1);
        fs::write(v.path.join(crate::audit::AUDIT_DIR).join(&file), &bytes).unwrap();
        mine.index.audit_archive = Some(crate::audit::AuditArchive {
            file,
            through: 0,
            sha256: crate::store::sha256_hex(&bytes),
            // 1 + u64::MAX wraps to 0 = the archive's length in a release build; then
            // this writer's one archived record is `list[off]` of an empty list.
            chains: [(mine.writer.clone(), 1), (OTHER.to_string(), u64::MAX)].into(),
        });
        put_head(&v, &mine);
        let path = v.path.clone();
        drop(v);
        assert!(
            opens_without_panic(&path, |v| {
                let _ = v.audit_log();
            }),
            "reading the audit log of an authentic head with huge archive counts panicked"
        );
    }

    /// A writer idle for `RETIRE_AFTER_DAYS` whose state is included is retired: a
    /// commit no longer keeps replaced files for it (docs/format.md#retired-writers); a
    /// writer idle for less is waited for.
    #[test]
    fn replaced_files_are_kept_for_a_recent_writer_not_for_a_retired_one() {
        use crate::vault::changes::{EntryFields, NewClient};
        for (days, kept) in [(1u64, true), (RETIRE_AFTER_DAYS, false)] {
            let dir = tempfile::tempdir().unwrap();
            let v = crate::vault::test_vault(&dir.path().join("v"), PASS);
            let mut mine = v.read_heads().unwrap().remove(0).body;
            let mut other = mine.clone();
            other.writer = OTHER.into();
            other.index.revision = 1;
            other.seen = Ver::of(OTHER, 1);
            other.deferred = vec![];
            let then = crate::replay::now() - std::time::Duration::from_secs(days * 86_400 + 60);
            other.index.updated = humantime::format_rfc3339_seconds(then).to_string();
            mine.seen = mine.seen.clone().with(OTHER, 1);
            put_head(&v, &other);
            put_head(&v, &mine);
            let path = v.path.clone();
            drop(v);
            let mut v = Vault::open(&path, &Passphrase::new(PASS.into()), Access::Write).unwrap();
            v.add_client(NewClient {
                id: "acme".into(),
                ..Default::default()
            })
            .unwrap();
            let before = v.clients().unwrap()[0].file.clone();
            v.add_entry("acme", "root", EntryFields::default()).unwrap();
            let replaced = path.join(crate::store::CLIENTS_DIR).join(&before);
            let held: Vec<String> = v
                .kept_files()
                .into_iter()
                .filter(|(_, behind)| behind.iter().any(|w| w == OTHER))
                .map(|(f, _)| f)
                .collect();
            assert_eq!(held.contains(&before), kept, "idle {days} days: {held:?}");
            assert_eq!(replaced.exists(), kept, "idle {days} days");
            let w = v.writers().into_iter().find(|w| w.writer == OTHER).unwrap();
            assert_eq!(w.retired, !kept, "{w:?}");
            assert_eq!(w.idle_days, days);
            assert_eq!(v.verify(), vec![]);
            let findings = v.status(&crate::time::now()).unwrap().findings;
            let notice = crate::status::Finding::RetiredWriters {
                writers: vec![OTHER.into()],
            };
            assert_eq!(findings.contains(&notice), !kept, "{findings:?}");
        }
    }

    /// Every read of a head is bounded (1 MiB), but a head's `deferred` list is not:
    /// while one writer is offline (a laptop in a drawer, format.md#mw-commit "A writer
    /// that never writes again keeps such files"), every commit of another adds its
    /// replaced client file and shards (about 3 × 52 bytes) to its head. After some
    /// thousands of commits the writer writes a head that no reader accepts ("not a
    /// readable file of a head's size"), and the vault no longer opens anywhere.
    #[test]
    fn a_head_that_keeps_many_files_stays_readable() {
        use crate::audit::{AuditAction, AuditEvent};
        let dir = tempfile::tempdir().unwrap();
        let mut v = crate::vault::test_vault(&dir.path().join("v"), PASS);
        let writer = v.writer.clone();
        let revision = v.index.revision;
        {
            let h = v.heads.as_mut().unwrap();
            // A writer that has seen none of this writer's replacements (offline).
            h.files.push(HeadInfo {
                file: format!("{OTHER}.g1.age"),
                writer: OTHER.into(),
                revision: 1,
                seen: Ver::of(OTHER, 1),
                deferred: vec![],
                updated: String::new(),
            });
            let own = h.files.iter_mut().find(|i| i.writer == writer).unwrap();
            // What about 7 000 commits while that writer was away leave behind.
            own.deferred = (0..22_000u64)
                .map(|i| head::Deferred {
                    file: format!("{:032x}.age", u128::from(i) + (1u128 << 120)),
                    since: revision,
                })
                .collect();
        }
        v.commit(
            AuditEvent::new(AuditAction::SettingsRetention, None, "x"),
            vec![],
            &[],
        )
        .unwrap();
        let path = v.path.clone();
        drop(v);
        let opened = Vault::open(&path, &Passphrase::new(PASS.into()), Access::Read);
        assert!(
            opened.is_ok(),
            "the writer's own head is refused by every reader: {:?}",
            opened.err().map(|e| e.to_string())
        );
    }
}
