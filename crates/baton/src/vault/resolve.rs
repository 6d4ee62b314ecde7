//! Resolving a conflict between devices' versions (docs/format.md#merge): the owner
//! keeps one version, or removes the item, and the result covers every version, so no
//! copy of the others brings the conflict back on any device.

use crate::audit::{AuditAction, AuditEvent};
use crate::client::ClientFile;
use crate::sync::{
    Conflict, ConflictTarget, Resolution, ResolveError, SideValue, conflicts_in,
    resolve_client_kept, resolve_entry, resolve_entry_removed, resolve_fields,
};
use crate::time::now;

use super::{Vault, VaultError};

/// What a checked resolution will do.
struct Plan {
    target: ConflictTarget,
    /// Whether the whole client goes.
    removes_client: bool,
    /// The audit detail: names, version numbers and writer ids, never a value.
    detail: String,
}

impl Vault {
    /// Resolves one conflict of client `id` (docs/format.md#merge): of entry `entry`,
    /// or with `None` the client's own, that is its removal on another device while
    /// there is one, else its fields. `Keep(n)` keeps version n as
    /// [`crate::sync::conflicts_in`] numbers them (a removal's number removes);
    /// `Remove` removes the entry, or for a removal conflict the client.
    ///
    /// Everything is checked first (on the state this handle shows, several devices'
    /// heads merged); then a pending merge is committed as every write does, and the
    /// resolution is one commit with one `client.resolve` record. Returns what was
    /// resolved.
    pub fn resolve(
        &mut self,
        id: &str,
        entry: Option<&str>,
        choice: Resolution,
    ) -> Result<ConflictTarget, VaultError> {
        self.require_write()?;
        self.plan_resolution(&self.client(id)?, entry, choice)?;
        // The resolution is made on top of everything the folder holds. A writer's
        // merged view was stamped with the revision its merge commits, so the versions
        // keep their numbers; they are checked again all the same.
        self.prepare_write()?;
        let mut file = self.client(id)?;
        let plan = self.plan_resolution(&file, entry, choice)?;
        let event = AuditEvent::new(AuditAction::ClientResolve, Some(id), plan.detail);
        if plan.removes_client {
            let cid = file.cid.clone();
            return self.commit(event, vec![], &[cid]).map(|()| plan.target);
        }
        let revision = self.next_own_revision();
        let time = now();
        let target_name = |e: Option<&str>| match e {
            Some(e) => format!("{id}/{e}"),
            None => id.to_string(),
        };
        let applied = match (&plan.target, choice) {
            (ConflictTarget::Entry(name), Resolution::Keep(n)) => {
                resolve_entry(&mut file, name, n, &self.writer, revision, &time)
            }
            (ConflictTarget::Entry(name), Resolution::Remove) => {
                resolve_entry_removed(&mut file, name, &self.writer, revision, &time)
            }
            (ConflictTarget::Fields, Resolution::Keep(n)) => {
                resolve_fields(&mut file, n, &self.writer, revision)
            }
            (ConflictTarget::Removal, _) => resolve_client_kept(&mut file),
            (ConflictTarget::Fields, Resolution::Remove) => Err(ResolveError::NotRemovable),
        };
        applied.map_err(|source| VaultError::Resolve {
            target: target_name(entry),
            source,
        })?;
        file.updated = time;
        // `commit` gives this change the revision used above; `stamp_change` accepts
        // the resolved versions because they carry it and cover every side.
        self.commit(event, vec![file], &[]).map(|()| plan.target)
    }

