//! Client packages (issue: client credential packages) opened with the real `age`
//! command: for an age recipient, an SSH ed25519 key and a passphrase; the unpacked
//! credentials.json must equal the vault's data.

mod common;

use common::Env;
use predicates::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The programs a client uses to open a package (Debian packages in brackets); fails
/// the test, naming the missing one, if any is not installed.
#[track_caller]
fn need_client_tools() {
    for (program, package) in [
        ("age", "age"),
        ("age-keygen", "age"),
        ("ssh-keygen", "openssh-client"),
        ("tar", "tar"),
        ("python3", "python3"),
    ] {
        common::need(program, package);
    }
}

/// A vault with one client that has every kind of field, plus a second client.
fn populated() -> Env {
    let e = Env::init_with_owner();
    e.cmd(&[
        "client",
        "add",
        "acme",
        "--name",
        "ACME <GmbH> & Co",
        "--contact",
        "it@acme.example",
    ])
    .assert()
    .success();
    let pw = e.file("pw.txt", "pa$$w<rd>&\"quoted\"\n");
    let totp = e.file(
        "totp.txt",
        "otpauth://totp/Registrar:acme?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Registrar\n",
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
        "billing in März",
        "--password-file",
    ])
    .arg(&pw)
    .arg("--totp")
    .arg(&totp)
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
    let key = e.file(
        "id_ed25519",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nfake key body\n-----END OPENSSH PRIVATE KEY-----\n",
    );
    e.cmd(&["entry", "attach", "acme", "ssh-root"])
        .arg(&key)
        .assert()
        .success();
    e.cmd(&["client", "add", "other", "--name", "Other Ltd"])
        .assert()
        .success();
    let pw2 = e.file("pw2.txt", "other-client-secret\n");
    e.cmd(&["entry", "add", "other", "x", "--password-file"])
        .arg(&pw2)
        .assert()
        .success();
    e
}

/// Stores a new age key as the client's package recipient and returns the client's
/// identity, as the client would keep it.
fn give_age_key(e: &Env, client: &str) -> age::x25519::Identity {
    let id = age::x25519::Identity::generate();
    e.cmd(&[
        "client",
        "set-recipient",
        client,
        &id.to_public().to_string(),
    ])
    .assert()
    .success();
    id
}

fn untar(tar: &Path, into: &Path) -> PathBuf {
    fs::create_dir_all(into).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(tar)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(st.success());
    let mut dirs: Vec<_> = fs::read_dir(into)
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "one top folder");
    dirs.pop().unwrap()
}

