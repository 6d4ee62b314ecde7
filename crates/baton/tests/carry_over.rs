//! Issue 13, "Several devices, one vault": a rotation started on device A while device
//! B is offline must not strand B's later changes under the old keys
//! (docs/format.md#carry-over). B commits under generation N while A rotates to N + 1;
//! after a sync both ways, readers show B's changes, the next write on either side
//! carries them over (re-encrypted, recorded), and the old generation's files go. Also
//! killed at every step of that write (the library's fault hook, as in `crash.rs`).

mod common;
mod fault;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use baton::rotate::RotateOptions;
use baton::sync::{EntrySide, entry_sides};
use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{Access, InitOptions, IntegrityError, Vault};
use baton::{KdfParams, Passphrase, SecretText};
use common::add_with_root as add;

fn pass() -> Passphrase {
    Passphrase::new("correct horse battery staple".into())
}

fn open(path: &Path, access: Access) -> Vault {
    Vault::open(path, &pass(), access)
        .unwrap_or_else(|e| panic!("{} does not open: {e}", path.display()))
}

fn edit(v: &mut Vault, id: &str, secret: &str) {
    v.edit_entry(
        id,
        "root",
        EntryFields {
            password: Some(SecretText::new(secret.into())),
            ..Default::default()
        },
        None,
    )
    .unwrap();
}

fn rotate(path: &Path, emergency: bool) {
    let mut v = open(path, Access::Write);
    v.rotate(
        RotateOptions {
            emergency: emergency
                .then(|| baton::emergency::Policy::single(vec!["carla".into(), "dora".into()], 2)),
            ..Default::default()
        },
        Some(&pass()),
        |_, _| Ok(()),
        &|_| {},
    )
    .unwrap();
}

/// Every value each client's `root` entry shows (the one on show and every side of a
/// conflict); clients without one map to an empty set.
fn values(v: &Vault) -> BTreeMap<String, BTreeSet<String>> {
    v.clients()
        .unwrap()
        .iter()
        .map(|c| {
            let file = v.client(&c.id).unwrap();
            let sides = entry_sides(&file, "root")
                .into_iter()
                .filter_map(|s| match s {
                    EntrySide::Live(e) => e.password.as_ref().map(|p| p.expose().to_string()),
                    EntrySide::Removed(_) => None,
                })
                .collect();
            (c.id.clone(), sides)
        })
        .collect()
}

