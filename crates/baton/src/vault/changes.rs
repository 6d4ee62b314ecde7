//! The changes a user makes, each one commit with one audit record
//! (docs/format.md#writes). Audit details never carry secret values.

use crate::audit::{AuditAction, AuditEvent};
use crate::client::{Attachment, ClientFile, Entry, EntryKind, valid_attachment_name, valid_id};
use crate::crypto::secret::{SecretBytes, SecretText};
use crate::otp;
use crate::time::now;
use crate::vault::{Vault, VaultError};

/// Largest attachment accepted (docs/format.md#names).
pub const MAX_ATTACHMENT: usize = 1024 * 1024;

/// Fields of a new client.
#[derive(Default, Debug, Clone)]
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub contact: String,
    pub notes: String,
    pub tags: Vec<String>,
}

/// Changes to a client's GDPR facts; `None` keeps the value.
#[derive(Default, Debug, Clone)]
pub struct GdprEdit {
    pub dpa: Option<crate::client::Dpa>,
    /// `Some(Some(reason))` sets a legal hold, `Some(None)` lifts it.
    pub hold: Option<Option<String>>,
    /// A date (YYYY-MM-DD), or empty for the vault-wide policy.
    pub retain_until: Option<String>,
}

/// Changes to a client's descriptive fields; `None` keeps the value.
#[derive(Default, Debug, Clone)]
pub struct ClientEdit {
    pub name: Option<String>,
    pub contact: Option<String>,
    pub notes: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// Changes to the vault-wide settings (`baton settings`); `None` keeps the value.
#[derive(Default, Debug, Clone)]
pub struct SettingsChange {
    /// The owner profile shown in client packages and on the holders' kits.
    pub owner_name: Option<String>,
    pub owner_contact: Option<String>,
    pub vault_copies: Option<String>,
    pub successor: Option<String>,
    /// Months an ended client's data is kept (docs/gdpr.md#retention).
    pub retention_months: Option<u32>,
    /// Months between key rotations, 0 for none (docs/format.md#header).
    pub rotate_every_months: Option<u32>,
}

/// Fields of a new entry or changes to one; `None` keeps (or leaves empty) the value.
#[derive(Default)]
pub struct EntryFields {
    pub kind: Option<EntryKind>,
    pub url: Option<String>,
    pub user: Option<String>,
    pub password: Option<SecretText>,
    pub clear_password: bool,
    pub totp: Option<SecretText>,
    pub clear_totp: bool,
    pub note: Option<String>,
    pub tags: Option<Vec<String>>,
}

fn check_id(id: &str) -> Result<(), VaultError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(VaultError::InvalidId(id.to_string()))
    }
}

fn check_text(what: &str, s: &str, max: usize) -> Result<(), VaultError> {
    if s.len() > max || s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(VaultError::BadText {
            what: what.to_string(),
            max,
        });
    }
    Ok(())
}

impl EntryFields {
    fn check(&self) -> Result<(), VaultError> {
        for (what, v, max) in [
            ("url", &self.url, 2048),
            ("user", &self.user, 512),
            ("note", &self.note, 65536),
        ] {
            if let Some(v) = v {
                check_text(what, v, max)?;
            }
        }
        if let Some(t) = &self.totp {
            otp::validate(t.expose()).map_err(VaultError::BadTotp)?;
        }
        if let Some(p) = &self.password
            && p.expose().len() > 4096
        {
            return Err(VaultError::PasswordTooLong);
        }
        Ok(())
    }

    fn apply(self, e: &mut Entry) {
        if let Some(k) = self.kind {
            e.kind = k;
        }
        if let Some(v) = self.url {
            e.url = v;
        }
        if let Some(v) = self.user {
            e.user = v;
        }
        if self.clear_password {
            e.password = None;
        }
        if let Some(v) = self.password {
            e.password = Some(v);
        }
        if self.clear_totp {
            e.totp = None;
        }
        if let Some(v) = self.totp {
            e.totp = Some(v);
        }
        if let Some(v) = self.note {
            e.note = v;
        }
        if let Some(v) = self.tags {
            e.tags = v;
        }
    }
}

