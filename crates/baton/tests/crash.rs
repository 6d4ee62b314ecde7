//! Crash safety, in-process (docs/format.md#writes, #rotation): every operation that
//! changes a vault is stopped at each step that changes the disk in turn (a simulated
//! crash through the library's fault hook, see `fault/`), then the vault is reopened and
//! settled as the `baton` command would settle it, and checked: every client's complete
//! plaintext exactly as before or as after the operation, `verify` clean, the audit
//! chain intact, no rotation pending, and every file in the folder accounted for
//! (named by the index, or reported by `orphans`, or an interrupted record set aside).
//! The CLI keeps one SIGKILL smoke test per operation.

mod fault;

mod common;

use common::copy_tree;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use baton::audit::{self, AuditAction};
use baton::crypto::kdf::KdfProfile;
use baton::emergency::{HolderShare, Policy};
use baton::gdpr::PurgeBasis;
use baton::rotate::{AbortReport, RotateError, RotateOptions, RotateReport};
use baton::store::header::Header;
use baton::store::index::OwnerProfile;
use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::rollback::SeenFolder;
use baton::vault::{Access, InitOptions, Vault};
use baton::{EmergencySecret, KdfParams, Passphrase, SecretText};
use fault::{Crash, Trace};
use serde_json::Value;

const PASS: &str = "correct horse battery staple";
const NEW_PASS: &str = "the colleague's new passphrase";
/// Far past every retention date the sweeps set.
const TODAY: &str = "2100-01-01";

fn pass() -> Passphrase {
    Passphrase::new(PASS.into())
}

fn new_pass() -> Passphrase {
    Passphrase::new(NEW_PASS.into())
}

// ------------------------------------------------------------------ vaults and trials

/// A vault that the sweeps copy for every trial, and the keys that open it.
struct Base {
    dir: tempfile::TempDir,
    path: PathBuf,
    /// The emergency secret, rebuilt from two of the holders' shares.
    emergency: EmergencySecret,
}

/// A folder for the trials. The sweeps make thousands of fsyncs and `syncfs` calls
/// that prove nothing here (they model a crash of the program, not of the machine; see
/// fault/), and on a disk shared with other work each `syncfs` waits for all of its
/// dirty data: so they run in memory (`/dev/shm`) where there is one.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("baton-crash-")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

/// The emergency secret rebuilt from the first two shares of a delivery (remembered:
/// SLIP-39's PBKDF2 rounds are the slowest part of a trial, and a sweep checks the
/// same delivery many times).
fn combine(shares: &[String]) -> EmergencySecret {
    static KNOWN: Mutex<Vec<(Vec<String>, EmergencySecret)>> = Mutex::new(Vec::new());
    let two = shares[..2].to_vec();
    let mut known = KNOWN.lock().unwrap();
    if let Some((_, e)) = known.iter().find(|(w, _)| *w == two) {
        return e.duplicate();
    }
    let words: Vec<&str> = two.iter().map(String::as_str).collect();
    let secret = baton::slip39::combine_strs(&words, b"").expect("the shares combine");
    let e = EmergencySecret::from_bytes(&secret).expect("32 bytes");
    known.push((two, e.duplicate()));
    e
}

fn words(shares: &[HolderShare]) -> Vec<String> {
    shares
        .iter()
        .map(|s| s.mnemonic.expose_words().to_string())
        .collect()
}

/// A vault (holders anna, ben, carla, 2 of 3; fast test KDF) with the demo's three
/// clients (TOTP seed, attachment, package recipients) and `extra` more clients with
/// two entries each.
fn base(extra: usize) -> Base {
    let dir = scratch();
    let path = dir.path().join("base");
    let mut shares = Vec::new();
    let mut v = Vault::init(
        &path,
        &pass(),
        InitOptions {
            policy: Policy::single(vec!["anna".into(), "ben".into(), "carla".into()], 2),
            kdf: KdfParams::insecure_test(),
        },
        |_, s| {
            shares = words(s);
            Ok(())
        },
    )
    .unwrap();
    baton::demo::populate(&mut v).unwrap();
    for i in 0..extra {
        let id = format!("client-{i:02}");
        v.add_client(NewClient {
            id: id.clone(),
            name: format!("Client {i} GmbH"),
            ..Default::default()
        })
        .unwrap();
        for (name, pw) in [("ssh", format!("pw-ssh-{i}")), ("db", format!("pw-db-{i}"))] {
            v.add_entry(
                &id,
                name,
                EntryFields {
                    user: Some("admin".into()),
                    password: Some(SecretText::new(pw)),
                    ..Default::default()
                },
            )
            .unwrap();
        }
    }
    drop(v);
    Base {
        dir,
        path,
        emergency: combine(&shares),
    }
}

/// One simulated process history: a copy of the vault, this machine's rollback memory
/// (docs/threat-model.md#rollback), and the shares a rotation handed out.
struct Trial {
    path: PathBuf,
    seen: PathBuf,
    shares: Mutex<Option<Delivery>>,
}

/// What a rotation handed out before writing anything: the new share set's id and
/// the holders' share words.
#[derive(Clone)]
struct Delivery {
    set: String,
    words: Vec<String>,
}

impl Trial {
    /// A copy of `from` (a vault and its rollback memory) under `name`.
    fn copy(from: &Trial, name: &str) -> Trial {
        let path = from.path.with_file_name(name);
        let _ = fs::remove_dir_all(&path);
        copy_tree(&from.path, &path);
        let seen = path.with_extension("seen");
        let _ = fs::remove_dir_all(&seen);
        if from.seen.exists() {
            copy_tree(&from.seen, &seen);
        }
        Trial {
            path,
            seen,
            shares: Mutex::new(from.delivered()),
        }
    }

