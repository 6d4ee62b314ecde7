//! Two devices change the same data while apart (docs/format.md#merge): `list` marks the
//! client, `status` names it, `status --check --verify` calls it a problem, `conflicts`
//! shows every version (secrets only with --reveal), and `resolve` settles it once for
//! both devices.
//!
//! Device A is the test's vault folder, device B a copy of it in another folder (so
//! another writer) with its own state folder (`cmd_at`). The sync service is modelled
//! by `Sync`: every file is written by one writer only, so it copies new files both
//! ways, lets a head its writer replaced win, and removes on one side what the other
//! removed since the last sync.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Env, copy_tree};

const DIRS: [&str; 3] = ["heads", "clients", "audit"];

/// A sync service between two folders: remembers what both held after the last sync.
struct Sync {
    a: PathBuf,
    b: PathBuf,
    known: BTreeSet<String>,
}

impl Sync {
    fn new(a: &Path, b: &Path) -> Sync {
        let mut s = Sync {
            a: a.to_path_buf(),
            b: b.to_path_buf(),
            known: BTreeSet::new(),
        };
        s.known = s.files(a);
        s
    }

    fn files(&self, root: &Path) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for dir in DIRS {
            if let Ok(rd) = fs::read_dir(root.join(dir)) {
                for e in rd.flatten() {
                    out.insert(format!("{dir}/{}", e.file_name().to_string_lossy()));
                }
            }
        }
        out
    }

    fn run(&mut self) {
        let (a, b) = (self.a.clone(), self.b.clone());
        let (in_a, in_b) = (self.files(&a), self.files(&b));
        // Removed on one side since the last sync: removed on the other.
        for rel in &self.known {
            match (in_a.contains(rel), in_b.contains(rel)) {
                (false, true) => fs::remove_file(b.join(rel)).unwrap(),
                (true, false) => fs::remove_file(a.join(rel)).unwrap(),
                _ => {}
            }
        }
        for (from, to, have, other) in [(&a, &b, &in_a, &in_b), (&b, &a, &in_b, &in_a)] {
            for rel in have {
                let removed_there = self.known.contains(rel) && !other.contains(rel);
                if removed_there {
                    continue;
                }
                let src = from.join(rel);
                let dst = to.join(rel);
                let mtime = fs::metadata(&src).unwrap().modified().unwrap();
                let newer = fs::metadata(&dst)
                    .and_then(|m| m.modified())
                    .map_or(true, |t| t < mtime);
                if !dst.exists() || (rel.starts_with("heads/") && newer) {
                    fs::create_dir_all(dst.parent().unwrap()).unwrap();
                    fs::copy(&src, &dst).unwrap();
                    let f = fs::File::options().write(true).open(&dst).unwrap();
                    f.set_modified(mtime).unwrap();
                }
            }
        }
        self.known = self.files(&a);
        assert_eq!(
            self.known,
            self.files(&b),
            "the folders differ after a sync"
        );
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `args` on device A (`None`) or B and expects success.
fn ok(e: &Env, b: Option<&Path>, args: &[&str]) -> Output {
    let o = match b {
        None => e.cmd(args).output().unwrap(),
        Some(b) => e.cmd_at(b, args).output().unwrap(),
    };
    assert!(o.status.success(), "baton {args:?}: {}", err(&o));
    o
}

/// `acme` with entries `root` and `db` on device A, copied to device B.
fn two_devices() -> (Env, PathBuf, Sync) {
    let e = Env::init();
    let pw = e.file("old.txt", "old-password\n");
    ok(
        &e,
        None,
        &["client", "add", "acme", "--contact", "it@acme.example"],
    );
    for entry in ["root", "db"] {
        let mut c = e.cmd(&[
            "entry",
            "add",
            "acme",
            entry,
            "--user",
            "admin",
            "--password-file",
        ]);
        c.arg(&pw).assert().success();
    }
    let b = e.dir.path().join("device-b");
    copy_tree(&e.vault, &b);
    let sync = Sync::new(&e.vault, &b);
    (e, b, sync)
}

/// Sets `acme/root`'s password from a file holding `password`, on A or B.
fn set_password(e: &Env, b: Option<&Path>, password: &str) {
    let file = e.file(&format!("{password}.txt"), &format!("{password}\n"));
    let args = ["entry", "edit", "acme", "root", "--password-file"];
    let mut c = match b {
        None => e.cmd(&args),
        Some(b) => e.cmd_at(b, &args),
    };
    let o = c.arg(&file).output().unwrap();
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn a_conflict_is_marked_shown_without_secrets_and_resolved_on_both_devices() {
    let (e, b, mut sync) = two_devices();
    set_password(&e, None, "pw-from-a");
    set_password(&e, Some(&b), "pw-from-b");
    sync.run();

    // list: the client is marked, and the footer says where to look.
    let o = ok(&e, None, &["list"]);
    let line = out(&o)
        .lines()
        .find(|l| l.contains("acme"))
        .unwrap()
        .to_string();
    assert!(line.starts_with('!'), "{line}");
    assert!(err(&o).contains("baton conflicts"), "{}", err(&o));
    let list = e.json(&["list", "--json"]);
    assert_eq!(list[0]["conflicts"], 1, "{list}");

    // status names it; status --check --verify is a problem (exit 11).
    let o = ok(&e, None, &["status"]);
    assert!(
        out(&o).contains("versions from different devices") && out(&o).contains("acme"),
        "{}",
        out(&o)
    );
    let o = e.cmd(&["status", "--check", "--verify"]).output().unwrap();
    assert_eq!(o.status.code(), Some(11), "{}", err(&o));
    assert!(
        err(&o).contains("acme") && err(&o).contains("baton conflicts"),
        "{}",
        err(&o)
    );

    // conflicts: both versions, numbered, with device and time, and no secret.
    let o = ok(&e, None, &["conflicts"]);
    let text = out(&o);
    assert!(
        text.contains("acme/root: 2 versions, differing in password"),
        "{text}"
    );
    assert!(
        text.contains("  1  made on ") && text.contains("  2  made on "),
        "{text}"
    );
    assert!(text.contains("(this device)"), "{text}");
    assert!(text.contains("--reveal shows it"), "{text}");
    assert!(text.contains("baton resolve acme/root --keep N"), "{text}");
    assert!(
        !text.contains("pw-from-"),
        "a secret without --reveal: {text}"
    );
    assert!(!text.contains("acme/db"), "db is not in conflict: {text}");
    let json = e.json(&["conflicts", "--json"]);
    assert!(!json.to_string().contains("pw-from-"), "{json}");
    assert_eq!(json[0]["entry"], "root");
    assert_eq!(json[0]["versions"].as_array().unwrap().len(), 2);
    assert_eq!(json[0]["versions"][0]["entry"]["has_password"], true);
    // With --reveal: both values; the number of B's version.
    let text = out(&ok(&e, None, &["conflicts", "acme", "--reveal"]));
    assert!(
        text.contains("pw-from-a") && text.contains("pw-from-b"),
        "{text}"
    );
    let json = e.json(&["conflicts", "acme", "--json", "--reveal"]);
    let versions = json[0]["versions"].as_array().unwrap();
    let keep = versions
        .iter()
        .find(|v| v["entry"]["password"] == "pw-from-b")
        .map(|v| v["number"].as_u64().unwrap())
        .unwrap()
        .to_string();

    // The entry in conflict cannot be edited before it is resolved.
    let o = e
        .cmd(&["entry", "edit", "acme", "root", "--user", "x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("resolve") && err(&o).contains("baton conflicts acme"),
        "{}",
        err(&o)
    );

    // Mistakes: refused, with a hint, nothing written.
    let before = common::snapshot(&e.vault);
    for (args, code, says) in [
        (
            &["resolve", "acme/root", "--keep", "3"][..],
            1,
            "no version 3",
        ),
        (
            &["resolve", "acme/db", "--keep", "1"][..],
            1,
            "nothing to resolve",
        ),
        (
            &["resolve", "acme/nope", "--keep", "1"][..],
            1,
            "no entry 'nope'",
        ),
        (
            &["resolve", "acme", "--keep", "1"][..],
            1,
            "nothing to resolve",
        ),
        (&["resolve", "acme/root"][..], 2, "--keep"),
        (
            &["resolve", "acme/root", "--keep", "1", "--remove"][..],
            2,
            "--keep N",
        ),
        (&["resolve", "acme/", "--keep", "1"][..], 2, "CLIENT/ENTRY"),
        (&["resolve", "acme/root", "--keep", "0"][..], 2, "from 1"),
    ] {
        let o = e.cmd(args).output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", err(&o));
        assert!(err(&o).contains(says), "{args:?}: {}", err(&o));
        assert!(err(&o).contains("baton: hint:"), "{args:?}: {}", err(&o));
    }
    // (the refused edit above committed the merge of the two heads, as any write does
    // first; a refused resolution writes nothing at all)
    assert!(
        common::snapshot(&e.vault) == before,
        "a refused resolution wrote something"
    );

    // Keep B's version.
    let o = ok(&e, None, &["resolve", "acme/root", "--keep", &keep]);
    assert!(err(&o).contains("resolved acme/root"), "{}", err(&o));
    let o = ok(&e, None, &["list"]);
    assert!(
        !out(&o).contains('!') && !err(&o).contains("baton conflicts"),
        "{}",
        out(&o)
    );
    e.cmd(&["status", "--check", "--verify"]).assert().success();
    let o = ok(&e, None, &["get", "acme/root"]);
    assert_eq!(out(&o).trim(), "pw-from-b");
    let o = ok(&e, None, &["audit", "--json"]);
    assert!(out(&o).contains("client.resolve"), "{}", out(&o));
    assert!(!out(&o).contains("pw-from-"), "a secret in the audit log");

    // After the next sync, B has the resolution too and no conflict.
    sync.run();
    let o = ok(&e, Some(&b), &["conflicts"]);
    assert!(
        out(&o).is_empty() && err(&o).contains("no conflicts"),
        "{}",
        err(&o)
    );
    let o = ok(&e, Some(&b), &["get", "acme/root"]);
    assert_eq!(out(&o).trim(), "pw-from-b");
    e.cmd_at(&b, &["status", "--check", "--verify"])
        .assert()
        .success();
    // And B can change it again; A sees that, without a conflict.
    set_password(&e, Some(&b), "pw-after");
    sync.run();
    let o = ok(&e, None, &["get", "acme/root"]);
    assert_eq!(out(&o).trim(), "pw-after");
    assert!(!out(&ok(&e, None, &["list"])).contains('!'));
}

#[test]
fn an_edit_racing_a_removal_is_resolved_by_removing_or_keeping() {
    let (e, b, mut sync) = two_devices();
    // The entry: edited on A, removed on B.
    set_password(&e, None, "pw-from-a");
    ok(&e, Some(&b), &["entry", "rm", "acme", "root"]);
    sync.run();
    let text = out(&ok(&e, Some(&b), &["conflicts", "acme"]));
    assert!(text.contains("acme/root: 2 versions"), "{text}");
    assert!(text.contains("removed"), "{text}");
    assert!(text.contains("--keep N, or --remove"), "{text}");
    ok(&e, Some(&b), &["resolve", "acme/root", "--remove"]);
    sync.run();
    for dev in [None, Some(b.as_path())] {
        let o = ok(&e, dev, &["show", "acme"]);
        assert!(
            !out(&o).contains("root") && out(&o).contains("db"),
            "{}",
            out(&o)
        );
        assert!(!out(&ok(&e, dev, &["list"])).contains('!'));
    }

    // The client: removed on A, changed on B. It stays, marked, until the owner says.
    ok(&e, None, &["client", "rm", "acme", "--yes"]);
    ok(
        &e,
        Some(&b),
        &["client", "edit", "acme", "--notes", "moved to new host"],
    );
    sync.run();
    let o = ok(&e, None, &["list"]);
    assert!(
        out(&o)
            .lines()
            .any(|l| l.starts_with('!') && l.contains("acme")),
        "{}",
        out(&o)
    );
    let text = out(&ok(&e, None, &["conflicts"]));
    assert!(text.contains("acme: removed on another device"), "{text}");
    assert!(
        text.contains("baton resolve acme --keep 1 (keep the client) or --remove"),
        "{text}"
    );
    let o = ok(&e, None, &["resolve", "acme", "--keep", "1"]);
    assert!(err(&o).contains("kept the client"), "{}", err(&o));
    sync.run();
    for dev in [None, Some(b.as_path())] {
        let o = ok(&e, dev, &["show", "acme"]);
        assert!(out(&o).contains("moved to new host"), "{}", out(&o));
        assert!(!out(&ok(&e, dev, &["list"])).contains('!'));
    }

    // Again, and this time the removal wins, on both devices.
    ok(&e, None, &["client", "rm", "acme", "--yes"]);
    ok(
        &e,
        Some(&b),
        &["client", "edit", "acme", "--notes", "again"],
    );
    sync.run();
    let o = ok(&e, Some(&b), &["resolve", "acme", "--remove"]);
    assert!(err(&o).contains("removed the client"), "{}", err(&o));
    sync.run();
    for dev in [None, Some(b.as_path())] {
        let o = ok(&e, dev, &["list", "--json"]);
        assert_eq!(out(&o).trim(), "[]", "{}", out(&o));
    }
}

/// `baton writers` lists both folders; once device B is gone for good, `writers forget`
/// on A removes B's head, and files are no longer kept for it
/// (docs/format.md#retired-writers).
#[test]
fn writers_are_listed_and_a_gone_one_is_forgotten() {
    let (e, b, mut sync) = two_devices();
    set_password(&e, Some(&b), "from-b");
    sync.run();
    set_password(&e, None, "from-a-1");
    set_password(&e, None, "from-a-2");
    let list = e.json(&["writers", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let other = list.iter().find(|w| w["this_folder"] == false).unwrap();
    let gone = other["writer"].as_str().unwrap().to_string();
    assert!(other["holds"].as_u64().unwrap() >= 1, "{other}");
    let text = out(&ok(&e, None, &["writers"]));
    assert!(
        text.contains("this folder") && text.contains(&gone),
        "{text}"
    );
    assert!(text.contains("kept until it catches up"), "{text}");

    let o = e
        .cmd(&["writers", "forget", "0123456789abcdef"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(err(&o).contains("'baton writers' lists"), "{}", err(&o));

    let o = ok(&e, None, &["writers", "forget", &gone]);
    assert!(
        err(&o).contains(&format!("forgot writer {gone}")),
        "{}",
        err(&o)
    );
    assert!(!e.vault.join(format!("heads/{gone}.g1.age")).exists());
    assert_eq!(e.json(&["writers", "--json"]).as_array().unwrap().len(), 1);
    ok(&e, None, &["verify"]);
    let o = e.cmd(&["status", "--check", "--verify"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let log = out(&ok(&e, None, &["audit"]));
    assert!(log.contains("writer.forget"), "{log}");
}