fn expect(list: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    list.iter()
        .map(|(c, vs)| (c.to_string(), vs.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// Every file of a vault folder by path relative to it (not the lock).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                if rel != ".lock" {
                    out.insert(rel, fs::read(&p).unwrap());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Two folders kept in step like a sync service does: against the state of the last
/// sync, a file one side added or changed goes to the other, a file one side removed
/// goes from the other unless the other changed it (a change wins over a removal, as
/// in Syncthing and Nextcloud).
struct Pair {
    a: PathBuf,
    b: PathBuf,
    base: BTreeMap<String, Vec<u8>>,
}

impl Pair {
    /// Device A with `acme` (root `one`), copied to device B.
    fn new(dir: &Path) -> Pair {
        let a = dir.join("a");
        let mut v = Vault::init(
            &a,
            &pass(),
            InitOptions {
                policy: baton::emergency::Policy::single(vec!["anna".into(), "ben".into()], 2),
                kdf: KdfParams::insecure_test(),
            },
            |_, _| Ok(()),
        )
        .unwrap();
        add(&mut v, "acme", "one");
        drop(v);
        let b = dir.join("b");
        common::copy_tree(&a, &b);
        let base = snapshot(&a);
        Pair { a, b, base }
    }

    /// A sync in one direction only: what B changed since the last sync reaches A
    /// (added and changed files; removals stay), as when A's service has uploaded
    /// nothing yet.
    fn b_to_a(&mut self) {
        for (name, bytes) in snapshot(&self.b) {
            if self.base.get(&name) != Some(&bytes) {
                let p = self.a.join(&name);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, &bytes).unwrap();
                self.base.insert(name, bytes);
            }
        }
    }

    fn sync(&mut self) {
        let (sa, sb) = (snapshot(&self.a), snapshot(&self.b));
        let names: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
        let mut next = BTreeMap::new();
        for name in names {
            let (x, y, base) = (sa.get(name), sb.get(name), self.base.get(name));
            let won = match (x, y) {
                (Some(x), Some(y)) if x == y => Some(x),
                (Some(x), Some(y)) => {
                    assert!(
                        Some(x) == base || Some(y) == base,
                        "{name} changed on both devices: baton never writes a file on two"
                    );
                    Some(if Some(x) == base { y } else { x })
                }
                (Some(x), None) => (base.is_none() || base != Some(x)).then_some(x),
                (None, Some(y)) => (base.is_none() || base != Some(y)).then_some(y),
                (None, None) => None,
            };
            for dir in [&self.a, &self.b] {
                let p = dir.join(name);
                match won {
                    Some(bytes) => {
                        if fs::read(&p).ok().as_ref() != Some(bytes) {
                            fs::create_dir_all(p.parent().unwrap()).unwrap();
                            fs::write(&p, bytes).unwrap();
                        }
                    }
                    None => {
                        let _ = fs::remove_file(&p);
                    }
                }
            }
            if let Some(bytes) = won {
                next.insert(name.clone(), bytes.clone());
            }
        }
        self.base = next;
    }
}

fn old_heads(path: &Path, generation: u64) -> Vec<String> {
    fs::read_dir(path.join("heads"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(&format!(".g{generation}")))
        .collect()
}

fn actions(v: &Vault) -> Vec<(String, String)> {
    let (records, problems) = v.audit_log();
    assert!(problems.is_empty(), "{problems:?}");
    records
        .iter()
        .map(|r| (r.action.to_string(), r.detail.clone()))
        .collect()
}

/// B has a head that A's rotation merges (so the rotation removes B's shards), then
/// B, offline, adds `beta` and edits `acme` while A rotates.
fn stranded(dir: &Path, emergency: bool) -> Pair {
    stranded_across(dir, &[emergency])
}

/// [`stranded`] while A rotates once per item of `rotations` (`true`: with a new
/// emergency key), writing `mid` between two.
fn stranded_across(dir: &Path, rotations: &[bool]) -> Pair {
    let mut pair = Pair::new(dir);
    add(&mut open(&pair.b, Access::Write), "early", "e");
    pair.sync();
    for (i, &emergency) in rotations.iter().enumerate() {
        if i > 0 {
            add(&mut open(&pair.a, Access::Write), "mid", "m");
        }
        rotate(&pair.a, emergency);
    }
    let mut v = open(&pair.b, Access::Write);
    add(&mut v, "beta", "b");
    edit(&mut v, "acme", "edited on b");
    drop(v);
    pair.sync();
    pair
}

/// Checks that both devices show `want`, `verify` is clean, B's records and the carry
/// record are in the log, and nothing of generation 1 is left.
fn settled(pair: &mut Pair, want: &BTreeMap<String, BTreeSet<String>>) {
    for (side, path) in [("a", &pair.a), ("b", &pair.b)] {
        let v = open(path, Access::Read);
        assert_eq!(&values(&v), want, "device {side}");
        assert_eq!(v.verify(), vec![], "device {side}");
        assert!(!v.has_unmerged_heads(), "device {side}");
        let log = actions(&v);
        let has =
            |action: &str, detail: &str| log.iter().any(|(a, d)| a == action && d.contains(detail));
        assert!(has("client.add", "beta") || log.iter().any(|(a, _)| a == "client.add"));
        assert!(
            log.iter().filter(|(a, _)| a == "entry.edit").count() >= 1,
            "device {side}: B's edit is not in the log: {log:?}"
        );
        assert!(
            has("vault.merge", "carried over from generation 1"),
            "device {side}: no carry record: {log:?}"
        );
        assert_eq!(old_heads(path, 1), Vec::<String>::new(), "device {side}");
        assert_eq!(v.orphans().unwrap(), Vec::<PathBuf>::new(), "device {side}");
    }
}

/// The scenario, carried by A (the device that rotated).
#[test]
fn a_change_made_under_the_old_keys_is_carried_over_by_the_rotating_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut pair = stranded(dir.path(), false);
    let want = expect(&[
        ("acme", &["edited on b"]),
        ("beta", &["b"]),
        ("early", &["e"]),
    ]);
    // Before any write, readers on both sides show B's changes and `verify` names the
    // head that the next write carries over.
    for path in [&pair.a, &pair.b] {
        assert_eq!(old_heads(path, 1).len(), 1);
        let v = open(path, Access::Read);
        assert_eq!(v.header().generation, 2);
        assert_eq!(values(&v), want);
        let problems = v.verify();
        assert!(
            problems
                .iter()
                .all(|p| matches!(p, IntegrityError::StrandedHead { .. })),
            "{problems:?}"
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
    }
    // A's next write carries it over; B's old head, covered now, stays until B has
    // switched (it may still commit under the old keys, naming its old shards).
    add(&mut open(&pair.a, Access::Write), "after-a", "a");
    assert_eq!(old_heads(&pair.a, 1).len(), 1);
    assert_eq!(open(&pair.a, Access::Read).verify(), vec![]);
    pair.sync();
    let mut want = want;
    want.insert("after-a".into(), ["a".to_string()].into());
    // B switches; its old head and shards go with the next write.
    add(&mut open(&pair.b, Access::Write), "after-b", "b2");
    pair.sync();
    add(&mut open(&pair.a, Access::Write), "again-a", "a2");
    pair.sync();
    want.insert("after-b".into(), ["b2".to_string()].into());
    want.insert("again-a".into(), ["a2".to_string()].into());
    settled(&mut pair, &want);
}

/// B's own changes under the old keys cannot be carried while a file they need is
/// not here (still syncing, or deleted): B writes nothing until it is, instead of
/// writing a head that leaves them behind and audit records that take their numbers
/// (the simulator's seed 204, where B's chain started again at record 1 and set its own
/// committed records aside); `verify` names the head as waiting, not as one that no
/// key can carry. Once the file is back, B carries them over as usual.
#[test]
fn the_offline_device_waits_for_a_file_its_own_stranded_changes_need() {
    let dir = tempfile::tempdir().unwrap();
    // B's first changes are made under the old keys after A rotated: the new
    // generation holds nothing of B's audit chain yet.
    let mut pair = Pair::new(dir.path());
    rotate(&pair.a, false);
    let mut v = open(&pair.b, Access::Write);
    add(&mut v, "beta", "b");
    edit(&mut v, "acme", "edited on b");
    drop(v);
    pair.sync();
    waits_for_its_file(pair, false);
}

/// The same where B had written before the rotation, so the new generation pins B's
/// chain below the two records of its stranded head: B's folder still opens (it was
/// called rolled back, "ends at N, records up to N+2") and shows the state meanwhile.
#[test]
fn a_device_whose_stranded_changes_wait_for_a_file_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let pair = stranded(dir.path(), false);
    let v = open(&pair.b, Access::Read);
    assert!(v.clients().unwrap().iter().any(|c| c.id == "early"));
    drop(v);
    waits_for_its_file(pair, true);
}

/// B's stranded head (`beta` added, `acme` edited) loses `beta`'s client file: `verify`
/// names the head as waiting, B's folder opens, a write is refused and writes nothing;
/// once the file is back, B carries its changes over (see `b_carries_then_a_writes`).
fn waits_for_its_file(mut pair: Pair, early: bool) {
    let v = open(&pair.b, Access::Read);
    let beta = pair.b.join("clients").join(&v.locate("beta").unwrap().file);
    drop(v);
    let saved = fs::read(&beta).unwrap();
    fs::remove_file(&beta).unwrap();
    let problems = open(&pair.b, Access::Read).verify();
    assert!(
        problems.iter().any(|p| matches!(p, IntegrityError::HeadRefused { reason, .. } if reason.contains("carried over once it is here"))),
        "{problems:?}"
    );
    let e = open(&pair.b, Access::Write)
        .add_client(NewClient {
            id: "after-b".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(e, baton::VaultError::OwnHeadIncomplete { .. }),
        "{e}"
    );
    assert_eq!(
        old_heads(&pair.b, 1).len(),
        1,
        "nothing was written over it"
    );
    fs::write(&beta, saved).unwrap();
    b_carries_then_a_writes(&mut pair, early);
    let set_aside = fs::read_dir(pair.b.join("audit"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("interrupted"))
        .count();
    assert_eq!(set_aside, 0, "no record of B's was set aside");
}

/// The same, carried by B itself (its first write under the new generation).
#[test]
fn the_device_that_was_offline_carries_its_own_change_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut pair = stranded(dir.path(), false);
    b_carries_then_a_writes(&mut pair, true);
}

/// B writes `after-b` (carrying its stranded head over), then A writes `after-a`,
/// each synced; both then show B's changes (`beta`, `acme` edited; `early` if B had
/// added it before the rotation) and are [`settled`].
fn b_carries_then_a_writes(pair: &mut Pair, early: bool) {
    add(&mut open(&pair.b, Access::Write), "after-b", "b2");
    assert_eq!(old_heads(&pair.b, 1), Vec::<String>::new());
    pair.sync();
    add(&mut open(&pair.a, Access::Write), "after-a", "a");
    pair.sync();
    let mut want = expect(&[
        ("acme", &["edited on b"]),
        ("after-a", &["a"]),
        ("after-b", &["b2"]),
        ("beta", &["b"]),
    ]);
    if early {
        want.insert("early".into(), ["e".to_string()].into());
    }
    settled(pair, &want);
}

/// B adds clients `early0` … `early11` (root password "e"), which fill many shards.
fn b_adds_early(pair: &Pair) {
    let mut v = open(&pair.b, Access::Write);
    for i in 0..12 {
        add(&mut v, &format!("early{i}"), "e");
    }
}

/// For each `(side, client, password)`: that side ("a" or "b") adds the client, then
/// the pair syncs.
fn each_writes_then_syncs(pair: &mut Pair, steps: &[(&str, &str, &str)]) {
    for (side, id, value) in steps {
        let path = if *side == "a" { &pair.a } else { &pair.b };
        add(&mut open(path, Access::Write), id, value);
        pair.sync();
    }
}

/// Both devices show `list` and B's twelve early clients, `verify` is clean and no
/// head of generation 1 is left.
fn both_show_with_early(pair: &Pair, list: &[(&str, &[&str])]) {
    let mut want = expect(list);
    for i in 0..12 {
        want.insert(format!("early{i}"), ["e".to_string()].into());
    }
    for path in [&pair.a, &pair.b] {
        let v = open(path, Access::Read);
        assert_eq!(values(&v), want, "{}", path.display());
        assert_eq!(v.verify(), vec![], "{}", path.display());
        assert_eq!(old_heads(path, 1), Vec::<String>::new());
    }
}

/// B's shards written under the old keys, named by its stranded head, are carried
/// over by both devices at once: A replaces them with copies of its own and, as no head
/// of the new generation needs them, removes them; B writes its own head of the new
/// generation, which names copies under the new keys (docs/format.md#carry-over, step
/// 4), never a file A removed. After the sync both go on writing and nothing is lost.
/// (The simulator reached a variant of this in which B's new head named its own old
/// shard and B then refused every write; this scenario does not reach it, but checks
/// the rule around it.)
#[test]
fn both_devices_carrying_one_stranded_head_leave_no_old_shard_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut pair = Pair::new(dir.path());
    // B's clients (in many shards) under the old keys, which A has not seen when it
    // rotates, and more after it.
    b_adds_early(&pair);
    rotate(&pair.a, false);
    add(&mut open(&pair.b, Access::Write), "beta", "b");
    pair.sync();
    // Both carry B's stranded head over before they sync again.
    let old: BTreeSet<String> = snapshot(&pair.b).into_keys().collect();
    add(&mut open(&pair.a, Access::Write), "after-a", "a");
    add(&mut open(&pair.b, Access::Write), "after-b", "b2");
    let v = open(&pair.b, Access::Read);
    let named_old: Vec<&str> = v
        .index()
        .shard_files()
        .filter(|f| {
            old.contains(&format!("clients/{f}")) && !dir.path().join("a/clients").join(f).exists()
        })
        .collect();
    assert_eq!(
        named_old,
        Vec::<&str>::new(),
        "B's new head names files A removed"
    );
    drop(v);
    pair.sync();
    each_writes_then_syncs(&mut pair, &[("b", "again-b", "b3"), ("a", "again-a", "a3")]);
    both_show_with_early(
        &pair,
        &[
            ("acme", &["one"]),
            ("after-a", &["a"]),
            ("after-b", &["b2"]),
            ("again-a", &["a3"]),
            ("again-b", &["b3"]),
            ("beta", &["b"]),
        ],
    );
}

/// A carries B's stranded head over while B, still without the new generation, writes
/// a newer head under the old keys that names the same shards. Those shards stay until
/// B has switched (docs/format.md#carry-over, step 5): once B has the new generation it
/// carries its newer head over, and nothing is lost. (The simulator reached a variant in
/// which A's commit deferred and then removed them, and B's newer head waited for ever;
/// this scenario does not reach it, but checks the rule around it.)
#[test]
fn a_newer_stranded_head_keeps_the_shards_an_older_one_shared() {
    let dir = tempfile::tempdir().unwrap();
    let mut pair = Pair::new(dir.path());
    b_adds_early(&pair);
    rotate(&pair.a, false);
    add(&mut open(&pair.b, Access::Write), "beta", "b");
    // B's stranded head reaches A; A carries it over.
    pair.b_to_a();
    add(&mut open(&pair.a, Access::Write), "after-a", "a");
    add(&mut open(&pair.a, Access::Write), "next-a", "n");
    // B, still under the old keys, writes again.
    add(&mut open(&pair.b, Access::Write), "gamma", "g");
    pair.sync();
    each_writes_then_syncs(&mut pair, &[("b", "after-b", "b2"), ("a", "again-a", "a2")]);
    both_show_with_early(
        &pair,
        &[
            ("acme", &["one"]),
            ("after-a", &["a"]),
            ("after-b", &["b2"]),
            ("again-a", &["a2"]),
            ("beta", &["b"]),
            ("gamma", &["g"]),
            ("next-a", &["n"]),
        ],
    );
}

/// The same entry edited on A before it rotated and on B after: both versions are
/// kept, as a conflict; B's removal of a client wins over the rotation's copy of it.
#[test]
fn an_entry_edited_on_both_sides_is_a_conflict_and_a_removal_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut pair = Pair::new(dir.path());
    let mut v = open(&pair.b, Access::Write);
    add(&mut v, "early", "e");
    add(&mut v, "doomed", "d");
    drop(v);
    pair.sync();
    edit(&mut open(&pair.a, Access::Write), "acme", "edited on a");
    rotate(&pair.a, false);
    let mut v = open(&pair.b, Access::Write);
    edit(&mut v, "acme", "edited on b");
    v.remove_client("doomed").unwrap();
    drop(v);
    pair.sync();
    let want = expect(&[("acme", &["edited on a", "edited on b"]), ("early", &["e"])]);
    assert_eq!(values(&open(&pair.a, Access::Read)), want);
    assert!(open(&pair.b, Access::Write).merge().unwrap());
    pair.sync();
    for path in [&pair.a, &pair.b] {
        let v = open(path, Access::Read);
        assert_eq!(values(&v), want);
        assert_eq!(v.conflicted_clients(), vec!["acme".to_string()]);
        assert_eq!(old_heads(path, 1), Vec::<String>::new());
        let problems: Vec<_> = v.verify();
        assert_eq!(problems, vec![]);
    }
}

/// A purge on B (a tombstone) is carried over: the client does not come back from the
/// rotation's copy of it.
#[test]
fn a_purge_made_under_the_old_keys_is_not_undone_by_the_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let mut pair = Pair::new(dir.path());
    let mut v = open(&pair.a, Access::Write);
    add(&mut v, "gone", "g");
    v.end_client("gone", "2020-01-01", "contract ended")
        .unwrap();
    drop(v);
    pair.sync();
    rotate(&pair.a, false);
    let mut v = open(&pair.b, Access::Write);
    v.purge_client(
        "gone",
        baton::gdpr::PurgeBasis::Request,
        &baton::time::today(),
    )
    .unwrap();
    drop(v);
    pair.sync();
    add(&mut open(&pair.a, Access::Write), "after-a", "a");
    pair.sync();
    // B has not written under generation 2 yet: its old head, covered, stays (and is
    // no problem) until it has; then it goes on both devices.
    for switched in [false, true] {
        if switched {
            add(&mut open(&pair.b, Access::Write), "after-b", "b");
            pair.sync();
        }
        for path in [&pair.a, &pair.b] {
            let v = open(path, Access::Read);
            let mut want = expect(&[("acme", &["one"]), ("after-a", &["a"])]);
            if switched {
                want.insert("after-b".into(), ["b".to_string()].into());
            }
            assert_eq!(values(&v), want);
            assert_eq!(v.verify(), vec![]);
            assert_eq!(old_heads(path, 1).len(), usize::from(!switched));
        }
    }
}

