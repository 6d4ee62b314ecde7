//! Self-tests of the file-sync simulator (`tests/sync/`), with plain files: each
//! service's conflict, deletion and partial-sync behaviour, replay from a seed, and
//! a property run (no written version is lost, every run settles). A failing run
//! prints its seed; `BATON_SYNC_SEED=N` replays it.

mod sync;

use std::collections::{BTreeMap, BTreeSet};

use sync::names::{self, Service};
use sync::{Options, Rng, Sim};

const F: &str = "index.g1.age";

/// Every configuration worth running: the three services, and Nextcloud both ways.
fn configs() -> Vec<(Service, Options)> {
    vec![
        (Service::Syncthing, Options::default()),
        (Service::Nextcloud, Options::default()),
        (
            Service::Nextcloud,
            Options {
                upload_conflict_files: true,
                ..Options::default()
            },
        ),
        (Service::Dropbox, Options::default()),
    ]
}

/// `F` synced on every device, then edited on devices 0 and 1 without a sync in
/// between (device 1 later).
fn concurrent_edit(service: Service, opts: Options, seed: u64) -> Sim {
    let mut sim = Sim::with_options(service, 3, seed, opts);
    sim.write(0, F, "base");
    sim.sync_all();
    sim.write(0, F, "from d0");
    sim.observe();
    sim.write(1, F, "from d1");
    sim.sync_all();
    sim
}

#[test]
fn concurrent_edits_leave_one_winner_and_one_named_copy_on_every_device() {
    let upload = Options {
        upload_conflict_files: true,
        ..Options::default()
    };
    for service in [Service::Syncthing, Service::Nextcloud, Service::Dropbox] {
        for seed in sync::seeds(0..8) {
            let sim = concurrent_edit(service, upload.clone(), seed);
            let copies = sim.conflict_copies(0);
            assert_eq!(copies.len(), 1, "{service:?}: one copy, got {copies:?}");
            let copy = copies[0].to_str().unwrap().to_owned();
            let winner = sim.read(0, F).unwrap();
            let loser = sim.read(0, &copy).unwrap();
            let mut both = [winner.clone(), loser.clone()];
            both.sort();
            assert_eq!(both, [b"from d0".to_vec(), b"from d1".to_vec()]);
            for i in 0..3 {
                assert_eq!(sim.conflict_copies(i), copies, "device {i}");
                assert_eq!(sim.read(i, F).unwrap(), winner, "device {i}");
                assert_eq!(sim.read(i, &copy).unwrap(), loser, "device {i}");
            }

            let parsed = names::parse(&copy).unwrap();
            assert_eq!(parsed.service, service);
            assert_eq!(parsed.original, F);
            assert_eq!(names::original_name(&copy).as_deref(), Some(F));
            let loser_dev = usize::from(loser == b"from d1");
            match service {
                Service::Syncthing => {
                    // The newer change wins; the copy names the winner's device.
                    assert_eq!(winner, b"from d1");
                    assert!(copy.starts_with("index.g1.sync-conflict-"), "{copy}");
                    assert!(
                        copy.ends_with(&format!("-{}.age", sim.short_id(1))),
                        "{copy}"
                    );
                    assert_eq!(parsed.by.as_deref(), Some(sim.short_id(1)));
                }
                Service::Nextcloud => {
                    assert!(
                        copy.starts_with("index.g1 (conflicted copy Max Admin "),
                        "{copy}"
                    );
                    assert!(copy.ends_with(").age"), "{copy}");
                    assert_eq!(parsed.by.as_deref(), Some(sync::NEXTCLOUD_USER));
                }
                Service::Dropbox => {
                    assert_eq!(parsed.by.as_deref(), Some(sim.host(loser_dev)));
                    assert!(
                        copy.ends_with(").age") && copy.starts_with("index.g1 ("),
                        "{copy}"
                    );
                }
            }
        }
    }
}

