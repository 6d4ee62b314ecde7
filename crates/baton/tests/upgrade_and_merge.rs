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

/// After a crash or a fold: the next write (client `after`) finishes the upgrade to
/// version 3, and the vault then holds `expected` plus that client (the vault-wide
/// entry `""` aside, which the write changes). Returns the vault read afterwards.
fn next_write_upgrades(
    t: &Path,
    pass: &Passphrase,
    ctx: &str,
    expected: &BTreeMap<String, Value>,
) -> Vault {
    let mut v = Vault::open(t, pass, Access::Write).unwrap();
    v.add_client(NewClient {
        id: "after".into(),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{ctx}: the next write: {e}"));
    drop(v);
    assert_eq!(header_version(t), 3, "{ctx}");
    let v = Vault::open(t, pass, Access::Read).unwrap();
    let mut now = contents(&v);
    now.remove("after");
    now.insert(String::new(), expected[""].clone());
    assert_eq!(&now, expected, "{ctx}");
    v
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
        let v = next_write_upgrades(&t, &pass, &ctx, &before);
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

// The fold of a version 2 index's conflicted copies into the upgrade
// (docs/format.md#upgrade-from-version-2), on `tests/data/v2-conflicted-vault`: device
// A's folder with device B's index and records as Nextcloud's conflicted copies (see
// its README for who changed what).

const COPY: &str = "index.g1 (conflicted copy 2026-12-01 154500).age";

fn fold_passphrase() -> Passphrase {
    let text = fs::read_to_string(Path::new(DATA).join("v2-conflicted-vault.passphrase")).unwrap();
    Passphrase::new(text.lines().next().unwrap().to_string())
}

fn fold_fixture(dir: &Path, name: &str) -> PathBuf {
    fresh_copy(
        &Path::new(DATA).join("v2-conflicted-vault/vault"),
        dir,
        name,
    )
}

/// Every file below `dir` named like a sync service's conflicted copy.
fn conflicted_copies(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for d in [dir.to_path_buf(), dir.join("audit"), dir.join("clients")] {
        for e in fs::read_dir(d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if baton::sync::names::is_conflict_copy(&name) {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

fn ids(v: &Vault) -> Vec<String> {
    v.clients().unwrap().iter().map(|c| c.id.clone()).collect()
}

/// Every password of `acme/root` the client file holds: the one on show and those of
/// the versions in conflict.
fn acme_root_versions(v: &Vault) -> Vec<String> {
    let f = v.client("acme").unwrap();
    let mut out: Vec<String> = f
        .entries
        .iter()
        .chain(&f.conflicts.entries)
        .filter(|e| e.name == "root")
        .filter_map(|e| e.password.as_ref().map(|p| p.expose().to_string()))
        .collect();
    out.sort();
    out
}

/// The state after the fold: both devices' clients, the entry changed on both a
/// conflict with both values, the purged client gone, nothing reported.
fn assert_folded(v: &Vault, ctx: &str) {
    assert_eq!(ids(v), ["acme", "beta", "gamma"], "{ctx}");
    assert_eq!(
        common::entry_password(v, "gamma", "root"),
        "gamma-root-pw",
        "{ctx}"
    );
    assert_eq!(
        common::entry_password(v, "gamma", "web"),
        "gamma-web-pw",
        "{ctx}"
    );
    assert_eq!(v.conflicted_clients(), ["acme"], "{ctx}");
    assert_eq!(
        acme_root_versions(v),
        ["acme-root-from-a", "acme-root-from-b"],
        "{ctx}"
    );
    assert!(
        v.client("delta").is_err(),
        "{ctx}: the purged client is back"
    );
    assert_eq!(v.verify(), vec![], "{ctx}");
}

/// Before any write a version 3 baton reads the version 2 index as it is (device A's
/// state) and reports the other device's copies, as before the fold existed.
fn assert_not_yet_folded(t: &Path) {
    let v = Vault::open(t, &fold_passphrase(), Access::Read).unwrap();
    assert_eq!(header_version(t), 2);
    assert_eq!(ids(&v), ["acme", "beta"]);
    assert_eq!(
        common::entry_password(&v, "acme", "root"),
        "acme-root-from-a"
    );
    let copies: Vec<String> = v
        .verify()
        .into_iter()
        .filter_map(|p| match p {
            baton::IntegrityError::ConflictCopy { file, .. } => Some(file),
            _ => None,
        })
        .collect();
    assert!(copies.contains(&COPY.to_string()), "{copies:?}");
    assert_eq!(copies.len(), 4, "the index and three records: {copies:?}");
    let findings = v.status(&baton::time::now()).unwrap().findings;
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, baton::Finding::ConflictCopies { total: 4, .. })),
        "{findings:?}"
    );
    drop(v);
    assert_eq!(conflicted_copies(t).len(), 4, "a reader changed the folder");
}

/// Before any write, a reader shows the version 2 index as it is (device A's state)
/// and `verify` and `status` report the copies. The first write upgrades the vault and
/// folds device B's index copy in: `gamma`
/// (only B's) is added with its passwords, `beta` (only A's) stays, `acme/root`
/// changed on both is a conflict with both values that resolve settles, `delta`
/// (purged on A, unchanged on B) stays gone; the audit log holds A's records once
/// and the upgrade record names the copy and B's records; no conflicted copy is left
/// and verify is clean.
#[test]
fn the_upgrade_folds_the_other_devices_index_copy_in() {
    let dir = tempfile::tempdir().unwrap();
    let t = fold_fixture(dir.path(), "v");
    let pass = fold_passphrase();
    assert_not_yet_folded(&t);
    let mut v = Vault::open(&t, &pass, Access::Write).unwrap();
    assert!(v.merge().unwrap());
    drop(v);
    assert_eq!(header_version(&t), 3);
    assert_eq!(conflicted_copies(&t), Vec::<String>::new());
    assert!(!t.join("index.g1.age").exists());
    assert!(
        !t.join("audit/000000000009.age").exists(),
        "B's record above the head"
    );
    let v = Vault::open(&t, &pass, Access::Read).unwrap();
    assert_folded(&v, "after the upgrade");
    assert!(v.orphans().unwrap().is_empty(), "{:?}", v.orphans());
    let (records, problems) = v.audit_log();
    assert!(problems.is_empty(), "{problems:?}");
    let seqs: Vec<(String, u64)> = records.iter().map(|r| (r.writer.clone(), r.seq)).collect();
    let mut unique = seqs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seqs.len(), "a record twice: {seqs:?}");
    assert_eq!(records.len(), 9, "A's eight records and the upgrade");
    let upgrade = records.last().unwrap();
    assert_eq!(upgrade.action.as_str(), "vault.upgrade");
    for part in [
        COPY,
        "clients added: gamma",
        "clients merged: acme",
        // delta's locator shard: A replaced it when it purged delta.
        "1 of its locator shards are gone",
        "6 ",
        "client.add gamma",
        "9 ",
        "entry.add gamma",
        "versions in conflict kept for: acme",
    ] {
        assert!(
            upgrade.detail.contains(part),
            "{part:?} in {}",
            upgrade.detail
        );
    }
    drop(v);
    // The conflict resolves like any other.
    let mut v = Vault::open(&t, &pass, Access::Write).unwrap();
    let file = v.client("acme").unwrap();
    let conflicts = baton::sync::conflicts_in(&file);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let keep = conflicts[0]
        .sides
        .iter()
        .find(|s| match &s.value {
            baton::sync::SideValue::Entry(e) => {
                e.password.as_ref().map(|p| p.expose()) == Some("acme-root-from-b")
            }
            _ => false,
        })
        .map(|s| s.number)
        .unwrap();
    v.resolve("acme", Some("root"), baton::sync::Resolution::Keep(keep))
        .unwrap();
    drop(v);
    let v = Vault::open(&t, &pass, Access::Read).unwrap();
    assert!(v.conflicted_clients().is_empty());
    assert_eq!(
        common::entry_password(&v, "acme", "root"),
        "acme-root-from-b"
    );
    assert_eq!(v.verify(), vec![]);
}

/// Rewrites the copy as `change` makes its plaintext, encrypted to the vault's keys.
fn rewrite_copy(t: &Path, pass: &Passphrase, change: impl Fn(&mut String)) {
    use std::str::FromStr;
    let v = Vault::open(t, pass, Access::Read).unwrap();
    let identity = v.identity_file();
    let line = identity
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    let id = age::x25519::Identity::from_str(line).unwrap();
    let h = baton::vault::read_header(t).unwrap();
    let recipients = vec![
        age::x25519::Recipient::from_str(&h.recipients.owner).unwrap(),
        age::x25519::Recipient::from_str(&h.recipients.emergency).unwrap(),
    ];
    let p = t.join(COPY);
    let plain = baton::crypto::seal::decrypt(&id, &fs::read(&p).unwrap()).unwrap();
    let mut text = String::from_utf8(plain.to_vec()).unwrap();
    change(&mut text);
    fs::write(
        &p,
        baton::crypto::seal::encrypt(&recipients, text.as_bytes()),
    )
    .unwrap();
}

/// A copy that does not read like the index (its MAC is not this generation's, or it
/// is another vault's index) is not folded: the upgrade happens without it, and the
/// copy stays and is reported.
#[test]
fn an_index_copy_that_fails_a_check_is_not_folded_and_stays_reported() {
    let dir = tempfile::tempdir().unwrap();
    let pass = fold_passphrase();
    let forged = fold_fixture(dir.path(), "forged");
    // A body changed after its MAC was made (one device's data, another's MAC).
    rewrite_copy(&forged, &pass, |text| {
        *text = text.replacen("\"revision\":", "\"revision\":1", 1);
    });
    let foreign = fold_fixture(dir.path(), "foreign");
    fs::copy(
        Path::new(DATA).join("reference-vault/vault/index.g1.age"),
        foreign.join(COPY),
    )
    .unwrap();
    for t in [forged, foreign] {
        let mut v = Vault::open(&t, &pass, Access::Write).unwrap();
        v.merge().unwrap();
        drop(v);
        assert_eq!(header_version(&t), 3);
        let v = Vault::open(&t, &pass, Access::Read).unwrap();
        assert_eq!(ids(&v), ["acme", "beta"], "{t:?}");
        assert!(v.conflicted_clients().is_empty());
        assert!(t.join(COPY).exists(), "{t:?}: the copy was removed");
        assert!(
            v.verify().iter().any(|p| matches!(
                p,
                baton::IntegrityError::ConflictCopy { file, .. } if file == COPY
            )),
            "{t:?}: {:?}",
            v.verify()
        );
        let upgrade = v.audit_log().0.pop().unwrap();
        assert!(
            upgrade.detail.contains(&format!("not folded: {COPY}")),
            "{}",
            upgrade.detail
        );
    }
}

/// The fold killed at every step that changes the disk (on both fixtures): the vault
/// opens with all data (device A's state while the header still says version 2, the
/// folded state after), and the next write finishes with the same result as an
/// uninterrupted upgrade.
#[test]
fn the_fold_killed_at_every_step_opens_and_the_next_write_finishes_it() {
    for fixture in ["vault", "vault-b-longer"] {
        fold_killed_at_every_step(fixture);
    }
}

fn fold_killed_at_every_step(fixture: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pass = fold_passphrase();
    let base = fresh_copy(
        &Path::new(DATA).join("v2-conflicted-vault").join(fixture),
        dir.path(),
        "base",
    );
    let before = contents(&Vault::open(&base, &pass, Access::Read).unwrap());
    let write = |path: &Path| {
        let mut v = Vault::open(path, &pass, Access::Write).unwrap();
        v.merge().unwrap();
    };
    let done = fresh_copy(&base, dir.path(), "done");
    let (_, trace) = fault::count(|| write(&done));
    let folded = {
        let v = Vault::open(&done, &pass, Access::Read).unwrap();
        assert_folded(&v, "uninterrupted");
        contents(&v)
    };
    for label in [
        "upgrade: record written",
        "upgrade: head written",
        "upgrade: header written",
        "upgrade: replaced file removed",
        "upgrade: copy's record removed",
        "upgrade: index copy removed",
        "upgrade: index removed",
    ] {
        assert!(trace.steps.contains(&label), "{label}: {:?}", trace.steps);
    }
    for step in 1..=trace.steps.len() {
        let t = fresh_copy(&base, dir.path(), &format!("step-{step}"));
        fault::crash(step, || write(&t));
        let ctx = format!(
            "{fixture}: fold killed at step {step} ({})",
            trace.steps[step - 1]
        );
        let v = Vault::open(&t, &pass, Access::Read).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let expected = match header_version(&t) {
            2 => &before,
            _ => &folded,
        };
        assert_eq!(&contents(&v), expected, "{ctx}");
        drop(v);
        let v = next_write_upgrades(&t, &pass, &ctx, &folded);
        assert_eq!(conflicted_copies(&t), Vec::<String>::new(), "{ctx}");
        assert!(v.orphans().unwrap().is_empty(), "{ctx}: {:?}", v.orphans());
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

/// Device B made two more changes than A, so two of its records are above the index's
/// head (`tests/data/v2-conflicted-vault/vault-b-longer`): they belong to the authentic
/// copy of B's index and are not taken for a rolled-back index, so the vault opens, and
/// the upgrade folds them in like the others.
#[test]
fn records_of_a_longer_copy_above_the_head_are_no_rollback_and_are_folded_in() {
    let dir = tempfile::tempdir().unwrap();
    let pass = fold_passphrase();
    let t = fresh_copy(
        &Path::new(DATA).join("v2-conflicted-vault/vault-b-longer"),
        dir.path(),
        "v",
    );
    let v = Vault::open(&t, &pass, Access::Read).unwrap();
    assert_eq!(ids(&v), ["acme", "beta"]);
    drop(v);
    let mut v = Vault::open(&t, &pass, Access::Write).unwrap();
    v.merge().unwrap();
    drop(v);
    let v = Vault::open(&t, &pass, Access::Read).unwrap();
    assert_eq!(ids(&v), ["acme", "beta", "gamma"]);
    assert_eq!(common::entry_password(&v, "gamma", "db"), "gamma-db-pw");
    assert_eq!(v.conflicted_clients(), ["acme"]);
    assert_eq!(v.verify(), vec![]);
    assert!(v.orphans().unwrap().is_empty(), "{:?}", v.orphans());
    assert_eq!(conflicted_copies(&t), Vec::<String>::new());
    let upgrade = v.audit_log().0.pop().unwrap();
    for part in ["9 ", "10 ", "entry.add gamma (db)"] {
        assert!(
            upgrade.detail.contains(part),
            "{part:?} in {}",
            upgrade.detail
        );
    }
}

/// A client only the copy names whose file is gone (removed or purged on the index's
/// device while the other kept it) does not come back, and the upgrade record names it.
#[test]
fn a_client_of_the_copy_whose_file_is_gone_does_not_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let pass = fold_passphrase();
    // Which file is gamma's: the fold keeps the copy's client file as it is.
    let probe = fold_fixture(dir.path(), "probe");
    Vault::open(&probe, &pass, Access::Write)
        .unwrap()
        .merge()
        .unwrap();
    let gamma = Vault::open(&probe, &pass, Access::Read)
        .unwrap()
        .locate("gamma")
        .unwrap()
        .file;
    let t = fold_fixture(dir.path(), "v");
    fs::remove_file(t.join("clients").join(&gamma)).unwrap();
    let mut v = Vault::open(&t, &pass, Access::Write).unwrap();
    v.merge().unwrap();
    drop(v);
    let v = Vault::open(&t, &pass, Access::Read).unwrap();
    assert_eq!(ids(&v), ["acme", "beta"]);
    assert_eq!(v.conflicted_clients(), ["acme"]);
    assert_eq!(v.verify(), vec![]);
    assert_eq!(conflicted_copies(&t), Vec::<String>::new());
    let upgrade = v.audit_log().0.pop().unwrap();
    assert!(
        upgrade
            .detail
            .contains("not brought back (removed here, their files are gone): gamma"),
        "{}",
        upgrade.detail
    );
}
