//! Reading the hash-chained audit log (docs/format.md#audit).

use std::collections::HashSet;
use std::fs;

use zeroize::Zeroizing;

use crate::audit::{self, AUDIT_DIR, AuditProblem, AuditRecord};
use crate::store::index::IndexBody;

use super::Vault;
use crate::store::sha256_hex;

/// How many of the newest audit records every write decrypts and re-chains
/// ([`Vault::check_chain_for_write`]).
pub const WRITE_CHECK_TAIL: u64 = 64;

/// The largest single record file read (a record never holds a secret or much text).
pub(crate) const MAX_RECORD: u64 = 1 << 20;

/// An audit record with the exact plaintext its hash is taken over.
pub(crate) type RawRecord = (Zeroizing<Vec<u8>>, AuditRecord);

impl Vault {
    /// Reads the whole audit log and checks its chain against the index's head.
    pub fn audit_log(&self) -> (Vec<AuditRecord>, Vec<AuditProblem>) {
        self.audit_log_to(&self.index)
    }

    pub(super) fn audit_log_to(&self, index: &IndexBody) -> (Vec<AuditRecord>, Vec<AuditProblem>) {
        let (raw, problems) = self.audit_raw(index);
        let mut records: Vec<AuditRecord> = raw.into_iter().map(|(_, r)| r).collect();
        // Several chains: shown in the order they were written (within one second,
        // in the order each was made on what the other had written).
        if index.chains().len() > 1 {
            records.sort_by(|a, b| (&a.time, a.order).cmp(&(&b.time, b.order)));
        }
        (records, problems)
    }

    /// Every record up to the heads the index pins with its exact plaintext, checked
    /// against its chain: per chain (the legacy chain, then each writer's in order of
    /// id; see docs/format.md#multi-writer, "Audit log") first the archive of earlier
    /// generations, then the single record files.
    pub(crate) fn audit_raw(&self, index: &IndexBody) -> (Vec<RawRecord>, Vec<AuditProblem>) {
        let chains = index.chains();
        let mut records = Vec::new();
        let mut problems = Vec::new();
        // Each chain's records from the archive that holds most of them (several only
        // after rotations to this generation made apart: docs/format.md#sibling-rotations).
        let archives: Vec<_> = index
            .archives()
            .map(|a| {
                let list = self
                    .read_archive(a)
                    .filter(|list| Some(list.len() as u64) == a.total());
                if list.is_none() {
                    problems.push(AuditProblem::Archive(a.file.clone()));
                }
                (a, list)
            })
            .collect();
        for (chain, head) in &chains {
            let archive = index
                .archive_of(chain)
                .and_then(|a| archives.iter().find(|(b, _)| std::ptr::eq(*b, a)));
            let writer = if chain == audit::LEGACY_CHAIN {
                ""
            } else {
                chain.as_str()
            };
            let mut prev = audit::GENESIS.to_string();
            let check = |seq: u64,
                         plain: Zeroizing<Vec<u8>>,
                         prev: &mut String,
                         problems: &mut Vec<AuditProblem>| {
                let Ok(rec) = serde_json::from_slice::<AuditRecord>(&plain) else {
                    problems.push(AuditProblem::Unreadable(seq));
                    prev.clear();
                    return None;
                };
                let hash = audit::hash(&plain);
                if rec.seq != seq || rec.writer != writer || (rec.prev != *prev && !prev.is_empty())
                {
                    problems.push(AuditProblem::BrokenChain(seq));
                }
                if seq == head.seq && hash != head.hash {
                    problems.push(AuditProblem::HeadMismatch);
                }
                *prev = hash;
                Some((plain, rec))
            };
            let mut first = 1;
            if let Some((a, list)) = archive {
                let (n, off) = (a.count(chain), a.offset(chain));
                match list {
                    Some(list) => {
                        for i in 0..n {
                            // The counts add up to the list's length (checked above).
                            let Some(plain) = usize::try_from(off.saturating_add(i))
                                .ok()
                                .and_then(|at| list.get(at))
                                .cloned()
                            else {
                                problems.push(AuditProblem::Archive(a.file.clone()));
                                break;
                            };
                            if let Some(r) = check(i + 1, plain, &mut prev, &mut problems) {
                                records.push(r);
                            }
                        }
                    }
                    None => prev.clear(),
                }
                first = n.saturating_add(1);
            }
            let mut missing_in_a_row = 0u32;
            for seq in first..=head.seq {
                match self.read_record(chain, seq) {
                    Ok(plain) => {
                        missing_in_a_row = 0;
                        if let Some(r) = check(seq, plain, &mut prev, &mut problems) {
                            records.push(r);
                        }
                    }
                    Err(p) => {
                        problems.push(p);
                        prev.clear();
                        // A head that pins a record far beyond what exists (damaged, or
                        // hostile): name the first ones, not billions.
                        missing_in_a_row += 1;
                        if missing_in_a_row >= 64 {
                            break;
                        }
                    }
                }
            }
        }
        // A writer's other history (docs/format.md#forked-writers).
        let (branch, branch_problems) = self.branch_records(index);
        records.extend(branch.into_iter().map(|b| b.raw));
        problems.extend(branch_problems);
        (records, problems)
    }

