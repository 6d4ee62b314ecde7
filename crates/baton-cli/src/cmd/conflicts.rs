//! `baton conflicts [CLIENT]`: every version that devices made of the same data while
//! apart, numbered as `baton resolve --keep N` takes them (docs/format.md#merge).
//! Secret values only with `--reveal`.

use serde::Serialize;

use baton::client::{ClientFields, ClientFile, Entry};
use baton::sync::{Conflict, ConflictSide, ConflictTarget, SideValue, conflicts_in};
use baton::vault::Access;

use crate::cli::ConflictsArgs;
use crate::context::Ctx;
use crate::msg::{self, Result, esc};
use crate::output::emit_secret;

pub(crate) fn cmd_conflicts(ctx: &Ctx, a: ConflictsArgs) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let ids = match &a.client {
        Some(id) => vec![id.clone()],
        None => v.conflicted_clients(),
    };
    let mut files: Vec<ClientFile> = Vec::with_capacity(ids.len());
    for id in &ids {
        files.push(v.client(id)?);
    }
    let all: Vec<(&ClientFile, Vec<Conflict>)> = files
        .iter()
        .map(|f| (f, conflicts_in(f)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    if a.json.json {
        let list: Vec<JsonConflict> = all
            .iter()
            .flat_map(|(f, cs)| cs.iter().map(|c| JsonConflict::new(f, c, a.reveal)))
            .collect();
        // Secret values (with --reveal) go through one wiped buffer, as `get --json`.
        let text = baton::crypto::secret::json_bytes(&list);
        let mut line = zeroize::Zeroizing::new(Vec::with_capacity(text.len() + 1));
        line.extend_from_slice(&text);
        line.push(b'\n');
        return emit_secret(&line, None, true, false);
    }
    if all.is_empty() {
        eprintln!("{}", msg::no_conflicts(a.client.as_deref()));
        return Ok(());
    }
    let here = v.writer();
    for (f, cs) in &all {
        let removal = cs.iter().any(|c| c.target == ConflictTarget::Removal);
        for c in cs {
            print_conflict(f, c, a.reveal, here, removal);
        }
    }
    Ok(())
}

/// Who made a version, as printed: the writer ids, this folder's marked.
fn made_on(writers: &[String], here: &str) -> String {
    if writers.is_empty() {
        return "made on an unknown device".into();
    }
    let named: Vec<String> = writers
        .iter()
        .map(|w| match w == here {
            true => format!("{w} (this device)"),
            false => w.clone(),
        })
        .collect();
    format!("made on {}", named.join(", "))
}

fn print_conflict(f: &ClientFile, c: &Conflict, reveal: bool, here: &str, removal: bool) {
    let id = esc(&f.id);
    let differs = match c.differs.is_empty() {
        true => String::new(),
        false => format!(", differing in {}", c.differs.join(", ")),
    };
    let (head, resolve) = match &c.target {
        ConflictTarget::Removal => (
            format!("{id}: removed on another device while it was changed on this one"),
            format!("baton resolve {id} --keep 1 (keep the client) or --remove"),
        ),
        ConflictTarget::Fields => (
            format!(
                "{id} (the client's details): {} versions{differs}",
                c.sides.len()
            ),
            match removal {
                true => format!("baton resolve {id} --keep N (after the removal above)"),
                false => format!("baton resolve {id} --keep N"),
            },
        ),
        ConflictTarget::Entry(name) => (
            format!("{id}/{}: {} versions{differs}", esc(name), c.sides.len()),
            format!("baton resolve {id}/{} --keep N, or --remove", esc(name)),
        ),
    };
    println!("{head}");
    for s in &c.sides {
        print_side(f, c, s, reveal, here);
    }
    println!("  resolve: {resolve}");
    println!();
}

fn print_side(f: &ClientFile, c: &Conflict, s: &ConflictSide, reveal: bool, here: &str) {
    println!(
        "  {}  {}, {}",
        s.number,
        made_on(&s.writers, here),
        if s.time.is_empty() { "-" } else { &s.time }
    );
    let line = |label: &str, value: &str| println!("       {label:<12} {}", esc(value));
    match &s.value {
        SideValue::Client => line(
            "client",
            &format!(
                "kept, with {} entries ('baton show {}')",
                f.entries.len(),
                f.id
            ),
        ),
        SideValue::ClientRemoved => line("client", "removed"),
        SideValue::EntryRemoved => line("entry", "removed"),
        SideValue::Fields(x) => {
            for name in &c.differs {
                line(name, &field_text(x, name));
            }
        }
        SideValue::Entry(e) => {
            // What differs, and what tells the versions apart at a glance (where and
            // as whom) even when it does not.
            for name in ["kind", "url", "user", "note", "tags", "attachments"] {
                let value = entry_text(e, name);
                let context = matches!(name, "url" | "user") && !value.is_empty();
                if c.differs.contains(&name) || context {
                    line(name, &value);
                }
            }
            for (name, value) in [("password", &e.password), ("totp", &e.totp)] {
                let shown = match (value, reveal) {
                    (None, _) => "none".to_string(),
                    (Some(v), true) => v.expose().to_string(),
                    (Some(_), false) if c.differs.contains(&name) => {
                        "set, differs (--reveal shows it)".to_string()
                    }
                    (Some(_), false) => "set".to_string(),
                };
                line(name, &shown);
            }
        }
    }
}

/// A non-secret field of an entry as text.
fn entry_text(e: &Entry, name: &str) -> String {
    match name {
        "kind" => e.kind.as_str().to_string(),
        "url" => e.url.clone(),
        "user" => e.user.clone(),
        "note" => e.note.clone(),
        "tags" => e.tags.join(", "),
        _ => e
            .attachments
            .iter()
            .map(|a| format!("{} ({} bytes)", a.name, a.data.expose().len()))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// One of the client's own fields as text (none of them is secret).
fn field_text(x: &ClientFields, name: &str) -> String {
    match name {
        "name" => x.name.clone(),
        "contact" => x.contact.clone(),
        "notes" => x.notes.clone(),
        "tags" => x.tags.join(", "),
        "recipients" => x.recipients.join(", "),
        _ => serde_json::to_string(&x.lifecycle).expect("serializable"),
    }
}

/// One conflict in `conflicts --json`.
#[derive(Serialize)]
struct JsonConflict<'a> {
    client: &'a str,
    /// `removal`, `details` or `entry`.
    conflict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<&'a str>,
    differs: &'a [&'static str],
    versions: Vec<JsonSide<'a>>,
}

#[derive(Serialize)]
struct JsonSide<'a> {
    number: usize,
    writers: &'a [String],
    time: &'a str,
    removed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<JsonEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a ClientFields>,
}

