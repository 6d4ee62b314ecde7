//! This writer's own unnamed files are removed only when they are provably
//! leftovers (docs/format.md#writes): never a rotation's new files when the index
//! cannot be read in full, never a change that lost a sync race and is named only by a
//! conflicted copy. (Found by a review; each test failed before the fix.)

mod common;

use std::cell::Cell;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use baton::rotate::RotateOptions;
use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{Access, Vault};
use baton::{Passphrase, SecretText};

thread_local! {
    static CRASH_AT: Cell<Option<&'static str>> = const { Cell::new(None) };
    /// (when seen, then crash at)
    static ARM: Cell<Option<(&'static str, &'static str)>> = const { Cell::new(None) };
}

fn install_hook() {
    baton::store::fsio::set_fault_hook(Box::new(|label| {
        if let Some((seen, then)) = ARM.with(|a| a.get())
            && seen == label
        {
            ARM.with(|a| a.set(None));
            CRASH_AT.with(|c| c.set(Some(then)));
            return;
        }
        if CRASH_AT.with(|c| c.get()) == Some(label) {
            CRASH_AT.with(|c| c.set(None));
            panic!("simulated crash at {label}");
        }
    }));
}

fn pass() -> Passphrase {
    Passphrase::new("correct horse battery staple".into())
}

fn init(path: &Path, clients: &[&str]) {
    let mut v = common::init_vault(path, &pass());
    for id in clients {
        add(&mut v, id);
    }
}

fn add(v: &mut Vault, id: &str) {
    v.add_client(NewClient {
        id: id.to_string(),
        name: format!("{id} Ltd"),
        ..Default::default()
    })
    .unwrap();
    v.add_entry(
        id,
        "server",
        EntryFields {
            password: Some(SecretText::new(format!("{id}-password"))),
            ..Default::default()
        },
    )
    .unwrap();
}

fn client_files(v: &Vault) -> Vec<(String, PathBuf)> {
    v.clients()
        .unwrap()
        .iter()
        .map(|c| (c.id.clone(), v.path().join("clients").join(&c.file)))
        .collect()
}

/// `rotate --resume` after the switch, with one locator shard unreadable, keeps every
/// client file the rotation wrote (they all carry this writer's id, and the index's
/// list of names cannot be read in full).
#[test]
fn resume_after_switch_with_an_unreadable_locator_shard() {
    install_hook();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    // Enough clients to spread over several locator shards.
    let ids = [
        "acme", "beta", "gamma", "delta", "omega", "zeta", "kappa", "sigma",
    ];
    init(&path, &ids);
    {
        let mut v = Vault::open(&path, &pass(), Access::Write).unwrap();
        CRASH_AT.with(|c| c.set(Some("rotate: switched")));
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            v.rotate(
                RotateOptions::default(),
                Some(&pass()),
                |_, _| Ok(()),
                &|_| {},
            )
        }));
        CRASH_AT.with(|c| c.set(None));
        assert!(r.is_err(), "crashed after the switch");
    }
    let v = Vault::open(&path, &pass(), Access::Read).unwrap();
    assert_eq!(v.header().generation, 2);
    let files = client_files(&v);
    // A folder writer (or bit rot) damages one locator shard of the new generation.
    let shard = v.index().locator[0].file.clone();
    drop(v);
    let sp = path.join("clients").join(&shard);
    let mut b = fs::read(&sp).unwrap();
    let n = b.len();
    b[n - 5] ^= 0xff;
    fs::write(&sp, b).unwrap();
    let before = files.iter().filter(|(_, p)| p.exists()).count();
    let mut v = Vault::open(&path, &pass(), Access::Write).unwrap();
    let r = v.resume_rotation(Some(&pass()), &|_| {});
    drop(v);
    let after: Vec<_> = files
        .iter()
        .filter(|(_, p)| p.exists())
        .map(|(id, _)| id)
        .collect();
    eprintln!(
        "resume: {:?}; client files before {before}, after {} of {}: {:?}",
        r.as_ref().map(|_| "ok").map_err(|e| e.to_string()),
        after.len(),
        files.len(),
        after
    );
    assert_eq!(
        after.len(),
        files.len(),
        "client files of the new generation were deleted"
    );
}

