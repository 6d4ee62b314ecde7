//! Clients and their entries: the plaintext of a client file
//! (docs/format.md#client-files) and the summaries kept in the index.

use serde::{Deserialize, Serialize};

use crate::crypto::secret::{SecretBytes, SecretText, serde_secret_bytes, serde_secret_text};
use crate::sync::Ver;

/// What kind of system an entry gives access to (docs/format.md#client-files).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Server,
    Ssh,
    Panel,
    Domain,
    Dns,
    Database,
    Cms,
    Mail,
    Api,
    Other,
}

impl EntryKind {
    pub const ALL: [EntryKind; 10] = [
        EntryKind::Server,
        EntryKind::Ssh,
        EntryKind::Panel,
        EntryKind::Domain,
        EntryKind::Dns,
        EntryKind::Database,
        EntryKind::Cms,
        EntryKind::Mail,
        EntryKind::Api,
        EntryKind::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Server => "server",
            EntryKind::Ssh => "ssh",
            EntryKind::Panel => "panel",
            EntryKind::Domain => "domain",
            EntryKind::Dns => "dns",
            EntryKind::Database => "database",
            EntryKind::Cms => "cms",
            EntryKind::Mail => "mail",
            EntryKind::Api => "api",
            EntryKind::Other => "other",
        }
    }
}

impl std::str::FromStr for EntryKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        EntryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// A file stored with an entry (SSH key, certificate). Contents are secret.
#[derive(Serialize, Deserialize, Debug)]
pub struct Attachment {
    pub name: String,
    #[serde(with = "serde_secret_bytes")]
    pub data: SecretBytes,
}

/// One set of access data.
#[derive(Serialize, Deserialize, Debug)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub user: String,
    #[serde(
        default,
        with = "serde_secret_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub password: Option<SecretText>,
    /// An `otpauth://totp/…` URI.
    #[serde(
        default,
        with = "serde_secret_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub totp: Option<SecretText>,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub created: String,
    pub updated: String,
    /// Which writers' changes this version of the entry includes
    /// (docs/format.md#multi-writer); empty before version 3.
    #[serde(default, skip_serializing_if = "Ver::is_empty")]
    pub ver: Ver,
}

/// The plaintext of a client file.
#[derive(Serialize, Deserialize, Debug)]
pub struct ClientFile {
    pub format: String,
    pub version: u32,
    pub vault_id: String,
    /// Random, stable id of the client inside this vault.
    pub cid: String,
    /// The short name the owner types (`acme`).
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The client's own public keys (`age1…`, `ssh-ed25519 …`, `ssh-rsa …`) that
    /// packages are encrypted to (docs/export-format.md).
    #[serde(default)]
    pub recipients: Vec<String>,
    pub created: String,
    pub updated: String,
    #[serde(default)]
    pub entries: Vec<Entry>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// The version of the client's own fields (name, contact, notes, tags, recipients,
    /// lifecycle); empty before version 3 (docs/format.md#multi-writer).
    #[serde(default, skip_serializing_if = "Ver::is_empty")]
    pub meta_ver: Ver,
    /// Tombstones of removed entries, so an older copy cannot bring them back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Removal>,
    /// Versions made apart on other devices that are still to be resolved
    /// (docs/format.md#merge).
    #[serde(default, skip_serializing_if = "Conflicts::is_empty")]
    pub conflicts: Conflicts,
}

/// A tombstone: what was removed (an entry name, or a client id), when, at which
/// version.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub name: String,
    pub ver: Ver,
    #[serde(default)]
    pub time: String,
}

/// A client's own fields as one version (a side of a conflict over them).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ClientFields {
    pub name: String,
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(default)]
    pub updated: String,
    pub ver: Ver,
}

/// The other sides of a client's unresolved conflicts (docs/format.md#merge): the
/// version in the client file's own fields and entries is one side; these are the rest.
#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Conflicts {
    /// Other versions of entries; each name is also in `entries` or `removed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<Entry>,
    /// Other versions of the client's own fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<ClientFields>,
    /// Removals of the whole client made apart from this version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Removal>,
}

impl Conflicts {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.fields.is_empty() && self.removed.is_empty()
    }
}

