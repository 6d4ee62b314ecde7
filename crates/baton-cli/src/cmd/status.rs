//! `baton status` and `status --check`: the library's findings (baton::status), printed or turned into an exit code.

use serde_json::json;

use baton::vault::Access;

use crate::context::Ctx;
use crate::msg::{self, Result, esc};
use crate::output::print_json;

pub(crate) fn cmd_status(ctx: &Ctx, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let h = v.header();
    let ix = v.index();
    let st = v.status(&baton::time::now())?;
    let warnings: Vec<String> = st.findings.iter().map(msg::finding).collect();
    if as_json {
        print_json(&json!({
            "vault_id": h.vault_id, "path": v.path(), "created": h.created, "generation": h.generation,
            "revision": ix.revision, "updated": ix.updated,
            "clients": st.clients, "entries": st.entries,
            "recipients": h.recipients,
            "kdf": { "algorithm": h.kdf.algorithm, "m_cost_kib": h.kdf.m_cost_kib, "t_cost": h.kdf.t_cost, "p_cost": h.kdf.p_cost, "profile": h.kdf.profile },
            "share_set": { "id": h.share_set.id, "policy": v.policy().describe(), "group_threshold": h.share_set.group_threshold, "groups": h.share_set.groups, "holders": ix.holders, "created": h.share_set.created, "retired": h.share_set.retired },
            "emergency_drill": { "last": ix.last_drill, "due": st.drill_due },
            "gdpr": { "retention_months": ix.retention_months, "purge_due": st.purge_due, "without_dpa": st.without_dpa, "stale_exports": st.stale_exports },
            "audit_records": ix.audit_head.seq,
            "rotation": { "last": h.last_rotation(), "interval_months": h.rotation.interval_months, "due": st.rotation_due, "overdue": st.overdue() },
            "warnings": warnings,
        }));
        return Ok(());
    }
    println!(
        "vault      {} ({})",
        h.vault_id,
        esc(&v.path().display().to_string())
    );
    println!(
        "created    {}   generation {}   revision {}   updated {}",
        h.created, h.generation, ix.revision, ix.updated
    );
    println!(
        "contents   {} clients, {} entries, {} audit records",
        st.clients, st.entries, ix.audit_head.seq
    );
    println!(
        "shares     set {} of {}: {}",
        h.share_set.id,
        baton::time::day_of(&h.share_set.created),
        esc(&v.policy().describe())
    );
    println!(
        "drill      last {}   next due {}",
        if ix.last_drill.is_empty() {
            "never"
        } else {
            &ix.last_drill
        },
        st.drill_due.as_deref().unwrap_or("-")
    );
    println!(
        "kdf        argon2id m={} MiB t={} p={}",
        h.kdf.m_cost_kib / 1024,
        h.kdf.t_cost,
        h.kdf.p_cost
    );
    println!(
        "recipients owner {}\n           emergency {}",
        h.recipients.owner, h.recipients.emergency
    );
    println!(
        "rotation   last {}   next due {}",
        h.last_rotation(),
        match (&st.rotation_due, h.rotation.interval_months) {
            (Some(d), m) => format!("{d} (every {m} months)"),
            (None, _) => "never (no schedule; 'baton settings --rotate-every 12')".into(),
        }
    );
    for w in warnings {
        println!("warning    {w}");
    }
    Ok(())
}

/// `status --check`: 0 fine, 10 rotation due, 11 integrity problem or interrupted
/// rotation (with --verify also unresolved conflicts between devices), 5 a rotation
/// running now (the library's verdict, docs/format.md#rotation). Without --verify it
/// reads only public facts, so cron needs no passphrase.
pub(crate) fn cmd_status_check(ctx: &Ctx, verify: bool) -> Result<()> {
    use baton::status::{Finding, Verdict};
    let path = ctx.vault_path()?;
    let now = baton::time::now();
    let (_, mut findings) =
        baton::status::check_folder(&path, &now).map_err(|e| msg::check_problem(e.to_string()))?;
    if verify
        && matches!(
            Verdict::of(&findings),
            Verdict::Fine | Verdict::RotationDue(_)
        )
    {
        let v = ctx.open(Access::Read).map_err(|f| {
            if f.code == msg::EXIT_INTEGRITY {
                f.code(msg::EXIT_CHECK_PROBLEM)
            } else {
                f
            }
        })?;
        let mut problems = v.verify();
        if !problems.is_empty() {
            findings.push(Finding::Damaged {
                count: problems.len(),
                first: Box::new(problems.swap_remove(0)),
            });
        }
        // Conflicts between devices are inside the encrypted client files: only an
        // unlocked check sees them (docs/format.md#merge).
        findings.extend(v.conflict_finding());
    }
    match Verdict::of(&findings) {
        Verdict::Fine => Ok(()),
        Verdict::RotationDue(f) | Verdict::Problem(f) | Verdict::Busy(f) => {
            Err(msg::check_failure(f))
        }
    }
}
