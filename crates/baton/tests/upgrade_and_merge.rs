//! The upgrade of a version 2 vault to the multi-writer format and the commit of a
//! merge of several writers' heads (docs/format.md#multi-writer), each killed at every
//! step that changes the disk (the library's fault hook, as in `crash.rs`): the vault
//! opens with all data after every crash, and finishing the interrupted operation gives
//! the same result as an uninterrupted one.

mod common;
mod fault;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{Access, Vault};
use baton::{Passphrase, SecretText};
use common::add_with_root as add;
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn reference_passphrase() -> Passphrase {
    let text = fs::read_to_string(Path::new(DATA).join("reference-vault.passphrase")).unwrap();
    Passphrase::new(text.lines().next().unwrap().to_string())
}

/// Every client's plaintext without versions and times (which name the writer), and
/// the catalog: what must be the same before and after.
fn contents(v: &Vault) -> BTreeMap<String, Value> {
    fn mask(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| {
                    !matches!(
                        k.as_str(),
                        "ver" | "meta_ver" | "updated" | "created" | "removed"
                    )
                });
                m.values_mut().for_each(mask);
            }
            Value::Array(a) => a.iter_mut().for_each(mask),
            _ => {}
        }
    }
    let mut out: BTreeMap<String, Value> = v
        .clients()
        .unwrap()
        .iter()
        .map(|c| {
            let plain = baton::crypto::secret::json_bytes(&v.client(&c.id).unwrap());
            let mut value: Value = serde_json::from_slice(&plain).unwrap();
            mask(&mut value);
            (c.id.clone(), value)
        })
        .collect();
    let mut catalog = serde_json::to_value(v.catalog().unwrap()).unwrap();
    mask(&mut catalog);
    out.insert(String::new(), catalog);
    out
}

fn fresh_copy(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    let _ = fs::remove_dir_all(&to);
    common::copy_tree(from, &to);
    to
}

fn header_version(vault: &Path) -> u32 {
    baton::vault::read_header(vault).unwrap().version
}

