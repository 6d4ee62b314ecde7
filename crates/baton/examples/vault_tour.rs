//! Uses the library directly: creates a vault in a temporary folder, stores a
//! credential, reopens it with the passphrase and with two of three shares.
//!
//! Run: `cargo run -p baton --example vault_tour`

use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{Access, InitOptions, Vault};
use baton::{EmergencySecret, EntryKind, KdfParams, Passphrase, SecretText, slip39};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("vault");
    let passphrase = Passphrase::new("an example passphrase, not a good one".into());

    // Shares are handed out inside `init`, before the vault exists; here we keep two.
    let mut two = Vec::new();
    let mut vault = Vault::init(
        &path,
        &passphrase,
        InitOptions {
            policy: baton::emergency::Policy::single(
                vec!["anna".into(), "ben".into(), "carla".into()],
                2,
            ),
            kdf: KdfParams::standard(),
        },
        |_, shares| {
            for s in &shares[1..] {
                two.push(
                    slip39::Mnemonic::parse(s.mnemonic.expose_words())
                        .map_err(|e| e.to_string())?,
                );
            }
            Ok(())
        },
    )?;
    vault.add_client(NewClient {
        id: "acme".into(),
        name: "ACME GmbH".into(),
        ..Default::default()
    })?;
    vault.add_entry(
        "acme",
        "ssh-root",
        EntryFields {
            kind: Some(EntryKind::Server),
            url: Some("ssh://203.0.113.7".into()),
            user: Some("root".into()),
            password: Some(SecretText::new("example-password".into())),
            ..Default::default()
        },
    )?;
    drop(vault);

    let vault = Vault::open(&path, &passphrase, Access::Read)?;
    let entry_user = vault
        .client("acme")?
        .entry("ssh-root")
        .map(|e| e.user.clone());
    println!("owner reads acme/ssh-root, user {entry_user:?}");

    let secret = EmergencySecret::from_bytes(&slip39::combine(&two, b"")?).ok_or("length")?;
    let colleague = Vault::open_emergency(&path, &secret, Access::Read)?;
    println!(
        "colleague with 2 of 3 shares sees {} client(s); integrity problems: {}",
        colleague.clients()?.len(),
        colleague.verify().len()
    );
    Ok(())
}
