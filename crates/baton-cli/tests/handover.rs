//! The emergency handover through the binary: share checks, drills and each of their
//! failures, a two-group policy, recovery from a read-only copy and export of every
//! client, adding a holder, and the colleague's takeover.

mod common;

use baton::crypto::secret::Passphrase;
use baton::vault::{Access, Vault};
use common::{Env, PASS, snapshot};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::stderr;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn populated() -> Env {
    let e = Env::init();
    let mut v = Vault::open(&e.vault, &Passphrase::new(PASS.into()), Access::Write).unwrap();
    baton::demo::populate(&mut v).unwrap();
    e
}

fn share(e: &Env, holder: &str) -> PathBuf {
    e.shares.join(format!("{holder}.txt"))
}

/// `baton emergency drill` with these share files.
fn drill(e: &Env, files: &[PathBuf]) -> Output {
    let mut c = e.cmd(&["emergency", "drill"]);
    for f in files {
        c.arg("--share-file").arg(f);
    }
    c.output().unwrap()
}

/// `baton recover` with the share files of `holders`; returns the key file.
fn recover_key(e: &Env, holders: &[&str]) -> PathBuf {
    let key_dir = e.dir.path().join("recovered");
    let mut c = e.cmd(&["recover", "--out-dir"]);
    c.arg(&key_dir);
    for h in holders {
        c.arg("--share-file").arg(share(e, h));
    }
    c.assert().success();
    key_dir.join("emergency-key.txt")
}

/// A failing drill must change nothing, not even the audit log.
fn failing_drill(e: &Env, files: &[PathBuf], expect: &str) {
    let before = snapshot(&e.vault);
    let out = drill(e, files);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(expect),
        "wanted {expect:?}: {}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("drill passed"));
    assert_eq!(
        snapshot(&e.vault),
        before,
        "a failed drill changed the vault"
    );
}

