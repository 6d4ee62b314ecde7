//! baton implements the vault format specified in `docs/format.md`: an encrypted,
//! authenticated credential store of age files, with an owner key wrapped under an
//! Argon2id passphrase and an emergency key split with SLIP-39.
//!
//! This crate never prompts, prints, reads environment variables or exits; the `baton`
//! binary does all of that.

#![forbid(unsafe_code)]

pub mod audit;
pub mod client;
pub mod crypto;
pub mod demo;
pub mod emergency;
pub mod export;
pub mod gdpr;
pub mod generate;
pub mod otp;
pub mod render;
pub mod rotate;
pub mod slip39;
pub mod status;
pub mod store;
pub mod time;
pub mod vault;

pub use audit::{AuditEvent, AuditRecord};
pub use client::{ClientFile, ClientRef, ClientSummary, Entry, EntryKind};
pub use crypto::kdf::KdfParams;
pub use crypto::keys::EmergencySecret;
pub use crypto::secret::{Passphrase, SecretBytes, SecretText};
pub use vault::{Access, InitError, InitOptions, IntegrityError, UnlockError, Vault, VaultError};

/// `s` is exactly `len` lowercase hex digits: the form of every random name and hash
/// the vault stores (docs/format.md#names).
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
