//! Writer ids (docs/format.md#writers): one per vault folder on one machine, so that a
//! writer can tell the files it wrote (their names start with its id) from another
//! device's, and remove its own leftovers without touching another device's change
//! that is still syncing.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Reads a small system file (bounded), trimmed; `None` if absent or empty.
fn small_file(path: &str) -> Option<String> {
    let mut s = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(256)
        .read_to_string(&mut s)
        .ok()?;
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// This machine's identity as the system gives it: the machine id and the host name.
fn machine() -> String {
    let id = small_file("/etc/machine-id").or_else(|| small_file("/var/lib/dbus/machine-id"));
    let host = small_file("/proc/sys/kernel/hostname").or_else(|| small_file("/etc/hostname"));
    match (id, host) {
        (None, None) => {
            // Nothing to tell this machine by: a new id each time, so leftovers of an
            // earlier run are reported rather than taken for this writer's.
            hex::encode(rand::random::<[u8; 16]>())
        }
        (id, host) => format!("{}\n{}", id.unwrap_or_default(), host.unwrap_or_default()),
    }
}

/// The writer id of `folder` of vault `vault_id` on this machine: 16 lowercase hex
/// digits of SHA-256 over the vault id, the machine id, the host name and the resolved
/// folder path. The same folder on the same machine always gets the same id, with no
/// state to keep; a copy of the folder elsewhere, or another machine, gets another.
pub fn derive(vault_id: &str, folder: &Path) -> String {
    if crate::replay::active() {
        return replayed(vault_id, folder);
    }
    let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    let mut h = Sha256::new();
    h.update(b"baton-writer/1\n");
    h.update(vault_id.as_bytes());
    h.update(b"\n");
    h.update(machine().as_bytes());
    h.update(b"\n");
    h.update(folder.as_os_str().as_encoded_bytes());
    hex::encode(&h.finalize()[..8])
}

/// The writer id of `folder` of vault `vault_id` under a secret this machine keeps
/// (the `baton` command keeps one beside its rollback memory): 16 hex digits of
/// HMAC-SHA256(secret, `"baton-writer/2\n"` || vault id || `"\n"` || resolved folder).
/// Unlike [`derive()`], it says nothing about the machine to whoever reads the folder,
/// and cloned machines differ unless their state folder was cloned too.
pub fn derive_keyed(secret: &[u8; 32], vault_id: &str, folder: &Path) -> String {
    if crate::replay::active() {
        return replayed(vault_id, folder);
    }
    use hmac::{Hmac, Mac};
    let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    m.update(b"baton-writer/2\n");
    m.update(vault_id.as_bytes());
    m.update(b"\n");
    m.update(folder.as_os_str().as_encoded_bytes());
    hex::encode(&m.finalize().into_bytes()[..8])
}

/// The writer id of `folder` in a replayed simulator run (`crate::replay`): from the
/// vault id and the folder's own name, so that it is the same in every run.
fn replayed(vault_id: &str, folder: &Path) -> String {
    let mut h = Sha256::new();
    h.update(b"baton-writer/replay\n");
    h.update(vault_id.as_bytes());
    h.update(b"\n");
    h.update(folder.file_name().unwrap_or_default().as_encoded_bytes());
    hex::encode(&h.finalize()[..8])
}

/// A new file name in `clients/` for `writer`: its id and 16 random hex digits.
pub fn new_file_name(writer: &str) -> String {
    format!(
        "{writer}{}.age",
        hex::encode(crate::replay::id_bytes::<8>())
    )
}

/// Whether `name` (in `clients/`) was written by `writer`.
pub fn written_by(name: &str, writer: &str) -> bool {
    writer.len() == 16 && name.starts_with(writer) && crate::store::is_client_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_per_folder_and_machine() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        let w = derive(id, &a);
        assert!(crate::is_lower_hex(&w, 16));
        assert_eq!(w, derive(id, &a), "stable");
        assert_eq!(w, derive(id, &dir.path().join("b/../a")), "resolved");
        assert_ne!(w, derive(id, &b), "a copy elsewhere is another writer");
        assert_ne!(w, derive("fedcba9876543210fedcba9876543210", &a));
        let f = new_file_name(&w);
        assert!(written_by(&f, &w) && !written_by(&f, &derive(id, &b)));
        assert!(crate::store::is_client_file_name(&f));
        assert!(!written_by(&format!("{w}.age"), &w));
        let k = derive_keyed(&[7; 32], id, &a);
        assert!(crate::is_lower_hex(&k, 16));
        assert_eq!(k, derive_keyed(&[7; 32], id, &a));
        assert_ne!(
            k,
            derive_keyed(&[8; 32], id, &a),
            "another machine's secret"
        );
        assert_ne!(k, derive_keyed(&[7; 32], id, &b));
    }
}
