//! Review of the multi-writer format (version 3): proofs of concept. Each test states
//! a property of docs/format.md#multi-writer or docs/threat-model.md that the code did
//! not hold when it was written; it fails until the finding is fixed.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use baton::Passphrase;
use baton::rotate::RotateOptions;
use baton::vault::changes::NewClient;
use baton::vault::rollback::SeenFolder;
use baton::vault::{Access, IntegrityError, UnlockError, Vault};
use common::add_with_root as add;

fn pass() -> Passphrase {
    Passphrase::new("correct horse battery staple".into())
}

fn init(path: &Path) {
    let mut v = common::init_vault(path, &pass());
    add(&mut v, "acme", "one");
}

fn writer_of(path: &Path) -> String {
    Vault::open(path, &pass(), Access::Read)
        .unwrap()
        .writer()
        .to_string()
}

fn ids(v: &Vault) -> BTreeSet<String> {
    v.catalog().unwrap().into_iter().map(|s| s.id).collect()
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Copies the files of `sub` in `from` that `to` lacks and that `take` accepts (a sync
/// service delivering some of a device's new files).
fn deliver(from: &Path, to: &Path, sub: &str, take: impl Fn(&str) -> bool) {
    fs::create_dir_all(to.join(sub)).unwrap();
    for name in names(&from.join(sub)) {
        let target = to.join(sub).join(&name);
        if take(&name) && !target.exists() {
            fs::copy(from.join(sub).join(&name), &target).unwrap();
        }
    }
}

/// Everything `from` has that `to` lacks, and `from`'s own head (replaced in place).
fn bring(from: &Path, to: &Path) {
    let writer = writer_of(from);
    for sub in ["clients", "audit"] {
        deliver(from, to, sub, |_| true);
    }
    fs::create_dir_all(to.join("heads")).unwrap();
    for name in names(&from.join("heads")) {
        if name.starts_with(&writer) || !to.join("heads").join(&name).exists() {
            fs::copy(from.join("heads").join(&name), to.join("heads").join(&name)).unwrap();
        }
    }
}

fn fresh_copy(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    common::copy_tree(from, to);
    let _ = fs::remove_file(to.join(".lock"));
}

/// Two folders of one vault, `a` and `b` (two writers), both holding `acme`.
fn two_writers(dir: &Path) -> (PathBuf, PathBuf) {
    let a = dir.join("a");
    init(&a);
    let b = dir.join("b");
    fresh_copy(&a, &b);
    (a, b)
}

/// Sync services deliver files in any order (docs/format.md#multi-writer, threat (2)):
/// another writer's audit records may arrive before its head. format.md#mw-commit says
/// such records "may be their next commit whose head has not arrived, so `status` and
/// `verify` report them". But `check_audit_tail` runs on every open for every chain the
/// state pins and calls two records above another writer's pin a rollback (exit 4):
/// one ordinary command on the other device (client + entry, or any change after a
/// merge, which writes `vault.merge` plus its own record) locks this device out with a
/// false tamper alarm until the head arrives.
#[test]
fn another_writers_records_arriving_before_its_head_are_not_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_writers(dir.path());
    let wb = writer_of(&b);
    add(
        &mut Vault::open(&b, &pass(), Access::Write).unwrap(),
        "beta",
        "b",
    );
    bring(&b, &a);
    // a merges b: its head now pins b's chain.
    add(
        &mut Vault::open(&a, &pass(), Access::Write).unwrap(),
        "gamma",
        "g",
    );
    // b makes one more client (two records); only the records have arrived at a.
    add(
        &mut Vault::open(&b, &pass(), Access::Write).unwrap(),
        "delta",
        "d",
    );
    deliver(&b, &a, "audit", |n| n.starts_with(&wb));
    let opened = Vault::open(&a, &pass(), Access::Read);
    assert!(
        opened.is_ok(),
        "another writer's records ahead of its head (still syncing) refused the vault: {:?}",
        opened.err()
    );
    assert!(opened.unwrap().orphans().unwrap().len() >= 2);
}

/// docs/format.md#multi-writer "Rollback and copies": "A machine remembers ... the join
/// of the `seen` vectors it last opened. A folder whose state is older for some writer
/// (a head that went back ...) is refused as rolled back (exit 4)". The code remembers
/// one number, the *sum* of the vector (`Vault::state_revision`), so a rollback of one
/// writer's head by k commits is not seen when another writer's head advanced by k or
/// more meanwhile (an ordinary sync). Here a folder writer puts back an older genuine
/// head of writer a and deletes a's newer records: a's committed client `secret`
/// silently disappears and the machine that saw it opens the folder without a word.
#[test]
fn one_writers_rollback_masked_by_anothers_progress_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    init(&a);
    let seen = dir.path().join("seen");
    // The `baton` command's way: every open goes through the machine's memory (which
    // also names this folder's writer with the machine secret).
    let remembered = |access| {
        Vault::open(&a, &pass(), access)
            .and_then(|v| Ok(v.guard_rollback(Box::new(SeenFolder::new(&seen)))?))
    };
    let wa = {
        let mut v = remembered(Access::Write).unwrap();
        add(&mut v, "first", "f");
        v.writer().to_string()
    };
    let head = a.join("heads").join(format!("{wa}.g1.age"));
    let old_head = fs::read(&head).unwrap();
    let old_records = names(&a.join("audit"));
    // Writer b starts from this state.
    let b = dir.path().join("b");
    fresh_copy(&a, &b);
    {
        let mut v = remembered(Access::Write).unwrap();
        add(&mut v, "secret", "s");
    }
    // Meanwhile writer b commits two changes of its own.
    add(
        &mut Vault::open(&b, &pass(), Access::Write).unwrap(),
        "beta",
        "b",
    );
    // The attack on folder a: a's head back by two commits, its newer records gone,
    // and b's changes delivered as a sync service would.
    fs::write(&head, old_head).unwrap();
    for n in names(&a.join("audit")).difference(&old_records) {
        if n.starts_with(&wa) {
            fs::remove_file(a.join("audit").join(n)).unwrap();
        }
    }
    bring(&b, &a);
    match remembered(Access::Read) {
        Err(UnlockError::Integrity(IntegrityError::VaultRolledBack { .. })) => {}
        Err(e) => panic!("refused, but not as rolled back: {e}"),
        Ok(v) => panic!(
            "writer a's head went back two commits and the machine that saw it opened the \
             folder; clients now {:?} (`secret` is gone)",
            ids(&v)
        ),
    }
}

