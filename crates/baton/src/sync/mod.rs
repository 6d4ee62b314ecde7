//! Several writers, one vault (docs/format.md#multi-writer): version vectors, the merge
//! of client versions made apart on different devices, and the names sync services
//! give the conflicted copies of a file.
//!
//! Everything here is pure: no files, no keys. The storage layer decides which versions
//! exist; this module decides what they merge to.

mod conflict;
mod merge;
pub mod names;
mod ver;
pub mod writer;

pub use conflict::{Conflict, ConflictSide, ConflictTarget, Resolution, SideValue, conflicts_in};
pub(crate) use merge::same_entry;
pub use merge::{
    ClientVersion, ConflictKind, EntrySide, Merged, ResolveError, StampError, conflicts_of,
    entry_sides, merge_client, resolve_client_kept, resolve_entry, resolve_entry_removed,
    resolve_fields, stamp_change,
};
pub use ver::{LEGACY, Order, Ver, valid_writer};

#[cfg(test)]
mod tests;
