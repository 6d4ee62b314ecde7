//! What needs the owner's attention (docs/format.md#rotation, docs/gdpr.md,
//! docs/recovery.md#drill): one set of rules for `status` and for `status --check`.
//!
//! Each finding has a [`Severity`]. `status` shows every finding; `status --check`
//! turns them into its verdict ([`Verdict::of`]): a rotation running now makes every
//! other finding unreliable, a problem beats a due rotation, and notices (drills, GDPR
//! duties, files still syncing) never change the exit code.
//! [`check_folder`] needs no key, so cron can run it; [`Vault::status`] adds what only
//! an unlocked vault can tell.

use std::path::Path;

use crate::audit::AUDIT_DIR;
use crate::client::{ClientSummary, DpaStatus};
use crate::store::header::{Header, UnfinishedRotation};
use crate::store::{CLIENTS_DIR, IntegrityError};
use crate::vault::{UnlockError, Vault, VaultError};

/// How much a finding matters to `status --check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Shown, never changes the verdict.
    Notice,
    /// The key rotation schedule is due (`status --check` exits 10).
    Due,
    /// The vault is damaged or a rotation was interrupted (`status --check` exits 11).
    Problem,
    /// Another process is rotating the keys now: nothing can be judged until it ends
    /// (`status --check` exits 5, like any command that finds the vault locked).
    Busy,
}

/// One thing that needs attention.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// The vault uses the insecure test key derivation.
    InsecureKdf,
    /// A rotation to `generation` was interrupted.
    RotationPending { generation: u64 },
    /// A rotation to `generation` is running now (another process holds the lock).
    RotationRunning { generation: u64 },
    /// The index file `vault.json` names is not there.
    IndexMissing { file: String },
    /// `clients/` or `audit/` is not a plain folder.
    NotAFolder { name: &'static str },
    /// `verify` found problems (only when asked for).
    Damaged {
        count: usize,
        first: Box<IntegrityError>,
    },
    /// The rotation schedule is due since `since` (RFC 3339); last rotation `last`.
    RotationDue { since: String, last: String },
    /// The yearly emergency drill is due since `since` (RFC 3339).
    DrillDue { since: String },
    /// Former clients whose retention has passed.
    PurgeDue { clients: Vec<String> },
    /// Active clients without a DPA decision.
    WithoutDpa { clients: Vec<String> },
    /// Clients whose content changed after their last export.
    StaleExports { clients: Vec<String> },
    /// Files the index does not name (an interrupted write, or a change still syncing).
    Orphans { count: usize },
    /// A sync service's conflicted copies: another device's version of a vault file
    /// (docs/format.md#conflict-copies). `copies` are (copy, original) paths relative to
    /// the vault, the first few of `total`.
    ConflictCopies {
        copies: Vec<(String, String)>,
        total: usize,
    },
    /// Clients whose versions from different devices are in conflict
    /// (docs/format.md#merge): the owner resolves each (`baton resolve`). Only an
    /// unlocked vault can tell: client files are encrypted.
    Conflicts { clients: Vec<String> },
    /// Files in the vault folder that baton did not write (the first few of `total`).
    UnknownFiles { files: Vec<String>, total: usize },
    /// Indexes of another generation than the header's: left by an interrupted
    /// rotation, or a device's changes under the old keys after a rotation.
    OtherGeneration { files: Vec<String> },
    /// Writers that have not changed anything for `RETIRE_AFTER_DAYS` and whose state
    /// is included: files are no longer kept for them; forget the ones that are gone
    /// (docs/format.md#retired-writers).
    RetiredWriters { writers: Vec<String> },
}

impl Finding {
    pub fn severity(&self) -> Severity {
        match self {
            Finding::RotationPending { .. }
            | Finding::IndexMissing { .. }
            | Finding::NotAFolder { .. }
            | Finding::ConflictCopies { .. }
            | Finding::UnknownFiles { .. }
            | Finding::OtherGeneration { .. }
            | Finding::Conflicts { .. }
            | Finding::Damaged { .. } => Severity::Problem,
            Finding::RotationRunning { .. } => Severity::Busy,
            Finding::RotationDue { .. } => Severity::Due,
            Finding::InsecureKdf
            | Finding::DrillDue { .. }
            | Finding::PurgeDue { .. }
            | Finding::WithoutDpa { .. }
            | Finding::StaleExports { .. }
            | Finding::Orphans { .. }
            | Finding::RetiredWriters { .. } => Severity::Notice,
        }
    }
}

