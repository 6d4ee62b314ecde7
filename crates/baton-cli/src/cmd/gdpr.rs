//! Client lifecycle and GDPR duties on the command line (docs/gdpr.md): ending and
//! reopening clients, DPA and legal hold, purge, access reports, records overview.

use std::path::Path;

use baton::client::{Dpa, DpaParseError};
use baton::gdpr::{Lang, PurgeError, PurgeStatus};
use baton::vault::Access;
use baton::vault::changes::GdprEdit;
use serde_json::json;

use crate::cli::{GdprCmd, LangArg, PurgeArgs};
use crate::msg::{self, Failure, Result, esc};
use crate::{Ctx, print_json};

/// `--dpa signed:2024-03-01 | signed | none | not-needed | unknown` (parsed by the
/// library), with `--dpa-ref`.
pub fn parse_dpa(text: &str, reference: Option<String>) -> Result<Dpa> {
    let dpa: Dpa = text.parse().map_err(|e| match e {
        DpaParseError::BadDate(date) => msg::bad_dpa_date(&date),
        _ => msg::bad_dpa(text),
    })?;
    Ok(Dpa {
        reference: reference.unwrap_or_default(),
        ..dpa
    })
}

pub fn end(ctx: &Ctx, id: &str, date: Option<String>, reason: &str) -> Result<()> {
    let date = date.unwrap_or_else(baton::time::today);
    let mut v = ctx.open(Access::Write)?;
    v.end_client(id, &date, reason)?;
    let months = v.index().retention_months;
    let c = v.client(id)?;
    let due = c.lifecycle.retention_date(months).unwrap_or_default();
    let today = baton::time::today();
    match &c.lifecycle.hold {
        Some(h) => eprintln!(
            "client {} ended on {date}; under a legal hold ({}), so it is not purged until the hold is lifted",
            esc(id),
            esc(&h.reason)
        ),
        None if due <= today => eprintln!(
            "client {} ended on {date}; its retention ended on {due}: it is due for deletion now ('baton purge')",
            esc(id)
        ),
        None => eprintln!(
            "client {} ended on {date}; its data is due for deletion on {due} ('baton purge' lists it then)",
            esc(id)
        ),
    }
    Ok(())
}

pub fn reopen(ctx: &Ctx, id: &str) -> Result<()> {
    let mut v = ctx.open(Access::Write)?;
    v.reopen_client(id)?;
    eprintln!("client {} is active again", esc(id));
    Ok(())
}

pub fn set(ctx: &Ctx, id: &str, edit: GdprEdit) -> Result<()> {
    let mut v = ctx.open(Access::Write)?;
    v.set_client_gdpr(id, edit)?;
    let months = v.index().retention_months;
    let l = v.client(id)?.lifecycle;
    let mut dpa = l.dpa.status.as_str().to_string();
    for x in [&l.dpa.date, &l.dpa.reference] {
        if !x.is_empty() {
            dpa.push(' ');
            dpa.push_str(x);
        }
    }
    eprintln!("client {}: DPA {}", esc(id), esc(&dpa));
    match &l.hold {
        Some(h) => eprintln!("  legal hold since {} ({})", h.since, esc(&h.reason)),
        None => eprintln!("  no legal hold"),
    }
    match (&l.ended, l.retain_until.is_empty()) {
        (Some(e), false) => {
            eprintln!(
                "  kept until {} (instead of the retention policy)",
                l.retain_until
            );
            if l.retain_until < e.date {
                eprintln!(
                    "baton: warning: that is before the end of the contract ({}): the client is due for deletion at once",
                    e.date
                );
            }
        }
        (None, false) => eprintln!(
            "  once ended, kept until {} (instead of {months} months after the end)",
            l.retain_until
        ),
        (Some(_), true) => eprintln!(
            "  kept until {} ({months} months after the end)",
            l.retention_date(months).unwrap_or_default()
        ),
        (None, true) => eprintln!("  active; kept {months} months after the end"),
    }
    Ok(())
}

fn purge_failure(e: PurgeError) -> Failure {
    match e {
        PurgeError::LegalHold { ref client, .. } => Failure::new(e.to_string())
            .hint(format!(
                "a legal hold forbids deletion; lift it first if it no longer applies: 'baton client set {client} --no-hold'"
            )),
        PurgeError::NotDue { ref client, .. } => Failure::new(e.to_string()).hint(format!(
            "to delete it on the client's request (GDPR Art. 17) use 'baton purge --client {client} --yes'"
        )),
        PurgeError::Active(ref client) => Failure::new(e.to_string()).hint(format!(
            "end it first ('baton client end {client}'), or delete it on request with 'baton purge --client {client} --yes'"
        )),
        PurgeError::Vault(v) => v.into(),
        other => Failure::new(other.to_string())
            .hint("run 'baton purge' for what is due, and 'baton verify' if this persists"),
    }
}

