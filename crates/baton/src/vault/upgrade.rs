//! The upgrade of a version 2 vault to the multi-writer format
//! (docs/format.md#multi-writer, "Upgrade from version 2").
//!
//! Each step is atomic and the order makes a crash anywhere leave a vault that opens
//! with all data: (1) this writer's first record, `vault.upgrade`; (2) its head, made
//! from the index (rows keep the empty version, the records so far are the legacy
//! chain); (3) `vault.json` with `"version": 3`; (4) the index removed. Until (3) the
//! vault is version 2 and the head an unused file; after it the index is a leftover
//! that the next writer removes.
//!
//! **The fold** (docs/format.md#upgrade-fold). Two devices that wrote a version 2 vault
//! while apart leave one index and, beside it, a sync service's conflicted copy of the
//! other device's index (and of its audit records). Each copy that reads like the index
//! (it decrypts, its MAC is the generation's, it names the same vault and generation) is
//! folded into the upgrade: its rows that differ from the index become versions of a
//! writer named after the copy ([`fold_writer`]), concurrent with the index's (a writer
//! named after the index the same way), and are merged with the version 3 rules
//! (`sync::merge_client`), so a client only in the copy is added and an entry changed
//! on both sides is a conflict. Then (2) writes the merged clients and every shard
//! under this writer's names, the head's `seen` covers those writers, the record lists
//! the copies' audit records that the main chain does not hold, and (4) also removes
//! what the index and the folded copies named that the head does not, those records,
//! and the copies themselves, in an order that a crash can resume
//! ([`Vault::remove_upgraded_index`]).

use std::collections::{BTreeMap, HashSet};
use std::fs;

use sha2::{Digest, Sha256};

use crate::audit::{
    self, AUDIT_DIR, AuditAction, AuditEvent, AuditHead, AuditRecord, LEGACY_CHAIN,
};
use crate::client::{ClientFile, ClientRef, ClientSummary, Entry};
use crate::store::fsio;
use crate::store::header;
use crate::store::index::IndexBody;
use crate::store::{CLIENTS_DIR, IntegrityError, is_client_file_name};
use crate::sync::{ClientVersion, Merged, Ver, merge_client, names};

use super::state::{HeadState, MergedView};
use super::{Vault, VaultError};

/// The most audit records of one copy named in the upgrade record (each line is some
/// 100 bytes; a record is at most 1 MiB).
const MAX_FOLDED_RECORDS: usize = 2000;

/// A sync service's conflicted copy of the version 2 index, read and checked like the
/// index itself.
pub(crate) struct IndexCopy {
    /// Its name in the vault folder.
    pub file: String,
    /// The writer its changes become ([`fold_writer`]).
    pub writer: String,
    pub index: IndexBody,
}

/// The writer a folded copy's changes become: the first 8 bytes of
/// SHA-256(`"baton-fold/1\n"` || the copy's plaintext), in hex. The same copy is the
/// same writer, so an upgrade resumed after a crash makes the same versions, and a
/// later writer can tell that a copy is folded (the state's `seen` holds its writer).
pub(crate) fn fold_writer(plaintext: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"baton-fold/1\n");
    h.update(plaintext);
    hex::encode(&h.finalize()[..8])
}

/// One record of a copy's audit chain that the main chain does not hold.
struct CopyRecord {
    /// Its file in `audit/` (a conflicted copy of a record, or a record above the
    /// index's head).
    file: String,
    record: AuditRecord,
}

/// What folding the copies into the index gives.
struct Fold {
    view: MergedView,
    /// Each folded copy's writer at revision 1.
    seen: Ver,
    /// What the upgrade record says about the fold (client names only inside it).
    detail: String,
}

/// Whether two versions of a client have the same own fields (docs/format.md#merge).
fn same_fields(a: &ClientFile, b: &ClientFile) -> bool {
    (
        &a.name,
        &a.contact,
        &a.notes,
        &a.tags,
        &a.recipients,
        &a.lifecycle,
    ) == (
        &b.name,
        &b.contact,
        &b.notes,
        &b.tags,
        &b.recipients,
        &b.lifecycle,
    )
}

fn same_entry_in(e: &Entry, other: &ClientFile) -> bool {
    other
        .entries
        .iter()
        .any(|o| o.name == e.name && crate::sync::same_entry(e, o))
}

