//! The writers of a multi-writer vault (docs/format.md#retired-writers): which folders
//! on which machines wrote heads here, how long ago, which of them replaced files are
//! still kept for, and forgetting one that is gone for good.

use crate::audit::{AuditAction, AuditEvent};
use crate::store::fsio;
use crate::store::head::{self, HEADS_DIR};

use super::{Vault, VaultError};

/// One writer with a head in the folder, as `baton writers` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WriterInfo {
    /// The writer id (docs/format.md#writers).
    pub writer: String,
    /// The revision of its latest head read here.
    pub revision: u64,
    /// When that head was written (RFC 3339).
    pub updated: String,
    /// Whether it is this folder on this machine.
    pub this_folder: bool,
    /// Whether the state read here includes its latest head.
    pub included: bool,
    /// Whole days since its head was written.
    pub idle_days: u64,
    /// Idle for `RETIRE_AFTER_DAYS` (30) with its state included: files are no longer kept
    /// for it.
    pub retired: bool,
    /// Its head waits for files that have not arrived (a sync in progress).
    pub waiting: bool,
    /// Replaced files still kept because this writer has not seen their replacement.
    pub holds: usize,
}

/// What `forget_writer` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgetReport {
    /// The revision of the writer's head that was forgotten.
    pub revision: u64,
    /// Head files removed (its head and sync services' copies of it).
    pub heads_removed: usize,
    /// Replaced files no longer kept: removed now, as no writer still in use needs them.
    pub files_released: usize,
}

impl Vault {
    /// Every writer with a head of this generation in the folder, sorted by id; empty
    /// before the upgrade to the multi-writer format.
    pub fn writers(&self) -> Vec<WriterInfo> {
        let Some(state) = &self.heads else {
            return vec![];
        };
        let clock = crate::replay::now();
        let mut out: Vec<WriterInfo> = Vec::new();
        for h in &state.files {
            if out
                .iter()
                .any(|o| o.writer == h.writer && o.revision >= h.revision)
            {
                continue;
            }
            out.retain(|o| o.writer != h.writer);
            let holds = state
                .files
                .iter()
                .flat_map(|o| o.deferred.iter().map(move |d| (o, d)))
                .filter(|(o, d)| o.writer != h.writer && h.seen.get(&o.writer) < d.since)
                .count();
            out.push(WriterInfo {
                writer: h.writer.clone(),
                revision: h.revision,
                updated: h.updated.clone(),
                this_folder: h.writer == self.writer,
                included: state.seen.get(&h.writer) >= h.revision,
                idle_days: h.idle_days(clock),
                retired: h.writer != self.writer && h.retired(&state.seen, clock),
                waiting: false,
                holds,
            });
        }
        for waiting in &self.waiting_heads {
            if let Some((w, _)) = head::parse_head_file(&waiting.file) {
                match out.iter_mut().find(|o| o.writer == w) {
                    Some(o) => o.waiting = true,
                    None => out.push(WriterInfo {
                        writer: w,
                        revision: 0,
                        updated: String::new(),
                        this_folder: false,
                        included: false,
                        idle_days: 0,
                        retired: false,
                        waiting: true,
                        holds: 0,
                    }),
                }
            }
        }
        out.sort_by(|a, b| a.writer.cmp(&b.writer));
        out
    }

    /// Writers idle for `RETIRE_AFTER_DAYS` (30) or more whose state is included: no file is
    /// kept for them any more (`status` names them so that the owner can forget the
    /// ones that are gone).
    pub fn retired_writers(&self) -> Vec<WriterInfo> {
        self.writers().into_iter().filter(|w| w.retired).collect()
    }

    /// Forgets writer `writer`, a folder that will not write again (a replaced machine,
    /// a deleted copy): one `writer.forget` record and head of this writer that no
    /// longer waits for it, then its head files go, so that replaced files are no
    /// longer kept for it and its head is no longer read
    /// (docs/format.md#retired-writers). Its state must be included in this one; its
    /// audit chain stays. If it writes again after all, it simply comes back.
    pub fn forget_writer(&mut self, writer: &str) -> Result<ForgetReport, VaultError> {
        self.require_write()?;
        self.prepare_write()?;
        if writer == self.writer {
            return Err(VaultError::OwnWriter(writer.to_string()));
        }
        if self.waiting_heads.iter().any(|w| w.is_of(writer)) {
            return Err(VaultError::WriterNotMerged(writer.to_string()));
        }
        let state = self.heads.clone().unwrap_or_default();
        let files: Vec<&super::HeadInfo> =
            state.files.iter().filter(|h| h.writer == writer).collect();
        let Some(latest) = files.iter().max_by_key(|h| h.revision) else {
            return Err(VaultError::UnknownWriter(writer.to_string()));
        };
        if files.iter().any(|h| state.seen.get(writer) < h.revision) {
            return Err(VaultError::WriterNotMerged(writer.to_string()));
        }
        let kept_before = self.kept_files().len();
        let detail = format!(
            "forgot writer {writer} at revision {}, last written {}; no file is kept for it any more",
            latest.revision,
            crate::time::day_of(&latest.updated)
        );
        self.commit_change(
            AuditEvent::new(AuditAction::WriterForget, None, detail),
            vec![],
            &[],
            |_| {},
            Some(writer),
        )?;
        fsio::fault_point("forget: committed");
        let mut heads_removed = 0;
        for h in &files {
            let p = self.path.join(HEADS_DIR).join(&h.file);
            if fsio::remove_durable(&p).is_ok() {
                heads_removed += 1;
            }
        }
        if let Some(s) = &mut self.heads {
            s.files.retain(|h| h.writer != writer);
        }
        Ok(ForgetReport {
            revision: latest.revision,
            heads_removed,
            files_released: kept_before.saturating_sub(self.kept_files().len()),
        })
    }
}

