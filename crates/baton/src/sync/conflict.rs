//! What a client's unresolved conflicts look like to the owner (docs/format.md#merge):
//! each conflict with its versions numbered as `baton conflicts` shows them and `baton
//! resolve --keep N` takes them, which device made each, when, and which fields differ.
//!
//! Pure, like the rest of `sync`: it reads a client file and borrows from it. Secret
//! values stay in the borrowed entries; [`Conflict::differs`] names fields, never their
//! values.

use crate::client::{ClientFields, ClientFile, Entry};

use super::merge::{EntrySide, entry_sides, fields_of};
use super::ver::Ver;

/// What a conflict is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConflictTarget {
    /// The client was removed on another device while it was changed on this one.
    Removal,
    /// The client's own fields (name, contact, notes, tags, package keys, lifecycle).
    Fields,
    /// One entry.
    Entry(String),
}

/// How the owner settles one conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Keep version N (1-based, as numbered by [`conflicts_in`]).
    Keep(usize),
    /// Remove the item (an entry, or for [`ConflictTarget::Removal`] the client).
    Remove,
}

/// What one version of a conflicted item is.
#[derive(Debug)]
pub enum SideValue<'a> {
    Entry(&'a Entry),
    /// The entry was removed on that device.
    EntryRemoved,
    Fields(Box<ClientFields>),
    /// The client as this file holds it (every entry, every field).
    Client,
    /// The client was removed on that device.
    ClientRemoved,
}

/// One version of a conflicted item.
#[derive(Debug)]
pub struct ConflictSide<'a> {
    /// Its number for `resolve --keep` (from 1).
    pub number: usize,
    /// The writers (devices, docs/format.md#writers) whose changes only this version
    /// holds: the device or devices that made it. Empty when no counter tells them
    /// apart (versions with equal vectors).
    pub writers: Vec<String>,
    /// When it was made (RFC 3339), as far as the file records it: an entry's or a
    /// removal's own time; for the client's fields and the client as a whole, its last
    /// change.
    pub time: String,
    pub value: SideValue<'a>,
}

/// One unresolved conflict of a client.
#[derive(Debug)]
pub struct Conflict<'a> {
    pub target: ConflictTarget,
    pub sides: Vec<ConflictSide<'a>>,
    /// The fields in which the live versions differ, by name (`password`, `url`,
    /// `contact`, …); never their values.
    pub differs: Vec<&'static str>,
}