    fn memory(&self) -> Box<SeenFolder> {
        Box::new(SeenFolder::new(&self.seen))
    }

    /// Opens with the passphrase, through the rollback memory, as the CLI does.
    fn open(&self, pass: &Passphrase, access: Access) -> Result<Vault, String> {
        Vault::open(&self.path, pass, access)
            .map_err(|e| e.to_string())?
            .guard_rollback(self.memory())
            .map_err(|e| e.to_string())
    }

    fn open_emergency(&self, e: &EmergencySecret, access: Access) -> Result<Vault, String> {
        Vault::open_emergency(&self.path, e, access)
            .map_err(|e| e.to_string())?
            .guard_rollback(self.memory())
            .map_err(|e| e.to_string())
    }

    fn owner(&self, pass: &Passphrase, access: Access) -> Vault {
        self.open(pass, access)
            .unwrap_or_else(|e| panic!("{}: the vault does not open: {e}", self.path.display()))
    }

    fn header(&self) -> Header {
        baton::vault::read_header(&self.path).unwrap()
    }

    fn delivered(&self) -> Option<Delivery> {
        self.shares.lock().unwrap().clone()
    }

    /// A `deliver` callback that keeps the shares in this trial.
    fn deliver(&self) -> impl FnOnce(&Header, &[HolderShare]) -> Result<(), String> + '_ {
        |h, s| {
            *self.shares.lock().unwrap() = Some(Delivery {
                set: h.share_set.id.clone(),
                words: words(s),
            });
            Ok(())
        }
    }

    fn remove(self) {
        let _ = fs::remove_dir_all(&self.path);
        let _ = fs::remove_dir_all(&self.seen);
    }
}

impl Base {
    /// A fresh copy of the base vault; this machine has seen its revision.
    fn trial(&self, name: &str) -> Trial {
        let t = Trial {
            path: self.dir.path().join(name),
            seen: self.dir.path().join(format!("{name}.seen")),
            shares: Mutex::new(None),
        };
        let _ = fs::remove_dir_all(&t.path);
        let _ = fs::remove_dir_all(&t.seen);
        copy_tree(&self.path, &t.path);
        drop(t.owner(&pass(), Access::Read));
        t
    }
}

// ------------------------------------------------------------------ what is checked

/// Every client's complete plaintext (secrets, attachments and lifecycle included) by
/// id, and the whole catalog under "" (no client id is empty).
fn contents(v: &Vault) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = v
        .clients()
        .unwrap()
        .iter()
        .map(|c| {
            let file = v.client(&c.id).unwrap();
            let plain = baton::crypto::secret::json_bytes(&file);
            (c.id.clone(), serde_json::from_slice(&plain).unwrap())
        })
        .collect();
    out.insert(
        String::new(),
        serde_json::to_value(v.catalog().unwrap()).unwrap(),
    );
    out
}

/// `contents` without what differs between two runs of the same change: timestamps
/// and a new client's random id.
fn masked(c: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    fn mask(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    // Versions name the writer, which is the folder: another in each
                    // trial (docs/format.md#writers).
                    if matches!(
                        k.as_str(),
                        "created" | "updated" | "cid" | "ver" | "meta_ver" | "time"
                    ) {
                        *x = Value::Null;
                    } else {
                        mask(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(mask),
            _ => {}
        }
    }
    let mut c = c.clone();
    c.values_mut().for_each(mask);
    c
}

/// All or nothing: the data is exactly as before, or as after (up to timestamps).
/// Returns whether the change is there.
fn before_or_after(
    now: &BTreeMap<String, Value>,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
    ctx: &str,
) -> bool {
    if now == before {
        return false;
    }
    assert_eq!(
        masked(now),
        masked(after),
        "{ctx}: the data is neither as before nor as after"
    );
    true
}

/// Files in the folder that nothing accounts for. Accounted for are: `vault.json`,
/// `.lock` and the heads of the current generation (docs/format.md#multi-writer); in
/// `clients/` the files the state names and the orphans `orphans()` reports
/// (docs/format.md#writes: never deleted automatically); in `audit/` the records each
/// chain holds, the current archive, the leftover of a crashed write (reported by
/// `orphans()`) and such leftovers set aside (`.interrupted-<8 hex>`,
/// docs/format.md#audit-log).
fn stray_files(v: &Vault) -> Vec<String> {
    let root = v.path();
    let g = v.header().generation;
    let orphans: HashSet<PathBuf> = v.orphans().unwrap().into_iter().collect();
    let mut stray = Vec::new();
    let names = |dir: &Path| -> Vec<(String, PathBuf)> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_string_lossy().into_owned(), e.path())
            })
            .collect()
    };
    for (name, _) in names(root) {
        if !matches!(
            name.as_str(),
            "vault.json" | ".lock" | "clients" | "audit" | "heads"
        ) {
            stray.push(name);
        }
    }
    if root.join("heads").exists() {
        for (name, _) in names(&root.join("heads")) {
            if baton::store::head::parse_head_file(&name).is_none_or(|(_, hg)| hg != g) {
                stray.push(format!("heads/{name}"));
            }
        }
    }
    let named: HashSet<String> = v
        .clients()
        .unwrap()
        .iter()
        .map(|c| c.file.clone())
        .chain(v.index().shard_files().map(String::from))
        // Replaced files a head keeps until every writer has seen the replacement.
        .chain(v.kept_files().into_iter().map(|(f, _)| f))
        .collect();
    for (name, p) in names(&root.join("clients")) {
        if !named.contains(&name) && !orphans.contains(&p) {
            stray.push(format!("clients/{name}"));
        }
    }
    let chains = v.index().chains();
    let archive = v.index().audit_archive.as_ref();
    let held = |(chain, seq): (String, u64)| {
        let through = archive.map_or(0, |a| a.count(&chain));
        chains
            .get(&chain)
            .is_some_and(|h| through < seq && seq <= h.seq)
    };
    for (name, p) in names(&root.join("audit")) {
        let ok = match audit::parse_chain_record_file(&name) {
            Some(r) => held(r) || orphans.contains(&p),
            None => match name.split_once(".interrupted-") {
                Some((record, tag)) => {
                    audit::parse_chain_record_file(record).is_some_and(held)
                        && tag.len() == 8
                        && tag.bytes().all(|b| b.is_ascii_hexdigit())
                }
                None => {
                    archive.is_some_and(|a| a.file == name)
                        && audit::parse_archive_file(&name) == Some(g)
                }
            },
        };
        if !ok {
            stray.push(format!("audit/{name}"));
        }
    }
    stray
}

