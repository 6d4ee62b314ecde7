//! `baton list`: every client.

use serde_json::json;

use baton::vault::Access;

use crate::context::Ctx;
use crate::msg::{Result, esc};
use crate::output::print_json;

pub(crate) fn cmd_list(ctx: &Ctx, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let clients = v.catalog()?;
    if as_json {
        print_json(&json!(clients.iter().map(|c| json!({
            "id": c.id, "name": c.name, "contact": c.contact, "entries": c.entries.len(), "updated": c.updated,
        })).collect::<Vec<_>>()));
        return Ok(());
    }
    if clients.is_empty() {
        eprintln!("no clients yet; add one with 'baton client add ID --name NAME'");
    }
    for c in &clients {
        println!(
            "{:<20} {:<30} {:>3} entries  {}",
            esc(&c.id),
            esc(&c.name),
            c.entries.len(),
            esc(&c.contact)
        );
    }
    Ok(())
}
