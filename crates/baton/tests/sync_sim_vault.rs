//! Three devices write one vault through a simulated sync service (`tests/sync/`:
//! Syncthing, Nextcloud, Dropbox semantics, partial syncs, files in any order) for
//! hundreds of random operations (1,000 through Syncthing) with random sync points and
//! key rotations, some in quick pairs so that a device falls two generations behind,
//! and some made on two devices before either has synced (two rotations to one
//! generation, docs/format.md#sibling-rotations; docs/format.md#multi-writer).
//! After a final sync every device shows the same vault, `verify` is clean, the audit
//! log holds every change once, and no committed change is lost: each value written is
//! still there (as the value or as a side of a reported conflict) unless a later change
//! was made by a device that had seen it.
//!
//! A failing run prints its seed; `BATON_SYNC_SEED=N` replays it exactly (baton's ids,
//! file names and clock come from the seed too, through `baton::replay`; the summary
//! line's `exchanges` fingerprint is the same in every run of a seed), and
//! `BATON_SIM_OPS=N` sets the number of operations; `BATON_SIM_TRACE=1` prints every
//! operation and its outcome (with `BATON_SIM_DEBUG=1`, also the heads of a device that
//! cannot read; with `BATON_SIM_WATCH=CLIENT/ENTRY`, whether each reading device sees
//! that entry); `BATON_SIM_LOG=N` prints the last N file exchanges of a failing run.

mod common;
mod sync;

use std::collections::{BTreeMap, BTreeSet};

use baton::sync::{EntrySide, Resolution, entry_sides};
use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{Access, Vault, VaultError};
use baton::{Passphrase, SecretText};

use sync::names::Service;
use sync::{Rng, Sim};

fn pass() -> Passphrase {
    Passphrase::new("correct horse battery staple".into())
}

/// What a device sees of one entry: its values (the one on show and every side of a
/// conflict). Values are unique per change.
type View = BTreeMap<(String, String), BTreeSet<String>>;

fn view(v: &Vault) -> Result<View, VaultError> {
    let mut out = View::new();
    for c in v.clients()? {
        let file = v.client(&c.id)?;
        let names: BTreeSet<String> = file
            .entries
            .iter()
            .chain(&file.conflicts.entries)
            .map(|e| e.name.clone())
            .collect();
        for name in names {
            let values: BTreeSet<String> = entry_sides(&file, &name)
                .into_iter()
                .filter_map(|s| match s {
                    EntrySide::Live(e) => e.password.as_ref().map(|p| p.expose().to_string()),
                    EntrySide::Removed(_) => None,
                })
                .collect();
            out.insert((c.id.clone(), name), values);
        }
        out.entry((c.id.clone(), String::new())).or_default();
    }
    Ok(out)
}

/// One committed change: the value it wrote (if any) and what its device saw of the
/// item before (what it may legitimately have replaced).
#[derive(Debug)]
struct Change {
    device: usize,
    what: String,
    client: String,
    entry: String,
    value: Option<String>,
    seen: BTreeSet<String>,
}