/// What holds of every settled vault: every file checks, the audit chain is intact, no
/// rotation is pending and every file is accounted for. Returns the orphans.
fn assert_settled(v: &Vault, ctx: &str) -> Vec<PathBuf> {
    assert_eq!(v.verify(), vec![], "{ctx}: verify");
    let (_, problems) = v.audit_log();
    assert!(problems.is_empty(), "{ctx}: audit log: {problems:?}");
    assert_eq!(baton::rotate::pending(v.path()), None, "{ctx}: pending");
    assert_eq!(stray_files(v), Vec::<String>::new(), "{ctx}: stray files");
    v.orphans().unwrap()
}

/// The last record this folder's writer made (records of several writers' chains are
/// shown by time, and a test's writes fall within one second).
fn last_record(v: &Vault) -> baton::AuditRecord {
    let records = v.audit_log().0;
    records
        .iter()
        .rev()
        .find(|r| r.writer == v.writer())
        .or(records.last())
        .cloned()
        .expect("a record")
}

/// What a settled vault leaves for this writer to account for: the orphans
/// `assert_settled` returns, without another writer's (each trial is a folder of its
/// own, so a crashed run in one and the settling run in a copy are two writers, and
/// the first one's leftovers may be its change still syncing: reported, kept).
fn own_orphans(v: &Vault, ctx: &str) -> Vec<PathBuf> {
    assert_settled(v, ctx)
        .into_iter()
        .filter(|o| {
            o.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(v.writer()))
        })
        .collect()
}

/// Every file below `dir`, by path relative to it.
fn files_below(dir: &Path) -> HashSet<PathBuf> {
    let mut out = HashSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                out.insert(e.path().strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out
}

// ------------------------------------------------------------------ the sweeps

/// The steps parallel work may still reach after a crash (see fault/): each comes
/// before its item's disk change, so the item dies without changing anything.
const BEFORE_CHANGE_STEPS: [&str; 2] = ["write_unsynced: writing", "rotate: removing old file"];

/// Runs `op` to the end on a copy of the base: the state after, and the steps.
fn finish(base: &Base, name: &str, op: &(dyn Fn(&Trial) + Sync)) -> (Trial, Trace) {
    let done = base.trial(&format!("{name}-done"));
    let ((), trace) = fault::count(|| op(&done));
    assert!(trace.steps.len() >= 3, "{name}: only {:?}", trace.steps);
    (done, trace)
}

/// Runs `op` on a fresh copy of the base once per step of `trace`, dying there, and
/// hands each crashed copy to `check`. (An operation with a random element, such as a
/// new client's shard, may take a path with fewer steps and finish; `check` gets that
/// copy too.)
fn every_step(
    base: &Base,
    name: &str,
    op: &(dyn Fn(&Trial) + Sync),
    trace: &Trace,
    mut check: impl FnMut(&Trial, &Crash),
) {
    for step in 1..=trace.steps.len() {
        let t = base.trial(&format!("{name}-{step}"));
        let c = match fault::run(Some(step), || op(&t)) {
            (fault::Outcome::Crashed(c), tr) => {
                assert!(
                    tr.after_crash
                        .iter()
                        .all(|l| BEFORE_CHANGE_STEPS.contains(l)),
                    "{name} step {step}: changes after the crash: {:?}",
                    tr.after_crash
                );
                c
            }
            (fault::Outcome::Finished(()), tr) => {
                // A shorter path: the copy holds the finished change.
                assert!(tr.steps.len() < step, "{name} step {step}: not reached");
                Crash {
                    step,
                    label: "(finished on a shorter path)",
                }
            }
        };
        check(&t, &c);
        t.remove();
    }
}

fn ctx(name: &str, c: &Crash) -> String {
    format!("{name}: crash at step {} ({})", c.step, c.label)
}

/// A write that must succeed after any crash; it also sets aside an interrupted record
/// and removes temporary files (docs/format.md#writes).
fn next_write(v: &mut Vault) {
    v.add_client(NewClient {
        id: "after-crash".into(),
        name: "After".into(),
        ..Default::default()
    })
    .unwrap();
}

/// An ordinary commit killed at every step: all or nothing, its record if and only if
/// its change, orphans only of that write, and the next write works.
fn commit_sweep(
    name: &str,
    base: Base,
    op: &(dyn Fn(&mut Vault) + Sync),
    is_record: &dyn Fn(&baton::AuditRecord) -> bool,
) {
    let base_files = files_below(&base.path.join("clients"));
    let before = contents(&base.trial("before").owner(&pass(), Access::Read));
    let run = |t: &Trial| {
        let mut v = t.owner(&pass(), Access::Write);
        op(&mut v);
    };
    let (done, trace) = finish(&base, name, &run);
    let after = contents(&done.owner(&pass(), Access::Read));
    assert_ne!(before, after);
    let (mut kept, mut changed, mut orphaned) = (0, 0, 0);
    every_step(&base, name, &run, &trace, |t, c| {
        let ctx = ctx(name, c);
        let mut v = t.owner(&pass(), Access::Write);
        let is_changed = before_or_after(&contents(&v), &before, &after, &ctx);
        // Never a change without its record, never a record without its change.
        assert_eq!(is_record(&last_record(&v)), is_changed, "{ctx}: record");
        next_write(&mut v);
        // Left behind (docs/format.md#writes): before the commit point the files this
        // write made, which are this writer's own and which the next write removed;
        // after it the files it replaced (the base vault's, written from another
        // folder, so another writer's here); never anything else.
        let orphans = assert_settled(&v, &ctx);
        if !is_changed {
            // Only this writer's: a leftover of another writer (the base folder's, in
            // `a_write_after_a_crashed_one_…`) may be its change still syncing.
            let own: Vec<&PathBuf> = orphans
                .iter()
                .filter(|o| {
                    o.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(v.writer()))
                })
                .collect();
            assert_eq!(own, Vec::<&PathBuf>::new(), "{ctx}: own leftovers kept");
        }
        for o in orphans {
            // Another writer's crashed record (the base folder's) stays, reported.
            if o.starts_with(t.path.join("audit")) {
                continue;
            }
            let rel = o
                .strip_prefix(t.path.join("clients"))
                .expect("only client files");
            assert_eq!(
                base_files.contains(rel),
                is_changed,
                "{ctx}: orphan {rel:?}"
            );
            orphaned += 1;
        }
        // The next write changed nothing else. (The catalog has its row now; `verify`
        // checked the catalog against the files.)
        let mut now = masked(&contents(&v));
        now.remove("after-crash");
        now.remove("");
        let mut want = masked(if is_changed { &after } else { &before });
        want.remove("");
        assert_eq!(now, want, "{ctx}: the next write changed other data");
        if is_changed {
            changed += 1;
        } else {
            kept += 1;
        }
    });
    assert!(
        kept > 0 && changed > 0,
        "{name}: {kept} kept, {changed} changed"
    );
    eprintln!(
        "{name}: {} crash points, {kept} as before, {changed} as after, {orphaned} orphans reported",
        trace.steps.len()
    );
    done.remove();
}

