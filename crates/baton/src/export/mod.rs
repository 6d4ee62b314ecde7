//! Client credential packages (docs/export-format.md): everything one client needs to
//! take over their own systems, as an age file that the standard `age` command opens.

pub mod kdbx;
mod recipients;

pub use recipients::{
    NoRecipient, RecipientChoice, RecipientFileError, dedup_recipients, parse_recipients_file,
};

use std::str::FromStr;

use age::secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::audit::{AuditAction, AuditEvent};
use crate::client::{ClientFile, Entry, EntryKind};
use crate::crypto::secret::{SecretText, json_bytes};
use crate::render::sheet;
pub use crate::render::sheet::{Origin, attachment_path};

/// Version of `credentials.json` (docs/export-format.md#credentials-json).
pub const EXPORT_VERSION: u32 = 1;

/// Someone who may open a package: a public key, never a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageRecipient {
    /// `age1…`
    Age(String),
    /// `ssh-ed25519 …` or `ssh-rsa …` (one line of an OpenSSH public key file)
    Ssh(String),
}

/// Why a recipient was refused. Messages never quote the input: it may be a secret
/// pasted by mistake.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecipientError {
    #[error("this is an age identity (a secret key), not a recipient")]
    IdentityPasted,
    #[error("this is a private key, not a public key")]
    PrivateKeyPasted,
    #[error("not a valid age recipient (age1…)")]
    MalformedAge,
    #[error("age cannot encrypt to SSH keys of type {0} (use ssh-ed25519 or ssh-rsa)")]
    UnsupportedSshKey(String),
    #[error("ssh-rsa keys below 2048 bits are too weak")]
    WeakRsa,
    #[error("not a valid SSH public key ({0})")]
    MalformedSsh(&'static str),
    #[error("not an age recipient (age1…) or an SSH public key (ssh-ed25519/ssh-rsa)")]
    Unknown,
}

impl PackageRecipient {
    /// Parses one recipient: `age1…` or an SSH public key line.
    pub fn parse(text: &str) -> Result<PackageRecipient, RecipientError> {
        let t = text.trim();
        let upper = t.to_ascii_uppercase();
        if upper.starts_with("AGE-SECRET-KEY-") || upper.starts_with("AGE-PLUGIN-") {
            return Err(RecipientError::IdentityPasted);
        }
        if upper.contains("PRIVATE KEY") {
            return Err(RecipientError::PrivateKeyPasted);
        }
        if t.starts_with("age1") {
            return age::x25519::Recipient::from_str(t)
                .map(|r| PackageRecipient::Age(r.to_string()))
                .map_err(|_| RecipientError::MalformedAge);
        }
        let kind = t.split_whitespace().next().unwrap_or("");
        if kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-") {
            use age::ssh::ParseRecipientKeyError as E;
            // Keep only "type base64": the comment is the user's business and may hold
            // an email address that need not travel into the audit log.
            let mut parts = t.split_whitespace();
            let canonical = format!(
                "{} {}",
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("")
            );
            return match age::ssh::Recipient::from_str(&canonical) {
                Ok(_) => Ok(PackageRecipient::Ssh(canonical)),
                Err(E::Unsupported(k)) => Err(RecipientError::UnsupportedSshKey(k)),
                Err(E::Ignore) => Err(RecipientError::UnsupportedSshKey(kind.to_string())),
                Err(E::RsaModulusTooSmall) => Err(RecipientError::WeakRsa),
                Err(E::RsaModulusTooLarge) => {
                    Err(RecipientError::MalformedSsh("RSA key too large"))
                }
                Err(E::Invalid(why)) => Err(RecipientError::MalformedSsh(why)),
                Err(_) => Err(RecipientError::MalformedSsh("unreadable key")),
            };
        }
        Err(RecipientError::Unknown)
    }

    pub fn as_str(&self) -> &str {
        match self {
            PackageRecipient::Age(s) | PackageRecipient::Ssh(s) => s,
        }
    }

    /// What the client can compare: for an SSH key the OpenSSH fingerprint
    /// (`SHA256:` + unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -l`
    /// prints), for an age recipient the recipient itself (a public key).
    pub fn fingerprint(&self) -> String {
        match self {
            PackageRecipient::Age(s) => s.clone(),
            PackageRecipient::Ssh(s) => ssh_fingerprint(s),
        }
    }

    fn to_age(&self) -> Box<dyn age::Recipient + Send> {
        match self {
            PackageRecipient::Age(s) => {
                Box::new(age::x25519::Recipient::from_str(s).expect("validated"))
            }
            PackageRecipient::Ssh(s) => {
                Box::new(age::ssh::Recipient::from_str(s).expect("validated"))
            }
        }
    }
}

