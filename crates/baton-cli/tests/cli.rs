//! The `baton` binary end to end: every command of the vault-core issue, and at least
//! one case per error a user can cause, each checked for stdout, stderr, exit code and
//! "nothing changed".

mod common;

use common::{Env, PASS, client_file, copy_tree, snapshot};
use predicates::prelude::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

#[test]
fn init_writes_private_vault_and_share_files() {
    let e = Env::init();
    for dir in [
        &e.vault,
        &e.vault.join("clients"),
        &e.vault.join("audit"),
        &e.shares,
    ] {
        assert_eq!(
            fs::metadata(dir).unwrap().permissions().mode() & 0o777,
            0o700,
            "{dir:?}"
        );
    }
    for (p, _) in snapshot(&e.vault).iter().chain(snapshot(&e.shares).iter()) {
        assert_eq!(
            fs::metadata(p).unwrap().permissions().mode() & 0o777,
            0o600,
            "{p:?}"
        );
    }
    let mut names: Vec<_> = fs::read_dir(&e.shares)
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "anna.kit.html",
            "anna.txt",
            "ben.kit.html",
            "ben.txt",
            "carla.kit.html",
            "carla.txt"
        ]
    );
    let anna = fs::read_to_string(e.shares.join("anna.txt")).unwrap();
    let words = anna.lines().find(|l| !l.starts_with('#')).unwrap();
    assert_eq!(
        words.split(' ').count(),
        33,
        "256-bit SLIP-39 share has 33 words"
    );
    // The public header holds no holder names; the share words appear nowhere in the vault.
    let header = fs::read_to_string(e.vault.join("vault.json")).unwrap();
    assert!(!header.contains("anna"));
    for (_, bytes) in snapshot(&e.vault) {
        assert!(!String::from_utf8_lossy(&bytes).contains(words));
    }
    let s = e.json(&["status", "--json"]);
    assert_eq!(s["share_set"]["policy"], "2 of anna, ben, carla");
    assert_eq!(s["share_set"]["groups"][0]["count"], 3);
    assert_eq!(s["share_set"]["holders"][2]["name"], "carla");
    // The kit holds the same words, numbered, and names the other holders.
    let kit = fs::read_to_string(e.shares.join("anna.kit.html")).unwrap();
    for (i, w) in words.split(' ').enumerate().take(3) {
        assert!(kit.contains(&format!("<li>{w}</li>")), "word {}", i + 1);
    }
    assert!(kit.contains("2 von / of: anna, ben, carla"));
}