/// A rotation that runs while a sync service delivers another writer's newer head of
/// generation N (threat (2)): format.md#mw-rotation says such a head "is newer than what
/// the rotation covered; the next open under generation N + 1 reports it and carries
/// it over". `finish_rotation` removes *every* head of the old generation present when
/// it runs, without checking that the new head covers it, so b's committed client is
/// silently lost (its head is gone; its files are left as unnamed orphans).
#[test]
fn a_rotation_keeps_a_head_it_did_not_cover() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_writers(dir.path());
    let wb = writer_of(&b);
    let mut v = Vault::open(&a, &pass(), Access::Write).unwrap();
    // While a's rotation runs, b's change arrives.
    add(
        &mut Vault::open(&b, &pass(), Access::Write).unwrap(),
        "beta",
        "b",
    );
    bring(&b, &a);
    v.rotate(
        RotateOptions::default(),
        Some(&pass()),
        |_, _| Ok(()),
        &|_| {},
    )
    .unwrap();
    drop(v);
    let late = a.join("heads").join(format!("{wb}.g1.age"));
    assert!(
        late.exists(),
        "the rotation removed writer b's head that it never merged: b's change `beta` is lost"
    );
}

/// Files arrive in any order: another writer's rotation to generation N + 1 can put its
/// head `heads/<b>.g<N+1>.age` here before its `vault.json`. `run_rotation` then treats
/// that head as "the leftover of an interrupted run of this rotation" and deletes it
/// before writing its own generation N + 1, although it is another writer's complete,
/// committed state under other keys; the deletion syncs back to b.
#[test]
fn a_rotation_never_removes_another_writers_head_of_the_next_generation() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_writers(dir.path());
    let wb = writer_of(&b);
    {
        let mut w = Vault::open(&b, &pass(), Access::Write).unwrap();
        add(&mut w, "beta", "b");
        w.rotate(
            RotateOptions::default(),
            Some(&pass()),
            |_, _| Ok(()),
            &|_| {},
        )
        .unwrap();
    }
    let theirs = a.join("heads").join(format!("{wb}.g2.age"));
    // b's new files and head have arrived at a; its vault.json not yet.
    deliver(&b, &a, "clients", |_| true);
    deliver(&b, &a, "audit", |_| true);
    deliver(&b, &a, "heads", |n| n.ends_with(".g2.age"));
    assert!(theirs.exists());
    let mut v = Vault::open(&a, &pass(), Access::Write).unwrap();
    let _ = v.rotate(
        RotateOptions::default(),
        Some(&pass()),
        |_, _| Ok(()),
        &|_| {},
    );
    drop(v);
    assert!(
        theirs.exists(),
        "a's rotation deleted writer b's head of generation 2 (b's whole rotated state)"
    );
}

