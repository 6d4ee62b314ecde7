//! Conflicted-copy file names of Syncthing, Nextcloud and Dropbox: made as each
//! service makes them, and recognised (with the original name recovered) from a
//! name alone.
//!
//! Pure functions over a file name or a `/`-separated relative path (only the last
//! component is looked at or changed); no I/O. The vault uses [`parse`] and
//! [`original_name`] (docs/format.md#conflict-copies); the makers are for the sync
//! simulator in the tests, which names copies as the services do.
//!
//! # The rules, and where they come from
//!
//! **Syncthing** (`lib/model/folder_sendrecv.go`, `conflictName`):
//! `name[:len(name)-len(ext)] + now.Format(".sync-conflict-20060102-150405-") +
//! lastModBy + ext`, where `ext` is Go's `filepath.Ext`: the suffix from the *last*
//! dot of the last component, dot included, or empty. So `index.g1.age` becomes
//! `index.g1.sync-conflict-20240517-093012-ABCDEFG.age`, `README` becomes
//! `README.sync-conflict-…-ABCDEFG`, and a dot file `.lock` (whose whole name is its
//! "extension") becomes `.sync-conflict-…-ABCDEFG.lock`. The time is the resolving
//! device's clock when it moved the file aside (`time.Now()`, local time), the seven
//! characters are a short device ID (the first 7 characters of a device ID, base32
//! `A-Z2-7`). Names made before the device ID was added (v0.14.x and older, e.g.
//! `Testfile.sync-conflict-20160818-134336.txt` in syncthing/syncthing#3524) have no
//! `-ID` part; both are recognised. Syncthing's own test is
//! `strings.Contains(base, ".sync-conflict-")`; this one also checks the digits.
//!
//! **Nextcloud desktop** (`src/common/utility.cpp`, `Utility::makeConflictFileName`):
//! ` (conflicted copy [USER ]yyyy-MM-dd hhmmss)` inserted before the last dot of the
//! name, or appended when there is no dot or the only dot starts the name (`.lock`
//! becomes `.lock (conflicted copy 2024-05-17 093012)`). The time is the local
//! file's modification time. `USER` (the account's display name, stripped of
//! `/?<>\:*|"` and control characters, parentheses turned into `_`) is written only
//! when the server announces the `uploadConflictFiles` capability (or
//! `OWNCLOUD_UPLOAD_CONFLICT_FILES` is set); then conflict files are uploaded too,
//! otherwise they are excluded from sync and stay on the device that made them.
//! Clients before 2.5 (and ownCloud's) wrote `NAME_conflict-yyyyMMdd-hhmmss.EXT`;
//! the desktop client still recognises that form, and so does this module.
//!
//! **Dropbox** (help centre "What's a conflicted copy?" and names seen in the wild,
//! e.g. `doc (huayra's conflicted copy 2014-10-22).txt`, `index (tie-x1's conflicted
//! copy 2012-01-02 (1))`, `foo (Pierre's MacBook Pro's conflicted copy 2026-02-13).kdbx`):
//! ` (WHO's conflicted copy YYYY-MM-DD)` before the extension, ` (N)` inside the
//! parentheses for a repeat on the same day, `WHO` being the computer's or the
//! user's name (it may contain spaces and apostrophes). A conflicted copy of a
//! conflicted copy gets a second tag. Dropbox documents no rule for names with
//! several dots or a leading dot; [`dropbox_name`] uses Nextcloud's rule (before
//! the last dot, a leading dot is not an extension), and the parser accepts the tag
//! wherever it stands. Dropbox translates the phrase; only the German form
//! (`in Konflikt stehende Kopie`, seen in third-party clean-up scripts, exact word
//! order unverified) is recognised besides English, loosely: a parenthesised tag
//! holding that phrase and ending in the date.
//!
//! [`parse`] takes off the rightmost (outermost) tag of any of these forms;
//! [`original_name`] repeats that until no tag is left.

/// A file-sync service whose conflict names this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Syncthing,
    Nextcloud,
    Dropbox,
}

