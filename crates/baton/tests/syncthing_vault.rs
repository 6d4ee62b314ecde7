//! One vault in a folder shared by two real Syncthing instances, written on both sides
//! while they are apart (docs/format.md#multi-writer): no file is written on both
//! sides, so Syncthing makes no conflict copy; both changes show on both sides, nothing
//! is lost, and the next write commits the merge.
//!
//! Needs the `syncthing` program: `#[ignore]`d like every peer test (CI runs it).

mod sync;

use std::path::Path;
use std::time::{Duration, Instant};

use baton::emergency::Policy;
use baton::status::Severity;
use baton::store::IntegrityError;
use baton::vault::changes::NewClient;
use baton::vault::{Access, InitOptions, Vault};
use baton::{KdfParams, Passphrase};
use sync::syncthing::Pair;

const T: Duration = Duration::from_secs(30);

fn pass() -> Passphrase {
    Passphrase::new("two devices, one vault".into())
}

fn add(vault: &Path, id: &str) {
    let mut v = Vault::open(vault, &pass(), Access::Write).unwrap();
    v.add_client(NewClient {
        id: id.into(),
        ..Default::default()
    })
    .unwrap();
}

#[test]
#[ignore = "needs syncthing; run with --include-ignored (CI does)"]
fn a_vault_written_on_both_sides_of_syncthing_loses_and_hides_nothing() {
    sync::syncthing::need();
    let pair = Pair::start();
    let (a, b) = (pair.a.folder.join("vault"), pair.b.folder.join("vault"));
    drop(
        Vault::init(
            &a,
            &pass(),
            InitOptions {
                policy: Policy::single(vec!["anna".into(), "ben".into()], 2),
                kdf: KdfParams::insecure_test(),
            },
            |_, _| Ok(()),
        )
        .unwrap(),
    );
    add(&a, "acme");
    pair.wait_in_sync(T);
    assert!(
        Vault::open(&b, &pass(), Access::Read)
            .unwrap()
            .client("acme")
            .is_ok()
    );

    // Apart: A adds beta, then B adds gamma, each on its own writer's files.
    pair.pause();
    add(&a, "beta");
    std::thread::sleep(Duration::from_millis(1100));
    add(&b, "gamma");
    pair.scan();
    pair.resume();
    pair.wait_in_sync(T);

    // Both sides show both changes once each side's files have arrived (Syncthing may
    // deliver a head before its files: then that head waits, it is not an error).
    let deadline = Instant::now() + T;
    let shows_all = |v: &Path| {
        Vault::open(v, &pass(), Access::Read).is_ok_and(|v| {
            v.waiting_heads().is_empty()
                && ["acme", "beta", "gamma"]
                    .iter()
                    .all(|id| v.client(id).is_ok())
        })
    };
    while !shows_all(&a) || !shows_all(&b) {
        assert!(
            Instant::now() < deadline,
            "the two changes do not both show: {}",
            pair.a.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
        pair.wait_in_sync(T);
    }
    for side in [&a, &b] {
        // No file was written on both sides, so Syncthing made no conflict copy; the
        // keyless check (cron) and verify find nothing wrong.
        let strays = baton::store::survey::survey(side, 1).strays;
        assert!(strays.is_empty(), "{}: {strays:?}", side.display());
        let now = baton::time::now();
        let (_, findings) = baton::status::check_folder(side, &now).unwrap();
        assert!(
            findings.iter().all(|f| f.severity() != Severity::Problem),
            "{}: {findings:?}",
            side.display()
        );
        let v = Vault::open(side, &pass(), Access::Read).unwrap();
        assert_eq!(
            v.verify(),
            Vec::<IntegrityError>::new(),
            "{}",
            side.display()
        );
    }
    // The next write on either side commits the merge, and it syncs back.
    add(&b, "delta");
    pair.wait_in_sync(T);
    let deadline = Instant::now() + T;
    while !Vault::open(&a, &pass(), Access::Read).is_ok_and(|v| v.client("delta").is_ok()) {
        assert!(Instant::now() < deadline, "{}", pair.a.log_tail());
        std::thread::sleep(Duration::from_millis(200));
        pair.wait_in_sync(T);
    }
    let v = Vault::open(&a, &pass(), Access::Read).unwrap();
    assert!(!v.has_unmerged_heads());
    assert_eq!(v.clients().unwrap().len(), 4);
}
