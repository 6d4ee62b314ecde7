//! `baton writers [forget WRITER]`: the folders on devices that wrote to this vault
//! (docs/format.md#retired-writers), and forgetting one that will not write again.

use baton::vault::Access;

use crate::cli::{WritersArgs, WritersCmd};
use crate::context::Ctx;
use crate::msg::{self, Result};
use crate::output::print_json;

pub(crate) fn run(ctx: &Ctx, a: WritersArgs) -> Result<()> {
    match a.action {
        None => list(ctx, a.json.json),
        Some(WritersCmd::Forget { writer }) => forget(ctx, &writer),
    }
}

fn list(ctx: &Ctx, json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let writers = v.writers();
    if json {
        print_json(&serde_json::to_value(&writers).expect("serializable"));
        return Ok(());
    }
    if writers.is_empty() {
        eprintln!("{}", msg::no_writers());
        return Ok(());
    }
    println!("{}", msg::writers_header());
    for w in &writers {
        println!("{}", msg::writer_line(w));
    }
    if writers.iter().any(|w| w.retired) {
        eprintln!("{}", msg::retired_writers_hint());
    }
    Ok(())
}

fn forget(ctx: &Ctx, writer: &str) -> Result<()> {
    let mut v = ctx.open(Access::Write)?;
    let report = v.forget_writer(writer)?;
    eprintln!("{}", msg::writer_forgotten(writer, &report));
    Ok(())
}
