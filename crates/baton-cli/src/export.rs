//! `baton export`: client packages (docs/export-format.md).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use baton::SecretText;
use baton::export::{BatchOutcome, ExportFormat, Lock, PackageRecipient};
use baton::vault::Access;

use crate::cli::{ExportArgs, ExportFormatArg};
use crate::msg::{Failure, Result, esc};
use crate::{Ctx, input};

/// Parses recipients from arguments (`age1…`, an SSH key line, or a .pub file) and SSH
/// key files. Errors name the argument by position, never echo its text.
pub fn parse_recipients(args: &[String], ssh_files: &[PathBuf]) -> Result<Vec<PackageRecipient>> {
    let mut out = Vec::new();
    let bad = |what: String, e: baton::export::RecipientError| {
        Failure::new(format!("{what}: {e}")).hint(
            "give the client's public key: an age recipient (age1…) or an SSH public key (.pub file, ssh-ed25519 or ssh-rsa)",
        )
    };
    for (i, a) in args.iter().enumerate() {
        let looks_like_key = a.starts_with("age1") || a.starts_with("ssh-") || a.contains(' ');
        let path = Path::new(a);
        if !looks_like_key && path.is_file() {
            out.extend(recipients_from_file(path)?);
            continue;
        }
        out.push(
            PackageRecipient::parse(a)
                .map_err(|e| bad(format!("recipient {} of {}", i + 1, args.len()), e))?,
        );
    }
    for f in ssh_files {
        out.extend(recipients_from_file(f)?);
    }
    out.dedup();
    Ok(out)
}

fn recipients_from_file(path: &Path) -> Result<Vec<PackageRecipient>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::new(format!(
            "cannot read {}: {}",
            esc(&path.display().to_string()),
            e.kind()
        ))
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // The line is not echoed: a private key file given by mistake must not be printed.
        out.push(PackageRecipient::parse(line).map_err(|e| {
            Failure::new(format!(
                "{} line {}: {e}",
                esc(&path.display().to_string()),
                n + 1
            ))
            .hint("give the public key file (.pub), not the private key")
        })?);
    }
    if out.is_empty() {
        return Err(Failure::new(format!(
            "{} holds no public key",
            esc(&path.display().to_string())
        )));
    }
    Ok(out)
}

fn today() -> String {
    baton::vault::now()[..10].to_string()
}

/// Writes a package file: new (0600), or replaced atomically with --force.
fn write_output(path: &Path, bytes: &[u8], force: bool) -> std::result::Result<(), String> {
    let r = if force {
        baton::fsio::write_atomic(path, bytes)
    } else {
        baton::fsio::write_new(path, bytes)
    };
    r.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{} already exists (use --force to replace it)",
            esc(&path.display().to_string())
        ),
        _ => format!("cannot write {}: {e}", esc(&path.display().to_string())),
    })
}

