//! I/O errors a crash test cannot produce: a step that fails after the rename that
//! committed it. Its own test binary, because the error hook is process-wide.

use std::sync::atomic::{AtomicBool, Ordering};

use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{Access, InitOptions, Vault, VaultError};
use baton::{KdfParams, Passphrase};

static ARMED: AtomicBool = AtomicBool::new(false);

#[test]
fn a_commit_whose_folder_sync_fails_after_the_rename_is_followed_not_repeated() {
    baton::fs::set_error_hook(Box::new(|label| {
        label == "write_atomic: renamed" && ARMED.swap(false, Ordering::SeqCst)
    }));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let pass = Passphrase::new("correct horse battery staple".into());
    let mut v = Vault::init(
        &path,
        &pass,
        InitOptions {
            policy: baton::emergency::Policy::single(vec!["anna".into(), "ben".into()], 2),
            kdf: KdfParams::insecure_test(),
        },
        |_, _| Ok(()),
    )
    .unwrap();
    v.add_client(NewClient {
        id: "alpha".into(),
        name: "Alpha Ltd".into(),
        ..Default::default()
    })
    .unwrap();

    // The index is renamed into place, then the folder sync fails.
    ARMED.store(true, Ordering::SeqCst);
    let err = v
        .add_entry("alpha", "first", EntryFields::default())
        .unwrap_err();
    assert!(matches!(err, VaultError::Io { .. }), "{err:?}");
    assert!(!ARMED.load(Ordering::SeqCst), "the failure was injected");
    // The next write builds on what is on disk: nothing is lost or renumbered.
    v.add_entry("alpha", "second", EntryFields::default())
        .unwrap();
    drop(v);

    let v = Vault::open(&path, &pass, Access::Read).unwrap();
    let names: Vec<String> = v
        .client("alpha")
        .unwrap()
        .entries
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(v.verify(), vec![]);
    let (log, problems) = v.audit_log();
    assert!(problems.is_empty(), "{problems:?}");
    let adds: Vec<&str> = log
        .iter()
        .filter(|r| r.action == "entry.add")
        .map(|r| r.detail.as_str())
        .collect();
    assert_eq!(adds, ["first", "second"]);
    // No record was set aside as the leftover of an interrupted write.
    let leftovers = std::fs::read_dir(path.join("audit"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("interrupted"))
        .count();
    assert_eq!(leftovers, 0);
}
