//! One writer's two histories (docs/format.md#forked-writers): a folder restored from a
//! backup, with its machine's memory, that wrote before the sync service brought back
//! what it had written after the backup. Its heads then disagree about its own audit
//! chain, and a head of one history with the higher revision must not cover the other.

use std::fs;

use crate::audit::{self, AUDIT_DIR, AuditHead, AuditRecord};
use crate::store::head::{self, HeadBody};

use super::Vault;
use super::state::ReadHead;

/// The most records walked back to tell whether one history includes another.
const MAX_WALK: u64 = 4096;
/// The largest record file read (as in `audit_log`).
const MAX_RECORD: u64 = 1 << 20;

/// Whether `name` (in `audit/`) may hold the record whose own name is `main`: it is
/// that name, a sync service's conflicted copy of it, set aside by an interrupted
/// write, or given its branch name (`branch_name`).
fn may_hold(name: &str, main: &str) -> bool {
    name == main
        || crate::sync::names::original_name(name).as_deref() == Some(main)
        || name
            .strip_prefix(main)
            .is_some_and(|rest| rest.starts_with(".interrupted-") || rest.starts_with(".branch-"))
}

impl Vault {
    /// Whether the history of `chain` that ends at `tip` passes through `base`: walked
    /// back record by record, each found under any name that may hold it by the hash
    /// the next one names. Only evidence says no: a record number whose files are all
    /// other records (written once each, so another history). A record not here yet (a
    /// sync in progress) or a walk longer than `MAX_WALK` says yes, as the revisions do.
    fn descends(&self, chain: &str, tip: &AuditHead, base: &AuditHead, names: &[String]) -> bool {
        if tip.seq < base.seq {
            return false;
        }
        if tip.seq - base.seq > MAX_WALK {
            return true;
        }
        let dir = self.path.join(AUDIT_DIR);
        let mut expected = tip.hash.clone();
        let mut seq = tip.seq;
        while seq > base.seq {
            let main = audit::chain_record_file(chain, seq);
            // Records that are here and readable (a file still arriving is neither).
            let records: Vec<(String, AuditRecord)> = names
                .iter()
                .filter(|n| may_hold(n, &main))
                .filter_map(|n| {
                    let bytes = crate::store::fsio::read_bounded(&dir.join(n), MAX_RECORD).ok()?;
                    let plain = self.decrypt_file(&bytes).ok()?;
                    let rec = serde_json::from_slice::<AuditRecord>(&plain).ok()?;
                    (rec.seq == seq).then(|| (audit::hash(&plain), rec))
                })
                .collect();
            if records.is_empty() {
                return true;
            }
            let Some(prev) = records
                .into_iter()
                .find(|(hash, _)| *hash == expected)
                .map(|(_, r)| r.prev)
            else {
                return false;
            };
            expected = prev;
            seq -= 1;
        }
        expected == base.hash
    }

    /// Pairs `(j, i)` of heads of one writer where `j` has the higher (or the same)
    /// revision but does not include `i`'s history: its own chain does not pass through `i`'s pin, and
    /// `j` does not name it among the histories it merged (`branches`). Records are
    /// read only for heads of one writer (a conflicted copy of a head), which are rare.
    pub(crate) fn apart_heads(&self, heads: &[ReadHead]) -> Vec<(usize, usize)> {
        let mut names: Option<Vec<String>> = None;
        let mut out = Vec::new();
        for (j, g) in heads.iter().enumerate() {
            for (i, h) in heads.iter().enumerate() {
                let (g, h) = (&g.body, &h.body);
                if i == j || g.writer != h.writer || g.index.revision < h.index.revision {
                    continue;
                }
                let (Some(gp), Some(hp)) = (head::own_pin(g), head::own_pin(h)) else {
                    continue;
                };
                if g.branches.contains(hp) {
                    continue;
                }
                let names = names.get_or_insert_with(|| {
                    fs::read_dir(self.path.join(AUDIT_DIR))
                        .map(|rd| {
                            rd.flatten()
                                .map(|e| e.file_name().to_string_lossy().to_string())
                                .collect()
                        })
                        .unwrap_or_default()
                });
                if !self.descends(&g.writer, gp, hp, names) {
                    out.push((j, i));
                }
            }
        }
        out
    }
}

