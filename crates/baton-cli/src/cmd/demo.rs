//! `baton demo`: the whole flow on a throwaway vault with sample clients, through the
//! library, so it needs no terminal and no passphrase typing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use baton::crypto::kdf::KdfParams;
use baton::emergency::{Collector, Policy};
use baton::export::BatchOutcome;
use baton::slip39::{self, Mnemonic};
use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{Access, InitOptions, Vault};
use baton::{Passphrase, SecretText};

use crate::cli::DemoArgs;
use crate::msg::{self, Failure, Result};

fn step(title: &str) {
    println!("\n== {title}");
}

fn fail<E: std::fmt::Display>(e: E) -> Failure {
    msg::demo_failed(&e)
}

pub fn run(a: DemoArgs) -> Result<()> {
    let tmp;
    let root: PathBuf = match &a.keep {
        Some(d) => {
            if d.exists() {
                return Err(msg::demo_keep_exists(d));
            }
            baton::fs::create_private_dir(d).map_err(fail)?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("baton-demo-")
                .tempdir()
                .map_err(fail)?;
            tmp.path().to_path_buf()
        }
    };
    let vault_dir = root.join("vault");
    let shares_dir = root.join("shares");

    step("init: owner passphrase, Argon2id, emergency key split 2 of 3 (SLIP-39)");
    let (passphrase, _) = baton::generate::passphrase(7);
    let pass_file = root.join("demo-passphrase.txt");
    baton::fs::write_new(
        &pass_file,
        zeroize::Zeroizing::new(format!("{}\n", passphrase.expose())).as_bytes(),
    )
    .map_err(fail)?;
    let passphrase = Passphrase::new(passphrase.expose().to_string());
    let started = Instant::now();
    baton::fs::create_private_dir(&shares_dir).map_err(fail)?;
    let policy = Policy::single(vec!["anna".into(), "ben".into(), "carla".into()], 2);
    let mut vault = Vault::init_on(
        &vault_dir,
        &passphrase,
        InitOptions {
            policy: policy.clone(),
            kdf: KdfParams::standard(),
        },
        crate::context::machine_secret().as_deref(),
        |header, shares| {
            let owner = baton::OwnerProfile {
                name: "Demo Admin".into(),
                contact: "admin@example.org".into(),
                vault_copies: "this demo folder".into(),
                successor: "Erika Beispiel, +49 30 1234567".into(),
            };
            let ctx = baton::render::kit::KitContext {
                header,
                owner: &owner,
                policy: &policy,
            };
            for s in shares {
                let p = shares_dir.join(format!("{}.txt", s.holder.name));
                let line = zeroize::Zeroizing::new(format!("{}\n", s.mnemonic.expose_words()));
                baton::fs::write_new(&p, line.as_bytes()).map_err(|e| e.to_string())?;
                let kit = shares_dir.join(format!("{}.kit.html", s.holder.name));
                baton::fs::write_new(&kit, baton::render::kit::html(&ctx, s).as_bytes())
                    .map_err(|e| e.to_string())?;
                println!(
                    "share {} of 3 for {:<6} -> {} and the printable {} ({} words, check code {})",
                    s.holder.member + 1,
                    s.holder.name,
                    p.display(),
                    kit.display(),
                    s.mnemonic.word_count(),
                    baton::emergency::format_check(&s.check)
                );
            }
            Ok(())
        },
    )
    .map_err(fail)?;
    let h = vault.header().clone();
    println!(
        "vault {} created in {} ms (argon2id m={} MiB t={} p={})",
        h.vault_id,
        started.elapsed().as_millis(),
        h.kdf.m_cost_kib / 1024,
        h.kdf.t_cost,
        h.kdf.p_cost
    );
    println!(
        "share set {}: any 2 holders rebuild the emergency key; besides the shares it exists only wrapped under the owner passphrase (so kits can be printed again)",
        h.share_set.id
    );

    step("clients and entries (generated passwords, a TOTP seed, an SSH key attachment)");
    let acme_key = baton::demo::populate(&mut vault).map_err(fail)?;
    vault
        .add_client(NewClient {
            id: "kanzlei-stein".into(),
            name: "Kanzlei Stein".into(),
            contact: "office@kanzlei-stein.example".into(),
            ..Default::default()
        })
        .map_err(fail)?;
    vault
        .add_entry(
            "kanzlei-stein",
            "nextcloud",
            EntryFields {
                kind: Some(baton::EntryKind::Cms),
                url: Some("https://cloud.kanzlei-stein.example".into()),
                user: Some("admin".into()),
                password: Some(baton::generate::password(24, true).0),
                ..Default::default()
            },
        )
        .map_err(fail)?;
    let catalog = vault.catalog().map_err(fail)?;
    for c in &catalog {
        println!("{:<16} {:<24} {} entries", c.id, c.name, c.entries.len());
    }

    step("show acme (no secret values)");
    for e in &vault.client("acme").map_err(fail)?.summary().entries {
        println!(
            "  {:<10} {:<7} {:<32} {:<6} password:{} totp:{} files:{:?}",
            e.name,
            e.kind.as_str(),
            e.url,
            e.user,
            e.has_password,
            e.has_totp,
            e.attachments
        );
    }

    step("search 203.0.113.7 (decrypts the catalog, no client file)");
    for c in &catalog {
        for m in c.matches("203.0.113.7").into_iter().flatten() {
            println!("  {}/{} {}", c.id, m.name, m.url);
        }
    }

    step("get and otp");
    let acme = vault.client("acme").map_err(fail)?;
    let reg = acme.entry("registrar").expect("demo entry");
    println!(
        "acme/registrar user={} password=<{} characters; 'baton get' prints it on request>",
        reg.user,
        reg.password.as_ref().map(|p| p.expose().len()).unwrap_or(0)
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (code, ttl) =
        baton::otp::code_at(reg.totp.as_ref().map(SecretText::expose).unwrap_or(""), now)
            .map_err(fail)?;
    println!("acme/registrar TOTP code {code} (valid {ttl} s)");
    let key = &acme.entry("ssh-root").expect("demo entry").attachments[0];
    println!(
        "acme/ssh-root attachment {} ({} bytes)",
        key.name,
        key.data.expose().len()
    );

    step("hand-over: export --all (one age package per client with a stored key)");
    let handover = root.join("handover");
    baton::fs::create_private_dir(&handover).map_err(fail)?;
    let outcomes = vault
        .export_all(false, None, &handover, false)
        .map_err(fail)?;
    let mut acme_package = None;
    for (id, outcome) in outcomes {
        match outcome {
            BatchOutcome::Exported { summary: s, file } => {
                println!(
                    "  exported {id:<16} {} entries -> handover/{} (for {})",
                    s.entries,
                    file.file_name().unwrap_or_default().to_string_lossy(),
                    s.fingerprints.join(", ")
                );
                if id == "acme" {
                    acme_package = Some(file);
                }
            }
            BatchOutcome::Skipped(why) => println!("  skipped  {id:<16} {why}"),
            BatchOutcome::Failed(why) => return Err(fail(why)),
        }
    }
    let package =
        std::fs::read(acme_package.ok_or_else(|| fail("acme was not exported"))?).map_err(fail)?;
    let tar = age::decrypt(&acme_key, &package).map_err(fail)?;
    let mut archive = tar::Archive::new(tar.as_slice());
    let names: Vec<String> = archive
        .entries()
        .map_err(fail)?
        .filter_map(|e| {
            e.ok()
                .and_then(|e| e.path().ok().map(|p| p.display().to_string()))
        })
        .collect();
    println!(
        "  acme opens its package with its own key: {}",
        names.join(", ")
    );

    step("edit, remove, audit log");
    vault
        .edit_entry(
            "acme",
            "wp-admin",
            EntryFields {
                password: Some(baton::generate::password(24, true).0),
                ..Default::default()
            },
            None,
        )
        .map_err(fail)?;
    vault.remove_client("kanzlei-stein").map_err(fail)?;
    let (records, problems) = vault.audit_log();
    for r in records.iter().rev().take(4).rev() {
        println!(
            "  #{:<3} {} {:<14} {:<8} {}",
            r.seq,
            r.actor,
            r.action,
            r.client.as_deref().unwrap_or("-"),
            r.detail
        );
    }
    println!(
        "audit log: {} records, {} problems",
        records.len(),
        problems.len()
    );

    step("GDPR: a former client, the yearly purge (dry run), an access report");
    vault
        .end_client(
            "verein-nord",
            "2024-06-30",
            "moved the site to another provider",
        )
        .map_err(fail)?;
    vault
        .set_client_gdpr(
            "acme",
            baton::vault::changes::GdprEdit {
                dpa: Some(baton::client::Dpa {
                    status: baton::client::DpaStatus::Signed,
                    date: "2024-03-01".into(),
                    reference: "AVV-2024-07".into(),
                }),
                ..Default::default()
            },
        )
        .map_err(fail)?;
    let today = &baton::time::today();
    for c in vault.purge_candidates(today).map_err(fail)? {
        println!(
            "purge lists {} ({}): ended {}, kept until {}{}",
            c.id,
            c.name,
            c.ended,
            c.retention_date,
            if c.due {
                "; due for deletion ('baton purge --yes')"
            } else {
                ""
            }
        );
    }
    let report = vault.access_report("acme").map_err(fail)?;
    println!(
        "access report for acme (GDPR Art. 15): {} entries in {} categories, {} logged events, DPA {}, readable by the owner and {}; no secret values",
        report.entries,
        report.categories.len(),
        report.events.len(),
        report.lifecycle.lifecycle.dpa.status.as_str(),
        report.access.emergency_policy
    );
    drop(vault);

    step("unlock again with the passphrase and verify every file");
    let started = Instant::now();
    let vault = Vault::open(&vault_dir, &passphrase, Access::Read).map_err(fail)?;
    println!(
        "unlocked in {} ms; verify: {} problems",
        started.elapsed().as_millis(),
        vault.verify().len()
    );
    drop(vault);

    step("rotate: every file re-encrypted to a new owner key, one atomic switch");
    let mut vault = Vault::open(&vault_dir, &passphrase, Access::Write).map_err(fail)?;
    let started = Instant::now();
    let r = vault
        .rotate(Default::default(), None, |_, _| Ok(()), &|_| {})
        .map_err(|e| fail(e.to_string()))?;
    println!(
        "generation {} -> {} in {} ms: new {}; {} client files and {} audit records re-encrypted, {} old files removed",
        r.from_generation,
        r.to_generation,
        started.elapsed().as_millis(),
        r.changes.join(", "),
        r.clients,
        r.audit_records,
        r.removed_files
    );
    let (records, _) = vault.audit_log();
    if let Some(last) = records.last() {
        println!(
            "  #{:<3} {} {} {}",
            last.seq, last.actor, last.action, last.detail
        );
    }
    println!(
        "the shares still work (the emergency key was kept); old copies of the vault still open with the old owner key: see 'baton rotate' for the checklist"
    );
    drop(vault);

    step("emergency: anna and carla type their shares, a colleague reads everything");
    let h = baton::vault::read_header(&vault_dir).map_err(fail)?;
    let share_text = |holder: &str| {
        std::fs::read_to_string(shares_dir.join(format!("{holder}.txt")))
            .map(zeroize::Zeroizing::new)
            .map_err(fail)
    };
    let mut c = Collector::new(&h.vault_id, &h.share_set, &h.recipients.emergency);
    c.add(&share_text("anna")?).map_err(fail)?;
    println!("anna's share: accepted");
    match c.add(&share_text("anna")?) {
        Err(e) => println!("anna's share again: refused ({e})"),
        Ok(_) => return Err(fail("a duplicate share was accepted")),
    }
    let mut typo: Vec<String> = share_text("carla")?
        .split_whitespace()
        .map(String::from)
        .collect();
    typo[6] = if typo[6] == "academic" {
        "acid"
    } else {
        "academic"
    }
    .into();
    match c.add(&typo.join(" ")) {
        Err(e) => println!(
            "carla's share with word 7 mistyped: refused ({e}; the checksum points to word {})",
            slip39::locate_mistyped_word(&typo.join(" ")).unwrap_or(0)
        ),
        Ok(_) => return Err(fail("a mistyped share was accepted")),
    }
    c.add(&share_text("carla")?).map_err(fail)?;
    let secret = c.combine().map_err(fail)?;
    println!(
        "carla's share: accepted; the rebuilt key is proven against the vault's emergency recipient {}",
        h.recipients.emergency
    );
    let ev = Vault::open_emergency(&vault_dir, &secret, Access::Read).map_err(fail)?;
    let total: usize = ev
        .catalog()
        .map_err(fail)?
        .iter()
        .map(|c| c.entries.len())
        .sum();
    println!(
        "colleague sees {} clients, {} entries; integrity problems: {}",
        ev.clients().map_err(fail)?.len(),
        total,
        ev.verify().len()
    );
    let one = [Mnemonic::parse(&share_text("ben")?).map_err(fail)?];
    println!(
        "one share alone: {}",
        match slip39::combine(&one, b"") {
            Ok(_) => "rebuilt a key (unexpected!)".to_string(),
            Err(e) => format!("refused ({e})"),
        }
    );
    drop(ev);

    step("tamper evidence: swap two client files in a copy of the vault");
    let copy = root.join("tampered");
    copy_dir(&vault_dir, &copy).map_err(fail)?;
    let files: Vec<PathBuf> = {
        let v = Vault::open_emergency(&copy, &secret, Access::Read).map_err(fail)?;
        v.clients()
            .map_err(fail)?
            .iter()
            .take(2)
            .map(|c| copy.join("clients").join(&c.file))
            .collect()
    };
    let tmp_swap = copy.join("swap.tmp");
    std::fs::rename(&files[0], &tmp_swap).map_err(fail)?;
    std::fs::rename(&files[1], &files[0]).map_err(fail)?;
    std::fs::rename(&tmp_swap, &files[1]).map_err(fail)?;
    let v = Vault::open(&copy, &passphrase, Access::Read).map_err(fail)?;
    for p in v.verify() {
        println!("  detected: {p}");
    }

    println!();
    match &a.keep {
        Some(_) => {
            println!("demo vault kept at {}", vault_dir.display());
            println!(
                "try: BATON_VAULT={} BATON_PASSPHRASE_FILE={} baton list",
                vault_dir.display(),
                pass_file.display()
            );
        }
        None => {
            println!("demo finished; the throwaway vault is deleted (keep one with --keep DIR)")
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    baton::fs::create_private_dir(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}