/// An entry version: the export's entry view with --reveal, else without its secrets.
#[derive(Serialize)]
#[serde(untagged)]
enum JsonEntry<'a> {
    Revealed(baton::export::EntryView<'a>),
    Hidden {
        kind: &'static str,
        url: &'a str,
        user: &'a str,
        has_password: bool,
        has_totp: bool,
        note: &'a str,
        tags: &'a [String],
        attachments: Vec<&'a str>,
        updated: &'a str,
    },
}

impl<'a> JsonConflict<'a> {
    fn new(f: &'a ClientFile, c: &'a Conflict<'a>, reveal: bool) -> Self {
        let (conflict, entry) = match &c.target {
            ConflictTarget::Removal => ("removal", None),
            ConflictTarget::Fields => ("details", None),
            ConflictTarget::Entry(n) => ("entry", Some(n.as_str())),
        };
        let versions = c
            .sides
            .iter()
            .map(|s| JsonSide {
                number: s.number,
                writers: &s.writers,
                time: &s.time,
                removed: matches!(s.value, SideValue::EntryRemoved | SideValue::ClientRemoved),
                entry: match &s.value {
                    SideValue::Entry(e) if reveal => {
                        Some(JsonEntry::Revealed(baton::export::EntryView::new(e)))
                    }
                    SideValue::Entry(e) => Some(JsonEntry::Hidden {
                        kind: e.kind.as_str(),
                        url: &e.url,
                        user: &e.user,
                        has_password: e.password.is_some(),
                        has_totp: e.totp.is_some(),
                        note: &e.note,
                        tags: &e.tags,
                        attachments: e.attachments.iter().map(|a| a.name.as_str()).collect(),
                        updated: &e.updated,
                    }),
                    _ => None,
                },
                details: match &s.value {
                    SideValue::Fields(x) => Some(&**x),
                    _ => None,
                },
            })
            .collect();
        JsonConflict {
            client: &f.id,
            conflict,
            entry,
            differs: &c.differs,
            versions,
        }
    }
}
