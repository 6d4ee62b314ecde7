//! Helpers shared by the library's integration tests.
// Each test crate uses some of them.
#![allow(dead_code)]

use std::fs;
use std::path::Path;

use baton::vault::{InitOptions, Vault};
use baton::{KdfParams, Passphrase};

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
