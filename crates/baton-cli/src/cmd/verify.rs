//! `baton verify`: decrypt and check every file.

use serde_json::json;

use baton::vault::Access;

use crate::context::Ctx;
use crate::msg::{self, Result};
use crate::output::print_json;

pub(crate) fn cmd_verify(ctx: &Ctx, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let problems = v.verify();
    if as_json {
        print_json(&json!({
            "clients": v.clients().map_or(0, |c| c.len()),
            "audit_records": v.index().audit_head.seq,
            "problems": problems.iter().map(|p| json!({ "client": p.client(), "problem": p.to_string() })).collect::<Vec<_>>(),
        }));
    } else {
        for p in &problems {
            eprintln!("baton: problem: {p}");
        }
    }
    match problems.first() {
        Some(p) => Err(msg::verify_problems(problems.len(), p)),
        None => {
            if !as_json {
                println!(
                    "vault intact: index, {} client files and {} audit records verified",
                    v.clients()?.len(),
                    v.index().audit_head.seq
                );
            }
            Ok(())
        }
    }
}
