//! `baton otp CLIENT/ENTRY`: the current TOTP code.

use std::io::IsTerminal;

use serde_json::json;

use baton::vault::Access;

use crate::cmd::get::split_target;
use crate::context::Ctx;
use crate::msg::{self, Result};
use crate::output::print_json;

pub(crate) fn cmd_otp(ctx: &Ctx, target: &str, as_json: bool) -> Result<()> {
    let (client, entry) = split_target(target)?;
    let v = ctx.open(Access::Read)?;
    let file = v.client(client)?;
    let e = file.require_entry(entry)?;
    let uri = e.totp.as_ref().ok_or_else(|| msg::no_totp(client, entry))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (code, ttl) =
        baton::otp::code_at(uri.expose(), now).map_err(|e| msg::otp_failed(client, entry, &e))?;
    if as_json {
        print_json(&json!({ "code": code, "valid_for_seconds": ttl }));
    } else {
        println!("{code}");
        if std::io::stderr().is_terminal() {
            eprintln!("valid for {ttl} s");
        }
    }
    Ok(())
}
