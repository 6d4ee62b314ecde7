//! Review of retired, forgotten and forked writers (docs/format.md#retired-writers,
//! #forked-writers): proofs of concept. Each test states a property the docs claim
//! that the code did not hold when it was written; it fails until the finding is fixed.

mod common;
mod sync;

use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{Access, Vault};
use baton::{Passphrase, SecretText};

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
    v.add_client(NewClient {
        id: id.to_string(),
        ..Default::default()
    })
    .unwrap();
    set_password(v, id, "first");
}

fn set_password(v: &mut Vault, id: &str, password: &str) {
    let fields = EntryFields {
        password: Some(SecretText::new(password.to_string())),
        ..Default::default()
    };
    let has = v.client(id).unwrap().entry("root").is_some();
    match has {
        true => v.edit_entry(id, "root", fields, None),
        false => v.add_entry(id, "root", fields),
    }
    .unwrap();
}

fn password(v: &Vault, id: &str) -> String {
    v.client(id)
        .unwrap()
        .entry("root")
        .and_then(|e| e.password.as_ref().map(|p| p.expose().to_string()))
        .unwrap_or_default()
}

/// Two client ids in different locator shards.
fn two_ids() -> (&'static str, &'static str) {
    let ids = ["acme", "laptop", "bravo", "charlie", "delta", "echo"];
    for a in ids {
        for b in ids {
            if baton::store::locator::shard_of(a) != baton::store::locator::shard_of(b) {
                return (a, b);
            }
        }
    }
    unreachable!()
}

/// The owner forgets device 1 (it looks gone: no write here for a while), but device 1
/// had committed a change while offline that had not synced yet. docs/format.md
/// #retired-writers: "Should W write again after all, it starts again from the state
/// it finds", and docs/threat-model.md: "no change is lost". The forget released the
/// shard file device 1's offline head still names (device 0 had rewritten it under
/// its own name and kept the old one only for device 1), so that head never becomes
/// complete: device 0 never shows the change, and device 1 itself sets its own head
/// aside as waiting and its next commit covers (drops) its own offline change.
#[test]
fn an_offline_change_of_a_forgotten_writer_is_not_lost() {
    let (a, b) = two_ids();
    let mut sim = Sim::new(Service::Syncthing, 2, 11);
    let mut v = common::init_vault(sim.device_path(0), &pass());
    add(&mut v, a);
    drop(v);
    sim.sync_all();
    // Device 1 writes (its head now names its own shards for both clients) and syncs.
    add(&mut open(&sim, 1, Access::Write), b);
    sim.sync_all();
    // Device 1 goes offline and changes b there: its shard for a stays as it was.
    set_password(&mut open(&sim, 1, Access::Write), b, "offline change");
    // Device 0 changes a (rewriting device 1's shards under its own names, keeping
    // the old ones for device 1) and then forgets device 1.
    let mut v = open(&sim, 0, Access::Write);
    set_password(&mut v, a, "a1");
    let gone = open(&sim, 1, Access::Read).writer().to_string();
    v.forget_writer(&gone).unwrap();
    drop(v);
    // Device 1 comes back online.
    sim.sync_all();
    sim.sync_all();
    let mut before = Vec::new();
    for d in 0..2 {
        let v = open(&sim, d, Access::Read);
        before.push(format!(
            "device {d}: b = {:?}, waiting {:?}",
            password(&v, b),
            v.waiting_heads()
        ));
    }
    // Device 1 writes again: its offline change must still be there afterwards.
    set_password(&mut open(&sim, 1, Access::Write), a, "w-back");
    sim.sync_all();
    for d in 0..2 {
        let v = open(&sim, d, Access::Read);
        assert_eq!(password(&v, a), "w-back", "device {d}");
        assert_eq!(
            password(&v, b),
            "offline change",
            "device {d}: change lost (before device 1 wrote again: {before:?}; verify now: {:?})",
            v.verify()
        );
    }
}
