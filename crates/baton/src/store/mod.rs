//! The storage layer (docs/format.md#layout): the files of a vault folder and how each
//! is named, written and checked. Nothing here knows about features (export, rotation,
//! the emergency handover); they build on it.

pub mod catalog;
mod envelope;
mod error;
pub mod fsio;
pub mod head;
pub mod header;
pub mod index;
pub mod locator;
pub mod previous;
pub mod shard;
pub mod survey;

pub use error::IntegrityError;

use sha2::{Digest, Sha256};

pub const CLIENTS_DIR: &str = "clients";

/// Bounds of every read of a vault file (docs/format.md#names): only regular files,
/// never through a symlink, never more than these. A client file holds at most a few
/// attachments of 1 MiB each; a shard about 1/16 of every client's summary.
pub const MAX_CLIENT_FILE_BYTES: u64 = 256 << 20;
pub const MAX_SHARD_BYTES: u64 = 256 << 20;
pub const MAX_ARCHIVE_BYTES: u64 = 1 << 30;

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn is_client_file_name(name: &str) -> bool {
    name.strip_suffix(".age")
        .is_some_and(|fid| crate::is_lower_hex(fid, 32))
}
