//! `baton rotate`: round trips, emergency and KDF rotation, crash safety (a SIGKILL
//! smoke test; the library crashes every step in-process), tampering, and a full disk.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use baton::vault::{Access, Vault};
use baton::{Passphrase, SecretText};
use common::{Env, PASS, client_file, copy_tree};

/// Every client's complete plaintext (all secret values included), by client id, and
/// the whole catalog under the key "" (no client id is empty).
fn contents(vault: &Path) -> BTreeMap<String, String> {
    let v = Vault::open(vault, &Passphrase::new(PASS.into()), Access::Read)
        .unwrap_or_else(|e| panic!("vault at {} does not open: {e}", vault.display()));
    let mut out: BTreeMap<String, String> = v
        .clients()
        .unwrap()
        .iter()
        .map(|c| {
            let file = v.client(&c.id).unwrap();
            (c.id.clone(), serde_json::to_string(&file).unwrap())
        })
        .collect();
    let catalog = v.catalog().unwrap();
    out.insert(String::new(), serde_json::to_string(&catalog).unwrap());
    out
}

/// Opens the vault, checks every file, and that nothing of a rotation is left over.
fn assert_clean(vault: &Path) -> u64 {
    let v = Vault::open(vault, &Passphrase::new(PASS.into()), Access::Read).unwrap();
    assert_eq!(v.verify(), vec![], "verify at {}", vault.display());
    assert_eq!(baton::rotate::pending(vault), None);
    assert_eq!(
        v.orphans().unwrap(),
        Vec::<PathBuf>::new(),
        "leftover files"
    );
    let clients = fs::read_dir(vault.join("clients")).unwrap().count();
    // Files a head keeps until every writer has seen their replacement
    // (docs/format.md#mw-commit; here the library's writer and the command's).
    let named = v.clients().unwrap().len() + v.index().shard_files().count() + v.kept_files().len();
    assert_eq!(clients, named, "stray client files");
    let g = v.header().generation;
    for e in fs::read_dir(vault).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if name.starts_with("index.g") {
            assert_eq!(name, format!("index.g{g}.age"), "old index left");
        }
        assert!(!name.ends_with(".tmp"), "temporary file {name} left");
    }
    g
}

/// A vault with the demo's three clients (TOTP, attachment, package recipients) and
/// `extra` more clients with two entries each.
fn populated(extra: usize) -> Env {
    let e = Env::init();
    let mut v = Vault::open(&e.vault, &Passphrase::new(PASS.into()), Access::Write).unwrap();
    baton::demo::populate(&mut v).unwrap();
    for i in 0..extra {
        let id = format!("client-{i:02}");
        v.add_client(baton::vault::changes::NewClient {
            id: id.clone(),
            name: format!("Client {i} GmbH"),
            ..Default::default()
        })
        .unwrap();
        for (name, pw) in [("ssh", format!("pw-ssh-{i}")), ("db", format!("pw-db-{i}"))] {
            v.add_entry(
                &id,
                name,
                baton::vault::changes::EntryFields {
                    user: Some("admin".into()),
                    password: Some(SecretText::new(pw)),
                    ..Default::default()
                },
            )
            .unwrap();
        }
    }
    e
}

use common::stderr;

