//! `baton sync`: a vault kept in git, committed, merged with its upstream and pushed
//! (docs/format.md#git). The library does the work; this prints what it did.

use serde_json::json;

use baton::git::{HeadsMerge, Side, SyncError, SyncOptions, SyncReport};
use baton::vault::{UnlockError, Vault};

use crate::cli::SyncArgs;
use crate::context::{Ctx, seen_folder};
use crate::msg::{self, Result};
use crate::output::print_json;

pub(crate) fn cmd_sync(ctx: &Ctx, a: SyncArgs) -> Result<()> {
    if ctx.identity.is_some() || std::env::var_os("BATON_IDENTITY").is_some() {
        return Err(msg::sync_needs_passphrase());
    }
    let path = ctx.checked_path()?;
    let passphrase = ctx.passphrase()?;
    // Every open of the sync is held against this machine's rollback memory, which
    // also names this folder's writer (docs/format.md#writers).
    let mut guard = |v: Vault| -> std::result::Result<Vault, UnlockError> {
        match seen_folder() {
            Some(memory) => Ok(v.guard_rollback(Box::new(memory))?),
            None => Ok(v),
        }
    };
    let options = SyncOptions {
        push: !a.no_push && !a.dry_run,
        dry_run: a.dry_run,
    };
    let report = match baton::git::sync(&path, &passphrase, options, &mut guard) {
        Ok(r) => r,
        Err(SyncError::Unlock(e)) => return Err(e.into()),
        Err(e) => return Err(msg::sync_failed(&e)),
    };
    if a.json.json {
        print_json(&as_json(&report));
    } else {
        print_report(&report);
    }
    Ok(())
}

fn changes(r: &SyncReport) -> String {
    r.changes
        .iter()
        .map(|(a, n)| format!("{a} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_report(r: &SyncReport) {
    let up = r.upstream.as_deref().unwrap_or("(no upstream)");
    if r.dry_run {
        println!(
            "would commit: {} changed files in the vault folder{}",
            r.changed_files,
            match r.changes.is_empty() {
                true => String::new(),
                false => format!(" ({})", changes(r)),
            }
        );
        println!(
            "{up} has {} commits to merge (as of the last fetch)",
            r.incoming
        );
        return;
    }
    if let Some(h) = &r.header {
        eprintln!("baton: warning: {}", msg::sync_header_choice(h));
    }
    if !r.kept_heads.is_empty() {
        eprintln!(
            "baton: warning: {}",
            msg::sync_kept_heads(r.kept_heads.len())
        );
    }
    if let HeadsMerge::SkippedNewPassphrase = r.heads_merge {
        eprintln!("baton: warning: {}", msg::SYNC_NEW_PASSPHRASE);
    }
    if !r.conflicted_clients.is_empty() {
        eprintln!(
            "baton: warning: {}",
            msg::sync_conflicts(&r.conflicted_clients)
        );
    }
    match &r.commit {
        Some(c) => println!(
            "committed {c}{}{}",
            match r.changes.is_empty() {
                true => String::new(),
                false => format!(": {}", changes(r)),
            },
            match r.incoming {
                0 => String::new(),
                n => format!("; merged {n} commits of {up}"),
            }
        ),
        None if r.incoming > 0 => println!("fast-forwarded to {up} ({} commits)", r.incoming),
        None => println!("nothing to commit"),
    }
    if matches!(r.heads_merge, HeadsMerge::Committed) {
        println!("merged the writers' heads");
    }
    match (r.pushed, &r.upstream) {
        (true, Some(u)) => println!("pushed to {u}"),
        (false, Some(u)) if r.commit.is_some() => println!("not pushed to {u}"),
        _ => println!("up to date with {up}"),
    }
}

fn as_json(r: &SyncReport) -> serde_json::Value {
    json!({
        "dry_run": r.dry_run,
        "commit": r.commit,
        "upstream": r.upstream,
        "incoming": r.incoming,
        "changed_files": r.changed_files,
        "changes": r.changes.iter().map(|(a, n)| json!({"action": a, "count": n})).collect::<Vec<_>>(),
        "heads_merged": matches!(r.heads_merge, HeadsMerge::Committed),
        "heads_merge_needs_new_passphrase": matches!(r.heads_merge, HeadsMerge::SkippedNewPassphrase),
        "header": r.header.as_ref().map(|h| json!({
            "kept": match h.kept { Side::Ours => "ours", Side::Theirs => "theirs" },
            "generation": h.generation,
            "dropped_generation": h.dropped_generation,
        })),
        "kept_heads": r.kept_heads,
        "conflicted_clients": r.conflicted_clients,
        "pushed": r.pushed,
    })
}
