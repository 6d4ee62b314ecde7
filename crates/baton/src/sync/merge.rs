//! The merge of client versions made apart (docs/format.md#merge).
//!
//! Each client, each entry and each client's own fields is a set of versions that no
//! other version has seen (an antichain of version vectors). Merging takes the union of
//! two such sets and keeps what nothing newer has seen, so it is commutative,
//! associative and idempotent. One version left is the value; several are a conflict,
//! kept whole until the owner resolves it.
//!
//! A writer that makes a new version gives it the join of every version it knows of
//! the item plus its own new revision ([`stamp_change`]), which is why an item in
//! conflict cannot be edited before it is resolved: the new version would cover, and so
//! silently drop, the sides the owner did not see.

use std::cmp::Ordering;

use crate::client::{ClientFields, ClientFile, Conflicts, Entry, Removal};

use super::ver::{Order, Ver};

/// One version of a client, as a locator row holds it.
#[derive(Debug)]
pub enum ClientVersion {
    Live { ver: Ver, file: Box<ClientFile> },
    Removed(Removal),
}

impl ClientVersion {
    pub fn ver(&self) -> &Ver {
        match self {
            ClientVersion::Live { ver, .. } => ver,
            ClientVersion::Removed(r) => &r.ver,
        }
    }
}

/// What a set of client versions merges to.
#[derive(Debug)]
pub enum Merged {
    /// One version has seen all others: it is the client as it is.
    One(ClientVersion),
    /// Every remaining version is a removal: the client is gone. The tombstones stay.
    Gone(Vec<Removal>),
    /// Versions made apart, merged entry by entry into one file (with any conflicts in
    /// its `conflicts`); `ver` covers every input.
    Merged { ver: Ver, file: Box<ClientFile> },
}

/// One kind of unresolved conflict in a client file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConflictKind {
    /// An entry has `versions` different values; `removed` if one side removed it.
    Entry {
        name: String,
        versions: usize,
        removed: bool,
    },
    /// The client's own fields were changed apart into `versions` different values.
    Fields { versions: usize },
    /// The client was removed on another device while this version was made.
    ClientRemoved,
}

/// Why a change cannot be given a version.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum StampError {
    #[error("entry '{0}' has versions from different devices; resolve them first")]
    EntryInConflict(String),
    #[error("the client's details have versions from different devices; resolve them first")]
    FieldsInConflict,
}

/// What the merge needs of a versioned value.
trait Versioned {
    fn ver(&self) -> &Ver;
    fn set_ver(&mut self, ver: Ver);
    fn updated(&self) -> &str;
    /// Equal content, ignoring versions and times.
    fn same(&self, other: &Self) -> bool;
}

impl Versioned for Entry {
    fn ver(&self) -> &Ver {
        &self.ver
    }
    fn set_ver(&mut self, ver: Ver) {
        self.ver = ver;
    }
    fn updated(&self) -> &str {
        &self.updated
    }
    fn same(&self, o: &Self) -> bool {
        same_entry(self, o)
    }
}

impl Versioned for ClientFields {
    fn ver(&self) -> &Ver {
        &self.ver
    }
    fn set_ver(&mut self, ver: Ver) {
        self.ver = ver;
    }
    fn updated(&self) -> &str {
        &self.updated
    }
    fn same(&self, o: &Self) -> bool {
        (&self.name, &self.contact, &self.notes, &self.tags)
            == (&o.name, &o.contact, &o.notes, &o.tags)
            && (&self.recipients, &self.lifecycle) == (&o.recipients, &o.lifecycle)
    }
}

/// Two entries hold the same access data (name, kind, fields, secrets, attachments).
pub(crate) fn same_entry(a: &Entry, b: &Entry) -> bool {
    let secret = |x: &Option<crate::SecretText>, y: &Option<crate::SecretText>| match (x, y) {
        (Some(x), Some(y)) => x.expose() == y.expose(),
        (None, None) => true,
        _ => false,
    };
    (&a.name, a.kind, &a.url, &a.user, &a.note, &a.tags)
        == (&b.name, b.kind, &b.url, &b.user, &b.note, &b.tags)
        && secret(&a.password, &b.password)
        && secret(&a.totp, &b.totp)
        && a.attachments.len() == b.attachments.len()
        && a.attachments
            .iter()
            .zip(&b.attachments)
            .all(|(x, y)| x.name == y.name && x.data.expose() == y.data.expose())
}

