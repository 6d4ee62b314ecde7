//! Everything in a vault folder that baton did not write (docs/format.md#conflict-copies):
//! the conflicted copies a sync service made of two devices' versions of one file, and
//! files nobody can account for. Neither is ever "intact": a conflicted copy of the
//! index holds another device's changes, and an unknown file may be anything.

use std::fs;
use std::path::Path;

use crate::audit::{AUDIT_DIR, parse_archive_file, parse_chain_record_file};
use crate::store::head::{HEADS_DIR, parse_head_file};
use crate::store::header::HEADER_FILE;
use crate::store::{CLIENTS_DIR, fsio, is_client_file_name};
use crate::sync::names;

/// At most this many strays are named; a folder with more says so by the count.
const MAX_NAMED: usize = 50;

/// A file in the vault folder that baton did not write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stray {
    /// A sync service's conflicted copy of `original` (paths relative to the vault).
    ConflictCopy {
        file: String,
        original: String,
        service: names::Service,
    },
    /// Not a name baton writes, and not a sync service's own file.
    Unknown { file: String },
    /// The index of another generation than the header's (and not a rotation's in
    /// progress): left by an interrupted rotation, or written after a rotation by a
    /// device that still used the old keys.
    OtherGeneration { file: String, generation: u64 },
}

impl Stray {
    pub fn file(&self) -> &str {
        match self {
            Stray::ConflictCopy { file, .. }
            | Stray::Unknown { file }
            | Stray::OtherGeneration { file, .. } => file,
        }
    }
}

/// What a survey found: the first strays by name, and how many there are in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Survey {
    pub strays: Vec<Stray>,
    pub total: usize,
}

/// Files sync services and desktops keep in a synced folder's top level: theirs, not
/// strays.
fn sync_service_file(name: &str) -> bool {
    const EXACT: [&str; 14] = [
        ".stfolder",
        ".stversions",
        ".stignore",
        ".owncloudsync.log",
        ".nextcloudsync.log",
        ".dropbox",
        ".dropbox.attr",
        ".dropbox.cache",
        ".git",
        ".gitignore",
        ".gitattributes",
        ".DS_Store",
        "Thumbs.db",
        "desktop.ini",
    ];
    EXACT.contains(&name)
        // Nextcloud and ownCloud's sync journal: .sync_<hex>.db, ._sync_<hex>.db, -wal, -shm
        || ((name.starts_with(".sync_") || name.starts_with("._sync_")) && name.contains(".db"))
}

