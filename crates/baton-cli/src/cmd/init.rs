//! `baton init`: a new vault, its Argon2id parameters (the library's policy) and the
//! holders' kits.

use baton::vault::{InitOptions, Vault};

use std::path::PathBuf;

use crate::cli;
use crate::context::Ctx;
use crate::msg::{self, Failure, Result, esc};
use crate::{input, shares};

pub(crate) fn cmd_init(ctx: &Ctx, a: cli::InitArgs) -> Result<()> {
    let path = ctx.vault_path()?;
    let shares_dir = a.out_dir.clone();
    let policy = crate::args::policy(&a.policy)?.ok_or_else(msg::no_policy)?;
    let kit_opts = shares::prepare(&path, &shares_dir, &policy.holder_names(), &a.kits)?;
    let kdf = crate::args::kdf_params(&a.kdf)?;
    let passphrase = input::new_passphrase(ctx.passphrase_file().as_deref(), "--passphrase-file")?;
    let owner = baton::OwnerProfile::default();
    let mut delivered: Vec<(String, PathBuf)> = Vec::new();
    let vault = Vault::init_on(
        &path,
        &passphrase,
        InitOptions {
            policy: policy.clone(),
            kdf,
        },
        crate::context::machine_secret().as_deref(),
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
    println!("{}", msg::HAND_OUT);
    println!(
        "set your name and contact ('baton settings --owner-name ... --owner-contact ...') and print the kits again ('baton emergency kits'), so the holders know whose vault it is"
    );
    Ok(())
}
