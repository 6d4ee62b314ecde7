//! `baton settings`: the owner profile, retention and rotation schedule.

use serde_json::json;

use baton::vault::Access;

use crate::context::Ctx;
use crate::msg::{Result, esc};
use crate::output::print_json;

pub(crate) fn cmd_settings(
    ctx: &Ctx,
    [name, contact, copies, successor]: [Option<String>; 4],
    [retention, rotate_every]: [Option<u32>; 2],
    as_json: bool,
) -> Result<()> {
    let profile_changes =
        name.is_some() || contact.is_some() || copies.is_some() || successor.is_some();
    let changing = profile_changes || rotate_every.is_some() || retention.is_some();
    let mut v = ctx.open(if changing {
        Access::Write
    } else {
        Access::Read
    })?;
    if let Some(months) = rotate_every {
        v.set_rotation_interval(months)?;
    }
    if let Some(months) = retention {
        v.set_retention_months(months)?;
    }
    let retention_months = v.index().retention_months;
    if profile_changes {
        let mut p = v.index().owner.clone();
        if let Some(n) = name {
            p.name = n;
        }
        if let Some(c) = contact {
            p.contact = c;
        }
        if let Some(c) = copies {
            p.vault_copies = c;
        }
        if let Some(c) = successor {
            p.successor = c;
        }
        v.set_owner_profile(p)?;
        eprintln!(
            "baton: the emergency kits show these; print them again with 'baton emergency kits'"
        );
    }
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