/// A client's place in its lifecycle and its GDPR facts (docs/gdpr.md): when the
/// contract ended, the data processing agreement, a legal hold, a retention override.
/// No secret values; kept in the client file and in its catalog summary.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Lifecycle {
    /// Set when the contract ended (or the site moved away or went offline for good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    /// The data processing agreement (GDPR Art. 28).
    #[serde(default)]
    pub dpa: Dpa,
    /// A legal hold: no purge while it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// Keep until this date (YYYY-MM-DD) instead of the vault-wide retention.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub retain_until: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// YYYY-MM-DD
    pub date: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub reason: String,
    /// YYYY-MM-DD
    pub since: String,
}

/// The decision on a data processing agreement.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DpaStatus {
    /// No decision recorded yet.
    #[default]
    Unknown,
    /// An agreement is signed (see `date`, `reference`).
    Signed,
    /// Personal data is processed but no agreement exists.
    None,
    /// No personal data is processed on the client's behalf: no agreement needed.
    NotNeeded,
}

impl DpaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DpaStatus::Unknown => "unknown",
            DpaStatus::Signed => "signed",
            DpaStatus::None => "none",
            DpaStatus::NotNeeded => "not-needed",
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Dpa {
    pub status: DpaStatus,
    /// YYYY-MM-DD the agreement was signed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub date: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
}

/// Why a DPA decision was not understood (`Dpa::from_str`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpaParseError {
    /// Not one of the spellings below; the text as given.
    #[error(
        "unknown DPA decision '{0}' (use signed:YYYY-MM-DD, signed, none, not-needed or unknown)"
    )]
    Unknown(String),
    /// `signed:` followed by something that is not a YYYY-MM-DD date; that text.
    #[error("'{0}' is not a date (write it as YYYY-MM-DD)")]
    BadDate(String),
}

/// Parses a DPA decision as people write it (docs/gdpr.md#dpa): `signed:2024-03-01`,
/// `signed` (date unknown), `none`, `not-needed` or `unknown`. The reference stays
/// empty: it is given separately.
impl std::str::FromStr for Dpa {
    type Err = DpaParseError;

    fn from_str(text: &str) -> Result<Dpa, DpaParseError> {
        let (status, date) = match text.split_once(':') {
            Some(("signed", d)) => (DpaStatus::Signed, d),
            None if text == "signed" => (DpaStatus::Signed, ""),
            None if text == "none" => (DpaStatus::None, ""),
            None if text == "not-needed" => (DpaStatus::NotNeeded, ""),
            None if text == "unknown" => (DpaStatus::Unknown, ""),
            _ => return Err(DpaParseError::Unknown(text.to_string())),
        };
        // `signed:` with nothing after it is a signed agreement of unknown date.
        if !date.is_empty() && !valid_date(date) {
            return Err(DpaParseError::BadDate(date.to_string()));
        }
        Ok(Dpa {
            status,
            date: date.to_string(),
            reference: String::new(),
        })
    }
}

impl Lifecycle {
    /// The date (YYYY-MM-DD) from which the client's data is due for deletion: the
    /// per-client date if one is set (it replaces the policy, longer or shorter), else
    /// `months` after the end; `None` while the client is active.
    pub fn retention_date(&self, months: u32) -> Option<String> {
        let ended = self.ended.as_ref()?;
        if !self.retain_until.is_empty() {
            return Some(self.retain_until.clone());
        }
        crate::time::add_months(&format!("{}T00:00:00Z", ended.date), months)
            .map(|t| crate::time::day_of(&t).to_string())
    }

    /// Whether the client's data may be purged on `today` (YYYY-MM-DD) under the
    /// retention policy: ended, retention passed, no legal hold.
    pub fn purge_due(&self, months: u32, today: &str) -> bool {
        self.ended.is_some()
            && self.hold.is_none()
            && self
                .retention_date(months)
                .is_some_and(|d| d.as_str() <= today)
    }
}

pub use crate::time::is_date as valid_date;

#[cfg(test)]
mod lifecycle_tests {
    use super::*;