/// Review of retired writers (docs/format.md#retired-writers): needs a head whose time
/// is 30 days back, which only a unit test can write.
#[cfg(test)]
mod review_writers_tests {
    use super::*;
    use crate::crypto::seal;
    use crate::crypto::secret::Passphrase;
    use crate::store::head::HeadBody;
    use crate::vault::Access;
    use crate::vault::changes::NewClient;

    const PASS: &str = "review writers unit test";
    const R: &str = "bbbbbbbbbbbbbbbb";

    fn put_head(v: &Vault, body: &HeadBody) {
        let sealed = body.seal(&v.auth);
        let p = v
            .path
            .join(head::head_file(&body.writer, body.index.generation));
        std::fs::write(p, seal::encrypt(&v.recipients, &sealed)).unwrap();
    }

    fn ago(days: u64) -> String {
        let t = crate::replay::now() - std::time::Duration::from_secs(days * 86_400 + 60);
        humantime::format_rfc3339_seconds(t).to_string()
    }

    /// Writer R wrote last (its head, 31 days old, names its own shards) and then
    /// committed once more on its own disk, offline; that head has not arrived. This
    /// writer merges R's head and changes a client: it rewrites R's shards under its
    /// own names and keeps R's for R, but R is retired, so they are removed at once.
    /// When R's offline head arrives it names those shards: it waits for files that
    /// never come, its change is never shown, and R's own next commit covers it (see
    /// tests/review_writers.rs, the same through `forget`). Nothing the owner did: the
    /// 30 days passed. The docs: "If that writer comes back ... no change is lost".
    #[test]
    fn a_retired_writers_head_written_offline_finds_its_own_shards() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = crate::vault::test_vault(&dir.path().join("v"), PASS);
        v.add_client(NewClient {
            id: "acme".into(),
            ..Default::default()
        })
        .unwrap();
        let mine = v
            .read_heads()
            .unwrap()
            .into_iter()
            .find(|h| h.body.writer == v.writer)
            .unwrap()
            .body;
        // R's head: this state, its shards copied under R's names, 31 days old.
        let clients = v.path.join(crate::store::CLIENTS_DIR);
        let mut r1 = mine.clone();
        r1.writer = R.into();
        r1.index.revision = 1;
        r1.seen = mine.seen.clone().with(R, 1);
        r1.deferred = vec![];
        r1.index.updated = ago(31);
        for (i, r) in r1
            .index
            .locator
            .iter_mut()
            .chain(r1.index.catalog.iter_mut())
            .enumerate()
        {
            let name = format!("{R}{i:016x}.age");
            std::fs::copy(clients.join(&r.file), clients.join(&name)).unwrap();
            r.file = name;
        }
        put_head(&v, &r1);
        // R's next head, written offline a week later on top of its own state.
        let mut r2 = r1.clone();
        r2.index.revision = 2;
        r2.seen = r1.seen.clone().with(R, 2);
        r2.index.updated = ago(24);
        let path = v.path.clone();
        drop(v);

        let mut v = Vault::open(&path, &Passphrase::new(PASS.into()), Access::Write).unwrap();
        assert!(v.writers().iter().any(|w| w.writer == R && w.included));
        v.add_client(NewClient {
            id: "bravo".into(),
            ..Default::default()
        })
        .unwrap();
        drop(v);
        // R's offline head arrives.
        let v = Vault::open(&path, &Passphrase::new(PASS.into()), Access::Read).unwrap();
        put_head(&v, &r2);
        drop(v);
        let v = Vault::open(&path, &Passphrase::new(PASS.into()), Access::Read).unwrap();
        let missing: Vec<&str> = r2
            .index
            .shard_files()
            .filter(|f| !clients.join(f).exists())
            .collect();
        assert!(
            missing.is_empty() && v.waiting_heads().is_empty(),
            "R's offline head names its own shards {missing:?}, removed when R retired; \
             it waits for ever: {:?}",
            v.verify()
        );
    }
}
