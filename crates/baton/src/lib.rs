//! baton implements the vault format specified in `docs/format.md`: an encrypted,
//! authenticated credential store of age files, with an owner key wrapped under an
//! Argon2id passphrase and an emergency key split with SLIP-39.
//!
//! This crate never prompts, prints, reads environment variables or exits; the `baton`
//! binary does all of that.
//!
//! # The tree
//!
//! Lower layers never import higher ones:
//!
//! | layer | modules | concern |
//! |---|---|---|
//! | primitives | [`crypto`], [`slip39`], [`time`], [`audit`], [`client`], [`sync`] | keys and secrets, share math, dates, audit records, the client data model, versions and the merge of versions made apart |
//! | storage | `store` (internal; its public types are re-exported here, its file helpers in [`fs`]) | the files of a vault folder: header, index, locator, catalog, shards, atomic writes |
//! | the vault | [`vault`] | open, read, commit, verify, passphrase change, rollback memory |
//! | features | [`emergency`], [`rotate`], [`export`], [`gdpr`], [`status`], [`git`] | the handover, key rotation, client packages, GDPR duties, what needs attention, `baton sync` through git |
//! | output | [`render`] | printable pages: client sheets, holders' kits |
//!
//! # Example
//!
//! ```
//! use baton::emergency::Policy;
//! use baton::vault::changes::{EntryFields, NewClient};
//! use baton::{Access, InitOptions, KdfParams, Passphrase, SecretText, Vault};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("vault");
//! let passphrase = Passphrase::new("correct horse battery staple".into());
//! let policy = Policy::single(vec!["anna".into(), "ben".into(), "carla".into()], 2);
//! // `deliver` gets the holders' shares before the vault exists (here: dropped).
//! let mut vault = Vault::init(
//!     &path,
//!     &passphrase,
//!     InitOptions { policy, kdf: KdfParams::insecure_test() },
//!     |_, _shares| Ok(()),
//! )?;
//! vault.add_client(NewClient { id: "acme".into(), name: "ACME GmbH".into(), ..Default::default() })?;
//! vault.add_entry(
//!     "acme",
//!     "ssh-root",
//!     EntryFields {
//!         user: Some("root".into()),
//!         password: Some(SecretText::new("hunter2".into())),
//!         ..Default::default()
//!     },
//! )?;
//! drop(vault);
//!
//! let vault = Vault::open(&path, &passphrase, Access::Read)?;
//! let client = vault.client("acme")?;
//! let entry = client.entry("ssh-root").expect("stored above");
//! assert_eq!(entry.user, "root");
//! assert!(vault.verify().is_empty());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod audit;
pub mod client;
pub mod crypto;
pub mod demo;
pub mod emergency;
pub mod export;
pub mod gdpr;
pub mod generate;
pub mod git;
pub mod otp;
pub mod render;
#[doc(hidden)]
pub mod replay;
pub mod rotate;
pub mod slip39;
pub mod status;
#[doc(hidden)]
pub mod store;
pub mod sync;
pub mod time;
pub mod vault;

pub use audit::{AuditEvent, AuditRecord};
pub use client::{ClientFile, ClientRef, ClientSummary, Entry, EntryKind};
pub use crypto::kdf::KdfParams;
pub use crypto::keys::EmergencySecret;
pub use crypto::secret::{Passphrase, SecretBytes, SecretText};
pub use status::{Finding, Severity, Verdict};
pub use store::header::{Header, Recipients, RetiredSet, ShareCheck, ShareGroup, ShareSet};
pub use store::index::{Holder, IndexBody, OwnerProfile};
pub use vault::{Access, InitError, InitOptions, IntegrityError, UnlockError, Vault, VaultError};

/// File writing with the vault's durability and modes (docs/format.md#writes), for
/// callers that write kits, packages and reports: private folders (0700), files
/// created exclusively (0600), atomic replacement.
pub mod fs {
    pub use crate::store::fsio::{
        DIR_MODE, FILE_MODE, WriteLock, create_private_dir, file_url, is_read_only_folder,
        overlaps, resolve, write_atomic, write_new, write_private,
    };
    /// Test hooks at every step that changes the disk (crash and error injection).
    #[doc(hidden)]
    pub use crate::store::fsio::{set_error_hook, set_fault_hook};
}

/// `s` is exactly `len` lowercase hex digits: the form of every random name and hash
/// the vault stores (docs/format.md#names).
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