    #[test]
    fn dpa_decisions_parse() {
        let dpa = |t: &str| t.parse::<Dpa>().map(|d| (d.status, d.date, d.reference));
        let s = String::new;
        assert_eq!(
            dpa("signed:2024-03-01"),
            Ok((DpaStatus::Signed, "2024-03-01".into(), s()))
        );
        assert_eq!(dpa("signed"), Ok((DpaStatus::Signed, s(), s())));
        assert_eq!(dpa("signed:"), Ok((DpaStatus::Signed, s(), s())));
        assert_eq!(dpa("none"), Ok((DpaStatus::None, s(), s())));
        assert_eq!(dpa("not-needed"), Ok((DpaStatus::NotNeeded, s(), s())));
        assert_eq!(dpa("unknown"), Ok((DpaStatus::Unknown, s(), s())));
        for bad in [
            "",
            "Signed",
            "yes",
            "none:2024-03-01",
            "signed 2024-03-01",
            " none",
        ] {
            assert_eq!(dpa(bad), Err(DpaParseError::Unknown(bad.into())), "{bad:?}");
        }
        for (text, date) in [
            ("signed:2023-02-29", "2023-02-29"),
            ("signed:01.03.2024", "01.03.2024"),
            ("signed:2024-03-01:x", "2024-03-01:x"),
        ] {
            assert_eq!(
                dpa(text),
                Err(DpaParseError::BadDate(date.into())),
                "{text}"
            );
        }
    }

    #[test]
    fn dates_are_checked() {
        for ok in ["2024-02-29", "2026-11-30", "1970-01-01"] {
            assert!(valid_date(ok), "{ok}");
        }
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            " 2024-01-01",
            "2024-01-01 ",
            "31.01.2024",
            "2024-01-32",
            "",
        ] {
            assert!(!valid_date(bad), "{bad:?}");
        }
    }

    #[test]
    fn retention_follows_the_end_the_override_and_the_hold() {
        let mut l = Lifecycle::default();
        assert_eq!(l.retention_date(12), None, "active");
        l.retain_until = "2030-01-01".into();
        assert_eq!(l.retention_date(12), None, "an override waits for the end");
        l.retain_until.clear();
        l.ended = Some(Ended {
            date: "2024-02-29".into(),
            reason: String::new(),
        });
        assert_eq!(l.retention_date(12).as_deref(), Some("2025-02-28"));
        assert!(!l.purge_due(12, "2025-02-27"));
        assert!(l.purge_due(12, "2025-02-28"), "due on the retention date");
        l.retain_until = "2024-06-01".into();
        assert!(l.purge_due(12, "2024-06-01"), "a shorter override");
        l.hold = Some(Hold {
            reason: "audit".into(),
            since: "2024-05-01".into(),
        });
        assert!(!l.purge_due(12, "2099-01-01"), "never under a hold");
    }
}

/// What the index keeps about an entry: no secret values.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct EntrySummary {
    pub name: String,
    pub kind: EntryKind,
    pub url: String,
    pub user: String,
    pub tags: Vec<String>,
    pub note: String,
    pub has_password: bool,
    pub has_totp: bool,
    pub attachments: Vec<String>,
    pub updated: String,
}

/// Where the index finds a client's file, and the SHA-256 that binds it
/// (docs/format.md#index). Small on purpose: every command reads all of them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ClientRef {
    pub id: String,
    pub cid: String,
    pub file: String,
    pub sha256: String,
    /// The client's version (docs/format.md#multi-writer, "Versions"); empty in
    /// version 2 and for rows from before the upgrade.
    #[serde(default, skip_serializing_if = "Ver::is_empty")]
    pub ver: Ver,
}

/// What the catalog keeps about a client for `list`, `show` and `search`: no secret
/// values (docs/format.md#catalog).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ClientSummary {
    pub id: String,
    pub cid: String,
    pub name: String,
    pub contact: String,
    pub notes: String,
    pub tags: Vec<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    pub created: String,
    pub updated: String,
    pub entries: Vec<EntrySummary>,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// How many conflicts between devices' versions the client holds
    /// (docs/format.md#merge); `list` and `status` mark them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conflicts: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Entry {
    pub fn summary(&self) -> EntrySummary {
        EntrySummary {
            name: self.name.clone(),
            kind: self.kind,
            url: self.url.clone(),
            user: self.user.clone(),
            tags: self.tags.clone(),
            note: self.note.clone(),
            has_password: self.password.is_some(),
            has_totp: self.totp.is_some(),
            attachments: self.attachments.iter().map(|a| a.name.clone()).collect(),
            updated: self.updated.clone(),
        }
    }
}