#[test]
fn entry_add_survives_a_crash_at_every_step() {
    commit_sweep(
        "entry-add",
        base(2),
        &|v| {
            v.add_entry(
                "acme",
                "new-entry",
                EntryFields {
                    user: Some("u".into()),
                    password: Some(SecretText::new("the-new-password".into())),
                    totp: Some(SecretText::new(baton::demo::DEMO_TOTP.into())),
                    ..Default::default()
                },
            )
            .unwrap()
        },
        &|r| r.action == AuditAction::EntryAdd && r.detail == "new-entry",
    );
}

/// The write after a crashed one first sets the crashed write's record aside
/// (docs/format.md#audit-log); that write, too, survives a crash at every step.
#[test]
fn a_write_after_a_crashed_one_survives_a_crash_at_every_step() {
    let b = base(0);
    let edit =
        |v: &mut Vault, entry: &str| v.add_entry("acme", entry, EntryFields::default()).unwrap();
    // The first step of a write is its audit record: die right after it.
    let (c, _) = fault::crash(1, || {
        edit(
            &mut Vault::open(&b.path, &pass(), Access::Write).unwrap(),
            "lost",
        )
    });
    assert_eq!(c.label, "write_new: written");
    let v = Vault::open(&b.path, &pass(), Access::Read).unwrap();
    assert_eq!(v.orphans().unwrap().len(), 1, "the crashed write's record");
    drop(v);
    commit_sweep("after-crashed", b, &|v| edit(v, "kept"), &|r| {
        r.action == AuditAction::EntryAdd && r.detail == "kept"
    });
}

#[test]
fn client_add_survives_a_crash_at_every_step() {
    commit_sweep(
        "client-add",
        base(0),
        &|v| {
            v.add_client(NewClient {
                id: "neu".into(),
                name: "Neu AG".into(),
                ..Default::default()
            })
            .unwrap()
        },
        &|r| r.action == AuditAction::ClientAdd && r.client.as_deref() == Some("neu"),
    );
}

/// `passwd` killed at every step: the record is committed first, then `vault.json`
/// (vault/passwd.rs), so exactly one passphrase opens, the new one only with its record,
/// and no value changes.
#[test]
fn passphrase_change_survives_a_crash_at_every_step() {
    let name = "passwd";
    let base = base(1);
    let before = contents(&base.trial("before").owner(&pass(), Access::Read));
    let run = |t: &Trial| {
        let mut v = t.owner(&pass(), Access::Write);
        v.change_passphrase(&new_pass(), None).unwrap();
    };
    let (done, trace) = finish(&base, name, &run);
    assert!(done.open(&pass(), Access::Read).is_err());
    let (mut old, mut new) = (0, 0);
    every_step(&base, name, &run, &trace, |t, c| {
        let ctx = ctx(name, c);
        let changed = match (
            t.open(&new_pass(), Access::Read).is_ok(),
            t.open(&pass(), Access::Read).is_ok(),
        ) {
            (true, false) => true,
            (false, true) => false,
            both => panic!("{ctx}: new and old passphrase open: {both:?}"),
        };
        let p = if changed { new_pass() } else { pass() };
        let mut v = t.owner(&p, Access::Write);
        assert_eq!(contents(&v), before, "{ctx}");
        if changed {
            assert_eq!(
                last_record(&v).action,
                AuditAction::PassphraseChange,
                "{ctx}"
            );
            new += 1;
        } else {
            old += 1;
        }
        next_write(&mut v);
        assert_eq!(own_orphans(&v, &ctx), Vec::<PathBuf>::new(), "{ctx}");
    });
    assert!(old > 0 && new > 0, "{old} old, {new} new");
    eprintln!("{name}: {} crash points", trace.steps.len());
    done.remove();
}