/// The outcome of `status --check`.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    Fine,
    /// The first finding of the highest severity.
    RotationDue(&'a Finding),
    Problem(&'a Finding),
    Busy(&'a Finding),
}

impl<'a> Verdict<'a> {
    /// A running rotation beats everything (what is on disk is changing), a problem
    /// beats a due rotation; notices never count.
    pub fn of(findings: &'a [Finding]) -> Verdict<'a> {
        let worst = |s| findings.iter().find(|f| f.severity() == s);
        if let Some(f) = worst(Severity::Busy) {
            Verdict::Busy(f)
        } else if let Some(f) = worst(Severity::Problem) {
            Verdict::Problem(f)
        } else if let Some(f) = worst(Severity::Due) {
            Verdict::RotationDue(f)
        } else {
            Verdict::Fine
        }
    }
}

/// The checks that need no key: the public header, an unfinished rotation, the index
/// file and the two folders, and the rotation schedule (against `now`, RFC 3339).
pub fn check_folder(path: &Path, now: &str) -> Result<(Header, Vec<Finding>), UnlockError> {
    // vault.json's own header: a conflicted copy of it is reported, not chosen, here.
    let h = crate::vault::read_header_only(path)?;
    let rotation = crate::store::header::unfinished_rotation(path);
    let findings = folder_findings(path, &h, rotation, now);
    Ok((h, findings))
}

/// The keyless checks against a header already read, with the unfinished rotation as
/// the caller sees it (a writer knows it is not running: it holds the lock).
fn folder_findings(
    path: &Path,
    h: &Header,
    rotation: Option<UnfinishedRotation>,
    now: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if h.kdf.is_insecure() {
        out.push(Finding::InsecureKdf);
    }
    match rotation {
        Some(UnfinishedRotation::Running(generation)) => {
            out.push(Finding::RotationRunning { generation })
        }
        Some(UnfinishedRotation::Interrupted(generation)) => {
            out.push(Finding::RotationPending { generation })
        }
        None => {}
    }
    // The commit point: the index (version 2), or at least one writer's head of this
    // generation (version 3, docs/format.md#multi-writer).
    if h.version >= crate::store::header::VERSION {
        let any_head = std::fs::read_dir(path.join(crate::store::head::HEADS_DIR))
            .map(|rd| {
                rd.flatten().any(|e| {
                    crate::store::head::parse_head_file(&e.file_name().to_string_lossy())
                        .is_some_and(|(_, g)| g == h.generation)
                })
            })
            .unwrap_or(false);
        if !any_head {
            out.push(Finding::IndexMissing {
                file: format!(
                    "{}/<writer>.g{}.age",
                    crate::store::head::HEADS_DIR,
                    h.generation
                ),
            });
        }
    } else if !path.join(h.index_file()).is_file() {
        out.push(Finding::IndexMissing {
            file: h.index_file(),
        });
    }
    for name in [CLIENTS_DIR, AUDIT_DIR] {
        let meta = std::fs::symlink_metadata(path.join(name));
        // git keeps no empty folder: a clone of a vault without clients has no
        // `clients/` (docs/format.md#git); a writer creates it.
        if name == CLIENTS_DIR
            && meta
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            continue;
        }
        if !meta.is_ok_and(|m| m.is_dir()) {
            out.push(Finding::NotAFolder { name });
        }
    }
    out.extend(stray_findings(&crate::store::survey::survey(
        path,
        h.generation,
    )));
    if let Some(since) = h.rotation_overdue(now) {
        out.push(Finding::RotationDue {
            since,
            last: h.last_rotation().to_string(),
        });
    }
    out
}

/// The findings for what a survey of the folder found that baton did not write.
fn stray_findings(s: &crate::store::survey::Survey) -> Vec<Finding> {
    use crate::store::survey::Stray;
    let copies: Vec<(String, String)> = s
        .strays
        .iter()
        .filter_map(|x| match x {
            Stray::ConflictCopy { file, original, .. } => Some((file.clone(), original.clone())),
            Stray::Unknown { .. } | Stray::OtherGeneration { .. } => None,
        })
        .collect();
    let files = |kind: fn(&Stray) -> bool| -> Vec<String> {
        s.strays
            .iter()
            .filter(|x| kind(x))
            .map(|x| x.file().to_string())
            .collect()
    };
    let unknown = files(|x| matches!(x, Stray::Unknown { .. }));
    let other_generation = files(|x| matches!(x, Stray::OtherGeneration { .. }));
    // Beyond the named ones, the kind of the rest is not known: count them with the
    // unknown files.
    let rest = s.total - s.strays.len();
    let mut out = Vec::new();
    if !copies.is_empty() {
        out.push(Finding::ConflictCopies {
            total: copies.len(),
            copies,
        });
    }
    if !other_generation.is_empty() {
        out.push(Finding::OtherGeneration {
            files: other_generation,
        });
    }
    if !unknown.is_empty() || rest > 0 {
        out.push(Finding::UnknownFiles {
            total: unknown.len() + rest,
            files: unknown,
        });
    }
    out
}

/// Everything `status` shows about an unlocked vault.
#[derive(Debug)]
pub struct Status {
    pub clients: usize,
    pub entries: usize,
    /// When the next rotation is due (RFC 3339), if there is a schedule.
    pub rotation_due: Option<String>,
    /// When the next emergency drill is due (RFC 3339).
    pub drill_due: Option<String>,
    pub purge_due: Vec<String>,
    pub without_dpa: Vec<String>,
    pub stale_exports: Vec<String>,
    /// In order of importance: problems, then the due rotation, then notices.
    pub findings: Vec<Finding>,
}

impl Status {
    /// Whether the rotation schedule is overdue.
    pub fn overdue(&self) -> bool {
        self.findings
            .iter()
            .any(|f| matches!(f, Finding::RotationDue { .. }))
    }
}

/// Former clients due for deletion on `today` (`YYYY-MM-DD`).
pub fn purge_due(catalog: &[ClientSummary], retention_months: u32, today: &str) -> Vec<String> {
    catalog
        .iter()
        .filter(|c| c.lifecycle.purge_due(retention_months, today))
        .map(|c| c.id.clone())
        .collect()
}

/// Active clients for whom no DPA decision is recorded.
pub fn without_dpa(catalog: &[ClientSummary]) -> Vec<String> {
    catalog
        .iter()
        .filter(|c| c.lifecycle.ended.is_none() && c.lifecycle.dpa.status == DpaStatus::Unknown)
        .map(|c| c.id.clone())
        .collect()
}

impl Vault {
    /// The clients in conflict between devices' versions, as a finding (a problem for
    /// `status --check --verify`; the keyless check cannot see them).
    pub fn conflict_finding(&self) -> Option<Finding> {
        let clients = self.conflicted_clients();
        (!clients.is_empty()).then_some(Finding::Conflicts { clients })
    }

    /// The status of an unlocked vault at `now` (RFC 3339): the public checks of
    /// [`check_folder`] plus the drill, the GDPR duties and unnamed files.
    pub fn status(&self, now: &str) -> Result<Status, VaultError> {
        // This handle's own lock (also on an older copy, which is not writable) is no
        // rotation running elsewhere.
        let rotation = if self.lock.is_some() {
            crate::store::header::pending_rotation(self.path()).map(UnfinishedRotation::Interrupted)
        } else {
            crate::store::header::unfinished_rotation(self.path())
        };
        let mut findings = folder_findings(self.path(), self.header(), rotation, now);
        let catalog = self.catalog()?;
        let today = crate::time::day_of(now);
        let drill_due = self.drill_due();
        if let Some(since) = drill_due.as_deref().filter(|d| *d <= now) {
            findings.push(Finding::DrillDue {
                since: since.to_string(),
            });
        }
        let purge = purge_due(&catalog, self.index().retention_months, today);
        if !purge.is_empty() {
            findings.push(Finding::PurgeDue {
                clients: purge.clone(),
            });
        }
        let no_dpa = without_dpa(&catalog);
        if !no_dpa.is_empty() {
            findings.push(Finding::WithoutDpa {
                clients: no_dpa.clone(),
            });
        }
        let ids: Vec<String> = catalog.iter().map(|c| c.id.clone()).collect();
        let stale = crate::gdpr::stale_exports(&self.audit_log().0, &ids);
        if !stale.is_empty() {
            findings.push(Finding::StaleExports {
                clients: stale.clone(),
            });
        }
        findings.extend(self.conflict_finding());
        let retired: Vec<String> = self
            .retired_writers()
            .into_iter()
            .map(|w| w.writer)
            .collect();
        if !retired.is_empty() {
            findings.push(Finding::RetiredWriters { writers: retired });
        }
        let orphans = self.orphans()?.len();
        if orphans > 0 {
            findings.push(Finding::Orphans { count: orphans });
        }
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity()));
        Ok(Status {
            clients: self.clients()?.len(),
            entries: catalog.iter().map(|c| c.entries.len()).sum(),
            rotation_due: self.header().rotation_due(),
            drill_due,
            purge_due: purge,
            without_dpa: no_dpa,
            stale_exports: stale,
            findings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_beats_a_due_rotation_and_notices_never_count() {
        let due = Finding::RotationDue {
            since: "2026-01-01T00:00:00Z".into(),
            last: "2025-01-01T00:00:00Z".into(),
        };
        let pending = Finding::RotationPending { generation: 3 };
        let notice = Finding::Orphans { count: 2 };
        assert_eq!(Verdict::of(&[]), Verdict::Fine);
        assert_eq!(Verdict::of(std::slice::from_ref(&notice)), Verdict::Fine);
        let v = [notice, due];
        assert_eq!(Verdict::of(&v), Verdict::RotationDue(&v[1]));
        let v = [Finding::InsecureKdf, v.into_iter().nth(1).unwrap(), pending];
        assert_eq!(Verdict::of(&v), Verdict::Problem(&v[2]));
        // A rotation running now beats everything: the folder is changing under us.
        let running = Finding::RotationRunning { generation: 3 };
        let v = [v.into_iter().nth(2).unwrap(), running];
        assert_eq!(Verdict::of(&v), Verdict::Busy(&v[1]));
    }

    /// A state file with the lock held by another holder is a running rotation; with
    /// the lock free it is an interrupted one (red-team finding: readers and `status
    /// --check` called a running rotation interrupted).
    #[test]
    fn a_running_rotation_is_told_from_an_interrupted_one() {
        let dir = tempfile::tempdir().unwrap();
        let v = crate::vault::test_vault(&dir.path().join("v"), "status unit test");
        let path = v.path().to_path_buf();
        let now = crate::time::now();
        let rotation = |f: &[Finding]| {
            f.iter()
                .filter(|f| {
                    matches!(
                        f,
                        Finding::RotationRunning { .. } | Finding::RotationPending { .. }
                    )
                })
                .map(|f| format!("{f:?}"))
                .collect::<Vec<_>>()
        };
        std::fs::write(path.join(crate::store::header::rotation_file(2)), b"").unwrap();
        // This handle holds the lock: to it the rotation is interrupted (it is not
        // rotating).
        assert_eq!(
            rotation(&v.status(&now).unwrap().findings),
            ["RotationPending { generation: 2 }"]
        );
        // To everyone else the lock means a rotation that is running.
        let (_, f) = check_folder(&path, &now).unwrap();
        assert_eq!(rotation(&f), ["RotationRunning { generation: 2 }"]);
        assert!(matches!(Verdict::of(&f), Verdict::Busy(_)));
        let e = Vault::open(
            &path,
            &crate::Passphrase::new("status unit test".into()),
            crate::vault::Access::Read,
        )
        .err()
        .unwrap();
        assert!(matches!(e, UnlockError::RotationRunning(2)), "{e:?}");
        drop(v);
        let (_, f) = check_folder(&path, &now).unwrap();
        assert_eq!(rotation(&f), ["RotationPending { generation: 2 }"]);
        assert!(matches!(Verdict::of(&f), Verdict::Problem(_)));
    }

    #[test]
    fn severities() {
        assert_eq!(Finding::InsecureKdf.severity(), Severity::Notice);
        assert_eq!(
            Finding::NotAFolder { name: "clients" }.severity(),
            Severity::Problem
        );
        assert_eq!(
            Finding::DrillDue { since: "x".into() }.severity(),
            Severity::Notice
        );
        let conflicts = Finding::Conflicts {
            clients: vec!["acme".into()],
        };
        assert_eq!(conflicts.severity(), Severity::Problem);
        assert_eq!(
            Verdict::of(std::slice::from_ref(&conflicts)),
            Verdict::Problem(&conflicts)
        );
    }
}