/// Nextcloud's default: the conflict file stays on the device that synced second,
/// named without a user, and is never uploaded.
#[test]
fn nextcloud_keeps_its_conflict_file_on_the_losing_device() {
    for seed in sync::seeds(0..8) {
        let sim = concurrent_edit(Service::Nextcloud, Options::default(), seed);
        let with_copy: Vec<usize> = (0..3)
            .filter(|&i| !sim.conflict_copies(i).is_empty())
            .collect();
        assert_eq!(with_copy.len(), 1, "one device has it: {with_copy:?}");
        let loser = with_copy[0];
        let copy = sim.conflict_copies(loser)[0].to_str().unwrap().to_owned();
        assert_eq!(names::parse(&copy).unwrap().by, None);
        assert!(copy.starts_with("index.g1 (conflicted copy 20"), "{copy}");
        assert_eq!(
            sim.read(loser, &copy).unwrap(),
            format!("from d{loser}").as_bytes()
        );
        assert!(sim.is_ignored(&copy));
        assert!(!sim.server_files().contains_key(&copy));
        // The winner is what the other device uploaded first.
        let winner = 1 - loser;
        for i in 0..3 {
            assert_eq!(
                sim.read(i, F).unwrap(),
                format!("from d{winner}").as_bytes()
            );
        }
    }
}

#[test]
fn files_added_on_different_devices_all_arrive() {
    for (service, opts) in configs() {
        for seed in sync::seeds(0..4) {
            let mut sim = Sim::with_options(service, 4, seed, opts.clone());
            let mut want = BTreeMap::new();
            for i in 0..4 {
                for rel in [
                    format!("clients/c{i}.age"),
                    format!("d{i}.json"),
                    format!("deep/er/{i}"),
                ] {
                    sim.write(i, &rel, &rel);
                    want.insert(rel.clone(), rel.into_bytes());
                }
            }
            sim.sync_all();
            for i in 0..4 {
                assert_eq!(sim.synced_files(i), want, "{service:?} device {i}");
                assert!(sim.conflict_copies(i).is_empty());
            }
        }
    }
}

#[test]
fn delete_versus_modify_keeps_the_modification() {
    for (service, opts) in configs() {
        for seed in sync::seeds(0..8) {
            let mut sim = Sim::with_options(service, 3, seed, opts.clone());
            sim.write(0, F, "base");
            sim.sync_all();
            // Which one happens (and syncs) first varies with the seed.
            let (deleter, editor) = if seed % 2 == 0 { (0, 1) } else { (1, 0) };
            sim.remove(deleter, F);
            sim.observe();
            sim.write(editor, F, "edited");
            if seed % 4 < 2 {
                sim.sync_device(deleter);
            } else {
                sim.sync_device(editor);
            }
            sim.sync_all();
            for i in 0..3 {
                assert_eq!(
                    sim.read(i, F).as_deref(),
                    Some(&b"edited"[..]),
                    "{service:?} d{i}"
                );
                assert!(sim.conflict_copies(i).is_empty(), "{service:?} d{i}");
            }
        }
    }
}

/// A run of random writes, deletions and partial syncs.
fn random_run(
    service: Service,
    opts: Options,
    seed: u64,
) -> (Vec<String>, Vec<BTreeMap<String, Vec<u8>>>) {
    let mut sim = Sim::with_options(service, 3, seed, opts);
    let mut rng = Rng::new(seed ^ 0x5EED);
    for step in 0..40 {
        let i = rng.below(3);
        let path = *rng.pick(&[F, "index.g2.age", "clients/a.age", "vault.json"]);
        match rng.below(6) {
            0 | 1 => sim.write(i, path, format!("{step}")),
            2 if sim.read(i, path).is_some() => sim.remove(i, path),
            3 => {
                sim.partial(i);
            }
            _ => {
                sim.sync_step(i);
            }
        }
    }
    sim.sync_all();
    let files = (0..3).map(|i| sim.files(i)).collect();
    (sim.log().to_vec(), files)
}

#[test]
fn a_seed_replays_identically() {
    for (service, opts) in configs() {
        let seed = sync::seed(42);
        let first = random_run(service, opts.clone(), seed);
        let again = random_run(service, opts.clone(), seed);
        assert!(
            first.0.len() > 10,
            "{service:?} seed {seed}: a run does something"
        );
        assert_eq!(first, again, "{service:?} seed {seed}: same seed, same run");
        let other = random_run(service, opts, seed + 1);
        assert_ne!(
            first.0, other.0,
            "{service:?} seed {seed} and the next: another run"
        );
    }
}

