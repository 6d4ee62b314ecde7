//! One vault in a folder shared by two real Syncthing instances, written on both sides
//! while they are apart (docs/format.md#conflict-copies). In the version 2 format the
//! two changes cannot be merged yet; what must hold already is that nothing is deleted
//! and nothing is hidden: both devices' client files reach both sides, the losing index
//! and audit record are kept as Syncthing's conflict copies, and on both sides
//! `status --check`'s findings and `verify` report them as problems, never "intact".
//!
//! Needs the `syncthing` program: `#[ignore]`d like every peer test (CI runs it).

mod sync;

use std::path::Path;
use std::time::{Duration, Instant};

use baton::emergency::Policy;
use baton::status::{Finding, Severity};
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

fn clients_dir(vault: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(vault.join("clients"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
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

    // Apart: A adds beta, then B adds gamma (B's index is the newer one). Each writes
    // new files and removes the ones its index no longer names.
    let base = clients_dir(&a);
    pair.pause();
    add(&a, "beta");
    std::thread::sleep(Duration::from_millis(1100));
    add(&b, "gamma");
    let new = |v: &Path| -> Vec<String> {
        clients_dir(v)
            .into_iter()
            .filter(|f| !base.contains(f))
            .collect()
    };
    let (only_a, only_b) = (new(&a), new(&b));
    assert!(!only_a.is_empty() && !only_b.is_empty());
    pair.scan();
    pair.resume();
    pair.wait_in_sync(T);
    // The losing versions become conflict copies after the pull: wait for both (the
    // index and the audit record) on both sides.
    let deadline = Instant::now() + T;
    let copies = |v: &Path| baton::store::survey::survey(v, 1).strays.len();
    while copies(&a) < 2 || copies(&b) < 2 {
        assert!(
            Instant::now() < deadline,
            "no conflict copies: {}",
            pair.a.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
        pair.wait_in_sync(T);
    }

    for side in [&a, &b] {
        // Nothing deleted: every file either side wrote apart is on both sides. (A file
        // of the common state that one side replaced is deleted on both, as the sync
        // service must: the other side's index may still name it, which is why version
        // 2 needs one writer at a time and version 3 defers such deletions.)
        let here = clients_dir(side);
        for f in only_a.iter().chain(&only_b) {
            assert!(here.contains(f), "{}: {f} is gone", side.display());
        }
        // Nothing hidden: the keyless check (cron) reports the copies as a problem...
        let now = baton::time::now();
        let (_, findings) = baton::status::check_folder(side, &now).unwrap();
        let copies = findings
            .iter()
            .find_map(|f| match f {
                Finding::ConflictCopies { copies, .. } => Some(copies.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: no conflict finding: {findings:?}", side.display()));
        let originals: Vec<&str> = copies.iter().map(|(_, o)| o.as_str()).collect();
        assert!(originals.contains(&"index.g1.age"), "{originals:?}");
        assert!(
            originals.iter().any(|o| o.starts_with("audit/")),
            "{originals:?}"
        );
        assert!(findings.iter().any(|f| f.severity() == Severity::Problem));
        // ...and so does verify, with the passphrase.
        let v = Vault::open(side, &pass(), Access::Read).unwrap();
        let problems = v.verify();
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, IntegrityError::ConflictCopy { original, .. } if original == "index.g1.age")),
            "{}: {problems:?}",
            side.display()
        );
        // A's change is not named by the winning index, but its files are kept.
        let named: Vec<String> = v
            .clients()
            .map(|c| c.iter().map(|r| r.file.clone()).collect())
            .unwrap_or_default();
        assert!(
            only_a.iter().chain(&only_b).any(|f| !named.contains(f)),
            "one side's new files are unnamed and kept"
        );
    }
}
