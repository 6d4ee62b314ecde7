//! Two devices change one vault while apart and a sync service keeps both versions of
//! the files they both changed (docs/format.md#conflict-copies). In a version 2 vault
//! baton cannot merge them yet, but it must never call such a folder intact: the copy
//! holds the other device's changes.

mod common;

use std::fs;
use std::path::Path;

use common::{Env, copy_tree};

/// Syncs device B's folder into device A's as Nextcloud does when both changed the
/// same files: A keeps its version, B's becomes `NAME (conflicted copy …).EXT`, and B's
/// new files are copied in.
fn nextcloud_sync(b: &Path, a: &Path) {
    sync_into(b, a, false)
}

/// Like `nextcloud_sync`, but where both changed a file `theirs_win` decides which
/// version keeps the name (the other becomes the conflicted copy).
fn sync_into(b: &Path, a: &Path, theirs_win: bool) {
    for dir in ["", "clients", "audit"] {
        for e in fs::read_dir(b.join(dir)).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() || e.file_name() == ".lock" {
                continue;
            }
            let name = e.file_name().to_string_lossy().to_string();
            let target = a.join(dir).join(&name);
            let theirs = fs::read(e.path()).unwrap();
            match fs::read(&target) {
                Ok(ours) if ours == theirs => {}
                Ok(ours) => {
                    let (stem, ext) = name.rsplit_once('.').unwrap();
                    let copy = a
                        .join(dir)
                        .join(format!("{stem} (conflicted copy 2026-12-01 154500).{ext}"));
                    if theirs_win {
                        fs::write(copy, ours).unwrap();
                        fs::write(target, theirs).unwrap();
                    } else {
                        fs::write(copy, theirs).unwrap();
                    }
                }
                Err(_) => fs::write(target, theirs).unwrap(),
            }
        }
    }
}

#[test]
fn a_conflicted_copy_of_another_devices_changes_is_never_intact() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let b = e.dir.path().join("device-b");
    copy_tree(&e.vault, &b);
    // Apart: A adds beta, B adds gamma.
    e.cmd(&["client", "add", "beta"]).assert().success();
    e.cmd_at(&b, &["client", "add", "gamma"]).assert().success();
    nextcloud_sync(&b, &e.vault);

    let copy = "index.g1 (conflicted copy 2026-12-01 154500).age";
    assert!(
        e.vault.join(copy).exists(),
        "the simulated sync made the copy"
    );
    // verify: a problem (exit 4) that names the copy and what it holds.
    let out = e.cmd(&["verify"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains(copy) && err.contains("another device"),
        "{err}"
    );
    assert!(err.contains("keep every file"), "the hint: {err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("intact"));
    // status --check, with no passphrase (cron): a problem, exit 11.
    let out = e.cmd(&["status", "--check"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(11), "{err}");
    assert!(
        err.contains("conflicted cop") && err.contains("index.g1.age"),
        "{err}"
    );
    // status names it among its warnings.
    let out = e.cmd(&["status"]).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains(copy), "{all}");
    // Nothing was deleted: the copy still holds B's changes.
    assert!(e.vault.join(copy).exists());
}

#[test]
fn files_baton_did_not_write_are_a_problem_and_sync_metadata_is_not() {
    let e = Env::init();
    // What Syncthing and Nextcloud keep in a synced folder is theirs.
    fs::create_dir(e.vault.join(".stfolder")).unwrap();
    fs::write(e.vault.join(".sync_0123abcd.db"), b"journal").unwrap();
    e.cmd(&["verify"]).assert().success();
    e.cmd(&["status", "--check"]).assert().success();
    fs::write(e.vault.join("clients").join("notes.txt"), b"a stray").unwrap();
    let out = e.cmd(&["status", "--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(11));
    assert!(String::from_utf8_lossy(&out.stderr).contains("clients/notes.txt"));
    let out = e.cmd(&["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("clients/notes.txt") && err.contains("not written by baton"),
        "{err}"
    );
}

/// One device rotates while another changes a setting in `vault.json`; the sync service
/// keeps the other device's older `vault.json` and the rotation's as a conflicted copy.
/// baton reads the later generation, says what happened, and puts its header back.
#[test]
fn a_rotation_racing_a_header_change_on_another_device_is_repaired() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let b = e.dir.path().join("device-b");
    copy_tree(&e.vault, &b);
    e.cmd(&["rotate"]).assert().success();
    e.cmd_at(&b, &["settings", "--rotate-every", "6"])
        .assert()
        .success();
    // Nextcloud: B's vault.json reaches the server first, so A's becomes the copy; B's
    // index of generation 1 was changed on B and deleted on A: the change wins.
    let mine = e.vault.join("vault.json");
    fs::rename(
        &mine,
        e.vault
            .join("vault (conflicted copy 2026-12-01 154500).json"),
    )
    .unwrap();
    fs::copy(b.join("vault.json"), &mine).unwrap();
    fs::copy(b.join("index.g1.age"), e.vault.join("index.g1.age")).unwrap();

    // Reading works, at generation 2, with every client.
    let out = e.cmd(&["list"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme"));
    // The first write puts the header back and says so.
    let out = e.cmd(&["client", "add", "beta"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("put generation 2's header back"), "{err}");
    let header: serde_json::Value = serde_json::from_slice(&fs::read(&mine).unwrap()).unwrap();
    assert_eq!(header["generation"], 2);
    assert!(
        !e.vault
            .join("vault (conflicted copy 2026-12-01 154500).json")
            .exists()
    );
    // The other device's index under the old keys is reported, not called intact.
    let out = e.cmd(&["status", "--check"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(11), "{err}");
    assert!(err.contains("index.g1.age"), "{err}");
    fs::remove_file(e.vault.join("index.g1.age")).unwrap();
    e.cmd(&["verify"]).assert().success();
}

/// The device whose index lost the sync race sees a revision lower than it wrote: that
/// is no rollback by an attacker, and baton says what it is instead of blaming a
/// restored backup.
#[test]
fn an_index_replaced_by_the_sync_service_is_named_as_such() {
    let e = Env::init();
    e.cmd(&["client", "add", "acme"]).assert().success();
    let b = e.dir.path().join("device-b");
    copy_tree(&e.vault, &b);
    e.cmd(&["client", "add", "beta"]).assert().success();
    e.cmd_at(&b, &["client", "add", "gamma"]).assert().success();
    e.cmd_at(&b, &["client", "add", "delta"]).assert().success();
    // On B, A's index wins and B's becomes the conflicted copy.
    sync_into(&e.vault, &b, true);
    let out = e.cmd_at(&b, &["list"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("the sync service replaced this device's index")
            && err.contains("index.g1 (conflicted copy 2026-12-01 154500).age")
            && err.contains("keep every file"),
        "{err}"
    );
    assert!(!err.contains("restored a backup"), "{err}");
}