/// A value or its tombstone.
enum Side<T> {
    Live(T),
    Gone(Removal),
}

impl<T: Versioned> Side<T> {
    fn ver(&self) -> &Ver {
        match self {
            Side::Live(t) => t.ver(),
            Side::Gone(r) => &r.ver,
        }
    }
    fn same(&self, o: &Self) -> bool {
        match (self, o) {
            (Side::Live(a), Side::Live(b)) => a.same(b),
            (Side::Gone(_), Side::Gone(_)) => true,
            _ => false,
        }
    }
}

/// Keeps the versions nothing else has seen. Versions with equal vectors are one
/// event, so one copy is kept; should their content differ (a damaged history), both
/// are kept rather than one lost.
fn maximal<T>(items: Vec<T>, ver: impl Fn(&T) -> &Ver, same: impl Fn(&T, &T) -> bool) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    'next: for t in items {
        let mut i = 0;
        while i < out.len() {
            match ver(&t).compare(ver(&out[i])) {
                Order::Before => continue 'next,
                Order::Equal if same(&t, &out[i]) => continue 'next,
                Order::After => {
                    out.swap_remove(i);
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        out.push(t);
    }
    out
}

/// Newest first: by `updated`, then by version (a total order that does not depend on
/// the order the versions arrived in).
fn newest_first(a: (&str, &Ver), b: (&str, &Ver)) -> Ordering {
    b.0.cmp(a.0).then_with(|| b.1.tie_break(a.1))
}

/// One item's versions after the merge: the value shown, the other live sides, the
/// tombstones.
struct Settled<T> {
    primary: Option<T>,
    others: Vec<T>,
    gone: Vec<Removal>,
}

/// Settles one item's versions. Sides that all agree collapse into one version (with
/// `stamp`'s revision when a writer will store it); otherwise every side is kept.
fn settle<T: Versioned>(sides: Vec<Side<T>>, stamp: Option<(&str, u64)>) -> Settled<T> {
    let mut sides = maximal(sides, Side::ver, Side::same);
    let all_same = sides.windows(2).all(|w| w[0].same(&w[1]));
    if all_same && sides.len() > 1 {
        let joined = sides.iter().fold(Ver::new(), |acc, s| acc.join(s.ver()));
        let joined = match stamp {
            Some((w, r)) => joined.with(w, r),
            None => joined,
        };
        sides.sort_by(|a, b| match (a, b) {
            (Side::Live(a), Side::Live(b)) => {
                newest_first((a.updated(), a.ver()), (b.updated(), b.ver()))
            }
            _ => b.ver().tie_break(a.ver()),
        });
        sides.truncate(1);
        match &mut sides[0] {
            Side::Live(t) => t.set_ver(joined),
            Side::Gone(r) => r.ver = joined,
        }
    }
    let mut lives = Vec::new();
    let mut gone = Vec::new();
    for s in sides {
        match s {
            Side::Live(t) => lives.push(t),
            Side::Gone(r) => gone.push(r),
        }
    }
    lives.sort_by(|a, b| newest_first((a.updated(), a.ver()), (b.updated(), b.ver())));
    gone.sort_by(|a, b| b.ver.tie_break(&a.ver));
    let mut lives = lives.into_iter();
    Settled {
        primary: lives.next(),
        others: lives.collect(),
        gone,
    }
}

pub(super) fn fields_of(f: &ClientFile) -> ClientFields {
    ClientFields {
        name: f.name.clone(),
        contact: f.contact.clone(),
        notes: f.notes.clone(),
        tags: f.tags.clone(),
        recipients: f.recipients.clone(),
        lifecycle: f.lifecycle.clone(),
        updated: f.updated.clone(),
        ver: f.meta_ver.clone(),
    }
}

fn set_fields(f: &mut ClientFile, x: ClientFields) {
    f.name = x.name;
    f.contact = x.contact;
    f.notes = x.notes;
    f.tags = x.tags;
    f.recipients = x.recipients;
    f.lifecycle = x.lifecycle;
    f.meta_ver = x.ver;
}

/// Merges every version of one client that the heads hold (docs/format.md#merge).
///
/// `stamp` is the writer and revision that will store the result: sides that agree are
/// collapsed into a version of that writer, and the merged client's version covers
/// every input plus that revision. Without it (a reader's view) nothing new is made.
pub fn merge_client(versions: Vec<ClientVersion>, stamp: Option<(&str, u64)>) -> Merged {
    // Rows with equal versions are one event and so one content; should they differ (a
    // reused revision), both are kept as a conflict rather than one lost.
    let mut rows = maximal(versions, ClientVersion::ver, |a, b| match (a, b) {
        (ClientVersion::Removed(_), ClientVersion::Removed(_)) => true,
        (ClientVersion::Live { file: x, .. }, ClientVersion::Live { file: y, .. }) => {
            crate::crypto::secret::json_bytes(x) == crate::crypto::secret::json_bytes(y)
        }
        _ => false,
    });
    if rows.len() == 1 {
        return Merged::One(rows.remove(0));
    }
    let joined = rows.iter().fold(Ver::new(), |acc, r| acc.join(r.ver()));
    let ver = match stamp {
        Some((w, r)) => joined.with(w, r),
        None => joined,
    };
    let mut lives: Vec<(Ver, ClientFile)> = Vec::new();
    let mut removals: Vec<Removal> = Vec::new();
    for r in rows {
        match r {
            ClientVersion::Live { ver, file } => lives.push((ver, *file)),
            ClientVersion::Removed(r) => removals.push(r),
        }
    }
    if lives.is_empty() {
        removals.sort_by(|a, b| b.ver.tie_break(&a.ver));
        return Merged::Gone(removals);
    }
    lives.sort_by(|a, b| newest_first((&a.1.updated, &a.0), (&b.1.updated, &b.0)));

    // Removals of the whole client: those made apart now, and those the versions carry
    // from earlier merges, unless a version that has seen one dropped it (resolved).
    let mut markers: Vec<Removal> = removals;
    for (_, f) in &lives {
        for t in &f.conflicts.removed {
            let resolved = lives.iter().any(|(v, g)| {
                t.ver.leq(v) && t.ver != *v && !g.conflicts.removed.iter().any(|u| u.ver == t.ver)
            });
            if !resolved {
                markers.push(t.clone());
            }
        }
    }
    let mut markers = maximal(markers, |r| &r.ver, |_, _| true);
    markers.sort_by(|a, b| b.ver.tie_break(&a.ver));

    // The client's own fields.
    let mut field_sides = Vec::new();
    for (_, f) in &mut lives {
        field_sides.push(Side::Live(fields_of(f)));
        field_sides.extend(
            std::mem::take(&mut f.conflicts.fields)
                .into_iter()
                .map(Side::Live),
        );
    }
    let fields = settle(field_sides, stamp);

    // Entries, name by name, in the order the newest version lists them.
    let mut names: Vec<String> = Vec::new();
    let mut by_name: std::collections::BTreeMap<String, Vec<Side<Entry>>> = Default::default();
    let mut add = |name: &str, side: Side<Entry>| {
        if !by_name.contains_key(name) {
            names.push(name.to_string());
        }
        by_name.entry(name.to_string()).or_default().push(side);
    };
    for (_, f) in &mut lives {
        for e in std::mem::take(&mut f.entries) {
            let n = e.name.clone();
            add(&n, Side::Live(e));
        }
        for e in std::mem::take(&mut f.conflicts.entries) {
            let n = e.name.clone();
            add(&n, Side::Live(e));
        }
        for r in std::mem::take(&mut f.removed) {
            let n = r.name.clone();
            add(&n, Side::Gone(r));
        }
    }
    let mut merged = lives.swap_remove(0).1;
    let created = lives
        .iter()
        .map(|(_, f)| f.created.as_str())
        .fold(merged.created.clone(), |a, b| a.min(b.to_string()));
    let updated = lives
        .iter()
        .map(|(_, f)| f.updated.as_str())
        .fold(merged.updated.clone(), |a, b| a.max(b.to_string()));
    let mut entries = Vec::new();
    let mut other_entries = Vec::new();
    let mut removed = Vec::new();
    for name in names {
        let sides = by_name.remove(&name).unwrap_or_default();
        let s = settle(sides, stamp);
        entries.extend(s.primary);
        other_entries.extend(s.others);
        removed.extend(s.gone);
    }
    let primary_fields = fields.primary.expect("every live version has fields");
    set_fields(&mut merged, primary_fields);
    merged.created = created;
    merged.updated = updated;
    merged.entries = entries;
    merged.removed = removed;
    merged.conflicts = Conflicts {
        entries: other_entries,
        fields: fields.others,
        removed: markers,
    };
    Merged::Merged {
        ver,
        file: Box::new(merged),
    }
}

/// The unresolved conflicts of a client file, in the order its entries are listed.
pub fn conflicts_of(file: &ClientFile) -> Vec<ConflictKind> {
    let mut out = Vec::new();
    if !file.conflicts.removed.is_empty() {
        out.push(ConflictKind::ClientRemoved);
    }
    let own = fields_of(file);
    let mut distinct: Vec<&ClientFields> = vec![&own];
    for f in &file.conflicts.fields {
        if !distinct.iter().any(|d| d.same(f)) {
            distinct.push(f);
        }
    }
    if distinct.len() > 1 {
        out.push(ConflictKind::Fields {
            versions: distinct.len(),
        });
    }
    let mut names: Vec<&str> = file.entries.iter().map(|e| e.name.as_str()).collect();
    for e in &file.conflicts.entries {
        if !names.contains(&e.name.as_str()) {
            names.push(&e.name);
        }
    }
    for name in names {
        let mut lives: Vec<&Entry> = Vec::new();
        for e in file
            .entries
            .iter()
            .chain(&file.conflicts.entries)
            .filter(|e| e.name == name)
        {
            if !lives.iter().any(|l| same_entry(l, e)) {
                lives.push(e);
            }
        }
        let removed = file.removed.iter().any(|r| r.name == name);
        if lives.len() > 1 || removed {
            out.push(ConflictKind::Entry {
                name: name.to_string(),
                versions: lives.len() + usize::from(removed),
                removed,
            });
        }
    }
    out
}

/// Gives the versions of a change by `writer` at `revision` to the new state of a
/// client (`new`, made from `old`; `None` for a new client): each entry or field that
/// changed gets the join of its known versions plus this revision, each entry that went
/// away a tombstone. An item in conflict cannot change (see the module comment).
pub fn stamp_change(
    old: Option<&ClientFile>,
    new: &mut ClientFile,
    writer: &str,
    revision: u64,
    time: &str,
) -> Result<(), StampError> {
    let Some(old) = old else {
        new.meta_ver = Ver::of(writer, revision);
        for e in &mut new.entries {
            e.ver = Ver::of(writer, revision);
        }
        return Ok(());
    };
    let in_conflict = |name: &str| {
        let lives = old
            .entries
            .iter()
            .chain(&old.conflicts.entries)
            .filter(|e| e.name == name)
            .count();
        lives > 1 || (lives == 1 && old.removed.iter().any(|r| r.name == name))
    };
    // Everything known of an entry name: its versions and tombstones.
    let known = |name: &str| {
        old.entries
            .iter()
            .chain(&old.conflicts.entries)
            .filter(|e| e.name == name)
            .map(|e| &e.ver)
            .chain(
                old.removed
                    .iter()
                    .filter(|r| r.name == name)
                    .map(|r| &r.ver),
            )
            .fold(Ver::new(), |acc, v| acc.join(v))
    };
    // A version that already covers everything known of its item and carries this
    // change's revision was made by a resolution ([`resolve_entry`],
    // [`resolve_fields`]) for this very commit: it keeps its version.
    let resolved = |v: &Ver, known: Ver| v.get(writer) == revision && known.leq(v);
    for e in &mut new.entries {
        match old.entry(&e.name) {
            Some(o) if same_entry(o, e) && o.ver == e.ver => continue,
            _ => {}
        }
        if resolved(&e.ver, known(&e.name)) {
            continue;
        }
        if in_conflict(&e.name) {
            return Err(StampError::EntryInConflict(e.name.clone()));
        }
        e.ver = known(&e.name).with(writer, revision);
    }
    let mut tombstones = Vec::new();
    for o in &old.entries {
        if new.entry(&o.name).is_none() {
            // Removed by a resolution: its tombstone is already in `new.removed`.
            if new
                .removed
                .iter()
                .any(|r| r.name == o.name && resolved(&r.ver, known(&o.name)))
            {
                continue;
            }
            if in_conflict(&o.name) {
                return Err(StampError::EntryInConflict(o.name.clone()));
            }
            tombstones.push(Removal {
                name: o.name.clone(),
                ver: known(&o.name).with(writer, revision),
                time: time.to_string(),
            });
        }
    }
    // A tombstone a new version or a newer tombstone has seen is no longer needed.
    new.removed.extend(tombstones);
    let live: Vec<(String, Ver)> = new
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.ver.clone()))
        .collect();
    let removed = std::mem::take(&mut new.removed);
    let superseded = |r: &Removal| {
        live.iter()
            .any(|(n, v)| *n == r.name && r.ver.leq(v) && r.ver != *v)
            || removed
                .iter()
                .any(|t| t.name == r.name && r.ver.leq(&t.ver) && r.ver != t.ver)
    };
    let mut kept: Vec<Removal> = Vec::new();
    for r in removed.iter().filter(|r| !superseded(r)) {
        if !kept.iter().any(|k| k.name == r.name && k.ver == r.ver) {
            kept.push(r.clone());
        }
    }
    new.removed = kept;
    let known_fields = old
        .conflicts
        .fields
        .iter()
        .fold(old.meta_ver.clone(), |acc, f| acc.join(&f.ver));
    let resolved_fields = new.conflicts.fields.is_empty() && resolved(&new.meta_ver, known_fields);
    if !fields_of(old).same(&fields_of(new)) && !resolved_fields {
        if !old.conflicts.fields.is_empty() {
            return Err(StampError::FieldsInConflict);
        }
        new.meta_ver = old.meta_ver.clone().with(writer, revision);
    }
    Ok(())
}