/// `purge` killed at every step: the client is there with all its data and no
/// deletion record, or gone with its record; never half deleted, never deleted
/// without a record.
#[test]
fn purge_survives_a_crash_at_every_step() {
    let b = base(1);
    let mut v = Vault::open(&b.path, &pass(), Access::Write).unwrap();
    v.end_client("baeckerei-jung", "2000-01-31", "moved to another provider")
        .unwrap();
    drop(v);
    commit_sweep(
        "purge",
        b,
        &|v| {
            v.purge_client("baeckerei-jung", PurgeBasis::Retention, TODAY)
                .unwrap();
        },
        &|r| r.action == AuditAction::ClientPurge && r.client.as_deref() == Some("baeckerei-jung"),
    );
}

// ------------------------------------------------------------------ rotation

/// How an interrupted rotation is settled: `baton rotate --resume` or `--abort`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    Resume,
    Abort,
}

#[derive(Debug)]
enum Settled {
    /// No rotation was pending.
    Nothing,
    Resumed(RotateReport),
    Aborted(AbortReport),
}

/// Settles a pending rotation as the `baton` command would: `--resume` or `--abort` as
/// `way` says. An abort refused because the switch happened is followed by a resume,
/// as the CLI's hint says; a resume refused because the state file is stale (an abort
/// that died after its record, docs/format.md#rotation) by the abort that removes it.
fn settle(v: &mut Vault, way: Way, pass: Option<&Passphrase>) -> Settled {
    let Some(to) = baton::rotate::pending(v.path()) else {
        return Settled::Nothing;
    };
    let switched = v.header().generation == to;
    let resume = |v: &mut Vault| Settled::Resumed(v.resume_rotation(pass, &|_| {}).unwrap());
    // A trial copied to another folder is another writer there (the writer id comes
    // from the path): its rotation counts as another device's, which `--abort` undoes
    // only when told that device is gone (docs/format.md#sibling-rotations).
    let abort = |v: &mut Vault| match v.abort_rotation() {
        Err(RotateError::OtherDevice { .. }) => v.abort_another_devices_rotation(),
        r => r,
    };
    match way {
        Way::Abort => match abort(v) {
            Ok(r) => {
                assert!(!switched, "undid a switched rotation");
                Settled::Aborted(r)
            }
            Err(RotateError::AlreadySwitched(g)) => {
                assert!(switched && g == to);
                resume(v)
            }
            Err(e) => panic!("rotate --abort: {e}"),
        },
        Way::Resume => match v.resume_rotation(pass, &|_| {}) {
            Ok(r) => Settled::Resumed(r),
            Err(RotateError::StateMismatch(_)) if !switched => Settled::Aborted(abort(v).unwrap()),
            Err(e) => panic!("rotate --resume: {e}"),
        },
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `rotate`: a new owner key.
    Plain,
    /// `rotate --emergency`: also a new emergency key and share set.
    Emergency,
    /// `rotate --kdf`: also new Argon2id parameters.
    Kdf,
}

const RAISED_KDF_KIB: u32 = 128;

fn rotate_op(kind: Kind) -> impl Fn(&Trial) + Sync {
    move |t: &Trial| {
        let mut v = t.owner(&pass(), Access::Write);
        let opts = match kind {
            Kind::Plain => RotateOptions::default(),
            Kind::Emergency => RotateOptions {
                emergency: Some(Policy::single(
                    vec!["dora".into(), "emil".into(), "fritz".into()],
                    2,
                )),
                kdf: None,
            },
            Kind::Kdf => RotateOptions {
                emergency: None,
                kdf: Some(KdfParams::with(
                    RAISED_KDF_KIB,
                    1,
                    1,
                    KdfProfile::InsecureTest,
                )),
            },
        };
        v.rotate(opts, Some(&pass()), t.deliver(), &|_| {}).unwrap();
    }
}

/// Checks a vault after a crashed rotation of `kind` from generation 1, then settles
/// it each of the `ways` (on copies) and checks the result. Returns how it was settled.
fn check_rotation(
    base: &Base,
    t: &Trial,
    kind: Kind,
    before: &BTreeMap<String, Value>,
    ctx: &str,
    ways: &[Way],
) -> Vec<(Way, &'static str)> {
    let pending = baton::rotate::pending(&t.path);
    let generation = t.header().generation;
    assert!(pending.is_none_or(|to| to == 2), "{ctx}: {pending:?}");
    // It opens with all data, at the old keys or the new ones.
    let v = t.owner(&pass(), Access::Read);
    assert_eq!(&contents(&v), before, "{ctx}: data after the crash");
    let new_e = t.delivered().map(|d| combine(&d.words));
    if let Some(e) = &new_e {
        assert_eq!(
            t.open_emergency(&base.emergency, Access::Read).is_ok(),
            generation == 1,
            "{ctx}: old emergency key"
        );
        assert_eq!(
            t.open_emergency(e, Access::Read).is_ok(),
            generation == 2,
            "{ctx}: new emergency key"
        );
    }
    if pending.is_some() && generation == 1 && kind == Kind::Emergency {
        // What `rotate --resume` asks about before finishing (cmd/rotate.rs); a state
        // file made stale by an abort's record (only after a second crash) names none.
        match v.pending_rotation() {
            Ok(p) => {
                let p = p.unwrap();
                assert!(!p.switched);
                assert_eq!(
                    p.share_set.map(|s| s.id),
                    t.delivered().map(|d| d.set),
                    "{ctx}: the pending share set"
                );
            }
            Err(RotateError::StateMismatch(_)) => {}
            Err(e) => panic!("{ctx}: {e}"),
        }
    }
    drop(v);
    let mut outcomes = Vec::new();
    for &way in ways {
        let t2 = Trial::copy(
            t,
            &format!("{}-{way:?}", t.path.file_name().unwrap().to_string_lossy()),
        );
        let mut v = t2.owner(&pass(), Access::Write);
        let settled = settle(&mut v, way, Some(&pass()));
        let took_effect = match &settled {
            Settled::Nothing => {
                // Died before the state file existed or after it was removed: a new
                // rotation simply works (and removes temporary files).
                let done = generation == 2;
                v.rotate(
                    RotateOptions::default(),
                    Some(&pass()),
                    |_, _| Ok(()),
                    &|_| {},
                )
                .unwrap_or_else(|e| panic!("{ctx}: a new rotation: {e}"));
                done
            }
            Settled::Resumed(r) => {
                assert_eq!((r.from_generation, r.to_generation), (1, 2));
                true
            }
            Settled::Aborted(r) => {
                assert_eq!(r.generation, 2);
                // The new share set is void and named as such.
                assert_eq!(
                    r.void_share_set,
                    (kind == Kind::Emergency).then(|| t.delivered().unwrap().set),
                    "{ctx}"
                );
                false
            }
        };
        let label = match settled {
            Settled::Nothing => "nothing pending",
            Settled::Resumed(_) => "resumed",
            Settled::Aborted(_) => "aborted",
        };
        let ctx = format!("{ctx}, {way:?} ({label})");
        assert_eq!(&contents(&v), before, "{ctx}: data after settling");
        assert_eq!(
            own_orphans(&v, &ctx),
            Vec::<PathBuf>::new(),
            "{ctx}: orphans"
        );
        match kind {
            Kind::Plain => {}
            Kind::Kdf => assert_eq!(
                v.header().kdf.m_cost_kib == RAISED_KDF_KIB,
                took_effect,
                "{ctx}: kdf"
            ),
            Kind::Emergency => {
                let e = new_e
                    .as_ref()
                    .expect("delivered before anything was written");
                drop(v);
                assert_eq!(
                    t2.open_emergency(e, Access::Read)
                        .map_err(|e| eprintln!("{ctx}: new shares: {e}"))
                        .is_ok(),
                    took_effect,
                    "{ctx}: new shares"
                );
                assert_eq!(
                    t2.open_emergency(&base.emergency, Access::Read).is_ok(),
                    !took_effect,
                    "{ctx}: old shares"
                );
            }
        }
        t2.remove();
        outcomes.push((way, label));
    }
    outcomes
}

/// `rotate` of `kind` killed at every step, each crash settled both ways.
fn rotation_sweep(name: &str, kind: Kind, extra: usize) {
    let base = base(extra);
    let before = contents(&base.trial("before").owner(&pass(), Access::Read));
    let op = rotate_op(kind);
    let (done, trace) = finish(&base, name, &op);
    assert_eq!(done.header().generation, 2);
    let mut seen = BTreeMap::<String, usize>::new();
    every_step(&base, name, &op, &trace, |t, c| {
        let ctx = ctx(name, c);
        let both = [Way::Resume, Way::Abort];
        for (way, label) in check_rotation(&base, t, kind, &before, &ctx, &both) {
            *seen.entry(format!("{way:?}: {label}")).or_default() += 1;
        }
    });
    // Every way of settling was reached.
    for want in [
        "Resume: resumed",
        "Resume: nothing pending",
        "Abort: aborted",
        "Abort: resumed",
    ] {
        assert!(seen.contains_key(want), "{name}: never {want}: {seen:?}");
    }
    eprintln!("{name}: {} crash points: {seen:?}", trace.steps.len());
    done.remove();
}

#[test]
fn rotate_survives_a_crash_at_every_step() {
    rotation_sweep("rotate", Kind::Plain, 1);
}

#[test]
fn rotate_emergency_survives_a_crash_at_every_step() {
    rotation_sweep("rotate-emergency", Kind::Emergency, 0);
}

#[test]
fn rotate_kdf_survives_a_crash_at_every_step() {
    rotation_sweep("rotate-kdf", Kind::Kdf, 0);
}

// ------------------------------------------------------------------ takeover

/// What `baton takeover` does (cmd/emergency.rs): with the emergency key, record the
/// new owner's profile, then rotate to a new owner key under the new passphrase and a
/// new share set.
fn takeover_op(old: &EmergencySecret) -> impl Fn(&Trial) + Sync + '_ {
    move |t: &Trial| {
        let mut v = t.open_emergency(old, Access::Write).unwrap();
        let mut profile: OwnerProfile = v.index().owner.clone();
        profile.name = "Erika Beispiel".into();
        profile.contact = "erika@beispiel.example".into();
        v.set_owner_profile(profile).unwrap();
        take_over(&mut v, t);
    }
}