/// The histories of this writer that a new head of it merges: the pins of both heads
/// of every pair `apart` (the one it continues on is an ancestor of its new pin, which
/// is harmless), and what its heads already named, newest first, at most
/// `head::MAX_BRANCHES`.
pub(crate) fn branches_of(
    writer: &str,
    heads: &[&HeadBody],
    apart: &[(usize, usize)],
) -> Vec<AuditHead> {
    let mut out: Vec<AuditHead> = Vec::new();
    let mut add = |p: &AuditHead| {
        if !out.contains(p) {
            out.push(p.clone());
        }
    };
    for &(j, i) in apart {
        for k in [j, i] {
            if let Some(h) = heads.get(k).filter(|h| h.writer == writer)
                && let Some(p) = head::own_pin(h)
            {
                add(p);
            }
        }
    }
    for h in heads.iter().filter(|h| h.writer == writer) {
        h.branches.iter().for_each(&mut add);
    }
    out.sort_by(|a, b| b.seq.cmp(&a.seq).then_with(|| a.hash.cmp(&b.hash)));
    out.truncate(head::MAX_BRANCHES);
    out
}

/// What a head of one of a writer's two histories brings when some of its shards are
/// gone: the other history replaced them (they held only rows from before the fork,
/// which its own rows include), so the head is read from the shards that are here
/// (docs/format.md#forked-writers). Either history may be the one with the higher
/// revision.
pub(crate) struct PartialHead {
    writer: String,
    revision: u64,
    pin: AuditHead,
    refs: Vec<crate::client::ClientRef>,
    removed: Vec<crate::client::Removal>,
    summaries: Vec<crate::client::ClientSummary>,
}

impl Vault {
    /// `h`'s rows from the shards that are here, each with its catalog summary and
    /// client file; `None` if a shard that is here cannot be read.
    pub(crate) fn partial_head(&self, h: &HeadBody) -> Option<PartialHead> {
        use crate::store::shard::ShardKind;
        use crate::store::{CLIENTS_DIR, is_client_file_name};
        let here =
            |f: &str| is_client_file_name(f) && self.path.join(CLIENTS_DIR).join(f).is_file();
        let mut present = h.index.clone();
        present.locator.retain(|r| here(&r.file));
        present.catalog.retain(|r| here(&r.file));
        let (all, removed) = self.load_locator(&present).ok()?;
        let mut by_cid = std::collections::HashMap::new();
        for r in &present.catalog {
            let list: Vec<crate::client::ClientSummary> = self
                .read_shard(ShardKind::Catalog, &present.vault_id, r)
                .ok()?;
            by_cid.extend(list.into_iter().map(|s| (s.cid.clone(), s)));
        }
        let (mut refs, mut summaries) = (Vec::new(), Vec::new());
        for r in all {
            if let Some(s) = by_cid.get(&r.cid).filter(|s| s.id == r.id)
                && here(&r.file)
            {
                summaries.push(s.clone());
                refs.push(r);
            }
        }
        Some(PartialHead {
            writer: h.writer.clone(),
            revision: h.index.revision,
            pin: head::own_pin(h)?.clone(),
            refs,
            removed,
            summaries,
        })
    }

    /// The rows of `h` if it is read in part (`partial_head`), for `merge_heads`.
    pub(crate) fn partial_rows(
        &self,
        h: &HeadBody,
    ) -> Option<(
        Vec<crate::client::ClientRef>,
        Vec<crate::client::Removal>,
        Vec<crate::client::ClientSummary>,
    )> {
        self.partial_heads
            .iter()
            .find(|p| {
                p.writer == h.writer
                    && p.revision == h.index.revision
                    && Some(&p.pin) == head::own_pin(h)
            })
            .map(|p| (p.refs.clone(), p.removed.clone(), p.summaries.clone()))
    }
}