impl Vault {
    /// Upgrades a version 2 vault opened for writing. Nothing happens while a rotation
    /// is unfinished (it finishes or is undone in version 2 first).
    pub(crate) fn upgrade(&mut self) -> Result<(), VaultError> {
        if self.is_multi_writer() || header::pending_rotation(&self.path).is_some() {
            return Ok(());
        }
        self.require_lock()?;
        let index = self.index.clone();
        let mut next = index.clone();
        next.audit = [(LEGACY_CHAIN.to_string(), index.audit_head.clone())].into();
        // The writer's counter continues the index's revision, so the state's
        // revision (the sum of the version vector) never goes back.
        let revision = index.revision + 1;
        let (copies, refused) = self.index_copies();
        let fold = if copies.is_empty() {
            None
        } else {
            Some(self.fold(&copies, &refused, revision)?)
        };
        // The header says version 3 only after the head exists; the record goes to this
        // writer's chain, so set the version for the record and head first.
        self.header.version = header::VERSION;
        let time = crate::time::now();
        let mut fold_view = None;
        let written = (|| {
            let mut detail = format!(
                "vault format 2 -> 3 (one head per writer) at revision {}",
                index.revision
            );
            if let Some(f) = &fold {
                detail += &f.detail;
            } else if !refused.is_empty() {
                detail += &refused_detail(&refused);
            }
            let (record, plain) = self.write_record(
                AuditEvent::new(AuditAction::VaultUpgrade, None, detail),
                &time,
            )?;
            fsio::fault_point("upgrade: record written");
            let head = AuditHead {
                seq: record.seq,
                hash: audit::hash(&plain),
            };
            let late = match fold {
                None => {
                    next.audit.insert(self.writer.clone(), head.clone());
                    next.audit_head = head;
                    next.revision = revision;
                    next.updated = time.clone();
                    self.heads = Some(Default::default());
                    self.write_head(next, false, vec![], None)?
                }
                Some(mut f) => {
                    // The head covers every folded copy's writer.
                    self.heads = Some(HeadState {
                        seen: f.seen.clone(),
                        ..Default::default()
                    });
                    // The files the index and the copies name that the head does not
                    // are removed once the header says version 3 (an older version 2
                    // state must stay whole until then).
                    let late =
                        self.write_merged_head(&mut f.view, next, head, revision, &time, false)?;
                    fold_view = Some(f.view);
                    late
                }
            };
            if let Some(e) = late {
                return Err(e);
            }
            fsio::fault_point("upgrade: head written");
            self.write_header()?;
            fsio::fault_point("upgrade: header written");
            Ok::<_, VaultError>(())
        })();
        if let Err(e) = written {
            self.header.version = header::SINGLE_WRITER_VERSION;
            self.heads = None;
            self.merged = None;
            self.index = index;
            self.located = Default::default();
            self.removed_clients = Default::default();
            return Err(e);
        }
        if let Some(view) = fold_view {
            self.located = view.refs.into();
            self.removed_clients = view.removed.into();
        }
        self.remove_upgraded_index();
        Ok(())
    }