fn ssh_fingerprint(key_line: &str) -> String {
    use base64::Engine;
    let blob = key_line.split_whitespace().nth(1).unwrap_or("");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .unwrap_or_default();
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(&bytes))
    )
}

/// How a package is locked.
pub enum Lock<'a> {
    Recipients(&'a [PackageRecipient]),
    /// age's scrypt passphrase recipient; cannot be combined with others (age spec).
    Passphrase(&'a SecretText),
}

// ---------------------------------------------------------------- credentials.json

#[derive(Serialize)]
struct JsonExport<'a> {
    format: &'static str,
    version: u32,
    exported: &'a str,
    from: &'a str,
    client: JsonClient<'a>,
    entries: Vec<EntryView<'a>>,
}

#[derive(Serialize)]
struct JsonClient<'a> {
    id: &'a str,
    name: &'a str,
    contact: &'a str,
    notes: &'a str,
    tags: &'a [String],
}

/// One entry as it appears in `credentials.json` (docs/export-format.md#credentials-json),
/// borrowing from the decrypted entry. `baton get --json` prints the same shape.
#[derive(Serialize)]
pub struct EntryView<'a> {
    name: &'a str,
    kind: EntryKind,
    url: &'a str,
    user: &'a str,
    password: Option<&'a str>,
    totp: Option<&'a str>,
    note: &'a str,
    tags: &'a [String],
    attachments: Vec<JsonAttachment<'a>>,
    created: &'a str,
    updated: &'a str,
}

impl<'a> EntryView<'a> {
    pub fn new(e: &'a Entry) -> Self {
        EntryView {
            name: &e.name,
            kind: e.kind,
            url: &e.url,
            user: &e.user,
            password: e.password.as_ref().map(SecretText::expose),
            totp: e.totp.as_ref().map(SecretText::expose),
            note: &e.note,
            tags: &e.tags,
            attachments: e
                .attachments
                .iter()
                .map(|a| JsonAttachment {
                    name: &a.name,
                    path: attachment_path(&e.name, &a.name),
                    size: a.data.expose().len(),
                    sha256: hex::encode(Sha256::digest(a.data.expose())),
                })
                .collect(),
            created: &e.created,
            updated: &e.updated,
        }
    }
}

#[derive(Serialize)]
struct JsonAttachment<'a> {
    name: &'a str,
    path: String,
    size: usize,
    sha256: String,
}

/// `credentials.json` (docs/export-format.md#credentials-json).
pub fn credentials_json(client: &ClientFile, origin: &Origin) -> Zeroizing<Vec<u8>> {
    let doc = JsonExport {
        format: "baton-export",
        version: EXPORT_VERSION,
        exported: origin.exported,
        from: origin.from,
        client: JsonClient {
            id: &client.id,
            name: &client.name,
            contact: &client.contact,
            notes: &client.notes,
            tags: &client.tags,
        },
        entries: client.entries.iter().map(EntryView::new).collect(),
    };
    json_bytes(&doc)
}

// ---------------------------------------------------------------- the package

