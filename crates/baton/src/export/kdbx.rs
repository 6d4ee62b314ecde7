//! KeePass (KDBX 4) client packages, for clients who keep their access data in
//! KeePassXC (docs/export-format.md#kdbx).

use keepass::config::{DatabaseConfig, KdfConfig};
use keepass::db::{Value, fields};
use keepass::{Database, DatabaseKey};

use crate::client::ClientFile;
use crate::crypto::secret::SecretText;
use crate::export::Origin;

/// Argon2id as KeePassXC's own default for new databases (64 MiB, 2 lanes), with
/// enough passes that one unlock costs a noticeable fraction of a second.
fn config() -> Result<DatabaseConfig, String> {
    let mut cfg = DatabaseConfig::default();
    // The Argon2 version type belongs to the keepass crate's own argon2 dependency:
    // take it from the default rather than naming that crate here, and refuse to write
    // a database with any other KDF than the one chosen here.
    let version = match cfg.kdf_config {
        KdfConfig::Argon2 { version, .. } | KdfConfig::Argon2id { version, .. } => version,
        _ => return Err("unexpected KeePass default key derivation".into()),
    };
    cfg.kdf_config = KdfConfig::Argon2id {
        iterations: 10,
        memory: 64 * 1024 * 1024,
        parallelism: 2,
        version,
    };
    Ok(cfg)
}

/// A KDBX 4 database with one group for the client and one entry per system, locked
/// with `password`. (Ciphertext; the keepass crate's own intermediate buffers are not
/// wiped, see docs/threat-model.md.)
pub fn kdbx(
    client: &ClientFile,
    origin: &Origin,
    password: &SecretText,
) -> Result<Vec<u8>, String> {
    let mut db = Database::new();
    db.config = config()?;
    db.meta.database_name = Some(format!("baton: {}", client.name));
    db.meta.database_description = Some(format!(
        "Zugangsdaten / access data, von / from {}, {}",
        origin.from, origin.exported
    ));
    let mut root = db.root_mut();
    root.name = "baton".into();
    let mut group = root.add_group();
    group.name = client.name.clone();
    let mut notes = vec![format!("id: {}", client.id)];
    if !client.contact.is_empty() {
        notes.push(format!("contact: {}", client.contact));
    }
    if !client.notes.is_empty() {
        notes.push(client.notes.clone());
    }
    group.notes = Some(notes.join("\n"));
    for e in &client.entries {
        let mut entry = group.add_entry();
        entry.set_unprotected(fields::TITLE, e.name.clone());
        entry.set_unprotected(fields::USERNAME, e.user.clone());
        entry.set_unprotected(fields::URL, e.url.clone());
        if let Some(p) = &e.password {
            entry.set_protected(fields::PASSWORD, p.expose().to_string());
        }
        if let Some(t) = &e.totp {
            // KeePassXC reads the otpauth URI from the "otp" attribute.
            entry.set_protected(fields::OTP, t.expose().to_string());
        }
        let mut note = format!("kind: {}", e.kind.as_str());
        if !e.note.is_empty() {
            note.push('\n');
            note.push_str(&e.note);
        }
        entry.set_unprotected(fields::NOTES, note);
        entry.tags = e.tags.clone();
        for a in &e.attachments {
            entry.add_attachment(a.name.clone(), Value::protected(a.data.expose().to_vec()));
        }
    }
    let mut out = Vec::new();
    db.save(
        &mut out,
        DatabaseKey::new().with_password(password.expose()),
    )
    .map_err(|e| format!("cannot write the KeePass database: {e}"))?;
    Ok(out)
}