/// A rotation with a new emergency key is for a key that may be in the wrong hands: a
/// head written under the old keys is carried only by the device that wrote it, which
/// vouches for it by the fingerprint its machine kept (docs/threat-model.md, "What the
/// new generation keeps of the old one"). Opened without that memory (as here, where no
/// device remembers anything), nobody carries it: it is reported, never removed, and
/// the header's `previous_key` says so (version 2, `own_only`).
#[test]
fn after_an_emergency_rotation_a_stranded_head_is_reported_not_carried() {
    let dir = tempfile::tempdir().unwrap();
    let mut pair = stranded(dir.path(), true);
    for path in [&pair.a, &pair.b] {
        let h: serde_json::Value =
            serde_json::from_slice(&fs::read(path.join("vault.json")).unwrap()).unwrap();
        assert!(h.get("previous_key").is_some(), "{h}");
    }
    add(&mut open(&pair.a, Access::Write), "after-a", "a");
    pair.sync();
    assert_eq!(old_heads(&pair.b, 1).len(), 1);
    assert_eq!(old_heads(&pair.a, 1).len(), 1);
    let v = open(&pair.a, Access::Read);
    assert!(!values(&v).contains_key("beta"));
    let problems = v.verify();
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, IntegrityError::StrandedForItsDevice { .. })),
        "{problems:?}"
    );
}