/// One side of an entry's conflict, as `baton conflicts` lists them (the version on
/// show first).
#[derive(Debug)]
pub enum EntrySide<'a> {
    Live(&'a Entry),
    Removed(&'a Removal),
}

/// Every side of entry `name`: the version on show, the other versions, the removals.
pub fn entry_sides<'a>(file: &'a ClientFile, name: &str) -> Vec<EntrySide<'a>> {
    file.entries
        .iter()
        .chain(&file.conflicts.entries)
        .filter(|e| e.name == name)
        .map(EntrySide::Live)
        .chain(
            file.removed
                .iter()
                .filter(|r| r.name == name)
                .map(EntrySide::Removed),
        )
        .collect()
}

/// Why a resolution was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveError {
    #[error("there is nothing to resolve here")]
    NoConflict,
    #[error("there is no version {0}; the versions are numbered from 1")]
    NoSuchVersion(usize),
    /// `--remove` for the client's own fields: they are kept in one version or another.
    #[error("the client's details cannot be removed, only one of their versions kept")]
    NotRemovable,
}

/// Resolves entry `name` to its side number `keep` (1-based, in [`entry_sides`] order):
/// that side becomes the only one, with a version that covers every side, so no copy of
/// the others brings them back. Keeping a removal side removes the entry.
pub fn resolve_entry(
    file: &mut ClientFile,
    name: &str,
    keep: usize,
    writer: &str,
    revision: u64,
    time: &str,
) -> Result<(), ResolveError> {
    settle_entry(file, name, Some(keep), writer, revision, time)
}