/// format.md#versions: a writer "starts at one more than the highest counter of w in
/// any head or row it can read, so a lost head does not reuse numbers". A folder put
/// back from a backup (or a head rolled back by a folder writer) can read only the old
/// counters, so it reuses revisions; a head of another writer that saw the lost
/// revisions then "covers" the new, different head with the same numbers, and the
/// new change is hidden from every reader without any message. Now the other head's
/// pin of that writer's audit chain gives the reuse away (docs/format.md#forked-writers):
/// the new head is shown and `verify` names the writer.
#[test]
fn a_change_made_after_restoring_a_backup_is_not_silently_covered() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_writers(dir.path());
    let backup = dir.path().join("backup");
    fresh_copy(&a, &backup);
    add(
        &mut Vault::open(&a, &pass(), Access::Write).unwrap(),
        "one",
        "1",
    );
    bring(&a, &b);
    // b merges a's two commits (its head has seen them) and makes a change.
    add(
        &mut Vault::open(&b, &pass(), Access::Write).unwrap(),
        "beta",
        "b",
    );
    // a's disk is restored from the backup before b's head arrived; a works on.
    fresh_copy(&backup, &a);
    add(
        &mut Vault::open(&a, &pass(), Access::Write).unwrap(),
        "two",
        "2",
    );
    bring(&b, &a);
    let v = Vault::open(&a, &pass(), Access::Read).unwrap();
    let now = ids(&v);
    assert!(
        now.contains("two") && now.contains("beta") && now.contains("one"),
        "a's committed client `two` is hidden, or b's changes are: the vault shows {now:?}"
    );
    let problems = v.verify();
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, baton::vault::IntegrityError::WriterForked { writer, .. } if writer == v.writer())),
        "{problems:?}"
    );
}

/// "Every read is bounded" (and the threat model's planted files): client files and
/// shards are read with `fs::read`, which follows a symlink and waits on a FIFO. A
/// folder writer (or a git remote: `baton sync` checks symlinks out as symlinks) who
/// puts a FIFO, or a symlink to `/dev/zero`, in place of a file a head names hangs
/// or exhausts the memory of every reader, instead of the file being named as
/// damaged. Headers, heads and records already use `fsio::read_bounded`.
#[test]
fn a_fifo_in_place_of_a_client_file_does_not_hang_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    init(&a);
    let v = Vault::open(&a, &pass(), Access::Read).unwrap();
    let file = v.locate("acme").unwrap().file;
    drop(v);
    let p = a.join("clients").join(&file);
    fs::remove_file(&p).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&p)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let a2 = a.clone();
    std::thread::spawn(move || {
        let v = Vault::open(&a2, &pass(), Access::Read).unwrap();
        let _ = tx.send(v.client("acme").is_err());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok(refused) => assert!(refused, "a FIFO was read as a client file"),
        Err(_) => {
            // Let the blocked reader go (it waits in open(2) for a writer).
            let _ = fs::OpenOptions::new().write(true).open(&p);
            panic!("reading a client whose file is a FIFO hangs (unbounded read)")
        }
    }
}

