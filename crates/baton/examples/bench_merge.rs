//! Benchmarks the multi-writer format (docs/format.md#multi-writer) on a generated
//! vault, printing `key=value` lines (figures in seconds unless named `_ms`):
//!
//! 1. **merge**: two devices' copies of an N-client vault, each with C changes of its
//!    own made apart (some on the same clients, different entries), brought together:
//!    the time a reader needs to open the folder (the merge in memory) and a writer to
//!    commit the merge, against the baseline of one ordinary commit on the same vault
//!    measured in the same run.
//! 2. **get**: after L changes spread over three devices with a sync every S changes,
//!    opening the vault and reading one client's entry, against the same on a
//!    one-client vault, both in this run.
//!
//! The vault uses the fast test key derivation, so that Argon2id (the same on every
//! open, see `bench_vault`) does not hide what the format costs.
//!
//! Run: `cargo run --release -p baton --example bench_merge -- DIR [--clients N]
//! [--changes C] [--log-changes L] [--sync-every S] [--runs R]`

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use baton::audit::{AuditAction, AuditEvent};
use baton::client::{ClientFile, Entry, EntryKind};
use baton::vault::changes::EntryFields;
use baton::vault::{Access, InitOptions, Vault};
use baton::{KdfParams, Passphrase, SecretText};

const USAGE: &str = "usage: bench_merge DIR [--clients N] [--changes C] [--log-changes L] [--sync-every S] [--runs R]";

struct Args {
    dir: PathBuf,
    clients: usize,
    changes: usize,
    log_changes: usize,
    sync_every: usize,
    runs: usize,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let dir = it.next().ok_or(USAGE)?;
    let mut a = Args {
        dir: PathBuf::from(dir),
        clients: 10_000,
        changes: 100,
        log_changes: 10_000,
        sync_every: 100,
        runs: 20,
    };
    while let Some(flag) = it.next() {
        let mut num = || -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} needs a number\n{USAGE}"))
        };
        match flag.as_str() {
            "--clients" => a.clients = num()?.max(2),
            "--changes" => a.changes = num()?,
            "--log-changes" => a.log_changes = num()?,
            "--sync-every" => a.sync_every = num()?.max(1),
            "--runs" => a.runs = num()?.max(1),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn pass() -> Passphrase {
    Passphrase::new("bench merge passphrase".into())
}

fn name(i: usize) -> String {
    format!("client-{i:05}")
}

fn new_vault(path: &Path, clients: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut v = Vault::init(
        path,
        &pass(),
        InitOptions {
            policy: baton::emergency::Policy::single(vec!["anna".into(), "ben".into()], 2),
            kdf: KdfParams::insecure_test(),
        },
        |_, _| Ok(()),
    )?;
    let vault_id = v.index().vault_id.clone();
    let time = baton::time::now();
    let mut done = 0;
    while done < clients {
        let upto = (done + 500).min(clients);
        let batch: Vec<ClientFile> = (done..upto)
            .map(|i| client(&vault_id, &name(i), &time))
            .collect();
        v.commit(
            AuditEvent::new(
                AuditAction::ClientAdd,
                None,
                format!("bench {done}..{upto}"),
            ),
            batch,
            &[],
        )?;
        done = upto;
    }
    Ok(())
}

fn client(vault_id: &str, id: &str, time: &str) -> ClientFile {
    let entry = |n: &str| Entry {
        name: n.into(),
        kind: EntryKind::Server,
        url: format!("ssh://{id}.example"),
        user: "root".into(),
        password: Some(SecretText::new(format!("{id}-{n}-password"))),
        totp: None,
        note: String::new(),
        tags: vec![],
        attachments: vec![],
        created: time.into(),
        updated: time.into(),
        ver: Default::default(),
    };
    serde_json::from_value(serde_json::json!({
        "format": ClientFile::FORMAT, "version": 1, "vault_id": vault_id,
        "cid": hex::encode(rand::random::<[u8; 16]>()), "id": id, "name": id,
        "created": time, "updated": time, "entries": [],
    }))
    .map(|mut f: ClientFile| {
        f.entries = vec![entry("ssh"), entry("db")];
        f
    })
    .expect("a client file")
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let t = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &t)?;
        } else if e.file_name() != ".lock" {
            fs::copy(e.path(), &t)?;
        }
    }
    Ok(())
}

/// What a sync service does between two device folders for files only one side
/// changed: every file one side lacks is copied, and each writer's own head goes from
/// its folder to the other. (Used for the merge part, where nothing was removed yet.)
fn sync_pair(a: &Path, b: &Path) -> std::io::Result<()> {
    let writer = |p: &Path| -> String {
        Vault::open(p, &pass(), Access::Read)
            .map(|v| v.writer().to_string())
            .unwrap_or_default()
    };
    let (wa, wb) = (writer(a), writer(b));
    for (from, to, w) in [(a, b, &wa), (b, a, &wb)] {
        for d in SYNCED {
            for e in fs::read_dir(from.join(d))? {
                let e = e?;
                let t = to.join(d).join(e.file_name());
                let own_head = d == "heads" && e.file_name().to_string_lossy().starts_with(w);
                if own_head || !t.exists() {
                    fs::copy(e.path(), &t)?;
                }
            }
        }
    }
    Ok(())
}