/// Resolves entry `name` by removing it, whatever its sides hold: one tombstone that
/// covers every side.
pub fn resolve_entry_removed(
    file: &mut ClientFile,
    name: &str,
    writer: &str,
    revision: u64,
    time: &str,
) -> Result<(), ResolveError> {
    settle_entry(file, name, None, writer, revision, time)
}

/// [`resolve_entry`] (`Some(side)`) and [`resolve_entry_removed`] (`None`).
fn settle_entry(
    file: &mut ClientFile,
    name: &str,
    keep: Option<usize>,
    writer: &str,
    revision: u64,
    time: &str,
) -> Result<(), ResolveError> {
    let sides = entry_sides(file, name).len();
    if sides < 2 {
        return Err(ResolveError::NoConflict);
    }
    if let Some(keep) = keep
        && (keep == 0 || keep > sides)
    {
        return Err(ResolveError::NoSuchVersion(keep));
    }
    let covered = entry_sides(file, name)
        .iter()
        .map(|s| match s {
            EntrySide::Live(e) => &e.ver,
            EntrySide::Removed(r) => &r.ver,
        })
        .fold(Ver::new(), |a, v| a.join(v))
        .with(writer, revision);
    // The entry keeps its place in the list (the first place its name had).
    let position = file.entries.iter().position(|e| e.name == name);
    let mut lives: Vec<Entry> = Vec::new();
    let mut i = 0;
    while i < file.entries.len() {
        if file.entries[i].name == name {
            lives.push(file.entries.remove(i));
        } else {
            i += 1;
        }
    }
    let position = position.unwrap_or(file.entries.len());
    let mut others = Vec::new();
    for e in std::mem::take(&mut file.conflicts.entries) {
        if e.name == name {
            lives.push(e);
        } else {
            others.push(e);
        }
    }
    file.conflicts.entries = others;
    file.removed.retain(|r| r.name != name);
    match keep {
        Some(keep) if keep <= lives.len() => {
            let mut e = lives.swap_remove(keep - 1);
            e.ver = covered;
            e.updated = time.to_string();
            file.entries.insert(position, e);
        }
        _ => file.removed.push(Removal {
            name: name.to_string(),
            ver: covered,
            time: time.to_string(),
        }),
    }
    Ok(())
}