#[test]
fn partial_sync_can_deliver_a_deletion_before_the_addition() {
    for (service, opts) in configs() {
        let (mut gap, mut overlap) = (0, 0);
        for seed in sync::seeds(0..24) {
            let mut sim = Sim::with_options(service, 2, seed, opts.clone());
            sim.write(0, F, "generation 1");
            sim.sync_all();
            // Device 0 replaces generation 1 by generation 2 and sends both changes.
            sim.write(0, "index.g2.age", "generation 2");
            sim.remove(0, F);
            sim.sync_device(0);
            // Device 1 receives them in parts.
            while sim.sync_step(1) > 0 {
                match (
                    sim.read(1, F).is_some(),
                    sim.read(1, "index.g2.age").is_some(),
                ) {
                    (false, false) => gap += 1,
                    (true, true) => overlap += 1,
                    _ => {}
                }
            }
            assert_eq!(
                sim.read(1, "index.g2.age").as_deref(),
                Some(&b"generation 2"[..])
            );
            assert_eq!(sim.read(1, F), None);
        }
        if std::env::var(sync::SEED_ENV).is_err() {
            assert!(
                gap > 0,
                "{service:?}: a deletion arrived first in a run of seeds 0..24"
            );
            assert!(
                overlap > 0,
                "{service:?}: an addition arrived first in a run of seeds 0..24"
            );
        }

        // The same by hand: the deletion, then (a step later) the addition.
        let mut sim = Sim::with_options(service, 2, 1, opts.clone());
        sim.write(0, F, "generation 1");
        sim.sync_all();
        sim.write(0, "index.g2.age", "generation 2");
        sim.remove(0, F);
        sim.sync_device(0);
        assert_eq!(sim.pending(1), ["index.g1.age", "index.g2.age"]);
        sim.apply(1, &[F]);
        assert_eq!(
            sim.files(1),
            BTreeMap::new(),
            "{service:?}: nothing in between"
        );
        sim.apply(1, &["index.g2.age"]);
        assert_eq!(sim.files(1).len(), 1);
    }
}

/// An interrupted sync leaves the service's temporary file, which the service
/// skips; a copy of that folder (temporary file and stale files and all) becomes a
/// new device, and everything settles without losing the newest version.
#[test]
fn a_copy_of_a_half_synced_folder_settles() {
    for (service, opts) in configs() {
        for keep_mtimes in [false, true] {
            for seed in sync::seeds(0..6) {
                let mut sim = Sim::with_options(service, 2, seed, opts.clone());
                for k in 0..4 {
                    sim.write(0, &format!("clients/{k}.age"), format!("v1 {k}"));
                }
                sim.sync_all();
                for k in 0..4 {
                    sim.write(0, &format!("clients/{k}.age"), format!("v2 {k}"));
                }
                sim.sync_device(0);
                // Device 1 gets part of it, maybe with one transfer cut off.
                sim.partial(1);
                let temps: Vec<String> = sim
                    .files(1)
                    .into_keys()
                    .filter(|rel| sim.is_ignored(rel))
                    .collect();
                let copy = sim.add_device_copy(1, keep_mtimes);
                assert!(
                    temps.iter().all(|t| sim.read(copy, t).is_some()),
                    "copied as it was"
                );
                sim.sync_all();
                for k in 0..4 {
                    let v2 = format!("v2 {k}").into_bytes();
                    let somewhere = (0..3).any(|i| sim.files(i).values().any(|c| *c == v2));
                    assert!(
                        somewhere,
                        "{service:?} keep_mtimes {keep_mtimes}: v2 of {k} survives"
                    );
                }
            }
        }
    }
}