/// Two devices change the vault apart and a sync service copies the folders both
/// ways: in version 3 no file was written on both (docs/format.md#multi-writer), so no
/// conflicted copy is made, and the next write on either device keeps both changes
/// and every file they need.
#[test]
fn changes_made_apart_survive_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("device-a");
    let b = dir.path().join("device-b");
    init(&a, &["acme"]);
    common::copy_tree(&a, &b);
    // What both devices last synced: a file B still has unchanged is simply replaced.
    let synced = |d: &str, name: &str| fs::read(a.join(d).join(name)).ok();
    let base: std::collections::HashMap<String, Option<Vec<u8>>> =
        ["", "clients", "audit", "heads"]
            .iter()
            .flat_map(|d| {
                fs::read_dir(a.join(d))
                    .unwrap()
                    .flatten()
                    .map(|e| {
                        let name = e.file_name().to_string_lossy().to_string();
                        (format!("{d}/{name}"), synced(d, &name))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
    {
        let mut v = Vault::open(&a, &pass(), Access::Write).unwrap();
        add(&mut v, "beta");
    }
    let gamma = {
        let mut v = Vault::open(&b, &pass(), Access::Write).unwrap();
        add(&mut v, "gamma");
        client_files(&v)
            .into_iter()
            .find(|(id, _)| id == "gamma")
            .unwrap()
            .1
    };
    // Nextcloud on device B: the server has A's versions; a local version of a file
    // both changed becomes a conflicted copy; A's new files arrive.
    let mut copies = 0;
    for d in ["", "clients", "audit", "heads"] {
        for e in fs::read_dir(a.join(d)).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() || e.file_name() == ".lock" {
                continue;
            }
            let name = e.file_name().to_string_lossy().to_string();
            let target = b.join(d).join(&name);
            let theirs = fs::read(e.path()).unwrap();
            let unchanged_here =
                |ours: &Vec<u8>| base.get(&format!("{d}/{name}")) == Some(&Some(ours.clone()));
            match fs::read(&target) {
                Ok(ours) if ours == theirs => {}
                Ok(ours) if unchanged_here(&ours) => fs::write(&target, theirs).unwrap(),
                Ok(_) => {
                    let (stem, ext) = name.rsplit_once('.').unwrap();
                    let copy = format!("{stem} (conflicted copy 2026-12-01 154500).{ext}");
                    fs::rename(&target, b.join(d).join(copy)).unwrap();
                    fs::write(&target, theirs).unwrap();
                    copies += 1;
                }
                Err(_) => fs::write(&target, theirs).unwrap(),
            }
        }
    }
    assert_eq!(copies, 0, "a file was written on both devices");
    assert!(gamma.exists(), "B's change is in the folder after the sync");
    // B's next write.
    {
        let mut v = Vault::open(&b, &pass(), Access::Write).unwrap();
        add(&mut v, "delta");
    }
    let v = Vault::open(&b, &pass(), Access::Read).unwrap();
    let ids: Vec<String> = v.catalog().unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["acme", "beta", "delta", "gamma"]);
    assert_eq!(v.verify(), vec![]);
}

/// A planted "conflicted copy" of vault.json with a bumped generation, and any file as
/// that generation's index, neither locks the owner out nor makes the genuine index
/// look like another generation's; both planted files are reported.
#[test]
fn a_planted_header_copy_is_reported_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    init(&path, &["acme"]);
    let mut h: serde_json::Value =
        serde_json::from_slice(&fs::read(path.join("vault.json")).unwrap()).unwrap();
    h["generation"] = 2.into();
    let copy = path.join("vault (conflicted copy 2026-12-01 154500).json");
    fs::write(&copy, serde_json::to_vec(&h).unwrap()).unwrap();
    fs::write(path.join("index.g2.age"), b"anything").unwrap();
    let (hdr, findings) = baton::status::check_folder(&path, "2026-12-02T00:00:00Z").unwrap();
    assert_eq!(hdr.generation, 1);
    let text = format!("{findings:?}");
    assert!(
        text.contains("conflicted copy") && text.contains("index.g2.age"),
        "{text}"
    );
    assert!(
        !text.contains("IndexMissing") && !text.contains(".g1.age"),
        "the genuine head was relabelled: {text}"
    );
    // The vault opens with its own header, for reading and for writing, and the
    // planted copy is left for the owner to look at.
    let v = Vault::open(&path, &pass(), Access::Read).unwrap();
    assert!(v.client("acme").is_ok());
    drop(v);
    let mut v = Vault::open(&path, &pass(), Access::Write).unwrap();
    add(&mut v, "beta");
    drop(v);
    assert!(copy.exists());
    // Symlinks and oversized files named like a copy are not read.
    fs::remove_file(&copy).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &copy).unwrap();
    assert!(Vault::open(&path, &pass(), Access::Read).is_ok());
    fs::remove_file(&copy).unwrap();
    fs::write(&copy, vec![b' '; 2 * 1024 * 1024]).unwrap();
    assert!(Vault::open(&path, &pass(), Access::Read).is_ok());
}
