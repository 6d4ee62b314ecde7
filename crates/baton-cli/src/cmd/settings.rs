//! `baton settings`: the owner profile, retention and rotation schedule.

use serde_json::json;

use baton::vault::Access;
use baton::vault::changes::SettingsChange;

use crate::context::Ctx;
use crate::msg::{Result, esc};
use crate::output::print_json;

pub(crate) fn cmd_settings(
    ctx: &Ctx,
    [name, contact, copies, successor]: [Option<String>; 4],
    [retention, rotate_every]: [Option<u32>; 2],
    as_json: bool,
) -> Result<()> {
    let change = SettingsChange {
        owner_name: name,
        owner_contact: contact,
        vault_copies: copies,
        successor,
        retention_months: retention,
        rotate_every_months: rotate_every,
    };
    let profile_changes = change.owner_name.is_some()
        || change.owner_contact.is_some()
        || change.vault_copies.is_some()
        || change.successor.is_some();
    let changing = profile_changes
        || change.retention_months.is_some()
        || change.rotate_every_months.is_some();
    let mut v = ctx.open(if changing {
        Access::Write
    } else {
        Access::Read
    })?;
    if changing {
        // Every value is checked first, then one commit: a bad value changes nothing.
        v.change_settings(change)?;
    }
    if profile_changes {
        eprintln!(
            "baton: the emergency kits show these; print them again with 'baton emergency kits'"
        );
    }
    let retention_months = v.index().retention_months;
    let p = &v.index().owner;
    let every = v.header().rotation.interval_months;
    if as_json {
        print_json(
            &json!({ "owner_name": p.name, "owner_contact": p.contact, "vault_copies": p.vault_copies, "successor": p.successor, "retention_months": retention_months, "rotate_every_months": every }),
        );
    } else {
        println!("owner name     {}", esc(&p.name));
        println!("owner contact  {}", esc(&p.contact));
        println!("vault copies   {}", esc(&p.vault_copies));
        println!("successor      {}", esc(&p.successor));
        println!("retention      {retention_months} months after a client's end");
        println!(
            "rotate every   {every} months{}",
            if every == 0 { " (no schedule)" } else { "" }
        );
    }
    Ok(())
}