/// The write that carries a stranded head over, killed at every step: the vault opens
/// with the same state after each crash, and the next write finishes the carry-over
/// with the same result as an uninterrupted one.
#[test]
fn a_carry_over_killed_at_every_step_shows_the_same_state_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let pair = stranded(dir.path(), false);
    let seen = values(&open(&pair.a, Access::Read));
    let fresh = |name: &str| {
        let to = dir.path().join(name);
        let _ = fs::remove_dir_all(&to);
        common::copy_tree(&pair.a, &to);
        to
    };
    let carry = |path: &Path| {
        let mut v = open(path, Access::Write);
        assert!(v.merge().unwrap());
    };
    let done = fresh("done");
    let (_, trace) = fault::count(|| carry(&done));
    let merged = values(&open(&done, Access::Read));
    assert_eq!(merged, seen);
    assert_eq!(open(&done, Access::Read).verify(), vec![]);
    assert!(
        trace.steps.contains(&"carry: merge committed"),
        "{:?}",
        trace.steps
    );
    for step in 1..=trace.steps.len() {
        let t = fresh(&format!("step-{step}"));
        fault::crash(step, || carry(&t));
        let ctx = format!(
            "carry-over killed at step {step} ({})",
            trace.steps[step - 1]
        );
        let v = Vault::open(&t, &pass(), Access::Read).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(values(&v), seen, "{ctx}");
        drop(v);
        let mut v = open(&t, Access::Write);
        v.add_client(NewClient {
            id: "after".into(),
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{ctx}: the next write: {e}"));
        drop(v);
        let v = open(&t, Access::Read);
        let mut now = values(&v);
        now.remove("after");
        assert_eq!(now, merged, "{ctx}");
        assert_eq!(v.verify(), vec![], "{ctx}");
        assert!(v.audit_log().1.is_empty(), "{ctx}: {:?}", v.audit_log().1);
        // B's old head, covered, stays until B has switched.
        let kept = old_heads(&t, 1);
        assert!(
            kept.len() == 1 && !kept[0].starts_with(v.writer()),
            "{ctx}: {kept:?}"
        );
        let carried = actions(&v)
            .iter()
            .filter(|(a, d)| a == "vault.merge" && d.contains("carried over"))
            .count();
        assert_eq!(carried, 1, "{ctx}");
    }
}

/// Opens `path` as the CLI does: with this device's memory of the folders it saw
/// (`seen`), which names its writer and keeps the fingerprint of every head it wrote.
fn open_on(path: &Path, seen: &Path, access: Access) -> Result<Vault, String> {
    use baton::vault::rollback::SeenFolder;
    Vault::open(path, &pass(), access)
        .map_err(|e| e.to_string())?
        .guard_rollback(Box::new(SeenFolder::new(seen)))
        .map_err(|e| e.to_string())
}

/// The emergency case of `stranded`, each device with its own memory: A rotates with a
/// new emergency key (`twice`: first without, writes `mid`, then with) while B,
/// offline, adds `beta` and edits `acme`.
fn stranded_on(dir: &Path, twice: bool) -> (Pair, PathBuf, PathBuf) {
    let mut pair = Pair::new(dir);
    let (seen_a, seen_b) = (dir.join("seen-a"), dir.join("seen-b"));
    add(
        &mut open_on(&pair.b, &seen_b, Access::Write).unwrap(),
        "early",
        "e",
    );
    pair.sync();
    let rotate_a = |emergency: bool| {
        let mut v = open_on(&pair.a, &seen_a, Access::Write).unwrap();
        v.rotate(
            RotateOptions {
                emergency: emergency.then(|| {
                    baton::emergency::Policy::single(vec!["carla".into(), "dora".into()], 2)
                }),
                ..Default::default()
            },
            Some(&pass()),
            |_, _| Ok(()),
            &|_| {},
        )
        .unwrap();
    };
    if twice {
        rotate_a(false);
        add(
            &mut open_on(&pair.a, &seen_a, Access::Write).unwrap(),
            "mid",
            "m",
        );
    }
    rotate_a(true);
    let mut v = open_on(&pair.b, &seen_b, Access::Write).unwrap();
    add(&mut v, "beta", "b");
    edit(&mut v, "acme", "edited on b");
    drop(v);
    pair.sync();
    (pair, seen_a, seen_b)
}

/// After a rotation that replaced the emergency key, a head of the old generation is
/// carried over only by the device that wrote it, which checks it against the
/// fingerprint it kept outside the folder when it wrote it; the other devices report it
/// and wait (whoever holds the old keys could write one: docs/threat-model.md). B's
/// folder never says "rolled back" meanwhile.
#[test]
fn after_an_emergency_rotation_the_device_that_wrote_a_stranded_head_carries_it_over() {
    its_device_carries_it(false);
}

/// The same two generations back: A rotated without, then with a new emergency key.
/// Whoever holds the replaced keys could write a head of any generation before it, so
/// the head of generation 1 is carried by its device only as well.
#[test]
fn after_an_emergency_rotation_a_change_two_generations_back_is_carried_by_its_device() {
    its_device_carries_it(true);
}

fn its_device_carries_it(twice: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (mut pair, seen_a, seen_b) = stranded_on(dir.path(), twice);
    let v = open_on(&pair.a, &seen_a, Access::Read).unwrap();
    assert!(!values(&v).contains_key("beta"));
    assert!(
        v.verify()
            .iter()
            .any(|p| matches!(p, IntegrityError::StrandedForItsDevice { .. })),
        "{:?}",
        v.verify()
    );
    drop(v);
    add(
        &mut open_on(&pair.a, &seen_a, Access::Write).unwrap(),
        "after-a",
        "a",
    );
    pair.sync();
    assert_eq!(old_heads(&pair.a, 1).len(), 1, "A carried B's head");
    // B reads its own change before any write, then carries it.
    let v = open_on(&pair.b, &seen_b, Access::Read).unwrap();
    assert_eq!(v.header().generation, if twice { 3 } else { 2 });
    assert_eq!(values(&v)["beta"], BTreeSet::from(["b".to_string()]));
    drop(v);
    add(
        &mut open_on(&pair.b, &seen_b, Access::Write).unwrap(),
        "after-b",
        "b2",
    );
    assert_eq!(old_heads(&pair.b, 1), Vec::<String>::new());
    pair.sync();
    let mut want = expect(&[
        ("acme", &["edited on b"]),
        ("after-a", &["a"]),
        ("after-b", &["b2"]),
        ("beta", &["b"]),
        ("early", &["e"]),
    ]);
    if twice {
        want.insert("mid".into(), ["m".to_string()].into());
    }
    for (path, seen) in [(&pair.a, &seen_a), (&pair.b, &seen_b)] {
        let v = open_on(path, seen, Access::Read).unwrap();
        assert_eq!(values(&v), want);
        assert_eq!(v.verify(), vec![]);
        assert!(
            actions(&v)
                .iter()
                .any(|(a, d)| a == "vault.merge" && d.contains("carried over from generation 1")),
            "{:?}",
            actions(&v)
        );
        assert_eq!(old_heads(path, 1), Vec::<String>::new());
    }
}

/// A stranded head of B's that is not the one B's machine wrote (here: the fingerprint
/// B kept no longer matches) is not carried by B either: B reads the new generation,
/// is told why its old head is not taken, and writes nothing over it.
#[test]
fn a_stranded_head_that_is_not_the_one_this_device_wrote_is_not_carried() {
    let dir = tempfile::tempdir().unwrap();
    let (pair, _, seen_b) = stranded_on(dir.path(), false);
    let mut changed = 0;
    for e in fs::read_dir(&seen_b).unwrap().flatten() {
        let text = fs::read_to_string(e.path()).unwrap_or_default();
        if text.contains("own-head ") {
            let text: String = text
                .lines()
                .map(|l| match l.strip_prefix("own-head ") {
                    Some(rest) => format!("own-head {}{}\n", &rest[..rest.len() - 4], "0000"),
                    None => format!("{l}\n"),
                })
                .collect();
            fs::write(e.path(), text).unwrap();
            changed += 1;
        }
    }
    assert_eq!(changed, 1);
    let v = open_on(&pair.b, &seen_b, Access::Read).expect("B opens, not 'rolled back'");
    assert!(!values(&v).contains_key("beta"));
    assert!(
        v.verify()
            .iter()
            .any(|p| matches!(p, IntegrityError::StrandedNotOwn { .. })),
        "{:?}",
        v.verify()
    );
    drop(v);
    let err = match open_on(&pair.b, &seen_b, Access::Write) {
        Ok(mut v) => v
            .add_client(NewClient {
                id: "after-b".into(),
                ..Default::default()
            })
            .unwrap_err()
            .to_string(),
        Err(e) => e,
    };
    assert!(err.contains("not the head this machine wrote"), "{err}");
    assert_eq!(old_heads(&pair.b, 1).len(), 1);
}

/// A device offline across two rotations: its changes under generation 1 are shown on
/// both devices under generation 3 and carried over by the next write, as after one
/// rotation (the issue: a rotation "must not strand B's later changes under the old
/// keys without baton noticing and carrying them over").
#[test]
fn a_change_made_two_generations_back_is_carried_over() {
    let dir = tempfile::tempdir().unwrap();
    // The header keeps every earlier generation's key that a device may still write
    // under (docs/format.md#header, `earlier`).
    let mut pair = stranded_across(dir.path(), &[false, false]);
    let mut want = expect(&[
        ("acme", &["edited on b"]),
        ("beta", &["b"]),
        ("early", &["e"]),
        ("mid", &["m"]),
    ]);
    for path in [&pair.a, &pair.b] {
        let v = open(path, Access::Read);
        assert_eq!(v.header().generation, 3);
        assert_eq!(values(&v), want);
        let problems = v.verify();
        assert!(
            problems.len() == 1 && matches!(problems[0], IntegrityError::StrandedHead { .. }),
            "{problems:?}"
        );
    }
    add(&mut open(&pair.a, Access::Write), "after-a", "a");
    pair.sync();
    add(&mut open(&pair.b, Access::Write), "after-b", "b2");
    pair.sync();
    add(&mut open(&pair.a, Access::Write), "again-a", "a2");
    pair.sync();
    want.insert("after-a".into(), ["a".to_string()].into());
    want.insert("after-b".into(), ["b2".to_string()].into());
    want.insert("again-a".into(), ["a2".to_string()].into());
    settled(&mut pair, &want);
    for path in [&pair.a, &pair.b] {
        assert_eq!(old_heads(path, 2), Vec::<String>::new());
    }
}

/// A device whose first changes no other device has seen yet (it wrote under
/// generation 1 and has not synced since) while A rotates twice: the header keeps
/// generation 1's key all the same, and B's changes are carried (the simulator's
/// Syncthing seed 2036, where B's head could not be read and B started its audit chain
/// again at record 1). Older keys than 16 generations go.
#[test]
fn a_device_no_one_has_heard_from_is_carried_two_generations_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut pair = Pair::new(dir.path());
    rotate(&pair.a, false);
    add(&mut open(&pair.a, Access::Write), "mid", "m");
    rotate(&pair.a, false);
    assert_eq!(open(&pair.a, Access::Read).kept_generations(), vec![2, 1]);
    let mut v = open(&pair.b, Access::Write);
    add(&mut v, "beta", "b");
    edit(&mut v, "acme", "edited on b");
    drop(v);
    pair.sync();
    let mut want = expect(&[
        ("acme", &["edited on b"]),
        ("beta", &["b"]),
        ("mid", &["m"]),
    ]);
    for path in [&pair.a, &pair.b] {
        assert_eq!(
            values(&open(path, Access::Read)),
            want,
            "{}",
            path.display()
        );
    }
    add(&mut open(&pair.b, Access::Write), "after-b", "b2");
    pair.sync();
    add(&mut open(&pair.a, Access::Write), "after-a", "a");
    pair.sync();
    want.insert("after-b".into(), ["b2".to_string()].into());
    want.insert("after-a".into(), ["a".to_string()].into());
    for path in [&pair.a, &pair.b] {
        let v = open(path, Access::Read);
        assert_eq!(values(&v), want, "{}", path.display());
        assert_eq!(v.verify(), vec![], "{}", path.display());
        assert_eq!(old_heads(path, 1), Vec::<String>::new());
    }
    for _ in 0..17 {
        rotate(&pair.a, false);
    }
    assert_eq!(
        open(&pair.a, Access::Read).kept_generations().len(),
        1 + baton::store::previous::MAX_EARLIER
    );
}