impl ClientFile {
    pub const FORMAT: &'static str = "baton-client";

    pub fn summary(&self) -> ClientSummary {
        ClientSummary {
            id: self.id.clone(),
            cid: self.cid.clone(),
            name: self.name.clone(),
            contact: self.contact.clone(),
            notes: self.notes.clone(),
            tags: self.tags.clone(),
            recipients: self.recipients.clone(),
            created: self.created.clone(),
            updated: self.updated.clone(),
            entries: self.entries.iter().map(Entry::summary).collect(),
            lifecycle: self.lifecycle.clone(),
            conflicts: crate::sync::conflicts_of(self).len(),
        }
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    pub fn entry_mut(&mut self, name: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.name == name)
    }
}

impl ClientSummary {
    /// Case-insensitive match over the fields `search` covers: names, urls, users,
    /// notes, tags, contact.
    pub fn matches(&self, needle: &str) -> Vec<Option<&EntrySummary>> {
        let n = needle.to_lowercase();
        let hit = |s: &str| s.to_lowercase().contains(&n);
        let mut out = Vec::new();
        if hit(&self.id)
            || hit(&self.name)
            || hit(&self.contact)
            || hit(&self.notes)
            || self.tags.iter().any(|t| hit(t))
        {
            out.push(None);
        }
        for e in &self.entries {
            if hit(&e.name)
                || hit(&e.url)
                || hit(&e.user)
                || hit(&e.note)
                || e.tags.iter().any(|t| hit(t))
            {
                out.push(Some(e));
            }
        }
        out
    }
}

/// Client and entry ids: 1 to 64 characters from `a-z 0-9 . _ -`, starting with a
/// letter or digit (docs/format.md#names).
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// Holder names: 1 to 64 characters, no commas or control characters
/// (docs/format.md#names).
pub fn valid_holder(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty()
        && t == s
        && s.chars().count() <= 64
        && !s
            .chars()
            .any(|c| c == ',' || c == ';' || c.is_control() || c == '/' || c == '\\')
}

/// Attachment names: a plain file name, no folders, no control or bidirectional
/// formatting characters (they would disguise the name in listings and sheets).
pub fn valid_attachment_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s != "."
        && s != ".."
        && !s
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control() || is_format_char(c))
}

/// Invisible and bidirectional formatting characters (Unicode category Cf that matter
/// for display): zero-width marks, embeddings, overrides and isolates, BOM.
pub fn is_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["acme", "a", "ssh-root", "db.main", "x_1", "0day"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "-x", "Acme", "a b", "ä", ".x", &"a".repeat(65), "a/b"] {
            assert!(!valid_id(bad), "{bad}");
        }
        assert!(valid_holder("Anna Müller"));
        assert!(!valid_holder(" anna"));
        assert!(!valid_holder("a,b"));
        assert!(!valid_holder("a\u{7}"));
        assert!(valid_attachment_name("id_ed25519"));
        assert!(!valid_attachment_name("../x"));
        assert!(!valid_attachment_name("x\u{202e}gpj.exe"));
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let e = Entry {
            name: "x".into(),
            kind: EntryKind::Server,
            url: String::new(),
            user: String::new(),
            password: Some(SecretText::new("hunter2-secret".into())),
            totp: None,
            note: String::new(),
            tags: vec![],
            attachments: vec![Attachment {
                name: "k".into(),
                data: SecretBytes::new(b"PRIVATE KEY".to_vec()),
            }],
            created: String::new(),
            updated: String::new(),
            ver: Default::default(),
        };
        let d = format!("{e:?}");
        assert!(!d.contains("hunter2"));
        assert!(!d.contains("PRIVATE"));
        // The serialized form (encrypted on disk) does carry them.
        let j = serde_json::to_string(&e).unwrap();
        assert!(j.contains("hunter2-secret"));
        let back: Entry = serde_json::from_str(&j).unwrap();
        assert_eq!(back.password.unwrap().expose(), "hunter2-secret");
        assert_eq!(back.attachments[0].data.expose(), b"PRIVATE KEY");
    }
}
