//! Copies of a vault are normal, not tampering (docs/threat-model.md#rollback): a USB
//! copy, a colleague's test copy or an older escrow copy opens without a false alarm;
//! an older copy says by how much and is read-only; the same folder going back in time
//! is still refused.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use common::{Env, PASS, copy_tree};

/// `baton` on `folder`, with the same per-machine memory as `e.cmd` (one machine).
fn at(e: &Env, folder: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("baton")
        .unwrap()
        .env_remove("BATON_VAULT")
        .env_remove("BATON_PASSPHRASE_FILE")
        .env("XDG_STATE_HOME", e.dir.path().join("state"))
        .arg("--vault")
        .arg(folder)
        .arg("--passphrase-file")
        .arg(&e.pass_file)
        .args(args)
        .output()
        .unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_older_copy_opens_read_only_and_says_by_how_much() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let usb = e.dir.path().join("usb");
    copy_tree(&e.vault, &usb);
    e.cmd(&["client", "add", "beta"]).assert().success();
    e.cmd(&["client", "add", "gamma"]).assert().success();

    // Reading the copy works, with a warning that names the newer folder.
    let o = at(&e, &usb, &["list"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("acme"));
    assert!(
        err(&o).contains("older copy") && err(&o).contains("2 more change"),
        "{}",
        err(&o)
    );
    // Writing to it is refused, and says where to work instead; nothing changes.
    let before = common::snapshot(&usb);
    let o = at(&e, &usb, &["client", "add", "delta"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("older copy") && err(&o).contains("hint:"),
        "{}",
        err(&o)
    );
    assert_eq!(common::snapshot(&usb), before);
    // The live folder is not disturbed by having opened the copy.
    e.cmd(&["client", "add", "epsilon"]).assert().success();
    // Once the newer folder is gone, the copy is what there is: it can go on.
    fs::rename(&e.vault, e.dir.path().join("lost")).unwrap();
    let o = at(&e, &usb, &["client", "add", "delta"]);
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn a_copy_changed_on_its_own_is_no_rollback_of_the_original() {
    // The handover's case: the colleague's recovery records on a copy, then the live
    // folder is used (issue: "recover on a USB copy followed by takeover").
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let copy = e.dir.path().join("copy");
    copy_tree(&e.vault, &copy);
    let o = at(&e, &copy, &["client", "add", "on-the-copy"]);
    assert!(o.status.success(), "{}", err(&o));
    let o = at(&e, &e.vault, &["client", "add", "on-the-original"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(!err(&o).contains("older copy"), "{}", err(&o));
    // Each has gone its own way: neither is an older copy of the other.
    let o = at(&e, &copy, &["client", "add", "again"]);
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn the_same_folder_going_back_is_still_a_rollback() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let saved = e.dir.path().join("saved");
    copy_tree(&e.vault, &saved);
    e.cmd(&["client", "add", "beta"]).assert().success();
    fs::remove_dir_all(&e.vault).unwrap();
    copy_tree(&saved, &e.vault);
    let o = e.cmd(&["list"]).output().unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    assert!(err(&o).contains("rolled back"), "{}", err(&o));
}

#[test]
fn memory_from_before_folders_is_held_against_the_first_folder_opened() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let id = e.json(&["status", "--json"])["vault_id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            let h: serde_json::Value =
                serde_json::from_slice(&fs::read(e.vault.join("vault.json")).unwrap()).unwrap();
            h["vault_id"].as_str().unwrap().to_string()
        });
    let seen = e.dir.path().join("state/baton/seen");
    // Remove what this machine remembers per folder; leave an old single number.
    for f in fs::read_dir(&seen).unwrap().flatten() {
        fs::remove_file(f.path()).unwrap();
    }
    fs::write(seen.join(&id), "999\n").unwrap();
    let o = e.cmd(&["list"]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(4),
        "an old memory still catches a rollback: {}",
        err(&o)
    );
    fs::write(seen.join(&id), "1\n").unwrap();
    e.cmd(&["list"]).assert().success();
    assert!(
        !seen.join(&id).exists(),
        "taken over by this folder's record"
    );
    let _ = PASS;
}