#[test]
fn rotate_reencrypts_everything_and_keeps_every_value() {
    let e = populated(2);
    let before = contents(&e.vault);
    let old_id = e.dir.path().join("old-owner.txt");
    e.cmd(&["key", "export-owner", "-o"])
        .arg(&old_id)
        .assert()
        .success();
    let old_files: Vec<Vec<u8>> = fs::read_dir(e.vault.join("clients"))
        .unwrap()
        .map(|f| fs::read(f.unwrap().path()).unwrap())
        .collect();

    let out = e.stdout(&["rotate"]);
    assert!(
        out.contains("rotated to generation 2: new owner key"),
        "{out}"
    );
    assert!(out.contains("what rotation cannot revoke"), "{out}");
    assert!(out.contains("the emergency key was kept"), "{out}");
    assert!(out.contains("git history"), "{out}");

    assert_eq!(contents(&e.vault), before, "every value survives");
    assert_eq!(assert_clean(&e.vault), 2);
    // Nothing of generation 1 is left: no file has the old bytes, and the old owner
    // identity opens none of the new files.
    let old_identity = fs::read_to_string(&old_id).unwrap();
    let old_identity: age::x25519::Identity = old_identity
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap();
    let mut files: Vec<PathBuf> = fs::read_dir(e.vault.join("clients"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    files.push(common::head_file(&e.vault));
    files.push(archive_of(&e.vault, 2).expect("the rotation's archive"));
    for f in &files {
        let bytes = fs::read(f).unwrap();
        assert!(!old_files.contains(&bytes));
        assert!(
            baton::crypto::seal::decrypt(&old_identity, &bytes).is_err(),
            "the old owner key opens {}",
            f.display()
        );
    }
    assert_eq!(
        fs::read_dir(e.vault.join("audit")).unwrap().count(),
        1,
        "the audit log is one archive"
    );
    // The audit log keeps every record and its chain, and records the rotation.
    let log = e.json(&["audit", "--json"]);
    let records = log["records"].as_array().unwrap();
    assert_eq!(log["problems"], serde_json::json!([]));
    let last = records.last().unwrap();
    assert_eq!(last["action"], "vault.rotate");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("generation 1 -> 2")
    );
    // Later writes continue the chain after the archive, and a second rotation
    // archives the archive.
    e.cmd(&["client", "add", "later", "--name", "Later"])
        .assert()
        .success();
    e.stdout(&["rotate"]);
    assert_eq!(assert_clean(&e.vault), 3);
    let log = e.json(&["audit", "--json"]);
    assert_eq!(log["problems"], serde_json::json!([]));
    assert_eq!(log["records"].as_array().unwrap().len(), records.len() + 2);
    e.cmd(&["audit", "--verify"]).assert().success();
}

#[test]
fn rotate_emergency_voids_old_shares_and_hands_out_new_ones() {
    let e = populated(0);
    let before = contents(&e.vault);
    let new_shares = e.dir.path().join("new-shares");
    let out = e.stdout(&[
        "rotate",
        "--emergency",
        "--holders",
        "anna,ben,carla,dora",
        "-t",
        "3",
        "--shares-out",
        new_shares.to_str().unwrap(),
    ]);
    assert!(out.contains("emergency key (share set"), "{out}");
    assert!(out.contains("destroy the old one"), "{out}");
    assert_eq!(contents(&e.vault), before);
    assert_clean(&e.vault);
    let status = e.json(&["status", "--json"]);
    assert_eq!(status["share_set"]["policy"], "3 of anna, ben, carla, dora");
    assert_eq!(
        status["share_set"]["retired"].as_array().unwrap().len(),
        1,
        "the old set is on record as retired"
    );

    // Two old shares rebuild the old key, which the vault no longer accepts.
    let old = e
        .cmd(&["key", "from-shares", "-o"])
        .arg(e.dir.path().join("k-old.txt"))
        .arg(e.shares.join("anna.txt"))
        .arg(e.shares.join("ben.txt"))
        .output()
        .unwrap();
    assert_eq!(old.status.code(), Some(3), "{}", stderr(&old));
    assert!(
        stderr(&old).contains("which was replaced on"),
        "{}",
        stderr(&old)
    );
    // Three new shares open it.
    e.cmd(&["key", "from-shares", "-o"])
        .arg(e.dir.path().join("k-new.txt"))
        .arg(new_shares.join("ben.txt"))
        .arg(new_shares.join("carla.txt"))
        .arg(new_shares.join("dora.txt"))
        .assert()
        .success();
}

#[test]
fn rotate_kdf_raises_the_parameters_and_keeps_the_passphrase() {
    let e = populated(0);
    let before = contents(&e.vault);
    let m0 = e.json(&["status", "--json"])["kdf"]["m_cost_kib"]
        .as_u64()
        .unwrap();
    let out = e.stdout(&["rotate", "--kdf"]);
    assert!(out.contains("key derivation"), "{out}");
    let m1 = e.json(&["status", "--json"])["kdf"]["m_cost_kib"]
        .as_u64()
        .unwrap();
    assert_eq!(m1, m0 * 2);
    assert_eq!(contents(&e.vault), before);
    // Lowering is refused with its own message.
    let out = e
        .cmd(&["rotate", "--kdf", "--kdf-time", "1", "--kdf-memory", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("lower"), "{}", stderr(&out));
    // A wrong passphrase changes nothing.
    let snap = common::snapshot(&e.vault);
    fs::write(&e.pass_file, "not the passphrase\n").unwrap();
    let out = e.cmd(&["rotate", "--kdf"]).output().unwrap();
    fs::write(&e.pass_file, format!("{PASS}\n")).unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(common::snapshot(&e.vault), snap);
}

#[test]
fn status_check_reports_due_rotation_and_problems_without_a_passphrase() {
    let e = populated(0);
    let check = |env: &Env| {
        Env::cmd(env, &["status", "--check"])
            .env("BATON_PASSPHRASE_FILE", "/nonexistent")
            .output()
            .unwrap()
    };
    assert_eq!(check(&e).status.code(), Some(0));
    // Make the rotation due: the schedule lives in the public header.
    let hp = e.vault.join("vault.json");
    let mut h: serde_json::Value = serde_json::from_slice(&fs::read(&hp).unwrap()).unwrap();
    h["rotation"] = serde_json::json!({ "interval_months": 12, "last": "2020-01-01T00:00:00Z" });
    fs::write(&hp, serde_json::to_vec_pretty(&h).unwrap()).unwrap();
    let out = check(&e);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(stderr(&out).contains("rotation is due since 2021-01-01"));
    let s = e.stdout(&["status"]);
    assert!(s.contains("key rotation is due"), "{s}");
    // Rotating clears it.
    e.stdout(&["rotate"]);
    assert_eq!(check(&e).status.code(), Some(0));
    // No schedule: never due.
    e.stdout(&["settings", "--rotate-every", "0"]);
    assert!(e.stdout(&["status"]).contains("no schedule"));
    // A missing head is an integrity problem (11); --verify catches a modified file.
    let ip = common::head_file(&e.vault);
    fs::rename(&ip, e.dir.path().join("aside")).unwrap();
    assert_eq!(check(&e).status.code(), Some(11));
    fs::rename(e.dir.path().join("aside"), &ip).unwrap();
    let f = fs::read_dir(e.vault.join("clients"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = fs::read(&f).unwrap();
    let n = bytes.len() - 5;
    bytes[n] ^= 1;
    fs::write(&f, bytes).unwrap();
    assert_eq!(
        check(&e).status.code(),
        Some(0),
        "without --verify: public facts only"
    );
    let out = e.cmd(&["status", "--check", "--verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
}

/// A rotation that runs now (its process holds the writer lock) is not an interrupted
/// one (red-team finding: readers told the user to resume a rotation that was running,
/// and `status --check` exited 11). Readers and `status --check` say it is in progress
/// and exit 5; once the lock is free, the same state file means an interruption.
#[test]
fn a_running_rotation_is_not_reported_as_interrupted() {
    let e = populated(0);
    // The state file of a rotation to generation 2; readers look only at its name.
    fs::write(e.vault.join("rotation.g2.age"), b"").unwrap();
    let held = baton::fs::WriteLock::try_acquire(&e.vault)
        .unwrap()
        .expect("nobody else holds the lock");
    let check = || {
        e.cmd(&["status", "--check"])
            .env("BATON_PASSPHRASE_FILE", "/nonexistent")
            .output()
            .unwrap()
    };
    let running =
        "baton: error: a rotation to generation 2 is in progress; try again when it finishes";
    for out in [
        e.cmd(&["list"]).output().unwrap(),
        e.cmd(&["get", "acme/registrar", "--show"])
            .output()
            .unwrap(),
        e.cmd(&["status"]).output().unwrap(),
        check(),
    ] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(5), "{err}");
        assert!(err.contains(running), "{err}");
        assert!(!err.contains("interrupted"), "{err}");
        assert!(!err.contains("--resume"), "{err}");
    }
    // A writer waits for it too, with the same words.
    let out = e.cmd(&["client", "add", "late"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains(running), "{}", stderr(&out));

    // The lock is free: the rotation was interrupted.
    drop(held);
    let out = e.cmd(&["list"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("a rotation to generation 2 was interrupted"));
    let out = check();
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    assert!(stderr(&out).contains("was interrupted"), "{}", stderr(&out));
}

// ------------------------------------------------------------------ crash safety

// Every step of `rotate` (plain, --emergency, --kdf), of `--resume` and `--abort`, and
// of ordinary writes is crashed in-process by the library's tests
// (crates/baton/tests/crash.rs). Here the real binary is killed with SIGKILL at a few
// steps chosen by label, for what only the command line adds: a real process death,
// the question before finishing an --emergency rotation, messages and exit codes.

use common::{crash_at, fault_trace, step_before_commit, step_of};

/// `rotate` killed with SIGKILL in the middle (its `--resume` killed in the middle too),
/// right after the switch (only a resume may finish) and, with `--emergency`, while it
/// writes the share files (the vault is untouched) and right before the switch: the
/// resume asks first, and a state file put back after `--abort` is refused.
#[test]
fn rotate_survives_sigkill_smoke() {
    let e = populated(1);
    let expected = contents(&e.vault);
    let trace = fault_trace(&e, &e.vault, &["rotate"]);
    let switch = step_of(&trace, "rotate: switched");

    // In the middle; the resume killed in its middle; a second resume finishes.
    let v = crash_at(&e, &e.vault, "middle", &["rotate"], trace.len() as u64 / 2);
    assert_eq!(contents(&v), expected);
    assert!(baton::rotate::pending(&v).is_some());
    let resume = fault_trace(&e, &v, &["rotate", "--resume"]);
    let args = ["rotate", "--resume"];
    let v = crash_at(&e, &v, "middle-again", &args, resume.len() as u64 / 2);
    assert_eq!(contents(&v), expected);
    e.cmd_at(&v, &args).assert().success();
    assert_eq!(assert_clean(&v), 2);
    assert_eq!(contents(&v), expected);

    // Right after the switch: it can be finished, not undone.
    let v = crash_at(&e, &e.vault, "switched", &["rotate"], switch);
    assert_eq!(contents(&v), expected);
    assert_eq!(baton::vault::read_header(&v).unwrap().generation, 2);
    let out = e.cmd_at(&v, &["rotate", "--abort"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("can be finished, not undone"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("rotate --resume"), "{}", stderr(&out));
    e.cmd_at(&v, &["rotate", "--resume"]).assert().success();
    assert_eq!(assert_clean(&v), 2);
    assert_eq!(contents(&v), expected);

    // `--emergency`, right before the switch (the new header is synced, not renamed).
    let emergency = |shares: &str| {
        let out = e.dir.path().join(shares);
        vec![
            "rotate".to_string(),
            "--emergency".into(),
            "--shares-out".into(),
            out.to_string_lossy().into_owned(),
        ]
    };
    let args = emergency("probe-shares");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let trace = fault_trace(&e, &e.vault, &args);
    let before_switch = step_of(&trace, "rotate: switched") - 2;

    // Killed while writing the new share files: nothing of the vault is written yet.
    assert_eq!(trace[0], "write_new: written", "{trace:?}");
    let args = emergency("early-shares");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = crash_at(&e, &e.vault, "delivering", &args, 1);
    assert_eq!(baton::rotate::pending(&v), None);
    assert_eq!(assert_clean(&v), 1);
    assert_eq!(contents(&v), expected);

    let args = emergency("new-shares");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = crash_at(&e, &e.vault, "emergency", &args, before_switch);
    assert_eq!(contents(&v), expected);
    assert_eq!(baton::vault::read_header(&v).unwrap().generation, 1);
    assert_eq!(baton::rotate::pending(&v), Some(2));
    let replay = e.dir.path().join("replay");
    copy_tree(&v, &replay);
    let damaged = e.dir.path().join("damaged");
    copy_tree(&v, &damaged);
    // Without a terminal to ask on, finishing it is refused until --yes says its share
    // files still exist; nothing changes.
    let snap = common::snapshot(&v);
    let out = e
        .cmd_detached_at(&v, &["rotate", "--resume"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    for want in ["makes share set", "not confirmed", "rotate --abort"] {
        assert!(stderr(&out).contains(want), "{want}: {}", stderr(&out));
    }
    assert_eq!(common::snapshot(&v), snap, "a refused resume changed files");
    e.cmd_at(&v, &["rotate", "--resume", "--yes"])
        .assert()
        .success();
    assert_eq!(assert_clean(&v), 2);
    assert_eq!(contents(&v), expected);

    // Or undone: its shares are void, and its state file, put back, is refused.
    let state = replay.join("rotation.g2.age");
    let copy = fs::read(&state).unwrap();
    // (A copy of the folder is another writer: its writer id comes from the path, so
    // undoing the rotation started in the original takes --yes, as for another
    // device's: docs/format.md#sibling-rotations.)
    let out = e
        .cmd_at(&replay, &["rotate", "--abort", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("void"));
    fs::write(&state, copy).unwrap();
    let out = e
        .cmd_at(&replay, &["rotate", "--resume", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
    e.cmd_at(&replay, &["rotate", "--abort", "--yes"])
        .assert()
        .success();
    e.cmd_at(&replay, &["client", "add", "after", "--name", "After"])
        .assert()
        .success();
    assert_eq!(assert_clean(&replay), 1);
    assert_eq!(contents(&replay).len(), expected.len() + 1);

    // Settling needs no more of the vault than a restore would fix: with a locator
    // shard gone, --abort still works, and `verify` still names the damage.
    let shard = {
        let vv = Vault::open(&damaged, &Passphrase::new(PASS.into()), Access::Read).unwrap();
        damaged.join("clients").join(&vv.index().locator[0].file)
    };
    fs::remove_file(&shard).unwrap();
    e.cmd_at(&damaged, &["rotate", "--abort", "--yes"])
        .assert()
        .success();
    assert_eq!(baton::rotate::pending(&damaged), None);
    let out = e.cmd_at(&damaged, &["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("locator"), "{}", stderr(&out));
}

/// `entry add` killed with SIGKILL in the middle, right before its commit point and
/// right after it: the new value is there completely or not at all, the next write
/// works and the vault verifies.
#[test]
fn ordinary_writes_survive_sigkill_smoke() {
    let e = populated(0);
    let expected = contents(&e.vault);
    let pw = e.file("pw.txt", "the-new-password\n");
    let args = [
        "entry",
        "add",
        "acme",
        "new-entry",
        "--user",
        "u",
        "--password-file",
        pw.to_str().unwrap(),
    ];
    let trace = fault_trace(&e, &e.vault, &args);
    let commit = step_before_commit(&trace);
    let mut points = vec![trace.len() as u64 / 2, commit, commit + 1];
    points.sort();
    points.dedup();
    let mut added = 0;
    for point in points {
        let v = crash_at(&e, &e.vault, &format!("write-{point}"), &args, point);
        let now = contents(&v);
        // The catalog changes with acme; `verify` below checks it against the files.
        for (id, file) in &expected {
            if id != "acme" && !id.is_empty() {
                assert_eq!(&now[id], file, "client {id} after a crash at step {point}");
            }
        }
        let acme: serde_json::Value = serde_json::from_str(&now["acme"]).unwrap();
        let entries = acme["entries"].as_array().unwrap();
        match entries.iter().find(|x| x["name"] == "new-entry") {
            Some(x) => {
                assert_eq!(x["password"], "the-new-password");
                added += 1;
            }
            None => assert_eq!(now["acme"], expected["acme"]),
        }
        // The next write works and the vault verifies.
        e.cmd_at(&v, &["client", "add", "after-crash", "--name", "After"])
            .assert()
            .success();
        let vv = Vault::open(&v, &Passphrase::new(PASS.into()), Access::Read).unwrap();
        assert_eq!(vv.verify(), vec![]);
        fs::remove_dir_all(&v).unwrap();
    }
    assert!(added > 0, "no crash after the commit point");
}

// ------------------------------------------------------------------ tampering

fn assert_detected(e: &Env, client: &str) {
    let out = e.cmd(&["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("client '{client}'")),
        "{}",
        stderr(&out)
    );
    let out = e.cmd(&["show", client]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains(client), "{}", stderr(&out));
}

/// The recipients in the public header: anyone can encrypt a file to them.
fn public_recipients(vault: &Path) -> Vec<age::x25519::Recipient> {
    let h: serde_json::Value =
        serde_json::from_slice(&fs::read(vault.join("vault.json")).unwrap()).unwrap();
    ["owner", "emergency"]
        .iter()
        .map(|k| h["recipients"][k].as_str().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn tampering_after_a_rotation_is_detected_and_named() {
    let e = populated(1);
    let gen1 = e.dir.path().join("gen1");
    copy_tree(&e.vault, &gen1);
    let acme_gen1 = client_file(&gen1, "acme");
    e.stdout(&["rotate"]);
    let good = e.dir.path().join("good");
    copy_tree(&e.vault, &good);
    let restore = || {
        fs::remove_dir_all(&e.vault).unwrap();
        copy_tree(&good, &e.vault);
    };

    // Rolled back to the older generation's file (under the current name).
    let acme = client_file(&e.vault, "acme");
    fs::copy(&acme_gen1, &acme).unwrap();
    assert_detected(&e, "acme");
    restore();

    // Two clients' files swapped.
    let (a, b) = (
        client_file(&e.vault, "acme"),
        client_file(&e.vault, "verein-nord"),
    );
    let (ab, bb) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
    fs::write(&a, &bb).unwrap();
    fs::write(&b, &ab).unwrap();
    assert_detected(&e, "acme");
    restore();

    // Deleted.
    fs::remove_file(client_file(&e.vault, "acme")).unwrap();
    assert_detected(&e, "acme");
    restore();

    // Replaced by a file newly encrypted to the public recipients of the new generation.
    let recipients = public_recipients(&e.vault);
    let forged = baton::crypto::seal::encrypt(&recipients, b"{\"format\":\"baton-client\"}");
    fs::write(client_file(&e.vault, "acme"), forged).unwrap();
    assert_detected(&e, "acme");
    // And a rotation refuses to re-encrypt a tampered vault: it stays at generation 2
    // with the forged file untouched, and the refusal is in the audit log.
    let forged_bytes = fs::read(client_file(&e.vault, "acme")).unwrap();
    let out = e.cmd(&["rotate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("acme"), "{}", stderr(&out));
    assert_eq!(baton::vault::read_header(&e.vault).unwrap().generation, 2);
    assert_eq!(baton::rotate::pending(&e.vault), None);
    assert_eq!(
        fs::read(client_file(&e.vault, "acme")).unwrap(),
        forged_bytes
    );
    let log = e.json(&["audit", "--json"]);
    let last = log["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "vault.rotate-failed");
    assert!(last["detail"].as_str().unwrap().contains("acme"));
    restore();

    // The whole vault rolled back to generation 1: this machine has seen generation 2.
    fs::remove_dir_all(&e.vault).unwrap();
    copy_tree(&gen1, &e.vault);
    let out = e.cmd(&["list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("rolled back"), "{}", stderr(&out));
}

#[test]
fn a_forged_rotation_state_file_is_refused() {
    let e = populated(0);
    // A state file encrypted to the public recipients but without the vault's MAC key.
    let recipients = public_recipients(&e.vault);
    let body =
        br#"{"format":"baton-rotation","version":1,"mac_old":"00","mac_new":"00","body":{}}"#;
    fs::write(
        e.vault.join("rotation.g2.age"),
        baton::crypto::seal::encrypt(&recipients, body),
    )
    .unwrap();
    let snap = common::snapshot(&e.vault);
    for flag in ["--resume", "--abort"] {
        let out = e.cmd(&["rotate", flag]).output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("failed authentication"),
            "{}",
            stderr(&out)
        );
    }
    // Writes are held back while a rotation state exists, with a hint.
    let out = e
        .cmd(&["client", "add", "x", "--name", "X"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("rotate --resume"), "{}", stderr(&out));
    assert_eq!(common::snapshot(&e.vault), snap);
    // Reads still work, with a warning.
    let out = e.cmd(&["list"]).output().unwrap();
    assert!(out.status.success());
    assert!(stderr(&out).contains("was interrupted"));
}

// ------------------------------------------------------------------ full disk

/// A small tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(at: &Path, size: &str) -> Option<Tmpfs> {
    fs::create_dir_all(at).unwrap();
    let ok = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "tmpfs",
        ])
        .arg(at)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then(|| Tmpfs(at.to_path_buf()))
}

fn free_bytes(at: &Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(at)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_full_disk_stops_the_rotation_cleanly_and_loses_nothing() {
    let e = Env::new();
    let mnt = e.dir.path().join("small-disk");
    let Some(disk) = mount_tmpfs(&mnt, "8m") else {
        assert!(
            !common::required(),
            "the full-disk test needs root to mount a tmpfs (CI runs as root)"
        );
        eprintln!("skipped: cannot mount a tmpfs (not root)");
        return;
    };
    let vault = mnt.join("vault");
    e.cmd_at(
        &vault,
        &[
            "init",
            "--holders",
            "anna,ben",
            "-t",
            "2",
            "--insecure-test-kdf",
            "--shares-out",
            e.dir.path().join("shares").to_str().unwrap(),
        ],
    )
    .assert()
    .success();
    // Clients with 200 KiB attachments, so the new generation needs real space.
    let blob = e.file("blob.bin", &"k".repeat(200 * 1024));
    for i in 0..8 {
        let id = format!("c{i}");
        e.cmd_at(&vault, &["client", "add", &id, "--name", &id])
            .assert()
            .success();
        e.cmd_at(&vault, &["entry", "add", &id, "key", "--user", "root"])
            .assert()
            .success();
        e.cmd_at(&vault, &["entry", "attach", &id, "key"])
            .arg(&blob)
            .assert()
            .success();
    }
    let expected = contents(&vault);
    let needed: u64 = fs::read_dir(vault.join("clients"))
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    // Leave less room than the new generation needs, at several levels, so the disk
    // fills at different steps: the state file, client files, the archive, the index.
    for room in [
        0u64,
        4096,
        64 * 1024,
        needed / 3,
        needed * 2 / 3,
        needed - 8192,
    ] {
        let filler = mnt.join("filler");
        let free = free_bytes(&mnt);
        let size = free.saturating_sub(room);
        fs::write(&filler, vec![0u8; size as usize]).unwrap_or_else(|_| {
            // tmpfs rounds to pages: a filler that does not fit is just smaller.
            fs::write(&filler, vec![0u8; size.saturating_sub(8192) as usize]).unwrap()
        });
        let snap = common::snapshot(&vault);
        let out = e.cmd_at(&vault, &["rotate"]).output().unwrap();
        assert!(!out.status.success(), "rotation fit in {room} bytes?");
        let err = stderr(&out);
        assert!(
            err.contains("No space left") || err.contains("space"),
            "room {room}: {err}"
        );
        assert!(err.contains("nothing was lost"), "{err}");
        // Client files unchanged; only the audit log and this writer's head (the commit
        // point, docs/format.md#multi-writer) may hold the record of the failed attempt
        // (or its interrupted leftover, if even that did not fit).
        let unchanged = |snap: &[(PathBuf, Vec<u8>)]| -> Vec<(PathBuf, Vec<u8>)> {
            snap.iter()
                .filter(|(p, _)| {
                    !p.starts_with(vault.join("audit")) && !p.starts_with(vault.join("heads"))
                })
                .filter(|(p, _)| {
                    !p.ends_with("vault.json") && !p.to_string_lossy().contains("index.g")
                })
                .cloned()
                .collect()
        };
        assert_eq!(
            unchanged(&common::snapshot(&vault)),
            unchanged(&snap),
            "room {room}"
        );
        assert_eq!(contents(&vault), expected);
        let v = Vault::open(&vault, &Passphrase::new(PASS.into()), Access::Read).unwrap();
        assert_eq!(v.verify(), vec![], "room {room}");
        assert_eq!(v.header().generation, 1);
        assert_eq!(baton::rotate::pending(&vault), None);
        assert!(!vault.join("index.g2.age").exists());
        assert_eq!(archive_of(&vault, 2), None, "room {room}");
        drop(v);
        fs::remove_file(&filler).unwrap();
    }
    // With space again, the rotation succeeds.
    e.cmd_at(&vault, &["rotate"]).assert().success();
    assert_eq!(assert_clean(&vault), 2);
    assert_eq!(contents(&vault), expected);
    drop(disk);
}

#[test]
fn removing_a_client_recipient_says_what_it_cannot_revoke() {
    let e = populated(0);
    let a = age::x25519::Identity::generate().to_public().to_string();
    let b = age::x25519::Identity::generate().to_public().to_string();
    let out = e
        .cmd(&["client", "set-recipient", "baeckerei-jung", &a])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!stderr(&out).contains("still opens"), "nothing was removed");
    let out = e
        .cmd(&["client", "set-recipient", "baeckerei-jung", &b])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("still opens every package already exported"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn planted_non_files_do_not_break_the_cleanup() {
    let e = populated(0);
    fs::create_dir(e.vault.join("audit/archive.g0.age")).unwrap();
    e.stdout(&["rotate"]);
    assert!(e.vault.join("audit/archive.g0.age").is_dir(), "left alone");
    assert_eq!(baton::rotate::pending(&e.vault), None);
    // It is not baton's, so verify names it rather than call the folder intact.
    let out = e.cmd(&["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("audit/archive.g0.age"),
        "{}",
        stderr(&out)
    );
    fs::remove_dir(e.vault.join("audit/archive.g0.age")).unwrap();
    e.cmd(&["verify"]).assert().success();
}

/// A rotation accounts for every file: this writer's leftovers of interrupted writes
/// (client files with passwords) do not survive it under the old keys; another
/// device's unnamed files (maybe its change still syncing) are kept and reported.
#[test]
fn rotation_removes_this_writers_leftovers_and_keeps_another_devices() {
    let e = populated(0);
    let header: serde_json::Value =
        serde_json::from_slice(&fs::read(e.vault.join("vault.json")).unwrap()).unwrap();
    // The id baton gives this folder on this machine, from the machine's secret (made
    // by the first command).
    e.stdout(&["list"]);
    let secret = fs::read_to_string(e.dir.path().join("state/baton/seen/machine-secret")).unwrap();
    let secret: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&secret.trim()[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let secret: [u8; 32] = secret.try_into().unwrap();
    let writer =
        baton::sync::writer::derive_keyed(&secret, header["vault_id"].as_str().unwrap(), &e.vault);
    let clients = e.vault.join("clients");
    // A complete client file of this writer, as a crashed purge leaves it.
    let named = fs::read_dir(&clients)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let own = clients.join(baton::sync::writer::new_file_name(&writer));
    fs::copy(&named, &own).unwrap();
    let foreign = clients.join(baton::sync::writer::new_file_name("0123456789abcdef"));
    fs::copy(&named, &foreign).unwrap();
    e.stdout(&["rotate"]);
    assert!(
        !own.exists(),
        "this writer's leftover survived the rotation"
    );
    assert!(foreign.exists(), "another device's file was removed");
    let out = e.cmd(&["status"]).output().unwrap();
    let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(all.contains("1 file(s) the index does not name"), "{all}");
}

/// The audit archive of generation `g` in `vault` (named by the writer whose rotation
/// wrote it, docs/format.md#audit-log), if there is one.
fn archive_of(vault: &Path, g: u64) -> Option<PathBuf> {
    fs::read_dir(vault.join("audit"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            baton::audit::parse_archive_file(&name) == Some(g)
        })
}