/// format.md#resolve: "The vault-wide fields merge last-writer-wins by `settings_ver`,
/// then `updated`, then writer id; the losing values are named in the merge's audit
/// record." `merge_heads` picks one head's whole settings (holders, owner profile,
/// drill, retention) and `commit_merge` records only the heads merged and the clients
/// in conflict: two devices changing *different* settings apart lose one change
/// without any record of it (and a concurrent `add-holder` can lose the new holder's
/// row while the share set keeps its member).
#[test]
fn a_settings_change_lost_in_a_merge_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_writers(dir.path());
    Vault::open(&a, &pass(), Access::Write)
        .unwrap()
        .set_retention_months(24)
        .unwrap();
    Vault::open(&b, &pass(), Access::Write)
        .unwrap()
        .set_owner_profile(baton::OwnerProfile {
            name: "Max Admin".into(),
            contact: "max@admin.example".into(),
            ..Default::default()
        })
        .unwrap();
    bring(&b, &a);
    let mut v = Vault::open(&a, &pass(), Access::Write).unwrap();
    assert!(v.merge().unwrap());
    let both = v.index().retention_months == 24 && v.index().owner.contact == "max@admin.example";
    let merge = v
        .audit_log()
        .0
        .into_iter()
        .rfind(|r| r.action.as_str() == "vault.merge")
        .unwrap();
    assert!(
        both || merge.detail.contains("retention") || merge.detail.contains("owner"),
        "a settings change made on one device was dropped by the merge without a word \
         (retention {}, owner contact {:?}; merge record: {:?})",
        v.index().retention_months,
        v.index().owner.contact,
        merge.detail
    );
}

/// upgrade.rs: "after [the header is version 3] the index is a leftover that the next
/// writer removes". Only `upgrade()` itself calls `remove_upgraded_index`, and it
/// returns early once the header says version 3: an upgrade killed between the header
/// and the index removal (the crash suite's step "upgrade: header written") leaves
/// `index.g<N>.age` for good, and `survey` takes the current generation's index for
/// a file baton writes, so neither `verify` nor `orphans` names it. The same hides an
/// index a device still running a version 2 baton rewrote after the upgrade.
#[test]
fn the_index_left_by_an_interrupted_upgrade_is_removed_or_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let text = fs::read_to_string(Path::new(data).join("reference-vault.passphrase")).unwrap();
    let pass = Passphrase::new(text.lines().next().unwrap().to_string());
    let v2 = dir.path().join("v2");
    fresh_copy(&Path::new(data).join("reference-vault/vault"), &v2);
    let index = fs::read(v2.join("index.g1.age")).unwrap();
    Vault::open(&v2, &pass, Access::Write)
        .unwrap()
        .merge()
        .unwrap();
    // The state a crash just before the index removal leaves.
    fs::write(v2.join("index.g1.age"), &index).unwrap();
    let mut v = Vault::open(&v2, &pass, Access::Write).unwrap();
    v.set_retention_months(13).unwrap();
    let reported = !v.verify().is_empty()
        || v.orphans()
            .unwrap()
            .iter()
            .any(|p| p.ends_with("index.g1.age"));
    drop(v);
    assert!(
        !v2.join("index.g1.age").exists() || reported,
        "the version 2 index stays in the upgraded vault and nothing names it"
    );
}

