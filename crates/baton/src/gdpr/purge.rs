//! Purge (docs/gdpr.md#purge): which ended clients are due, the plan of one `purge`
//! run (retention, or a request under GDPR Art. 17; never under a legal hold), and the
//! deletion with its record.

use serde::Serialize;

use super::{Category, CategoryCount, Lang, categories, history};
use crate::audit::{AuditAction, AuditEvent, AuditRecord};
use crate::client::{ClientSummary, Hold};
use crate::vault::{Vault, VaultError};

/// An ended client and whether its data may be purged now.
#[derive(Clone, Debug, Serialize)]
pub struct PurgeCandidate {
    pub id: String,
    pub name: String,
    pub ended: String,
    pub reason: String,
    pub retention_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// Retention passed and no legal hold.
    pub due: bool,
}

impl PurgeCandidate {
    /// Where the client stands on the plan's day.
    pub fn status(&self) -> PurgeStatus<'_> {
        match (&self.hold, self.due) {
            (Some(h), _) => PurgeStatus::LegalHold(h),
            (None, true) => PurgeStatus::Due,
            (None, false) => PurgeStatus::KeptUntil(&self.retention_date),
        }
    }
}

/// Where an ended client stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeStatus<'a> {
    /// Never purged while the hold is set, whatever the dates say.
    LegalHold(&'a Hold),
    /// Its retention has passed: `purge --confirm` deletes it.
    Due,
    /// Kept until this date (YYYY-MM-DD).
    KeptUntil(&'a str),
}

/// One client a purge deletes, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeTarget {
    pub id: String,
    pub basis: PurgeBasis,
}

/// What one `purge` run deletes, decided before anything is deleted; shown as the dry
/// run, carried out by `Vault::execute_purge`.
#[derive(Clone, Debug)]
pub struct PurgePlan {
    /// The day the plan is for (YYYY-MM-DD).
    pub today: String,
    /// Every ended client, due or not, in catalog order.
    pub candidates: Vec<PurgeCandidate>,
    /// The client whose deletion was requested (GDPR Art. 17), if this is such a run.
    pub request: Option<String>,
    /// What the run deletes.
    pub targets: Vec<PurgeTarget>,
}

impl PurgePlan {
    /// The ended clients this run is about: all of them, or only the requested one.
    pub fn shown(&self) -> impl Iterator<Item = &PurgeCandidate> {
        self.candidates
            .iter()
            .filter(|c| self.request.as_ref().is_none_or(|id| *id == c.id))
    }

    /// The ids the run deletes, in order.
    pub fn would_delete(&self) -> Vec<&str> {
        self.targets.iter().map(|t| t.id.as_str()).collect()
    }

    /// No ended client and no request: there is nothing to talk about.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty() && self.request.is_none()
    }
}

/// Why a client is purged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeBasis {
    /// Its retention period after the end of the contract has passed.
    Retention,
    /// The person asked for deletion (GDPR Art. 17).
    Request,
}

