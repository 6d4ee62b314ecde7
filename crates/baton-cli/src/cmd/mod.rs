//! One file per command: each parses nothing (clap did), asks what it must, calls the
//! library and prints.

pub(crate) mod audit;
pub(crate) mod client;
pub(crate) mod conflicts;
pub(crate) mod demo;
pub(crate) mod emergency;
pub(crate) mod entry;
pub(crate) mod export;
pub(crate) mod gdpr;
pub(crate) mod generate;
pub(crate) mod get;
pub(crate) mod init;
pub(crate) mod key;
pub(crate) mod list;
pub(crate) mod man;
pub(crate) mod otp;
pub(crate) mod passwd;
pub(crate) mod resolve;
pub(crate) mod rotate;
pub(crate) mod search;
pub(crate) mod settings;
pub(crate) mod show;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod verify;
pub(crate) mod writers;
