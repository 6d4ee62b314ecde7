//! `baton export`: client packages (docs/export-format.md).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use baton::SecretText;
use baton::export::{
    BatchOutcome, ExportFormat, Lock, PackageRecipient, RecipientChoice, RecipientFileError,
    parse_recipients_file,
};

use crate::cli::{ExportArgs, ExportFormatArg};
use crate::msg::{self, Failure, Result, esc};
use crate::{Ctx, input};

/// Parses recipients from arguments (`age1…`, an SSH key line, or a .pub file) and SSH
/// key files. Errors name the argument by position, never echo its text.
pub fn parse_recipients(args: &[String], ssh_files: &[PathBuf]) -> Result<Vec<PackageRecipient>> {
    let mut out = Vec::new();
    let bad = |what: String, e: baton::export::RecipientError| {
        Failure::new(format!("{what}: {e}")).hint(
            "give the client's public key: an age recipient (age1…) or an SSH public key (.pub file, ssh-ed25519 or ssh-rsa)",
        )
        // A key given on the command line that does not parse: a usage error.
        .code(msg::EXIT_USAGE)
    };
    for (i, a) in args.iter().enumerate() {
        let path = Path::new(a);
        if path.is_file() {
            out.extend(recipients_from_file(path)?);
            continue;
        }
        if a.contains('/') || a.ends_with(".pub") || a.ends_with(".txt") {
            return Err(Failure::new(format!(
                "recipient {} of {}: no such file {}",
                i + 1,
                args.len(),
                esc(a)
            ))
            .hint("give the path of an existing .pub file, or the key itself (age1… or \"ssh-ed25519 AAAA…\")"));
        }
        out.push(
            PackageRecipient::parse(a)
                .map_err(|e| bad(format!("recipient {} of {}", i + 1, args.len()), e))?,
        );
    }
    for f in ssh_files {
        out.extend(recipients_from_file(f)?);
    }
    baton::export::dedup_recipients(&mut out);
    Ok(out)
}

fn recipients_from_file(path: &Path) -> Result<Vec<PackageRecipient>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::new(format!(
            "cannot read {}: {}",
            esc(&path.display().to_string()),
            e.kind()
        ))
        .hint("give a public key file you can read (.pub, one key per line)")
    })?;
    // The library never quotes the file: a private key file given by mistake must not
    // be printed.
    let file = esc(&path.display().to_string());
    parse_recipients_file(&text).map_err(|e| match e {
        RecipientFileError::Line { line, error } => {
            Failure::new(format!("{file} line {line}: {error}"))
                .hint("give the public key file (.pub), not the private key")
        }
        _ => Failure::new(format!("{file} holds no public key"))
            .hint("give a .pub file with one age or SSH public key per line"),
    })
}