pub fn run(ctx: &Ctx, a: ExportArgs) -> Result<()> {
    if a.all {
        return run_all(ctx, &a);
    }
    let client = a
        .client
        .clone()
        .expect("clap requires a client without --all");
    let format = match a.format {
        ExportFormatArg::Html => ExportFormat::Html,
        ExportFormatArg::Kdbx => ExportFormat::Kdbx,
        ExportFormatArg::Age => ExportFormat::Age { armor: a.armor },
    };
    if format == ExportFormat::Html
        && (a.passphrase || !a.to.is_empty() || !a.to_ssh_key.is_empty())
    {
        return Err(Failure::new(
            "--format html writes an unencrypted sheet; it takes no recipients",
        )
        .hint("drop --to/--to-ssh-key/--passphrase, or use --format age"));
    }
    if format == ExportFormat::Kdbx && (!a.to.is_empty() || !a.to_ssh_key.is_empty() || a.armor) {
        return Err(Failure::new(
            "--format kdbx is locked with a generated password; it takes no recipients or --armor",
        )
        .hint("drop --to/--to-ssh-key/--armor, or use --format age"));
    }
    let explicit = parse_recipients(&a.to, &a.to_ssh_key)?;
    let output = a.output.clone().unwrap_or_else(|| {
        let ext = match format {
            ExportFormat::Html => "html",
            ExportFormat::Kdbx => "kdbx",
            ExportFormat::Age { .. } => "age",
        };
        PathBuf::from(format!("baton-{client}-{}.{ext}", today()))
    });
    if output.exists() && !a.force {
        return Err(Failure::new(format!(
            "{} already exists",
            esc(&output.display().to_string())
        ))
        .hint("choose another file with -o FILE, or replace it with --force"));
    }
    if format == ExportFormat::Html
        && !a.yes
        && !input::confirm("the sheet holds every password in plaintext; write it?")
    {
        return Err(Failure::new("not confirmed; nothing was written")
            .hint("pass --yes to write the plaintext sheet without asking"));
    }
    let mut v = ctx.open(Access::Write)?;
    let stored: Vec<PackageRecipient> = v
        .summary(&client)?
        .recipients
        .iter()
        .filter_map(|r| PackageRecipient::parse(r).ok())
        .collect();
    let passphrase =
        (a.passphrase || format == ExportFormat::Kdbx).then(|| baton::generate::passphrase(8).0);
    let recipients = if explicit.is_empty() {
        stored
    } else {
        explicit
    };
    let lock = match &passphrase {
        Some(p) => Lock::Passphrase(p),
        None => Lock::Recipients(&recipients),
    };
    if matches!(format, ExportFormat::Age { .. }) && passphrase.is_none() && recipients.is_empty() {
        return Err(Failure::new(format!("client '{}' has no package recipient", esc(&client))).hint(format!(
            "store the client's key with 'baton client set-recipient {client} age1…', or use --to, --to-ssh-key or --passphrase"
        )));
    }
    let summary = v.export(&client, format, &lock, |bytes| {
        write_output(&output, bytes, a.force)
    })?;
    eprintln!(
        "exported {} ({} entries, {} attachments) to {}",
        esc(&client),
        summary.entries,
        summary.attachments,
        esc(&output.display().to_string())
    );
    for (r, fp) in recipients.iter().zip(&summary.fingerprints) {
        if passphrase.is_none() {
            eprintln!("  for {} ({fp})", esc(r.as_str()));
        }
    }
    if let Some(p) = passphrase {
        show_passphrase_once(&p);
    }
    if format == ExportFormat::Html {
        eprintln!(
            "baton: warning: the sheet is not encrypted; print it, hand it over and delete the file"
        );
    }
    Ok(())
}

fn show_passphrase_once(p: &SecretText) {
    eprintln!("password for this package (shown once; give it to the client by another channel):");
    eprintln!("  {}", p.expose());
    if !std::io::stderr().is_terminal() {
        eprintln!(
            "baton: warning: stderr is not a terminal; make sure this output is not kept in a log"
        );
    }
}

fn run_all(ctx: &Ctx, a: &ExportArgs) -> Result<()> {
    let dir = a
        .out_dir
        .clone()
        .expect("clap requires --out-dir with --all");
    if a.format == ExportFormatArg::Html {
        return Err(Failure::new("--all exports encrypted packages only")
            .hint("export sheets one client at a time with --format html"));
    }
    baton::fsio::create_private_dir(&dir).map_err(|e| {
        Failure::new(format!(
            "cannot create {}: {e}",
            esc(&dir.display().to_string())
        ))
    })?;
    let mut v = ctx.open(Access::Write)?;
    let date = today();
    let path_for = |id: &str| dir.join(format!("baton-{id}-{date}.age"));
    let outcomes = v.export_all(a.armor, |id, bytes| {
        write_output(&path_for(id), bytes, a.force)
    })?;
    let (mut done, mut skipped) = (0, 0);
    for (id, outcome) in outcomes {
        match outcome {
            BatchOutcome::Exported(s) => {
                done += 1;
                println!(
                    "exported {:<24} {} entries, {} attachments -> {} (for {})",
                    esc(&id),
                    s.entries,
                    s.attachments,
                    esc(&path_for(&id).display().to_string()),
                    s.fingerprints.join(", ")
                );
            }
            BatchOutcome::Skipped(why) => {
                skipped += 1;
                println!(
                    "skipped  {:<24} {why} (baton client set-recipient {id} …)",
                    esc(&id)
                );
            }
        }
    }
    eprintln!("{done} package(s) written, {skipped} client(s) skipped");
    Ok(())
}