/// Resolves a conflict over the client's own fields: side 1 is the one on show, then
/// the others in the file's order.
pub fn resolve_fields(
    file: &mut ClientFile,
    keep: usize,
    writer: &str,
    revision: u64,
) -> Result<(), ResolveError> {
    let sides = 1 + file.conflicts.fields.len();
    if sides < 2 {
        return Err(ResolveError::NoConflict);
    }
    if keep == 0 || keep > sides {
        return Err(ResolveError::NoSuchVersion(keep));
    }
    let others = std::mem::take(&mut file.conflicts.fields);
    let covered = others
        .iter()
        .fold(file.meta_ver.clone(), |a, f| a.join(&f.ver))
        .with(writer, revision);
    if keep > 1 {
        let chosen = others.into_iter().nth(keep - 2).expect("checked above");
        set_fields(file, chosen);
    }
    file.meta_ver = covered;
    Ok(())
}

/// Resolves the removal of the whole client on another device (docs/format.md#merge,
/// rule 5) by keeping the client: the removal marks go. The client's next locator row
/// covers the removals (a merged row's version is the join of every row, tombstones
/// included), so no copy of them brings the removal back.
pub fn resolve_client_kept(file: &mut ClientFile) -> Result<(), ResolveError> {
    if file.conflicts.removed.is_empty() {
        return Err(ResolveError::NoConflict);
    }
    file.conflicts.removed.clear();
    Ok(())
}
