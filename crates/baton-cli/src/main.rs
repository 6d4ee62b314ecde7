//! `baton`, the command line of the baton vault. All logic lives in the `baton` library;
//! this binary parses flags, asks for secrets, prints, and maps errors to exit codes.

mod cli;
mod demo;
mod export;
mod gdpr;
mod handover;
mod input;
mod msg;
mod rotate;
mod shares;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use serde_json::json;

use baton::client::{ClientSummary, EntryKind};
use baton::crypto::kdf::{self, KdfParams};
use baton::vault::changes::{ClientEdit, EntryFields, NewClient};
use baton::vault::{Access, InitOptions, Vault};
use baton::{Passphrase, SecretText};

use cli::{Cli, ClientCmd, Command, EntryCmd, EntryFieldArgs, Field, KeyCmd};
use msg::{Failure, Result, esc};

fn main() {
    harden_process();
    #[cfg(debug_assertions)]
    fault::install();
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(()) => 0,
        Err(f) => {
            // Messages can carry text from files (a client's key file, a vault name):
            // never let it drive the terminal.
            eprintln!("baton: error: {}", esc(&f.message));
            if let Some(h) = &f.hint {
                eprintln!("baton: hint: {}", esc(h));
            }
            f.code
        }
    };
    #[cfg(debug_assertions)]
    fault::report();
    std::process::exit(code);
}

/// Crash testing (debug builds only, so never in a release binary):
/// `BATON_FAULT_AT=N` kills the process with SIGKILL at the N-th step that changes the
/// disk (fsio::fault_point); `BATON_FAULT_AT=count` prints how many steps there were.
#[cfg(debug_assertions)]
mod fault {
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNT: AtomicU64 = AtomicU64::new(0);

    pub fn install() {
        let Some(v) = std::env::var_os("BATON_FAULT_AT") else {
            return;
        };
        let at: u64 = v.to_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        baton::store::fsio::set_fault_hook(Box::new(move |_| {
            if COUNT.fetch_add(1, Ordering::SeqCst) + 1 == at {
                // SAFETY: kill with our own pid and a constant signal has no
                // preconditions; SIGKILL cannot be caught, exactly like a crash.
                unsafe {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
            }
        }));
    }

    pub fn report() {
        if std::env::var_os("BATON_FAULT_AT").is_some_and(|v| v == "count") {
            eprintln!("baton: fault points: {}", COUNT.load(Ordering::SeqCst));
        }
    }
}

/// No core dumps and no ptrace by other processes of the same user while secrets may be
/// in memory (the whole life of the process).
fn harden_process() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit and prctl take plain values and a pointer to a valid, initialized
    // rlimit that lives across the call; neither retains the pointer.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    // A closed pipe (`baton list | head`) ends the process quietly instead of panicking.
    // SAFETY: restoring the default disposition of SIGPIPE has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

pub(crate) struct Ctx {
    vault: Option<PathBuf>,
    passphrase_file: Option<PathBuf>,
    identity: Option<PathBuf>,
}

impl Ctx {
    fn vault_path(&self) -> Result<PathBuf> {
        self.vault
            .clone()
            .or_else(|| std::env::var_os("BATON_VAULT").map(PathBuf::from))
            .ok_or_else(|| Failure::new("no vault given").hint(msg::HINT_VAULT))
    }

    fn passphrase_file(&self) -> Option<PathBuf> {
        self.passphrase_file
            .clone()
            .or_else(|| std::env::var_os("BATON_PASSPHRASE_FILE").map(PathBuf::from))
    }

    fn passphrase(&self) -> Result<Passphrase> {
        input::passphrase(self.passphrase_file().as_deref(), "--passphrase-file")
    }

    /// The emergency key from `--identity FILE` (or BATON_IDENTITY), if given.
    fn identity_secret(&self) -> Result<Option<baton::EmergencySecret>> {
        let Some(file) = self
            .identity
            .clone()
            .or_else(|| std::env::var_os("BATON_IDENTITY").map(PathBuf::from))
        else {
            return Ok(None);
        };
        let bytes = input::read_secret_file(&file, "--identity")?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Failure::new("the file given to --identity is not text"))?;
        baton::EmergencySecret::from_identity_file(text)
            .map(Some)
            .ok_or_else(|| {
                Failure::new(
                    "the file given to --identity holds no age identity (AGE-SECRET-KEY-1...)",
                )
                .hint("use the emergency-key.txt that 'baton recover' wrote")
            })
    }

    fn open(&self, access: Access) -> Result<Opened> {
        self.open_keep_passphrase(access).map(|(v, _)| v)
    }

    /// Opens for writing, so the command goes into the audit log; or read-only where
    /// the folder cannot be written (a copy on a read-only medium), saying so.
    fn open_recording(&self) -> Result<Opened> {
        let path = self.vault_path()?;
        if baton::store::fsio::is_read_only_folder(&path) {
            eprintln!(
                "baton: note: the vault folder is read-only, so this is not recorded in its audit log"
            );
            return self.open(Access::Read);
        }
        self.open(Access::Write)
    }

