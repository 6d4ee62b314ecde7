//! The two-instance Syncthing harness (`tests/sync/syncthing.rs`) with plain files,
//! and the simulator's Syncthing model checked against the real program: a file
//! written on one side arrives on the other; edits made on both sides while they
//! are apart end with the newer one everywhere and one `.sync-conflict-` copy on
//! both sides, named as `baton::sync::names` expects (device ID included); a
//! deletion loses to a modification.
//!
//! The test needs the `syncthing` program (Debian package `syncthing`), so it is
//! `#[ignore]`d: a plain `cargo test` lists it as ignored, `-- --include-ignored`
//! runs it (CI does, with the package installed by `.ci/run`), and then a missing
//! `syncthing` is a failure that names the package, never a silent pass.

mod sync;

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

use sync::Sim;
use sync::names::{self, Service};
use sync::syncthing::Pair;

const F: &str = "index.g1.age";
const T: Duration = Duration::from_secs(30);

fn write(folder: &Path, rel: &str, bytes: &str, mtime: SystemTime) {
    let path = folder.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

fn read(folder: &Path, rel: &str) -> Option<String> {
    fs::read_to_string(folder.join(rel)).ok()
}

/// The conflict copies in a folder (top level), sorted.
fn conflict_copies(folder: &Path) -> Vec<String> {
    let mut found: Vec<String> = fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| names::is_conflict_copy(n))
        .collect();
    found.sort();
    found
}

#[test]
#[ignore = "needs syncthing; run with --include-ignored (CI does)"]
fn real_syncthing_pair_syncs_and_resolves_conflicts_as_modelled() {
    sync::syncthing::need();
    let started = Instant::now();
    let pair = Pair::start();
    let (a, b) = (&pair.a.folder, &pair.b.folder);
    let now = SystemTime::now();
    let minute_ago = now - Duration::from_secs(60);
    eprintln!("started and connected in {:?}", started.elapsed());

    // A file written on A appears on B.
    write(a, F, "base", minute_ago);
    write(a, "clients/acme.age", "acme", minute_ago);
    write(a, "gone.age", "base", minute_ago);
    pair.wait_in_sync(T);
    assert_eq!(read(b, F).as_deref(), Some("base"));
    assert_eq!(read(b, "clients/acme.age").as_deref(), Some("acme"));
    eprintln!("first sync done at {:?}", started.elapsed());

    // Apart, both edit F (B later) and A deletes what B edits.
    pair.pause();
    write(a, F, "from a", now - Duration::from_secs(30));
    write(b, F, "from b", now);
    fs::remove_file(a.join("gone.age")).unwrap();
    write(b, "gone.age", "edited on b", now);
    pair.scan(); // each side records its own changes before they meet
    pair.resume();
    pair.wait_in_sync(T);
    // The loser's copy is made after the pull, then scanned and sent: wait for it.
    let deadline = Instant::now() + T;
    while conflict_copies(a).len() + conflict_copies(b).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no conflict copy on both sides: a {:?}, b {:?}",
            conflict_copies(a),
            conflict_copies(b)
        );
        sleep(Duration::from_millis(100));
        pair.wait_in_sync(T);
    }
    eprintln!("conflict resolved at {:?}", started.elapsed());

    // The newer edit wins everywhere; the older one is the copy, on both sides.
    let copies = conflict_copies(a);
    assert_eq!(copies.len(), 1, "one copy: {copies:?}");
    assert_eq!(conflict_copies(b), copies);
    let copy = &copies[0];
    for side in [a, b] {
        assert_eq!(read(side, F).as_deref(), Some("from b"));
        assert_eq!(read(side, copy).as_deref(), Some("from a"));
        // A modification beats a deletion (Syncthing 1.x), without a copy.
        assert_eq!(read(side, "gone.age").as_deref(), Some("edited on b"));
    }
    let parsed = names::parse(copy).unwrap();
    assert_eq!(parsed.service, Service::Syncthing);
    assert_eq!(parsed.original, F);
    assert!(
        copy.starts_with("index.g1.sync-conflict-") && copy.ends_with(".age"),
        "{copy}"
    );
    eprintln!(
        "real conflict copy: {copy} (a is {}, b is {})",
        pair.a.short_id(),
        pair.b.short_id()
    );
    // The device named is the one that made the winning change (here B), as the
    // model says.
    assert_eq!(parsed.by.as_deref(), Some(pair.b.short_id()), "{copy}");

    // The simulator, given the same story, ends the same way.
    let mut sim = Sim::new(Service::Syncthing, 2, sync::seed(1));
    sim.write(0, F, "base");
    sim.write(0, "gone.age", "base");
    sim.sync_all();
    sim.write(0, F, "from a");
    sim.remove(0, "gone.age");
    sim.observe();
    sim.write(1, F, "from b");
    sim.write(1, "gone.age", "edited on b");
    sim.sync_all();
    let sim_copies = sim.conflict_copies(0);
    assert_eq!(sim_copies, sim.conflict_copies(1));
    assert_eq!(sim_copies.len(), 1);
    let sim_copy = sim_copies[0].to_str().unwrap();
    let sim_parsed = names::parse(sim_copy).unwrap();
    assert_eq!(sim_parsed.by.as_deref(), Some(sim.short_id(1)));
    for i in 0..2 {
        assert_eq!(sim.read(i, F).as_deref(), Some(&b"from b"[..]));
        assert_eq!(sim.read(i, sim_copy).as_deref(), Some(&b"from a"[..]));
        assert_eq!(
            sim.read(i, "gone.age").as_deref(),
            Some(&b"edited on b"[..])
        );
    }
    eprintln!("done in {:?}", started.elapsed());
}