/// The package's credentials.json must carry exactly the vault's values.
fn check_package(e: &Env, dir: &Path) {
    for f in ["README.txt", "credentials.html", "credentials.json"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let readme = fs::read_to_string(dir.join("README.txt")).unwrap();
    assert!(readme.contains("DEUTSCH") && readme.contains("ENGLISH"));
    assert!(readme.contains("Max Admin <max@admin.example>"));
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("credentials.json")).unwrap()).unwrap();
    assert_eq!(json["format"], "baton-export");
    assert_eq!(json["version"], 1);
    assert_eq!(json["client"]["name"], "ACME <GmbH> & Co");
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for entry in entries {
        let name = entry["name"].as_str().unwrap();
        let vault = e.json(&["get", &format!("acme/{name}"), "--json"]);
        for field in [
            "kind", "url", "user", "password", "totp", "note", "tags", "created", "updated",
        ] {
            assert_eq!(entry[field], vault[field], "{name}.{field}");
        }
        for (i, a) in entry["attachments"].as_array().unwrap().iter().enumerate() {
            assert_eq!(a, &vault["attachments"][i]);
            let stored = e.stdout(&[
                "get",
                &format!("acme/{name}"),
                "--attachment",
                a["name"].as_str().unwrap(),
            ]);
            assert_eq!(
                fs::read_to_string(dir.join(a["path"].as_str().unwrap())).unwrap(),
                stored
            );
        }
    }
    // Nothing of the other client, of the vault's keys or of the audit log travels in
    // this package.
    for f in walk(dir) {
        let text = String::from_utf8_lossy(&fs::read(&f).unwrap()).to_string();
        assert!(!text.contains("other-client-secret"), "{f:?}");
        assert!(!text.contains("Other Ltd"), "{f:?}");
        assert!(!text.contains("AGE-SECRET-KEY"), "{f:?}");
        assert!(
            !text.contains("client.add") && !text.contains("vault.init"),
            "{f:?}"
        );
    }
    let html = fs::read_to_string(dir.join("credentials.html")).unwrap();
    assert!(
        html.contains("ACME &lt;GmbH&gt; &amp; Co"),
        "names are escaped"
    );
    assert!(
        html.contains("pa$$w&lt;rd&gt;&amp;&quot;quoted&quot;"),
        "passwords are escaped"
    );
    assert!(!html.contains("src=\"http"), "self-contained");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for d in fs::read_dir(dir).unwrap() {
        let p = d.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn age_decrypt_with_identity(identity: &Path, package: &Path, out: &Path) {
    fs::write(out, common::age_decrypt(identity, package)).unwrap();
}

#[test]
#[ignore = "needs age, age-keygen, ssh-keygen; run with --include-ignored (CI does)"]
fn age_cli_opens_packages_for_age_ssh_and_passphrase() {
    need_client_tools();
    let e = populated();
    let tmp = e.dir.path();

    // 1. The client's stored age recipient.
    let key = tmp.join("client.key");
    assert!(
        Command::new("age-keygen")
            .arg("-o")
            .arg(&key)
            .output()
            .unwrap()
            .status
            .success()
    );
    let recipient = fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    e.cmd(&["client", "set-recipient", "acme", &recipient])
        .assert()
        .success();
    let pkg = tmp.join("acme.age");
    e.cmd(&["export", "acme", "-o"])
        .arg(&pkg)
        .assert()
        .success();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&pkg).unwrap().permissions().mode() & 0o777,
        0o600
    );
    age_decrypt_with_identity(&key, &pkg, &tmp.join("a.tar"));
    check_package(&e, &untar(&tmp.join("a.tar"), &tmp.join("a")));
    // No silent overwrite.
    e.cmd(&["export", "acme", "-o"])
        .arg(&pkg)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--force"));
    e.cmd(&["export", "acme", "--force", "--armor", "-o"])
        .arg(&pkg)
        .assert()
        .success();
    assert!(
        fs::read_to_string(&pkg)
            .unwrap()
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
    );

    // 2. An SSH ed25519 key, given on the command line.
    let ssh = tmp.join("id_client");
    assert!(
        Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "client@example",
                "-f"
            ])
            .arg(&ssh)
            .status()
            .unwrap()
            .success()
    );
    let pkg2 = tmp.join("acme-ssh.age");
    e.cmd(&["export", "acme", "--to-ssh-key"])
        .arg(ssh.with_extension("pub"))
        .arg("-o")
        .arg(&pkg2)
        .assert()
        .success();
    age_decrypt_with_identity(&ssh, &pkg2, &tmp.join("b.tar"));
    check_package(&e, &untar(&tmp.join("b.tar"), &tmp.join("b")));

    // 3. A generated passphrase, typed into age's terminal prompt.
    let pkg3 = tmp.join("acme-pass.age");
    let out = e
        .cmd_detached(&["export", "acme", "--passphrase", "-o"])
        .arg(&pkg3)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let pass = stderr
        .lines()
        .skip_while(|l| !l.starts_with("password for this package"))
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(pass.split('-').count(), 8);
    let tar3 = tmp.join("c.tar");
    let script = format!(
        "import os,pty,sys,time\npid,fd=pty.fork()\nif pid==0:\n os.execvp('age',['age','-d','-o',{out:?},{pkg:?}])\nbuf=b''\nwhile b'assphrase' not in buf:\n buf+=os.read(fd,1024)\nos.write(fd,{pw:?}.encode()+b'\\n')\nwhile True:\n  try:\n    if not os.read(fd,1024): break\n  except OSError: break\n_,st=os.waitpid(pid,0)\nsys.exit(os.waitstatus_to_exitcode(st))\n",
        out = tar3.to_str().unwrap(),
        pkg = pkg3.to_str().unwrap(),
        pw = pass
    );
    let st = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    assert!(st.success(), "age -d with the passphrase failed");
    check_package(&e, &untar(&tar3, &tmp.join("c")));

    // Every export is in the audit log, with fingerprints and never a secret.
    let audit = e.json(&["audit", "--json"]).to_string();
    assert_eq!(audit.matches("client.export").count(), 4);
    assert!(audit.contains("SHA256:"));
    assert!(!audit.contains(&pass));
    assert!(!audit.contains("pa$$w"));
}