    /// Opens the vault and keeps the passphrase for a command that needs it again
    /// (a rotation that changes the key derivation).
    fn open_keep_passphrase(&self, access: Access) -> Result<(Opened, Passphrase)> {
        let path = self.checked_path()?;
        match self.identity_secret()? {
            Some(e) => Ok((
                self.remember(Vault::open_emergency(&path, &e, access)?)?,
                Passphrase::new(String::new()),
            )),
            None => {
                let p = self.passphrase()?;
                Ok((self.remember(Vault::open(&path, &p, access)?)?, p))
            }
        }
    }

    /// Opens with an emergency key rebuilt from shares, with the same checks as every
    /// other open.
    fn open_emergency(&self, e: &baton::EmergencySecret, access: Access) -> Result<Opened> {
        let path = self.checked_path()?;
        self.remember(Vault::open_emergency(&path, e, access)?)
    }

    /// The vault folder, after its public header was read (so a missing vault is
    /// reported before anything is asked) and its warnings printed.
    fn checked_path(&self) -> Result<PathBuf> {
        let path = self.vault_path()?;
        let header = baton::vault::read_header(&path)?;
        if header.kdf.is_insecure() {
            eprintln!(
                "baton: warning: this vault uses the insecure test key derivation; do not store real secrets in it"
            );
        }
        if let Some(g) = baton::rotate::pending(&path) {
            eprintln!(
                "baton: warning: a rotation to generation {g} was interrupted; {}",
                msg::HINT_ROTATION_PENDING
            );
        }
        Ok(path)
    }

    /// Refuses a vault older than this machine has seen (a rollback of the whole
    /// folder); the returned handle records the revision when dropped.
    fn remember(&self, vault: Vault) -> Result<Opened> {
        let seen = seen::path(&vault.header().vault_id);
        if let Some(last) = seen.as_deref().and_then(seen::read)
            && last > vault.index().revision
        {
            return Err(Failure::new(format!(
                "the vault was rolled back: it is at revision {}, but this machine has seen revision {last}",
                vault.index().revision
            ))
            .hint(format!(
                "someone restored older files; if you restored a backup on purpose, delete {} and run the command again",
                esc(&seen.unwrap_or_default().display().to_string())
            ))
            .code(msg::EXIT_INTEGRITY));
        }
        Ok(Opened { vault, seen })
    }
}

/// An open vault that, when dropped, records the highest index revision this machine
/// has seen (docs/threat-model.md: rollback of the whole vault).
pub(crate) struct Opened {
    vault: Vault,
    seen: Option<PathBuf>,
}

impl std::ops::Deref for Opened {
    type Target = Vault;
    fn deref(&self) -> &Vault {
        &self.vault
    }
}

impl std::ops::DerefMut for Opened {
    fn deref_mut(&mut self) -> &mut Vault {
        &mut self.vault
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        if let Some(p) = &self.seen {
            seen::record(p, self.vault.index().revision);
        }
    }
}

/// The per-machine record of the last seen revision of each vault:
/// `$XDG_STATE_HOME/baton/seen/<vault id>` (or `~/.local/state/...`).
mod seen {
    use std::path::{Path, PathBuf};