/// The folder name inside the archive: `baton-<client>-<YYYY-MM-DD>`.
pub fn package_dir(client: &ClientFile, origin: &Origin) -> String {
    format!(
        "baton-{}-{}",
        client.id,
        crate::time::day_of(origin.exported)
    )
}

/// The unencrypted tar archive (docs/export-format.md#package). Secret: wiped on drop.
pub fn package_tar(client: &ClientFile, origin: &Origin) -> Zeroizing<Vec<u8>> {
    let dir = package_dir(client, origin);
    let mtime = humantime::parse_rfc3339(origin.exported)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut files: Vec<(String, Zeroizing<Vec<u8>>)> = vec![
        (
            format!("{dir}/README.txt"),
            Zeroizing::new(sheet::readme(client, origin).into_bytes()),
        ),
        (
            format!("{dir}/credentials.html"),
            Zeroizing::new(sheet::html(client, origin).as_bytes().to_vec()),
        ),
        (
            format!("{dir}/credentials.json"),
            credentials_json(client, origin),
        ),
    ];
    for e in &client.entries {
        for a in &e.attachments {
            files.push((
                format!("{dir}/{}", attachment_path(&e.name, &a.name)),
                Zeroizing::new(a.data.expose().to_vec()),
            ));
        }
    }
    // Headers (and long-name extensions) take at most 3 blocks per file, data is padded
    // to a block: sized up front so the buffer never reallocates (no unwiped copies).
    let size: usize = files.iter().map(|(_, b)| b.len() + 4 * 512).sum::<usize>()
        + (client.entries.len() + 2) * 3 * 512
        + 2048;
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    {
        let mut builder = tar::Builder::new(&mut *out);
        // Folders first, mode 0700, so that unpacking does not give them umask modes
        // that would show entry names to other local users.
        let mut dirs: Vec<String> = vec![dir.clone(), format!("{dir}/attachments")];
        for e in client.entries.iter().filter(|e| !e.attachments.is_empty()) {
            dirs.push(format!("{dir}/attachments/{}", e.name));
        }
        if dirs.len() == 2 {
            dirs.pop();
        }
        for d in &dirs {
            let mut h = tar::Header::new_ustar();
            h.set_size(0);
            h.set_mode(0o700);
            h.set_mtime(mtime);
            h.set_entry_type(tar::EntryType::Directory);
            builder
                .append_data(&mut h, format!("{d}/"), std::io::empty())
                .expect("writing to memory");
        }
        for (path, bytes) in &files {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o600);
            h.set_mtime(mtime);
            h.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut h, path, bytes.as_slice())
                .expect("writing to memory");
        }
        builder.finish().expect("writing to memory");
    }
    out
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("no recipients: the package would open for nobody")]
    NoRecipients,
    #[error("encryption failed: {0}")]
    Encrypt(String),
    /// The output (`what`: "file" or "folder") is the vault folder, inside it, or
    /// contains it: a package there would sync with the vault (and the vault's own
    /// cleanup removes files it does not know). Refused before anything is written.
    #[error(
        "the export {what} must not be inside the vault{}",
        if *what == "folder" { " (or contain it)" } else { "" }
    )]
    InsideVault {
        what: &'static str,
        path: std::path::PathBuf,
    },
    /// The package could not be written (an existing file, a full disk): nothing was
    /// exported or recorded.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The package was written, but its audit record failed. The package was then
    /// removed again if `removed`, so that no package exists without its record.
    #[error(
        "the package for {client} was written to {}, but its export could not be recorded in the audit log ({source}); {}",
        path.display(),
        if *removed { "the package was removed again" } else { "the package is still there, without its record" }
    )]
    NotRecorded {
        client: String,
        path: std::path::PathBuf,
        removed: bool,
        #[source]
        source: Box<crate::vault::VaultError>,
    },
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}

