//! `baton rotate`: the command line of key rotation (docs/format.md#rotation).

use std::io::IsTerminal;
use std::path::PathBuf;

use baton::rotate::{Phase, Progress, RotateOptions, RotateReport};
use baton::vault::Access;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{NewSharesArgs, RotateArgs, YesArg};
use crate::msg::{self, Result};
use crate::{Ctx, shares};

/// Before finishing an interrupted `rotate --emergency`: its share files were written
/// before the crash, and finishing makes them the only way in besides the owner's
/// passphrase. Someone who took them for void (the rotation failed, after all) and
/// destroyed them must abort instead.
fn confirm_resume(v: &baton::vault::Vault, yes: bool) -> Result<()> {
    let Some(p) = v.pending_rotation().map_err(msg::rotate)? else {
        return Ok(());
    };
    let Some(set) = p.share_set.filter(|_| !p.switched) else {
        return Ok(());
    };
    eprintln!(
        "the interrupted rotation (started {}) makes share set {} the vault's emergency key: {} ({})",
        p.started,
        set.id,
        set.summary(),
        msg::esc(
            &p.holders
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
    eprintln!("its share files were written before the crash, to the --out-dir folder of that run");
    if yes || crate::input::confirm("are all of those share files still there?") {
        return Ok(());
    }
    let again = if v.is_owner() {
        "baton rotate --emergency"
    } else {
        "baton takeover"
    };
    Err(msg::resume_not_confirmed(&set.id, again))
}

/// `baton emergency reissue`: `rotate --emergency` under another name, with the same
/// flags (cli::NewSharesArgs).
pub fn rotate_emergency(ctx: &Ctx, shares: NewSharesArgs) -> Result<()> {
    run(
        ctx,
        RotateArgs {
            emergency: true,
            shares,
            kdf: false,
            kdf_memory: None,
            kdf_time: None,
            kdf_lanes: None,
            resume: false,
            abort: false,
            yes: YesArg { yes: false },
        },
    )
}

/// The first flag of the new share set given without `--emergency`, if any.
fn without_emergency(a: &RotateArgs) -> Option<&'static str> {
    let s = &a.shares;
    let given = [
        (s.policy.holders.is_some(), "--holders"),
        (s.policy.threshold.is_some(), "-t/--threshold"),
        (s.policy.policy.is_some(), "--policy"),
        (s.out_dir.is_some(), "--out-dir"),
        (!s.kits.holder_keys.is_empty(), "--holder"),
        (s.kits.pdf, "--pdf"),
    ];
    (!a.emergency)
        .then(|| given.iter().find(|(g, _)| *g).map(|(_, f)| *f))
        .flatten()
}

pub fn run(ctx: &Ctx, a: RotateArgs) -> Result<()> {
    let path = ctx.vault_path()?;
    if let Some(flag) = without_emergency(&a) {
        return Err(msg::needs_emergency(flag));
    }
    let new_policy = crate::args::policy(&a.shares.policy)?;
    let kit_opts = shares::KitOptions::from_args(&a.shares.kits)?;
    if a.emergency
        && let Some(dir) = &a.shares.out_dir
    {
        // Checked before the passphrase is asked and before any key exists.
        let holders = new_policy
            .as_ref()
            .map(|p| p.holder_names())
            .unwrap_or_default();
        shares::check_out_dir(&path, dir, &holders)?;
    }
    let (mut v, passphrase) = ctx.open_keep_passphrase(Access::Write)?;
    if !v.is_owner() && !a.resume && !a.abort {
        return Err(msg::rotate_with_emergency_key());
    }
    // Opened with the emergency key: an interrupted takeover is finished with the new
    // owner passphrase it chose (its new owner key is wrapped under it).
    let passphrase = if a.resume && !v.is_owner() {
        eprintln!("baton: finishing a takeover needs the new owner passphrase chosen for it");
        ctx.passphrase()?
    } else {
        passphrase
    };
    let bar = Bar::new();
    let progress = |p: Progress| bar.update(p);

    if a.abort {
        // Another device's rotation is undone only when the owner says that device is
        // gone for good (docs/format.md#sibling-rotations).
        let r = match v.abort_rotation() {
            Err(baton::rotate::RotateError::OtherDevice { .. }) if a.yes.yes => {
                v.abort_another_devices_rotation()
            }
            r => r,
        }
        .map_err(msg::rotate)?;
        println!(
            "rotation to generation {} undone: {} new file(s) removed; the vault is unchanged at generation {}",
            r.generation,
            r.removed_files,
            v.header().generation
        );
        if let Some(set) = r.void_share_set {
            println!(
                "the shares of set {set} written for that rotation are void: destroy them and run 'baton rotate --emergency' again"
            );
        }
        return Ok(());
    }
    if a.resume {
        confirm_resume(&v, a.yes.yes)?;
        let r = v
            .resume_rotation(Some(&passphrase), &progress)
            .map_err(msg::rotate)?;
        bar.finish();
        print_report(&r);
        return Ok(());
    }

    let mut opts = RotateOptions::default();
    if a.kdf {
        let k = a
            .kdf_request()
            .raised(&v.header().kdf)
            .map_err(|e| msg::kdf_refused(&e, true))?;
        opts.kdf = Some(k);
    }
    let mut delivered: Vec<(String, PathBuf)> = Vec::new();
    let out_dir = a.shares.out_dir.clone();
    let policy = new_policy.unwrap_or_else(|| v.policy());
    if a.emergency {
        kit_opts.check_names(&policy.holder_names())?;
        opts.emergency = Some(policy.clone());
    }
    let owner = v.index().owner.clone();
    let from = v.header().generation;
    // Only a rotation with --emergency hands out kits, and clap requires --out-dir
    // with it.
    let out_dir = out_dir.unwrap_or_default();
    let result = v.rotate(
        opts,
        Some(&passphrase),
        shares::deliverer(&out_dir, &owner, &policy, &kit_opts, &mut delivered),
        &progress,
    );
    bar.finish();
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            let mut f = msg::rotate(e);
            // Say what is true on disk now, not what was intended (docs/format.md#rotation).
            let unchanged = baton::rotate::pending(&path).is_none()
                && baton::vault::read_header(&path).is_ok_and(|h| h.generation == from);
            if !unchanged {
                f = f.hint(
                    "the rotation is not finished and its new keys may already be in use: run 'baton rotate --resume'",
                );
                if !delivered.is_empty() {
                    eprintln!(
                        "baton: keep the new share files: they belong to the unfinished rotation"
                    );
                }
            } else if !delivered.is_empty() {
                eprintln!(
                    "baton: the share files written for this rotation are void; destroy them"
                );
            }
            return Err(f);
        }
    };
    print_report(&r);
    if r.emergency_rotated {
        println!(
            "new emergency kits (share set {}: {}):",
            r.share_set.id,
            msg::esc(&policy.describe())
        );
        shares::print_written(&delivered);
        println!(
            "hand each holder the new kit, have them destroy the old one, then delete the folder"
        );
    }
    Ok(())
}

pub fn print_report(r: &RotateReport) {
    println!(
        "rotated to generation {}: new {}",
        r.to_generation,
        r.changes.join(", ")
    );
    println!(
        "re-encrypted {} client file(s) and {} audit record(s); removed {} file(s) of generation {}",
        r.clients, r.audit_records, r.removed_files, r.from_generation
    );
    println!("{}", msg::ROTATION_LIMITS);
    if r.emergency_rotated {
        println!("{}", msg::ROTATION_LIMITS_SHARES);
    } else {
        println!("{}", msg::ROTATION_KEPT_EMERGENCY);
    }
}

/// A progress bar with ETA on a terminal, nothing otherwise.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} files, eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Bar(Some(pb))
    }

    pub fn update(&self, p: Progress) {
        let Some(pb) = &self.0 else { return };
        if pb.length() != Some(p.total as u64) {
            pb.set_length(p.total as u64);
        }
        let msg = match p.phase {
            Phase::Encrypt => "re-encrypt",
            Phase::Verify => "verify",
        };
        if p.done <= 1 || p.done == p.total {
            pb.set_message(msg);
        }
        pb.set_position(p.done as u64);
    }

    pub fn finish(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}