fn take_over(v: &mut Vault, t: &Trial) {
    v.take_over(
        &new_pass(),
        KdfParams::insecure_test(),
        Policy::single(vec!["dora".into(), "emil".into()], 2),
        t.deliver(),
        &|_| {},
    )
    .unwrap();
}

/// Which keys open the vault: the old passphrase and emergency key at generation 1,
/// the new passphrase and the new holders' shares at generation 2, never both.
fn assert_keys(base: &Base, t: &Trial, new_e: Option<&EmergencySecret>, ctx: &str) -> Vault {
    let old_keys = t.header().generation == 1;
    assert_eq!(
        t.open(&pass(), Access::Read).is_ok(),
        old_keys,
        "{ctx}: old passphrase"
    );
    assert_eq!(
        t.open_emergency(&base.emergency, Access::Read).is_ok(),
        old_keys,
        "{ctx}: old emergency key"
    );
    assert_eq!(
        t.open(&new_pass(), Access::Read).is_ok(),
        !old_keys,
        "{ctx}: new passphrase"
    );
    if let Some(e) = new_e {
        assert_eq!(
            t.open_emergency(e, Access::Read).is_ok(),
            !old_keys,
            "{ctx}: new shares"
        );
    }
    let p = if old_keys { pass() } else { new_pass() };
    t.owner(&p, Access::Read)
}