impl ClientFile {
    /// The entry `name`, or the error that names client and entry.
    pub fn require_entry(&self, name: &str) -> Result<&Entry, VaultError> {
        self.entry(name).ok_or_else(|| VaultError::UnknownEntry {
            client: self.id.clone(),
            entry: name.into(),
        })
    }
}

impl Vault {
    /// Loads a client, lets `change` modify one entry, stamps the times and commits with
    /// one audit record. The shared path of every entry edit.
    fn update_entry(
        &mut self,
        client: &str,
        entry: &str,
        event: (AuditAction, String),
        change: impl FnOnce(&mut Entry) -> Result<(), VaultError>,
    ) -> Result<(), VaultError> {
        let mut file = self.client(client)?;
        let t = now();
        let e = file
            .entry_mut(entry)
            .ok_or_else(|| VaultError::UnknownEntry {
                client: client.into(),
                entry: entry.into(),
            })?;
        change(e)?;
        e.updated = t.clone();
        file.updated = t;
        self.commit(
            AuditEvent::new(event.0, Some(client), event.1),
            vec![file],
            &[],
        )
    }

    pub fn add_client(&mut self, c: NewClient) -> Result<(), VaultError> {
        check_id(&c.id)?;
        check_text("name", &c.name, 256)?;
        check_text("contact", &c.contact, 1024)?;
        check_text("notes", &c.notes, 65536)?;
        if self.locate(&c.id).is_ok() {
            return Err(VaultError::ClientExists(c.id));
        }
        let t = now();
        let file = ClientFile {
            format: ClientFile::FORMAT.into(),
            version: 1,
            vault_id: self.index().vault_id.clone(),
            cid: hex::encode(crate::replay::id_bytes::<16>()),
            id: c.id.clone(),
            name: if c.name.is_empty() {
                c.id.clone()
            } else {
                c.name
            },
            contact: c.contact,
            notes: c.notes,
            tags: c.tags,
            recipients: vec![],
            created: t.clone(),
            updated: t,
            entries: vec![],
            lifecycle: Default::default(),
            meta_ver: Default::default(),
            removed: vec![],
            conflicts: Default::default(),
        };
        self.commit(
            AuditEvent::new(AuditAction::ClientAdd, Some(&c.id), ""),
            vec![file],
            &[],
        )
    }

    pub fn edit_client(&mut self, id: &str, edit: ClientEdit) -> Result<(), VaultError> {
        let mut file = self.client(id)?;
        let mut changed = Vec::new();
        if let Some(v) = edit.name {
            check_text("name", &v, 256)?;
            file.name = v;
            changed.push("name");
        }
        if let Some(v) = edit.contact {
            check_text("contact", &v, 1024)?;
            file.contact = v;
            changed.push("contact");
        }
        if let Some(v) = edit.notes {
            check_text("notes", &v, 65536)?;
            file.notes = v;
            changed.push("notes");
        }
        if let Some(v) = edit.tags {
            file.tags = v;
            changed.push("tags");
        }
        file.updated = now();
        self.commit(
            AuditEvent::new(AuditAction::ClientEdit, Some(id), changed.join(",")),
            vec![file],
            &[],
        )
    }

    /// Replaces the client's package recipients (public keys only, already parsed).
    pub fn set_recipients(
        &mut self,
        id: &str,
        recipients: &[crate::export::PackageRecipient],
    ) -> Result<(), VaultError> {
        let mut file = self.client(id)?;
        file.recipients = recipients.iter().map(|r| r.as_str().to_string()).collect();
        file.updated = now();
        let detail = recipients
            .iter()
            .map(|r| r.fingerprint())
            .collect::<Vec<_>>()
            .join(",");
        self.commit(
            AuditEvent::new(AuditAction::ClientRecipients, Some(id), detail),
            vec![file],
            &[],
        )
    }

