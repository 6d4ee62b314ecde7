//! `baton rotate`: the command line of key rotation (docs/format.md#rotation).

use std::io::IsTerminal;
use std::path::PathBuf;

use baton::rotate::{Phase, Progress, RotateError, RotateOptions, RotateReport};
use baton::vault::Access;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{KitArgs, PolicyArgs, RotateArgs};
use crate::msg::{self, Failure, Result};
use crate::{Ctx, shares};

/// Before finishing an interrupted `rotate --emergency`: its share files were written
/// before the crash, and finishing makes them the only way in besides the owner's
/// passphrase. Someone who took them for void (the rotation failed, after all) and
/// destroyed them must abort instead.
fn confirm_resume(v: &baton::vault::Vault, yes: bool) -> Result<()> {
    let Some(p) = v.pending_rotation().map_err(failure)? else {
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
    eprintln!(
        "its share files were written before the crash, to the --shares-out folder of that run"
    );
    if yes || crate::input::confirm("are all of those share files still there?") {
        return Ok(());
    }
    let again = if v.is_owner() {
        "baton rotate --emergency"
    } else {
        "baton takeover"
    };
    Err(Failure::new("not confirmed; nothing was changed").hint(format!(
        "if the share files of set {} are lost or were destroyed, run 'baton rotate --abort' and then '{again}' again; pass --yes to finish without asking",
        set.id
    )))
}

/// `baton emergency reissue`: `rotate --emergency` under another name.
pub fn rotate_emergency(
    ctx: &Ctx,
    policy: PolicyArgs,
    out_dir: PathBuf,
    kits: KitArgs,
) -> Result<()> {
    run(
        ctx,
        RotateArgs {
            emergency: true,
            policy,
            shares_out: Some(out_dir),
            kits,
            kdf: false,
            kdf_memory: None,
            kdf_time: None,
            kdf_lanes: None,
            resume: false,
            abort: false,
            yes: false,
        },
    )
}

pub fn run(ctx: &Ctx, a: RotateArgs) -> Result<()> {
    let path = ctx.vault_path()?;
    let new_policy = crate::cmd::emergency::policy_of(&a.policy)?;
    if new_policy.is_some() && !a.emergency {
        return Err(Failure::new("--holders, -t and --policy need --emergency")
            .hint("a new set of holders means a new emergency key: 'baton rotate --emergency' or 'baton emergency reissue'"));
    }
    let kit_opts = shares::KitOptions::from_args(&a.kits)?;
    if a.emergency
        && let Some(dir) = &a.shares_out
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
        return Err(Failure::new(
            "with the emergency key, the vault is re-keyed by a takeover",
        )
        .hint("'baton takeover --holders ... -t N --shares-out DIR' sets a new owner passphrase and new holders"));
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
        let r = v.abort_rotation().map_err(failure)?;
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
        confirm_resume(&v, a.yes)?;
        let r = v
            .resume_rotation(Some(&passphrase), &progress)
            .map_err(failure)?;
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
    let out_dir = a.shares_out.clone();
    let policy = new_policy.unwrap_or_else(|| v.policy());
    if a.emergency {
        kit_opts.check_names(&policy.holder_names())?;
        opts.emergency = Some(policy.clone());
    }
    let owner = v.index().owner.clone();
    let from = v.header().generation;
    // Only a rotation with --emergency hands out kits, and clap requires --shares-out
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
            let mut f = failure(e);
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

pub fn failure(e: RotateError) -> Failure {
    match e {
        RotateError::Pending(g) => Failure::new(format!(
            "a rotation to generation {g} was interrupted"
        ))
        .hint(msg::HINT_ROTATION_PENDING),
        RotateError::NothingPending => Failure::new(e.to_string())
            .hint("'baton rotate' starts a new rotation"),
        RotateError::AlreadySwitched(_) => Failure::new(e.to_string())
            .hint("run 'baton rotate --resume' to remove the old generation's files"),
        RotateError::WrongPassphrase => Failure::new("wrong passphrase")
            .hint("passphrases are case-sensitive; nothing was changed")
            .code(msg::EXIT_AUTH),
        RotateError::StateForged(_) | RotateError::StateMismatch(_) => {
            Failure::new(e.to_string())
                .hint("if you did not start this rotation, move the file out of the vault and run 'baton verify'")
                .code(msg::EXIT_INTEGRITY)
        }
        RotateError::Integrity(i) => msg::integrity(&i),
        RotateError::VerifyFailed(_) => Failure::new(format!("rotation stopped: {e}"))
            .hint("the disk returned different data than was written; the vault was left at its old keys; check the disk and run 'baton verify'")
            .code(msg::EXIT_INTEGRITY),
        RotateError::Io { .. } => Failure::new(format!("rotation stopped: {e}"))
            .hint("nothing was lost: the vault keeps its old keys; free space or fix the folder and run 'baton rotate' again"),
        RotateError::Setup(i) => Failure::from(i),
        other => Failure::new(other.to_string()),
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
