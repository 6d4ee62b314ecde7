//! baton implements the vault format specified in `docs/format.md`: an encrypted,
//! authenticated credential store of age files, with an owner key wrapped under an
//! Argon2id passphrase and an emergency key split with SLIP-39.
//!
//! This crate never prompts, prints, reads environment variables or exits; the `baton`
//! binary does all of that.

#![forbid(unsafe_code)]

pub mod audit;
pub mod catalog;
pub mod changes;
pub mod client;
pub mod demo;
pub mod emergency;
pub mod export;
pub mod fsio;
pub mod gdpr;
pub mod generate;
pub mod header;
pub mod index;
pub mod kdbx;
pub mod kdf;
pub mod keys;
pub mod kit;
pub mod locator;
pub mod otp;
pub mod rotate;
pub mod seal;
pub mod secret;
pub mod shard;
pub mod sheet;
pub mod slip39;
pub mod vault;

pub use audit::{AuditEvent, AuditRecord};
pub use client::{ClientFile, ClientRef, ClientSummary, Entry, EntryKind};
pub use kdf::KdfParams;
pub use keys::EmergencySecret;
pub use secret::{Passphrase, SecretBytes, SecretText};
pub use vault::{Access, InitError, InitOptions, IntegrityError, UnlockError, Vault, VaultError};

/// `s` is exactly `len` lowercase hex digits: the form of every random name and hash
/// the vault stores (docs/format.md#names).
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
