//! `baton list`: every client.

use serde_json::json;

use baton::vault::Access;

use crate::context::Ctx;
use crate::msg::{self, Result, esc};
use crate::output::print_json;

pub(crate) fn cmd_list(ctx: &Ctx, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let clients = v.catalog()?;
    if as_json {
        print_json(&json!(clients.iter().map(|c| json!({
            "id": c.id, "name": c.name, "contact": c.contact, "entries": c.entries.len(), "updated": c.updated,
            "conflicts": c.conflicts,
        })).collect::<Vec<_>>()));
        return Ok(());
    }
    if clients.is_empty() {
        eprintln!("no clients yet; add one with 'baton client add ID --name NAME'");
    }
    // `!` marks a client with versions from different devices to resolve
    // (docs/format.md#merge).
    for c in &clients {
        println!(
            "{} {:<20} {:<30} {:>3} entries  {}",
            if c.conflicts > 0 { "!" } else { " " },
            esc(&c.id),
            esc(&c.name),
            c.entries.len(),
            esc(&c.contact)
        );
    }
    let conflicted = clients.iter().filter(|c| c.conflicts > 0).count();
    if conflicted > 0 {
        eprintln!("{}", msg::list_conflicts_footer(conflicted));
    }
    Ok(())
}
