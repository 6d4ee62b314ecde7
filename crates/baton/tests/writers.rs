//! Writers that stop writing (docs/format.md#retired-writers): a folder that is gone
//! for good no longer makes every replaced file stay in the vault once it is
//! forgotten, and a forgotten writer that writes again after all loses nothing.

mod common;
mod sync;

use baton::Passphrase;
use baton::vault::{Access, Vault, VaultError};
use common::{add_with_root, root_password as password, set_root_password as set_password};

use sync::Sim;
use sync::names::Service;

fn pass() -> Passphrase {
    Passphrase::new("correct horse battery staple".into())
}

fn open(sim: &Sim, device: usize, access: Access) -> Vault {
    Vault::open(sim.device_path(device), &pass(), access)
        .unwrap_or_else(|e| panic!("device {device} does not open: {e}"))
}

fn add(v: &mut Vault, id: &str) {
    add_with_root(v, id, "first");
}

fn client_files(sim: &Sim, device: usize) -> usize {
    std::fs::read_dir(sim.device_path(device).join("clients"))
        .unwrap()
        .count()
}

/// Three devices; device 2 writes once and is then gone. Devices 0 and 1 go on: every
/// file they replace is kept for device 2 until it is forgotten, then no longer; and
/// when device 2 comes back after all, its change arrives and nothing is lost.
#[test]
fn a_writer_that_is_gone_is_forgotten_and_files_are_no_longer_kept_for_it() {
    let mut sim = Sim::new(Service::Syncthing, 3, 7);
    let mut v = common::init_vault(sim.device_path(0), &pass());
    add(&mut v, "acme");
    drop(v);
    sim.sync_all();
    add(&mut open(&sim, 2, Access::Write), "old-laptop");
    sim.sync_all();
    let gone = open(&sim, 2, Access::Read).writer().to_string();

    // Devices 0 and 1 go on without device 2.
    for round in 0..4 {
        set_password(
            &mut open(&sim, 0, Access::Write),
            "acme",
            &format!("a{round}"),
        );
        sim.sync_device(0);
        sim.sync_device(1);
        set_password(
            &mut open(&sim, 1, Access::Write),
            "old-laptop",
            &format!("b{round}"),
        );
        sim.sync_device(1);
        sim.sync_device(0);
    }
    let v = open(&sim, 0, Access::Read);
    let writers = v.writers();
    assert_eq!(writers.len(), 3, "{writers:?}");
    let w2 = writers.iter().find(|w| w.writer == gone).unwrap();
    assert!(w2.included && !w2.retired && !w2.this_folder, "{w2:?}");
    assert!(w2.holds >= 4, "files kept for the gone writer: {w2:?}");
    let kept_before = v.kept_files().len();
    assert!(kept_before >= 4, "{kept_before}");
    let files_before = client_files(&sim, 0);
    drop(v);

    // Refusals change nothing.
    let mut v = open(&sim, 0, Access::Write);
    let own = v.writer().to_string();
    assert!(matches!(
        v.forget_writer(&own),
        Err(VaultError::OwnWriter(_))
    ));
    assert!(matches!(
        v.forget_writer("0123456789abcdef"),
        Err(VaultError::UnknownWriter(_))
    ));
    let report = v.forget_writer(&gone).unwrap();
    assert_eq!(report.heads_removed, 1, "{report:?}");
    assert!(report.files_released >= 1, "{report:?}");
    assert!(v.writers().iter().all(|w| w.writer != gone));
    assert!(
        !sim.device_path(0)
            .join(format!("heads/{gone}.g1.age"))
            .exists()
    );
    drop(v);
    assert!(
        client_files(&sim, 0) < files_before,
        "replaced files removed: {} before, {} after",
        files_before,
        client_files(&sim, 0)
    );
    // Device 1 gets the news and stops keeping files for device 2 too.
    sim.sync_device(0);
    sim.sync_device(1);
    set_password(&mut open(&sim, 1, Access::Write), "acme", "after-forget");
    sim.sync_device(1);
    sim.sync_device(0);
    for d in 0..2 {
        let v = open(&sim, d, Access::Read);
        assert_eq!(v.verify(), vec![], "device {d}");
        assert_eq!(password(&v, "acme"), "after-forget");
        assert_eq!(password(&v, "old-laptop"), "b3");
        assert_eq!(v.writers().len(), 2, "device {d}: {:?}", v.writers());
        let (records, problems) = v.audit_log();
        assert!(problems.is_empty(), "{problems:?}");
        let forgets: Vec<_> = records
            .iter()
            .filter(|r| r.action.as_str() == "writer.forget")
            .collect();
        assert_eq!(forgets.len(), 1);
        assert!(forgets[0].detail.contains(&gone));
    }
    // A replaced file is kept only for the other device now, until it has seen the
    // change: a few rounds later only the last commit's files are kept.
    set_password(&mut open(&sim, 0, Access::Write), "acme", "last");
    sim.sync_all();
    set_password(&mut open(&sim, 1, Access::Write), "acme", "last-1");
    sim.sync_all();
    set_password(&mut open(&sim, 0, Access::Write), "acme", "last-0");
    sim.sync_all();
    let v = open(&sim, 0, Access::Read);
    for (file, behind) in v.kept_files() {
        assert!(
            !behind.contains(&gone),
            "{file} is still kept for the forgotten writer"
        );
    }
    assert!(
        v.writers().iter().all(|w| w.holds <= 6),
        "only the last commit's files are kept: {:?}",
        v.writers()
    );
    drop(v);

    // Device 2 was not gone after all: it syncs, writes, and its change arrives.
    sim.sync_device(2);
    let mut v = open(&sim, 2, Access::Write);
    assert_eq!(password(&v, "acme"), "last-0");
    set_password(&mut v, "old-laptop", "back again");
    drop(v);
    sim.sync_all();
    for d in 0..3 {
        let v = open(&sim, d, Access::Read);
        assert_eq!(password(&v, "old-laptop"), "back again", "device {d}");
        assert_eq!(password(&v, "acme"), "last-0", "device {d}");
        assert_eq!(v.verify(), vec![], "device {d}");
    }
}
