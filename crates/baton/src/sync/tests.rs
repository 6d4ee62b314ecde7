//! The merge against a model of several devices that change one client apart and
//! exchange what they have in random order (docs/format.md#merge): nothing a device
//! wrote is lost unless a device that had seen it changed it, and devices that have
//! seen the same versions show the same client.

use std::collections::{BTreeMap, BTreeSet};

use crate::client::{ClientFile, Entry, EntryKind, Removal};
use crate::crypto::secret::SecretText;

use super::*;

const WRITERS: [&str; 3] = ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"];
const NAMES: [&str; 4] = ["root", "db", "panel", "mail"];

/// A copy by value (client files hold secrets and are not `Clone` on purpose).
fn dup(f: &ClientFile) -> ClientFile {
    serde_json::from_slice(&serde_json::to_vec(f).unwrap()).unwrap()
}

fn dup_version(v: &ClientVersion) -> ClientVersion {
    match v {
        ClientVersion::Live { ver, file } => ClientVersion::Live {
            ver: ver.clone(),
            file: Box::new(dup(file)),
        },
        ClientVersion::Removed(r) => ClientVersion::Removed(r.clone()),
    }
}

fn client() -> ClientFile {
    serde_json::from_value(serde_json::json!({
        "format": "baton-client", "version": 1, "vault_id": "v", "cid": "c", "id": "acme",
        "name": "ACME", "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
    }))
    .unwrap()
}

fn entry(name: &str, password: &str, time: &str) -> Entry {
    Entry {
        name: name.into(),
        kind: EntryKind::Server,
        url: String::new(),
        user: String::new(),
        password: Some(SecretText::new(password.into())),
        totp: None,
        note: String::new(),
        tags: vec![],
        attachments: vec![],
        created: time.into(),
        updated: time.into(),
        ver: Ver::new(),
    }
}

/// One device: the client versions it holds, and its revision counter.
struct Device {
    writer: &'static str,
    revision: u64,
    rows: Vec<ClientVersion>,
}

impl Device {
    /// What the device shows: the merge of the versions it holds.
    fn view(&self) -> Merged {
        merge_client(self.rows.iter().map(dup_version).collect(), None)
    }

    fn file(&self) -> Option<(Ver, ClientFile)> {
        match self.view() {
            Merged::One(ClientVersion::Live { ver, file }) | Merged::Merged { ver, file } => {
                Some((ver, *file))
            }
            _ => None,
        }
    }

    /// Stores a new version of the client made from what the device shows.
    fn commit(&mut self, change: impl FnOnce(&mut ClientFile, &str)) -> Result<(), StampError> {
        let revision = self.revision + 1;
        let time = format!("2026-01-01T00:00:{revision:02}Z");
        let (base_ver, base) = match self.file() {
            Some(x) => x,
            None => (self.known(), client()),
        };
        let mut next = dup(&base);
        change(&mut next, &time);
        stamp_change(Some(&base), &mut next, self.writer, revision, &time)?;
        self.revision = revision;
        self.rows = vec![ClientVersion::Live {
            ver: base_ver.with(self.writer, revision),
            file: Box::new(next),
        }];
        Ok(())
    }

    fn known(&self) -> Ver {
        self.rows.iter().fold(Ver::new(), |a, r| a.join(r.ver()))
    }

    fn receive(&mut self, other: &Device) {
        self.rows.extend(other.rows.iter().map(dup_version));
        // Keep the set small, as a head does: only what nothing has seen.
        let known = std::mem::take(&mut self.rows);
        self.rows = match merge_client(known, None) {
            Merged::One(v) => vec![v],
            Merged::Gone(rs) => rs.into_iter().map(ClientVersion::Removed).collect(),
            Merged::Merged { ver, file } => vec![ClientVersion::Live { ver, file }],
        };
    }
}