/// Refuses, before the vault is opened (and the passphrase asked for), an output inside
/// the vault folder and an output path that exists, unless --force and it is a regular
/// file. The library checks both again where it writes.
fn check_output(ctx: &Ctx, path: &Path, force: bool) -> Result<()> {
    if baton::fs::overlaps(&ctx.vault_path()?, path) {
        return Err(msg::export_inside_vault("file"));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if force && m.is_file() => Ok(()),
        Ok(_) if force => Err(Failure::new(format!(
            "{} exists and is not a regular file",
            esc(&path.display().to_string())
        ))
        .hint("--force replaces regular files only; choose another -o FILE")),
        Ok(_) => Err(Failure::new(format!(
            "{} already exists",
            esc(&path.display().to_string())
        ))
        .hint("choose another file with -o FILE, or replace it with --force")),
        Err(_) => Ok(()),
    }
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
        .hint("drop --to/--to-ssh-key/--passphrase, or use --format age")
        .code(msg::EXIT_USAGE));
    }
    if format == ExportFormat::Kdbx && (!a.to.is_empty() || !a.to_ssh_key.is_empty() || a.armor) {
        return Err(Failure::new(
            "--format kdbx is locked with a generated password; it takes no recipients or --armor",
        )
        .hint("drop --to/--to-ssh-key/--armor, or use --format age")
        .code(msg::EXIT_USAGE));
    }
    let explicit = parse_recipients(&a.to, &a.to_ssh_key)?;
    let output = a.output.clone().unwrap_or_else(|| {
        let ext = match format {
            ExportFormat::Html => "html",
            ExportFormat::Kdbx => "kdbx",
            ExportFormat::Age { .. } => "age",
        };
        PathBuf::from(format!("baton-{client}-{}.{ext}", baton::time::today()))
    });
    check_output(ctx, &output, a.force)?;
    if format == ExportFormat::Html
        && !a.yes.yes
        && !input::confirm("the sheet holds every password in plaintext; write it?")
    {
        return Err(Failure::new("not confirmed; nothing was written")
            .hint("pass --yes to write the plaintext sheet without asking"));
    }
    let mut v = ctx.open_recording()?;
    let choice = RecipientChoice::new(&explicit, &v.client(&client)?.recipients);
    if choice.left_out > 0 {
        eprintln!(
            "baton: warning: {} stored recipient(s) of {} are no longer usable and were left out",
            choice.left_out,
            esc(&client)
        );
    }
    let passphrase = format
        .locked_by_password(a.passphrase)
        .then(|| baton::generate::passphrase(8).0);
    let recipients = choice.recipients;
    let lock = match &passphrase {
        Some(p) => Lock::Passphrase(p),
        None => Lock::Recipients(&recipients),
    };
    if matches!(format, ExportFormat::Age { .. }) && passphrase.is_none() && recipients.is_empty() {
        return Err(Failure::new(format!("client '{}' has no package recipient", esc(&client))).hint(format!(
            "store the client's key with 'baton client set-recipient {client} age1…', or use --to, --to-ssh-key or --passphrase"
        )));
    }
    // The package is written first, then recorded (docs/export-format.md#audit).
    let summary = v
        .export_file(&client, format, &lock, &output, a.force)
        .map_err(msg::export)?;
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

/// Shows the package password once: on the terminal itself when there is one, so it
/// does not end up in a redirected stderr or a log; otherwise on stderr, with a warning.
fn show_passphrase_once(p: &SecretText) {
    use std::io::Write;
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        let shown = writeln!(
            tty,
            "password for this package (shown once; give it to the client by another channel):\n  {}",
            p.expose()
        );
        if shown.is_ok() {
            return;
        }
    }
    show_on_stderr(p);
}

fn show_on_stderr(p: &SecretText) {
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
    if a.format != ExportFormatArg::Age {
        return Err(Failure::new("--all exports encrypted packages only")
            .hint("export sheets one client at a time with --format html")
            .code(msg::EXIT_USAGE));
    }
    if baton::fs::overlaps(&ctx.vault_path()?, &dir) {
        return Err(msg::export_inside_vault("folder"));
    }
    let to = parse_recipients(&a.to, &a.to_ssh_key)?;
    let mut v = ctx.open_recording()?;
    // The library makes the folder (0700; an existing one keeps its mode) and writes
    // each package before its record.
    let outcomes = v
        .export_all(a.armor, (!to.is_empty()).then_some(&to[..]), &dir, a.force)
        .map_err(msg::export)?;
    let (mut done, mut skipped, mut failed) = (0, 0, 0);
    for (id, outcome) in outcomes {
        match outcome {
            BatchOutcome::Exported { summary: s, file } => {
                done += 1;
                println!(
                    "exported {:<24} {} entries, {} attachments -> {} (for {})",
                    esc(&id),
                    s.entries,
                    s.attachments,
                    esc(&file.display().to_string()),
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
            BatchOutcome::Failed(why) => {
                failed += 1;
                println!(
                    "failed   {:<24} {}",
                    esc(&id),
                    esc(&msg::export(why).message)
                );
            }
        }
    }
    if failed > 0 {
        return Err(Failure::new(format!(
            "{done} package(s) written, {skipped} client(s) skipped, {failed} failed"
        ))
        .hint(
            "fix the problems named above and run the export again (existing files need --force)",
        ));
    }
    eprintln!("{done} package(s) written, {skipped} client(s) skipped");
    Ok(())
}
