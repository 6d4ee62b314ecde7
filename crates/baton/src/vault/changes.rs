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
            cid: hex::encode(rand::random::<[u8; 16]>()),
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
        check_text("owner name", &profile.name, 256)?;
        check_text("owner contact", &profile.contact, 1024)?;
        check_text("vault copies", &profile.vault_copies, 1024)?;
        check_text("successor", &profile.successor, 1024)?;
        self.commit_with(
            AuditEvent::new(AuditAction::VaultOwner, None, ""),
            vec![],
            &[],
            |ix| ix.owner = profile,
        )
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
        if months > 1200 {
            return Err(VaultError::RetentionTooLong);
        }
        let old = self.index().retention_months;
        self.commit_with(
            AuditEvent::new(
                AuditAction::SettingsRetention,
                None,
                format!("retention {old} -> {months} months after a client's end"),
            ),
            vec![],
            &[],
            |ix| ix.retention_months = months,
        )
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

    pub fn edit_entry(
        &mut self,
        client: &str,
        name: &str,
        fields: EntryFields,
    ) -> Result<(), VaultError> {
        fields.check()?;
        let detail = format!("{name}: {}", describe(&fields));
        self.update_entry(client, name, (AuditAction::EntryEdit, detail), |e| {
            fields.apply(e);
            Ok(())
        })
    }

    pub fn rename_entry(
        &mut self,
        client: &str,
        name: &str,
        new_name: &str,
    ) -> Result<(), VaultError> {
        check_id(new_name)?;
        if self
            .client(client)?
            .entries
            .iter()
            .any(|e| e.name == new_name)
        {
            return Err(VaultError::EntryExists {
                client: client.into(),
                entry: new_name.into(),
            });
        }
        let detail = format!("{name} -> {new_name}");
        self.update_entry(client, name, (AuditAction::EntryRename, detail), |e| {
            e.name = new_name.into();
            Ok(())
        })
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
