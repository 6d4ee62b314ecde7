//! `baton`, the command line of the baton vault. All logic lives in the `baton` library;
//! this binary parses flags, asks for secrets, prints, and maps errors to exit codes.

mod args;
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

use clap::CommandFactory;

use cli::{Cli, Command};
use msg::{Result, esc};

fn main() {
    process::harden_process();
    #[cfg(debug_assertions)]
    process::fault::install();
    let code = match cli::parse().and_then(run) {
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

fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        vault: cli.vault,
        passphrase_file: cli.passphrase_file,
        identity: cli.identity,
    };
    match cli.command {
        Command::Init(a) => cmd::init::cmd_init(&ctx, a),
        Command::Client(c) => cmd::client::cmd_client(&ctx, c),
        Command::Entry(c) => cmd::entry::cmd_entry(&ctx, c),
        Command::List(j) => cmd::list::cmd_list(&ctx, j.json),
        Command::Show { client, json } => cmd::show::cmd_show(&ctx, &client, json.json),
        Command::Get(a) => cmd::get::cmd_get(&ctx, a),
        Command::Search { term, json } => cmd::search::cmd_search(&ctx, &term, json.json),
        Command::Otp { target, json } => cmd::otp::cmd_otp(&ctx, &target, json.json),
        Command::Generate(a) => cmd::generate::cmd_generate(a),
        Command::Passwd(a) => cmd::passwd::cmd_passwd(&ctx, a),
        Command::Status(a) if a.check => cmd::status::cmd_status_check(&ctx, a.verify),
        Command::Status(a) => cmd::status::cmd_status(&ctx, a.json.json),
        Command::Conflicts(a) => cmd::conflicts::cmd_conflicts(&ctx, a),
        Command::Resolve(a) => cmd::resolve::cmd_resolve(&ctx, a),
        Command::Writers(a) => cmd::writers::run(&ctx, a),
        Command::Rotate(a) => cmd::rotate::run(&ctx, a),
        Command::Audit { verify, json } => cmd::audit::cmd_audit(&ctx, verify, json.json),
        Command::Verify(j) => cmd::verify::cmd_verify(&ctx, j.json),
        Command::Sync(a) => cmd::sync::cmd_sync(&ctx, a),
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
