//! The commit engine (docs/format.md#writes): every change is one atomic switch of the
//! index, after all new files are durable.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use crate::audit::{self, AUDIT_DIR, AuditEvent, AuditHead, AuditRecord};
use crate::client::{ClientFile, ClientRef, ClientSummary, Removal};
use crate::crypto::seal;
use crate::store::fsio::{self};
use crate::store::head::{self, Deferred, HEADS_DIR, HeadBody};
use crate::store::header::HEADER_FILE;
use crate::store::index::IndexBody;
use crate::store::shard::{ShardFile, ShardKind, ShardRef};
use crate::store::{catalog, locator};
use crate::sync::{Ver, stamp_change};

use super::error::*;
use super::{Key, Vault};
use crate::store::IntegrityError;
use crate::store::header::write_header_file;
use crate::store::{CLIENTS_DIR, is_client_file_name, sha256_hex};
use crate::time::now;

/// The vault-wide fields whose version is `settings_ver` (docs/format.md#merge).
fn settings_of(ix: &IndexBody) -> String {
    serde_json::to_string(&(&ix.holders, &ix.owner, &ix.last_drill, ix.retention_months))
        .expect("serializable")
}

/// Tombstones grouped by locator shard, each group sorted by id.
fn group_removed(list: &[Removal]) -> std::collections::BTreeMap<String, Vec<Removal>> {
    let mut out: std::collections::BTreeMap<String, Vec<Removal>> = Default::default();
    for t in list {
        out.entry(locator::shard_of(&t.name))
            .or_default()
            .push(t.clone());
    }
    for l in out.values_mut() {
        l.sort_by(|a, b| (&a.name, &a.time).cmp(&(&b.name, &b.time)));
    }
    out
}

impl Vault {
    pub(crate) fn require_write(&self) -> Result<(), VaultError> {
        self.require_lock()?;
        // A write now would be missing from the new generation (docs/format.md#rotation).
        if let Some(generation) = crate::store::header::pending_rotation(&self.path) {
            return Err(VaultError::RotationPending(generation));
        }
        // A rotation made on another device whose files are still arriving is no
        // broken log (docs/format.md#rotation-arriving): the records it archived are
        // gone before its vault.json is here, or its vault.json is here before the
        // archive it pins.
        self.check_chain_for_write().map_err(|p| {
            let arriving = match &p {
                audit::AuditProblem::Missing(_) => {
                    crate::store::survey::arriving_generation(&self.path, self.header.generation)
                }
                // (Also the archive of a rotation to this or an earlier generation made
                // apart on another device, docs/format.md#sibling-rotations.)
                audit::AuditProblem::Archive(f) if !self.path.join(AUDIT_DIR).join(f).exists() => {
                    audit::parse_archive_file(f).filter(|g| *g <= self.header.generation)
                }
                _ => None,
            };
            arriving.map_or(VaultError::BrokenAuditLog(p), VaultError::RotationArriving)
        })?;
        Ok(())
    }

    pub(crate) fn require_lock(&self) -> Result<(), VaultError> {
        if let Some(o) = &self.older {
            return Err(VaultError::OlderCopy {
                newer: o.newer.clone(),
                behind: o.behind,
            });
        }
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
        self.prepare_write()?;
        self.commit_unchecked(event, upserts, removes, edit_index)
    }

    /// Commits now what `prepare_write` would commit before the next change: the upgrade
    /// of a version 2 vault and the merge of several writers' heads (`baton sync`
    /// after a pull). Returns whether anything was written.
    pub fn merge(&mut self) -> Result<bool, VaultError> {
        self.require_write()?;
        let due = !self.is_multi_writer() || self.merged.is_some();
        self.prepare_write()?;
        Ok(due)
    }

    /// Whether the state is the merge of several writers' heads that no commit holds
    /// yet (a reader's view; `merge` commits it).
    pub fn has_unmerged_heads(&self) -> bool {
        self.merged.is_some()
    }