    /// The plaintext of the single record file `seq` of `chain`.
    fn read_record(&self, chain: &str, seq: u64) -> Result<Zeroizing<Vec<u8>>, AuditProblem> {
        let p = self
            .path
            .join(AUDIT_DIR)
            .join(audit::chain_record_file(chain, seq));
        let bytes = crate::store::fsio::read_bounded(&p, MAX_RECORD)
            .map_err(|_| AuditProblem::Missing(seq))?;
        self.decrypt_file(&bytes)
            .map_err(|_| AuditProblem::Unreadable(seq))
    }

    /// Refuses a write on top of a damaged audit log (docs/format.md#audit-log): a
    /// record chained onto a gap or a forgery hides the damage under new writes until a
    /// rotation or takeover refuses the log, when the backups that still hold the
    /// missing record may be gone. Called before every commit (`require_write`).
    ///
    /// It must stay cheap at any length of log (a busy vault writes thousands of
    /// records between rotations; docs/performance.md#audit-check), so it checks:
    ///
    /// 1. the archive of earlier generations is the file the index pins (SHA-256);
    /// 2. every single record file from the archive to the head exists (one listing
    ///    of `audit/`, no decryption): a deleted record anywhere is found;
    /// 3. the newest [`WRITE_CHECK_TAIL`] records decrypt, carry their numbers and
    ///    chain to each other and to the head the authenticated index pins: an
    ///    altered, replaced, reordered or forged record among them is found.
    ///
    /// A forged record older than that tail is found by `audit --verify`,
    /// `status --check --verify` and every rotation, which check the whole chain.
    /// With one chain per writer (docs/format.md#multi-writer, "Audit log") this is
    /// checked for this writer's chain and the legacy one.
    pub fn check_chain_for_write(&self) -> Result<(), AuditProblem> {
        let index = &self.index;
        for a in index.archives() {
            let pinned = audit::parse_archive_file(&a.file).is_some()
                && crate::store::fsio::read_bounded(
                    &self.path.join(AUDIT_DIR).join(&a.file),
                    crate::store::MAX_ARCHIVE_BYTES,
                )
                .is_ok_and(|bytes| sha256_hex(&bytes) == a.sha256);
            if !pinned {
                return Err(AuditProblem::Archive(a.file.clone()));
            }
        }
        // 2. Every record file exists. Names only; a folder that cannot be listed is
        // probed name by name.
        let listed: Option<HashSet<(String, u64)>> =
            fs::read_dir(self.path.join(AUDIT_DIR)).ok().map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        audit::parse_chain_record_file(&e.file_name().to_string_lossy())
                    })
                    .collect()
            });
        // `audit --verify`, `verify` and every rotation check every chain.
        for (chain, head) in self.chains_held_here(index) {
            let first = index.archived(&chain).saturating_add(1);
            if head.seq < first {
                if head.seq.saturating_add(1) < first {
                    return Err(AuditProblem::HeadMismatch);
                }
                continue;
            }
            let exists = |seq: u64| match &listed {
                Some(set) => set.contains(&(chain.clone(), seq)),
                None => self
                    .path
                    .join(AUDIT_DIR)
                    .join(audit::chain_record_file(&chain, seq))
                    .exists(),
            };
            if let Some(seq) = (first..=head.seq).find(|&seq| !exists(seq)) {
                return Err(AuditProblem::Missing(seq));
            }
            // 3. The newest records chain to the pinned head.
            let writer = if chain == audit::LEGACY_CHAIN {
                ""
            } else {
                chain.as_str()
            };
            let from = head.seq.saturating_sub(WRITE_CHECK_TAIL - 1).max(first);
            let mut prev: Option<String> = (from == 1).then(|| audit::GENESIS.to_string());
            for seq in from..=head.seq {
                let plain = self.read_record(&chain, seq)?;
                let rec: AuditRecord =
                    serde_json::from_slice(&plain).map_err(|_| AuditProblem::Unreadable(seq))?;
                if rec.seq != seq
                    || rec.writer != writer
                    || prev.as_ref().is_some_and(|p| *p != rec.prev)
                {
                    return Err(AuditProblem::BrokenChain(seq));
                }
                prev = Some(audit::hash(&plain));
            }
            if prev.as_deref() != Some(head.hash.as_str()) {
                return Err(AuditProblem::HeadMismatch);
            }
        }
        Ok(())
    }

    /// The archive's records, if the file is the one the index pins and decrypts.
    pub(super) fn read_archive(&self, a: &audit::AuditArchive) -> Option<Vec<Zeroizing<Vec<u8>>>> {
        audit::parse_archive_file(&a.file)?;
        let bytes = crate::store::fsio::read_bounded(
            &self.path.join(AUDIT_DIR).join(&a.file),
            crate::store::MAX_ARCHIVE_BYTES,
        )
        .ok()?;
        if sha256_hex(&bytes) != a.sha256 {
            return None;
        }
        let plain = self.decrypt_current(&bytes).ok()?;
        let list = audit::archive_records(&plain)?;
        Some(
            list.into_iter()
                .map(|r| Zeroizing::new(r.to_vec()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditAction, AuditEvent};
    use crate::vault::VaultError;

    /// A vault whose log has `n` records.
    fn vault(dir: &std::path::Path, n: u64) -> Vault {
        let mut v = crate::vault::test_vault(&dir.join("v"), "audit check unit test");
        while v.index.audit_head.seq < n {
            v.commit(
                AuditEvent::new(AuditAction::SettingsRetention, None, "x"),
                vec![],
                &[],
            )
            .unwrap();
        }
        v
    }

    fn record(v: &Vault, seq: u64) -> std::path::PathBuf {
        v.path
            .join(AUDIT_DIR)
            .join(audit::chain_record_file(&v.own_chain(), seq))
    }

    fn write(v: &mut Vault) -> Result<(), VaultError> {
        v.commit(
            AuditEvent::new(AuditAction::SettingsRetention, None, "y"),
            vec![],
            &[],
        )
    }

    /// A deleted record anywhere, or a record replaced within the newest ones, stops
    /// every write (red-team finding: writes chained on and made the break permanent);
    /// put back, the log takes writes again.
    #[test]
    fn writes_refuse_a_deleted_or_replaced_record() {
        let dir = tempfile::tempdir().unwrap();
        let n = WRITE_CHECK_TAIL + 6;
        let mut v = vault(dir.path(), n);
        assert_eq!(v.check_chain_for_write(), Ok(()));
        let revision = v.index.revision;
        for seq in [2, n - 3, n] {
            let aside = dir.path().join("aside");
            fs::rename(record(&v, seq), &aside).unwrap();
            assert_eq!(v.check_chain_for_write(), Err(AuditProblem::Missing(seq)));
            let e = write(&mut v).unwrap_err();
            assert!(
                matches!(e, VaultError::BrokenAuditLog(AuditProblem::Missing(s)) if s == seq),
                "{e:?}"
            );
            assert!(!record(&v, n + 1).exists(), "nothing written");
            fs::rename(&aside, record(&v, seq)).unwrap();
        }
        // A genuine record in the wrong place, a record swapped, the head replaced.
        let keep = |seq| fs::read(record(&v, seq)).unwrap();
        let (a, b) = (keep(n - 2), keep(n - 1));
        fs::write(record(&v, n - 2), &b).unwrap();
        assert_eq!(
            v.check_chain_for_write(),
            Err(AuditProblem::BrokenChain(n - 2))
        );
        fs::write(record(&v, n - 2), &a).unwrap();
        let head = keep(n);
        fs::write(record(&v, n), &b).unwrap();
        assert_eq!(v.check_chain_for_write(), Err(AuditProblem::BrokenChain(n)));
        fs::write(record(&v, n), b"not an age file").unwrap();
        assert_eq!(v.check_chain_for_write(), Err(AuditProblem::Unreadable(n)));
        fs::write(record(&v, n), &head).unwrap();
        assert_eq!(v.index.revision, revision);
        write(&mut v).unwrap();
        assert_eq!(v.check_chain_for_write(), Ok(()));
    }

    /// Records older than the checked tail are only checked for existence: a forgery
    /// there is left to the full check (`audit --verify`, rotation), by design; and
    /// after a rotation the archive is checked against the index.
    #[test]
    fn old_records_and_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let n = WRITE_CHECK_TAIL + 4;
        let mut v = vault(dir.path(), n);
        let (two, three) = (
            fs::read(record(&v, 2)).unwrap(),
            fs::read(record(&v, 3)).unwrap(),
        );
        fs::write(record(&v, 2), &three).unwrap();
        assert_eq!(v.check_chain_for_write(), Ok(()));
        assert!(v.audit_log().1.contains(&AuditProblem::BrokenChain(2)));
        fs::write(record(&v, 2), &two).unwrap();

        v.rotate(Default::default(), None, |_, _| Ok(()), &|_| {})
            .unwrap();
        let archive = v.index.audit_archive.clone().unwrap();
        assert_eq!(v.check_chain_for_write(), Ok(()));
        write(&mut v).unwrap();
        let file = v.path.join(AUDIT_DIR).join(&archive.file);
        let bytes = fs::read(&file).unwrap();
        fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(
            v.check_chain_for_write(),
            Err(AuditProblem::Archive(archive.file.clone()))
        );
        fs::write(&file, &bytes).unwrap();
        // A record after the archive deleted.
        let first = archive.count(&v.own_chain()) + 1;
        fs::remove_file(record(&v, first)).unwrap();
        assert_eq!(v.check_chain_for_write(), Err(AuditProblem::Missing(first)));
    }
}
