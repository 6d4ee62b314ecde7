//! `baton audit`: the hash-chained audit log.

use serde_json::json;

use baton::vault::Access;

use crate::context::Ctx;
use crate::msg::{self, Result, esc};
use crate::output::print_json;

pub(crate) fn cmd_audit(ctx: &Ctx, verify: bool, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let (records, problems) = v.audit_log();
    if as_json {
        print_json(
            &json!({ "records": records, "problems": problems.iter().map(|p| p.to_string()).collect::<Vec<_>>() }),
        );
    } else if !verify {
        for r in &records {
            println!(
                "{:>6}  {}  {:<9} {:<18} {:<16} {}",
                r.seq,
                r.time,
                r.actor,
                r.action,
                esc(r.client.as_deref().unwrap_or("-")),
                esc(&r.detail)
            );
        }
    }
    if let Some(first) = problems.first() {
        for p in &problems {
            eprintln!("baton: problem: {p}");
        }
        return Err(msg::integrity(&baton::IntegrityError::Audit(first.clone())));
    }
    if verify && !as_json {
        println!(
            "audit log intact: {} records, chain and head verified",
            records.len()
        );
    }
    Ok(())
}