#[test]
fn full_flow_through_the_cli() {
    let e = Env::init();
    e.cmd(&[
        "client",
        "add",
        "acme",
        "--name",
        "ACME GmbH",
        "--contact",
        "it@acme.example",
    ])
    .assert()
    .success();
    e.cmd(&[
        "entry",
        "add",
        "acme",
        "ssh-root",
        "--kind",
        "server",
        "--url",
        "ssh://203.0.113.7",
        "--user",
        "root",
        "--generate",
    ])
    .assert()
    .success();
    let pw = e.file("pw.txt", "s3cr3t-registrar-pw\n");
    let totp = e.file(
        "totp.txt",
        "otpauth://totp/Reg:acme?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Reg\n",
    );
    e.cmd(&[
        "entry",
        "add",
        "acme",
        "registrar",
        "--kind",
        "domain",
        "--url",
        "https://registrar.example",
        "--user",
        "acme",
        "--note",
        "billing in March",
        "--password-file",
    ])
    .arg(&pw)
    .arg("--totp")
    .arg(&totp)
    .assert()
    .success();
    let key = e.file("id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n");
    e.cmd(&["entry", "attach", "acme", "ssh-root"])
        .arg(&key)
        .assert()
        .success();

    let list = e.json(&["list", "--json"]);
    assert_eq!(list[0]["id"], "acme");
    assert_eq!(list[0]["entries"], 2);
    let show = e.json(&["show", "acme", "--json"]);
    assert_eq!(show["entries"][0]["name"], "ssh-root");
    assert_eq!(show["entries"][0]["attachments"][0], "id_ed25519");
    assert_eq!(show["entries"][1]["name"], "registrar");
    assert_eq!(show["entries"][1]["has_totp"], true);
    assert!(
        !show.to_string().contains("s3cr3t"),
        "show must not print secrets"
    );

    // stdout is a pipe here, so `get` prints the value without --show.
    assert_eq!(
        e.stdout(&["get", "acme/registrar"]),
        "s3cr3t-registrar-pw\n"
    );
    assert_eq!(
        e.stdout(&["get", "acme/registrar", "--field", "user"]),
        "acme\n"
    );
    let generated = e.stdout(&["get", "acme/ssh-root"]);
    assert_eq!(generated.trim_end().len(), 24);
    assert_eq!(
        e.stdout(&["get", "acme/ssh-root", "--attachment", "id_ed25519"]),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n"
    );
    let full = e.json(&["get", "acme/registrar", "--json"]);
    assert_eq!(full["password"], "s3cr3t-registrar-pw");

    let hits = e.json(&["search", "203.0.113.7", "--json"]);
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["entry"], "ssh-root");
    assert_eq!(
        e.json(&["search", "MARCH", "--json"])[0]["entry"],
        "registrar"
    );

    // The TOTP code equals RFC 6238 for the stored secret at some instant of this test.
    let code = e.json(&["otp", "acme/registrar", "--json"])["code"]
        .as_str()
        .unwrap()
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let uri = fs::read_to_string(&totp).unwrap();
    let expected: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| baton::otp::code_at(uri.trim(), *t).unwrap().0)
        .collect();
    assert!(expected.contains(&code), "{code} not in {expected:?}");

    let pw2 = e.file("pw2.txt", "changed-pw\n");
    e.cmd(&[
        "entry",
        "edit",
        "acme",
        "registrar",
        "--user",
        "acme2",
        "--rename",
        "registrar2",
        "--password-file",
    ])
    .arg(&pw2)
    .assert()
    .success();
    assert_eq!(e.stdout(&["get", "acme/registrar2"]), "changed-pw\n");
    assert_eq!(
        e.stdout(&["get", "acme/registrar2", "--field", "user"]),
        "acme2\n"
    );
    e.cmd(&["entry", "rm", "acme", "registrar2"])
        .assert()
        .success();
    e.cmd(&["client", "add", "other"]).assert().success();
    e.cmd(&["client", "rm", "other", "--yes"])
        .assert()
        .success();
    assert_eq!(e.json(&["list", "--json"]).as_array().unwrap().len(), 1);

    let audit = e.json(&["audit", "--json"]);
    let actions: Vec<&str> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "vault.init",
            "client.add",
            "entry.add",
            "entry.add",
            "entry.attach",
            // One edit with --rename: one change, one record.
            "entry.rename",
            "entry.remove",
            "client.add",
            "client.remove"
        ]
    );
    let all_records = audit.to_string();
    for secret in ["s3cr3t", "changed-pw", "GEZDGNBV", generated.trim_end()] {
        assert!(!all_records.contains(secret), "audit log leaks a secret");
    }
    e.cmd(&["audit", "--verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("intact"));
    e.cmd(&["verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("vault intact"));
    let st = e.json(&["status", "--json"]);
    assert_eq!(st["clients"], 1);
    assert_eq!(st["entries"], 1);
}

#[test]
fn generate_and_passwd() {
    let out = Env::new().stdout(&["generate", "--length", "32"]);
    assert_eq!(out.trim_end().len(), 32);
    let words = Env::new().stdout(&["generate", "--words", "6"]);
    assert_eq!(words.trim_end().split('-').count(), 6);

    let e = Env::init();
    let new = e.file("new.txt", "the new owner passphrase\n");
    e.cmd(&["passwd", "--new-passphrase-file"])
        .arg(&new)
        .assert()
        .success();
    e.cmd(&["list"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("wrong passphrase"));
    let mut c = e.cmd(&["list", "--json"]);
    c.arg("--passphrase-file").arg(&new);
    c.assert().success();
}

#[test]
fn wrong_passphrase_changes_nothing() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let before = snapshot(&e.vault);
    let bad = e.file("bad.txt", "not the passphrase\n");
    let mut c = e.cmd(&["client", "add", "beta"]);
    c.arg("--passphrase-file").arg(&bad);
    c.assert()
        .code(3)
        .stderr(predicate::str::contains("baton: error: wrong passphrase"))
        .stderr(predicate::str::contains("baton: hint:"))
        .stderr(predicate::str::contains("not the passphrase").not());
    assert_eq!(before, snapshot(&e.vault));
}

#[test]
fn unknown_client_and_entry() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    e.cmd(&["show", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no client 'nope'"))
        .stderr(predicate::str::contains("baton list"));
    e.cmd(&["get", "acme/nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "client 'acme' has no entry 'nope'",
        ));
    // Usage errors (a malformed argument) exit 2.
    e.cmd(&["get", "acme"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CLIENT/ENTRY"));
    let before = snapshot(&e.vault);
    e.cmd(&["entry", "rm", "acme", "nope"]).assert().code(1);
    e.cmd(&["client", "add", "acme"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    e.cmd(&["client", "add", "Bad Name"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a valid name"));
    e.cmd(&["entry", "add", "acme", "x", "--kind", "spaceship"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown --kind value"));
    assert_eq!(before, snapshot(&e.vault));
}

#[test]
fn bad_totp_uri_is_refused_without_echo() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let before = snapshot(&e.vault);
    let bad = e.file("totp.txt", "otpauth://totp/x?secret=SUPERSECRET!!!\n");
    e.cmd(&["entry", "add", "acme", "reg", "--totp"])
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a valid otpauth://totp/ URI"))
        .stderr(predicate::str::contains("SUPERSECRET").not());
    // A URI given on the command line is refused before anything is read.
    e.cmd(&[
        "entry",
        "add",
        "acme",
        "reg",
        "--totp",
        "otpauth://totp/x?secret=GEZDGNBV",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("not the URI itself"))
    .stderr(predicate::str::contains("GEZDGNBV").not());
    assert_eq!(before, snapshot(&e.vault));
}

#[test]
fn secret_file_errors_do_not_echo_the_argument() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    // A user who typed the password where the file name belongs must not see it echoed.
    e.cmd(&[
        "entry",
        "add",
        "acme",
        "x",
        "--password-file",
        "hunter2-typed-by-mistake",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains("hunter2").not())
    .stderr(predicate::str::contains("not the secret itself"));
}

#[test]
fn refuses_to_print_secrets_to_a_terminal_unless_asked() {
    // The tests have no terminal; the rule itself is in emit_secret. Here: -o writes a new
    // 0600 file and never overwrites.
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let pw = e.file("pw.txt", "pw-value\n");
    e.cmd(&["entry", "add", "acme", "x", "--password-file"])
        .arg(&pw)
        .assert()
        .success();
    let out = e.dir.path().join("out.txt");
    e.cmd(&["get", "acme/x", "-o"]).arg(&out).assert().success();
    assert_eq!(fs::read_to_string(&out).unwrap(), "pw-value\n");
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    e.cmd(&["get", "acme/x", "-o"])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("must not exist"));
}

#[test]
fn corrupted_and_missing_client_files_name_the_client() {
    let e = Env::init();
    for c in ["acme", "beta"] {
        e.cmd(&["client", "add", c]).assert().success();
    }
    let files = [client_file(&e.vault, "acme"), client_file(&e.vault, "beta")];
    // Flip one byte in one client file.
    let mut bytes = fs::read(&files[0]).unwrap();
    let n = bytes.len() - 5;
    bytes[n] ^= 1;
    fs::write(&files[0], bytes).unwrap();
    let out = e.cmd(&["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("was replaced, swapped or rolled back"),
        "{err}"
    );
    assert!(
        err.contains("client 'acme'") || err.contains("client 'beta'"),
        "{err}"
    );
    // Delete the other one.
    fs::remove_file(&files[1]).unwrap();
    let err = String::from_utf8(e.cmd(&["verify", "--json"]).output().unwrap().stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&err).unwrap();
    assert_eq!(v["problems"].as_array().unwrap().len(), 2);
    // Writes to a damaged client are refused and change nothing.
    let before = snapshot(&e.vault);
    e.cmd(&["entry", "add", "acme", "x"]).assert().code(4);
    e.cmd(&["entry", "add", "beta", "x"]).assert().code(4);
    assert_eq!(before, snapshot(&e.vault));
}

#[test]
fn damaged_index_and_header() {
    let e = Env::init();
    let index = common::head_file(&e.vault);
    let good = fs::read(&index).unwrap();
    fs::write(&index, b"garbage").unwrap();
    e.cmd(&["list"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("it cannot be decrypted"));
    fs::remove_file(&index).unwrap();
    e.cmd(&["list"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("are missing"));
    fs::write(&index, good).unwrap();
    e.cmd(&["list"]).assert().success();
    let header = e.vault.join("vault.json");
    fs::write(&header, b"{not json").unwrap();
    e.cmd(&["list"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("not a valid baton header"));
}

#[test]
fn missing_vault_and_missing_flags() {
    let e = Env::new();
    e.cmd(&["list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no vault at"))
        .stderr(predicate::str::contains("baton init"));
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    c.env_remove("BATON_VAULT")
        .arg("list")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--vault"));
    // Init into a non-empty folder is refused.
    fs::create_dir_all(&e.vault).unwrap();
    fs::write(e.vault.join("x"), "x").unwrap();
    e.cmd(&[
        "init",
        "--holders",
        "a,b",
        "-t",
        "2",
        "--insecure-test-kdf",
        "--shares-out",
    ])
    .arg(&e.shares)
    .assert()
    .code(1)
    .stderr(predicate::str::contains("not empty"));
    assert!(!e.shares.exists());
    let e = Env::new();
    e.cmd(&[
        "init",
        "--holders",
        "a,b",
        "-t",
        "3",
        "--insecure-test-kdf",
        "--shares-out",
    ])
    .arg(&e.shares)
    .assert()
    .code(2)
    .stderr(predicate::str::contains(
        "a group needs 3 of 2 holders, which is impossible",
    ));
    assert!(!e.vault.exists());
}

#[test]
fn locked_vault() {
    let e = Env::init();
    let _held = baton::fs::WriteLock::try_acquire(&e.vault)
        .unwrap()
        .unwrap();
    e.cmd(&["client", "add", "acme"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("locked by another baton process"));
    // An export is recorded, so it waits for the lock too (it does not quietly skip
    // the audit log).
    e.cmd(&["export", "acme", "--passphrase"]).assert().code(5);
    // Readers still work while a writer holds the lock.
    e.cmd(&["list"]).assert().success();
}

#[test]
fn passphrase_from_environment_variable_names_a_file() {
    let e = Env::init();
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    c.env("BATON_VAULT", &e.vault)
        .env("BATON_PASSPHRASE_FILE", &e.pass_file)
        .args(["list", "--json"]);
    c.assert().success();
    // Without a terminal and without a file, baton says how to give the passphrase.
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    c.env("BATON_VAULT", &e.vault)
        .env_remove("BATON_PASSPHRASE_FILE")
        .arg("list");
    let out = c.output().unwrap();
    assert!(!out.status.success());
    let _ = PASS;
}

#[test]
fn completions_and_man_page() {
    let e = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = e.stdout(&["completions", shell]);
        assert!(out.contains("baton"), "{shell}");
    }
    let man = e.stdout(&["man"]);
    assert!(man.contains(".TH baton"));
}

#[test]
fn demo_runs() {
    let e = Env::new();
    let out = e.stdout(&["demo"]);
    assert!(out.contains("the rebuilt key is proven against the vault's emergency recipient"));
    assert!(out.contains("anna's share again: refused"));
    assert!(out.contains("purge lists verein-nord"), "{out}");
    assert!(out.contains("due for deletion"), "{out}");
    assert!(out.contains("the checksum points to word 7"));
    assert!(out.contains("detected: client"));
    assert!(out.contains("verify: 0 problems"));
}

#[test]
fn shares_are_never_written_inside_the_vault() {
    let e = Env::new();
    let inside = e.vault.join("shares");
    e.cmd(&[
        "init",
        "--holders",
        "a,b",
        "-t",
        "2",
        "--insecure-test-kdf",
        "--shares-out",
    ])
    .arg(&inside)
    .assert()
    .code(1)
    .stderr(predicate::str::contains("must not be inside the vault"));
    // Also when the path reaches the vault through a symlink.
    fs::create_dir_all(&e.vault).unwrap();
    let link = e.dir.path().join("link");
    std::os::unix::fs::symlink(&e.vault, &link).unwrap();
    e.cmd(&[
        "init",
        "--holders",
        "a,b",
        "-t",
        "2",
        "--insecure-test-kdf",
        "--shares-out",
    ])
    .arg(link.join("shares"))
    .assert()
    .code(1)
    .stderr(predicate::str::contains("must not be inside the vault"));
    assert_eq!(fs::read_dir(&e.vault).unwrap().count(), 0);
}

#[test]
fn a_vault_rolled_back_behind_this_machine_is_refused() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let backup = e.dir.path().join("backup");
    copy_tree(&e.vault, &backup);
    e.cmd(&["client", "add", "beta"]).assert().success();
    // Restore the whole older vault: every file is genuine, but this machine has seen a
    // newer revision.
    fs::remove_dir_all(&e.vault).unwrap();
    copy_tree(&backup, &e.vault);
    e.cmd(&["list"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("the vault was rolled back"))
        .stderr(predicate::str::contains("on purpose"));
}

#[test]
fn attachments_replace_and_detach() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    e.cmd(&["entry", "add", "acme", "ssh"]).assert().success();
    let k1 = e.file("key", "first\n");
    e.cmd(&["entry", "attach", "acme", "ssh"])
        .arg(&k1)
        .assert()
        .success();
    let k2 = e.file("key2", "second\n");
    e.cmd(&["entry", "attach", "acme", "ssh", "--as", "key"])
        .arg(&k2)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already has an attachment 'key'"));
    e.cmd(&["entry", "attach", "acme", "ssh", "--as", "key", "--force"])
        .arg(&k2)
        .assert()
        .success();
    assert_eq!(
        e.stdout(&["get", "acme/ssh", "--attachment", "key"]),
        "second\n"
    );
    e.cmd(&["entry", "detach", "acme", "ssh", "key"])
        .assert()
        .success();
    e.cmd(&["entry", "detach", "acme", "ssh", "key"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has no attachment 'key'"));
    e.cmd(&["entry", "attach", "acme", "nope"])
        .arg(&k1)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has no entry 'nope'"));
}

/// The actions of the audit log, in order.
fn audit_actions(e: &Env) -> Vec<String> {
    e.json(&["audit", "--json"])["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect()
}

/// A command that fails applies nothing, and a command that is one change is one commit
/// with one record (red-team finding: an entry edit whose rename was refused still
/// stored the new password; settings with a bad owner name still changed the interval
/// and the retention and wrote two records).
#[test]
fn a_failing_command_applies_nothing() {
    let e = Env::init();
    e.cmd(&["client", "add", "c1"]).assert().success();
    let old = e.file("old.txt", "the-old-password\n");
    let new = e.file("new.txt", "the-new-password\n");
    for name in ["root", "db"] {
        e.cmd(&["entry", "add", "c1", name, "--password-file"])
            .arg(&old)
            .assert()
            .success();
    }
    let before = snapshot(&e.vault);
    e.cmd(&[
        "entry",
        "edit",
        "c1",
        "root",
        "--rename",
        "db",
        "--password-file",
    ])
    .arg(&new)
    .assert()
    .code(1)
    .stderr(predicate::str::contains("already has an entry 'db'"));
    assert!(
        snapshot(&e.vault) == before,
        "a refused entry edit changed the vault"
    );
    e.cmd(&[
        "settings",
        "--rotate-every",
        "6",
        "--retention-months",
        "24",
        "--owner-name",
        "bad\u{1}",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains("owner name"))
    .stderr(predicate::str::contains("nothing was changed"));
    assert!(
        snapshot(&e.vault) == before,
        "refused settings changed the vault"
    );

    // The same commands with good values: each is one commit with one record.
    let records = audit_actions(&e).len();
    e.cmd(&[
        "entry",
        "edit",
        "c1",
        "root",
        "--rename",
        "admin",
        "--password-file",
    ])
    .arg(&new)
    .assert()
    .success()
    .stderr(predicate::str::contains("updated c1/admin"));
    assert_eq!(
        e.stdout(&["get", "c1/admin", "--show"]),
        "the-new-password\n"
    );
    let log = e.json(&["audit", "--json"]);
    let last = log["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "entry.rename");
    assert_eq!(last["detail"], "root -> admin: password");
    assert_eq!(audit_actions(&e).len(), records + 1);
    e.cmd(&[
        "settings",
        "--rotate-every",
        "6",
        "--retention-months",
        "24",
        "--owner-name",
        "Max Admin",
    ])
    .assert()
    .success();
    let s = e.json(&["settings", "--json"]);
    assert_eq!(s["rotate_every_months"], 6);
    assert_eq!(s["retention_months"], 24);
    assert_eq!(s["owner_name"], "Max Admin");
    assert_eq!(audit_actions(&e).len(), records + 2);
    assert_eq!(e.last_audit()["action"], "settings.change");
    // One setting alone keeps its own record.
    e.cmd(&["settings", "--retention-months", "36"])
        .assert()
        .success();
    assert_eq!(e.last_audit()["action"], "settings.retention");
}

/// A write refuses an audit log whose chain is broken (a record deleted, or replaced by
/// another one): chaining on would make the break permanent (red-team finding). Reads
/// still work, and `audit --verify` names the record.
#[test]
fn writes_refuse_a_broken_audit_chain() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    e.cmd(&["entry", "add", "acme", "one"]).assert().success();
    e.cmd(&["entry", "add", "acme", "two"]).assert().success();
    let record = |seq: u64| common::record_file(&e.vault, seq);
    let kept = e.dir.path().join("record-2");
    fs::rename(record(2), &kept).unwrap();
    let before = snapshot(&e.vault);
    e.cmd(&["entry", "add", "acme", "three"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "baton: error: the audit log is broken (audit record 2 is missing); no change is written on top of it",
        ))
        .stderr(predicate::str::contains("baton: hint:"));
    assert!(
        snapshot(&e.vault) == before,
        "a write chained onto a broken log"
    );
    // An export is recorded too: refused before the package is written.
    let out = e.dir.path().join("acme.age");
    e.cmd(&["export", "acme", "--passphrase", "-o"])
        .arg(&out)
        .assert()
        .code(4);
    assert!(!out.exists(), "a package was written without its record");
    e.cmd(&["list"]).assert().success();
    e.cmd(&["audit", "--verify"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("audit record 2 is missing"));
    // A genuine record in the wrong place (a forgery with real bytes) breaks it too.
    fs::copy(record(3), record(2)).unwrap();
    e.cmd(&["client", "add", "beta"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "audit record 2 does not continue the chain",
        ));
    // Put back, the log is whole and writes work again.
    fs::rename(&kept, record(2)).unwrap();
    e.cmd(&["entry", "add", "acme", "three"]).assert().success();
    e.cmd(&["audit", "--verify"]).assert().success();
}
