//! `baton show CLIENT`: one client and its entries.

use baton::vault::Access;

use crate::context::Ctx;
use crate::msg::{Result, esc};
use crate::output::{client_json, print_json};

pub(crate) fn cmd_show(ctx: &Ctx, id: &str, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    // The client file itself, checked against the index, so `show` reports tampering.
    let c = v.client(id)?.summary();
    if as_json {
        print_json(&client_json(&c));
        return Ok(());
    }
    println!("{} ({})", esc(&c.name), esc(&c.id));
    if !c.contact.is_empty() {
        println!("contact: {}", esc(&c.contact));
    }
    if !c.notes.is_empty() {
        println!("notes:   {}", esc(&c.notes));
    }
    for e in &c.entries {
        let mut flags = Vec::new();
        if e.has_password {
            flags.push("password".to_string());
        }
        if e.has_totp {
            flags.push("totp".to_string());
        }
        for a in &e.attachments {
            flags.push(format!("file:{}", esc(a)));
        }
        println!(
            "  {:<16} {:<9} {:<40} {:<16} [{}]",
            esc(&e.name),
            e.kind.as_str(),
            esc(&e.url),
            esc(&e.user),
            flags.join(", ")
        );
        if !e.note.is_empty() {
            println!("  {:<16} note: {}", "", esc(&e.note));
        }
    }
    Ok(())
}
