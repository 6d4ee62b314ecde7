//! `baton search TERM`: clients and entries whose names, URLs or users match.

use serde_json::json;

use baton::vault::Access;

use crate::context::Ctx;
use crate::msg::{self, Result, esc};
use crate::output::print_json;

pub(crate) fn cmd_search(ctx: &Ctx, term: &str, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let mut hits = Vec::new();
    let catalog = v.catalog()?;
    for c in &catalog {
        for m in c.matches(term) {
            hits.push((c, m));
        }
    }
    if as_json {
        print_json(&json!(
            hits.iter()
                .map(|(c, e)| json!({
                    "client": c.id, "client_name": c.name, "entry": e.map(|e| &e.name),
                    "kind": e.map(|e| e.kind), "url": e.map(|e| &e.url), "user": e.map(|e| &e.user),
                }))
                .collect::<Vec<_>>()
        ));
        return Ok(());
    }
    for (c, e) in &hits {
        match e {
            Some(e) => println!(
                "{}/{:<16} {:<9} {:<40} {}",
                esc(&c.id),
                esc(&e.name),
                e.kind.as_str(),
                esc(&e.url),
                esc(&e.user)
            ),
            None => println!("{:<24} {}", esc(&c.id), esc(&c.name)),
        }
    }
    if hits.is_empty() {
        return Err(msg::nothing_matches(term));
    }
    Ok(())
}