/// What `purge` deleted, for the printout (the audit record says the same).
#[derive(Clone, Debug, Serialize)]
pub struct Purged {
    pub id: String,
    pub name: String,
    pub categories: Vec<CategoryCount>,
    /// When earlier packages of this client were exported: copies outside the vault.
    pub exports: Vec<String>,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PurgeError {
    #[error("client '{client}' is under a legal hold ({reason})")]
    LegalHold { client: String, reason: String },
    #[error("client '{client}' is kept until {date} (retention after the end of the contract)")]
    NotDue { client: String, date: String },
    #[error("client '{0}' has not ended")]
    Active(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

fn purge_detail(c: &ClientSummary, basis: PurgeBasis, months: u32, by: &str) -> String {
    let cats = categories(c);
    let mut parts: Vec<String> = cats
        .iter()
        .map(|x| format!("{} {}", Category::label(x.category, Lang::En), x.entries))
        .collect();
    let sum = |f: fn(&CategoryCount) -> usize| cats.iter().map(f).sum::<usize>();
    let (pw, totp, att) = (
        sum(|x| x.passwords),
        sum(|x| x.totp),
        sum(|x| x.attachments),
    );
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    parts.push(format!(
        "{}, {}, {}",
        n(pw, "password", "passwords"),
        n(totp, "TOTP seed", "TOTP seeds"),
        n(att, "attachment", "attachments")
    ));
    if !c.notes.is_empty() || c.entries.iter().any(|e| !e.note.is_empty()) {
        parts.push("notes".into());
    }
    let why = match (basis, &c.lifecycle.ended) {
        (PurgeBasis::Retention, Some(e)) => format!(
            "retention passed (ended {}{}; kept until {})",
            e.date,
            if e.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", e.reason)
            },
            c.lifecycle.retention_date(months).unwrap_or_default()
        ),
        (PurgeBasis::Request, _) => "deletion requested (GDPR Art. 17)".to_string(),
        (PurgeBasis::Retention, None) => "retention".to_string(),
    };
    format!(
        "name={}; {why}; deleted: {} entries ({}); by {by}",
        c.name,
        c.entries.len(),
        parts.join(", ")
    )
}

impl Vault {
    /// Every ended client, with its retention date and whether it is due on `today`
    /// (YYYY-MM-DD).
    pub fn purge_candidates(&self, today: &str) -> Result<Vec<PurgeCandidate>, VaultError> {
        let months = self.index().retention_months;
        Ok(self
            .catalog()?
            .into_iter()
            .filter_map(|c| {
                let e = c.lifecycle.ended.clone()?;
                Some(PurgeCandidate {
                    retention_date: c.lifecycle.retention_date(months).unwrap_or_default(),
                    hold: c.lifecycle.hold.clone(),
                    due: c.lifecycle.purge_due(months, today),
                    id: c.id,
                    name: c.name,
                    ended: e.date,
                    reason: e.reason,
                })
            })
            .collect())
    }

    /// Deletes a client and everything stored for it, and writes the deletion record
    /// (`client.purge`: name, categories, counts, basis, by whom; no secret value).
    /// Refused under a legal hold, and for `Retention` before the retention date.
    pub fn purge_client(
        &mut self,
        id: &str,
        basis: PurgeBasis,
        today: &str,
    ) -> Result<Purged, PurgeError> {
        let records = self.audit_log().0;
        self.purge_one(id, basis, today, &records)
    }

    /// `purge_client` for several clients, reading the audit log once; one result
    /// per client (a refusal does not stop the others).
    pub fn purge_clients(
        &mut self,
        targets: &[PurgeTarget],
        today: &str,
    ) -> Vec<(String, Result<Purged, PurgeError>)> {
        let records = self.audit_log().0;
        targets
            .iter()
            .map(|t| {
                (
                    t.id.clone(),
                    self.purge_one(&t.id, t.basis, today, &records),
                )
            })
            .collect()
    }

    /// What `purge` would delete on `today` (YYYY-MM-DD): every ended client that is
    /// due (docs/gdpr.md#retention), or only `on_request`, whatever its retention date
    /// or whether it ended (docs/gdpr.md#erasure). A request for a client under a
    /// legal hold is refused here, before anything is shown as deletable.
    pub fn plan_purge(
        &self,
        today: &str,
        on_request: Option<&str>,
    ) -> Result<PurgePlan, PurgeError> {
        let candidates = self.purge_candidates(today)?;
        let targets = match on_request {
            Some(id) => {
                let c = self.catalog()?.into_iter().find(|c| c.id == id);
                let c = c.ok_or_else(|| VaultError::UnknownClient(id.to_string()))?;
                if let Some(h) = &c.lifecycle.hold {
                    return Err(PurgeError::LegalHold {
                        client: id.to_string(),
                        reason: h.reason.clone(),
                    });
                }
                vec![PurgeTarget {
                    id: id.to_string(),
                    basis: PurgeBasis::Request,
                }]
            }
            None => candidates
                .iter()
                .filter(|c| c.due)
                .map(|c| PurgeTarget {
                    id: c.id.clone(),
                    basis: PurgeBasis::Retention,
                })
                .collect(),
        };
        Ok(PurgePlan {
            today: today.to_string(),
            candidates,
            request: on_request.map(str::to_string),
            targets,
        })
    }

    /// Carries out a plan: one result per target, in order (a refusal does not stop
    /// the others). Each deletion checks its client file again (`purge_client`): a
    /// hold set or a date moved since the plan was made still holds.
    pub fn execute_purge(&mut self, plan: &PurgePlan) -> Vec<(String, Result<Purged, PurgeError>)> {
        self.purge_clients(&plan.targets, &plan.today)
    }

    fn purge_one(
        &mut self,
        id: &str,
        basis: PurgeBasis,
        today: &str,
        records: &[AuditRecord],
    ) -> Result<Purged, PurgeError> {
        // The client file itself decides (its catalog summary is only a copy).
        let file = self.client(id)?;
        let l = &file.lifecycle;
        if let Some(h) = &l.hold {
            return Err(PurgeError::LegalHold {
                client: id.into(),
                reason: h.reason.clone(),
            });
        }
        let months = self.index().retention_months;
        if basis == PurgeBasis::Retention {
            if l.ended.is_none() {
                return Err(PurgeError::Active(id.into()));
            }
            if !l.purge_due(months, today) {
                return Err(PurgeError::NotDue {
                    client: id.into(),
                    date: l.retention_date(months).unwrap_or_default(),
                });
            }
        }
        let by = match (self.is_owner(), self.index().owner.name.as_str()) {
            (true, "") => "the owner".to_string(),
            (true, name) => name.to_string(),
            (false, _) => "the emergency key".to_string(),
        };
        let summary = file.summary();
        let detail = purge_detail(&summary, basis, months, &by);
        let exports = history(records, id)
            .filter(|r| r.action == AuditAction::ClientExport)
            .map(|r| r.time.clone())
            .collect();
        self.commit(
            AuditEvent::new(AuditAction::ClientPurge, Some(id), detail.clone()),
            vec![],
            std::slice::from_ref(&file.cid),
        )?;
        Ok(Purged {
            id: id.into(),
            name: file.name.clone(),
            categories: categories(&summary),
            exports,
            detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emergency::Policy;
    use crate::vault::changes::{GdprEdit, NewClient};
    use crate::vault::{Access, InitOptions};
    use crate::{KdfParams, Passphrase};

    const TODAY: &str = "2026-01-15";

    /// Clients: `due` (ended long ago), `recent` (kept until 2027-01-01), `held`
    /// (ended long ago, legal hold), `kept` (ended long ago, kept until 2030-01-01)
    /// and `active`. Retention 12 months.
    fn vault(dir: &std::path::Path) -> Vault {
        let path = dir.join("v");
        let pass = Passphrase::new("correct horse battery staple".into());
        drop(crate::vault::test_vault(
            &path,
            "correct horse battery staple",
        ));
        let mut v = Vault::open(&path, &pass, Access::Write).unwrap();
        for id in ["due", "recent", "held", "kept", "active"] {
            v.add_client(NewClient {
                id: id.into(),
                name: format!("{id} Ltd"),
                ..Default::default()
            })
            .unwrap();
        }
        for (id, date) in [
            ("due", "2020-01-01"),
            ("recent", "2026-01-01"),
            ("held", "2020-01-01"),
            ("kept", "2020-01-01"),
        ] {
            v.end_client(id, date, "").unwrap();
        }
        v.set_client_gdpr(
            "held",
            GdprEdit {
                hold: Some(Some("tax audit".into())),
                ..Default::default()
            },
        )
        .unwrap();
        v.set_client_gdpr(
            "kept",
            GdprEdit {
                retain_until: Some("2030-01-01".into()),
                ..Default::default()
            },
        )
        .unwrap();
        v
    }

    fn target(id: &str, basis: PurgeBasis) -> PurgeTarget {
        PurgeTarget {
            id: id.into(),
            basis,
        }
    }

    #[test]
    fn retention_plan_takes_what_is_due_and_says_why_the_rest_stays() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        let plan = v.plan_purge(TODAY, None).unwrap();
        assert_eq!(plan.targets, [target("due", PurgeBasis::Retention)]);
        assert_eq!(plan.would_delete(), ["due"]);
        let status: Vec<(&str, PurgeStatus)> =
            plan.shown().map(|c| (c.id.as_str(), c.status())).collect();
        let hold = Hold {
            reason: "tax audit".into(),
            since: crate::time::today(),
        };
        assert_eq!(
            status,
            [
                ("due", PurgeStatus::Due),
                ("held", PurgeStatus::LegalHold(&hold)),
                ("kept", PurgeStatus::KeptUntil("2030-01-01")),
                ("recent", PurgeStatus::KeptUntil("2027-01-01")),
            ]
        );
        assert!(!plan.is_empty());
        // A year later `recent` is due too; `held` never while the hold is set.
        let plan = v.plan_purge("2027-01-01", None).unwrap();
        assert_eq!(plan.would_delete(), ["due", "recent"]);
    }

    #[test]
    fn a_request_takes_one_client_whatever_its_dates_but_not_under_hold() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        for id in ["active", "kept", "recent"] {
            let plan = v.plan_purge(TODAY, Some(id)).unwrap();
            assert_eq!(plan.targets, [target(id, PurgeBasis::Request)]);
            assert_eq!(plan.request.as_deref(), Some(id));
            // Only the requested client is shown (an active one is no candidate).
            assert!(plan.shown().all(|c| c.id == id));
            assert!(!plan.is_empty());
        }
        assert!(matches!(
            v.plan_purge(TODAY, Some("held")),
            Err(PurgeError::LegalHold { ref client, ref reason }) if client == "held" && reason == "tax audit"
        ));
        assert!(matches!(
            v.plan_purge(TODAY, Some("nobody")),
            Err(PurgeError::Vault(VaultError::UnknownClient(ref id))) if id == "nobody"
        ));
    }

    #[test]
    fn executing_a_plan_deletes_its_targets_and_checks_each_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let plan = v.plan_purge("2027-01-01", None).unwrap();
        // A hold set after the plan was made still protects the client.
        v.set_client_gdpr(
            "recent",
            GdprEdit {
                hold: Some(Some("court order".into())),
                ..Default::default()
            },
        )
        .unwrap();
        let results = v.execute_purge(&plan);
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].0, "due");
        let purged = results[0].1.as_ref().unwrap();
        assert!(
            purged.detail.starts_with(
                "name=due Ltd; retention passed (ended 2020-01-01; kept until 2021-01-01)"
            ),
            "{}",
            purged.detail
        );
        assert!(matches!(results[1].1, Err(PurgeError::LegalHold { .. })));
        assert!(v.client("due").is_err());
        assert!(v.client("recent").is_ok());
        let last = v
            .audit_log()
            .0
            .into_iter()
            .rev()
            .find(|r| r.action == AuditAction::ClientPurge);
        assert_eq!(last.unwrap().client.as_deref(), Some("due"));
        // Nothing is left to do on that day.
        let plan = v.plan_purge("2027-01-01", None).unwrap();
        assert!(plan.targets.is_empty());
    }

    #[test]
    fn an_empty_vault_has_an_empty_plan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let v = Vault::init(
            &path,
            &Passphrase::new("correct horse battery staple".into()),
            InitOptions {
                policy: Policy::single(vec!["anna".into()], 1),
                kdf: KdfParams::insecure_test(),
            },
            |_, _| Ok(()),
        )
        .unwrap();
        let plan = v.plan_purge(TODAY, None).unwrap();
        assert!(plan.is_empty() && plan.targets.is_empty());
    }
}