/// A takeover killed at every step: the vault always opens with all data, with the old
/// keys before the switch and only the new ones after it; `rotate --resume` (with the
/// old emergency key and the new passphrase before the switch, with the new passphrase
/// after it) or `--abort` settles it.
#[test]
fn takeover_survives_a_crash_at_every_step() {
    let name = "takeover";
    let base = base(1);
    let before_v = base.trial("before").owner(&pass(), Access::Read);
    let (before, before_owner) = (contents(&before_v), before_v.index().owner.name.clone());
    drop(before_v);
    let op = takeover_op(&base.emergency);
    let (done, trace) = finish(&base, name, &op);
    assert_eq!(done.header().generation, 2);
    let mut seen = BTreeMap::<String, usize>::new();
    every_step(&base, name, &op, &trace, |t, c| {
        let ctx = ctx(name, c);
        let pending = baton::rotate::pending(&t.path);
        let generation = t.header().generation;
        let crashed_e = t.delivered().map(|d| combine(&d.words));
        let v = assert_keys(&base, t, crashed_e.as_ref(), &ctx);
        assert_eq!(contents(&v), before, "{ctx}: data after the crash");
        let owner = v.index().owner.name.clone();
        // The profile commit is all or nothing too, and precedes the switch.
        assert!(
            owner == "Erika Beispiel" || (generation == 1 && owner == before_owner),
            "{ctx}: owner {owner:?}"
        );
        drop(v);
        for way in [Way::Resume, Way::Abort] {
            let t2 = Trial::copy(t, &format!("{name}-{}-{way:?}", c.step));
            let (label, took_effect) = match (pending, generation) {
                (Some(_), 1) => {
                    let mut v = t2.open_emergency(&base.emergency, Access::Write).unwrap();
                    match settle(&mut v, way, Some(&new_pass())) {
                        Settled::Resumed(_) => ("resumed with the old emergency key", true),
                        Settled::Aborted(r) => {
                            assert_eq!(r.void_share_set, t.delivered().map(|d| d.set), "{ctx}");
                            ("aborted with the old emergency key", false)
                        }
                        Settled::Nothing => unreachable!(),
                    }
                }
                (Some(_), _) => {
                    let mut v = t2.owner(&new_pass(), Access::Write);
                    assert!(matches!(
                        settle(&mut v, way, Some(&new_pass())),
                        Settled::Resumed(_)
                    ));
                    ("resumed by the new owner", true)
                }
                (None, 1) => {
                    // Died before the state file: the takeover is simply run again.
                    let mut v = t2.open_emergency(&base.emergency, Access::Write).unwrap();
                    take_over(&mut v, &t2);
                    ("taken over again", false)
                }
                (None, _) => ("finished", true),
            };
            let ctx = format!("{ctx}, {way:?} ({label})");
            let final_e = t2.delivered().map(|d| combine(&d.words));
            let v = assert_keys(&base, &t2, final_e.as_ref(), &ctx);
            assert_eq!(contents(&v), before, "{ctx}: data after settling");
            assert_eq!(
                own_orphans(&v, &ctx),
                Vec::<PathBuf>::new(),
                "{ctx}: orphans"
            );
            let log = v.audit_log().0;
            let took = log
                .iter()
                .any(|r| r.action == AuditAction::VaultTakeover && r.actor == "emergency");
            assert_eq!(took, t2.header().generation == 2, "{ctx}: takeover record");
            if took_effect {
                assert_eq!(v.index().owner.name, "Erika Beispiel", "{ctx}");
            }
            drop(v);
            t2.remove();
            *seen.entry(label.to_string()).or_default() += 1;
        }
    });
    assert_eq!(seen.len(), 5, "{name}: {seen:?}");
    eprintln!("{name}: {} crash points: {seen:?}", trace.steps.len());
    done.remove();
}

// ------------------------------------------------------------------ settling, again

/// The step of `trace` with `label` (its first).
fn step_of(trace: &Trace, label: &str) -> usize {
    1 + trace
        .steps
        .iter()
        .position(|l| *l == label)
        .unwrap_or_else(|| panic!("no step {label}: {:?}", trace.steps))
}