/// The consequence of the rollback above on the next write: writer a's files of the
/// hidden commits carry a's id and no state names them any more, so
/// `remove_own_leftovers` takes them for the leftovers of a crashed write and deletes
/// them. The committed client `secret` (its client file with the password) is then
/// gone for good on every device, although a's machine remembered having seen it.
#[test]
fn a_rolled_back_writer_never_deletes_its_own_committed_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    init(&a);
    let seen = dir.path().join("seen");
    let remembered = |access| {
        Vault::open(&a, &pass(), access)
            .and_then(|v| Ok(v.guard_rollback(Box::new(SeenFolder::new(&seen)))?))
    };
    let wa = {
        let mut v = remembered(Access::Write).unwrap();
        add(&mut v, "first", "f");
        v.writer().to_string()
    };
    let head = a.join("heads").join(format!("{wa}.g1.age"));
    let old_head = fs::read(&head).unwrap();
    let old_records = names(&a.join("audit"));
    let old_clients = names(&a.join("clients"));
    let b = dir.path().join("b");
    fresh_copy(&a, &b);
    {
        let mut v = remembered(Access::Write).unwrap();
        add(&mut v, "secret", "s");
    }
    let committed: BTreeSet<String> = names(&a.join("clients"))
        .difference(&old_clients)
        .cloned()
        .collect();
    add(
        &mut Vault::open(&b, &pass(), Access::Write).unwrap(),
        "beta",
        "b",
    );
    fs::write(&head, old_head).unwrap();
    for n in names(&a.join("audit")).difference(&old_records) {
        if n.starts_with(&wa) {
            fs::remove_file(a.join("audit").join(n)).unwrap();
        }
    }
    bring(&b, &a);
    if let Ok(mut v) = remembered(Access::Write) {
        let _ = v.add_client(NewClient {
            id: "next".into(),
            ..Default::default()
        });
    }
    let left = names(&a.join("clients"));
    assert!(
        committed.iter().all(|f| left.contains(f)),
        "writer a deleted the files of its own committed (then rolled back) change: {:?}",
        committed.difference(&left).collect::<Vec<_>>()
    );
}

/// A DoS by one planted file: any file in `heads/` whose name parses as a head of the
/// current generation (also as a sync service's conflicted copy of one) that does not
/// decrypt or authenticate refuses the whole vault (`read_heads` returns the first
/// error), for every command that opens it, `get` and `export` included. A forged
/// head can be ignored and named without loss (it cannot be believed anyway, and
/// deleting a genuine head is already possible); refusing everything only helps the
/// attacker. (Design question more than bug; the threat model says "refused if forged".)
#[test]
fn a_planted_file_in_heads_does_not_lock_the_owner_out() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    init(&a);
    fs::write(
        a.join("heads")
            .join("0123456789abcdef.g1 (conflicted copy 2026-12-01 154500).age"),
        b"junk",
    )
    .unwrap();
    let v = Vault::open(&a, &pass(), Access::Read);
    assert!(
        v.as_ref().is_ok_and(|v| v.client("acme").is_ok()),
        "one junk file in heads/ makes every command fail: {:?}",
        v.err().map(|e| e.to_string())
    );
}

/// The converse order: another writer's head arrives before its audit records (heads/
/// and clients/ synced first). Every write here is then refused as a damaged audit log
/// (`check_chain_for_write` wants every record of every chain the state pins, and the
/// newest 64 of each decrypted), naming a record that is only still syncing; the merge
/// cannot be committed either. A chain this writer does not extend could be checked
/// at the records present, or its missing tail reported as "still arriving".
#[test]
fn another_writers_head_arriving_before_its_records_does_not_block_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_writers(dir.path());
    add(
        &mut Vault::open(&b, &pass(), Access::Write).unwrap(),
        "beta",
        "b",
    );
    deliver(&b, &a, "clients", |_| true);
    let wb = writer_of(&b);
    deliver(&b, &a, "heads", |n| n.starts_with(&wb));
    let mut v = Vault::open(&a, &pass(), Access::Write).unwrap();
    let r = v.add_client(NewClient {
        id: "gamma".into(),
        ..Default::default()
    });
    assert!(
        r.is_ok(),
        "a write is refused while another writer's records are still syncing: {}",
        r.err().map(|e| e.to_string()).unwrap_or_default()
    );
}