    /// Removes the version 2 index of a version 3 vault once the heads hold everything
    /// it holds: its legacy chain ends where the heads' does (an older baton never
    /// writes into a version 3 vault, which it refuses). First what the upgrade folded
    /// (docs/format.md#upgrade-from-version-2): the files in `clients/` the index or a
    /// folded copy names that the state does not, then each folded copy's own audit
    /// records (oldest first) and the copy itself. Every step can be repeated: a crash
    /// leaves the index and the copies, which name what is still to go, until last.
    pub(crate) fn remove_upgraded_index(&self) {
        let ip = self.path.join(self.header.index_file());
        let index = if ip.exists() {
            self.read_index().ok()
        } else {
            None
        };
        let legacy = self.index.chains().get(LEGACY_CHAIN).cloned();
        let upgraded = |ix: &IndexBody| legacy.as_ref().map_or(0, |h| h.seq) >= ix.audit_head.seq;
        let index = index.filter(|ix| upgraded(ix));
        let seen = self
            .heads
            .as_ref()
            .map(|h| h.seen.clone())
            .unwrap_or_default();
        let (copies, _) = self.index_copies();
        let folded: Vec<IndexCopy> = copies
            .into_iter()
            .filter(|c| seen.get(&c.writer) >= 1)
            .collect();
        if index.is_none() && folded.is_empty() {
            return;
        }
        // Never a file the state (or a head it has not read) may need. Client files
        // first, then the shards that name them, so a crash leaves them findable.
        if self.knows_every_head()
            && let Ok(named) = self.named_files()
        {
            let mut clients: Vec<String> = Vec::new();
            let mut shards: Vec<String> = Vec::new();
            for ix in index.iter().chain(folded.iter().map(|c| &c.index)) {
                shards.extend(ix.shard_files().map(str::to_string));
                // Of the shards still here (a copy's may be gone, see `copy_rows`).
                let (rows, _) = self.load_clients_partial(ix);
                clients.extend(rows.into_iter().map(|r| r.file));
            }
            for list in [&mut clients, &mut shards] {
                list.sort();
                list.dedup();
            }
            for f in clients.into_iter().chain(shards) {
                let p = self.path.join(CLIENTS_DIR).join(&f);
                if is_client_file_name(&f)
                    && !named.contains(&f)
                    && p.is_file()
                    && fsio::remove_durable(&p).is_ok()
                {
                    fsio::fault_point("upgrade: replaced file removed");
                }
            }
        }
        if let Some(main) = &legacy {
            for c in &folded {
                let (records, _) = self.copy_records(&c.index, main);
                // Oldest first: a crash leaves the newest, from which the chain is
                // found again.
                for r in records {
                    if fsio::remove_durable(&self.path.join(AUDIT_DIR).join(&r.file)).is_ok() {
                        fsio::fault_point("upgrade: copy's record removed");
                    }
                }
                if fsio::remove_durable(&self.path.join(&c.file)).is_ok() {
                    fsio::fault_point("upgrade: index copy removed");
                }
            }
        }
        if index.is_some() && fsio::remove_durable(&ip).is_ok() {
            fsio::fault_point("upgrade: index removed");
        }
        // Files of an earlier, interrupted attempt at this upgrade.
        if !folded.is_empty() {
            self.remove_own_leftovers();
        }
    }

