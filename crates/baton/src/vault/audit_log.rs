//! Reading the hash-chained audit log (docs/format.md#audit).

use std::fs;

use zeroize::Zeroizing;

use crate::audit::{self, AUDIT_DIR, AuditProblem, AuditRecord};
use crate::crypto::seal;
use crate::store::index::IndexBody;

use super::Vault;
use crate::store::sha256_hex;

/// An audit record with the exact plaintext its hash is taken over.
pub(crate) type RawRecord = (Zeroizing<Vec<u8>>, AuditRecord);

impl Vault {
    /// Reads the whole audit log and checks its chain against the index's head.
    pub fn audit_log(&self) -> (Vec<AuditRecord>, Vec<AuditProblem>) {
        self.audit_log_to(&self.index)
    }

    pub(super) fn audit_log_to(&self, index: &IndexBody) -> (Vec<AuditRecord>, Vec<AuditProblem>) {
        let (raw, problems) = self.audit_raw(index);
        (raw.into_iter().map(|(_, r)| r).collect(), problems)
    }

    /// Every record up to the index's head with its exact plaintext, checked against the
    /// chain: first the archive of earlier generations, then the single record files.
    pub(crate) fn audit_raw(&self, index: &IndexBody) -> (Vec<RawRecord>, Vec<AuditProblem>) {
        let head = &index.audit_head;
        let mut records = Vec::new();
        let mut problems = Vec::new();
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
            if rec.seq != seq || (rec.prev != *prev && !prev.is_empty()) {
                problems.push(AuditProblem::BrokenChain(seq));
            }
            if seq == head.seq && hash != head.hash {
                problems.push(AuditProblem::HeadMismatch);
            }
            *prev = hash;
            Some((plain, rec))
        };
        let mut first = 1;
        if let Some(a) = &index.audit_archive {
            let archived = self.read_archive(a);
            match archived {
                Some(list) if list.len() as u64 == a.through => {
                    for (i, plain) in list.into_iter().enumerate() {
                        if let Some(r) = check(i as u64 + 1, plain, &mut prev, &mut problems) {
                            records.push(r);
                        }
                    }
                }
                _ => {
                    problems.push(AuditProblem::Archive(a.file.clone()));
                    prev.clear();
                }
            }
            first = a.through + 1;
        }
        for seq in first..=head.seq {
            let p = self.path.join(AUDIT_DIR).join(audit::record_file(seq));
            let Ok(bytes) = fs::read(&p) else {
                problems.push(AuditProblem::Missing(seq));
                prev.clear();
                continue;
            };
            let Ok(plain) = seal::decrypt(self.identity(), &bytes) else {
                problems.push(AuditProblem::Unreadable(seq));
                prev.clear();
                continue;
            };
            if let Some(r) = check(seq, plain, &mut prev, &mut problems) {
                records.push(r);
            }
        }
        (records, problems)
    }

    /// The archive's records, if the file is the one the index pins and decrypts.
    pub(super) fn read_archive(&self, a: &audit::AuditArchive) -> Option<Vec<Zeroizing<Vec<u8>>>> {
        audit::parse_archive_file(&a.file)?;
        let bytes = fs::read(self.path.join(AUDIT_DIR).join(&a.file)).ok()?;
        if sha256_hex(&bytes) != a.sha256 {
            return None;
        }
        let plain = seal::decrypt(self.identity(), &bytes).ok()?;
        let list = audit::archive_records(&plain)?;
        Some(
            list.into_iter()
                .map(|r| Zeroizing::new(r.to_vec()))
                .collect(),
        )
    }
}