pub fn purge(ctx: &Ctx, a: PurgeArgs) -> Result<()> {
    let today = baton::time::today();
    let mut v = ctx.open(if a.yes.yes {
        Access::Write
    } else {
        Access::Read
    })?;
    let plan = v
        .plan_purge(&today, a.client.as_deref())
        .map_err(purge_failure)?;
    if !a.yes.yes {
        if a.json.json {
            print_json(
                &json!({ "today": today, "clients": plan.candidates, "would_delete": plan.would_delete() }),
            );
            return Ok(());
        }
        if plan.is_empty() {
            println!("no ended clients; nothing to purge");
            return Ok(());
        }
        for c in plan.shown() {
            let state = match c.status() {
                PurgeStatus::LegalHold(h) => format!("legal hold ({})", esc(&h.reason)),
                PurgeStatus::Due => "due: would be deleted".to_string(),
                PurgeStatus::KeptUntil(date) => format!("kept until {date}"),
            };
            println!(
                "{:<20} {:<28} ended {}  {state}",
                esc(&c.id),
                esc(&c.name),
                c.ended
            );
        }
        if let Some(id) = &plan.request {
            println!("{} would be deleted on request (GDPR Art. 17)", esc(id));
        }
        let command = match &plan.request {
            Some(id) => format!("baton purge --client {} --yes", esc(id)),
            None => "baton purge --yes".to_string(),
        };
        println!(
            "dry run: {} client(s) would be deleted; run '{command}' to delete them",
            plan.targets.len()
        );
        return Ok(());
    }
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (id, result) in v.execute_purge(&plan) {
        match result {
            Ok(p) => {
                if !a.json.json {
                    println!(
                        "deleted {} ({}): {}",
                        esc(&p.id),
                        esc(&p.name),
                        esc(&p.detail)
                    );
                }
                done.push(p);
            }
            Err(e) => failed.push((id, purge_failure(e))),
        }
    }
    if a.json.json {
        print_json(&json!({
            "deleted": done,
            "failed": failed.iter().map(|(id, f)| json!({ "id": id, "error": f.message })).collect::<Vec<_>>(),
            "copies": msg::PURGE_COPIES.lines().collect::<Vec<_>>(),
        }));
    } else if done.is_empty() && failed.is_empty() {
        println!("nothing was due; nothing was deleted");
        return Ok(());
    } else if !done.is_empty() {
        println!(
            "{} client(s) deleted; each deletion is in the audit log (client.purge)",
            done.len()
        );
        for p in &done {
            if !p.exports.is_empty() {
                println!(
                    "  {}: packages exported on {} are outside the vault",
                    esc(&p.id),
                    p.exports
                        .iter()
                        .map(|t| baton::time::day_of(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        println!("{}", msg::PURGE_COPIES);
    }
    match failed.into_iter().next() {
        Some((id, f)) => Err(Failure::new(format!(
            "client {} was not deleted: {}",
            esc(&id),
            f.message
        ))
        .hint(f.hint.unwrap_or_default())),
        None => Ok(()),
    }
}

fn lang(l: LangArg) -> Lang {
    match l {
        LangArg::De => Lang::De,
        LangArg::En => Lang::En,
    }
}

fn emit(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(p) => {
            baton::fs::write_new(p, text.as_bytes()).map_err(|e| msg::output_uncreatable(p, &e))?;
            eprintln!("wrote {}", esc(&p.display().to_string()));
            Ok(())
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

pub fn run(ctx: &Ctx, c: GdprCmd) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let (text, out) = match c {
        GdprCmd::Report { client, out } => {
            let r = v.access_report(&client)?;
            let text = if out.json.json {
                pretty(&r)
            } else {
                baton::gdpr::report_html(&r, lang(out.lang))
            };
            (text, out)
        }
        GdprCmd::Records { out } => {
            let r = v.records_overview()?;
            let text = if out.json.json {
                pretty(&r)
            } else {
                baton::gdpr::records_html(&r, lang(out.lang))
            };
            (text, out)
        }
    };
    emit(&text, out.output.as_deref())
}

/// A report as pretty JSON, with a final newline.
fn pretty<T: serde::Serialize>(r: &T) -> String {
    serde_json::to_string_pretty(r).expect("serializable") + "\n"
}
