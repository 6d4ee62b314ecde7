//! Helpers shared by the library's integration tests.
// Each test crate uses some of them.
#![allow(dead_code)]

use std::fs;
use std::path::Path;

use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{InitOptions, Vault};
use baton::{KdfParams, Passphrase, SecretText};

/// A new vault at `path` under `pass`: holders anna and ben, both needed, and the fast
/// test key derivation.
pub fn init_vault(path: &Path, pass: &Passphrase) -> Vault {
    Vault::init(
        path,
        pass,
        InitOptions {
            policy: baton::emergency::Policy::single(vec!["anna".into(), "ben".into()], 2),
            kdf: KdfParams::insecure_test(),
        },
        |_, _| Ok(()),
    )
    .unwrap()
}

/// Copies a folder tree (a vault) file by file.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for d in fs::read_dir(from).unwrap() {
        let d = d.unwrap();
        if d.file_type().unwrap().is_dir() {
            copy_tree(&d.path(), &to.join(d.file_name()));
        } else {
            fs::copy(d.path(), to.join(d.file_name())).unwrap();
        }
    }
}

/// Adds client `id` with entry `root` whose password is `secret` (two commits: the
/// client, then its entry).
pub fn add_with_root(v: &mut Vault, id: &str, secret: &str) {
    v.add_client(NewClient {
        id: id.into(),
        ..Default::default()
    })
    .unwrap();
    set_root_password(v, id, secret);
}

/// Sets `id/root`'s password, adding the entry if the client has none.
pub fn set_root_password(v: &mut Vault, id: &str, password: &str) {
    let fields = EntryFields {
        password: Some(SecretText::new(password.to_string())),
        ..Default::default()
    };
    let has = v.client(id).unwrap().entry("root").is_some();
    match has {
        true => v.edit_entry(id, "root", fields, None),
        false => v.add_entry(id, "root", fields),
    }
    .unwrap();
}

/// `id/root`'s password, empty if it has none.
pub fn root_password(v: &Vault, id: &str) -> String {
    entry_password(v, id, "root")
}

/// `client/entry`'s password, empty if it has none.
pub fn entry_password(v: &Vault, client: &str, entry: &str) -> String {
    v.client(client)
        .unwrap()
        .entry(entry)
        .and_then(|e| e.password.as_ref().map(|p| p.expose().to_string()))
        .unwrap_or_default()
}