    /// Before the first change of this handle: upgrade a version 2 vault and commit the
    /// merge of several writers' heads (docs/format.md#multi-writer), so that the change
    /// is made on top of everything the folder holds.
    pub(crate) fn prepare_write(&mut self) -> Result<(), VaultError> {
        // This folder's own head set aside because a file it names is missing: a new
        // head would cover it and drop its changes (docs/format.md#retired-writers).
        if let Some(w) = self.waiting_heads.iter().find(|w| w.is_of(&self.writer)) {
            return Err(VaultError::OwnHeadIncomplete {
                file: w.file.clone(),
                missing: w.missing.clone(),
            });
        }
        // This folder's own head of this generation that does not open with this
        // vault's keys: the next head would replace the file and its changes with it
        // (docs/format.md#sibling-rotations).
        let own_file = crate::store::head::head_file(&self.writer, self.header.generation);
        if let Some(IntegrityError::HeadRefused { file, reason }) = self
            .refused_heads()
            .into_iter()
            .find(|e| matches!(e, IntegrityError::HeadRefused { file, .. } if *file == own_file))
        {
            return Err(VaultError::OwnHeadUnreadable { file, reason });
        }
        // Another device's head that holds later records of this writer's own chain
        // than the state (it merged changes this folder made, then a rotation or a
        // merge put them only there) waits for a file: a write now would take the
        // numbers of those records and set them aside (docs/format.md#retired-writers).
        let own = self.own_chain();
        let held = self.index.chains().get(&own).map_or(0, |h| h.seq);
        if let Some(w) = self
            .waiting_heads
            .iter()
            .find(|w| w.chains.get(&own).is_some_and(|p| p.seq > held))
        {
            return Err(VaultError::OwnChangesArriving {
                file: w.file.clone(),
                missing: w.missing.clone(),
            });
        }
        // This writer's own changes made under the previous generation's keys that
        // cannot be carried yet: a write now would leave them behind, and its audit
        // records would take the numbers of theirs (docs/format.md#carry-over).
        if let Some(file) = self.carry.waiting_of(&self.writer) {
            return Err(VaultError::OwnHeadIncomplete {
                file: file.clone(),
                missing: "a file it names".into(),
            });
        }
        // A head of the previous generation in this writer's name that this machine
        // did not write: this writer's next records would follow it (docs/format.md#carry-over).
        if let Some(file) = self.carry.not_own.first() {
            return Err(IntegrityError::StrandedNotOwn {
                file: format!("{HEADS_DIR}/{file}"),
                generation: self.header.generation - 1,
            }
            .into());
        }
        if !self.is_multi_writer() {
            self.upgrade()?;
        } else {
            // An upgrade interrupted after its header write left the index.
            self.remove_upgraded_index();
            // Changes made under the previous generation's keys after a rotation.
            self.carry_over()?;
        }
        if self.merged.is_some() {
            self.commit_merge()?;
        }
        Ok(())
    }

    pub(super) fn commit_unchecked(
        &mut self,
        event: AuditEvent,
        upserts: Vec<ClientFile>,
        removes: &[String],
        edit_index: impl FnOnce(&mut IndexBody),
    ) -> Result<(), VaultError> {
        self.commit_change(event, upserts, removes, edit_index, None)
    }