/// A wall-clock time as a conflict tag spells it. Tags carry no time zone: each
/// service writes the local time of the device that made the copy. Dropbox writes
/// the date only (hour, minute and second are then 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl Stamp {
    /// The UTC calendar time of a Unix time (seconds), for years 1970..=9999.
    pub fn from_unix(secs: i64) -> Stamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Stamp {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// The same day at 00:00:00.
    pub fn date_only(self) -> Stamp {
        Stamp {
            hour: 0,
            minute: 0,
            second: 0,
            ..self
        }
    }

    fn is_valid(&self) -> bool {
        let y = self.year;
        let leap = y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
        let days_in_month = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        self.day >= 1
            && self.day <= days_in_month
            && self.hour < 24
            && self.minute < 60
            && self.second < 61 // a leap second can be written
    }

    /// `20240517-093012` (Syncthing, Go layout `20060102-150405`).
    fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2024-05-17` (Dropbox; Nextcloud's date part).
    fn iso_date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// What a conflicted-copy name says, as [`parse`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictCopy {
    pub service: Service,
    /// The name with this (the outermost) tag taken off; it may still hold an inner
    /// tag when the copy is a copy of a copy (see [`original_name`]).
    pub original: String,
    /// Syncthing: when the copy was made; Nextcloud: the modification time of the
    /// copied file; Dropbox: the day of the conflict.
    pub stamp: Stamp,
    /// Syncthing: the short device ID (absent in names from before v0.14);
    /// Nextcloud: the user's display name (only when conflict files are uploaded);
    /// Dropbox: the computer's or user's name (absent for a translated tag).
    pub by: Option<String>,
    /// Dropbox's counter for a repeated copy on the same day: `(… 2012-01-02 (1))`.
    pub number: Option<u32>,
    /// The tag has an older form: Syncthing without device ID, Nextcloud's
    /// `_conflict-yyyyMMdd-hhmmss`, or Dropbox in German.
    pub legacy: bool,
}

/// Syncthing's name for the conflict copy of `name`, made at `at`; `short_id` is
/// the device that last changed the *winning* version (what Syncthing 1.19 writes:
/// `moveForConflict(name, file.ModifiedBy.String())` with the incoming file; checked
/// against the real program in `syncthing_selftest.rs`).
pub fn syncthing_name(name: &str, at: Stamp, short_id: &str) -> String {
    let (dir, base) = split(name);
    let ext = go_ext(base);
    format!(
        "{dir}{}.sync-conflict-{}-{short_id}{ext}",
        &base[..base.len() - ext.len()],
        at.compact()
    )
}

/// Nextcloud's name for the conflict copy of `name` whose modification time is
/// `mtime`; `user` is the display name, given only when the server uploads conflict
/// files (see the module documentation).
pub fn nextcloud_name(name: &str, mtime: Stamp, user: Option<&str>) -> String {
    let (dir, base) = split(name);
    let at = tag_position(base);
    let mut marker = String::from(" (conflicted copy ");
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        // Don't allow parens in the user name, to ensure
        // we can find the beginning and end of the conflict tag. (Nextcloud)
        let user: String = user
            .chars()
            .filter(|c| !r#"/?<>\:*|""#.contains(*c) && !c.is_control() && !is_format_char(*c))
            .map(|c| if c == '(' || c == ')' { '_' } else { c })
            .collect();
        marker.push_str(&user);
        marker.push(' ');
    }
    marker.push_str(&format!(
        "{} {:02}{:02}{:02})",
        mtime.iso_date(),
        mtime.hour,
        mtime.minute,
        mtime.second
    ));
    format!("{dir}{}{marker}{}", &base[..at], &base[at..])
}

/// Dropbox's name for the conflicted copy of `name` made by `who` (computer or user
/// name) on `day`; `number` is the ` (N)` counter Dropbox adds when that name is
/// taken.
pub fn dropbox_name(name: &str, who: &str, day: Stamp, number: Option<u32>) -> String {
    let (dir, base) = split(name);
    let at = tag_position(base);
    let counter = number.map(|n| format!(" ({n})")).unwrap_or_default();
    format!(
        "{dir}{} ({who}'s conflicted copy {}{counter}){}",
        &base[..at],
        day.iso_date(),
        &base[at..]
    )
}

/// The outermost conflict tag of `name`, of whichever service, if it has one.
pub fn parse(name: &str) -> Option<ConflictCopy> {
    let (dir, base) = split(name);
    // Each parser finds its rightmost tag; the rightmost of those is the outermost.
    let found = [
        parse_syncthing(base),
        parse_nextcloud(base),
        parse_nextcloud_legacy(base),
        parse_dropbox(base),
        parse_dropbox_german(base),
    ]
    .into_iter()
    .flatten()
    .max_by_key(|(start, _)| *start)?;
    let mut copy = found.1;
    if copy.original.is_empty() {
        return None;
    }
    copy.original.insert_str(0, dir);
    Some(copy)
}

/// Whether `name` is a conflict copy (of any service this module knows).
pub fn is_conflict_copy(name: &str) -> bool {
    parse(name).is_some()
}

/// The name of the file a conflict copy descends from, with every tag taken off
/// (`a (x's conflicted copy 2014-07-06) (y's conflicted copy 2014-10-16).txt` →
/// `a.txt`), or `None` if `name` is no conflict copy.
pub fn original_name(name: &str) -> Option<String> {
    let mut current = parse(name)?.original;
    while let Some(inner) = parse(&current) {
        current = inner.original;
    }
    Some(current)
}

/// (`dir/` with its slash, last component).
fn split(name: &str) -> (&str, &str) {
    match name.rfind('/') {
        Some(i) => name.split_at(i + 1),
        None => ("", name),
    }
}

/// Go's `filepath.Ext` on one component: from the last dot, or empty.
fn go_ext(base: &str) -> &str {
    base.rfind('.').map_or("", |i| &base[i..])
}

/// Where Nextcloud inserts its tag: at the last dot, unless there is none or it is
/// the first character (`.hidden`), then at the end.
fn tag_position(base: &str) -> usize {
    match base.rfind('.') {
        Some(i) if i > 0 => i,
        _ => base.len(),
    }
}

/// Unicode category Cf, which Nextcloud's `sanitizeForFileName` drops (the common
/// ones).
fn is_format_char(c: char) -> bool {
    matches!(c as u32, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB)
}

fn digits(s: &str, n: usize) -> Option<u32> {
    let part = s.get(..n)?;
    if part.bytes().all(|b| b.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

/// `YYYYMMDD-HHMMSS`.
fn compact_stamp(s: &str) -> Option<Stamp> {
    if s.len() < 15 || s.as_bytes()[8] != b'-' {
        return None;
    }
    stamp(
        digits(s, 4)?,
        digits(&s[4..], 2)?,
        digits(&s[6..], 2)?,
        digits(&s[9..], 2)?,
        digits(&s[11..], 2)?,
        digits(&s[13..], 2)?,
    )
}

/// `YYYY-MM-DD`.
fn iso_date(s: &str) -> Option<Stamp> {
    let b = s.as_bytes();
    if s.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    stamp(
        digits(s, 4)?,
        digits(&s[5..], 2)?,
        digits(&s[8..], 2)?,
        0,
        0,
        0,
    )
}

fn stamp(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<Stamp> {
    let st = Stamp {
        year: y as u16,
        month: mo as u8,
        day: d as u8,
        hour: h as u8,
        minute: mi as u8,
        second: s as u8,
    };
    st.is_valid().then_some(st)
}

/// `NAME.sync-conflict-YYYYMMDD-HHMMSS[-DEVICE7]EXT`; returns (tag start, copy).
fn parse_syncthing(base: &str) -> Option<(usize, ConflictCopy)> {
    const MARK: &str = ".sync-conflict-";
    base.rmatch_indices(MARK).find_map(|(start, _)| {
        let after = &base[start + MARK.len()..];
        let stamp = compact_stamp(after)?;
        let mut rest = &after[15..];
        let mut by = None;
        if let Some(id) = rest.strip_prefix('-') {
            let id = id.get(..7)?;
            if !id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
            {
                return None;
            }
            by = Some(id.to_owned());
            rest = &rest[8..];
        }
        // What follows is the original extension: nothing, or one dot and no other.
        if !(rest.is_empty() || (rest.starts_with('.') && !rest[1..].contains('.'))) {
            return None;
        }
        let copy = ConflictCopy {
            service: Service::Syncthing,
            original: format!("{}{rest}", &base[..start]),
            stamp,
            legacy: by.is_none(),
            by,
            number: None,
        };
        Some((start, copy))
    })
}

/// `NAME (conflicted copy [USER ]YYYY-MM-DD hhmmss)EXT`.
fn parse_nextcloud(base: &str) -> Option<(usize, ConflictCopy)> {
    const MARK: &str = " (conflicted copy ";
    base.rmatch_indices(MARK).find_map(|(start, _)| {
        let inner_start = start + MARK.len();
        let close = inner_start + base[inner_start..].find(')')?;
        let inner = &base[inner_start..close];
        // "[USER ]YYYY-MM-DD hhmmss": the time stands at the end.
        let when = inner.get(inner.len().checked_sub(17)?..)?;
        let user = &inner[..inner.len() - 17];
        if when.as_bytes()[10] != b' ' || !(user.is_empty() || user.ends_with(' ')) {
            return None;
        }
        let day = iso_date(when)?;
        let time = &when[11..];
        let stamp = stamp(
            u32::from(day.year),
            u32::from(day.month),
            u32::from(day.day),
            digits(time, 2)?,
            digits(&time[2..], 2)?,
            digits(&time[4..], 2)?,
        )?;
        let copy = ConflictCopy {
            service: Service::Nextcloud,
            original: format!("{}{}", &base[..start], &base[close + 1..]),
            stamp,
            by: (!user.is_empty()).then(|| user.trim_end().to_owned()),
            number: None,
            legacy: false,
        };
        Some((start, copy))
    })
}

/// `NAME_conflict-yyyyMMdd-hhmmssEXT` (Nextcloud/ownCloud clients before 2.5).
fn parse_nextcloud_legacy(base: &str) -> Option<(usize, ConflictCopy)> {
    const MARK: &str = "_conflict-";
    base.rmatch_indices(MARK).find_map(|(start, _)| {
        let after = &base[start + MARK.len()..];
        let stamp = compact_stamp(after)?;
        let rest = &after[15..];
        if !(rest.is_empty() || (rest.starts_with('.') && !rest[1..].contains('.'))) {
            return None;
        }
        let copy = ConflictCopy {
            service: Service::Nextcloud,
            original: format!("{}{rest}", &base[..start]),
            stamp,
            by: None,
            number: None,
            legacy: true,
        };
        Some((start, copy))
    })
}

/// `YYYY-MM-DD` or `YYYY-MM-DD (N)` then `)`: (stamp, number, length up to and with
/// the closing parenthesis).
fn dropbox_date_end(s: &str) -> Option<(Stamp, Option<u32>, usize)> {
    let day = iso_date(s)?;
    let rest = &s[10..];
    if rest.starts_with(')') {
        return Some((day, None, 11));
    }
    let inner = rest.strip_prefix(" (")?;
    let close = inner.find(')')?;
    let n = &inner[..close];
    if n.is_empty() || n.len() > 9 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !inner[close + 1..].starts_with(')') {
        return None;
    }
    Some((day, n.parse().ok(), 10 + 2 + close + 2))
}

/// `NAME (WHO's conflicted copy YYYY-MM-DD[ (N)])EXT`.
fn parse_dropbox(base: &str) -> Option<(usize, ConflictCopy)> {
    ["'s conflicted copy ", "\u{2019}s conflicted copy "]
        .iter()
        .filter_map(|mark| {
            base.rmatch_indices(mark).find_map(|(m, _)| {
                // The tag opens at the last " (" before the marker (WHO holds none).
                let start = base[..m].rfind(" (")?;
                let who = &base[start + 2..m];
                if who.is_empty() {
                    return None;
                }
                let after = &base[m + mark.len()..];
                let (stamp, number, len) = dropbox_date_end(after)?;
                let end = m + mark.len() + len;
                let copy = ConflictCopy {
                    service: Service::Dropbox,
                    original: format!("{}{}", &base[..start], &base[end..]),
                    stamp,
                    by: Some(who.to_owned()),
                    number,
                    legacy: false,
                };
                Some((start, copy))
            })
        })
        .max_by_key(|(start, _)| *start)
}

/// A German Dropbox tag: ` (… in Konflikt stehende Kopie … YYYY-MM-DD[ (N)])`.
fn parse_dropbox_german(base: &str) -> Option<(usize, ConflictCopy)> {
    const MARK: &str = "n konflikt stehende kopie";
    let lower = base.to_lowercase();
    if lower.len() != base.len() {
        return None; // byte offsets would not carry over; no such name seen
    }
    lower.rmatch_indices(MARK).find_map(|(m, _)| {
        let start = base.get(..m)?.rfind(" (")?;
        // The date is the last thing in the tag: find "YYYY-MM-DD)" or "… (N))".
        let after = base.get(m + MARK.len()..)?;
        (0..after.len()).find_map(|i| {
            if !after.is_char_boundary(i) {
                return None;
            }
            let (stamp, number, len) = dropbox_date_end(&after[i..])?;
            let end = m + MARK.len() + i + len;
            let copy = ConflictCopy {
                service: Service::Dropbox,
                original: format!("{}{}", &base[..start], &base[end..]),
                stamp,
                by: None,
                number,
                legacy: true,
            };
            Some((start, copy))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> Stamp {
        Stamp {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
        }
    }

    /// (name, service, original after one tag, stamp, by, number, legacy)
    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    const EXAMPLES: &[(&str, Service, &str, (u16, u8, u8, u8, u8, u8), Option<&str>, Option<u32>, bool)] = &[
        // Syncthing: before the last extension, also with several dots.
        ("index.g1.sync-conflict-20240517-093012-ABCDEFG.age", Service::Syncthing, "index.g1.age", (2024, 5, 17, 9, 30, 12), Some("ABCDEFG"), None, false),
        ("wisp.sync-conflict-20260817-144138-O4SHF2J.json", Service::Syncthing, "wisp.json", (2026, 8, 17, 14, 41, 38), Some("O4SHF2J"), None, false),
        ("agents/beastly.sync-conflict-20260818-173636-D4LGQYW.json", Service::Syncthing, "agents/beastly.json", (2026, 8, 18, 17, 36, 36), Some("D4LGQYW"), None, false),
        ("archive.tar.sync-conflict-20231231-235959-Z2Z7AAA.gz", Service::Syncthing, "archive.tar.gz", (2023, 12, 31, 23, 59, 59), Some("Z2Z7AAA"), None, false),
        ("README.sync-conflict-20240101-000000-ABCDEFG", Service::Syncthing, "README", (2024, 1, 1, 0, 0, 0), Some("ABCDEFG"), None, false),
        (".sync-conflict-20240517-093012-ABCDEFG.lock", Service::Syncthing, ".lock", (2024, 5, 17, 9, 30, 12), Some("ABCDEFG"), None, false),
        ("vault/.index.g2.sync-conflict-20240229-120000-QQQQQQQ.tmp", Service::Syncthing, "vault/.index.g2.tmp", (2024, 2, 29, 12, 0, 0), Some("QQQQQQQ"), None, false),
        // Before v0.14: no device ID (syncthing/syncthing#3524).
        ("Testfile.sync-conflict-20160818-134336.txt", Service::Syncthing, "Testfile.txt", (2016, 8, 18, 13, 43, 36), None, None, true),
        // A copy of a copy (older Syncthing made these): the outer tag comes off.
        ("a.sync-conflict-20200101-010101-AAAAAAA.sync-conflict-20200102-020202-BBBBBBB.txt", Service::Syncthing, "a.sync-conflict-20200101-010101-AAAAAAA.txt", (2020, 1, 2, 2, 2, 2), Some("BBBBBBB"), None, false),
        // Nextcloud: before the last extension, at the end without one, user only
        // with uploadConflictFiles.
        ("index.g1 (conflicted copy 2024-05-17 093012).age", Service::Nextcloud, "index.g1.age", (2024, 5, 17, 9, 30, 12), None, None, false),
        ("conflict (conflicted copy 2025-01-31 235959).txt", Service::Nextcloud, "conflict.txt", (2025, 1, 31, 23, 59, 59), None, None, false),
        ("Documents/Notes (conflicted copy 2019-05-23 101010).md", Service::Nextcloud, "Documents/Notes.md", (2019, 5, 23, 10, 10, 10), None, None, false),
        ("README (conflicted copy 2024-05-17 093012)", Service::Nextcloud, "README", (2024, 5, 17, 9, 30, 12), None, None, false),
        (".lock (conflicted copy 2024-05-17 093012)", Service::Nextcloud, ".lock", (2024, 5, 17, 9, 30, 12), None, None, false),
        ("index.g1 (conflicted copy Max Admin 2024-05-17 093012).age", Service::Nextcloud, "index.g1.age", (2024, 5, 17, 9, 30, 12), Some("Max Admin"), None, false),
        ("a (conflicted copy anna_admin_ 2024-05-17 093012).txt", Service::Nextcloud, "a.txt", (2024, 5, 17, 9, 30, 12), Some("anna_admin_"), None, false),
        ("a.b (conflicted copy max.mustermann 2024-05-17 093012).c", Service::Nextcloud, "a.b.c", (2024, 5, 17, 9, 30, 12), Some("max.mustermann"), None, false),
        // Pre-2.5 clients.
        ("file_conflict-20180102-030405.txt", Service::Nextcloud, "file.txt", (2018, 1, 2, 3, 4, 5), None, None, true),
        ("clients/acme_conflict-20180102-030405", Service::Nextcloud, "clients/acme", (2018, 1, 2, 3, 4, 5), None, None, true),
        // Dropbox.
        ("doc (huayra's conflicted copy 2014-10-22).txt", Service::Dropbox, "doc.txt", (2014, 10, 22, 0, 0, 0), Some("huayra"), None, false),
        ("foo (TJ Luoma's conflicted copy 2013-03-12).doc", Service::Dropbox, "foo.doc", (2013, 3, 12, 0, 0, 0), Some("TJ Luoma"), None, false),
        ("index (tie-x1's conflicted copy 2012-01-02 (1))", Service::Dropbox, "index", (2012, 1, 2, 0, 0, 0), Some("tie-x1"), Some(1), false),
        ("bar (nano's conflicted copy 2012-01-02)", Service::Dropbox, "bar", (2012, 1, 2, 0, 0, 0), Some("nano"), None, false),
        ("baz (huayra's conflicted copy 2014-10-22).sqlite", Service::Dropbox, "baz.sqlite", (2014, 10, 22, 0, 0, 0), Some("huayra"), None, false),
        ("database (Pierre's MacBook Pro's conflicted copy 2026-02-13).kdbx", Service::Dropbox, "database.kdbx", (2026, 2, 13, 0, 0, 0), Some("Pierre's MacBook Pro"), None, false),
        ("single-conflict (fred.example.com's conflicted copy 2016-11-08).txt", Service::Dropbox, "single-conflict.txt", (2016, 11, 8, 0, 0, 0), Some("fred.example.com"), None, false),
        ("DSC00716 (sam-PC's conflicted copy 2016-10-15).JPG", Service::Dropbox, "DSC00716.JPG", (2016, 10, 15, 0, 0, 0), Some("sam-PC"), None, false),
        ("My File (draft) (Joe's conflicted copy 2013-03-12).tld", Service::Dropbox, "My File (draft).tld", (2013, 3, 12, 0, 0, 0), Some("Joe"), None, false),
        ("index.g1 (laptop's conflicted copy 2024-05-17 (12)).age", Service::Dropbox, "index.g1.age", (2024, 5, 17, 0, 0, 0), Some("laptop"), Some(12), false),
        ("data (r3-t2's conflicted copy 2014-07-06) (zonda's conflicted copy 2014-10-16).csv", Service::Dropbox, "data (r3-t2's conflicted copy 2014-07-06).csv", (2014, 10, 16, 0, 0, 0), Some("zonda"), None, false),
        // German tags (loosely).
        ("plan (Annas in Konflikt stehende Kopie 2020-03-04).md", Service::Dropbox, "plan.md", (2020, 3, 4, 0, 0, 0), None, None, true),
        ("plan (In Konflikt stehende Kopie von Anna 2020-03-04 (2)).md", Service::Dropbox, "plan.md", (2020, 3, 4, 0, 0, 0), None, Some(2), true),
    ];

    #[test]
    fn real_world_names_parse() {
        for &(name, service, original, (y, mo, d, h, mi, s), by, number, legacy) in EXAMPLES {
            let got = parse(name).unwrap_or_else(|| panic!("not recognised: {name:?}"));
            let want = ConflictCopy {
                service,
                original: original.to_owned(),
                stamp: at(y, mo, d, h, mi, s),
                by: by.map(str::to_owned),
                number,
                legacy,
            };
            assert_eq!(got, want, "{name:?}");
            assert!(is_conflict_copy(name));
        }
    }

    #[test]
    fn ordinary_names_are_no_conflict_copies() {
        for name in [
            "index.g1.age",
            "vault.json",
            ".lock",
            ".index.g2.age.tmp",
            "README",
            "notes.sync-conflict.txt",
            "a.sync-conflict-2024-01-01.txt",
            "a.sync-conflict-20241301-120000-ABCDEFG.txt", // month 13
            "a.sync-conflict-20240101-120000-abcdefg.txt", // IDs are upper case
            "a.sync-conflict-20240101-120000-ABCDEFG.tar.gz", // ext has no dot
            "a.sync-conflict-20240101-1200.txt",
            "a (conflicted copy).txt",
            "a (conflicted copy 123).txt", // Nextcloud's own test name; no client writes it
            "a (conflicted copy 2024-05-17).txt",
            "a (conflicted copy 2024-02-30 101010).txt",
            "a(conflicted copy 2024-05-17 093012).txt",
            "foo_conflict.txt",
            "foo_conflict-123.txt",
            "my_conflict-notes.txt",
            "a (Max's conflicted copy).txt",
            "a (Max's conflicted copy 2024-13-01).txt",
            "a ('s conflicted copy 2024-01-01).txt",
            "a (Max's conflicted copy 2024-01-01 (x)).txt",
            "The conflicted copy problem.md",
            ".sync-conflict-20240517-093012-ABCDEFG", // would have an empty original
        ] {
            assert_eq!(parse(name), None, "{name:?}");
            assert_eq!(original_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn original_name_strips_every_tag() {
        for (name, original) in [
            (
                "doc (r3-t2's conflicted copy 2014-07-06) (zonda's conflicted copy 2014-10-16) (huayra's conflicted copy 2014-10-22).txt",
                "doc.txt",
            ),
            (
                "a.sync-conflict-20200101-010101-AAAAAAA.sync-conflict-20200102-020202-BBBBBBB.txt",
                "a.txt",
            ),
            (
                "a/b/foo_conflict-20180101-010101_conflict-20180202-020202.txt",
                "a/b/foo.txt",
            ),
            (
                "x (conflicted copy 2024-05-17 093012).sync-conflict-20240518-101010-ABCDEFG.age",
                "x.age",
            ),
            ("index.g1.age", "index.g1.age"),
        ] {
            let got = original_name(name);
            if name == original {
                assert_eq!(got, None);
            } else {
                assert_eq!(got.as_deref(), Some(original), "{name:?}");
            }
        }
    }

    #[test]
    fn syncthing_puts_the_tag_before_the_last_extension() {
        let t = at(2024, 5, 17, 9, 30, 12);
        for (name, want) in [
            (
                "index.g1.age",
                "index.g1.sync-conflict-20240517-093012-ABCDEFG.age",
            ),
            (
                "vault.json",
                "vault.sync-conflict-20240517-093012-ABCDEFG.json",
            ),
            ("README", "README.sync-conflict-20240517-093012-ABCDEFG"),
            (".lock", ".sync-conflict-20240517-093012-ABCDEFG.lock"),
            (
                ".index.g2.tmp",
                ".index.g2.sync-conflict-20240517-093012-ABCDEFG.tmp",
            ),
            (
                "clients/acme.v3.age",
                "clients/acme.v3.sync-conflict-20240517-093012-ABCDEFG.age",
            ),
            (
                "dir.d/file",
                "dir.d/file.sync-conflict-20240517-093012-ABCDEFG",
            ),
        ] {
            assert_eq!(syncthing_name(name, t, "ABCDEFG"), want);
        }
    }

    #[test]
    fn nextcloud_puts_the_tag_before_the_last_extension_but_not_at_a_leading_dot() {
        let t = at(2024, 5, 17, 9, 30, 12);
        for (name, user, want) in [
            (
                "index.g1.age",
                None,
                "index.g1 (conflicted copy 2024-05-17 093012).age",
            ),
            ("README", None, "README (conflicted copy 2024-05-17 093012)"),
            (".lock", None, ".lock (conflicted copy 2024-05-17 093012)"),
            (
                ".index.g2.tmp",
                None,
                ".index.g2 (conflicted copy 2024-05-17 093012).tmp",
            ),
            (
                "foo.bar/file",
                None,
                "foo.bar/file (conflicted copy 2024-05-17 093012)",
            ),
            (
                "a.txt",
                Some("Max Admin"),
                "a (conflicted copy Max Admin 2024-05-17 093012).txt",
            ),
            (
                "a.txt",
                Some("Max (work)"),
                "a (conflicted copy Max _work_ 2024-05-17 093012).txt",
            ),
            (
                "a.txt",
                Some("a/b:c*"),
                "a (conflicted copy abc 2024-05-17 093012).txt",
            ),
            (
                "a.txt",
                Some(""),
                "a (conflicted copy 2024-05-17 093012).txt",
            ),
        ] {
            assert_eq!(nextcloud_name(name, t, user), want);
        }
    }

    #[test]
    fn dropbox_names_and_counters() {
        let d = at(2024, 5, 17, 9, 30, 12).date_only();
        assert_eq!(
            dropbox_name("index.g1.age", "laptop", d, None),
            "index.g1 (laptop's conflicted copy 2024-05-17).age"
        );
        assert_eq!(
            dropbox_name("index", "Max's MacBook Pro", d, Some(1)),
            "index (Max's MacBook Pro's conflicted copy 2024-05-17 (1))"
        );
        assert_eq!(
            dropbox_name(".lock", "pc", d, None),
            ".lock (pc's conflicted copy 2024-05-17)"
        );
    }

    /// Every made name parses back to its parts, and to the same original.
    #[test]
    fn made_names_round_trip() {
        let names = [
            "index.g1.age",
            "vault.json",
            "README",
            ".lock",
            ".index.g2.age.tmp",
            "clients/acme.age",
            "a b (c).d",
            "dir.d/file",
            "x.sync-conflict-notes.txt",
        ];
        let t = at(2031, 12, 31, 23, 59, 58);
        for name in names {
            let made = syncthing_name(name, t, "MFZWI3D");
            let p = parse(&made).unwrap_or_else(|| panic!("{made:?}"));
            assert_eq!(
                (p.service, p.original.as_str(), p.stamp),
                (Service::Syncthing, name, t)
            );
            assert_eq!(p.by.as_deref(), Some("MFZWI3D"));

            for user in [None, Some("Erika Beispiel")] {
                let made = nextcloud_name(name, t, user);
                let p = parse(&made).unwrap_or_else(|| panic!("{made:?}"));
                assert_eq!(
                    (p.service, p.original.as_str(), p.stamp),
                    (Service::Nextcloud, name, t)
                );
                assert_eq!(p.by.as_deref(), user);
            }

            for number in [None, Some(3)] {
                let made = dropbox_name(name, "Max's MacBook Pro", t, number);
                let p = parse(&made).unwrap_or_else(|| panic!("{made:?}"));
                assert_eq!(
                    (p.service, p.original.as_str(), p.stamp, p.number),
                    (Service::Dropbox, name, t.date_only(), number)
                );
                assert_eq!(p.by.as_deref(), Some("Max's MacBook Pro"));
                assert_eq!(original_name(&made).as_deref(), Some(name));
            }
        }
    }

    #[test]
    fn stamps_from_unix_time() {
        assert_eq!(Stamp::from_unix(0), at(1970, 1, 1, 0, 0, 0));
        assert_eq!(Stamp::from_unix(951_782_400), at(2000, 2, 29, 0, 0, 0));
        assert_eq!(Stamp::from_unix(1_715_938_212), at(2024, 5, 17, 9, 30, 12));
        assert_eq!(
            Stamp::from_unix(4_102_444_799),
            at(2099, 12, 31, 23, 59, 59)
        );
    }
}