/// The name a record of a writer's other history gets once a head of it names that
/// history in `branches` (docs/format.md#forked-writers): `<chain>.<seq>.age.branch-<8
/// hex of its hash>`, which the folder survey counts as baton's.
pub(crate) fn branch_name(main: &str, hash: &str) -> String {
    format!("{main}.branch-{}", &hash[..8.min(hash.len())])
}

/// One record of a writer's other history: the file it is in, and its plaintext.
pub(crate) struct BranchRecord {
    pub file: String,
    pub main: String,
    pub hash: String,
    pub raw: super::audit_log::RawRecord,
}

impl Vault {
    /// The records of the other histories the state's heads name (`branches`): walked
    /// back from each pin, by hash, under any name that may hold them, down to the
    /// first record the writer's chain in the state holds under its own name. A record
    /// not found is a problem (its copy was deleted).
    pub(crate) fn branch_records(
        &self,
        index: &crate::store::index::IndexBody,
    ) -> (Vec<BranchRecord>, Vec<crate::audit::AuditProblem>) {
        let (mut out, mut problems) = (Vec::new(), Vec::new());
        if self.branches.is_empty() {
            return (out, problems);
        }
        let chains = index.chains();
        let dir = self.path.join(AUDIT_DIR);
        let names: Vec<String> = fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        for (writer, pin) in &self.branches {
            let main_pin = chains.get(writer).map_or(0, |h| h.seq);
            let (mut expected, mut seq) = (pin.hash.clone(), pin.seq);
            let mut walked = 0;
            while seq > 0 && walked < MAX_WALK {
                let main = audit::chain_record_file(writer, seq);
                let found = names.iter().filter(|n| may_hold(n, &main)).find_map(|n| {
                    let bytes = crate::store::fsio::read_bounded(&dir.join(n), MAX_RECORD).ok()?;
                    let plain = self.decrypt_file(&bytes).ok()?;
                    if audit::hash(&plain) != expected {
                        return None;
                    }
                    let rec = serde_json::from_slice::<AuditRecord>(&plain)
                        .ok()
                        .filter(|r| r.seq == seq && r.writer == *writer)?;
                    Some((n.clone(), plain, rec))
                });
                let Some((file, plain, rec)) = found else {
                    problems.push(crate::audit::AuditProblem::Missing(seq));
                    break;
                };
                // Reached the history the state holds.
                if file == main && seq <= main_pin {
                    break;
                }
                if out.iter().any(|b: &BranchRecord| b.hash == expected) {
                    break;
                }
                let prev = rec.prev.clone();
                out.push(BranchRecord {
                    file,
                    main,
                    hash: expected,
                    raw: (plain, rec),
                });
                expected = prev;
                seq -= 1;
                walked += 1;
            }
        }
        (out, problems)
    }

    /// After a head that names the other histories in `branches` is written: their
    /// records still under a sync service's conflicted-copy name, a name set aside by
    /// an interrupted write, or their own name above the chain's head get their branch
    /// name (`branch_name`), so no copy is left to report. A crash leaves some renamed;
    /// the next write renames the rest.
    pub(crate) fn name_branch_records(&self) {
        if self.branches.is_empty() || self.lock.is_none() {
            return;
        }
        let dir = self.path.join(AUDIT_DIR);
        for b in self.branch_records(&self.index).0 {
            let to = branch_name(&b.main, &b.hash);
            if b.file != to
                && !dir.join(&to).exists()
                && fs::rename(dir.join(&b.file), dir.join(&to)).is_ok()
            {
                crate::store::fsio::fault_point("fork: branch record named");
            }
        }
        let _ = crate::store::fsio::sync_dir(&dir);
    }
}