/// Passwords (and removals) that are on show for each entry name.
fn on_show(file: &ClientFile) -> BTreeMap<String, (BTreeSet<String>, bool)> {
    let mut out: BTreeMap<String, (BTreeSet<String>, bool)> = BTreeMap::new();
    for e in file.entries.iter().chain(&file.conflicts.entries) {
        let p = e.password.as_ref().unwrap().expose().to_string();
        out.entry(e.name.clone()).or_default().0.insert(p);
    }
    for r in &file.removed {
        out.entry(r.name.clone()).or_default().1 = true;
    }
    out
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Runs one random history and checks the final state against the model.
fn history(seed: u64, steps: usize) -> (usize, usize) {
    let mut resolves = 0;
    let mut rng = Rng(seed);
    let mut devices: Vec<Device> = WRITERS
        .iter()
        .map(|&writer| Device {
            writer,
            revision: 0,
            rows: vec![ClientVersion::Live {
                ver: Ver::new(),
                file: Box::new(client()),
            }],
        })
        .collect();
    // Every value written, and which values each write replaced (had on show).
    let mut written: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut replaced: BTreeSet<String> = BTreeSet::new();
    let mut removals: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut counter = 0;
    let trace = std::env::var("BATON_MERGE_TRACE").is_ok();
    for step in 0..steps {
        let d = rng.below(devices.len());
        if trace {
            for (i, dev) in devices.iter().enumerate() {
                let shown = dev.file().map(|(_, f)| on_show(&f)).unwrap_or_default();
                eprintln!(
                    "step {step} device {i} rev {} rows {} shows {shown:?}",
                    dev.revision,
                    dev.rows.len()
                );
            }
        }
        match rng.below(11) {
            0..=2 => {
                let o = rng.below(devices.len());
                if o != d {
                    let other = Device {
                        writer: devices[o].writer,
                        revision: devices[o].revision,
                        rows: devices[o].rows.iter().map(dup_version).collect(),
                    };
                    devices[d].receive(&other);
                }
            }
            3..=6 => {
                // Write a new value for an entry (an add or an edit).
                let name = NAMES[rng.below(NAMES.len())];
                counter += 1;
                let value = format!("p{counter}");
                let seen = devices[d]
                    .file()
                    .map(|(_, f)| on_show(&f))
                    .unwrap_or_default();
                let had = seen.get(name).cloned().unwrap_or_default();
                let r =
                    devices[d].commit(|f, t| match f.entries.iter_mut().find(|e| e.name == name) {
                        Some(e) => {
                            e.password = Some(SecretText::new(value.clone()));
                            e.updated = t.into();
                        }
                        None => f.entries.push(entry(name, &value, t)),
                    });
                if trace {
                    eprintln!("op: device {d} writes {name}={value} over {had:?}: {r:?}");
                }
                if r.is_ok() {
                    written.entry(name.into()).or_default().insert(value);
                    replaced.extend(had.0);
                    if had.1 {
                        removals.entry(name.into()).or_default().clear();
                    }
                } else {
                    assert!(
                        had.0.len() + usize::from(had.1) > 1,
                        "refused without a conflict"
                    );
                }
            }
            8 => {
                // Resolve a conflict the device shows, keeping a random side.
                let Some((_, f)) = devices[d].file() else {
                    continue;
                };
                let shown = on_show(&f);
                let Some((name, (lives, removed))) = shown
                    .iter()
                    .find(|(_, (l, r))| l.len() + usize::from(*r) > 1)
                    .map(|(n, x)| (n.clone(), x.clone()))
                else {
                    continue;
                };
                let sides = entry_sides(&f, &name).len();
                let keep = 1 + rng.below(sides);
                let kept = match &entry_sides(&f, &name)[keep - 1] {
                    EntrySide::Live(e) => Some(e.password.as_ref().unwrap().expose().to_string()),
                    EntrySide::Removed(_) => None,
                };
                let revision = devices[d].revision + 1;
                let (ver, mut file) = devices[d].file().unwrap();
                resolve_entry(&mut file, &name, keep, devices[d].writer, revision, "t").unwrap();
                // The kept value is asserted again by this device: a new write of it, which
                // the model tells apart from the copy others may have replaced meanwhile.
                let kept = kept.map(|k| {
                    counter += 1;
                    let again = format!("{k}~{counter}");
                    let e = file.entries.iter_mut().find(|e| e.name == name).unwrap();
                    assert_eq!(
                        e.password.as_ref().unwrap().expose(),
                        k,
                        "resolve kept another side"
                    );
                    e.password = Some(SecretText::new(again.clone()));
                    written.entry(name.clone()).or_default().insert(again);
                    k
                });
                resolves += 1;
                if kept.is_none() {
                    assert!(
                        file.entries.iter().all(|e| e.name != name),
                        "resolve kept a value"
                    );
                }
                devices[d].revision = revision;
                devices[d].rows = vec![ClientVersion::Live {
                    ver: ver.with(devices[d].writer, revision),
                    file: Box::new(file),
                }];
                if trace {
                    eprintln!(
                        "op: device {d} resolves {name} keeping {kept:?} of {lives:?} {removed}"
                    );
                }
                replaced.extend(lives);
                let _ = removed;
            }
            _ => {
                let name = NAMES[rng.below(NAMES.len())];
                let seen = devices[d]
                    .file()
                    .map(|(_, f)| on_show(&f))
                    .unwrap_or_default();
                let Some(had) = seen.get(name).cloned() else {
                    continue;
                };
                if had.0.is_empty() {
                    continue;
                }
                counter += 1;
                let r = devices[d].commit(|f, _| f.entries.retain(|e| e.name != name));
                if trace {
                    eprintln!("op: device {d} removes {name} over {had:?}: {r:?}");
                }
                if r.is_ok() {
                    replaced.extend(had.0);
                    removals
                        .entry(name.into())
                        .or_default()
                        .insert(format!("r{counter}"));
                }
            }
        }
    }
    // Everyone receives everything.
    for _ in 0..2 {
        for d in 0..devices.len() {
            for o in 0..devices.len() {
                if o != d {
                    let other = Device {
                        writer: devices[o].writer,
                        revision: devices[o].revision,
                        rows: devices[o].rows.iter().map(dup_version).collect(),
                    };
                    devices[d].receive(&other);
                }
            }
        }
    }
    let views: Vec<String> = devices
        .iter()
        .map(|d| serde_json::to_string(&d.file().unwrap().1).unwrap())
        .collect();
    assert!(
        views.windows(2).all(|w| w[0] == w[1]),
        "seed {seed}: devices differ after a full exchange"
    );
    let file = devices[0].file().unwrap().1;
    let shown = on_show(&file);
    for name in NAMES {
        let expected: BTreeSet<String> = written
            .get(name)
            .map(|w| w.difference(&replaced).cloned().collect())
            .unwrap_or_default();
        let (live, _) = shown.get(name).cloned().unwrap_or_default();
        assert_eq!(live, expected, "seed {seed}: entry {name}");
    }
    let _ = removals;
    // The conflicts reported are exactly the entries with more than one side.
    let conflicts = conflicts_of(&file);
    for c in conflicts.clone() {
        if let ConflictKind::Entry { name, versions, .. } = c {
            let (live, removed) = shown[&name].clone();
            assert_eq!(
                versions,
                live.len() + usize::from(removed),
                "seed {seed}: {name}"
            );
            assert!(versions > 1);
        }
    }
    (conflicts.len(), resolves)
}

#[test]
fn random_histories_lose_nothing_and_converge() {
    let seeds: Vec<u64> = match std::env::var("BATON_MERGE_SEED") {
        Ok(s) => vec![s.parse().expect("BATON_MERGE_SEED is a number")],
        Err(_) => (0..300).collect(),
    };
    let (mut conflicted, mut resolved) = (0, 0);
    let runs = seeds.len();
    for seed in seeds {
        match std::panic::catch_unwind(|| history(seed, 60)) {
            Ok((c, r)) => {
                conflicted += usize::from(c > 0);
                resolved += r;
            }
            Err(_) => panic!("merge history failed; replay with BATON_MERGE_SEED={seed}"),
        }
    }
    // The histories do reach what is tested: conflicts, and their resolution.
    if runs > 1 {
        assert!(
            conflicted > runs / 4,
            "{conflicted} of {runs} histories end in a conflict"
        );
        assert!(
            resolved > runs / 4,
            "{resolved} resolutions in {runs} histories"
        );
    }
}

#[test]
fn the_order_of_merging_does_not_matter() {
    let mut base = client();
    base.entries.push(entry("root", "old", "t0"));
    let v0 = Ver::new();
    let make = |w: &str, r: u64, change: &dyn Fn(&mut ClientFile)| {
        let mut f = dup(&base);
        change(&mut f);
        stamp_change(Some(&base), &mut f, w, r, "t1").unwrap();
        ClientVersion::Live {
            ver: v0.clone().with(w, r),
            file: Box::new(f),
        }
    };
    let a = make(WRITERS[0], 1, &|f| {
        f.entries[0].password = Some(SecretText::new("a".into()))
    });
    let b = make(WRITERS[1], 1, &|f| f.entries.push(entry("db", "b", "t1")));
    let c = make(WRITERS[2], 1, &|f| f.entries.clear());
    let all = [a, b, c];
    let mut seen = BTreeSet::new();
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0]] {
        let input: Vec<ClientVersion> = order.iter().map(|&i| dup_version(&all[i])).collect();
        let Merged::Merged { file, .. } = merge_client(input, None) else {
            panic!("three versions made apart merge into one file")
        };
        seen.insert(serde_json::to_string(&file).unwrap());
        // root: edited on A, removed on C: a conflict, never a silent loss; db added.
        assert_eq!(
            conflicts_of(&file),
            vec![ConflictKind::Entry {
                name: "root".into(),
                versions: 2,
                removed: true
            }]
        );
        assert!(file.entry("db").is_some());
    }
    assert_eq!(seen.len(), 1, "the merge depends on the order");
}

