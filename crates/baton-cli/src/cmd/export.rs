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

fn io_message(path: &Path, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{} {e} (use --force to replace a regular file)",
            esc(&path.display().to_string())
        ),
        _ => format!("cannot write {}: {e}", esc(&path.display().to_string())),
    }
}

/// A package written under a temporary name (0600, fsynced) that takes its final name
/// only after its audit record is committed (docs/export-format.md#audit).
struct Staged(Option<PathBuf>);

impl Staged {
    /// Stages the package after checking the target, so that a refused target fails the
    /// export before its audit record is written.
    fn write(
        &mut self,
        target: &Path,
        bytes: &[u8],
        force: bool,
    ) -> std::result::Result<(), String> {
        check_output(target, force).map_err(|f| f.message)?;
        let tmp = baton::fs::stage(target, bytes).map_err(|e| io_message(target, &e))?;
        self.0 = Some(tmp);
        Ok(())
    }

    fn publish(mut self, target: &Path, force: bool) -> Result<()> {
        let tmp = self.0.take().expect("staged before publishing");
        baton::fs::publish(&tmp, target, force)
            .map_err(|e| Failure::new(io_message(target, &e)).hint(msg::HINT_WRITABLE))
    }
}

impl Drop for Staged {
    /// A package whose export failed (no audit record) is removed.
    fn drop(&mut self) {
        if let Some(tmp) = self.0.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Refuses an output path that exists, unless --force and it is a regular file.
fn check_output(path: &Path, force: bool) -> Result<()> {
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
    check_output(&output, a.force)?;
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
    let mut staged = Staged(None);
    let summary = v.export(&client, format, &lock, |bytes| {
        staged.write(&output, bytes, a.force)
    })?;
    staged.publish(&output, a.force)?;
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
    baton::fs::create_private_dir(&dir).map_err(|e| {
        Failure::new(format!(
            "cannot create {}: {e}",
            esc(&dir.display().to_string())
        ))
        .hint("--out-dir must name a new folder whose parent exists and is writable")
    })?;
    let to = parse_recipients(&a.to, &a.to_ssh_key)?;
    let mut v = ctx.open_recording()?;
    let date = baton::time::today();
    let path_for = |id: &str| dir.join(format!("baton-{id}-{date}.age"));
    let mut staged: Vec<(String, Staged)> = Vec::new();
    let outcomes = v.export_all(a.armor, (!to.is_empty()).then_some(&to[..]), |id, bytes| {
        let mut st = Staged(None);
        st.write(&path_for(id), bytes, a.force)?;
        staged.push((id.to_string(), st));
        Ok(())
    })?;
    let (mut done, mut skipped, mut failed) = (0, 0, 0);
    for (id, outcome) in outcomes {
        match outcome {
            BatchOutcome::Exported(s) => {
                let st = staged
                    .iter()
                    .position(|(sid, _)| *sid == id)
                    .map(|i| staged.swap_remove(i).1)
                    .expect("an exported package was staged");
                if let Err(f) = st.publish(&path_for(&id), a.force) {
                    failed += 1;
                    println!("failed   {:<24} {}", esc(&id), f.message);
                    continue;
                }
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
            BatchOutcome::Failed(why) => {
                failed += 1;
                println!("failed   {:<24} {}", esc(&id), esc(&why));
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