const SYNCED: [&str; 3] = ["clients", "audit", "heads"];

/// A sync service with a server folder (`hub`), as Nextcloud or a Syncthing
/// introducer: a device's sync sends what it added, changed or removed since its last
/// sync, and takes what others did. Only one writer ever changes a file, so a changed
/// file (a head) simply goes the other way.
struct Hub {
    path: PathBuf,
    /// Per device: its files and the server's, with their modification times, after
    /// its last sync.
    known: Vec<(Files, Files)>,
}

type Files = BTreeMap<String, std::time::SystemTime>;

impl Hub {
    fn new(path: PathBuf, devices: usize) -> std::io::Result<Hub> {
        for d in SYNCED {
            fs::create_dir_all(path.join(d))?;
        }
        Ok(Hub {
            path,
            known: vec![Default::default(); devices],
        })
    }

    fn files(root: &Path) -> std::io::Result<Files> {
        let mut out = BTreeMap::new();
        for d in SYNCED {
            for e in fs::read_dir(root.join(d))? {
                let e = e?;
                out.insert(
                    format!("{d}/{}", e.file_name().to_string_lossy()),
                    e.metadata()?.modified()?,
                );
            }
        }
        Ok(out)
    }

    fn sync(&mut self, device: usize, folder: &Path) -> std::io::Result<()> {
        let (was_here, was_there) = std::mem::take(&mut self.known[device]);
        let here = Hub::files(folder)?;
        // Up: what the device added, changed or removed since its last sync.
        let mut sent = std::collections::BTreeSet::new();
        for (rel, t) in &here {
            if was_here.get(rel) != Some(t) {
                fs::copy(folder.join(rel), self.path.join(rel))?;
                sent.insert(rel.clone());
            }
        }
        for rel in was_here.keys().filter(|r| !here.contains_key(*r)) {
            let _ = fs::remove_file(self.path.join(rel));
        }
        // Down: what others added, changed or removed.
        let there = Hub::files(&self.path)?;
        for (rel, t) in &there {
            if !sent.contains(rel) && (!here.contains_key(rel) || was_there.get(rel) != Some(t)) {
                fs::copy(self.path.join(rel), folder.join(rel))?;
            }
        }
        for rel in here.keys().filter(|r| !there.contains_key(*r)) {
            fs::remove_file(folder.join(rel))?;
        }
        self.known[device] = (Hub::files(folder)?, there);
        Ok(())
    }
}