fn run(service: Service, seed: u64, ops: usize) {
    let mut sim = Sim::new(service, 3, seed);
    let mut rng = Rng::new(seed ^ 0x5eed);
    // baton's own ids, file names and clock from the seed too, so that the run can be
    // replayed exactly.
    baton::replay::start(seed, sim.now() as u64);
    common::init_vault(sim.device_path(0), &pass());
    sim.sync_all();
    let mut changes: Vec<Change> = Vec::new();
    let mut counter = 0u64;
    let mut refused = 0;
    let mut rotations = 0;
    let mut deep = 0;
    let mut siblings = 0;
    let mut last_rotation: Option<usize> = None;
    let mut why: BTreeMap<&str, usize> = BTreeMap::new();
    let trace = std::env::var_os("BATON_SIM_TRACE").is_some();
    for step in 0..ops {
        // Now and then a key rotation on one device, at a random point: the others may
        // be committing under the old keys meanwhile, even across several rotations,
        // and their changes are carried over into the new generation
        // (docs/format.md#carry-over). A device rotates when it and the server hold
        // the newest header there is; now and then a second device rotates too, before
        // either has synced: two rotations to one generation made apart
        // (docs/format.md#sibling-rotations).
        // Rotations come in pairs now and then (a second one soon after the first, as
        // after adding a holder), so that a device is two generations behind.
        let den = if rotations % 2 == 1 && last_rotation.is_some_and(|r| step < r + 30) {
            12
        } else {
            120
        };
        if step > 0 && rng.chance(1, den) {
            let generation_of = |files: &BTreeMap<String, Vec<u8>>| {
                files
                    .get("vault.json")
                    .and_then(|h| serde_json::from_slice::<serde_json::Value>(h).ok())
                    .and_then(|h| h["generation"].as_u64())
            };
            let d = rng.below(3);
            let devices: Vec<Option<u64>> = (0..3).map(|i| generation_of(&sim.files(i))).collect();
            let newest = devices.iter().copied().max().flatten();
            if newest.is_some()
                && generation_of(&sim.server_files()) == newest
                && devices[d] == newest
            {
                let rotate_on = |d: usize| {
                    Vault::open(sim.device_path(d), &pass(), Access::Write)
                        .map_err(|e| e.to_string())
                        .and_then(|mut v| {
                            v.rotate(
                                baton::rotate::RotateOptions::default(),
                                Some(&pass()),
                                |_, _| Ok(()),
                                &|_| {},
                            )
                            .map_err(|e| e.to_string())
                        })
                };
                // Now and then another device under the same header rotates too before
                // either has synced (a rotation due on both).
                let mut order = vec![d];
                if rng.chance(1, 3) {
                    let others: Vec<usize> =
                        (0..3).filter(|&e| e != d && devices[e] == newest).collect();
                    if !others.is_empty() {
                        order.push(*rng.pick(&others));
                    }
                }
                for (i, &d) in order.iter().enumerate() {
                    match rotate_on(d) {
                        Ok(_) => {
                            rotations += 1;
                            last_rotation = Some(step);
                            siblings += usize::from(i > 0);
                            // A device still under an older header is now two or more
                            // generations behind.
                            if devices.iter().any(|g| *g < newest) {
                                deep += 1;
                            }
                            if trace {
                                eprintln!("seed {seed} step {step}: device {d}: rotate: ok");
                            }
                        }
                        // A folder caught half-synced: the rotation waits, as a user
                        // would retry.
                        Err(e) => {
                            refused += 1;
                            *why.entry("rotate").or_default() += 1;
                            eprintln!("seed {seed} step {step}: rotation on {d} waits: {e}");
                        }
                    }
                }
                continue;
            }
        }
        let d = rng.below(3);
        let mut v = match Vault::open(sim.device_path(d), &pass(), Access::Write) {
            Ok(v) => v,
            // A folder caught half-synced (a head before its files): the device
            // waits for the next sync, as a user would retry.
            Err(e) => {
                refused += 1;
                *why.entry("open").or_default() += 1;
                eprintln!("seed {seed} step {step}: device {d} does not open yet: {e}");
                sim.sync_device(d);
                continue;
            }
        };
        // A file of a half-synced folder that has not arrived: the device syncs first.
        let seen = match view(&v) {
            Ok(s) => {
                // BATON_SIM_WATCH=CLIENT/ENTRY: whether each reading device sees it.
                if let Ok(w) = std::env::var("BATON_SIM_WATCH")
                    && let Some((c, e)) = w.split_once('/')
                {
                    let has = s.get(&(c.to_string(), e.to_string()));
                    eprintln!(
                        "seed {seed} step {step}: device {d} (generation {}) sees {w}: {has:?}",
                        v.header().generation
                    );
                }
                s
            }
            Err(e) => {
                if trace {
                    eprintln!("seed {seed} step {step}: device {d} cannot read yet: {e}");
                    if std::env::var_os("BATON_SIM_DEBUG").is_some() {
                        let files = sim.files(d);
                        let heads: Vec<&String> =
                            files.keys().filter(|k| k.starts_with("heads/")).collect();
                        eprintln!(
                            "  heads {heads:?} waiting {:?} writer {}",
                            v.waiting_heads(),
                            v.writer()
                        );
                    }
                }
                refused += 1;
                *why.entry("read").or_default() += 1;
                drop(v);
                sim.sync_device(d);
                continue;
            }
        };
        counter += 1;
        let value = format!("v{counter}");
        let clients: Vec<String> = seen
            .keys()
            .map(|(c, _)| c.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let entries: Vec<(String, String)> = seen
            .keys()
            .filter(|(_, e)| !e.is_empty())
            .cloned()
            .collect();
        let roll = rng.below(100);
        let field = |v: &str| EntryFields {
            password: Some(SecretText::new(v.into())),
            ..Default::default()
        };
        let (what, client, entry, result, wrote, saw): (
            &str,
            String,
            String,
            Result<(), VaultError>,
            bool,
            BTreeSet<String>,
        ) = if clients.len() < 3 || roll < 10 {
            let id = format!("c{counter}");
            let r = v.add_client(NewClient {
                id: id.clone(),
                ..Default::default()
            });
            ("client.add", id, String::new(), r, false, BTreeSet::new())
        } else if entries.len() < 3 || roll < 35 {
            let c = rng.pick(&clients).clone();
            let name = format!("e{counter}");
            let r = v.add_entry(&c, &name, field(&value));
            ("entry.add", c, name, r, true, BTreeSet::new())
        } else if roll < 75 {
            let (c, e) = rng.pick(&entries).clone();
            let r = v.edit_entry(&c, &e, field(&value), None);
            let saw = seen[&(c.clone(), e.clone())].clone();
            ("entry.edit", c, e, r, true, saw)
        } else if roll < 80 {
            let (c, e) = rng.pick(&entries).clone();
            let r = v.remove_entry(&c, &e);
            let saw = seen[&(c.clone(), e.clone())].clone();
            ("entry.remove", c, e, r, false, saw)
        } else if roll < 83 {
            let (c, e) = rng.pick(&entries).clone();
            let r = v.attach(
                &c,
                &e,
                &format!("f{counter}.txt"),
                baton::SecretBytes::new(value.clone().into_bytes()),
                false,
            );
            ("entry.attach", c, e, r, false, BTreeSet::new())
        } else if roll < 85 {
            let c = rng.pick(&clients).clone();
            let r = v.end_client(&c, &baton::time::today(), "contract ended");
            ("client.end", c, String::new(), r, false, BTreeSet::new())
        } else if roll < 87 {
            let c = rng.pick(&clients).clone();
            let r = v
                .purge_client(&c, baton::gdpr::PurgeBasis::Request, &baton::time::today())
                .map(|_| ())
                .map_err(|e| match e {
                    baton::gdpr::PurgeError::Vault(e) => e,
                    e => panic!("seed {seed}: purge: {e}"),
                });
            let saw = seen
                .iter()
                .filter(|((cc, _), _)| *cc == c)
                .flat_map(|(_, vals)| vals.iter().cloned())
                .collect();
            ("client.purge", c, String::new(), r, false, saw)
        } else if roll < 90 {
            let c = rng.pick(&clients).clone();
            let r = v.remove_client(&c);
            let saw = seen
                .iter()
                .filter(|((cc, _), _)| *cc == c)
                .flat_map(|(_, vals)| vals.iter().cloned())
                .collect();
            ("client.remove", c, String::new(), r, false, saw)
        } else {
            // Resolve a conflict this device sees: keep the first version.
            let conflicted = v.conflicted_clients();
            if conflicted.is_empty() {
                counter -= 1;
                continue;
            }
            let c = rng.pick(&conflicted).clone();
            let file = v.client(&c).unwrap();
            let entry = file
                .conflicts
                .entries
                .first()
                .map(|e| e.name.clone())
                .or_else(|| {
                    file.entries
                        .iter()
                        .find(|e| file.removed.iter().any(|r| r.name == e.name))
                        .map(|e| e.name.clone())
                });
            let r = v
                .resolve(&c, entry.as_deref(), Resolution::Keep(1))
                .map(|_| ());
            let saw = seen
                .iter()
                .filter(|((cc, ee), _)| *cc == c && entry.as_ref().is_none_or(|x| x == ee))
                .flat_map(|(_, vals)| vals.iter().cloned())
                .collect();
            (
                "client.resolve",
                c,
                entry.unwrap_or_default(),
                r,
                false,
                saw,
            )
        };
        if trace {
            let outcome = match &result {
                Ok(()) => "ok".to_string(),
                Err(e) => e.to_string(),
            };
            eprintln!("seed {seed} step {step}: device {d}: {what} {client}/{entry}: {outcome}");
        }
        match result {
            Ok(()) => changes.push(Change {
                device: d,
                what: what.into(),
                client,
                entry,
                value: wrote.then_some(value),
                seen: saw,
            }),
            // Items in conflict wait for a resolve; a resolve finds nothing to do; a
            // file of a half-synced folder has not arrived yet (a rotation's files in
            // another order than written, or a file this device's own changes under
            // the old keys need before they can be carried over).
            Err(
                e @ (VaultError::InConflict { .. }
                | VaultError::Resolve { .. }
                | VaultError::BrokenAuditLog(baton::audit::AuditProblem::Missing(_))
                | VaultError::RotationArriving(_)
                | VaultError::OwnHeadIncomplete { .. }
                | VaultError::OwnChangesArriving { .. }
                | VaultError::Integrity(
                    baton::IntegrityError::ClientMissing { .. }
                    | baton::IntegrityError::ShardMissing { .. },
                )),
            ) => {
                refused += 1;
                *why.entry(match e {
                    VaultError::InConflict { .. } => "in conflict",
                    VaultError::Resolve { .. } => "nothing to resolve",
                    VaultError::RotationArriving(_) => "rotation arriving",
                    VaultError::OwnHeadIncomplete { .. } => "own head waits",
                    VaultError::OwnChangesArriving { .. } => "own changes arriving",
                    _ => "missing file",
                })
                .or_default() += 1;
            }
            Err(e) => panic!("seed {seed} step {step}: device {d}: {what}: {e}"),
        }
        drop(v);
        // Random sync points: a device exchanges part of its changes, sometimes
        // leaving a transfer half done.
        for dev in 0..3 {
            match rng.below(10) {
                0..=2 => {
                    sim.sync_step(dev);
                }
                3 => {
                    sim.partial(dev);
                }
                _ => {}
            }
        }
    }
    // Settle: every device syncs, writes once (committing the merge), syncs again.
    sim.sync_all();
    for d in 0..3 {
        let mut v = Vault::open(sim.device_path(d), &pass(), Access::Write)
            .unwrap_or_else(|e| panic!("seed {seed}: device {d} does not open: {e}"));
        v.merge().unwrap_or_else(|e| {
            if std::env::var_os("BATON_SIM_DEBUG").is_some() {
                for (f, b) in sim.files(d) {
                    if !f.starts_with("clients/") {
                        let g = serde_json::from_slice::<serde_json::Value>(&b)
                            .map(|h| h["generation"].to_string())
                            .unwrap_or_default();
                        eprintln!("device {d}: {f} {g}");
                    }
                }
            }
            panic!("seed {seed}: device {d} does not merge: {e}")
        });
        drop(v);
        sim.sync_all();
    }
    let finals: Vec<View> = (0..3)
        .map(|d| {
            let v = Vault::open(sim.device_path(d), &pass(), Access::Read).unwrap();
            assert_eq!(v.verify(), vec![], "seed {seed}: device {d}: verify");
            view(&v).unwrap_or_else(|e| panic!("seed {seed}: device {d}: {e}"))
        })
        .collect();
    assert_eq!(finals[0], finals[1], "seed {seed}: devices 0 and 1 differ");
    assert_eq!(finals[0], finals[2], "seed {seed}: devices 0 and 2 differ");
    let state = &finals[0];
    // No committed value is lost unless a change made after seeing it replaced it.
    for c in &changes {
        let Some(value) = &c.value else { continue };
        let here = state
            .get(&(c.client.clone(), c.entry.clone()))
            .is_some_and(|vals| vals.contains(value));
        let replaced = changes.iter().any(|d| {
            d.seen.contains(value)
                && d.client == c.client
                && (d.entry == c.entry || d.entry.is_empty())
        });
        assert!(
            here || replaced,
            "seed {seed}: {} on device {} of {}/{} = {value} is lost",
            c.what,
            c.device,
            c.client,
            c.entry
        );
    }
    // The audit log holds every change once.
    let v = Vault::open(sim.device_path(0), &pass(), Access::Read).unwrap();
    let (records, problems) = v.audit_log();
    assert!(problems.is_empty(), "seed {seed}: {problems:?}");
    for what in [
        "client.add",
        "entry.add",
        "entry.edit",
        "entry.remove",
        "client.remove",
        "client.resolve",
        "entry.attach",
        "client.end",
        "client.purge",
    ] {
        let made = changes.iter().filter(|c| c.what == what).count();
        let logged = records.iter().filter(|r| r.action.as_str() == what).count();
        assert_eq!(made, logged, "seed {seed}: {what} records");
    }
    let rotated = records
        .iter()
        .filter(|r| r.action.as_str() == "vault.rotate")
        .count();
    assert_eq!(rotated, rotations, "seed {seed}: vault.rotate records");
    // Two runs of one seed make the same exchanges, file by file (the files' bytes
    // differ: age draws new keys): this fingerprint tells.
    let fingerprint = {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        for line in sim.log() {
            line.split(" [").next().hash(&mut h);
        }
        h.finish()
    };
    eprintln!(
        "seed {seed} {service:?}: {rotations} rotations ({deep} with a device two or more behind, {siblings} to a generation another device had rotated to apart), {} changes committed, {refused} refused or waiting ({why:?}), {} conflicts left, {} records, exchanges {fingerprint:016x}",
        changes.len(),
        v.conflicted_clients().len(),
        records.len()
    );
    baton::replay::stop();
}

fn ops(default: usize) -> usize {
    std::env::var("BATON_SIM_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn three_devices_through_syncthing() {
    for seed in sync::seeds([1]) {
        run(Service::Syncthing, seed, ops(1000));
    }
}

#[test]
fn three_devices_through_nextcloud() {
    for seed in sync::seeds([3]) {
        run(Service::Nextcloud, seed, ops(300));
    }
}

#[test]
fn three_devices_through_dropbox() {
    for seed in sync::seeds([4]) {
        run(Service::Dropbox, seed, ops(300));
    }
}