#[test]
fn bad_recipients_are_named_and_never_echoed() {
    let e = populated();
    let cases: [(&str, &str); 4] = [
        (
            "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
            "identity (a secret key), not a recipient",
        ),
        ("age1notarealrecipient", "not a valid age recipient"),
        (
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHw5Zy5y8wWH0n0m2p0lq3iVqGZG0t9FmG8W1yG0bkqD+7TUe7sXbVXyM7mkvNMuAHNgVGpKr4YDyAXMNtqgcsQ=",
            "ssh",
        ),
        ("hello", "not an age recipient"),
    ];
    for (bad, expect) in cases {
        e.cmd(&["export", "acme", "--to", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("recipient 1 of 1"))
            .stderr(predicate::str::contains(expect))
            .stderr(predicate::str::contains(bad).not());
    }
    // A private key file passed as a recipient file: named by line, not printed.
    let private = e.file(
        "id_oops",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETBODY\n-----END OPENSSH PRIVATE KEY-----\n",
    );
    e.cmd(&["export", "acme", "--to-ssh-key"])
        .arg(&private)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("line 1: this is a private key"))
        .stderr(predicate::str::contains("SECRETBODY").not());
    // No recipient at all.
    e.cmd(&["export", "acme"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has no package recipient"))
        .stderr(predicate::str::contains("set-recipient"));
}

#[test]
fn export_all_reports_skipped_clients() {
    let e = populated();
    let id = give_age_key(&e, "acme");
    let dir = e.dir.path().join("handover");
    let out = e
        .cmd(&["export", "--all", "--out-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("exported acme"), "{stdout}");
    assert!(stdout.contains("skipped  other"), "{stdout}");
    assert!(stdout.contains("no recipient stored"), "{stdout}");
    let files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let plain = age::decrypt(&id, &fs::read(&files[0]).unwrap()).unwrap();
    assert!(plain.windows(16).any(|w| w == b"credentials.json"));
}

#[test]
fn html_sheet_needs_confirmation() {
    let e = populated();
    let out = e.dir.path().join("sheet.html");
    e.cmd(&["export", "acme", "--format", "html", "-o"])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--yes"));
    assert!(!out.exists());
    e.cmd(&["export", "acme", "--format", "html", "--yes", "-o"])
        .arg(&out)
        .assert()
        .success();
    let html = fs::read_to_string(&out).unwrap();
    assert!(html.contains("<svg"), "TOTP QR code");
    assert!(html.contains("registrar"));
}

/// Runs keepassxc-cli with the database password on stdin.
fn kpxc(password: &str, args: &[&str]) -> String {
    let out = common::run_with_input(
        Command::new("keepassxc-cli").args(args),
        &format!("{password}\n"),
    );
    assert!(
        out.status.success(),
        "keepassxc-cli {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "needs keepassxc-cli; run with --include-ignored (CI does)"]
fn keepassxc_opens_the_kdbx_export_with_every_field() {
    common::need("keepassxc-cli", "keepassxc");
    let e = populated();
    let db = e.dir.path().join("acme.kdbx");
    let out = e
        .cmd_detached(&["export", "acme", "--format", "kdbx", "-o"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let pw = stderr
        .lines()
        .skip_while(|l| !l.starts_with("password for this package"))
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let db_s = db.to_str().unwrap();
    let listing = kpxc(&pw, &["ls", "-R", "-f", db_s]);
    assert!(listing.contains("ACME <GmbH> & Co/registrar"), "{listing}");
    assert!(listing.contains("ACME <GmbH> & Co/ssh-root"), "{listing}");
    for name in ["registrar", "ssh-root"] {
        let vault = e.json(&["get", &format!("acme/{name}"), "--json"]);
        let path = format!("ACME <GmbH> & Co/{name}");
        for (attr, field) in [
            ("UserName", "user"),
            ("Password", "password"),
            ("URL", "url"),
        ] {
            let got = kpxc(&pw, &["show", "-s", "-a", attr, db_s, &path]);
            assert_eq!(
                got.trim_end_matches('\n'),
                vault[field].as_str().unwrap(),
                "{name}.{attr}"
            );
        }
    }
    // The TOTP seed: KeePassXC's code equals baton's within one 30 s step.
    let theirs = kpxc(&pw, &["show", "--totp", db_s, "ACME <GmbH> & Co/registrar"]);
    let uri = e.json(&["get", "acme/registrar", "--json"])["totp"]
        .as_str()
        .unwrap()
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ours: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| baton::otp::code_at(&uri, *t).unwrap().0)
        .collect();
    assert!(
        ours.contains(&theirs.trim().to_string()),
        "{theirs} not in {ours:?}"
    );
    // The attachment, byte for byte.
    let exported = e.dir.path().join("key-out");
    kpxc(
        &pw,
        &[
            "attachment-export",
            db_s,
            "ACME <GmbH> & Co/ssh-root",
            "id_ed25519",
            exported.to_str().unwrap(),
        ],
    );
    assert_eq!(
        fs::read_to_string(&exported).unwrap(),
        e.stdout(&["get", "acme/ssh-root", "--attachment", "id_ed25519"])
    );
    // A wrong password does not open it.
    let bad = Command::new("sh")
        .arg("-c")
        .arg(format!("echo wrong | keepassxc-cli ls '{db_s}'"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn export_all_on_the_demo_vault() {
    let e = Env::new();
    let keep = e.dir.path().join("demo");
    e.cmd(&["demo", "--keep"]).arg(&keep).assert().success();
    let out_dir = e.dir.path().join("handover");
    let mut c = assert_cmd::Command::cargo_bin("baton").unwrap();
    c.env("XDG_STATE_HOME", e.dir.path().join("state"))
        .arg("--vault")
        .arg(keep.join("vault"))
        .arg("--passphrase-file")
        .arg(keep.join("demo-passphrase.txt"))
        .args(["export", "--all", "--out-dir"])
        .arg(&out_dir);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("exported acme"), "{stdout}");
    assert!(stdout.contains("exported verein-nord"), "{stdout}");
    assert!(
        stdout.contains("skipped  baeckerei-jung") && stdout.contains("no recipient stored"),
        "{stdout}"
    );
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("2 package(s) written, 1 client(s) skipped")
    );
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 2);
}

#[test]
#[ignore = "needs age, ssh-keygen; run with --include-ignored (CI does)"]
fn ssh_rsa_recipient_and_openssh_fingerprint() {
    need_client_tools();
    let e = populated();
    let tmp = e.dir.path();
    let rsa = tmp.join("id_rsa_client");
    assert!(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
            .arg(&rsa)
            .status()
            .unwrap()
            .success()
    );
    let pubkey = rsa.with_extension("pub");
    // The stored recipient's fingerprint is what `ssh-keygen -l` shows the client.
    let out = e
        .cmd(&["client", "set-recipient", "acme"])
        .arg(&pubkey)
        .output()
        .unwrap();
    assert!(out.status.success());
    let keygen = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&pubkey)
        .output()
        .unwrap();
    let fp = String::from_utf8(keygen.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(String::from_utf8(out.stderr).unwrap().contains(&fp));
    let pkg = tmp.join("acme-rsa.age");
    e.cmd(&["export", "acme", "-o"])
        .arg(&pkg)
        .assert()
        .success();
    age_decrypt_with_identity(&rsa, &pkg, &tmp.join("r.tar"));
    check_package(&e, &untar(&tmp.join("r.tar"), &tmp.join("r")));
    assert!(e.json(&["audit", "--json"]).to_string().contains(&fp));
    // A path that does not exist is named as a missing file, not as a bad key.
    e.cmd(&["export", "acme", "--to", "keys/missing.pub"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no such file"));
}

#[test]
fn export_all_goes_on_after_a_failure_and_reports_it() {
    let e = populated();
    for c in ["acme", "other"] {
        give_age_key(&e, c);
    }
    let dir = e.dir.path().join("out");
    fs::create_dir(&dir).unwrap();
    let date = &e.json(&["status", "--json"])["updated"].as_str().unwrap()[..10].to_string();
    // A file in the way for acme (sorted first): acme fails, other is still exported.
    fs::write(dir.join(format!("baton-acme-{date}.age")), b"in the way").unwrap();
    let out = e
        .cmd(&["export", "--all", "--out-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("failed   acme"), "{stdout}");
    assert!(stdout.contains("exported other"), "{stdout}");
    assert_eq!(
        fs::read(dir.join(format!("baton-acme-{date}.age"))).unwrap(),
        b"in the way"
    );
    // No staged leftovers, and a record only for the package that was written.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
    let audit = e.json(&["audit", "--json"]).to_string();
    assert_eq!(audit.matches("client.export").count(), 1, "{audit}");
    // --all exports age packages only.
    e.cmd(&["export", "--all", "--format", "kdbx", "--out-dir"])
        .arg(&dir)
        .assert()
        .code(2);
}

#[test]
fn force_never_replaces_a_symlink() {
    let e = populated();
    give_age_key(&e, "acme");
    let target = e.dir.path().join("precious");
    fs::write(&target, b"keep").unwrap();
    let link = e.dir.path().join("link.age");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    e.cmd(&["export", "acme", "--force", "-o"])
        .arg(&link)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a regular file"));
    assert_eq!(fs::read(&target).unwrap(), b"keep");
    let before = e.json(&["audit", "--json"])["records"]
        .as_array()
        .unwrap()
        .len();
    e.cmd(&["export", "acme", "-o"]).arg(&link).assert().code(1);
    assert_eq!(
        e.json(&["audit", "--json"])["records"]
            .as_array()
            .unwrap()
            .len(),
        before,
        "no record without a file"
    );
}

/// Whether `dir`'s file system makes unnamed files (`O_TMPFILE`), with which a killed
/// export leaves no temporary file (baton::fs::write_private).
fn unnamed_files_work(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(dir)
        .is_ok()
}

/// The clients named by `client.export` records, in order.
fn export_records(e: &Env, vault: &Path) -> Vec<String> {
    let out = e.cmd_at(vault, &["audit", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    log["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "client.export")
        .map(|r| r["client"].as_str().unwrap().to_string())
        .collect()
}

/// An output inside the vault folder is refused before anything is written or recorded
/// (red-team finding: the export was recorded, then failed with ENOENT because the
/// vault's own cleanup removed the staged package), also through a symlink.
#[test]
fn an_export_into_the_vault_folder_is_refused_before_anything() {
    let e = populated();
    give_age_key(&e, "acme");
    let records = export_records(&e, &e.vault);
    let before = common::snapshot(&e.vault);
    let link = e.dir.path().join("link");
    std::os::unix::fs::symlink(&e.vault, &link).unwrap();
    for target in [
        e.vault.join("acme.age"),
        e.vault.join("clients").join("acme.age"),
        link.join("acme.age"),
    ] {
        e.cmd(&["export", "acme", "-o"])
            .arg(&target)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "baton: error: the export file must not be inside the vault",
            ));
        assert!(!target.exists());
    }
    for dir in [e.vault.join("out"), link.join("out"), e.vault.clone()] {
        e.cmd(&["export", "--all", "--out-dir"])
            .arg(&dir)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "baton: error: the export folder must not be inside the vault (or contain it)",
            ));
    }
    assert!(common::snapshot(&e.vault) == before, "the vault changed");
    assert_eq!(export_records(&e, &e.vault), records);
}

/// `export --all` killed with SIGKILL at every step: every `client.export` record names
/// a package that exists under its final name (red-team finding: the records were
/// committed while the packages existed only as hidden temporary files), and no
/// temporary file is left beside the packages where the file system can avoid it.
#[test]
fn export_all_killed_at_any_step_records_only_written_packages() {
    let e = populated();
    for c in ["acme", "other"] {
        give_age_key(&e, c);
    }
    let date = e.json(&["status", "--json"])["updated"].as_str().unwrap()[..10].to_string();
    let args = |out: &Path| -> Vec<String> {
        vec![
            "export".into(),
            "--all".into(),
            "--out-dir".into(),
            out.display().to_string(),
        ]
    };
    let probe_out = e.dir.path().join("probe-out");
    let probe_args = args(&probe_out);
    let probe_args: Vec<&str> = probe_args.iter().map(String::as_str).collect();
    let trace = common::fault_trace(&e, &e.vault, &probe_args);
    assert!(trace.len() > 4, "{trace:?}");
    let before = export_records(&e, &e.vault).len();
    for point in 1..=trace.len() as u64 {
        let out = e.dir.path().join(format!("out-{point}"));
        let a = args(&out);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let v = common::crash_at(&e, &e.vault, &format!("export-{point}"), &a, point);
        let recorded = export_records(&e, &v);
        if out.is_dir() && unnamed_files_work(&out) {
            let hidden: Vec<_> = fs::read_dir(&out)
                .unwrap()
                .map(|d| d.unwrap().file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with('.'))
                .collect();
            assert!(hidden.is_empty(), "step {point}: left {hidden:?}");
        }
        for id in &recorded[before..] {
            let package = out.join(format!("baton-{id}-{date}.age"));
            assert!(
                package.is_file(),
                "step {point} ({}): {id} recorded, but {} does not exist",
                trace[point as usize - 1],
                package.display()
            );
        }
        fs::remove_dir_all(&v).unwrap();
    }
}