/// Every unresolved conflict of a client, in the order `resolve` settles them: the
/// client's removal on another device, its own fields, then its entries in the order
/// the file lists them.
pub fn conflicts_in(file: &ClientFile) -> Vec<Conflict<'_>> {
    let mut out = Vec::new();
    if !file.conflicts.removed.is_empty() {
        // The client as it is, against the removals: what the live version holds is
        // the join of its items' versions.
        let live = file
            .entries
            .iter()
            .map(|e| &e.ver)
            .chain(file.conflicts.entries.iter().map(|e| &e.ver))
            .chain(file.conflicts.fields.iter().map(|f| &f.ver))
            .fold(file.meta_ver.clone(), |acc, v| acc.join(v));
        let vers: Vec<&Ver> = std::iter::once(&live)
            .chain(file.conflicts.removed.iter().map(|r| &r.ver))
            .collect();
        let mut sides = vec![ConflictSide {
            number: 1,
            writers: made_by(0, &vers),
            time: file.updated.clone(),
            value: SideValue::Client,
        }];
        for (i, r) in file.conflicts.removed.iter().enumerate() {
            sides.push(ConflictSide {
                number: i + 2,
                writers: made_by(i + 1, &vers),
                time: r.time.clone(),
                value: SideValue::ClientRemoved,
            });
        }
        out.push(Conflict {
            target: ConflictTarget::Removal,
            sides,
            differs: vec![],
        });
    }
    if !file.conflicts.fields.is_empty() {
        let mut own = fields_of(file);
        // `updated` of the file is its last change of any kind: the best this side has.
        own.updated = file.updated.clone();
        let all: Vec<ClientFields> = std::iter::once(own)
            .chain(file.conflicts.fields.iter().cloned())
            .collect();
        let vers: Vec<&Ver> = all.iter().map(|f| &f.ver).collect();
        let writers: Vec<Vec<String>> = (0..all.len()).map(|i| made_by(i, &vers)).collect();
        let differs = fields_differ(&all);
        let sides = all
            .into_iter()
            .zip(writers)
            .enumerate()
            .map(|(i, (f, writers))| ConflictSide {
                number: i + 1,
                writers,
                time: f.updated.clone(),
                value: SideValue::Fields(Box::new(f)),
            })
            .collect();
        out.push(Conflict {
            target: ConflictTarget::Fields,
            sides,
            differs,
        });
    }
    let mut names: Vec<&str> = Vec::new();
    for e in file.entries.iter().chain(&file.conflicts.entries) {
        if !names.contains(&e.name.as_str()) {
            names.push(&e.name);
        }
    }
    for name in names {
        let found = entry_sides(file, name);
        if found.len() < 2 {
            continue;
        }
        let vers: Vec<&Ver> = found
            .iter()
            .map(|s| match s {
                EntrySide::Live(e) => &e.ver,
                EntrySide::Removed(r) => &r.ver,
            })
            .collect();
        let lives: Vec<&Entry> = found
            .iter()
            .filter_map(|s| match s {
                EntrySide::Live(e) => Some(*e),
                EntrySide::Removed(_) => None,
            })
            .collect();
        let sides = found
            .iter()
            .enumerate()
            .map(|(i, s)| ConflictSide {
                number: i + 1,
                writers: made_by(i, &vers),
                time: match s {
                    EntrySide::Live(e) => e.updated.clone(),
                    EntrySide::Removed(r) => r.time.clone(),
                },
                value: match s {
                    EntrySide::Live(e) => SideValue::Entry(e),
                    EntrySide::Removed(_) => SideValue::EntryRemoved,
                },
            })
            .collect();
        out.push(Conflict {
            target: ConflictTarget::Entry(name.to_string()),
            sides,
            differs: entries_differ(&lives),
        });
    }
    out
}

/// The writers whose counter in version `i` is above every other version's: the
/// changes only that version holds were made by them.
fn made_by(i: usize, vers: &[&Ver]) -> Vec<String> {
    vers[i]
        .iter()
        .filter(|(w, n)| {
            vers.iter()
                .enumerate()
                .all(|(j, v)| j == i || v.get(w) < *n)
        })
        .map(|(w, _)| w.to_string())
        .collect()
}

/// One field's name and whether two values agree in it.
type SameIn<'f, T> = (&'static str, &'f dyn Fn(&T, &T) -> bool);

/// The names of the fields in which some of `lives` differ.
fn entries_differ(lives: &[&Entry]) -> Vec<&'static str> {
    let Some((first, rest)) = lives.split_first() else {
        return vec![];
    };
    let secret = |x: &Option<crate::SecretText>, y: &Option<crate::SecretText>| match (x, y) {
        (Some(x), Some(y)) => x.expose() == y.expose(),
        (None, None) => true,
        _ => false,
    };
    let checks: [SameIn<'_, Entry>; 8] = [
        ("kind", &|a, b| a.kind == b.kind),
        ("url", &|a, b| a.url == b.url),
        ("user", &|a, b| a.user == b.user),
        ("password", &|a, b| secret(&a.password, &b.password)),
        ("totp", &|a, b| secret(&a.totp, &b.totp)),
        ("note", &|a, b| a.note == b.note),
        ("tags", &|a, b| a.tags == b.tags),
        ("attachments", &|a, b| {
            a.attachments.len() == b.attachments.len()
                && a.attachments
                    .iter()
                    .zip(&b.attachments)
                    .all(|(x, y)| x.name == y.name && x.data.expose() == y.data.expose())
        }),
    ];
    checks
        .iter()
        .filter(|(_, same)| rest.iter().any(|o| !same(first, o)))
        .map(|(name, _)| *name)
        .collect()
}