    /// `commit_unchecked`; with `forget`, the head no longer waits for that writer
    /// (`forget_writer`, docs/format.md#retired-writers).
    pub(super) fn commit_change(
        &mut self,
        event: AuditEvent,
        mut upserts: Vec<ClientFile>,
        removes: &[String],
        edit_index: impl FnOnce(&mut IndexBody),
        forget: Option<&str>,
    ) -> Result<(), VaultError> {
        // A change is made on one state: several heads are merged first.
        if self.merged.is_some() {
            self.commit_merge()?;
        }
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
                return Err(VaultError::ClientTwice(f.id.clone()));
            }
        }
        drop(cids);
        // A change of vault-wide fields only (a settings or rotation record) needs no
        // client table, so it works even where a locator shard cannot be read.
        let touches_clients = !upserts.is_empty() || !removes.is_empty();
        let existing = if touches_clients {
            self.clients()?.to_vec()
        } else {
            vec![]
        };
        for f in &upserts {
            if existing.iter().any(|c| c.id == f.id && c.cid != f.cid)
                || upserts.iter().any(|g| g.id == f.id && g.cid != f.cid)
            {
                return Err(VaultError::ClientExists(f.id.clone()));
            }
        }
        let multi = self.is_multi_writer();
        let revision = if multi {
            self.next_own_revision()
        } else {
            self.index.revision + 1
        };
        let time = now();
        // Versions (docs/format.md#multi-writer, "Versions"): each changed entry and
        // field gets the join of what was known of it plus this revision.
        let mut tombstones: Vec<Removal> = if multi && touches_clients {
            self.client_tombstones()?.to_vec()
        } else {
            vec![]
        };
        if multi {
            for f in &mut upserts {
                let old = match existing.iter().find(|c| c.cid == f.cid) {
                    Some(c) => Some(self.read_client(c)?),
                    None => None,
                };
                stamp_change(old.as_ref(), f, &self.writer, revision, &time).map_err(|source| {
                    VaultError::InConflict {
                        client: f.id.clone(),
                        source,
                    }
                })?;
            }
        }
        // 1. The audit record. A leftover with this number is from a crashed write.
        let (record, rec_plain) = self.write_record(event, &time)?;

        // 2. Client files under fresh names, then the locator and catalog shards the
        // change touches, also under fresh names.
        let mut next = self.index.clone();
        let mut obsolete: Vec<String> = Vec::new();
        let before = existing;
        let before_tombstones = tombstones.clone();
        let mut clients = before.clone();
        let shards = catalog::touched(upserts.iter().map(|f| f.cid.as_str()), removes);
        let mut summaries: Vec<ClientSummary> = Vec::with_capacity(upserts.len());
        for file in upserts {
            let plain = crate::crypto::secret::json_bytes(&file);
            let (fid, sha256) = self.write_new_file(&plain)?;
            let old = clients.iter().position(|c| c.cid == file.cid);
            let ver = match (multi, old) {
                (false, _) => Ver::new(),
                (true, Some(i)) => clients[i].ver.clone().with(&self.writer, revision),
                (true, None) => {
                    // A client added again under a removed client's id covers that
                    // removal.
                    let known = tombstones
                        .iter()
                        .filter(|t| t.name == file.id)
                        .fold(Ver::new(), |acc, t| acc.join(&t.ver));
                    tombstones.retain(|t| t.name != file.id);
                    known.with(&self.writer, revision)
                }
            };
            let located = ClientRef {
                id: file.id.clone(),
                cid: file.cid.clone(),
                file: fid,
                sha256,
                ver,
            };
            summaries.push(file.summary());
            match old {
                Some(i) => obsolete.push(std::mem::replace(&mut clients[i], located).file),
                None => clients.push(located),
            }
        }
        clients.retain(|c| {
            let keep = !removes.contains(&c.cid);
            if !keep {
                obsolete.push(c.file.clone());
                if multi {
                    tombstones.push(Removal {
                        name: c.id.clone(),
                        ver: c.ver.clone().with(&self.writer, revision),
                        time: time.clone(),
                    });
                }
            }
            keep
        });
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        let (old_groups, new_groups) = (locator::group(&before), locator::group(&clients));
        let (old_gone, new_gone) = (
            group_removed(&before_tombstones),
            group_removed(&tombstones),
        );
        let keys: std::collections::BTreeSet<&String> = old_groups
            .keys()
            .chain(new_groups.keys())
            .chain(old_gone.keys())
            .chain(new_gone.keys())
            .collect();
        for shard in keys {
            if old_groups.get(shard) != new_groups.get(shard)
                || old_gone.get(shard) != new_gone.get(shard)
            {
                let rows = new_groups.get(shard).cloned().unwrap_or_default();
                let gone = new_gone.get(shard).cloned().unwrap_or_default();
                self.replace_shard(
                    ShardKind::Locator,
                    &mut next,
                    shard.clone(),
                    (rows, gone),
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
            self.replace_shard(
                ShardKind::Catalog,
                &mut next,
                shard,
                (list, vec![]),
                &mut obsolete,
            )?;
        }
        // A head names only its own writer's shard files (docs/format.md#mw-commit):
        // another writer removes its replaced shards once every head it knows has seen
        // the replacement, and this head may not have reached it yet. While a rotation
        // is settled (its record after a failure, an abort or a resume) a shard that
        // cannot be read is left as it is, since settling must work with a damaged
        // shard; every other one is still made this writer's own.
        if multi {
            let settling = crate::store::header::pending_rotation(&self.path).is_some();
            self.own_every_shard(&mut next, &mut obsolete, !settling)?;
            // Files of the previous generation that a carried head named are removed
            // with the old heads (docs/format.md#carry-over, step 5), which keeps a
            // writer's shards until it has switched: its newer head of that generation,
            // still on its way, may name them too. Deferred here, they would go at once.
            obsolete.retain(|f| !self.carry.names_old_file(f));
        }
        let settings_before = settings_of(&next);
        edit_index(&mut next);
        let settings_changed = settings_of(&next) != settings_before;
        next.revision = revision;
        next.updated = time;
        let head = AuditHead {
            seq: record.seq,
            hash: audit::hash(&rec_plain),
        };
        if multi {
            next.audit = self.index.live_chains();
            next.audit.insert(self.own_chain(), head.clone());
        }
        next.audit_head = head;

        // 3. The commit point.
        if multi {
            let late = self.write_head(
                next,
                settings_changed,
                std::mem::take(&mut obsolete),
                forget,
            )?;
            if touches_clients {
                self.located = clients.into();
                self.removed_clients = tombstones.into();
            }
            if let Some(e) = late {
                return Err(e);
            }
        } else {
            let sealed = next.seal(&self.auth);
            let ip = self.path.join(self.header.index_file());
            if let Err(e) = fsio::write_atomic(&ip, &seal::encrypt(&self.recipients, &sealed)) {
                // The rename may have happened before the error (a failed folder sync):
                // then every reader already sees this commit, and this handle must
                // follow it, or its next commit would reuse the record number and
                // revision.
                let landed = self.read_index().is_ok_and(|ix| {
                    ix.revision == next.revision && ix.audit_head == next.audit_head
                });
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
        }

        // 4. Cleanup; failures here leave only unreferenced files. (In version 3
        // `write_head` removed what no device can need any more.)
        for f in obsolete.iter().filter(|f| is_client_file_name(f)) {
            let _ = fsio::remove_durable(&self.path.join(CLIENTS_DIR).join(f));
        }
        if touches_clients {
            self.remove_own_leftovers();
        }
        self.remove_temp_files();
        Ok(())
    }

    /// Writes the audit record of a change to this handle's chain
    /// (docs/format.md#audit-log): the next number after the chain's head, chained
    /// onto it. A leftover file with that number (a crashed write) is set aside as
    /// evidence, never overwritten.
    pub(crate) fn write_record(
        &self,
        event: AuditEvent,
        time: &str,
    ) -> Result<(AuditRecord, Vec<u8>), VaultError> {
        let chain = self.own_chain();
        let record = self.next_record(event, time);
        let rec_plain = serde_json::to_vec(&record).expect("serializable");
        let rec_path = self
            .path
            .join(AUDIT_DIR)
            .join(audit::chain_record_file(&chain, record.seq));
        if rec_path.exists() {
            // The leftover of an interrupted write: keep it as evidence, never overwrite.
            let aside = rec_path.with_extension(format!(
                "age.interrupted-{}",
                hex::encode(crate::replay::id_bytes::<4>())
            ));
            fs::rename(&rec_path, &aside).map_err(io_err(&rec_path))?;
            fsio::fault_point("commit: interrupted record set aside");
        }
        fsio::write_new(&rec_path, &seal::encrypt(&self.recipients, &rec_plain))
            .map_err(io_err(&rec_path))?;
        Ok((record, rec_plain))
    }

    /// The next record of this handle's audit chain (docs/format.md#audit-log): one
    /// number after the chain's head, chained onto it; in version 3 with the writer
    /// and the order over every chain the state holds.
    pub(crate) fn next_record(&self, event: AuditEvent, time: &str) -> AuditRecord {
        let chain = self.own_chain();
        let legacy = chain == audit::LEGACY_CHAIN;
        let head = self
            .index
            .chains()
            .get(&chain)
            .cloned()
            .unwrap_or_else(AuditHead::empty);
        AuditRecord {
            seq: head.seq + 1,
            prev: head.hash,
            time: time.to_string(),
            actor: self.actor().into(),
            action: event.action,
            client: event.client,
            detail: event.detail,
            writer: if legacy { String::new() } else { chain },
            order: if legacy {
                0
            } else {
                self.index.audit_records() + 1
            },
        }
    }

    /// Writes this writer's head (the commit point of version 3,
    /// docs/format.md#mw-commit) for the state `next`. The files the change replaced
    /// (`obsolete`) join this writer's deferred list; after the head is written, every
    /// deferred file (of any head) that every writer's head has seen replaced is
    /// removed: then no device can still need it, whatever it has synced.
    ///
    /// `Ok(Some(e))`: the head is in place (this handle follows it) but a later step
    /// failed, so the change is committed and `e` is still the caller's error.
    ///
    /// Heads of retired writers are not waited for (docs/format.md#retired-writers),
    /// nor is `forget`'s: files its head kept that others still need join this
    /// writer's list, so none is left unaccounted for once its head goes.
    pub(crate) fn write_head(
        &mut self,
        next: IndexBody,
        settings_changed: bool,
        obsolete: Vec<String>,
        forget: Option<&str>,
    ) -> Result<Option<VaultError>, VaultError> {
        let state = self.heads.clone().unwrap_or_default();
        let revision = next.revision;
        let seen = state.seen.clone().with(&self.writer, revision);
        let settings_ver = if settings_changed {
            state.settings_ver.clone().with(&self.writer, revision)
        } else {
            state.settings_ver.clone()
        };
        let mut deferred: Vec<Deferred> = state
            .files
            .iter()
            .filter(|i| i.writer == self.writer)
            .max_by_key(|i| i.revision)
            .map(|i| i.deferred.clone())
            .unwrap_or_default();
        for f in obsolete.into_iter().filter(|f| is_client_file_name(f)) {
            if !deferred.iter().any(|d| d.file == f) {
                deferred.push(Deferred {
                    file: f,
                    since: revision,
                });
            }
        }
        // Every head after this commit: the others as read, and this one. Files are
        // kept for the ones still in use, not for retired or forgotten writers.
        let others: Vec<&super::state::HeadInfo> = state
            .files
            .iter()
            .filter(|i| i.writer != self.writer)
            .collect();
        // A retired writer's own files (its shards and client files that others
        // replaced) are still kept until it has seen their replacement: its next head,
        // made offline, may name them (docs/format.md#retired-writers).
        let clock = crate::replay::now();
        let (waiters, retired): (Vec<&super::state::HeadInfo>, Vec<&super::state::HeadInfo>) =
            others
                .iter()
                .copied()
                .filter(|h| Some(h.writer.as_str()) != forget)
                .partition(|h| !h.retired(&seen, clock));
        let complete = self.knows_every_head();
        let seen_by_all = |writer: &str, since: u64, file: &str| {
            complete
                && waiters
                    .iter()
                    .chain(
                        retired
                            .iter()
                            .filter(|h| crate::sync::writer::written_by(file, &h.writer)),
                    )
                    .all(|h| h.seen.get(writer) >= since)
        };
        let mut remove: Vec<String> = Vec::new();
        for h in &others {
            for d in &h.deferred {
                if seen.get(&h.writer) >= d.since && seen_by_all(&h.writer, d.since, &d.file) {
                    remove.push(d.file.clone());
                } else if Some(h.writer.as_str()) == forget
                    && !deferred.iter().any(|o| o.file == d.file)
                {
                    deferred.push(Deferred {
                        file: d.file.clone(),
                        since: revision,
                    });
                }
            }
        }
        let (gone, kept): (Vec<Deferred>, Vec<Deferred>) = deferred
            .into_iter()
            .partition(|d| seen_by_all(&self.writer, d.since, &d.file));
        remove.extend(gone.into_iter().map(|d| d.file));
        let body = HeadBody {
            index: next,
            writer: self.writer.clone(),
            seen: seen.clone(),
            settings_ver: settings_ver.clone(),
            deferred: kept,
            branches: self.own_branches.clone(),
        };
        // Never a file the new state names.
        let named: HashSet<&str> = body.index.shard_files().collect();
        remove.retain(|f| !named.contains(f.as_str()));
        let sealed = body.seal(&self.auth);
        let dir = self.path.join(HEADS_DIR);
        if !dir.is_dir() {
            fs::create_dir(&dir).map_err(io_err(&dir))?;
        }
        let name = head::head_file(&self.writer, body.index.generation);
        let hp = self.path.join(&name);
        let bytes = seal::encrypt(&self.recipients, &sealed);
        // Its fingerprint is kept before it exists, so no crash leaves a head of this
        // writer that its machine does not know (docs/format.md#carry-over).
        self.remember_own_head(body.index.generation, revision, &bytes);
        let written = fsio::write_atomic(&hp, &bytes);
        let mut late = None;
        if let Err(e) = written {
            // The rename may have happened before the error: then this handle must
            // follow it (see the version 2 commit point above).
            let landed = self.read_heads().is_ok_and(|hs| {
                hs.iter()
                    .any(|h| h.body.writer == self.writer && h.body.index.revision == revision)
            });
            if !landed {
                return Err(io_err(&hp)(e).into());
            }
            late = Some(io_err(&hp)(e).into());
        }
        let file = name
            .trim_start_matches(&format!("{HEADS_DIR}/"))
            .to_string();
        let mut files = state.files;
        files.retain(|i| i.file != file);
        files.push(super::state::HeadInfo::of(&file, &body));
        self.heads = Some(super::state::HeadState {
            files,
            seen: seen.clone(),
            settings_ver,
            seen_all: state.seen_all.join(&seen),
        });
        self.index = body.index;
        self.merged = None;
        // This writer's other histories, now named by its head: their records get
        // their branch names (docs/format.md#forked-writers).
        for b in &self.own_branches {
            let named = (self.writer.clone(), b.clone());
            if !self.branches.contains(&named) {
                self.branches.push(named);
            }
        }
        self.name_branch_records();
        if self.covers_all_heads(&seen) {
            self.remove_covered_head_copies(&seen);
        }
        for f in remove {
            let p = self.path.join(CLIENTS_DIR).join(&f);
            if is_client_file_name(&f) && fsio::remove_durable(&p).is_ok() {
                fsio::fault_point("commit: replaced file removed");
            }
        }
        // This writer's head is now under the header's keys: a rotation made apart
        // here has settled, and another device's header copy may be done with
        // (docs/format.md#sibling-rotations). A failure leaves it for the next write.
        self.sibling_heads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(f, _)| *f != file);
        let _ = self.remove_spent_header_copies(false);
        Ok(late)
    }

    /// Rewrites, under this writer's names, every shard of `next` another writer wrote
    /// (docs/format.md#mw-commit). A shard that cannot be read is an error if
    /// `strict`, and otherwise left named as it is; a write error always is one.
    fn own_every_shard(
        &self,
        next: &mut IndexBody,
        obsolete: &mut Vec<String>,
        strict: bool,
    ) -> Result<(), VaultError> {
        // Also this writer's own shards of the previous generation that a carried
        // head names (docs/format.md#carry-over): the new head needs them anew.
        let foreign = |refs: &[ShardRef]| -> Vec<ShardRef> {
            refs.iter()
                .filter(|r| {
                    !crate::sync::writer::written_by(&r.file, &self.writer)
                        || self.carry.names_old_file(&r.file)
                })
                .cloned()
                .collect()
        };
        for r in foreign(&next.locator) {
            let file: ShardFile<ClientRef> =
                match self.read_shard_file(ShardKind::Locator, &next.vault_id, &r) {
                    Ok(f) => f,
                    Err(_) if !strict => continue,
                    Err(e) => return Err(e.into()),
                };
            self.replace_shard(
                ShardKind::Locator,
                next,
                r.shard.clone(),
                (file.clients, file.removed),
                obsolete,
            )?;
        }
        for r in foreign(&next.catalog) {
            let list: Vec<ClientSummary> =
                match self.read_shard(ShardKind::Catalog, &next.vault_id, &r) {
                    Ok(l) => l,
                    Err(_) if !strict => continue,
                    Err(e) => return Err(e.into()),
                };
            self.replace_shard(
                ShardKind::Catalog,
                next,
                r.shard.clone(),
                (list, vec![]),
                obsolete,
            )?;
        }
        Ok(())
    }

    /// Removes the files this writer wrote in `clients/` that the index does not name:
    /// the leftovers of an interrupted write or purge (docs/format.md#writes). Another
    /// device's unnamed files may be its change still syncing and are kept. Nothing is
    /// removed while a rotation is unfinished (its new files are named by its state
    /// file, not yet by the index).
    pub(crate) fn remove_own_leftovers(&self) -> usize {
        if crate::store::header::pending_rotation(&self.path).is_some()
            || !self.no_other_states(None)
        {
            return 0;
        }
        let Ok(named) = self.named_files() else {
            return 0;
        };
        // Another writer's head that this one has not merged may name files of this
        // writer's it kept (docs/format.md#mw-commit).
        if let Some(h) = &self.heads
            && !self.covers_all_heads(&h.seen)
        {
            return 0;
        }
        let Ok(rd) = fs::read_dir(self.path.join(CLIENTS_DIR)) else {
            return 0;
        };
        let mut removed = 0;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if crate::sync::writer::written_by(&name, &self.writer)
                && !named.contains(name.as_str())
                && fsio::remove_durable(&e.path()).is_ok()
            {
                fsio::fault_point("commit: own leftover removed");
                removed += 1;
            }
        }
        removed
    }

    /// Writes a shard's new content under a fresh name (none if it is empty) and points
    /// `next` at it; the file it replaces becomes obsolete.
    pub(super) fn replace_shard<T: serde::Serialize>(
        &self,
        kind: ShardKind,
        next: &mut IndexBody,
        shard: String,
        (rows, removed): (Vec<T>, Vec<Removal>),
        obsolete: &mut Vec<String>,
    ) -> Result<(), VaultError> {
        let refs = match kind {
            ShardKind::Locator => &mut next.locator,
            ShardKind::Catalog => &mut next.catalog,
        };
        if let Some(i) = refs.iter().position(|r| r.shard == shard) {
            obsolete.push(refs.remove(i).file);
        }
        if !rows.is_empty() || !removed.is_empty() {
            let mut file = ShardFile::new(kind, &next.vault_id, &shard, rows);
            file.removed = removed;
            let plain = crate::crypto::secret::json_bytes(&file);
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
    /// fresh name of this writer (docs/format.md#writers), durably. Returns the name and the SHA-256 of the bytes.
    pub(super) fn write_new_file(&self, plain: &[u8]) -> Result<(String, String), VaultError> {
        let cipher = seal::encrypt(&self.recipients, plain);
        let fid = crate::sync::writer::new_file_name(&self.writer);
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
        out.extend(self.audit_beyond_head());
        Ok(out)
    }

    /// Whether the folder holds no other state of the vault than the current index: no
    /// sync service's conflicted copy (of the index, a record or `vault.json`) and no
    /// index of another generation (but `except`'s, which a rotation is removing). Only
    /// then are this writer's unnamed files leftovers: otherwise they may be its own
    /// committed change that lost a sync race and is named only by such a copy.
    pub(crate) fn no_other_states(&self, except: Option<u64>) -> bool {
        use crate::store::survey::{Stray, survey};
        survey(&self.path, self.header.generation)
            .strays
            .iter()
            .all(|s| match s {
                Stray::ConflictCopy { .. } => false,
                Stray::OtherGeneration { generation, .. } => Some(*generation) == except,
                Stray::Unknown { .. } => true,
            })
    }

    /// Every file in `clients/` the current state names: client files and shards, the
    /// files of heads not yet merged, and in version 3 every file a head keeps for a
    /// device that may still read it (docs/format.md#mw-commit).
    pub(crate) fn named_files(&self) -> Result<HashSet<String>, IntegrityError> {
        let mut out: HashSet<String> = self
            .clients()?
            .iter()
            .map(|c| c.file.clone())
            .chain(self.index.shard_files().map(str::to_string))
            .collect();
        if let Some(m) = &self.merged {
            out.extend(m.named.iter().cloned());
        }
        // Files some head keeps for a device that may still read them.
        if let Some(h) = &self.heads {
            out.extend(
                h.files
                    .iter()
                    .flat_map(|i| i.deferred.iter().map(|d| d.file.clone())),
            );
        }
        Ok(out)
    }

    /// Removes this machine's temporary files (`.<name>.<12 hex>.tmp`, see
    /// fsio::write_atomic). They are never part of a commit.
    pub(crate) fn remove_temp_files(&self) {
        for dir in [
            self.path.clone(),
            self.path.join(CLIENTS_DIR),
            self.path.join(AUDIT_DIR),
            self.path.join(HEADS_DIR),
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
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::audit::AuditAction;
    use crate::vault::snapshot;

    use crate::crypto::secret::Passphrase;

    use crate::vault::Access;
    use crate::vault::changes::NewClient;

    const PASS: &str = "commit engine unit test";

    /// A vault with one client, `acme`.
    fn vault(dir: &Path) -> Vault {
        let mut v = crate::vault::test_vault(&dir.join("v"), PASS);
        v.add_client(NewClient {
            id: "acme".into(),
            ..Default::default()
        })
        .unwrap();
        v
    }

    fn edit() -> AuditEvent {
        AuditEvent::new(AuditAction::ClientEdit, Some("acme"), "name")
    }

    fn new_client(v: &Vault, id: &str) -> ClientFile {
        let mut f = v.client("acme").unwrap();
        f.id = id.into();
        f.cid = hex::encode(rand::random::<[u8; 16]>());
        f
    }

    /// What readers check is refused before anything is written: one change that names
    /// a client twice (the same cid twice, or changed and removed at once), an id that
    /// another client has, an invalid id or cid.
    #[test]
    fn a_change_that_names_a_client_twice_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let before = snapshot(v.path());
        let revision = v.index.revision;
        let acme = v.client("acme").unwrap();
        let cid = acme.cid.clone();
        let twice = |e: &VaultError| matches!(e, VaultError::ClientTwice(_));

        let e = v
            .commit(
                edit(),
                vec![v.client("acme").unwrap(), v.client("acme").unwrap()],
                &[],
            )
            .unwrap_err();
        assert!(twice(&e), "{e:?}");
        let e = v
            .commit(
                edit(),
                vec![v.client("acme").unwrap()],
                std::slice::from_ref(&cid),
            )
            .unwrap_err();
        assert!(twice(&e), "{e:?}");
        let mut bad_cid = v.client("acme").unwrap();
        bad_cid.cid = "ACME".into();
        assert!(twice(&v.commit(edit(), vec![bad_cid], &[]).unwrap_err()));
        // The id of another client, in the vault or in the same change.
        let e = v
            .commit(edit(), vec![new_client(&v, "acme")], &[])
            .unwrap_err();
        assert!(
            matches!(&e, VaultError::ClientExists(id) if id == "acme"),
            "{e:?}"
        );
        let e = v
            .commit(
                edit(),
                vec![new_client(&v, "neu"), new_client(&v, "neu")],
                &[],
            )
            .unwrap_err();
        assert!(
            matches!(&e, VaultError::ClientExists(id) if id == "neu"),
            "{e:?}"
        );
        let e = v
            .commit(edit(), vec![new_client(&v, "../x")], &[])
            .unwrap_err();
        assert!(matches!(e, VaultError::InvalidId(_)), "{e:?}");

        assert_eq!(
            snapshot(v.path()),
            before,
            "a refused change wrote something"
        );
        assert_eq!(v.index.revision, revision);
        // And the same change named once commits.
        v.commit(edit(), vec![acme], &[]).unwrap();
        assert_eq!(v.index.revision, revision + 1);
    }

    /// The record file of a write that died before its commit is evidence: the next
    /// write moves it aside under a new name, byte for byte, and never overwrites it
    /// (docs/format.md#audit-log).
    #[test]
    fn a_leftover_record_is_set_aside_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let head = v.index.audit_head.seq;
        let leftover = v.own_record_file(head + 1);
        fs::write(&leftover, b"the record of a crashed write").unwrap();
        assert_eq!(v.orphans().unwrap(), vec![leftover.clone()]);
        v.commit(edit(), vec![v.client("acme").unwrap()], &[])
            .unwrap();
        assert_eq!(v.index.audit_head.seq, head + 1);
        assert_ne!(
            fs::read(&leftover).unwrap(),
            b"the record of a crashed write"
        );
        let aside: Vec<_> = fs::read_dir(v.path.join(AUDIT_DIR))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".interrupted-"))
            .map(|e| fs::read(e.path()).unwrap())
            .collect();
        assert_eq!(aside, vec![b"the record of a crashed write".to_vec()]);
        assert_eq!(v.orphans().unwrap(), Vec::<PathBuf>::new());
        assert!(v.audit_log().1.is_empty());
    }

    /// The files this writer wrote that no index names (an interrupted write or purge)
    /// are removed by its next write; another writer's are kept and reported, since
    /// they may be its change still syncing (docs/format.md#writes).
    #[test]
    fn own_leftovers_go_with_the_next_write_and_another_writers_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let clients = v.path.join(CLIENTS_DIR);
        let own = clients.join(crate::sync::writer::new_file_name(&v.writer));
        let foreign = clients.join(crate::sync::writer::new_file_name("0123456789abcdef"));
        fs::write(&own, b"a client file of a crashed write").unwrap();
        fs::write(&foreign, b"another device's change, still syncing").unwrap();
        let mut orphans = v.orphans().unwrap();
        orphans.sort();
        let mut both = vec![own.clone(), foreign.clone()];
        both.sort();
        assert_eq!(orphans, both);
        v.commit(edit(), vec![v.client("acme").unwrap()], &[])
            .unwrap();
        assert!(!own.exists(), "an own leftover stays");
        assert!(foreign.exists(), "another writer's file was removed");
        assert_eq!(v.orphans().unwrap(), vec![foreign]);
        // Every file the index names carries this writer's id.
        let named = v.named_files().unwrap();
        assert!(
            named
                .iter()
                .all(|f| crate::sync::writer::written_by(f, &v.writer))
        );
    }

    /// While a rotation's state file exists every write is refused (it would be missing
    /// from the new generation), except the record that settles the rotation; a
    /// read-only handle writes nothing.
    #[test]
    fn writes_wait_for_a_pending_rotation_and_need_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let state = v.path.join(crate::store::header::rotation_file(2));
        fs::write(&state, b"").unwrap();
        let e = v
            .commit(edit(), vec![v.client("acme").unwrap()], &[])
            .unwrap_err();
        assert!(matches!(e, VaultError::RotationPending(2)), "{e:?}");
        let revision = v.index.revision;
        v.commit_settling_rotation(AuditEvent::new(AuditAction::VaultRotateAbort, None, "x"))
            .unwrap();
        assert_eq!(v.index.revision, revision + 1);
        fs::remove_file(&state).unwrap();
        let path = v.path.clone();
        drop(v);
        let mut r = Vault::open(&path, &Passphrase::new(PASS.into()), Access::Read).unwrap();
        let e = r
            .commit(edit(), vec![r.client("acme").unwrap()], &[])
            .unwrap_err();
        assert!(matches!(e, VaultError::ReadOnly), "{e:?}");
    }
}