#[test]
fn ignored_names_are_each_services_defaults() {
    let sim = |s| Sim::new(s, 1, 0);
    let (st, nc, db) = (
        sim(Service::Syncthing),
        sim(Service::Nextcloud),
        sim(Service::Dropbox),
    );
    // Nobody skips a lock file or a dot-temporary file by default.
    for name in [
        ".lock",
        ".index.g2.age.tmp",
        "x.tmp",
        "vault.json",
        "clients/a.age",
    ] {
        for s in [&st, &nc, &db] {
            assert!(!s.is_ignored(name), "{:?} {name}", s.service());
        }
    }
    for name in [
        ".stfolder",
        ".stignore",
        ".syncthing.index.g1.age.tmp",
        "~syncthing~a.tmp",
    ] {
        assert!(st.is_ignored(name), "{name}");
    }
    for name in [
        "~x.tmp",
        "a~",
        ".~lock.a#",
        "a.part",
        ".a.swp",
        ".a.age.~1f2e",
        "desktop.ini",
        "d/.DS_Store/x",
    ] {
        assert!(nc.is_ignored(name), "{name}");
    }
    assert!(nc.is_ignored("a (conflicted copy 2024-05-17 093012).age"));
    assert!(
        nc.is_ignored("my_conflict-notes.txt"),
        "Nextcloud's loose test"
    );
    for name in [
        "~x.tmp",
        "~$doc.docx",
        ".~lock",
        "Thumbs.db",
        ".dropbox.cache/x",
        "desktop.ini",
    ] {
        assert!(db.is_ignored(name), "{name}");
    }
    assert!(!st.is_ignored("~x.tmp"));

    let hidden = Sim::with_options(
        Service::Nextcloud,
        1,
        0,
        Options {
            ignore_hidden: true,
            ..Options::default()
        },
    );
    assert!(hidden.is_ignored(".lock") && hidden.is_ignored("a/.b/c"));

    // The user's own rules, and that ignored files stay where they are.
    for (service, _) in configs() {
        let mut s = Sim::with_options(
            service,
            2,
            3,
            Options {
                extra_ignores: vec![".lock".into(), ".*.tmp".into()],
                ..Options::default()
            },
        );
        s.write(0, ".lock", "pid 1");
        s.write(0, ".index.g2.age.tmp", "half");
        s.write(0, F, "data");
        s.sync_all();
        assert_eq!(s.files(1).into_keys().collect::<Vec<_>>(), [F]);
        assert_eq!(s.files(0).len(), 3);
    }
}

/// Random runs: every run settles, all devices end equal, and no version that was
/// written and not later overwritten or deleted on purpose is lost.
#[test]
fn random_runs_settle_without_losing_versions() {
    const PATHS: [&str; 6] = [
        F,
        "index.g2.age",
        "clients/a.age",
        "clients/b.age",
        ".lock",
        "vault.json",
    ];
    for (service, opts) in configs() {
        for seed in sync::seeds(100..140) {
            let mut sim = Sim::with_options(service, 3, seed, opts.clone());
            let mut rng = Rng::new(seed.wrapping_mul(31) ^ 7);
            let mut live: BTreeSet<Vec<u8>> = BTreeSet::new();
            for step in 0..60 {
                let i = rng.below(sim.device_count());
                let path = *rng.pick(&PATHS);
                match rng.below(10) {
                    0..=2 => {
                        if let Some(old) = sim.read(i, path) {
                            live.remove(&old); // replaced on purpose
                        }
                        let new = format!("{service:?} {seed} {step}").into_bytes();
                        sim.write(i, path, &new);
                        live.insert(new);
                    }
                    3 => {
                        if let Some(old) = sim.read(i, path) {
                            live.remove(&old);
                            sim.remove(i, path);
                        }
                    }
                    4 => {
                        sim.partial(i);
                    }
                    5 if step == 30 => {
                        // Someone copies a (maybe half-synced) folder over another:
                        // what was there is gone on purpose.
                        let to = (i + 1) % sim.device_count();
                        for old in sim.files(to).into_values() {
                            live.remove(&old);
                        }
                        sim.copy_folder(i, to, rng.chance(1, 2));
                    }
                    6 => sim.observe(),
                    7 => sim.sync_device(i),
                    _ => {
                        sim.sync_step(i);
                    }
                }
            }
            sim.sync_all();
            let dropped = sim.log().iter().any(|l| {
                l.contains("conflict-copy-dropped") || l.contains("conflict-copy-expired")
            });
            if dropped {
                continue; // Syncthing discarded a copy, as it does
            }
            let all: BTreeSet<Vec<u8>> = (0..sim.device_count())
                .flat_map(|i| sim.files(i).into_values())
                .collect();
            for v in &live {
                assert!(
                    all.contains(v),
                    "{service:?} seed {seed}: lost {:?}",
                    String::from_utf8_lossy(v)
                );
            }
        }
    }
}