/// The names of the client's own fields in which some of `all` differ.
fn fields_differ(all: &[ClientFields]) -> Vec<&'static str> {
    let Some((first, rest)) = all.split_first() else {
        return vec![];
    };
    let checks: [SameIn<'_, ClientFields>; 6] = [
        ("name", &|a, b| a.name == b.name),
        ("contact", &|a, b| a.contact == b.contact),
        ("notes", &|a, b| a.notes == b.notes),
        ("tags", &|a, b| a.tags == b.tags),
        ("recipients", &|a, b| a.recipients == b.recipients),
        ("lifecycle", &|a, b| a.lifecycle == b.lifecycle),
    ];
    checks
        .iter()
        .filter(|(_, same)| rest.iter().any(|o| !same(first, o)))
        .map(|(name, _)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Removal;
    use crate::sync::{resolve_client_kept, resolve_entry, resolve_entry_removed, stamp_change};

    const A: &str = "aaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccc";

    fn dup(f: &ClientFile) -> ClientFile {
        serde_json::from_slice(&serde_json::to_vec(f).unwrap()).unwrap()
    }

    fn entry(name: &str, password: &str, url: &str, ver: Ver, time: &str) -> Entry {
        serde_json::from_value(serde_json::json!({
            "name": name, "kind": "server", "url": url, "password": password,
            "created": "t0", "updated": time, "ver": ver,
        }))
        .unwrap()
    }

    /// `acme` with `db` (no conflict) and `root` changed on A (password and url) and
    /// on B (password only), as the merge leaves them; base version {A:1}.
    fn conflicted() -> ClientFile {
        let mut f: ClientFile = serde_json::from_value(serde_json::json!({
            "format": "baton-client", "version": 1, "vault_id": "v", "cid": "c",
            "id": "acme", "name": "ACME", "created": "t0", "updated": "t3",
            "meta_ver": Ver::of(A, 1),
        }))
        .unwrap();
        f.entries.push(entry("db", "d", "", Ver::of(A, 1), "t0"));
        f.entries
            .push(entry("root", "from-b", "", Ver::of(A, 1).with(B, 2), "t3"));
        f.entries.push(entry("web", "w", "", Ver::of(A, 1), "t0"));
        f.conflicts
            .entries
            .push(entry("root", "from-a", "ssh://a", Ver::of(A, 2), "t2"));
        f
    }

    #[test]
    fn versions_are_numbered_with_their_devices_times_and_differences() {
        let f = conflicted();
        let c = conflicts_in(&f);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].target, ConflictTarget::Entry("root".into()));
        assert_eq!(c[0].differs, ["url", "password"]);
        let sides: Vec<(usize, Vec<String>, &str)> = c[0]
            .sides
            .iter()
            .map(|s| (s.number, s.writers.clone(), s.time.as_str()))
            .collect();
        assert_eq!(
            sides,
            [
                (1, vec![B.to_string()], "t3"),
                (2, vec![A.to_string()], "t2")
            ]
        );
        assert!(matches!(c[0].sides[0].value, SideValue::Entry(e) if e.url.is_empty()));
        // The difference is named, its value is not.
        assert!(!format!("{:?}", c[0].differs).contains("from-"));
    }

    #[test]
    fn a_removal_a_field_conflict_and_a_client_removal_are_listed_in_order() {
        let mut f = conflicted();
        f.removed.push(Removal {
            name: "web".into(),
            ver: Ver::of(A, 1).with(C, 1),
            time: "t4".into(),
        });
        f.entries[2].ver = Ver::of(A, 1).with(B, 3);
        let mut other = fields_of(&f);
        other.contact = "it@acme.example".into();
        other.ver = Ver::of(A, 1).with(C, 1);
        f.conflicts.fields.push(other);
        f.conflicts.removed.push(Removal {
            name: "acme".into(),
            ver: Ver::of(A, 1).with(C, 2),
            time: "t5".into(),
        });
        let c = conflicts_in(&f);
        let targets: Vec<&ConflictTarget> = c.iter().map(|c| &c.target).collect();
        assert_eq!(
            targets,
            [
                &ConflictTarget::Removal,
                &ConflictTarget::Fields,
                &ConflictTarget::Entry("root".into()),
                &ConflictTarget::Entry("web".into()),
            ]
        );
        assert!(matches!(c[0].sides[1].value, SideValue::ClientRemoved));
        assert_eq!(c[0].sides[1].writers, [C]);
        assert_eq!(c[0].sides[1].time, "t5");
        assert_eq!(c[1].differs, ["contact"]);
        assert!(matches!(c[3].sides[1].value, SideValue::EntryRemoved));
        assert_eq!(
            (c[3].sides[1].writers.clone(), c[3].sides[0].writers.clone()),
            (vec![C.to_string()], vec![B.to_string()])
        );
    }

    /// A resolution's versions pass `stamp_change` for the same commit (it is not an
    /// edit of an item in conflict), and cover every side.
    #[test]
    fn resolutions_commit_and_cover_every_side() {
        let old = conflicted();
        for keep in [1, 2] {
            let mut new = dup(&old);
            resolve_entry(&mut new, "root", keep, C, 5, "t9").unwrap();
            stamp_change(Some(&old), &mut new, C, 5, "t9").unwrap();
            assert!(conflicts_in(&new).is_empty());
            let names: Vec<&str> = new.entries.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(names, ["db", "root", "web"], "the entry keeps its place");
            let root = new.entry("root").unwrap();
            assert!(Ver::of(A, 2).with(B, 2).with(C, 5).leq(&root.ver));
            let want = ["from-b", "from-a"][keep - 1];
            assert_eq!(root.password.as_ref().unwrap().expose(), want);
        }
        let mut new = dup(&old);
        resolve_entry_removed(&mut new, "root", C, 5, "t9").unwrap();
        stamp_change(Some(&old), &mut new, C, 5, "t9").unwrap();
        assert!(new.entry("root").is_none() && conflicts_in(&new).is_empty());
        assert_eq!(new.removed.len(), 1);
        assert_eq!(new.removed[0].ver, Ver::of(A, 2).with(B, 2).with(C, 5));
        // A resolution stamped with another revision is an edit of an item in conflict.
        let mut new = dup(&old);
        resolve_entry(&mut new, "root", 1, C, 4, "t9").unwrap();
        assert!(stamp_change(Some(&old), &mut new, C, 5, "t9").is_err());
        // Nothing to resolve, or no such version.
        let mut new = dup(&old);
        assert_eq!(
            resolve_entry(&mut new, "db", 1, C, 5, "t9"),
            Err(super::super::ResolveError::NoConflict)
        );
        assert_eq!(
            resolve_entry(&mut new, "root", 3, C, 5, "t9"),
            Err(super::super::ResolveError::NoSuchVersion(3))
        );
    }

    #[test]
    fn a_fields_resolution_commits_and_a_kept_client_loses_its_removal_marks() {
        let mut old = conflicted();
        let mut other = fields_of(&old);
        other.contact = "it@acme.example".into();
        other.ver = Ver::of(C, 1);
        old.conflicts.fields.push(other);
        for keep in [1, 2] {
            let mut new = dup(&old);
            crate::sync::resolve_fields(&mut new, keep, C, 5).unwrap();
            stamp_change(Some(&old), &mut new, C, 5, "t9").unwrap();
            assert_eq!(new.contact, ["", "it@acme.example"][keep - 1]);
            assert!(new.conflicts.fields.is_empty());
            assert!(Ver::of(A, 1).with(C, 5).leq(&new.meta_ver));
        }
        let mut new = dup(&old);
        new.contact = "edited".into();
        assert!(stamp_change(Some(&old), &mut new, C, 5, "t9").is_err());

        let mut f = conflicted();
        assert_eq!(
            resolve_client_kept(&mut f),
            Err(super::super::ResolveError::NoConflict)
        );
        f.conflicts.removed.push(Removal {
            name: "acme".into(),
            ver: Ver::of(C, 1),
            time: "t".into(),
        });
        resolve_client_kept(&mut f).unwrap();
        assert!(f.conflicts.removed.is_empty());
    }
}