/// Encrypts `plaintext` for the lock; ASCII-armored when `armor`.
pub fn seal_package(plaintext: &[u8], lock: &Lock, armor: bool) -> Result<Vec<u8>, ExportError> {
    use std::io::Write;
    let encryptor = match lock {
        Lock::Recipients(rs) => {
            if rs.is_empty() {
                return Err(ExportError::NoRecipients);
            }
            let boxed: Vec<Box<dyn age::Recipient + Send>> =
                rs.iter().map(|r| r.to_age()).collect();
            age::Encryptor::with_recipients(boxed.iter().map(|b| b.as_ref() as &dyn age::Recipient))
                .map_err(|e| ExportError::Encrypt(e.to_string()))?
        }
        Lock::Passphrase(p) => {
            age::Encryptor::with_user_passphrase(SecretString::from(p.expose().to_string()))
        }
    };
    let mut out = Vec::with_capacity(plaintext.len() + 1024);
    let format = if armor {
        age::armor::Format::AsciiArmor
    } else {
        age::armor::Format::Binary
    };
    let armored = age::armor::ArmoredWriter::wrap_output(&mut out, format)
        .map_err(|e| ExportError::Encrypt(e.to_string()))?;
    let mut w = encryptor
        .wrap_output(armored)
        .map_err(|e| ExportError::Encrypt(e.to_string()))?;
    w.write_all(plaintext)
        .map_err(|e| ExportError::Encrypt(e.to_string()))?;
    w.finish()
        .and_then(|a| a.finish())
        .map_err(|e| ExportError::Encrypt(e.to_string()))?;
    Ok(out)
}

/// What an export produced, for the caller's report.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub client: String,
    pub entries: usize,
    pub attachments: usize,
    pub fingerprints: Vec<String>,
}

/// The output formats (docs/export-format.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// An age file holding the tar package.
    Age { armor: bool },
    /// The printable sheet alone, unencrypted.
    Html,
    /// A KeePass (KDBX 4) database locked with the passphrase of `Lock::Passphrase`.
    Kdbx,
}

impl ExportFormat {
    /// Whether the package is locked with a generated password rather than to
    /// recipients: asked for, or always for KeePass (KDBX has no public-key lock).
    pub fn locked_by_password(self, asked: bool) -> bool {
        asked || self == ExportFormat::Kdbx
    }
}

/// The file name of a client's package in `export --all`: `baton-<client>-<date>.age`
/// (docs/export-format.md#package).
pub fn package_file_name(client: &str, date: &str) -> String {
    format!("baton-{client}-{date}.age")
}

/// A package ready to write, with what its audit record says.
struct Built {
    bytes: Zeroizing<Vec<u8>>,
    format: &'static str,
    summary: ExportSummary,
}

impl crate::vault::Vault {
    /// Exports one client into the file `target` (docs/export-format.md): refused
    /// before anything is written if `target` is inside the vault folder or the vault
    /// cannot take the record; then the package is written completely under its name
    /// (fsio::write_private: 0600, fsynced, never over an existing file unless
    /// `replace`, and then only over a regular file), and only then is the export
    /// recorded in the audit log (client, format, recipients' fingerprints; never a
    /// secret value), so a record always names a package that was written. If the
    /// record fails, the package is removed again ([`ExportError::NotRecorded`]).
    ///
    /// A vault opened read-only (a colleague's copy on a read-only medium) exports
    /// without a record.
    pub fn export_file(
        &mut self,
        client: &str,
        format: ExportFormat,
        lock: &Lock,
        target: &std::path::Path,
        replace: bool,
    ) -> Result<ExportSummary, ExportError> {
        self.check_export_target("file", target)?;
        let built = self.build_package(client, format, lock)?;
        self.write_and_record(client, built, target, replace)
    }