#[test]
fn a_removed_client_stays_removed_unless_changed_meanwhile() {
    let base = ClientVersion::Live {
        ver: Ver::of(WRITERS[0], 1),
        file: Box::new(client()),
    };
    let removal = |w: &str, r: u64| {
        ClientVersion::Removed(Removal {
            name: "acme".into(),
            ver: Ver::of(WRITERS[0], 1).with(w, r),
            time: "t".into(),
        })
    };
    // An old copy arriving after the removal does not bring the client back.
    match merge_client(vec![removal(WRITERS[1], 2), dup_version(&base)], None) {
        Merged::One(ClientVersion::Removed(_)) => {}
        other => panic!("{other:?}"),
    }
    // An edit made apart is kept, and the removal is reported.
    let mut f = client();
    f.notes = "changed on C".into();
    let edited = ClientVersion::Live {
        ver: Ver::of(WRITERS[0], 1).with(WRITERS[2], 1),
        file: Box::new(f),
    };
    let Merged::Merged { ver, file } = merge_client(vec![removal(WRITERS[1], 2), edited], None)
    else {
        panic!("an edit racing a removal is a conflict")
    };
    assert_eq!(file.notes, "changed on C");
    assert_eq!(conflicts_of(&file), vec![ConflictKind::ClientRemoved]);
    assert!(Ver::of(WRITERS[1], 2).leq(&ver) && Ver::of(WRITERS[2], 1).leq(&ver));
}