    /// Sets the owner's name and contact as shown in client packages.
    pub fn set_owner_profile(
        &mut self,
        profile: crate::store::index::OwnerProfile,
    ) -> Result<(), VaultError> {
        self.change_settings(SettingsChange {
            owner_name: Some(profile.name),
            owner_contact: Some(profile.contact),
            vault_copies: Some(profile.vault_copies),
            successor: Some(profile.successor),
            ..Default::default()
        })
    }

    /// Changes vault-wide settings: every value is checked first, then one commit with
    /// one record (the setting's own action when only one kind changes, else
    /// `settings.change` naming each), so a command with one bad value changes nothing.
    pub fn change_settings(&mut self, change: SettingsChange) -> Result<(), VaultError> {
        for (what, value, max) in [
            ("owner name", &change.owner_name, 256),
            ("owner contact", &change.owner_contact, 1024),
            ("vault copies", &change.vault_copies, 1024),
            ("successor", &change.successor, 1024),
        ] {
            if let Some(v) = value {
                check_text(what, v, max)?;
            }
        }
        if change.retention_months.is_some_and(|m| m > 1200) {
            return Err(VaultError::RetentionTooLong);
        }
        if change.rotate_every_months.is_some_and(|m| m > 120) {
            return Err(VaultError::RotationIntervalTooLong);
        }
        // Refused writes (no lock, an unfinished rotation, a broken audit log) are
        // refused before vault.json is touched below.
        self.require_write()?;

        let mut owner = self.index().owner.clone();
        let mut owner_fields = Vec::new();
        for (what, value, field) in [
            ("name", change.owner_name, &mut owner.name),
            ("contact", change.owner_contact, &mut owner.contact),
            ("vault copies", change.vault_copies, &mut owner.vault_copies),
            ("successor", change.successor, &mut owner.successor),
        ] {
            if let Some(v) = value {
                *field = v;
                owner_fields.push(what);
            }
        }
        let mut parts: Vec<(AuditAction, String)> = Vec::new();
        if !owner_fields.is_empty() {
            parts.push((
                AuditAction::VaultOwner,
                format!("owner {}", owner_fields.join(", ")),
            ));
        }
        if let Some(months) = change.retention_months {
            let old = self.index().retention_months;
            parts.push((
                AuditAction::SettingsRetention,
                format!("retention {old} -> {months} months after a client's end"),
            ));
        }
        if let Some(months) = change.rotate_every_months {
            let old = self.header.rotation.interval_months;
            parts.push((
                AuditAction::SettingsRotation,
                format!("rotation interval {old} -> {months} months"),
            ));
        }
        let event = match parts.len() {
            0 => return Ok(()),
            1 => {
                let (action, detail) = parts.remove(0);
                AuditEvent::new(action, None, detail)
            }
            _ => AuditEvent::new(
                AuditAction::SettingsChange,
                None,
                parts
                    .into_iter()
                    .map(|(_, d)| d)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };

        // The rotation interval lives in the public header (docs/format.md#header),
        // written before the commit and put back if the commit fails, so an error
        // applies nothing. A crash between the two leaves only the interval changed
        // without its record: the field is public and unauthenticated, so that gives
        // nobody more than writing vault.json does.
        let old_header = change.rotate_every_months.map(|months| {
            let mut h = self.header.clone();
            h.rotation.interval_months = months;
            std::mem::replace(&mut self.header, h)
        });
        if let Some(old) = &old_header
            && let Err(e) = self.write_header()
        {
            self.header = old.clone();
            return Err(e);
        }
        let revision = self.index().revision;
        let retention = change.retention_months;
        let edit_owner = !owner_fields.is_empty();
        let committed = self.commit_with(event, vec![], &[], |ix| {
            if edit_owner {
                ix.owner = owner;
            }
            if let Some(months) = retention {
                ix.retention_months = months;
            }
        });
        if committed.is_err()
            && self.index().revision == revision
            && let Some(old) = old_header
        {
            // Not committed: the header goes back (best effort; the error is the commit's).
            self.header = old;
            let _ = self.write_header();
        }
        committed
    }

    /// Records that the contract with `id` ended on `date` (YYYY-MM-DD).
    pub fn end_client(&mut self, id: &str, date: &str, reason: &str) -> Result<(), VaultError> {
        if !crate::client::valid_date(date) {
            return Err(VaultError::BadDate(date.to_string()));
        }
        check_text("reason", reason, 1024)?;
        let mut file = self.client(id)?;
        file.lifecycle.ended = Some(crate::client::Ended {
            date: date.to_string(),
            reason: reason.to_string(),
        });
        file.updated = now();
        let detail = if reason.is_empty() {
            format!("ended {date}")
        } else {
            format!("ended {date}: {reason}")
        };
        self.commit(
            AuditEvent::new(AuditAction::ClientEnd, Some(id), detail),
            vec![file],
            &[],
        )
    }

    /// Undoes `end_client`: the client is active again.
    pub fn reopen_client(&mut self, id: &str) -> Result<(), VaultError> {
        let mut file = self.client(id)?;
        let Some(ended) = file.lifecycle.ended.take() else {
            return Err(VaultError::NotEnded(id.to_string()));
        };
        file.updated = now();
        self.commit(
            AuditEvent::new(
                AuditAction::ClientReopen,
                Some(id),
                format!("was ended {}", ended.date),
            ),
            vec![file],
            &[],
        )
    }

    /// Sets a client's DPA decision, legal hold or retention override.
    pub fn set_client_gdpr(&mut self, id: &str, edit: GdprEdit) -> Result<(), VaultError> {
        let mut file = self.client(id)?;
        let mut changed = Vec::new();
        if let Some(dpa) = edit.dpa {
            for (what, v) in [("dpa date", &dpa.date), ("dpa reference", &dpa.reference)] {
                check_text(what, v, 256)?;
            }
            if !dpa.date.is_empty() && !crate::client::valid_date(&dpa.date) {
                return Err(VaultError::BadDate(dpa.date.clone()));
            }
            let mut what = format!("dpa={}", dpa.status.as_str());
            for v in [&dpa.date, &dpa.reference] {
                if !v.is_empty() {
                    what.push(' ');
                    what.push_str(v);
                }
            }
            changed.push(what);
            file.lifecycle.dpa = dpa;
        }
        if let Some(hold) = edit.hold {
            match hold {
                Some(reason) => {
                    check_text("hold reason", &reason, 1024)?;
                    changed.push(format!("legal hold set: {reason}"));
                    // A new reason for a hold already set keeps its start.
                    let since = file
                        .lifecycle
                        .hold
                        .take()
                        .map(|h| h.since)
                        .unwrap_or_else(crate::time::today);
                    file.lifecycle.hold = Some(crate::client::Hold { reason, since });
                }
                None => {
                    changed.push("legal hold lifted".to_string());
                    file.lifecycle.hold = None;
                }
            }
        }
        if let Some(until) = edit.retain_until {
            if !until.is_empty() && !crate::client::valid_date(&until) {
                return Err(VaultError::BadDate(until.clone()));
            }
            changed.push(if until.is_empty() {
                "retention: vault policy".to_string()
            } else {
                format!("retain until {until}")
            });
            file.lifecycle.retain_until = until;
        }
        if changed.is_empty() {
            return Ok(());
        }
        file.updated = now();
        self.commit(
            AuditEvent::new(AuditAction::ClientGdpr, Some(id), changed.join(", ")),
            vec![file],
            &[],
        )
    }

    /// Sets how many months an ended client's data is kept (docs/gdpr.md#retention).
    pub fn set_retention_months(&mut self, months: u32) -> Result<(), VaultError> {
        self.change_settings(SettingsChange {
            retention_months: Some(months),
            ..Default::default()
        })
    }

    /// Removes a client (a mistake, a test). Refused under a legal hold; deletion for
    /// GDPR reasons is `purge_client`, which writes a deletion record.
    pub fn remove_client(&mut self, id: &str) -> Result<(), VaultError> {
        let s = self.client(id)?;
        if let Some(h) = &s.lifecycle.hold {
            return Err(VaultError::LegalHold {
                client: id.to_string(),
                reason: h.reason.clone(),
            });
        }
        let cid = s.cid.clone();
        let detail = format!("{} entries", s.entries.len());
        self.commit(
            AuditEvent::new(AuditAction::ClientRemove, Some(id), detail),
            vec![],
            &[cid],
        )
    }

    pub fn add_entry(
        &mut self,
        client: &str,
        name: &str,
        fields: EntryFields,
    ) -> Result<(), VaultError> {
        check_id(name)?;
        fields.check()?;
        let mut file = self.client(client)?;
        if file.entry(name).is_some() {
            return Err(VaultError::EntryExists {
                client: client.into(),
                entry: name.into(),
            });
        }
        let t = now();
        let mut e = Entry {
            name: name.into(),
            kind: EntryKind::Other,
            url: String::new(),
            user: String::new(),
            password: None,
            totp: None,
            note: String::new(),
            tags: vec![],
            attachments: vec![],
            created: t.clone(),
            updated: t.clone(),
            ver: Default::default(),
        };
        fields.apply(&mut e);
        file.entries.push(e);
        file.updated = t;
        self.commit(
            AuditEvent::new(AuditAction::EntryAdd, Some(client), name),
            vec![file],
            &[],
        )
    }

    /// Changes an entry's fields and, with `rename`, its name: every value is checked
    /// first, then one commit with one record (`entry.rename` when the name changes,
    /// else `entry.edit`), so a refused rename changes nothing else either.
    pub fn edit_entry(
        &mut self,
        client: &str,
        name: &str,
        fields: EntryFields,
        rename: Option<&str>,
    ) -> Result<(), VaultError> {
        fields.check()?;
        if let Some(new) = rename {
            check_id(new)?;
        }
        let mut file = self.client(client)?;
        let unknown = || VaultError::UnknownEntry {
            client: client.into(),
            entry: name.into(),
        };
        file.entry(name).ok_or_else(unknown)?;
        if let Some(new) = rename
            && file.entry(new).is_some()
        {
            return Err(VaultError::EntryExists {
                client: client.into(),
                entry: new.into(),
            });
        }
        let changed = describe(&fields);
        let event = match rename {
            Some(new) if changed.is_empty() => {
                (AuditAction::EntryRename, format!("{name} -> {new}"))
            }
            Some(new) => (
                AuditAction::EntryRename,
                format!("{name} -> {new}: {changed}"),
            ),
            None => (AuditAction::EntryEdit, format!("{name}: {changed}")),
        };
        let t = now();
        let e = file.entry_mut(name).ok_or_else(unknown)?;
        fields.apply(e);
        if let Some(new) = rename {
            e.name = new.into();
        }
        e.updated = t.clone();
        file.updated = t;
        self.commit(
            AuditEvent::new(event.0, Some(client), event.1),
            vec![file],
            &[],
        )
    }

    pub fn rename_entry(
        &mut self,
        client: &str,
        name: &str,
        new_name: &str,
    ) -> Result<(), VaultError> {
        self.edit_entry(client, name, EntryFields::default(), Some(new_name))
    }

    pub fn remove_entry(&mut self, client: &str, name: &str) -> Result<(), VaultError> {
        let mut file = self.client(client)?;
        let before = file.entries.len();
        file.entries.retain(|e| e.name != name);
        if file.entries.len() == before {
            return Err(VaultError::UnknownEntry {
                client: client.into(),
                entry: name.into(),
            });
        }
        file.updated = now();
        self.commit(
            AuditEvent::new(AuditAction::EntryRemove, Some(client), name),
            vec![file],
            &[],
        )
    }

    /// Stores a file with an entry; replaces one of the same name only if `replace`.
    pub fn attach(
        &mut self,
        client: &str,
        entry: &str,
        name: &str,
        data: SecretBytes,
        replace: bool,
    ) -> Result<(), VaultError> {
        if !valid_attachment_name(name) {
            return Err(VaultError::BadAttachmentName(name.to_string()));
        }
        let size = data.expose().len();
        if size > MAX_ATTACHMENT {
            return Err(VaultError::AttachmentTooLarge(MAX_ATTACHMENT / 1024));
        }
        let detail = format!("{entry}: {name} ({size} bytes)");
        self.update_entry(client, entry, (AuditAction::EntryAttach, detail), |e| {
            // Names differing only in case would overwrite each other when the client
            // unpacks on macOS or Windows.
            if e.attachments
                .iter()
                .any(|a| a.name != name && a.name.to_lowercase() == name.to_lowercase())
            {
                return Err(VaultError::AttachmentCaseClash {
                    entry: entry.to_string(),
                    name: name.to_string(),
                });
            }
            match e.attachments.iter_mut().find(|a| a.name == name) {
                Some(_) if !replace => {
                    return Err(VaultError::AttachmentExists {
                        entry: entry.to_string(),
                        name: name.to_string(),
                    });
                }
                Some(a) => a.data = data,
                None => e.attachments.push(Attachment {
                    name: name.into(),
                    data,
                }),
            }
            Ok(())
        })
    }

    pub fn detach(&mut self, client: &str, entry: &str, name: &str) -> Result<(), VaultError> {
        let detail = format!("{entry}: {name}");
        self.update_entry(client, entry, (AuditAction::EntryDetach, detail), |e| {
            let before = e.attachments.len();
            e.attachments.retain(|a| a.name != name);
            if e.attachments.len() == before {
                return Err(VaultError::UnknownAttachment {
                    entry: entry.to_string(),
                    name: name.to_string(),
                });
            }
            Ok(())
        })
    }
}

/// Names the changed fields for the audit log, never their values.
fn describe(f: &EntryFields) -> String {
    let mut v = Vec::new();
    if f.kind.is_some() {
        v.push("kind");
    }
    if f.url.is_some() {
        v.push("url");
    }
    if f.user.is_some() {
        v.push("user");
    }
    if f.password.is_some() || f.clear_password {
        v.push("password");
    }
    if f.totp.is_some() || f.clear_totp {
        v.push("totp");
    }
    if f.note.is_some() {
        v.push("note");
    }
    if f.tags.is_some() {
        v.push("tags");
    }
    v.join(",")
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::vault::read_header;
    use crate::vault::snapshot;

    const PASS: &str = "typed changes unit test";

    /// A vault with client `acme` and its entries `root` and `db` (password "old").
    fn vault(dir: &Path) -> Vault {
        let mut v = crate::vault::test_vault(&dir.join("v"), PASS);
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
                    password: Some(SecretText::new("old".into())),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        v
    }

    fn password(v: &Vault, entry: &str) -> String {
        let c = v.client("acme").unwrap();
        c.entry(entry)
            .unwrap()
            .password
            .as_ref()
            .unwrap()
            .expose()
            .to_string()
    }

    /// An edit whose rename is refused stores none of its other changes either, and an
    /// accepted edit with a rename is one commit with one `entry.rename` record.
    #[test]
    fn an_entry_edit_and_its_rename_are_one_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let before = snapshot(v.path());
        let revision = v.index().revision;
        let new = || EntryFields {
            password: Some(SecretText::new("new".into())),
            ..Default::default()
        };
        let e = v.edit_entry("acme", "root", new(), Some("db")).unwrap_err();
        assert!(matches!(e, VaultError::EntryExists { .. }), "{e:?}");
        let e = v
            .edit_entry("acme", "root", new(), Some("../x"))
            .unwrap_err();
        assert!(matches!(e, VaultError::InvalidId(_)), "{e:?}");
        let e = v.edit_entry("acme", "nope", new(), Some("x")).unwrap_err();
        assert!(matches!(e, VaultError::UnknownEntry { .. }), "{e:?}");
        assert!(
            snapshot(v.path()) == before,
            "a refused edit wrote something"
        );
        assert_eq!(v.index().revision, revision);
        assert_eq!(password(&v, "root"), "old");

        v.edit_entry("acme", "root", new(), Some("admin")).unwrap();
        assert_eq!(v.index().revision, revision + 1);
        assert_eq!(password(&v, "admin"), "new");
        assert!(v.client("acme").unwrap().entry("root").is_none());
        let last = v.audit_log().0.pop().unwrap();
        assert_eq!(last.action, AuditAction::EntryRename);
        assert_eq!(last.detail, "root -> admin: password");
        v.rename_entry("acme", "admin", "root").unwrap();
        assert_eq!(v.audit_log().0.pop().unwrap().detail, "admin -> root");
        v.edit_entry("acme", "root", new(), None).unwrap();
        let last = v.audit_log().0.pop().unwrap();
        assert_eq!(
            (last.action, last.detail.as_str()),
            (AuditAction::EntryEdit, "root: password")
        );
    }