fn edit(v: &mut Vault, id: &str, entry: &str, value: String) -> Result<(), baton::VaultError> {
    v.edit_entry(
        id,
        entry,
        EntryFields {
            password: Some(SecretText::new(value)),
            ..Default::default()
        },
        None,
    )
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn run(a: Args) -> Result<(), Box<dyn std::error::Error>> {
    let _ = fs::remove_dir_all(&a.dir);
    fs::create_dir_all(&a.dir)?;
    let base = a.dir.join("base");
    let t = Instant::now();
    new_vault(&base, a.clients)?;
    eprintln!(
        "bench_merge: {} clients in {:.1} s",
        a.clients,
        t.elapsed().as_secs_f64()
    );

    // 1. Two devices, C changes each made apart.
    let (da, db) = (a.dir.join("device-a"), a.dir.join("device-b"));
    copy_tree(&base, &da)?;
    copy_tree(&base, &db)?;
    let mut commit_s = Vec::new();
    for (dir, offset) in [(&da, 0usize), (&db, 1usize)] {
        let mut v = Vault::open(dir, &pass(), Access::Write)?;
        for i in 0..a.changes {
            // Device A edits "ssh" of even clients, B "db" of odd ones and, every
            // tenth change, "db" of a client A also changed (same client, other entry).
            let n = (2 * i + offset) % a.clients;
            let (id, entry) = if offset == 1 && i % 10 == 0 {
                (name((2 * i) % a.clients), "db")
            } else {
                (name(n), if offset == 0 { "ssh" } else { "db" })
            };
            let t = Instant::now();
            edit(&mut v, &id, entry, format!("changed {offset} {i}"))?;
            commit_s.push(t.elapsed().as_secs_f64());
        }
    }
    let baseline = median(commit_s);
    sync_pair(&da, &db)?;
    let mut read_s = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let v = Vault::open(&da, &pass(), Access::Read)?;
        assert!(v.has_unmerged_heads());
        drop(v.catalog()?);
        read_s.push(t.elapsed().as_secs_f64());
    }
    let merged_copy = a.dir.join("merge-run");
    let mut merge_s = Vec::new();
    for _ in 0..3 {
        let _ = fs::remove_dir_all(&merged_copy);
        copy_tree(&da, &merged_copy)?;
        let t = Instant::now();
        let mut v = Vault::open(&merged_copy, &pass(), Access::Write)?;
        assert!(v.merge()?);
        merge_s.push(t.elapsed().as_secs_f64());
    }
    let v = Vault::open(&merged_copy, &pass(), Access::Read)?;
    assert!(!v.has_unmerged_heads());
    assert_eq!(v.clients()?.len(), a.clients);
    assert!(
        v.conflicted_clients().is_empty(),
        "no entry changed on both"
    );
    drop(v);
    let (read, merge) = (median(read_s), median(merge_s));
    println!("clients={}", a.clients);
    println!("changes_per_device={}", a.changes);
    println!("commit_s={baseline:.4}");
    println!("merge_read_s={read:.4}");
    println!("merge_commit_s={merge:.4}");
    println!("merge_commit_vs_commit={:.1}", merge / baseline);

    // 2. L changes from three devices, synced every S changes. The devices of the
    // merge part are gone: the first device forgets them
    // (docs/format.md#retired-writers), then the others start from its folder.
    let devices: Vec<PathBuf> = (0..3).map(|i| a.dir.join(format!("log-{i}"))).collect();
    copy_tree(&merged_copy, &devices[0])?;
    {
        let mut v = Vault::open(&devices[0], &pass(), Access::Write)?;
        let gone: Vec<String> = v
            .writers()
            .into_iter()
            .filter(|w| !w.this_folder)
            .map(|w| w.writer)
            .collect();
        for w in gone {
            v.forget_writer(&w)?;
        }
    }
    for d in &devices[1..] {
        copy_tree(&devices[0], d)?;
    }
    let mut hub = Hub::new(a.dir.join("log-server"), devices.len())?;
    let sync_all = |hub: &mut Hub| -> std::io::Result<()> {
        for round in 0..2 {
            for (i, d) in devices.iter().enumerate() {
                if round == 0 || i + 1 < devices.len() {
                    hub.sync(i, d)?;
                }
            }
        }
        Ok(())
    };
    sync_all(&mut hub)?;
    let t = Instant::now();
    let mut opened: BTreeMap<usize, Vault> = BTreeMap::new();
    for i in 0..a.log_changes {
        let d = i % 3;
        if i % a.sync_every == 0 && i > 0 {
            opened.clear();
            sync_all(&mut hub)?;
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = opened.entry(d) {
            slot.insert(Vault::open(&devices[d], &pass(), Access::Write)?);
        }
        let v = opened.get_mut(&d).expect("opened");
        let n = (i * 7919 + d) % a.clients;
        edit(
            v,
            &name(n),
            if d == 0 { "ssh" } else { "db" },
            format!("log {i}"),
        )
        .or_else(|e| match e {
            // Two devices changed one entry apart: that entry waits for a resolve.
            baton::VaultError::InConflict { .. } => Ok(()),
            e => Err(e),
        })?;
        if (i + 1) % 1000 == 0 {
            eprintln!(
                "bench_merge: {}/{} changes, {:.1} s",
                i + 1,
                a.log_changes,
                t.elapsed().as_secs_f64()
            );
        }
    }
    opened.clear();
    sync_all(&mut hub)?;
    Vault::open(&devices[0], &pass(), Access::Write)?.merge()?;
    let one = a.dir.join("one-client");
    new_vault(&one, 1)?;
    let get = |path: &Path, id: &str| -> Result<f64, Box<dyn std::error::Error>> {
        let mut xs = Vec::new();
        for _ in 0..a.runs {
            let t = Instant::now();
            let v = Vault::open(path, &pass(), Access::Read)?;
            let f = v.client(id)?;
            assert!(f.entry("ssh").and_then(|e| e.password.as_ref()).is_some());
            xs.push(t.elapsed().as_secs_f64());
        }
        Ok(median(xs))
    };
    let big = get(&devices[0], &name(a.clients / 2))?;
    let small = get(&one, &name(0))?;
    let heads = fs::read_dir(devices[0].join("heads"))?.count();
    let files = fs::read_dir(devices[0].join("clients"))?.count();
    let kept = Vault::open(&devices[0], &pass(), Access::Read)?
        .kept_files()
        .len();
    println!("log_changes={}", a.log_changes);
    println!("heads={heads}");
    println!("client_folder_files={files}");
    println!("kept_files={kept}");
    println!("get_one_client_ms={:.2}", small * 1e3);
    println!("get_after_changes_ms={:.2}", big * 1e3);
    println!("get_difference_ms={:.2}", (big - small) * 1e3);
    Ok(())
}

fn main() -> ExitCode {
    match parse().map_err(|e| e.into()).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_merge: {e}");
            ExitCode::FAILURE
        }
    }
}