#[test]
fn drill_two_of_three_passes_and_names_each_failure() {
    let e = populated();
    // One holder checks her share alone, without any passphrase.
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    let out = c
        .env_remove("BATON_PASSPHRASE_FILE")
        .arg("--vault")
        .arg(&e.vault)
        .args(["emergency", "check-share", "--share-file"])
        .arg(share(&e, "ben"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("valid: share 2 of this vault's current share set"));
    // Without a copy of the vault: the vault id from the kit, and the check code to
    // compare with the kit.
    let vault_id = e.json(&["status", "--json"])["vault_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    let out = c
        .env_remove("BATON_VAULT")
        .env_remove("BATON_PASSPHRASE_FILE")
        .args([
            "emergency",
            "check-share",
            "--vault-id",
            &vault_id,
            "--share-file",
        ])
        .arg(share(&e, "ben"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let ben_file = fs::read_to_string(share(&e, "ben")).unwrap();
    let code = ben_file
        .split("check code ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(
        stdout(&out).contains(&format!("check code {code}")),
        "{}",
        stdout(&out)
    );
    let kit = fs::read_to_string(e.shares.join("ben.kit.html")).unwrap();
    assert!(kit.contains(&code));
    assert!(kit.contains(&format!("check-share --vault-id {vault_id}")));

    // Two holders pass the drill; it is recorded with their names.
    let out = drill(&e, &[share(&e, "anna"), share(&e, "carla")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("drill passed: the shares of anna, carla rebuild the emergency key")
    );
    let rec = e.last_audit();
    assert_eq!(rec["action"], "emergency.drill");
    assert_eq!(rec["actor"], "emergency");
    assert!(rec["detail"].as_str().unwrap().contains("anna, carla"));
    let s = e.json(&["status", "--json"]);
    assert_eq!(
        s["emergency_drill"]["last"].as_str().unwrap()[..4],
        rec["time"].as_str().unwrap()[..4]
    );
    assert!(s["emergency_drill"]["due"].as_str().unwrap() > rec["time"].as_str().unwrap());

    // Too few.
    failing_drill(
        &e,
        &[share(&e, "anna")],
        "not enough shares: 1 of 2 shares given",
    );
    // The same share twice.
    failing_drill(
        &e,
        &[share(&e, "anna"), share(&e, "anna")],
        "this share was already entered",
    );
    // One mistyped word: the checksum points to it.
    let mut w: Vec<String> = common::share_file_words(&share(&e, "ben"))
        .split(' ')
        .map(String::from)
        .collect();
    w[6] = if w[6] == "academic" {
        "acid"
    } else {
        "academic"
    }
    .into();
    let typo = e.file("ben-typo.txt", &w.join(" "));
    failing_drill(&e, &[share(&e, "anna"), typo.clone()], "word 7 is wrong");
    // A share of another vault.
    let other = Env::init();
    failing_drill(
        &e,
        &[share(&e, "anna"), other.shares.join("ben.txt")],
        "this vault",
    );
    // A share of an old set of this vault.
    let new_dir = e.dir.path().join("new-kits");
    e.stdout(&[
        "emergency",
        "reissue",
        "--out-dir",
        new_dir.to_str().unwrap(),
    ]);
    failing_drill(
        &e,
        &[share(&e, "anna"), share(&e, "ben")],
        "which was replaced on",
    );
    let out = e
        .cmd(&["emergency", "check-share", "--share-file"])
        .arg(share(&e, "anna"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("was replaced on"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("this share is void"),
        "{}",
        stderr(&out)
    );
    // The new kits pass.
    let out = drill(&e, &[new_dir.join("ben.txt"), new_dir.join("carla.txt")]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_two_group_policy_needs_both_groups() {
    let e = Env::new();
    e.cmd(&[
        "init",
        "--policy",
        "2 of anna,ben,carla; 1 of notary,spouse",
        "--insecure-test-kdf",
        "--shares-out",
    ])
    .arg(&e.shares)
    .assert()
    .success();
    // The notary and the spouse keep copies of one share.
    assert_eq!(
        common::share_file_words(&share(&e, "notary")),
        common::share_file_words(&share(&e, "spouse"))
    );
    let kit = fs::read_to_string(e.shares.join("carla.kit.html")).unwrap();
    assert!(kit.contains("2 von / of: anna, ben, carla"));
    assert!(kit.contains("1 von / of: notary, spouse"));

    failing_drill(
        &e,
        &[share(&e, "anna"), share(&e, "ben")],
        "1 of 2 groups complete",
    );
    failing_drill(
        &e,
        &[share(&e, "anna"), share(&e, "spouse")],
        "1 of 2 groups complete",
    );
    let out = drill(
        &e,
        &[share(&e, "carla"), share(&e, "spouse"), share(&e, "anna")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("carla, notary or spouse (copies of one share), anna"),
        "{}",
        stdout(&out)
    );
    let s = e.json(&["status", "--json"]);
    assert_eq!(
        s["share_set"]["policy"],
        "2 of anna, ben, carla; 1 of notary, spouse"
    );
    // add-holder must be told which group.
    let out = e
        .cmd(&["emergency", "add-holder", "dora", "--out-dir"])
        .arg(e.dir.path().join("dora"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("say which one"), "{}", stderr(&out));
}

#[test]
fn an_added_holder_combines_with_the_existing_shares() {
    let e = populated();
    let before: Vec<String> = ["anna", "ben", "carla"]
        .iter()
        .map(|h| common::share_file_words(&share(&e, h)))
        .collect();
    let dir = e.dir.path().join("dora-kit");
    let out = e.stdout(&[
        "emergency",
        "add-holder",
        "dora",
        "--out-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(out.contains("dora now holds share 4 of group 1"), "{out}");
    assert!(dir.join("dora.kit.html").exists());
    let out = drill(&e, &[dir.join("dora.txt"), share(&e, "ben")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("dora, ben"));
    // The old kits are unchanged and still valid; reprinting gives the same words.
    let again = e.dir.path().join("reprint");
    e.stdout(&["emergency", "kits", "--out-dir", again.to_str().unwrap()]);
    for (h, w) in ["anna", "ben", "carla"].iter().zip(&before) {
        assert_eq!(
            &common::share_file_words(&again.join(format!("{h}.txt"))),
            w,
            "{h}"
        );
    }
    assert_eq!(
        common::share_file_words(&again.join("dora.txt")),
        common::share_file_words(&dir.join("dora.txt"))
    );
    let log = e.json(&["audit", "--json"]);
    let recs = log["records"].as_array().unwrap();
    let n = recs.len();
    assert_eq!(recs[n - 2]["action"], "emergency.add-holder");
    assert_eq!(recs[n - 1]["action"], "emergency.drill");
    let s = e.json(&["status", "--json"]);
    assert_eq!(s["share_set"]["policy"], "2 of anna, ben, carla, dora");
    // A name taken already is refused.
    let out = e
        .cmd(&["emergency", "add-holder", "Anna", "--out-dir"])
        .arg(e.dir.path().join("x"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// A folder made read-only: a read-only tmpfs when root (root ignores permissions),
/// permissions otherwise.
struct ReadOnly {
    mount: Option<PathBuf>,
    path: PathBuf,
}

impl ReadOnly {
    fn copy_of(src: &Path, at: &Path) -> ReadOnly {
        let root = unsafe_is_root();
        if root {
            fs::create_dir_all(at).unwrap();
            let ok = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs"])
                .arg(at)
                .status()
                .unwrap()
                .success();
            assert!(ok, "mount a tmpfs");
            let path = at.join("vault");
            common::copy_tree(src, &path);
            let ok = std::process::Command::new("mount")
                .args(["-o", "remount,ro"])
                .arg(at)
                .status()
                .unwrap()
                .success();
            assert!(ok, "remount read-only");
            ReadOnly {
                mount: Some(at.to_path_buf()),
                path,
            }
        } else {
            let path = at.join("vault");
            common::copy_tree(src, &path);
            chmod_tree(&path, false);
            ReadOnly { mount: None, path }
        }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        match &self.mount {
            Some(m) => {
                let _ = std::process::Command::new("umount").arg(m).status();
            }
            None => chmod_tree(&self.path, true),
        }
    }
}

fn unsafe_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chmod_tree(dir: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |d: bool| match (d, writable) {
        (true, true) => 0o700,
        (true, false) => 0o500,
        (false, true) => 0o600,
        (false, false) => 0o400,
    };
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            chmod_tree(&e.path(), writable);
            fs::set_permissions(e.path(), fs::Permissions::from_mode(mode(true))).unwrap();
        } else {
            fs::set_permissions(e.path(), fs::Permissions::from_mode(mode(false))).unwrap();
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(mode(true))).unwrap();
}

#[test]
fn recovery_from_a_read_only_copy_then_export_of_every_client() {
    let e = populated();
    let ro = ReadOnly::copy_of(&e.vault, &e.dir.path().join("usb-stick"));
    let before = snapshot(&ro.path);
    let key_dir = e.dir.path().join("recovered");
    let out = e
        .cmd_at(&ro.path, &["recover", "--out-dir"])
        .arg(&key_dir)
        .arg("--share-file")
        .arg(share(&e, "carla"))
        .arg("--share-file")
        .arg(share(&e, "ben"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("recovered: the shares of carla, ben rebuild"));
    assert!(stdout(&out).contains("every file checks out"));
    assert!(
        stderr(&out).contains("not in its audit log"),
        "{}",
        stderr(&out)
    );
    let key = key_dir.join("emergency-key.txt");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The colleague reads everything with the key file, no passphrase.
    let with_key = |args: &[&str]| {
        let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
        c.env_remove("BATON_PASSPHRASE_FILE")
            .env("XDG_STATE_HOME", e.dir.path().join("colleague-state"))
            .arg("--vault")
            .arg(&ro.path)
            .arg("--identity")
            .arg(&key)
            .args(args);
        c
    };
    let list: serde_json::Value =
        serde_json::from_slice(&with_key(&["list", "--json"]).output().unwrap().stdout).unwrap();
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 2, "{list}");

    // ... and exports every client to her own age key.
    let (me, me_file) = common::age_identity(&e, "colleague-key.txt");
    let out_dir = e.dir.path().join("packages");
    let out = with_key(&[
        "export",
        "--all",
        "--to",
        &me.to_public().to_string(),
        "--out-dir",
    ])
    .arg(&out_dir)
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let packages: Vec<PathBuf> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    assert_eq!(packages.len(), ids.len(), "one package per client");
    // Her key opens every package (in-process; `export.rs` opens packages with the
    // `age` command).
    for id in &ids {
        let p = packages
            .iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .contains(&format!("baton-{id}-"))
            })
            .unwrap();
        let tar = common::age_decrypt_in_process(&me_file, p).unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|en| en.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect();
        assert!(
            names.iter().any(|n| n.ends_with("credentials.json")),
            "{id}"
        );
    }
    assert_eq!(snapshot(&ro.path), before, "the read-only copy was changed");
}

#[test]
fn takeover_locks_out_the_old_passphrase_and_shares() {
    let e = populated();
    let secret_before = e.stdout(&["get", "acme/registrar", "--show"]);
    let key = recover_key(&e, &["anna", "ben"]);
    assert_eq!(e.last_audit()["action"], "emergency.recover");
    // A plain rotation is the owner's; the emergency key re-keys by a takeover.
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    let out = c
        .env("XDG_STATE_HOME", e.dir.path().join("state"))
        .arg("--vault")
        .arg(&e.vault)
        .arg("--identity")
        .arg(&key)
        .arg("rotate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("re-keyed by a takeover"),
        "{}",
        stderr(&out)
    );
    let new_pass = e.file("new-pass.txt", "the colleague's new passphrase\n");
    let new_kits = e.dir.path().join("new-kits");
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    let out = c
        .env_remove("BATON_PASSPHRASE_FILE")
        .env("XDG_STATE_HOME", e.dir.path().join("state"))
        .arg("--vault")
        .arg(&e.vault)
        .arg("--identity")
        .arg(&key)
        .args([
            "takeover",
            "--owner-name",
            "Erika Beispiel",
            "--successor",
            "Fritz Vertreter",
            "--holders",
            "dora,emil",
            "-t",
            "2",
            "--insecure-test-kdf",
            "--shares-out",
        ])
        .arg(&new_kits)
        .arg("--new-passphrase-file")
        .arg(&new_pass)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("you are the owner now"),
        "{}",
        stdout(&out)
    );

    // The old passphrase no longer opens the vault.
    let out = e.cmd(&["list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // The old shares and the old emergency key open nothing.
    let out = drill(&e, &[share(&e, "anna"), share(&e, "carla")]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("which was replaced on"));
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    let out = c
        .arg("--vault")
        .arg(&e.vault)
        .arg("--identity")
        .arg(&key)
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("not the vault's emergency key"),
        "{}",
        stderr(&out)
    );
    // The new generation's head is closed to the old emergency key (in-process, as
    // `age -d -i KEY` would read it).
    let index = common::head_file(&e.vault);
    assert!(matches!(
        common::age_decrypt_in_process(&key, &index),
        Err(age::DecryptError::NoMatchingKeys)
    ));

    // The new passphrase opens everything, unchanged.
    fs::write(&e.pass_file, "the colleague's new passphrase\n").unwrap();
    assert_eq!(
        e.stdout(&["get", "acme/registrar", "--show"]),
        secret_before
    );
    let log = e.json(&["audit", "--json"]);
    let actions: Vec<&str> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"vault.takeover"), "{actions:?}");
    assert_eq!(log["problems"], serde_json::json!([]));
    // The new holders' kits name the new owner and her successor, not the old owner.
    let kit = fs::read_to_string(new_kits.join("dora.kit.html")).unwrap();
    assert!(kit.contains("Erika Beispiel") && kit.contains("Fritz Vertreter"));
    assert!(!kit.contains("Max Admin"));
    // The new holders' shares work.
    let out = drill(&e, &[new_kits.join("emil.txt"), new_kits.join("dora.txt")]);
    assert!(out.status.success(), "{}", stderr(&out));
}

// ------------------------------------------------------------------ crash safety

/// Every client as JSON, secrets included, opened with whichever key `open` gives.
fn all_clients(v: &Vault) -> std::collections::BTreeMap<String, String> {
    v.clients()
        .unwrap()
        .iter()
        .map(|c| {
            let f = v.client(&c.id).unwrap();
            (
                c.id.clone(),
                String::from_utf8(baton::crypto::secret::json_bytes(&f).to_vec()).unwrap(),
            )
        })
        .collect()
}

fn baton_raw(vault: &Path, state: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    c.env_remove("BATON_VAULT")
        .env_remove("BATON_PASSPHRASE_FILE")
        .env_remove("BATON_IDENTITY")
        .env("XDG_STATE_HOME", state)
        .env("RAYON_NUM_THREADS", "1")
        .arg("--vault")
        .arg(vault)
        .args(args);
    c
}

/// A takeover killed with SIGKILL in the middle of re-encrypting, right before the
/// switch and right after it (the library crashes every step in-process,
/// crates/baton/tests/crash.rs): the vault always opens with all data, with the old
/// passphrase before the switch and the new one after it; before the switch the
/// emergency key settles it (`rotate --resume` with `--identity`, the new passphrase
/// and `--yes`, or `rotate --abort`), after it only the new owner can finish.
#[test]
fn takeover_survives_sigkill_smoke() {
    use std::os::unix::process::ExitStatusExt;
    let e = populated();
    let expected =
        all_clients(&Vault::open(&e.vault, &Passphrase::new(PASS.into()), Access::Read).unwrap());
    let key = recover_key(&e, &["anna", "ben"]);
    let key_s = key.to_str().unwrap().to_string();
    let new_pass = e.file("new-pass.txt", "the colleague's new passphrase\n");
    let np = new_pass.to_str().unwrap().to_string();
    let takeover = |v: &Path, kits: &Path| {
        baton_raw(
            v,
            &v.with_extension("state"),
            &[
                "--identity",
                &key_s,
                "takeover",
                "--owner-name",
                "Erika Beispiel",
                "--holders",
                "dora,emil",
                "-t",
                "2",
                "--new-passphrase-file",
                &np,
                "--insecure-test-kdf",
                "--shares-out",
                kits.to_str().unwrap(),
            ],
        )
    };
    // The steps, by label, on a copy.
    let probe = e.dir.path().join("probe");
    common::copy_tree(&e.vault, &probe);
    let out = takeover(&probe, &e.dir.path().join("probe-kits"))
        .env("BATON_FAULT_AT", "count")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let trace = common::fault_trace_of(&stderr(&out));
    let switch = common::step_of(&trace, "rotate: switched");
    let writing: Vec<u64> = (1..=trace.len() as u64)
        .filter(|&i| trace[i as usize - 1] == "write_unsynced: writing")
        .collect();
    let old = Passphrase::new(PASS.into());
    let new = Passphrase::new("the colleague's new passphrase".into());
    #[derive(Debug)]
    enum Settle {
        Resume,
        Abort,
    }
    for (point, settle) in [
        (writing[writing.len() / 2], Settle::Resume),
        (switch - 2, Settle::Abort),
        (switch, Settle::Resume),
    ] {
        let v = e.dir.path().join(format!("t{point}"));
        common::copy_tree(&e.vault, &v);
        let kits = e.dir.path().join(format!("t{point}-kits"));
        let out = takeover(&v, &kits)
            .env("BATON_FAULT_AT", point.to_string())
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(9),
            "step {point}: {}",
            stderr(&out)
        );
        let state = v.with_extension("state");
        let to = baton::rotate::pending(&v).expect("a takeover to settle");
        let switched = baton::vault::read_header(&v).unwrap().generation == to;
        assert_eq!(switched, point >= switch, "step {point}");
        let opened = if switched {
            Vault::open(&v, &new, Access::Read)
        } else {
            Vault::open(&v, &old, Access::Read)
        };
        assert_eq!(all_clients(&opened.unwrap()), expected, "step {point}");
        let out = match settle {
            // Only the new owner can finish: the old emergency key is void.
            Settle::Resume if switched => baton_raw(
                &v,
                &state,
                &["--passphrase-file", &np, "rotate", "--resume"],
            ),
            Settle::Resume => baton_raw(
                &v,
                &state,
                &[
                    "--identity",
                    &key_s,
                    "--passphrase-file",
                    &np,
                    "rotate",
                    "--resume",
                    "--yes",
                ],
            ),
            Settle::Abort => baton_raw(&v, &state, &["--identity", &key_s, "rotate", "--abort"]),
        }
        .output()
        .unwrap();
        assert!(out.status.success(), "step {point}: {}", stderr(&out));
        assert_eq!(baton::rotate::pending(&v), None);
        let finished = !matches!(settle, Settle::Abort);
        let opened = Vault::open(&v, if finished { &new } else { &old }, Access::Read)
            .unwrap_or_else(|err| panic!("step {point}: the vault does not open: {err}"));
        assert!(
            Vault::open(&v, if finished { &old } else { &new }, Access::Read).is_err(),
            "step {point}: {settle:?}"
        );
        assert_eq!(all_clients(&opened), expected, "step {point}");
        assert!(
            opened.verify().is_empty(),
            "step {point}: {:?}",
            opened.verify()
        );
        assert!(opened.audit_log().1.is_empty(), "step {point}");
        drop(opened);
        fs::remove_dir_all(&v).unwrap();
        let _ = fs::remove_dir_all(&kits);
        let _ = fs::remove_dir_all(&state);
    }
}