    /// Refuses an output inside the vault folder, and, where the export will be
    /// recorded, a vault that cannot take the record now (an unfinished rotation, a
    /// damaged audit log): both before anything is written.
    fn check_export_target(
        &self,
        what: &'static str,
        target: &std::path::Path,
    ) -> Result<(), ExportError> {
        if crate::store::fsio::overlaps(self.path(), target) {
            return Err(ExportError::InsideVault {
                what,
                path: target.to_path_buf(),
            });
        }
        if self.is_writable() {
            self.require_write()?;
        }
        Ok(())
    }

    fn build_package(
        &self,
        client: &str,
        format: ExportFormat,
        lock: &Lock,
    ) -> Result<Built, ExportError> {
        use crate::vault::VaultError;
        let file = self.client(client)?;
        let exported = crate::time::now();
        let owner = &self.index().owner;
        let from = match (owner.name.is_empty(), owner.contact.is_empty()) {
            (false, false) => format!("{} <{}>", owner.name, owner.contact),
            (false, true) => owner.name.clone(),
            (true, false) => owner.contact.clone(),
            (true, true) => "your administrator".to_string(),
        };
        let origin = Origin {
            from: &from,
            exported: &exported,
        };
        let (bytes, fmt, fingerprints) = match format {
            ExportFormat::Html => (
                sheet::html(&file, &origin).as_bytes().to_vec(),
                "html",
                vec![],
            ),
            ExportFormat::Kdbx => {
                let Lock::Passphrase(p) = lock else {
                    return Err(VaultError::KdbxNeedsPassword.into());
                };
                let db =
                    crate::export::kdbx::kdbx(&file, &origin, p).map_err(VaultError::Package)?;
                (db, "kdbx", vec!["password".to_string()])
            }
            ExportFormat::Age { armor } => {
                let tar = package_tar(&file, &origin);
                let sealed = seal_package(&tar, lock, armor)?;
                let fps = match lock {
                    Lock::Recipients(rs) => rs.iter().map(PackageRecipient::fingerprint).collect(),
                    Lock::Passphrase(_) => vec!["passphrase".to_string()],
                };
                (sealed, if armor { "age-armor" } else { "age" }, fps)
            }
        };
        Ok(Built {
            bytes: Zeroizing::new(bytes),
            format: fmt,
            summary: ExportSummary {
                client: file.id.clone(),
                entries: file.entries.len(),
                attachments: file.entries.iter().map(|e| e.attachments.len()).sum(),
                fingerprints,
            },
        })
    }

    /// The package first, complete under its name; then its record
    /// (docs/export-format.md#audit).
    fn write_and_record(
        &mut self,
        client: &str,
        built: Built,
        target: &std::path::Path,
        replace: bool,
    ) -> Result<ExportSummary, ExportError> {
        crate::store::fsio::write_private(target, &built.bytes, replace).map_err(|source| {
            ExportError::Write {
                path: target.to_path_buf(),
                source,
            }
        })?;
        drop(built.bytes);
        let summary = built.summary;
        if !self.is_writable() {
            return Ok(summary);
        }
        let detail = format!(
            "format={} entries={} attachments={} to={}",
            built.format,
            summary.entries,
            summary.attachments,
            if summary.fingerprints.is_empty() {
                "plaintext".to_string()
            } else {
                summary.fingerprints.join(",")
            }
        );
        let recorded = self.commit(
            AuditEvent::new(AuditAction::ClientExport, Some(client), detail),
            vec![],
            &[],
        );
        match recorded {
            Ok(()) => Ok(summary),
            Err(source) => {
                // No package without its record: take it back.
                let removed = crate::store::fsio::remove_durable(target).is_ok();
                Err(ExportError::NotRecorded {
                    client: client.to_string(),
                    path: target.to_path_buf(),
                    removed,
                    source: Box::new(source),
                })
            }
        }
    }
}

/// What `export_all` did for one client.
#[derive(Debug)]
pub enum BatchOutcome {
    /// Written to `file` (and recorded where the vault is writable).
    Exported {
        summary: ExportSummary,
        file: std::path::PathBuf,
    },
    /// Why the client was skipped.
    Skipped(NoRecipient),
    /// The export of this client failed and wrote nothing; the others went on.
    Failed(ExportError),
}