/// An abort's record makes every copy of the state file stale: put back, it is refused
/// by `--resume` (it would revive a void share set) and removed by `--abort`, which
/// records nothing more (docs/format.md#rotation).
#[test]
fn a_state_file_replayed_after_an_abort_is_refused() {
    let base = base(1);
    let op = rotate_op(Kind::Emergency);
    let (done, trace) = finish(&base, "replay", &op);
    done.remove();
    let t = base.trial("replay");
    fault::crash(step_of(&trace, "rotate: state written"), || op(&t));
    let state = t.path.join("rotation.g2.age");
    let copy = fs::read(&state).unwrap();
    let mut v = t.owner(&pass(), Access::Write);
    let r = v.abort_rotation().unwrap();
    assert_eq!(r.void_share_set, t.delivered().map(|d| d.set));
    let head = v.index().audit_head.seq;
    drop(v);
    fs::write(&state, &copy).unwrap();
    let mut v = t.owner(&pass(), Access::Write);
    let resumed = v.resume_rotation(Some(&pass()), &|_| {});
    assert!(
        matches!(resumed, Err(RotateError::StateMismatch(_))),
        "{resumed:?}"
    );
    assert_eq!(t.header().generation, 1);
    v.abort_rotation().unwrap();
    assert_eq!(baton::rotate::pending(&t.path), None);
    assert_eq!(
        v.index().audit_head.seq,
        head,
        "a stale state's abort records nothing"
    );
    next_write(&mut v);
    assert_eq!(assert_settled(&v, "replay"), Vec::<PathBuf>::new());
    let e = combine(&t.delivered().unwrap().words);
    assert!(
        t.open_emergency(&e, Access::Read).is_err(),
        "the void shares open nothing"
    );
}

/// While a state file exists every write is refused, so settling it must not need the
/// parts of the vault a restore would fix: an abort works with a locator shard gone,
/// and the damage is still reported.
#[test]
fn an_interrupted_rotation_can_be_undone_with_a_damaged_locator_shard() {
    let base = base(3);
    let op = rotate_op(Kind::Plain);
    let (done, trace) = finish(&base, "shard", &op);
    done.remove();
    let t = base.trial("shard");
    fault::crash(step_of(&trace, "rotate: state written"), || op(&t));
    let mut v = t.owner(&pass(), Access::Write);
    assert!(
        v.add_client(NewClient {
            id: "x".into(),
            ..Default::default()
        })
        .is_err()
    );
    fs::remove_file(t.path.join("clients").join(&v.index().locator[0].file)).unwrap();
    v.abort_rotation().unwrap();
    assert_eq!(baton::rotate::pending(&t.path), None);
    assert_eq!(t.header().generation, 1);
    let problems = v.verify();
    assert!(
        problems.iter().any(|p| p.to_string().contains("locator")),
        "{problems:?}"
    );
}

/// The steps of a rotation at which its settling is crashed again: one of each
/// situation a `--resume` or `--abort` can find (docs/format.md#rotation).
fn situations(trace: &Trace) -> Vec<(usize, &'static str)> {
    let middle = |label: &str| {
        let at: Vec<usize> = (0..trace.steps.len())
            .filter(|&i| trace.steps[i] == label)
            .collect();
        at[at.len() / 2] + 1
    };
    let switch = step_of(trace, "rotate: switched");
    assert_eq!(
        trace.steps[switch - 2],
        "write_atomic: renamed",
        "{:?}",
        trace.steps
    );
    vec![
        (
            step_of(trace, "rotate: state written"),
            "state file written",
        ),
        (
            middle("write_unsynced: writing"),
            "new generation half written",
        ),
        (switch - 2, "right before the switch"),
        (switch, "right after the switch"),
        (
            middle("rotate: removing old file"),
            "old generation half removed",
        ),
        (
            step_of(trace, "rotate: old generation removed"),
            "only the state file left",
        ),
    ]
}

/// A settling (`--resume` or `--abort`) killed again at every one of its steps, after a
/// rotation killed in each situation it can leave: settling once more (the ways taking
/// turns) still ends with all data, the right keys and a clean vault.
#[test]
fn a_settling_killed_again_still_recovers() {
    let name = "twice";
    let base = base(0);
    let before = contents(&base.trial("before").owner(&pass(), Access::Read));
    let op = rotate_op(Kind::Emergency);
    let (done, trace) = finish(&base, name, &op);
    done.remove();
    let mut trials = 0;
    for (first, situation) in situations(&trace) {
        let t = base.trial(&format!("{name}-{first}"));
        fault::crash(first, || op(&t));
        assert!(baton::rotate::pending(&t.path).is_some(), "{situation}");
        for way in [Way::Resume, Way::Abort] {
            let settle_op = |t: &Trial| {
                let mut v = t.owner(&pass(), Access::Write);
                settle(&mut v, way, Some(&pass()));
            };
            let probe = Trial::copy(&t, &format!("{name}-{first}-{way:?}"));
            let ((), steps) = fault::count(|| settle_op(&probe));
            probe.remove();
            for second in 1..=steps.steps.len() {
                let t2 = Trial::copy(&t, &format!("{name}-{first}-{way:?}-{second}"));
                let (c, _) = fault::crash(second, || settle_op(&t2));
                let ctx = format!(
                    "{name}: rotation killed {situation} (step {first}), {way:?} killed at step {second} ({})",
                    c.label
                );
                // Settled once more, the ways taking turns.
                let again = [Way::Resume, Way::Abort][second % 2];
                check_rotation(&base, &t2, Kind::Emergency, &before, &ctx, &[again]);
                t2.remove();
                trials += 1;
            }
        }
        t.remove();
    }
    assert!(trials > 0);
    eprintln!("{name}: {trials} settlings killed");
}