#[test]
fn an_entry_in_conflict_cannot_be_changed_until_resolved() {
    let mut f = client();
    let mut e1 = entry("root", "one", "t1");
    e1.ver = Ver::of(WRITERS[0], 1);
    let mut e2 = entry("root", "two", "t2");
    e2.ver = Ver::of(WRITERS[1], 1);
    f.entries.push(e1);
    f.conflicts.entries.push(e2);
    let mut next = dup(&f);
    next.entries[0].password = Some(SecretText::new("three".into()));
    assert_eq!(
        stamp_change(Some(&f), &mut next, WRITERS[2], 1, "t3"),
        Err(StampError::EntryInConflict("root".into()))
    );
    let mut next = dup(&f);
    next.entries.clear();
    assert!(stamp_change(Some(&f), &mut next, WRITERS[2], 1, "t3").is_err());
    // Another entry can change.
    let mut next = dup(&f);
    next.entries.push(entry("db", "x", "t3"));
    stamp_change(Some(&f), &mut next, WRITERS[2], 1, "t3").unwrap();
    assert_eq!(next.entry("db").unwrap().ver, Ver::of(WRITERS[2], 1));
}

#[test]
fn two_different_versions_with_one_vector_are_both_kept() {
    // A reused revision (a restored device) must not make one of them disappear.
    let mut a = client();
    a.notes = "one".into();
    let mut b = client();
    b.notes = "two".into();
    let v = Ver::of(WRITERS[0], 3);
    let rows = vec![
        ClientVersion::Live {
            ver: v.clone(),
            file: Box::new(a),
        },
        ClientVersion::Live {
            ver: v,
            file: Box::new(b),
        },
    ];
    let Merged::Merged { file, .. } = merge_client(rows, None) else {
        panic!("both versions are kept")
    };
    assert_eq!(
        conflicts_of(&file),
        vec![ConflictKind::Fields { versions: 2 }]
    );
}