    pub fn path(vault_id: &str) -> Option<PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
        Some(base.join("baton").join("seen").join(vault_id))
    }

    pub fn read(p: &Path) -> Option<u64> {
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    }

    /// Best effort: a machine without a writable state folder just does not remember.
    pub fn record(p: &Path, revision: u64) {
        if read(p).is_some_and(|last| last >= revision) {
            return;
        }
        if let Some(dir) = p.parent()
            && baton::store::fsio::create_private_dir(dir).is_ok()
        {
            let _ = baton::store::fsio::write_atomic(p, format!("{revision}\n").as_bytes());
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        vault: cli.vault,
        passphrase_file: cli.passphrase_file,
        identity: cli.identity,
    };
    match cli.command {
        Command::Init(a) => cmd_init(&ctx, a),
        Command::Client(c) => cmd_client(&ctx, c),
        Command::Entry(c) => cmd_entry(&ctx, c),
        Command::List(j) => cmd_list(&ctx, j.json),
        Command::Show { client, json } => cmd_show(&ctx, &client, json.json),
        Command::Get(a) => cmd_get(&ctx, a),
        Command::Search { term, json } => cmd_search(&ctx, &term, json.json),
        Command::Otp { target, json } => cmd_otp(&ctx, &target, json.json),
        Command::Generate(a) => cmd_generate(a),
        Command::Passwd(a) => cmd_passwd(&ctx, a),
        Command::Status(a) if a.check => cmd_status_check(&ctx, a.verify),
        Command::Status(a) => cmd_status(&ctx, a.json),
        Command::Rotate(a) => rotate::run(&ctx, a),
        Command::Audit { verify, json } => cmd_audit(&ctx, verify, json.json),
        Command::Verify(j) => cmd_verify(&ctx, j.json),
        Command::Key(k) => cmd_key(&ctx, k),
        Command::Emergency(c) => handover::run(&ctx, c),
        Command::Recover(a) => handover::recover(&ctx, a),
        Command::Takeover(a) => handover::takeover(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Purge(a) => gdpr::purge(&ctx, a),
        Command::Gdpr(c) => gdpr::run(&ctx, c),
        Command::Settings {
            owner_name,
            owner_contact,
            vault_copies,
            successor,
            retention_months,
            rotate_every,
            json,
        } => cmd_settings(
            &ctx,
            [owner_name, owner_contact, vault_copies, successor],
            [retention_months, rotate_every],
            json.json,
        ),
        Command::Demo(a) => demo::run(a),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "baton", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { out_dir } => cmd_man(out_dir),
    }
}

pub(crate) fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

// ---------------------------------------------------------------- init

pub(crate) fn kdf_from_args(a: &cli::KdfArgs) -> Result<KdfParams> {
    if a.insecure_test_kdf {
        eprintln!(
            "baton: warning: --insecure-test-kdf offers no protection against passphrase guessing; for tests only"
        );
    }
    let mut p = a
        .request()
        .fresh()
        .map_err(|e| msg::kdf_refused(&e, false))?;
    if let Some(target_ms) = a.calibrate.filter(|_| !a.insecure_test_kdf) {
        let c = kdf::calibrate(p, target_ms).map_err(|e| Failure::new(e.to_string()))?;
        eprintln!(
            "baton: argon2id calibrated to m={} MiB t={} p={} ({} ms here)",
            c.params.m_cost_kib / 1024,
            c.params.t_cost,
            c.params.p_cost,
            c.millis
        );
        p = c.params;
    }
    Ok(p)
}

fn cmd_init(ctx: &Ctx, a: cli::InitArgs) -> Result<()> {
    let path = ctx.vault_path()?;
    let shares_dir = a.shares_out.clone();
    let policy = handover::policy_of(&a.policy)?.ok_or_else(|| {
        Failure::new("who holds the emergency key?")
            .hint("--holders anna,ben,carla -t 2, or --policy \"2 of anna,ben,carla; 1 of notary,spouse\"")
            .code(2)
    })?;
    let kit_opts = shares::prepare(&path, &shares_dir, &policy.holder_names(), &a.kits)?;
    let kdf = kdf_from_args(&a.kdf)?;
    let passphrase = input::new_passphrase(ctx.passphrase_file().as_deref(), "--passphrase-file")?;
    let owner = baton::store::index::OwnerProfile::default();
    let mut delivered: Vec<(String, PathBuf)> = Vec::new();
    let vault = Vault::init(
        &path,
        &passphrase,
        InitOptions {
            policy: policy.clone(),
            kdf,
        },
        // Written and fsynced before vault.json exists (Vault::init).
        shares::deliverer(&shares_dir, &owner, &policy, &kit_opts, &mut delivered),
    )
    .map_err(|e| match e {
        baton::InitError::Delivery(_) => {
            Failure::from(e).hint("fix the share folder and run 'baton init' again")
        }
        e => Failure::from(e),
    })?;
    let h = vault.header();
    println!(
        "created vault {} at {}",
        h.vault_id,
        esc(&path.display().to_string())
    );
    println!(
        "emergency key split into SLIP-39 share set {}: {}",
        h.share_set.id,
        esc(&policy.describe())
    );
    shares::print_written(&delivered);
    println!("{}", handover::HAND_OUT);
    println!(
        "set your name and contact ('baton settings --owner-name ... --owner-contact ...') and print the kits again ('baton emergency kits'), so the holders know whose vault it is"
    );
    Ok(())
}

// ---------------------------------------------------------------- clients and entries

fn cmd_client(ctx: &Ctx, c: ClientCmd) -> Result<()> {
    match c {
        ClientCmd::Add {
            id,
            name,
            contact,
            notes,
            tags,
        } => {
            let mut v = ctx.open(Access::Write)?;
            v.add_client(NewClient {
                name: name.unwrap_or_default(),
                id: id.clone(),
                contact,
                notes,
                tags,
            })?;
            eprintln!("added client {}", esc(&id));
        }
        ClientCmd::Edit {
            id,
            name,
            contact,
            notes,
            tags,
        } => {
            let mut v = ctx.open(Access::Write)?;
            v.edit_client(
                &id,
                ClientEdit {
                    name,
                    contact,
                    notes,
                    tags,
                },
            )?;
            eprintln!("updated client {}", esc(&id));
        }
        ClientCmd::SetRecipient {
            id,
            recipients,
            clear,
        } => {
            let parsed = if clear {
                vec![]
            } else {
                export::parse_recipients(&recipients, &[])?
            };
            let mut v = ctx.open(Access::Write)?;
            let before = v.client(&id)?.recipients;
            v.set_recipients(&id, &parsed)?;
            if parsed.is_empty() {
                eprintln!("removed the package recipients of {}", esc(&id));
            }
            let kept: Vec<&str> = parsed.iter().map(|r| r.as_str()).collect();
            if before.iter().any(|r| !kept.contains(&r.as_str())) {
                // Honest about revocation (docs/threat-model.md#rotation).
                eprintln!(
                    "note: a removed key still opens every package already exported to it; only new exports leave it out"
                );
            }
            for r in &parsed {
                eprintln!(
                    "{}: packages go to {} ({})",
                    esc(&id),
                    esc(r.as_str()),
                    r.fingerprint()
                );
            }
        }
        ClientCmd::End { id, date, reason } => gdpr::end(ctx, &id, date, &reason)?,
        ClientCmd::Reopen { id } => gdpr::reopen(ctx, &id)?,
        ClientCmd::Set {
            id,
            dpa,
            dpa_ref,
            hold,
            no_hold,
            retain_until,
            no_retain_until,
        } => {
            let edit = baton::vault::changes::GdprEdit {
                dpa: dpa.map(|d| gdpr::parse_dpa(&d, dpa_ref)).transpose()?,
                hold: match (hold, no_hold) {
                    (Some(r), _) => Some(Some(r)),
                    (None, true) => Some(None),
                    (None, false) => None,
                },
                retain_until: match (retain_until, no_retain_until) {
                    (Some(d), _) => Some(d),
                    (None, true) => Some(String::new()),
                    (None, false) => None,
                },
            };
            gdpr::set(ctx, &id, edit)?
        }
        ClientCmd::Rm { id, yes } => {
            let mut v = ctx.open(Access::Write)?;
            let n = v.client(&id)?.entries.len();
            if !yes
                && !input::confirm(&format!(
                    "remove client '{}' and its {n} entries?",
                    esc(&id)
                ))
            {
                return Err(Failure::new("not confirmed; nothing was removed")
                    .hint("pass --yes to remove without asking"));
            }
            v.remove_client(&id)?;
            eprintln!("removed client {} ({n} entries)", esc(&id));
        }
    }
    Ok(())
}

fn entry_fields(a: EntryFieldArgs, clear_password: bool, clear_totp: bool) -> Result<EntryFields> {
    let kind = match &a.kind {
        Some(k) => Some(k.parse::<EntryKind>().map_err(|_| {
            Failure::new(format!("unknown kind '{}'", esc(k))).hint(format!(
                "use one of: {}",
                EntryKind::ALL.map(|k| k.as_str()).join(", ")
            ))
        })?),
        None => None,
    };
    let password = if a.generate {
        let (p, bits) = baton::generate::password(a.length, true);
        eprintln!(
            "generated a {}-character password ({bits:.0} bits)",
            p.expose().len()
        );
        Some(p)
    } else if let Some(f) = &a.password_file {
        Some(input::secret_text(f, "--password-file")?)
    } else if a.password_prompt {
        Some(input::prompt_secret("password")?)
    } else {
        None
    };
    let totp = match &a.totp_file {
        Some(t)
            if t.get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("otpauth:")) =>
        {
            return Err(Failure::new("--totp takes a file that holds the otpauth:// URI, not the URI itself")
                .hint("the URI contains the TOTP secret and would be visible to other users in the process list: put it in a file, or pass '--totp -' and paste it on stdin"));
        }
        Some(t) => Some(input::secret_text(Path::new(t), "--totp")?),
        None => None,
    };
    Ok(EntryFields {
        kind,
        url: a.url,
        user: a.user,
        password,
        clear_password,
        totp,
        clear_totp,
        note: a.note,
        tags: a.tags,
    })
}