    /// Settings are all checked before anything is written, header included; several
    /// at once are one commit with one `settings.change` record; one alone keeps its
    /// own action.
    #[test]
    fn settings_are_checked_first_and_committed_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let before = snapshot(v.path());
        let revision = v.index().revision;
        let all = |name: &str| SettingsChange {
            owner_name: Some(name.into()),
            retention_months: Some(24),
            rotate_every_months: Some(6),
            ..Default::default()
        };
        let e = v.change_settings(all("bad\u{1}")).unwrap_err();
        assert!(matches!(e, VaultError::BadText { .. }), "{e:?}");
        for bad in [
            SettingsChange {
                rotate_every_months: Some(121),
                ..all("Max")
            },
            SettingsChange {
                retention_months: Some(1201),
                ..all("Max")
            },
        ] {
            assert!(v.change_settings(bad).is_err());
        }
        assert!(
            snapshot(v.path()) == before,
            "refused settings wrote something"
        );
        assert_eq!(v.header().rotation.interval_months, 12);

        v.change_settings(all("Max Admin")).unwrap();
        assert_eq!(v.index().revision, revision + 1);
        assert_eq!(v.index().owner.name, "Max Admin");
        assert_eq!(v.index().retention_months, 24);
        assert_eq!(read_header(v.path()).unwrap().rotation.interval_months, 6);
        let last = v.audit_log().0.pop().unwrap();
        assert_eq!(last.action, AuditAction::SettingsChange);
        assert_eq!(
            last.detail,
            "owner name; retention 12 -> 24 months after a client's end; rotation interval 12 -> 6 months"
        );
        v.set_retention_months(36).unwrap();
        assert_eq!(
            v.audit_log().0.pop().unwrap().action,
            AuditAction::SettingsRetention
        );
        // Nothing asked, nothing written.
        v.change_settings(SettingsChange::default()).unwrap();
        assert_eq!(v.index().revision, revision + 2);
    }

    /// A commit that fails after the header was written puts the header back; a write
    /// refused up front (an unfinished rotation) never touches it.
    #[test]
    fn a_failed_settings_commit_puts_the_header_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let header = fs::read(v.path().join("vault.json")).unwrap();
        let change = SettingsChange {
            retention_months: Some(24),
            rotate_every_months: Some(6),
            ..Default::default()
        };
        // The index cannot be replaced (a folder in its place): the commit fails.
        let index = v.commit_point();
        let aside = dir.path().join("index");
        fs::rename(&index, &aside).unwrap();
        fs::create_dir(&index).unwrap();
        fs::write(index.join("x"), b"").unwrap();
        assert!(v.change_settings(change.clone()).is_err());
        assert_eq!(fs::read(v.path().join("vault.json")).unwrap(), header);
        assert_eq!(v.header().rotation.interval_months, 12);
        fs::remove_dir_all(&index).unwrap();
        fs::rename(&aside, &index).unwrap();
        // A pending rotation refuses the write before the header is written.
        let state = v.path().join(crate::store::header::rotation_file(2));
        fs::write(&state, b"").unwrap();
        let e = v.change_settings(change.clone()).unwrap_err();
        assert!(matches!(e, VaultError::RotationPending(2)), "{e:?}");
        assert_eq!(fs::read(v.path().join("vault.json")).unwrap(), header);
        fs::remove_file(&state).unwrap();
        v.change_settings(change).unwrap();
        assert_eq!(read_header(v.path()).unwrap().rotation.interval_months, 6);
    }
}
