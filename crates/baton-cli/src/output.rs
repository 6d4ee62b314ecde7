//! Writing data to stdout or a file: JSON, secrets (refused to a terminal without
//! `--show`).

use std::io::{IsTerminal, Write};
use std::path::Path;

use serde_json::json;

use baton::client::ClientSummary;

use crate::msg::{self, Result};

pub(crate) fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

pub(crate) fn client_json(c: &ClientSummary) -> serde_json::Value {
    json!({
        "id": c.id, "name": c.name, "contact": c.contact, "notes": c.notes, "tags": c.tags,
        "created": c.created, "updated": c.updated, "entries": c.entries,
    })
}

/// Writes secret output: to a new 0600 file, or to stdout, but to a terminal only with
/// --show.
pub(crate) fn emit_secret(
    bytes: &[u8],
    output: Option<&Path>,
    show: bool,
    binary: bool,
) -> Result<()> {
    if let Some(p) = output.filter(|p| p.as_os_str() != "-") {
        return baton::fs::write_new(p, bytes).map_err(|e| msg::output_uncreatable(p, &e));
    }
    let stdout = std::io::stdout();
    let to_terminal = stdout.is_terminal();
    if to_terminal && binary && output.is_none() {
        return Err(msg::binary_to_terminal());
    }
    if to_terminal && !show && output.is_none() {
        return Err(msg::secret_to_terminal());
    }
    let mut out = stdout.lock();
    out.write_all(bytes)
        .and_then(|_| {
            if to_terminal && !bytes.ends_with(b"\n") {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|_| out.flush())
        .map_err(|e| msg::stdout_unwritable(&e))
}