/// The committed version 2 reference vault, upgraded by its first write: the head
/// replaces the index, the legacy records stay, `vault.upgrade` is recorded, nothing
/// else changes; killed at every step it opens with all data, and the next write
/// finishes the upgrade.
#[test]
fn a_version_2_vault_is_upgraded_by_its_first_write_even_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let committed = Path::new(DATA).join("reference-vault/vault");
    let pass = reference_passphrase();
    let base = fresh_copy(&committed, dir.path(), "base");
    assert_eq!(header_version(&base), 2);
    let before = contents(&Vault::open(&base, &pass, Access::Read).unwrap());
    let write = |path: &Path| {
        let mut v = Vault::open(path, &pass, Access::Write).unwrap();
        v.merge().unwrap();
    };
    // The uninterrupted upgrade.
    let done = fresh_copy(&base, dir.path(), "done");
    let (_, trace) = fault::count(|| write(&done));
    assert_eq!(header_version(&done), 3);
    assert!(!done.join("index.g1.age").exists(), "the index stays");
    let v = Vault::open(&done, &pass, Access::Read).unwrap();
    assert_eq!(contents(&v), before);
    assert_eq!(v.verify(), vec![]);
    let (records, problems) = v.audit_log();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(records.len(), 11, "ten legacy records and the upgrade");
    assert_eq!(records.last().unwrap().action.to_string(), "vault.upgrade");
    drop(v);
    assert!(trace.steps.len() >= 4, "{:?}", trace.steps);

    for step in 1..=trace.steps.len() {
        let t = fresh_copy(&base, dir.path(), &format!("step-{step}"));
        fault::crash(step, || write(&t));
        let ctx = format!("upgrade killed at step {step} ({})", trace.steps[step - 1]);
        let v = Vault::open(&t, &pass, Access::Read).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(contents(&v), before, "{ctx}");
        drop(v);
        // The next write finishes the upgrade (or makes it, if it had not begun).
        let mut v = Vault::open(&t, &pass, Access::Write).unwrap();
        v.add_client(NewClient {
            id: "after".into(),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{ctx}: the next write: {e}"));
        drop(v);
        assert_eq!(header_version(&t), 3, "{ctx}");
        let v = Vault::open(&t, &pass, Access::Read).unwrap();
        let mut now = contents(&v);
        now.remove("after");
        now.insert(String::new(), before[""].clone());
        assert_eq!(now, before, "{ctx}");
        assert_eq!(v.verify(), vec![], "{ctx}");
        assert!(v.audit_log().1.is_empty(), "{ctx}: {:?}", v.audit_log().1);
        let upgrades = v
            .audit_log()
            .0
            .iter()
            .filter(|r| r.action.as_str() == "vault.upgrade")
            .count();
        assert_eq!(upgrades, 1, "{ctx}");
    }
}

fn pass() -> Passphrase {
    Passphrase::new("correct horse battery staple".into())
}

/// Copies what `from` wrote that `to` lacks: new files, and `from`'s own head (a sync
/// service moving the files only one side changed).
fn bring(from: &Path, to: &Path) {
    let writer = Vault::open(from, &pass(), Access::Read)
        .unwrap()
        .writer()
        .to_string();
    for d in ["clients", "audit", "heads"] {
        for e in fs::read_dir(from.join(d)).unwrap().flatten() {
            let target = to.join(d).join(e.file_name());
            let own_head = d == "heads" && e.file_name().to_string_lossy().starts_with(&writer);
            if own_head || !target.exists() {
                fs::copy(e.path(), &target).unwrap();
            }
        }
    }
}

/// Two devices' changes made apart (one entry changed on both), brought together:
/// committing the merge killed at every step leaves a vault that shows the same merged
/// state, and finishing it gives the same result as an uninterrupted merge.
#[test]
fn a_merge_killed_at_every_step_shows_the_same_state_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let mut v = common::init_vault(&a, &pass());
    add(&mut v, "acme", "one");
    drop(v);
    let b = fresh_copy(&a, dir.path(), "b");
    add(
        &mut Vault::open(&a, &pass(), Access::Write).unwrap(),
        "beta",
        "b",
    );
    let mut w = Vault::open(&b, &pass(), Access::Write).unwrap();
    add(&mut w, "gamma", "g");
    w.edit_entry(
        "acme",
        "root",
        EntryFields {
            password: Some(SecretText::new("changed on b".into())),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    drop(w);
    let mut w = Vault::open(&a, &pass(), Access::Write).unwrap();
    w.edit_entry(
        "acme",
        "root",
        EntryFields {
            password: Some(SecretText::new("changed on a".into())),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    drop(w);
    bring(&b, &a);
    // The state every device shows before the merge is committed.
    let seen = {
        let v = Vault::open(&a, &pass(), Access::Read).unwrap();
        assert!(v.has_unmerged_heads());
        assert_eq!(v.conflicted_clients(), vec!["acme".to_string()]);
        assert_eq!(v.verify(), vec![]);
        contents(&v)
    };
    let merge = |path: &Path| {
        let mut v = Vault::open(path, &pass(), Access::Write).unwrap();
        assert!(v.merge().unwrap());
    };
    let done = fresh_copy(&a, dir.path(), "done");
    let (_, trace) = fault::count(|| merge(&done));
    let merged = {
        let v = Vault::open(&done, &pass(), Access::Read).unwrap();
        assert!(!v.has_unmerged_heads());
        assert_eq!(v.verify(), vec![]);
        contents(&v)
    };
    assert_eq!(merged, seen, "the committed merge is what readers saw");
    for step in 1..=trace.steps.len() {
        let t = fresh_copy(&a, dir.path(), &format!("merge-{step}"));
        fault::crash(step, || merge(&t));
        let ctx = format!("merge killed at step {step} ({})", trace.steps[step - 1]);
        let v = Vault::open(&t, &pass(), Access::Read).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(contents(&v), seen, "{ctx}");
        assert_eq!(v.verify(), vec![], "{ctx}");
        drop(v);
        let mut v = Vault::open(&t, &pass(), Access::Write).unwrap();
        v.merge()
            .unwrap_or_else(|e| panic!("{ctx}: finishing: {e}"));
        drop(v);
        let v = Vault::open(&t, &pass(), Access::Read).unwrap();
        assert!(!v.has_unmerged_heads(), "{ctx}");
        assert_eq!(contents(&v), merged, "{ctx}");
        assert_eq!(v.verify(), vec![], "{ctx}");
        assert!(v.audit_log().1.is_empty(), "{ctx}");
    }
}
