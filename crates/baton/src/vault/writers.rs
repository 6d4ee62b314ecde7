//! The writers of a multi-writer vault (docs/format.md#retired-writers): which folders
//! on which machines wrote heads here, how long ago, which of them replaced files are
//! still kept for, and forgetting one that is gone for good.

use std::time::SystemTime;

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
        let clock = SystemTime::now();
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
        for (file, _) in &self.waiting_heads {
            if let Some((w, _)) = head::parse_head_file(file) {
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
        if self
            .waiting_heads
            .iter()
            .any(|(f, _)| head::parse_head_file(f).is_some_and(|(w, _)| w == writer))
        {
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