    /// Checks a resolution against the client's conflicts and describes it.
    fn plan_resolution(
        &self,
        file: &ClientFile,
        entry: Option<&str>,
        choice: Resolution,
    ) -> Result<Plan, VaultError> {
        let target = match entry {
            Some(e) => format!("{}/{e}", file.id),
            None => file.id.clone(),
        };
        let refused = |source| VaultError::Resolve {
            target: target.clone(),
            source,
        };
        if let Some(name) = entry {
            let known = file
                .entries
                .iter()
                .chain(&file.conflicts.entries)
                .any(|e| e.name == name)
                || file.removed.iter().any(|r| r.name == name);
            if !known {
                return Err(VaultError::UnknownEntry {
                    client: file.id.clone(),
                    entry: name.to_string(),
                });
            }
        }
        let conflicts = conflicts_in(file);
        let conflict: &Conflict = conflicts
            .iter()
            .find(|c| match (&c.target, entry) {
                (ConflictTarget::Entry(n), Some(e)) => n == e,
                (ConflictTarget::Removal | ConflictTarget::Fields, None) => true,
                _ => false,
            })
            .ok_or_else(|| refused(ResolveError::NoConflict))?;
        let count = conflict.sides.len();
        let side = match choice {
            Resolution::Keep(n) if n == 0 || n > count => {
                return Err(refused(ResolveError::NoSuchVersion(n)));
            }
            Resolution::Keep(n) => Some(&conflict.sides[n - 1]),
            Resolution::Remove if conflict.target == ConflictTarget::Fields => {
                return Err(refused(ResolveError::NotRemovable));
            }
            Resolution::Remove => None,
        };
        let removes = side
            .is_none_or(|s| matches!(s.value, SideValue::EntryRemoved | SideValue::ClientRemoved));
        let from = |writers: &[String]| match writers {
            [] => String::new(),
            w => format!(" (made on {})", w.join(", ")),
        };
        let kept = |s: &crate::sync::ConflictSide| {
            format!("kept version {} of {count}{}", s.number, from(&s.writers))
        };
        let differs = match conflict.differs.is_empty() {
            true => String::new(),
            false => format!(" ({} differed)", conflict.differs.join(", ")),
        };
        let (removes_client, detail) = match (&conflict.target, side) {
            (ConflictTarget::Removal, _) if removes => {
                if let Some(h) = &file.lifecycle.hold {
                    return Err(VaultError::LegalHold {
                        client: file.id.clone(),
                        reason: h.reason.clone(),
                    });
                }
                let by: Vec<String> = conflict.sides[1..]
                    .iter()
                    .flat_map(|s| s.writers.clone())
                    .collect();
                (
                    true,
                    format!(
                        "removed the client, as another device had{}; {} entries",
                        from(&by),
                        file.entries.len()
                    ),
                )
            }
            (ConflictTarget::Removal, _) => (
                false,
                format!(
                    "kept the client that another device had removed{}",
                    from(
                        &conflict.sides[1..]
                            .iter()
                            .flat_map(|s| s.writers.clone())
                            .collect::<Vec<_>>()
                    )
                ),
            ),
            (ConflictTarget::Fields, Some(s)) => (false, format!("details{differs}: {}", kept(s))),
            (ConflictTarget::Entry(name), _) if removes => (
                false,
                format!("entry {name}{differs}: removed ({count} versions)"),
            ),
            (ConflictTarget::Entry(name), Some(s)) => {
                (false, format!("entry {name}{differs}: {}", kept(s)))
            }
            (_, None) => unreachable!("only a removal or an entry is removed"),
        };
        Ok(Plan {
            target: conflict.target.clone(),
            removes_client,
            detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fs;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::crypto::secret::{Passphrase, SecretText};
    use crate::vault::Access;
    use crate::vault::changes::{ClientEdit, EntryFields, NewClient};
    use crate::vault::snapshot;

    const PASS: &str = "resolve unit test";

    fn copy_tree(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for e in fs::read_dir(from).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                copy_tree(&e.path(), &to.join(e.file_name()));
            } else if e.file_name() != ".lock" {
                fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }

    /// A sync service between two folders, for files each written by one writer: new
    /// files are copied both ways, a head its writer replaced (a newer modification
    /// time; copies keep the time) wins, and what one side removed since the last sync
    /// is removed on the other.
    struct Sync {
        a: PathBuf,
        b: PathBuf,
        known: BTreeSet<String>,
    }

    fn files(root: &Path) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for dir in ["heads", "clients", "audit"] {
            for e in fs::read_dir(root.join(dir)).into_iter().flatten().flatten() {
                out.insert(format!("{dir}/{}", e.file_name().to_string_lossy()));
            }
        }
        out
    }

    impl Sync {
        fn run(&mut self) {
            let (a, b) = (self.a.clone(), self.b.clone());
            let (in_a, in_b) = (files(&a), files(&b));
            for rel in &self.known {
                match (in_a.contains(rel), in_b.contains(rel)) {
                    (false, true) => fs::remove_file(b.join(rel)).unwrap(),
                    (true, false) => fs::remove_file(a.join(rel)).unwrap(),
                    _ => {}
                }
            }
            for (from, to, have, other) in [(&a, &b, &in_a, &in_b), (&b, &a, &in_b, &in_a)] {
                for rel in have {
                    if self.known.contains(rel) && !other.contains(rel) {
                        continue;
                    }
                    let (src, dst) = (from.join(rel), to.join(rel));
                    let mtime = fs::metadata(&src).unwrap().modified().unwrap();
                    let newer = fs::metadata(&dst)
                        .and_then(|m| m.modified())
                        .map_or(true, |t| t < mtime);
                    if !dst.exists() || (rel.starts_with("heads/") && newer) {
                        fs::create_dir_all(dst.parent().unwrap()).unwrap();
                        fs::copy(&src, &dst).unwrap();
                        let f = fs::File::options().write(true).open(&dst).unwrap();
                        f.set_modified(mtime).unwrap();
                    }
                }
            }
            self.known = files(&a);
            assert_eq!(self.known, files(&b));
        }
    }

    fn open(path: &Path) -> Vault {
        Vault::open(path, &Passphrase::new(PASS.into()), Access::Write).unwrap()
    }

    fn secret(s: &str) -> Option<SecretText> {
        Some(SecretText::new(s.into()))
    }

    /// `acme` with entries `root` and `db` on two folders (two writers), synced; then
    /// `root`'s password changed on both apart, the contact changed on both apart,
    /// and synced again.
    fn conflicted(dir: &Path) -> (PathBuf, PathBuf, Sync) {
        let a = dir.join("a");
        let b = dir.join("b");
        let mut v = crate::vault::test_vault(&a, PASS);
        v.add_client(NewClient {
            id: "acme".into(),
            ..Default::default()
        })
        .unwrap();
        for name in ["root", "db"] {
            v.add_entry(
                "acme",
                name,
                EntryFields {
                    password: secret("old"),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        drop(v);
        copy_tree(&a, &b);
        let mut sync = Sync {
            a: a.clone(),
            b: b.clone(),
            known: files(&a),
        };
        for (path, pw) in [(&a, "from-a"), (&b, "from-b")] {
            let mut v = open(path);
            let fields = EntryFields {
                password: secret(pw),
                ..Default::default()
            };
            v.edit_entry("acme", "root", fields, None).unwrap();
            v.edit_client(
                "acme",
                ClientEdit {
                    contact: Some(format!("{pw}@acme.example")),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        sync.run();
        (a, b, sync)
    }

    /// The details of every `client.resolve` record (records of several writers'
    /// chains made in one second are in no particular order).
    fn resolve_details(v: &Vault) -> Vec<String> {
        let mut records = v.audit_log().0;
        records.retain(|r| r.action == AuditAction::ClientResolve);
        records.into_iter().map(|r| r.detail).collect()
    }

    fn password(v: &Vault, entry: &str) -> Option<String> {
        let c = v.client("acme").unwrap();
        c.entry(entry)
            .and_then(|e| e.password.as_ref().map(|p| p.expose().to_string()))
    }

    #[test]
    fn a_kept_version_ends_the_conflict_on_both_devices() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, mut sync) = conflicted(dir.path());
        let mut v = open(&a);
        assert_eq!(v.conflicted_clients(), ["acme"]);
        let file = v.client("acme").unwrap();
        let c = conflicts_in(&file);
        let targets: Vec<&ConflictTarget> = c.iter().map(|c| &c.target).collect();
        assert_eq!(
            targets,
            [
                &ConflictTarget::Fields,
                &ConflictTarget::Entry("root".into())
            ]
        );
        let root = &c[1];
        assert_eq!(root.differs, ["password"]);
        // Version 2 is the one B made.
        let SideValue::Entry(e) = root.sides[1].value else {
            panic!("two live versions")
        };
        let keep = if e.password.as_ref().unwrap().expose() == "from-b" {
            2
        } else {
            1
        };
        assert_eq!(
            root.sides[keep - 1].writers,
            [open(&b).writer().to_string()]
        );
        drop(file);

        // Refused resolutions change nothing.
        v.merge().unwrap();
        let before = snapshot(&a);
        for (entry, choice) in [
            (Some("root"), Resolution::Keep(3)),
            (Some("root"), Resolution::Keep(0)),
            (Some("db"), Resolution::Keep(1)),
            (None, Resolution::Remove),
        ] {
            let e = v.resolve("acme", entry, choice).unwrap_err();
            assert!(matches!(e, VaultError::Resolve { .. }), "{e:?}");
        }
        let e = v.resolve("acme", Some("nope"), Resolution::Keep(1));
        assert!(matches!(e, Err(VaultError::UnknownEntry { .. })), "{e:?}");
        assert!(
            snapshot(&a) == before,
            "a refused resolution wrote something"
        );

        let target = v
            .resolve("acme", Some("root"), Resolution::Keep(keep))
            .unwrap();
        assert_eq!(target, ConflictTarget::Entry("root".into()));
        assert_eq!(password(&v, "root").as_deref(), Some("from-b"));
        let details = resolve_details(&v);
        assert_eq!(details.len(), 1, "{details:?}");
        assert!(
            details[0].starts_with("entry root (password differed): kept version"),
            "{details:?}"
        );
        assert!(!details[0].contains("from-"), "{details:?}");
        // The client's details: version 1 kept.
        assert_eq!(
            v.resolve("acme", None, Resolution::Keep(1)).unwrap(),
            ConflictTarget::Fields
        );
        assert!(v.conflicted_clients().is_empty());
        let contact = v.client("acme").unwrap().contact;
        drop(v);

        // After the next sync, B shows the resolution and no conflict, and can edit.
        sync.run();
        let mut w = open(&b);
        assert!(
            w.conflicted_clients().is_empty(),
            "{:?}",
            w.conflicted_clients()
        );
        assert_eq!(password(&w, "root").as_deref(), Some("from-b"));
        assert_eq!(w.client("acme").unwrap().contact, contact);
        let fields = EntryFields {
            password: secret("after"),
            ..Default::default()
        };
        w.edit_entry("acme", "root", fields, None).unwrap();
        drop(w);
        sync.run();
        let v = open(&a);
        assert!(v.conflicted_clients().is_empty());
        assert_eq!(password(&v, "root").as_deref(), Some("after"));
        assert!(v.verify().is_empty(), "{:?}", v.verify());
    }

    #[test]
    fn an_entry_in_conflict_can_be_removed_and_a_removed_client_kept_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, mut sync) = conflicted(dir.path());
        let mut v = open(&a);
        v.resolve("acme", Some("root"), Resolution::Remove).unwrap();
        assert_eq!(password(&v, "root"), None);
        assert_eq!(password(&v, "db").as_deref(), Some("old"));
        v.resolve("acme", None, Resolution::Keep(2)).unwrap();
        assert!(v.conflicted_clients().is_empty());
        drop(v);
        sync.run();
        let v = open(&b);
        assert!(v.conflicted_clients().is_empty());
        assert_eq!(password(&v, "root"), None);
        drop(v);

        // Apart: A removes acme, B edits it. After the sync the client stays, marked.
        open(&a).remove_client("acme").unwrap();
        let mut w = open(&b);
        let fields = EntryFields {
            password: secret("edited"),
            ..Default::default()
        };
        w.edit_entry("acme", "db", fields, None).unwrap();
        drop(w);
        sync.run();
        let mut v = open(&b);
        assert_eq!(v.conflicted_clients(), ["acme"]);
        let c = conflicts_in(&v.client("acme").unwrap())
            .into_iter()
            .map(|c| c.target)
            .collect::<Vec<_>>();
        assert_eq!(c, [ConflictTarget::Removal]);
        // Keep it: the mark goes, the edit stays, on both devices.
        v.resolve("acme", None, Resolution::Keep(1)).unwrap();
        assert!(v.conflicted_clients().is_empty());
        drop(v);
        sync.run();
        for path in [&a, &b] {
            let v = open(path);
            assert!(v.conflicted_clients().is_empty());
            assert_eq!(password(&v, "db").as_deref(), Some("edited"));
        }

        // Again, and this time the removal wins.
        open(&a).remove_client("acme").unwrap();
        let mut w = open(&b);
        w.edit_client(
            "acme",
            ClientEdit {
                notes: Some("b".into()),
                ..Default::default()
            },
        )
        .unwrap();
        drop(w);
        sync.run();
        let mut v = open(&b);
        assert_eq!(v.conflicted_clients(), ["acme"]);
        v.resolve("acme", None, Resolution::Remove).unwrap();
        assert!(matches!(
            v.client("acme"),
            Err(VaultError::UnknownClient(_))
        ));
        let details = resolve_details(&v);
        assert!(
            details.iter().any(|d| d.starts_with("removed the client")),
            "{details:?}"
        );
        drop(v);
        sync.run();
        for path in [&a, &b] {
            let v = open(path);
            assert!(v.catalog().unwrap().is_empty());
        }
    }
}
