//! Printable pages: the client sheet and package README (docs/export-format.md) and the
//! holders' kits (docs/format.md#kits).

pub mod kit;
pub mod sheet;
