//! `baton`, the command line of the baton vault. All logic lives in the `baton` library;
//! this binary parses flags, asks for secrets, prints, and maps errors to exit codes.

mod cli;
mod cmd;
mod context;
mod input;
mod msg;
mod output;
mod process;
mod shares;

pub(crate) use context::{Ctx, Opened};
pub(crate) use output::print_json;

use std::path::PathBuf;

use clap::{CommandFactory, Parser};

use baton::Passphrase;
use baton::crypto::kdf::{KdfParams, KdfProfile};
use baton::vault::{Access, InitOptions, Vault};

use cli::{Cli, Command};
use msg::{Failure, Result, esc};

fn main() {
    process::harden_process();
    #[cfg(debug_assertions)]
    process::fault::install();
    let code = match parse().and_then(run) {
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
    process::fault::report();
    std::process::exit(code);
}

/// The command line, or a usage error in baton's form (exit 2). `--help` and
/// `--version` print as clap does and exit 0.
fn parse() -> Result<Cli> {
    use clap::error::ErrorKind;
    Cli::try_parse().map_err(|e| {
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            e.exit();
        }
        let (path, commands) = command_path();
        msg::usage(&e, &path, &commands)
    })
}

/// The (sub)command as typed ("baton emergency kits") and the names of its
/// subcommands, for usage errors. Flags are skipped, and with them the values of the
/// global flags.
fn command_path() -> (String, Vec<String>) {
    let mut cmd = Cli::command();
    let mut path = vec![cmd.get_name().to_string()];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if matches!(a.as_str(), "--vault" | "--passphrase-file" | "--identity") {
            args.next();
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(&a) {
            Some(sub) => {
                let sub = sub.clone();
                path.push(sub.get_name().to_string());
                cmd = sub;
            }
            None => break,
        }
    }
    let commands = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    (path.join(" "), commands)
}

fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        vault: cli.vault,
        passphrase_file: cli.passphrase_file,
        identity: cli.identity,
    };
    match cli.command {
        Command::Init(a) => cmd_init(&ctx, a),
        Command::Client(c) => cmd::client::cmd_client(&ctx, c),
        Command::Entry(c) => cmd::entry::cmd_entry(&ctx, c),
        Command::List(j) => cmd::list::cmd_list(&ctx, j.json),
        Command::Show { client, json } => cmd::show::cmd_show(&ctx, &client, json.json),
        Command::Get(a) => cmd::get::cmd_get(&ctx, a),
        Command::Search { term, json } => cmd::search::cmd_search(&ctx, &term, json.json),
        Command::Otp { target, json } => cmd::otp::cmd_otp(&ctx, &target, json.json),
        Command::Generate(a) => cmd::generate::cmd_generate(a),
        Command::Passwd(a) => cmd_passwd(&ctx, a),
        Command::Status(a) if a.check => cmd::status::cmd_status_check(&ctx, a.verify),
        Command::Status(a) => cmd::status::cmd_status(&ctx, a.json.json),
        Command::Rotate(a) => cmd::rotate::run(&ctx, a),
        Command::Audit { verify, json } => cmd::audit::cmd_audit(&ctx, verify, json.json),
        Command::Verify(j) => cmd::verify::cmd_verify(&ctx, j.json),
        Command::Key(k) => cmd::key::cmd_key(&ctx, k),
        Command::Emergency(c) => cmd::emergency::run(&ctx, c),
        Command::Recover(a) => cmd::emergency::recover(&ctx, a),
        Command::Takeover(a) => cmd::emergency::takeover(&ctx, a),
        Command::Export(a) => cmd::export::run(&ctx, a),
        Command::Purge(a) => cmd::gdpr::purge(&ctx, a),
        Command::Gdpr(c) => cmd::gdpr::run(&ctx, c),
        Command::Settings {
            owner_name,
            owner_contact,
            vault_copies,
            successor,
            retention_months,
            rotate_every,
            json,
        } => cmd::settings::cmd_settings(
            &ctx,
            [owner_name, owner_contact, vault_copies, successor],
            [retention_months, rotate_every],
            json.json,
        ),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "baton", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { out_dir } => cmd::man::cmd_man(out_dir),
    }
}

// ---------------------------------------------------------------- init

pub(crate) fn kdf_from_args(a: &cli::KdfArgs) -> Result<KdfParams> {
    if a.insecure_test_kdf {
        eprintln!(
            "baton: warning: --insecure-test-kdf offers no protection against passphrase guessing; for tests only"
        );
        return Ok(KdfParams::insecure_test());
    }
    let mut p = KdfParams::with(
        a.kdf_memory.saturating_mul(1024),
        a.kdf_time,
        a.kdf_lanes,
        KdfProfile::Standard,
    );
    p.validate().map_err(|e| {
        Failure::new(e.to_string()).hint("use at least --kdf-memory 64 --kdf-time 3 (RFC 9106)")
    })?;
    if let Some(target_ms) = a.calibrate {
        p = calibrate(p, target_ms)?;
    }
    Ok(p)
}

/// Doubles the memory cost while one derivation stays under the target time.
fn calibrate(mut p: KdfParams, target_ms: u64) -> Result<KdfParams> {
    let probe = Passphrase::new("calibration".into());
    loop {
        let start = std::time::Instant::now();
        p.derive(&probe).map_err(|e| Failure::new(e.to_string()))?;
        let ms = start.elapsed().as_millis() as u64;
        let next = p.m_cost_kib.saturating_mul(2);
        if ms * 2 > target_ms || next > baton::crypto::kdf::MAX_M_COST_KIB / 2 {
            eprintln!(
                "baton: argon2id calibrated to m={} MiB t={} p={} ({ms} ms here)",
                p.m_cost_kib / 1024,
                p.t_cost,
                p.p_cost
            );
            return Ok(p);
        }
        p.m_cost_kib = next;
    }
}

fn cmd_init(ctx: &Ctx, a: cli::InitArgs) -> Result<()> {
    let path = ctx.vault_path()?;
    let shares_dir = a.out_dir.clone();
    let policy = crate::cmd::emergency::policy_of(&a.policy)?.ok_or_else(msg::no_policy)?;
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
    println!("{}", crate::cmd::emergency::HAND_OUT);
    println!(
        "set your name and contact ('baton settings --owner-name ... --owner-contact ...') and print the kits again ('baton emergency kits'), so the holders know whose vault it is"
    );
    Ok(())
}

// ---------------------------------------------------------------- clients and entries

// ---------------------------------------------------------------- reading

fn cmd_passwd(ctx: &Ctx, a: cli::PasswdArgs) -> Result<()> {
    let mut v = ctx.open(Access::Write)?;
    let new = input::new_passphrase(a.new_passphrase_file.as_deref(), "--new-passphrase-file")?;
    let kdf = if a.kdf_memory.is_some() || a.kdf_time.is_some() || a.kdf_lanes.is_some() {
        let cur = &v.header().kdf;
        let p = KdfParams::with(
            a.kdf_memory
                .map(|m| m.saturating_mul(1024))
                .unwrap_or(cur.m_cost_kib),
            a.kdf_time.unwrap_or(cur.t_cost),
            a.kdf_lanes.unwrap_or(cur.p_cost),
            KdfProfile::Standard,
        );
        p.validate().map_err(|e| {
            Failure::new(e.to_string()).hint("use at least --kdf-memory 64 --kdf-time 3 (RFC 9106)")
        })?;
        Some(p)
    } else {
        None
    };
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