impl crate::vault::Vault {
    /// Exports every client that has a usable stored recipient, in index order, or
    /// every client to `to` if given and not empty (`RecipientChoice`), each into
    /// `dir/baton-<client>-<today>.age` like [`Vault::export_file`](crate::vault::Vault::export_file). `dir` is refused
    /// inside the vault before anything is written, and created (0700) if missing; an
    /// existing one keeps its mode. Returns one outcome per client; an integrity problem,
    /// or a package whose record failed and that could not be removed, stops the batch.
    pub fn export_all(
        &mut self,
        armor: bool,
        to: Option<&[PackageRecipient]>,
        dir: &std::path::Path,
        replace: bool,
    ) -> Result<Vec<(String, BatchOutcome)>, ExportError> {
        self.check_export_target("folder", dir)?;
        crate::store::fsio::create_private_dir(dir).map_err(|source| ExportError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let clients: Vec<(String, Vec<String>)> = self
            .catalog()?
            .into_iter()
            .map(|c| (c.id, c.recipients))
            .collect();
        let date = crate::time::today();
        let mut out = Vec::with_capacity(clients.len());
        for (id, stored) in clients {
            let choice = RecipientChoice::new(to.unwrap_or_default(), &stored);
            let outcome = match choice.missing() {
                Some(why) => BatchOutcome::Skipped(why),
                None => {
                    let file = dir.join(package_file_name(&id, &date));
                    let built = self.build_package(
                        &id,
                        ExportFormat::Age { armor },
                        &Lock::Recipients(&choice.recipients),
                    );
                    match built.and_then(|b| self.write_and_record(&id, b, &file, replace)) {
                        Ok(summary) => BatchOutcome::Exported { summary, file },
                        // The vault is not trustworthy: stop.
                        Err(e @ ExportError::Vault(crate::vault::VaultError::Integrity(_))) => {
                            return Err(e);
                        }
                        // A package without its record is left: stop before another.
                        Err(e @ ExportError::NotRecorded { removed: false, .. }) => {
                            return Err(e);
                        }
                        Err(e) => BatchOutcome::Failed(e),
                    }
                }
            };
            out.push((id, outcome));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vault with client `acme` (one entry), and a passphrase lock.
    fn vault(dir: &std::path::Path) -> crate::vault::Vault {
        let mut v = crate::vault::test_vault(&dir.join("v"), "export unit test");
        v.add_client(crate::vault::changes::NewClient {
            id: "acme".into(),
            ..Default::default()
        })
        .unwrap();
        v.add_entry("acme", "ssh", Default::default()).unwrap();
        v
    }

    fn exports(v: &crate::vault::Vault) -> usize {
        v.audit_log()
            .0
            .iter()
            .filter(|r| r.action == AuditAction::ClientExport)
            .count()
    }

    /// The package is written before its record; an output inside the vault or a vault
    /// that cannot take the record is refused before anything is written; a record
    /// that fails takes the package back (red-team finding: records for packages that
    /// existed only as temporary files, or not at all).
    #[test]
    fn a_package_exists_exactly_when_its_record_does() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path());
        let pw = SecretText::new("package password".into());
        let lock = Lock::Passphrase(&pw);
        let age = ExportFormat::Age { armor: false };
        let out = dir.path().join("acme.age");
        v.export_file("acme", age, &lock, &out, false).unwrap();
        assert!(out.is_file());
        assert_eq!(exports(&v), 1);

        // Inside the vault: refused, nothing written, nothing recorded.
        for inside in [v.path().join("acme.age"), v.path().join("clients/x.age")] {
            let e = v
                .export_file("acme", age, &lock, &inside, false)
                .unwrap_err();
            assert!(
                matches!(e, ExportError::InsideVault { what: "file", .. }),
                "{e:?}"
            );
            assert!(!inside.exists());
        }
        let e = v
            .export_all(false, None, &v.path().join("out"), false)
            .unwrap_err();
        assert!(
            matches!(e, ExportError::InsideVault { what: "folder", .. }),
            "{e:?}"
        );
        assert!(!v.path().join("out").exists());
        // An existing file without `replace`: nothing written or recorded.
        let e = v.export_file("acme", age, &lock, &out, false).unwrap_err();
        assert!(matches!(e, ExportError::Write { .. }), "{e:?}");
        assert_eq!(exports(&v), 1);

        // The record fails after the package was written (the index cannot be
        // replaced): the package is taken back.
        let index = v.commit_point();
        let aside = dir.path().join("index");
        std::fs::rename(&index, &aside).unwrap();
        std::fs::create_dir(&index).unwrap();
        std::fs::write(index.join("x"), b"").unwrap();
        let second = dir.path().join("second.age");
        let e = v
            .export_file("acme", age, &lock, &second, false)
            .unwrap_err();
        assert!(
            matches!(e, ExportError::NotRecorded { removed: true, .. }),
            "{e:?}"
        );
        assert!(!second.exists(), "a package without its record");
        std::fs::remove_dir_all(&index).unwrap();
        std::fs::rename(&aside, &index).unwrap();
        assert_eq!(exports(&v), 1);

        // A damaged audit log: refused before the package is written.
        let first = v.own_record_file(1);
        std::fs::remove_file(&first).unwrap();
        let e = v
            .export_file("acme", age, &lock, &second, false)
            .unwrap_err();
        assert!(
            matches!(
                e,
                ExportError::Vault(crate::vault::VaultError::BrokenAuditLog(_))
            ),
            "{e:?}"
        );
        assert!(!second.exists());
    }

    #[test]
    fn keepass_is_always_locked_by_password() {
        assert!(ExportFormat::Kdbx.locked_by_password(false));
        assert!(ExportFormat::Age { armor: false }.locked_by_password(true));
        assert!(!ExportFormat::Age { armor: true }.locked_by_password(false));
        assert!(!ExportFormat::Html.locked_by_password(false));
    }

    #[test]
    fn recipient_parsing_names_the_mistake() {
        let id = age::x25519::Identity::generate();
        let pk = id.to_public().to_string();
        assert_eq!(
            PackageRecipient::parse(&pk),
            Ok(PackageRecipient::Age(pk.clone()))
        );
        use age::secrecy::ExposeSecret;
        assert_eq!(
            PackageRecipient::parse(id.to_string().expose_secret()),
            Err(RecipientError::IdentityPasted)
        );
        assert_eq!(
            PackageRecipient::parse("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl"),
            Err(RecipientError::PrivateKeyPasted)
        );
        assert_eq!(
            PackageRecipient::parse("age1qqqq"),
            Err(RecipientError::MalformedAge)
        );
        assert_eq!(
            PackageRecipient::parse("hello"),
            Err(RecipientError::Unknown)
        );
        // An ECDSA key (valid format, unsupported by age).
        let ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHw5Zy5y8wWH0n0m2p0lq3iVqGZG0t9FmG8W1yG0bkqD+7TUe7sXbVXyM7mkvNMuAHNgVGpKr4YDyAXMNtqgcsQ= x@y";
        assert!(matches!(
            PackageRecipient::parse(ecdsa),
            Err(RecipientError::UnsupportedSshKey(_)) | Err(RecipientError::MalformedSsh(_))
        ));
        let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@rust";
        let r = PackageRecipient::parse(ed).unwrap();
        assert_eq!(
            r.as_str(),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN"
        );
        // As `ssh-keygen -lf` prints it for this key.
        assert_eq!(
            r.fingerprint(),
            "SHA256:PYX4o9UfGwCwG76hFcLAEkmMS0PtIBtV9MNmVgW16Oc"
        );
    }
}