/// The generation of `<prefix><N>.age`.
fn generation_of(name: &str, prefix: &str) -> Option<u64> {
    let n = name.strip_prefix(prefix)?.strip_suffix(".age")?;
    (!n.is_empty() && n.len() <= 19 && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

/// Names baton writes at the top level of a vault (an index: see [`survey`]).
fn vault_root_file(name: &str) -> bool {
    [HEADER_FILE, ".lock", CLIENTS_DIR, AUDIT_DIR, HEADS_DIR].contains(&name)
        || generation_of(name, "index.g").is_some()
        || generation_of(name, "rotation.g").is_some()
        || fsio::is_temp_name(name)
}

fn audit_file(name: &str) -> bool {
    let interrupted = name
        .split_once(".age.interrupted-")
        .is_some_and(|(seq, tag)| {
            parse_chain_record_file(&format!("{seq}.age")).is_some() && crate::is_lower_hex(tag, 8)
        });
    // A record of a writer's other history, named so by a head that merged it
    // (docs/format.md#forked-writers).
    let branch = name.split_once(".age.branch-").is_some_and(|(seq, tag)| {
        parse_chain_record_file(&format!("{seq}.age")).is_some() && crate::is_lower_hex(tag, 8)
    });
    parse_chain_record_file(name).is_some()
        || parse_archive_file(name).is_some()
        || interrupted
        || branch
        || fsio::is_temp_name(name)
}

/// The latest generation above `generation` of which a head (`heads/<w>.g<M>.age`) or
/// an audit archive (`audit/archive.g<M>.age`) is in the folder: a rotation made on
/// another device whose files are still arriving, while `vault.json` is not yet
/// (docs/format.md#rotation-arriving). Names only; nothing is read.
pub fn arriving_generation(path: &Path, generation: u64) -> Option<u64> {
    let names = |dir: &str| -> Vec<String> {
        fs::read_dir(path.join(dir)).map_or_else(
            |_| Vec::new(),
            |rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            },
        )
    };
    let heads = names(HEADS_DIR)
        .into_iter()
        .filter_map(|n| parse_head_file(&n).map(|(_, g)| g));
    let archives = names(AUDIT_DIR)
        .into_iter()
        .filter_map(|n| parse_archive_file(&n));
    heads.chain(archives).filter(|g| *g > generation).max()
}

/// Lists the vault folder, `clients/` and `audit/` and returns what baton did not
/// write, for a vault whose header names `generation`. Folders that cannot be listed
/// are left to the other checks (they report a missing or damaged folder).
pub fn survey(path: &Path, generation: u64) -> Survey {
    let mut out = Survey::default();
    // The index of this generation, and of a rotation's target while it runs.
    let current =
        |g: u64| g == generation || path.join(crate::store::header::rotation_file(g)).exists();
    if let Ok(rd) = fs::read_dir(path) {
        let mut other: Vec<(String, u64)> = rd
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let g = generation_of(&name, "index.g")?;
                (!current(g)).then_some((name, g))
            })
            .collect();
        // Heads of another generation (docs/format.md#multi-writer): a conflicted copy
        // of a current head is merged like the head itself.
        if let Ok(rd) = fs::read_dir(path.join(HEADS_DIR)) {
            other.extend(rd.flatten().filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let (_, g) = parse_head_file(&name)?;
                (!current(g)).then(|| (format!("{HEADS_DIR}/{name}"), g))
            }));
        }
        other.sort();
        for (file, generation) in other {
            out.total += 1;
            if out.strays.len() < MAX_NAMED {
                out.strays.push(Stray::OtherGeneration { file, generation });
            }
        }
    }
    let note = |file: String, out: &mut Survey| {
        out.total += 1;
        if out.strays.len() < MAX_NAMED {
            let stray = match names::parse(&file) {
                Some(c) => Stray::ConflictCopy {
                    original: names::original_name(&file).unwrap_or(c.original),
                    file,
                    service: c.service,
                },
                None => Stray::Unknown { file },
            };
            out.strays.push(stray);
        }
    };
    type Known = fn(&str) -> bool;
    let listing: [(&str, Known); 4] = [
        ("", |n| vault_root_file(n) || sync_service_file(n)),
        (CLIENTS_DIR, |n| {
            is_client_file_name(n) || fsio::is_temp_name(n) || n == ".DS_Store"
        }),
        (AUDIT_DIR, |n| audit_file(n) || n == ".DS_Store"),
        (HEADS_DIR, |n| {
            parse_head_file(n).is_some() || fsio::is_temp_name(n) || n == ".DS_Store"
        }),
    ];
    for (dir, known) in listing {
        let Ok(rd) = fs::read_dir(path.join(dir)) else {
            continue;
        };
        let mut names: Vec<String> = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            // Inside clients/ and audit/ baton writes only files.
            let fine = known(&name) && (dir.is_empty() || !is_dir);
            if !fine {
                names.push(if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                });
            }
        }
        names.sort();
        for n in names {
            note(n, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicted_copies_and_unknown_files_are_found_and_the_rest_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for d in ["clients", "audit", ".stfolder"] {
            fs::create_dir(p.join(d)).unwrap();
        }
        let fid = "0123456789abcdef0123456789abcdef";
        for f in [
            "vault.json".to_string(),
            ".lock".into(),
            "index.g1.age".into(),
            "rotation.g2.age".into(),
            ".index.g1.age.0123456789ab.tmp".into(),
            ".sync_3f2a1b.db".into(),
            ".sync_3f2a1b.db-wal".into(),
            format!("clients/{fid}.age"),
            "audit/000000000001.age".into(),
            "audit/000000000002.age.interrupted-0a1b2c3d".into(),
            "audit/archive.g2.age".into(),
            // What a sync service or a person left:
            "index.g1 (conflicted copy 2026-12-01 154500).age".into(),
            "audit/000000000003.sync-conflict-20261201-154500-ABCDEFG.age".into(),
            format!("clients/{fid} (laptop's conflicted copy 2026-12-01).age"),
            "notes.txt".into(),
            "clients/readme".into(),
        ] {
            fs::write(p.join(&f), b"x").unwrap();
        }
        fs::create_dir(p.join("audit/sub")).unwrap();
        let s = survey(p, 1);
        assert_eq!(s.total, 6, "{s:?}");
        let files: Vec<&str> = s.strays.iter().map(Stray::file).collect();
        assert_eq!(
            files,
            [
                "index.g1 (conflicted copy 2026-12-01 154500).age",
                "notes.txt",
                &format!("clients/{fid} (laptop's conflicted copy 2026-12-01).age"),
                "clients/readme",
                "audit/000000000003.sync-conflict-20261201-154500-ABCDEFG.age",
                "audit/sub",
            ]
        );
        assert!(matches!(
            &s.strays[0],
            Stray::ConflictCopy { original, service: names::Service::Nextcloud, .. } if original == "index.g1.age"
        ));
        assert!(matches!(
            &s.strays[4],
            Stray::ConflictCopy { original, service: names::Service::Syncthing, .. }
                if original == "audit/000000000003.age"
        ));
        assert!(matches!(&s.strays[1], Stray::Unknown { .. }));
        // Under generation 2's header the index of generation 1 is not the vault's,
        // and neither is one of generation 3 without a rotation to it.
        fs::write(p.join("index.g3.age"), b"x").unwrap();
        let s = survey(p, 2);
        assert_eq!(s.total, 8, "{s:?}");
        assert_eq!(
            s.strays[..2],
            [
                Stray::OtherGeneration {
                    file: "index.g1.age".into(),
                    generation: 1
                },
                Stray::OtherGeneration {
                    file: "index.g3.age".into(),
                    generation: 3
                }
            ]
        );
        // The target of a rotation in progress is (rotation.g2.age is in the folder).
        fs::remove_file(p.join("index.g1.age")).unwrap();
        let s = survey(p, 1);
        assert!(!s.strays.iter().any(|x| x.file() == "index.g2.age"));
    }
}
