//! Sample clients for `baton demo` and for tests: realistic shapes, fake values
//! (documentation IP ranges RFC 5737, `.example` domains RFC 2606).

use crate::client::EntryKind;
use crate::crypto::secret::{SecretBytes, SecretText};
use crate::export::PackageRecipient;
use crate::vault::changes::{EntryFields, NewClient};
use crate::vault::{Vault, VaultError};

/// A fake OpenSSH private key body used as an attachment in the demo.
pub const DEMO_SSH_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\n\
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n\
(demo key, not a real key)\n\
-----END OPENSSH PRIVATE KEY-----\n";

/// An RFC 6238 test secret ("12345678901234567890"), not a real account.
pub const DEMO_TOTP: &str =
    "otpauth://totp/Registrar:acme?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Registrar";

struct E<'a> {
    name: &'a str,
    kind: EntryKind,
    url: &'a str,
    user: &'a str,
    note: &'a str,
    totp: bool,
}

/// A sample client SSH public key (the client keeps the private half; not a real key).
pub const DEMO_CLIENT_SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";

/// Adds three sample clients with entries, a TOTP seed and an SSH key attachment, and
/// stores package recipients for two of them: a new age identity for `acme` (returned,
/// so the demo can open acme's package) and an SSH key for `verein-nord`.
/// `baeckerei-jung` has none, so `export --all` skips it.
pub fn populate(vault: &mut Vault) -> Result<age::x25519::Identity, VaultError> {
    let clients: [(&str, &str, &str, Vec<E>); 3] = [
        (
            "acme",
            "ACME GmbH",
            "it@acme.example",
            vec![
                E {
                    name: "ssh-root",
                    kind: EntryKind::Server,
                    url: "ssh://203.0.113.7",
                    user: "root",
                    note: "Debian 12, hardened sshd",
                    totp: false,
                },
                E {
                    name: "registrar",
                    kind: EntryKind::Domain,
                    url: "https://registrar.example",
                    user: "acme",
                    note: "billing in March",
                    totp: true,
                },
                E {
                    name: "wp-admin",
                    kind: EntryKind::Cms,
                    url: "https://acme.example/wp-admin",
                    user: "admin",
                    note: "",
                    totp: false,
                },
            ],
        ),
        (
            "baeckerei-jung",
            "Bäckerei Jung",
            "kontakt@baeckerei-jung.example",
            vec![
                E {
                    name: "panel",
                    kind: EntryKind::Panel,
                    url: "https://panel.hoster.example",
                    user: "k12345",
                    note: "",
                    totp: false,
                },
                E {
                    name: "mail",
                    kind: EntryKind::Mail,
                    url: "imaps://mail.baeckerei-jung.example",
                    user: "info@baeckerei-jung.example",
                    note: "",
                    totp: false,
                },
            ],
        ),
        (
            "verein-nord",
            "Sportverein Nord e.V.",
            "vorstand@verein-nord.example",
            vec![
                E {
                    name: "dns",
                    kind: EntryKind::Dns,
                    url: "https://dns.provider.example",
                    user: "verein-nord",
                    note: "",
                    totp: false,
                },
                E {
                    name: "db",
                    kind: EntryKind::Database,
                    url: "mysql://198.51.100.20:3306/verein",
                    user: "verein",
                    note: "backups nightly",
                    totp: false,
                },
            ],
        ),
    ];
    for (id, name, contact, entries) in clients {
        vault.add_client(NewClient {
            id: id.into(),
            name: name.into(),
            contact: contact.into(),
            ..Default::default()
        })?;
        for e in entries {
            vault.add_entry(
                id,
                e.name,
                EntryFields {
                    kind: Some(e.kind),
                    url: Some(e.url.into()),
                    user: Some(e.user.into()),
                    password: Some(crate::generate::password(20, true).0),
                    totp: e.totp.then(|| SecretText::new(DEMO_TOTP.into())),
                    note: Some(e.note.into()),
                    ..Default::default()
                },
            )?;
        }
    }
    vault.attach(
        "acme",
        "ssh-root",
        "id_ed25519",
        SecretBytes::new(DEMO_SSH_KEY.as_bytes().to_vec()),
        false,
    )?;
    vault.set_owner_profile(crate::store::index::OwnerProfile {
        name: "Max Admin".into(),
        contact: "max@admin.example".into(),
        vault_copies: "Nextcloud folder 'baton'; USB stick in the office safe".into(),
        successor: "Erika Beispiel, +49 30 1234567".into(),
    })?;
    let acme_key = age::x25519::Identity::generate();
    let parse =
        |s: &str| PackageRecipient::parse(s).map_err(|e| VaultError::BadRecipient(e.to_string()));
    vault.set_recipients("acme", &[parse(&acme_key.to_public().to_string())?])?;
    vault.set_recipients("verein-nord", &[parse(DEMO_CLIENT_SSH_KEY)?])?;
    Ok(acme_key)
}
