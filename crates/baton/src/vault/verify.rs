//! Decrypting and checking every file of a vault (docs/format.md#verify).

use crate::store::index::IndexBody;

use super::Vault;
use crate::store::IntegrityError;

impl Vault {
    /// Checks every file: index (already checked on open), every client file, the audit
    /// chain. Returns every problem found, each naming what it is about.
    pub fn verify(&self) -> Vec<IntegrityError> {
        let mut problems = self.verify_files();
        problems.extend(self.refused_heads());
        // A head whose files are not here is not intact, whether they are still
        // syncing or were deleted (docs/format.md#conflict-copies).
        problems.extend(
            self.waiting_heads
                .iter()
                .map(|w| IntegrityError::HeadRefused {
                    file: format!("{}/{}", crate::store::head::HEADS_DIR, w.file),
                    reason: format!(
                        "{} is missing (still syncing, or deleted); its changes are not shown",
                        w.missing
                    ),
                }),
        );
        problems.extend(self.forked_heads.iter().map(|(writer, file)| {
            IntegrityError::WriterForked {
                writer: writer.clone(),
                file: format!("{}/{file}", crate::store::head::HEADS_DIR),
            }
        }));
        problems.extend(self.strays());
        problems
    }

    /// Every file in the folder that baton did not write is a problem: a conflicted copy
    /// holds another device's changes (docs/format.md#conflict-copies).
    pub fn strays(&self) -> Vec<IntegrityError> {
        use crate::store::survey::{Stray, survey};
        let s = survey(&self.path, self.header.generation);
        let prefix = format!("{}/", crate::store::head::HEADS_DIR);
        let in_heads =
            |file: &str| -> Option<String> { file.strip_prefix(&prefix).map(str::to_string) };
        let branch_files: Vec<String> = self
            .branch_records(&self.index)
            .0
            .into_iter()
            .map(|b| format!("{}/{}", crate::audit::AUDIT_DIR, b.file))
            .collect();
        let in_branch = |file: &str| branch_files.iter().any(|f| f == file);
        let listed = s.strays.len();
        let mut out: Vec<IntegrityError> = s
            .strays
            .into_iter()
            .filter_map(|x| {
                Some(match x {
                    // A record of a writer's other history, named by a head, is the log's
                    // (docs/format.md#forked-writers).
                    Stray::ConflictCopy { file, .. } if in_branch(&file) => return None,
                    // The header of a rotation made apart whose device has not
                    // written under the winning keys yet (docs/format.md#sibling-rotations).
                    Stray::ConflictCopy { file, .. } if self.sibling_copy_needed(&file) => {
                        return None;
                    }
                    Stray::ConflictCopy { file, original, .. } => {
                        IntegrityError::ConflictCopy { file, original }
                    }
                    Stray::Unknown { file } => IntegrityError::UnknownFile { file },
                    // Nothing to carry: kept until its writer has switched
                    // (docs/format.md#carry-over).
                    Stray::OtherGeneration { file, .. }
                        if in_heads(&file).is_some_and(|f| self.carry.covered.contains(&f)) =>
                    {
                        return None;
                    }
                    Stray::OtherGeneration { file, generation }
                        if in_heads(&file).is_some_and(|f| self.carry.is_carried(&f)) =>
                    {
                        IntegrityError::StrandedHead { file, generation }
                    }
                    Stray::OtherGeneration { file, generation }
                        if in_heads(&file)
                            .is_some_and(|f| self.carry.for_their_device.contains(&f)) =>
                    {
                        IntegrityError::StrandedForItsDevice { file, generation }
                    }
                    Stray::OtherGeneration { file, generation }
                        if in_heads(&file).is_some_and(|f| self.carry.not_own.contains(&f)) =>
                    {
                        IntegrityError::StrandedNotOwn { file, generation }
                    }
                    Stray::OtherGeneration { file, generation }
                        if in_heads(&file).is_some_and(|f| self.carry.waiting.contains(&f)) =>
                    {
                        IntegrityError::HeadRefused {
                            file,
                            reason: format!(
                                "it holds changes made under the keys of generation {generation} after the rotation, and a file they need is missing (still syncing, or deleted); they are carried over once it is here, and until then they are not shown"
                            ),
                        }
                    }
                    Stray::OtherGeneration { file, generation } => {
                        IntegrityError::OtherGeneration {
                            file,
                            generation,
                            current: self.header.generation,
                        }
                    }
                })
            })
            .collect();
        if s.total > listed {
            out.push(IntegrityError::UnknownFile {
                file: format!("… and {} more", s.total - listed),
            });
        }
        out
    }

    fn verify_files(&self) -> Vec<IntegrityError> {
        // Several heads not yet merged: each is checked as the state it is.
        // A carried head's stand-in (docs/format.md#carry-over) is checked by what it
        // brings: its rows' client files.
        if let Some(m) = &self.merged {
            return m
                .heads
                .iter()
                .filter(|ix| !ix.updated.is_empty())
                .flat_map(|ix| self.verify_against(ix))
                .chain(self.carried_problems())
                .collect();
        }
        let problems = self.verify_against(&self.index);
        // A reader holds no lock: if a writer committed meanwhile, check the newer index
        // instead of reporting the files it legitimately replaced.
        if !problems.is_empty()
            && self.lock.is_none()
            && let Some(fresh) = self.fresh_state()
        {
            return self.verify_against(&fresh);
        }
        problems
    }

    pub(super) fn verify_against(&self, index: &IndexBody) -> Vec<IntegrityError> {
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
        // Records a rotation archived are gone before its vault.json arrived: one
        // problem that says so, not one per record (docs/format.md#rotation-arriving).
        let mut audit = self.audit_log_to(index).1;
        let is_missing =
            |p: &crate::audit::AuditProblem| matches!(p, crate::audit::AuditProblem::Missing(_));
        // The folder is listed only when a record is missing.
        if audit.iter().any(is_missing)
            && let Some(generation) =
                crate::store::survey::arriving_generation(&self.path, self.header.generation)
        {
            let before = audit.len();
            audit.retain(|p| !is_missing(p));
            problems.push(IntegrityError::RotationArriving {
                generation,
                missing: before - audit.len(),
            });
        }
        problems.extend(audit.into_iter().map(IntegrityError::Audit));
        problems
    }
}