fn cmd_entry(ctx: &Ctx, c: EntryCmd) -> Result<()> {
    match c {
        EntryCmd::Add {
            client,
            name,
            fields,
        } => {
            let f = entry_fields(fields, false, false)?;
            let mut v = ctx.open(Access::Write)?;
            v.add_entry(&client, &name, f)?;
            eprintln!("added {}/{}", esc(&client), esc(&name));
        }
        EntryCmd::Edit {
            client,
            name,
            fields,
            rename,
            clear_password,
            clear_totp,
        } => {
            let f = entry_fields(fields, clear_password, clear_totp)?;
            let mut v = ctx.open(Access::Write)?;
            v.edit_entry(&client, &name, f)?;
            let mut shown = name.clone();
            if let Some(new) = rename {
                v.rename_entry(&client, &name, &new)?;
                shown = new;
            }
            eprintln!("updated {}/{}", esc(&client), esc(&shown));
        }
        EntryCmd::Rm { client, name } => {
            let mut v = ctx.open(Access::Write)?;
            v.remove_entry(&client, &name)?;
            eprintln!("removed {}/{}", esc(&client), esc(&name));
        }
        EntryCmd::Attach {
            client,
            entry,
            file,
            name,
            force,
        } => {
            let name = match name {
                Some(n) => n,
                None => file
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .ok_or_else(|| {
                        Failure::new("the attachment path has no file name")
                            .hint("give one with --as NAME")
                    })?,
            };
            let data = input::attachment(&file)?;
            let mut v = ctx.open(Access::Write)?;
            v.attach(&client, &entry, &name, data, force)?;
            eprintln!(
                "attached {} to {}/{}",
                esc(&name),
                esc(&client),
                esc(&entry)
            );
        }
        EntryCmd::Detach {
            client,
            entry,
            name,
        } => {
            let mut v = ctx.open(Access::Write)?;
            v.detach(&client, &entry, &name)?;
            eprintln!(
                "removed attachment {} from {}/{}",
                esc(&name),
                esc(&client),
                esc(&entry)
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- reading

fn client_json(c: &ClientSummary) -> serde_json::Value {
    json!({
        "id": c.id, "name": c.name, "contact": c.contact, "notes": c.notes, "tags": c.tags,
        "created": c.created, "updated": c.updated, "entries": c.entries,
    })
}

fn cmd_list(ctx: &Ctx, as_json: bool) -> Result<()> {
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

fn cmd_show(ctx: &Ctx, id: &str, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    // The client file itself, checked against the index, so `show` reports tampering.
    let c = v.client(id)?.summary();
    if as_json {
        print_json(&client_json(&c));
        return Ok(());
    }
    println!("{} ({})", esc(&c.name), esc(&c.id));
    if !c.contact.is_empty() {
        println!("contact: {}", esc(&c.contact));
    }
    if !c.notes.is_empty() {
        println!("notes:   {}", esc(&c.notes));
    }
    for e in &c.entries {
        let mut flags = Vec::new();
        if e.has_password {
            flags.push("password".to_string());
        }
        if e.has_totp {
            flags.push("totp".to_string());
        }
        for a in &e.attachments {
            flags.push(format!("file:{}", esc(a)));
        }
        println!(
            "  {:<16} {:<9} {:<40} {:<16} [{}]",
            esc(&e.name),
            e.kind.as_str(),
            esc(&e.url),
            esc(&e.user),
            flags.join(", ")
        );
        if !e.note.is_empty() {
            println!("  {:<16} note: {}", "", esc(&e.note));
        }
    }
    Ok(())
}

fn split_target(t: &str) -> Result<(&str, &str)> {
    t.split_once('/')
        .filter(|(c, e)| !c.is_empty() && !e.is_empty())
        .ok_or_else(|| {
            Failure::new(format!("'{}' is not CLIENT/ENTRY", esc(t)))
                .hint("for example: acme/ssh-root")
        })
}

/// Writes secret output: to a new 0600 file, or to stdout, but to a terminal only with
/// --show.
fn emit_secret(bytes: &[u8], output: Option<&Path>, show: bool, binary: bool) -> Result<()> {
    if let Some(p) = output.filter(|p| p.as_os_str() != "-") {
        return baton::store::fsio::write_new(p, bytes).map_err(|e| {
            Failure::new(format!(
                "cannot create {}: {e}",
                esc(&p.display().to_string())
            ))
            .hint("the output file must not exist yet")
        });
    }
    let stdout = std::io::stdout();
    let to_terminal = stdout.is_terminal();
    if to_terminal && binary && output.is_none() {
        return Err(
            Failure::new("refusing to print a binary attachment to the terminal")
                .hint("write it to a file with -o FILE, or force stdout with -o -"),
        );
    }
    if to_terminal && !show && output.is_none() {
        return Err(Failure::new("refusing to print a secret to the terminal")
            .hint("pass --show to display it, or pipe the output (baton get ... | wl-copy)"));
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
        .map_err(|e| Failure::new(format!("cannot write to stdout: {e}")))
}

fn cmd_get(ctx: &Ctx, a: cli::GetArgs) -> Result<()> {
    let (client, entry) = split_target(&a.target)?;
    let v = ctx.open(Access::Read)?;
    let file = v.client(client)?;
    let e = file.require_entry(entry)?;
    if a.json {
        /// The `credentials.json` entry shape plus the client; borrows from the decrypted
        /// entry, so the only copy made is the wiped buffer.
        #[derive(serde::Serialize)]
        struct Out<'a> {
            client: &'a str,
            #[serde(flatten)]
            entry: baton::export::EntryView<'a>,
        }
        let text = baton::crypto::secret::json_bytes(&Out {
            client,
            entry: baton::export::EntryView::new(e),
        });
        let mut line = zeroize::Zeroizing::new(Vec::with_capacity(text.len() + 1));
        line.extend_from_slice(&text);
        line.push(b'\n');
        return emit_secret(&line, None, a.show, false);
    }
    if let Some(name) = &a.attachment {
        let att = e
            .attachments
            .iter()
            .find(|x| &x.name == name)
            .ok_or_else(|| {
                Failure::new(format!(
                    "{client}/{entry} has no attachment '{}'",
                    esc(name)
                ))
                .hint(format!("'baton show {client}' lists the attachments"))
            })?;
        let binary = std::str::from_utf8(att.data.expose()).is_err();
        return emit_secret(att.data.expose(), a.output.as_deref(), a.show, binary);
    }
    let (value, secret): (Option<&str>, bool) = match a.field {
        Field::Password => (e.password.as_ref().map(SecretText::expose), true),
        Field::Totp => (e.totp.as_ref().map(SecretText::expose), true),
        Field::User => (Some(e.user.as_str()), false),
        Field::Url => (Some(e.url.as_str()), false),
        Field::Note => (Some(e.note.as_str()), false),
    };
    let value = value.ok_or_else(|| {
        Failure::new(format!(
            "{client}/{entry} has no {}",
            format!("{:?}", a.field).to_lowercase()
        ))
    })?;
    let mut bytes = zeroize::Zeroizing::new(value.as_bytes().to_vec());
    if !std::io::stdout().is_terminal() || a.output.is_some() {
        bytes.push(b'\n');
    }
    emit_secret(&bytes, a.output.as_deref(), a.show || !secret, false)
}

fn cmd_search(ctx: &Ctx, term: &str, as_json: bool) -> Result<()> {
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
        return Err(Failure::new(format!("nothing matches '{}'", esc(term))));
    }
    Ok(())
}

fn cmd_otp(ctx: &Ctx, target: &str, as_json: bool) -> Result<()> {
    let (client, entry) = split_target(target)?;
    let v = ctx.open(Access::Read)?;
    let file = v.client(client)?;
    let e = file.require_entry(entry)?;
    let uri = e.totp.as_ref().ok_or_else(|| {
        Failure::new(format!("{client}/{entry} has no TOTP seed")).hint(format!(
            "add one with 'baton entry edit {client} {entry} --totp FILE'"
        ))
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (code, ttl) =
        baton::otp::code_at(uri.expose(), now).map_err(|e| Failure::new(e.to_string()))?;
    if as_json {
        print_json(&json!({ "code": code, "valid_for_seconds": ttl }));
    } else {
        println!("{code}");
        if std::io::stderr().is_terminal() {
            eprintln!("valid for {ttl} s");
        }
    }
    Ok(())
}

fn cmd_generate(a: cli::GenerateArgs) -> Result<()> {
    let (secret, bits) = match a.words {
        Some(n) => baton::generate::passphrase(n),
        None => baton::generate::password(a.length.unwrap_or(24), !a.no_symbols),
    };
    println!("{}", secret.expose());
    if std::io::stderr().is_terminal() {
        eprintln!("({bits:.0} bits of entropy)");
    }
    Ok(())
}

fn cmd_passwd(ctx: &Ctx, a: cli::PasswdArgs) -> Result<()> {
    let mut v = ctx.open(Access::Write)?;
    let new = input::new_passphrase(a.new_passphrase_file.as_deref(), "--new-passphrase-file")?;
    let kdf = a
        .kdf_request()
        .changed(&v.header().kdf)
        .map_err(|e| msg::kdf_refused(&e, false))?;
    v.change_passphrase(&new, kdf)?;
    let k = &v.header().kdf;
    eprintln!(
        "passphrase changed (argon2id m={} MiB t={} p={})",
        k.m_cost_kib / 1024,
        k.t_cost,
        k.p_cost
    );
    Ok(())
}

fn cmd_status(ctx: &Ctx, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let h = v.header();
    let ix = v.index();
    let catalog = v.catalog()?;
    let entries: usize = catalog.iter().map(|c| c.entries.len()).sum();
    let mut warnings = Vec::new();
    if h.kdf.is_insecure() {
        warnings.push("the vault uses the insecure test key derivation".to_string());
    }
    if let Some(g) = baton::rotate::pending(v.path()) {
        warnings.push(format!(
            "a rotation to generation {g} was interrupted; run 'baton rotate --resume' or '--abort'"
        ));
    }
    let due = h.rotation_due();
    let overdue = h.rotation_overdue(&baton::time::now());
    if let Some(since) = &overdue {
        warnings.push(format!(
            "key rotation is due (since {since}); run 'baton rotate'"
        ));
    }
    let drill_due = v.drill_due();
    if let Some(due) = drill_due
        .as_deref()
        .filter(|d| *d <= baton::time::now().as_str())
    {
        warnings.push(format!(
            "an emergency drill is due (since {due}): have the holders prove their kits ('baton emergency drill')",
            due = &due[..10.min(due.len())]
        ));
    }
    // GDPR duties (docs/gdpr.md).
    let today = baton::time::today();
    let purge_due: Vec<String> = catalog
        .iter()
        .filter(|c| c.lifecycle.purge_due(ix.retention_months, &today))
        .map(|c| c.id.clone())
        .collect();
    if !purge_due.is_empty() {
        warnings.push(format!(
            "{} former client(s) due for deletion ({}): run 'baton purge'",
            purge_due.len(),
            esc(&purge_due.join(", "))
        ));
    }
    let without_dpa: Vec<String> = catalog
        .iter()
        .filter(|c| {
            c.lifecycle.ended.is_none()
                && c.lifecycle.dpa.status == baton::client::DpaStatus::Unknown
        })
        .map(|c| c.id.clone())
        .collect();
    if !without_dpa.is_empty() {
        warnings.push(format!(
            "{} client(s) without a DPA decision ({}): 'baton client set ID --dpa signed:DATE|none|not-needed'",
            without_dpa.len(),
            esc(&without_dpa.join(", "))
        ));
    }
    // A client whose content changed since its last export has an out-of-date package.
    let stale_exports = baton::gdpr::stale_exports(
        &v.audit_log().0,
        &catalog.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
    );
    if !stale_exports.is_empty() {
        warnings.push(format!(
            "{} client(s) changed since their last export ({}): their packages are out of date",
            stale_exports.len(),
            esc(&stale_exports.join(", "))
        ));
    }
    let orphans = v.orphans()?;
    if !orphans.is_empty() {
        warnings.push(format!(
            "{} file(s) the index does not name (left by an interrupted write or rotation, or another machine's change still syncing); they are kept, never read",
            orphans.len()
        ));
    }
    if as_json {
        print_json(&json!({
            "vault_id": h.vault_id, "path": v.path(), "created": h.created, "generation": h.generation,
            "revision": ix.revision, "updated": ix.updated,
            "clients": v.clients()?.len(), "entries": entries,
            "recipients": h.recipients,
            "kdf": { "algorithm": h.kdf.algorithm, "m_cost_kib": h.kdf.m_cost_kib, "t_cost": h.kdf.t_cost, "p_cost": h.kdf.p_cost, "profile": h.kdf.profile },
            "share_set": { "id": h.share_set.id, "policy": v.policy().describe(), "group_threshold": h.share_set.group_threshold, "groups": h.share_set.groups, "holders": ix.holders, "created": h.share_set.created, "retired": h.share_set.retired },
            "emergency_drill": { "last": ix.last_drill, "due": drill_due },
            "gdpr": { "retention_months": ix.retention_months, "purge_due": purge_due, "without_dpa": without_dpa, "stale_exports": stale_exports },
            "audit_records": ix.audit_head.seq,
            "rotation": { "last": h.last_rotation(), "interval_months": h.rotation.interval_months, "due": due, "overdue": overdue.is_some() },
            "warnings": warnings,
        }));
        return Ok(());
    }
    println!(
        "vault      {} ({})",
        h.vault_id,
        esc(&v.path().display().to_string())
    );
    println!(
        "created    {}   generation {}   revision {}   updated {}",
        h.created, h.generation, ix.revision, ix.updated
    );
    println!(
        "contents   {} clients, {} entries, {} audit records",
        v.clients()?.len(),
        entries,
        ix.audit_head.seq
    );
    println!(
        "shares     set {} of {}: {}",
        h.share_set.id,
        &h.share_set.created[..10.min(h.share_set.created.len())],
        esc(&v.policy().describe())
    );
    println!(
        "drill      last {}   next due {}",
        if ix.last_drill.is_empty() {
            "never"
        } else {
            &ix.last_drill
        },
        drill_due.as_deref().unwrap_or("-")
    );
    println!(
        "kdf        argon2id m={} MiB t={} p={}",
        h.kdf.m_cost_kib / 1024,
        h.kdf.t_cost,
        h.kdf.p_cost
    );
    println!(
        "recipients owner {}\n           emergency {}",
        h.recipients.owner, h.recipients.emergency
    );
    println!(
        "rotation   last {}   next due {}",
        h.last_rotation(),
        match (&due, h.rotation.interval_months) {
            (Some(d), m) => format!("{d} (every {m} months)"),
            (None, _) => "never (no schedule; 'baton settings --rotate-every 12')".into(),
        }
    );
    for w in warnings {
        println!("warning    {w}");
    }
    Ok(())
}

/// `status --check`: 0 fine, 10 rotation due, 11 integrity problem or interrupted
/// rotation. Without --verify it reads only public facts, so cron needs no passphrase.
fn cmd_status_check(ctx: &Ctx, verify: bool) -> Result<()> {
    let path = ctx.vault_path()?;
    let problem = |m: String| {
        Failure::new(m)
            .hint("run 'baton status' and 'baton verify' for details")
            .code(msg::EXIT_CHECK_PROBLEM)
    };
    let h = baton::vault::read_header(&path).map_err(|e| problem(e.to_string()))?;
    if let Some(g) = baton::rotate::pending(&path) {
        return Err(
            Failure::new(format!("a rotation to generation {g} was interrupted"))
                .hint(msg::HINT_ROTATION_PENDING)
                .code(msg::EXIT_CHECK_PROBLEM),
        );
    }
    if !path.join(h.index_file()).is_file() {
        return Err(problem(format!(
            "the index file {} is missing",
            h.index_file()
        )));
    }
    for d in [baton::store::CLIENTS_DIR, baton::audit::AUDIT_DIR] {
        if !std::fs::symlink_metadata(path.join(d)).is_ok_and(|m| m.is_dir()) {
            return Err(problem(format!("{d}/ in the vault is not a plain folder")));
        }
    }
    if verify {
        let v = ctx.open(Access::Read).map_err(|f| {
            if f.code == msg::EXIT_INTEGRITY {
                f.code(msg::EXIT_CHECK_PROBLEM)
            } else {
                f
            }
        })?;
        let problems = v.verify();
        if let Some(p) = problems.first() {
            return Err(problem(format!(
                "{} problem(s) found, first: {p}",
                problems.len()
            )));
        }
    }
    if let Some(due) = h.rotation_overdue(&baton::time::now()) {
        return Err(Failure::new(format!(
            "key rotation is due since {due} (last {})",
            h.last_rotation()
        ))
        .hint("run 'baton rotate'")
        .code(msg::EXIT_CHECK_ROTATION_DUE));
    }
    Ok(())
}

fn cmd_audit(ctx: &Ctx, verify: bool, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let (records, problems) = v.audit_log();
    if as_json {
        print_json(
            &json!({ "records": records, "problems": problems.iter().map(|p| p.to_string()).collect::<Vec<_>>() }),
        );
    } else if !verify {
        for r in &records {
            println!(
                "{:>6}  {}  {:<9} {:<18} {:<16} {}",
                r.seq,
                r.time,
                r.actor,
                r.action,
                esc(r.client.as_deref().unwrap_or("-")),
                esc(&r.detail)
            );
        }
    }
    if let Some(first) = problems.first() {
        for p in &problems {
            eprintln!("baton: problem: {p}");
        }
        return Err(msg::integrity(&baton::IntegrityError::Audit(first.clone())));
    }
    if verify && !as_json {
        println!(
            "audit log intact: {} records, chain and head verified",
            records.len()
        );
    }
    Ok(())
}

fn cmd_verify(ctx: &Ctx, as_json: bool) -> Result<()> {
    let v = ctx.open(Access::Read)?;
    let problems = v.verify();
    if as_json {
        print_json(&json!({
            "clients": v.clients().map_or(0, |c| c.len()),
            "audit_records": v.index().audit_head.seq,
            "problems": problems.iter().map(|p| json!({ "client": p.client(), "problem": p.to_string() })).collect::<Vec<_>>(),
        }));
    } else {
        for p in &problems {
            eprintln!("baton: problem: {p}");
        }
    }
    match problems.first() {
        Some(p) => Err(
            Failure::new(format!("{} problem(s) found, first: {p}", problems.len()))
                .hint(msg::HINT_VERIFY)
                .code(msg::EXIT_INTEGRITY),
        ),
        None => {
            if !as_json {
                println!(
                    "vault intact: index, {} client files and {} audit records verified",
                    v.clients()?.len(),
                    v.index().audit_head.seq
                );
            }
            Ok(())
        }
    }
}

fn cmd_man(out_dir: Option<PathBuf>) -> Result<()> {
    let cmd = Cli::command();
    match out_dir {
        None => clap_mangen::Man::new(cmd)
            .render(&mut std::io::stdout())
            .map_err(|e| Failure::new(format!("cannot write the man page: {e}"))),
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
            clap_mangen::generate_to(cmd, &dir)
                .map_err(|e| Failure::new(format!("cannot write man pages: {e}")))?;
            eprintln!("wrote man pages to {}", esc(&dir.display().to_string()));
            Ok(())
        }
    }
}

fn cmd_key(ctx: &Ctx, k: KeyCmd) -> Result<()> {
    let (text, output) = match k {
        KeyCmd::ExportOwner { output } => {
            let v = ctx.open(Access::Read)?;
            (v.identity_file(), output)
        }
        KeyCmd::FromShares { shares, output } => {
            let path = ctx.vault_path()?;
            let h = baton::vault::read_header(&path)?;
            let (secret, _) = handover::collect(
                &h,
                &cli::ShareInput {
                    share_files: shares,
                },
            )?;
            let v = ctx.open_emergency(&secret, Access::Read)?;
            (v.identity_file(), output)
        }
    };
    baton::store::fsio::write_new(&output, text.as_bytes()).map_err(|e| {
        Failure::new(format!(
            "cannot create {}: {e}",
            esc(&output.display().to_string())
        ))
        .hint("the output file must not exist yet")
    })?;
    eprintln!(
        "wrote identity to {} (mode 0600); delete it when done",
        esc(&output.display().to_string())
    );
    Ok(())
}

fn cmd_settings(
    ctx: &Ctx,
    [name, contact, copies, successor]: [Option<String>; 4],
    [retention, rotate_every]: [Option<u32>; 2],
    as_json: bool,
) -> Result<()> {
    let profile_changes =
        name.is_some() || contact.is_some() || copies.is_some() || successor.is_some();
    let changing = profile_changes || rotate_every.is_some() || retention.is_some();
    let mut v = ctx.open(if changing {
        Access::Write
    } else {
        Access::Read
    })?;
    if let Some(months) = rotate_every {
        v.set_rotation_interval(months)?;
    }
    if let Some(months) = retention {
        v.set_retention_months(months)?;
    }
    let retention_months = v.index().retention_months;
    if profile_changes {
        let mut p = v.index().owner.clone();
        if let Some(n) = name {
            p.name = n;
        }
        if let Some(c) = contact {
            p.contact = c;
        }
        if let Some(c) = copies {
            p.vault_copies = c;
        }
        if let Some(c) = successor {
            p.successor = c;
        }
        v.set_owner_profile(p)?;
        eprintln!(
            "baton: the emergency kits show these; print them again with 'baton emergency kits'"
        );
    }
    let p = &v.index().owner;
    let every = v.header().rotation.interval_months;
    if as_json {
        print_json(
            &json!({ "owner_name": p.name, "owner_contact": p.contact, "vault_copies": p.vault_copies, "successor": p.successor, "retention_months": retention_months, "rotate_every_months": every }),
        );
    } else {
        println!("owner name     {}", esc(&p.name));
        println!("owner contact  {}", esc(&p.contact));
        println!("vault copies   {}", esc(&p.vault_copies));
        println!("successor      {}", esc(&p.successor));
        println!("retention      {retention_months} months after a client's end");
        println!(
            "rotate every   {every} months{}",
            if every == 0 { " (no schedule)" } else { "" }
        );
    }
    Ok(())
}