    /// The sync services' conflicted copies of the current generation's version 2
    /// index (docs/format.md#conflict-copies), each read with the checks of the index
    /// itself; the copies that fail one, with the reason. Sorted by file name.
    pub(crate) fn index_copies(&self) -> (Vec<IndexCopy>, Vec<(String, IntegrityError)>) {
        let original = self.header.index_file();
        let mut copies = Vec::new();
        let mut refused = Vec::new();
        let Ok(rd) = fs::read_dir(&self.path) else {
            return (copies, refused);
        };
        let mut files: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| *n != original && names::original_name(n).as_deref() == Some(&original))
            .collect();
        files.sort();
        for file in files {
            match self.read_index_file(&file) {
                Ok((index, plain)) => copies.push(IndexCopy {
                    writer: fold_writer(&plain),
                    file,
                    index,
                }),
                Err(e) => refused.push((file, e)),
            }
        }
        (copies, refused)
    }

    /// Whether every legacy record numbered in `seqs` is one of the records of an
    /// authentic conflicted copy of the index that the main chain (head `main`) does
    /// not hold: another device's records above the index's head, not a rollback
    /// (docs/format.md#upgrade-fold). Only asked when a rollback is suspected.
    pub(crate) fn copies_hold_records(
        &self,
        main: &AuditHead,
        mut seqs: impl Iterator<Item = u64>,
    ) -> bool {
        let (copies, _) = self.index_copies();
        if copies.is_empty() {
            return false;
        }
        let files: HashSet<String> = copies
            .iter()
            .flat_map(|c| self.copy_records(&c.index, main).0)
            .map(|r| r.file)
            .collect();
        seqs.all(|s| files.contains(&audit::record_file(s)))
    }

    /// The records of `copy`'s audit chain that the main chain (whose head is `main`)
    /// does not hold, oldest first, and the number of the first one missing if the
    /// chain could not be followed to the main chain. Found from the copy's pinned
    /// head backwards by hash: record `seq` is `audit/<seq>.age` or a sync service's
    /// conflicted copy of it; the walk ends at the main chain's record.
    fn copy_records(&self, copy: &IndexBody, main: &AuditHead) -> (Vec<CopyRecord>, Option<u64>) {
        let archived = self
            .index
            .audit_archive
            .as_ref()
            .map_or(0, |a| a.count(LEGACY_CHAIN));
        let mut by_seq: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        if let Ok(rd) = fs::read_dir(self.path.join(AUDIT_DIR)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let seq = match audit::parse_record_file(&name) {
                    Some(seq) => Some(seq),
                    None => names::original_name(&name)
                        .as_deref()
                        .and_then(audit::parse_record_file),
                };
                if let Some(seq) = seq {
                    by_seq.entry(seq).or_default().push(name);
                }
            }
        }
        let hash_of = |name: &str| -> Option<(String, Vec<u8>)> {
            let bytes = fsio::read_bounded(
                &self.path.join(AUDIT_DIR).join(name),
                super::audit_log::MAX_RECORD,
            )
            .ok()?;
            let plain = self.decrypt_file(&bytes).ok()?;
            Some((audit::hash(&plain), plain.to_vec()))
        };
        let mut out = Vec::new();
        let mut want = copy.audit_head.clone();
        let mut missing = None;
        while want.seq > archived {
            let main_name = audit::record_file(want.seq);
            // The main chain's record: everything below is shared.
            if want.seq <= main.seq && hash_of(&main_name).is_some_and(|(h, _)| h == want.hash) {
                break;
            }
            let found = by_seq
                .get(&want.seq)
                .into_iter()
                .flatten()
                .find_map(|name| {
                    let (h, plain) = hash_of(name)?;
                    let record: AuditRecord = serde_json::from_slice(&plain).ok()?;
                    (h == want.hash && record.seq == want.seq).then(|| CopyRecord {
                        file: name.clone(),
                        record,
                    })
                });
            let Some(r) = found else {
                missing = Some(want.seq);
                break;
            };
            want = AuditHead {
                seq: want.seq - 1,
                hash: r.record.prev.clone(),
            };
            out.push(r);
        }
        out.reverse();
        (out, missing)
    }

    /// The client rows of an index copy that may differ from the index's, and how many
    /// of its locator shards were skipped. A shard the index names too holds the
    /// index's rows. A shard whose file is gone was replaced here after the devices
    /// parted: the other device did not change it (it would have written a new one), so
    /// its rows are the ones both started from; unless the file carries the writer
    /// prefix of a file only the copy names (docs/format.md#writers): then it is that
    /// device's own write, still syncing, and the copy is not folded.
    fn copy_rows(&self, c: &IndexCopy) -> Result<(Vec<ClientRef>, usize), IntegrityError> {
        let here = |f: &str| self.path.join(CLIENTS_DIR).join(f).is_file();
        let own: HashSet<&str> = self.index.shard_files().collect();
        let theirs: HashSet<&str> = c
            .index
            .shard_files()
            .filter(|f| !own.contains(f) && here(f))
            .map(|f| &f[..16])
            .collect();
        let mut rows = Vec::new();
        let mut skipped = 0;
        for r in &c.index.locator {
            if self.index.locator.contains(r) {
                continue;
            }
            if !here(&r.file) {
                if theirs.contains(&r.file[..16]) {
                    return Err(IntegrityError::ShardMissing {
                        kind: crate::store::shard::ShardKind::Locator,
                        shard: r.shard.clone(),
                        file: format!("{CLIENTS_DIR}/{}", r.file),
                    });
                }
                skipped += 1;
                continue;
            }
            rows.extend(self.locator_shard(&c.index, r)?.0);
        }
        // One row per id and per cid, as in any locator.
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let mut cids = HashSet::new();
        if let Some(r) = rows.iter().find(|r| !cids.insert(r.cid.clone())) {
            return Err(IntegrityError::ClientMismatch {
                client: r.id.clone(),
            });
        }
        Ok((rows, skipped))
    }

    /// Folds the index copies into the index (docs/format.md#upgrade-from-version-2):
    /// the merged state this writer's head at `revision` will hold.
    fn fold(
        &self,
        copies: &[IndexCopy],
        refused: &[(String, IntegrityError)],
        revision: u64,
    ) -> Result<Fold, VaultError> {
        let stamp = (self.writer.as_str(), revision);
        let base: Vec<ClientRef> = self.clients()?.to_vec();
        let base_summaries = self.catalog_of(&self.index, &base)?;
        let mut view = MergedView::default();
        let main = self.index.audit_head.clone();
        // The index's side of a client changed apart is a writer named after the index
        // the same way, so the result does not depend on which folder upgrades.
        let index_writer = fold_writer(&self.read_index_file(&self.header.index_file())?.1);
        let mut seen = Ver::of(&index_writer, 1);
        let mut detail = String::new();
        let mut not_folded: Vec<(String, IntegrityError)> = refused.to_vec();
        // Per client id, the rows of the copies that differ from the index's.
        let mut changed: BTreeMap<String, Vec<(usize, ClientRef, ClientFile)>> = BTreeMap::new();
        let mut skipped_shards: Vec<usize> = vec![0; copies.len()];
        let mut gone: Vec<Vec<String>> = vec![Vec::new(); copies.len()];
        let mut unreadable: Vec<Vec<String>> = vec![Vec::new(); copies.len()];
        let mut folded: Vec<usize> = Vec::new();
        for (i, c) in copies.iter().enumerate() {
            let rows = match self.copy_rows(c) {
                Ok((rows, skipped)) => {
                    if skipped > 0 {
                        skipped_shards[i] = skipped;
                    }
                    rows
                }
                Err(e) => {
                    not_folded.push((c.file.clone(), e));
                    continue;
                }
            };
            folded.push(i);
            seen = seen.with(&c.writer, 1);
            for r in rows {
                if base.contains(&r) {
                    continue;
                }
                // Its file is gone: replaced here (the index has the client), or the
                // client was removed or purged here and must not come back.
                if !self.path.join(CLIENTS_DIR).join(&r.file).is_file() {
                    if !base.iter().any(|b| b.id == r.id) {
                        gone[i].push(r.id.clone());
                    }
                    continue;
                }
                // A copy's client file that does not read back as its row says is
                // left out (and named), never a reason to refuse the upgrade.
                match self.read_client(&r) {
                    Ok(f) => changed.entry(r.id.clone()).or_default().push((i, r, f)),
                    Err(_) => unreadable[i].push(r.id.clone()),
                }
            }
        }
        let mut refs: BTreeMap<String, (ClientRef, Option<ClientSummary>)> = base
            .iter()
            .cloned()
            .zip(base_summaries)
            .map(|(r, s)| (r.id.clone(), (r, Some(s))))
            .collect();
        let mut files: BTreeMap<String, ClientFile> = BTreeMap::new();
        let mut added: Vec<Vec<String>> = vec![Vec::new(); copies.len()];
        let mut merged: Vec<Vec<String>> = vec![Vec::new(); copies.len()];
        let mut conflicts = Vec::new();
        for (id, list) in changed {
            let index_row = refs.get(&id).map(|(r, _)| r.clone());
            if index_row.is_none()
                && let [(i, r, f)] = &list[..]
            {
                // Only in one copy: added there, taken as it is.
                added[*i].push(id.clone());
                let mut r = r.clone();
                r.ver = Ver::of(&copies[*i].writer, 1);
                refs.insert(id, (r, Some(f.summary())));
                continue;
            }
            // Versions made apart: the index's and each copy's, with the parts that
            // differ from the other side given their writer's version.
            let index_file = match &index_row {
                Some(r) => Some(self.read_client(r)?),
                None => None,
            };
            let mut sides: Vec<(String, ClientFile)> = Vec::new();
            for (i, _, f) in list {
                sides.push((copies[i].writer.clone(), f));
                match &index_file {
                    Some(_) => merged[i].push(id.clone()),
                    None => added[i].push(id.clone()),
                }
            }
            let mut versions = Vec::new();
            if let Some(mut f) = index_file {
                let own = Ver::of(&index_writer, 1);
                for e in &mut f.entries {
                    if sides.iter().any(|(_, s)| !same_entry_in(e, s)) {
                        e.ver = own.clone();
                    }
                }
                if sides.iter().any(|(_, s)| !same_fields(&f, s)) {
                    f.meta_ver = own.clone();
                }
                versions.push(ClientVersion::Live {
                    ver: own,
                    file: Box::new(f),
                });
            }
            let index_file = match &index_row {
                Some(r) => Some(self.read_client(r)?),
                None => None,
            };
            for (w, mut f) in sides {
                let v = Ver::of(&w, 1);
                for e in &mut f.entries {
                    if !index_file.as_ref().is_some_and(|x| same_entry_in(e, x)) {
                        e.ver = v.clone();
                    }
                }
                if !index_file.as_ref().is_some_and(|x| same_fields(&f, x)) {
                    f.meta_ver = v.clone();
                }
                versions.push(ClientVersion::Live {
                    ver: v,
                    file: Box::new(f),
                });
            }
            let (ver, file) = match merge_client(versions, Some(stamp)) {
                Merged::Merged { ver, file } => (ver, file),
                Merged::One(ClientVersion::Live { ver, file }) => (ver, file),
                // Only live versions go in.
                Merged::One(ClientVersion::Removed(_)) | Merged::Gone(_) => continue,
            };
            if !crate::sync::conflicts_of(&file).is_empty() {
                conflicts.push(id.clone());
            }
            let r = ClientRef {
                id: id.clone(),
                cid: file.cid.clone(),
                file: String::new(),
                sha256: String::new(),
                ver,
            };
            files.insert(file.cid.clone(), *file);
            refs.insert(id, (r, None));
        }
        // One cid, one client: a copy's client under a cid the state already gives
        // another id (renamed apart) gets a cid of its own, derived from the copy's
        // writer and the id so that a resumed upgrade makes the same one.
        let mut cids: HashSet<String> = HashSet::new();
        let ids: Vec<String> = refs.keys().cloned().collect();
        for id in ids {
            let (r, summary) = refs.get_mut(&id).expect("listed");
            if cids.insert(r.cid.clone()) {
                continue;
            }
            let mut h = Sha256::new();
            h.update(b"baton-fold-cid/1\n");
            h.update(
                r.ver
                    .iter()
                    .map(|(w, _)| w)
                    .collect::<Vec<_>>()
                    .join(",")
                    .as_bytes(),
            );
            h.update(b"\n");
            h.update(id.as_bytes());
            let cid = hex::encode(&h.finalize()[..16]);
            let mut file = match files.remove(&r.cid) {
                Some(f) => f,
                None => self.read_client(r)?,
            };
            file.cid = cid.clone();
            cids.insert(cid.clone());
            r.cid = cid.clone();
            r.file = String::new();
            r.sha256 = String::new();
            *summary = None;
            files.insert(cid, file);
        }
        for (_, (r, summary)) in refs {
            match summary {
                Some(s) => {
                    view.refs.push(r);
                    view.summaries.push(s);
                }
                None => {
                    let file = files.remove(&r.cid).expect("a merged client's file");
                    view.push_file(r.ver, file);
                }
            }
        }
        view.conflicts = conflicts;
        // The upgrade record: what each copy brought, and its audit records that the
        // main chain does not hold (they go with the copy).
        for &i in &folded {
            let c = &copies[i];
            detail += &format!(
                "; folded {} (revision {}) as writer {}",
                c.file, c.index.revision, c.writer
            );
            for (what, list) in [
                ("clients added", &added[i]),
                ("clients merged", &merged[i]),
                (
                    "not brought back (removed here, their files are gone)",
                    &gone[i],
                ),
                ("left out (their files do not read back)", &unreadable[i]),
            ] {
                if !list.is_empty() {
                    detail += &format!(", {what}: {}", list.join(" "));
                }
            }
            let settings: Vec<&str> = [
                ("holders", c.index.holders != self.index.holders),
                ("owner", c.index.owner != self.index.owner),
                ("last drill", c.index.last_drill != self.index.last_drill),
                (
                    "retention",
                    c.index.retention_months != self.index.retention_months,
                ),
            ]
            .into_iter()
            .filter_map(|(n, differs)| differs.then_some(n))
            .collect();
            if !settings.is_empty() {
                detail += &format!(
                    ", settings changed there, not kept (set them again): {}",
                    settings.join(", ")
                );
            }
            let (records, missing) = self.copy_records(&c.index, &main);
            if !records.is_empty() {
                let lines: Vec<String> = records
                    .iter()
                    .take(MAX_FOLDED_RECORDS)
                    .map(|r| record_line(&r.record))
                    .collect();
                detail += &format!(", its records not in the chain: {}", lines.join(" | "));
                if records.len() > MAX_FOLDED_RECORDS {
                    detail += &format!(" | … and {} more", records.len() - MAX_FOLDED_RECORDS);
                }
            }
            if skipped_shards[i] > 0 {
                detail += &format!(
                    ", {} of its locator shards are gone (replaced here; the copy did not change them)",
                    skipped_shards[i]
                );
            }
            if let Some(seq) = missing {
                detail += &format!(", its record {seq} and earlier ones are not in the folder");
            }
        }
        if !view.conflicts.is_empty() {
            detail += &format!(
                "; versions in conflict kept for: {}",
                view.conflicts.join(", ")
            );
        }
        detail += &refused_detail(&not_folded);
        Ok(Fold { view, seen, detail })
    }
}

/// One folded record in the upgrade record's detail: its number, time, actor, action,
/// client and detail (never a secret: records hold none).
fn record_line(r: &AuditRecord) -> String {
    let mut line = format!("{} {} {} {}", r.seq, r.time, r.actor, r.action);
    if let Some(c) = &r.client {
        line += &format!(" {c}");
    }
    if !r.detail.is_empty() {
        line += &format!(" ({})", r.detail);
    }
    line
}

fn refused_detail(refused: &[(String, IntegrityError)]) -> String {
    refused
        .iter()
        .map(|(f, e)| format!("; not folded: {f} ({e})"))
        .collect()
}
