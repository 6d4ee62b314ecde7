//! Reading clients (docs/format.md#opening): locator, catalog and client files, each
//! checked against the index.

use zeroize::Zeroizing;

use crate::client::{ClientFile, ClientRef};
use crate::store::index::IndexBody;

use super::Vault;
use super::error::*;
use super::read_header;
use crate::store::IntegrityError;
use crate::store::{CLIENTS_DIR, is_client_file_name, sha256_hex};

impl Vault {
    /// Reads one client's file and checks it against the index.
    pub fn client(&self, id: &str) -> Result<ClientFile, VaultError> {
        let first = self.locate(id).and_then(|s| Ok(self.read_client(&s)?));
        self.or_fresh(first, |fresh| {
            let s = self
                .locate_in(fresh, id)?
                .ok_or_else(|| VaultError::UnknownClient(id.to_string()))?;
            Ok(self.read_client(&s)?)
        })
    }

    /// A reader holds no lock: when a read fails its integrity check, a writer may have
    /// committed meanwhile and removed the files this (older) index names. Then `again`
    /// runs against the newer index; only if the index on disk is unchanged is the
    /// problem real.
    pub(crate) fn or_fresh<T>(
        &self,
        first: Result<T, VaultError>,
        again: impl FnOnce(&IndexBody) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        match first {
            Err(VaultError::Integrity(e)) if self.lock.is_none() => {
                // A rotation replaced every file and the keys: this open cannot follow.
                if let Ok(h) = read_header(&self.path)
                    && h.generation > self.header.generation
                {
                    return Err(VaultError::RotatedMeanwhile(h.generation));
                }
                match self.fresh_state() {
                    Some(fresh) => again(&fresh),
                    None => Err(e.into()),
                }
            }
            other => other,
        }
    }

    /// The state on disk now, if a writer committed since this handle read it and it is
    /// one head (or index) a reader can follow.
    pub(crate) fn fresh_state(&self) -> Option<IndexBody> {
        if !self.is_multi_writer() {
            return self
                .read_index()
                .ok()
                .filter(|fresh| fresh.revision > self.index.revision);
        }
        let heads = self.read_heads().ok()?;
        let bodies: Vec<_> = heads.into_iter().map(|h| h.body).collect();
        let up = crate::store::head::uncovered(&bodies);
        let [one] = up[..] else { return None };
        let seen = self
            .heads
            .as_ref()
            .map(|h| h.seen.clone())
            .unwrap_or_default();
        (bodies[one].seen != seen).then(|| bodies[one].index.clone())
    }

    pub(crate) fn read_client(&self, s: &ClientRef) -> Result<ClientFile, IntegrityError> {
        // A client merged in memory from several heads (docs/format.md#merge).
        if s.file.is_empty()
            && let Some(f) = self.merged.as_ref().and_then(|m| m.files.get(&s.cid))
        {
            return serde_json::from_slice(&crate::crypto::secret::json_bytes(f)).map_err(|_| {
                IntegrityError::ClientUnreadable {
                    client: s.id.clone(),
                }
            });
        }
        let plain = self.client_plaintext(s)?;
        let file: ClientFile =
            serde_json::from_slice(&plain).map_err(|_| IntegrityError::ClientUnreadable {
                client: s.id.clone(),
            })?;
        self.check_client_names(s, [&file.format, &file.vault_id, &file.cid, &file.id])?;
        Ok(file)
    }

    /// A client file's plaintext, checked like `read_client` but without parsing more
    /// than the names: rotation copies the plaintext unchanged.
    pub(crate) fn read_client_plain(
        &self,
        s: &ClientRef,
    ) -> Result<Zeroizing<Vec<u8>>, IntegrityError> {
        if s.file.is_empty()
            && let Some(f) = self.merged.as_ref().and_then(|m| m.files.get(&s.cid))
        {
            return Ok(crate::crypto::secret::json_bytes(f));
        }
        #[derive(serde::Deserialize)]
        struct Names<'a> {
            format: &'a str,
            vault_id: &'a str,
            cid: &'a str,
            id: &'a str,
        }
        let plain = self.client_plaintext(s)?;
        let n: Names =
            serde_json::from_slice(&plain).map_err(|_| IntegrityError::ClientUnreadable {
                client: s.id.clone(),
            })?;
        self.check_client_names(s, [n.format, n.vault_id, n.cid, n.id])?;
        Ok(plain)
    }

    /// Reads a client file, checks its bytes against the index's SHA-256 and decrypts it.
    pub(super) fn client_plaintext(
        &self,
        s: &ClientRef,
    ) -> Result<Zeroizing<Vec<u8>>, IntegrityError> {
        let client = s.id.clone();
        // The index is authenticated, but a path built from it must still stay inside
        // clients/ (docs/format.md#layout).
        if !is_client_file_name(&s.file) {
            return Err(IntegrityError::ClientMismatch { client });
        }
        let p = self.path.join(CLIENTS_DIR).join(&s.file);
        let bytes = crate::store::fsio::read_bounded(&p, crate::store::MAX_CLIENT_FILE_BYTES)
            .map_err(|_| IntegrityError::ClientMissing {
                client: client.clone(),
                file: format!("{CLIENTS_DIR}/{}", s.file),
            })?;
        if sha256_hex(&bytes) != s.sha256 {
            return Err(IntegrityError::ClientModified { client });
        }
        self.decrypt_file(&bytes)
            .map_err(|_| IntegrityError::ClientUnreadable { client })
    }

    /// The file must name the format, vault, cid and client id the index expects.
    pub(super) fn check_client_names(
        &self,
        s: &ClientRef,
        [format, vault_id, cid, id]: [&str; 4],
    ) -> Result<(), IntegrityError> {
        // The header's id, not the index's: while several heads are merged at open the
        // state's index is not set yet (check_state ties both to the header).
        if format != ClientFile::FORMAT
            || vault_id != self.header.vault_id
            || cid != s.cid
            || id != s.id
        {
            return Err(IntegrityError::ClientMismatch {
                client: s.id.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use crate::crypto::secret::Passphrase;
    use crate::vault::changes::{EntryFields, NewClient};
    use crate::vault::{Access, Vault};

    const PASS: &str = "two folders, one entry";

    fn copy_new_files(from: &Path, to: &Path) {
        for d in ["clients", "audit", "heads"] {
            for e in fs::read_dir(from.join(d)).unwrap().flatten() {
                let target = to.join(d).join(e.file_name());
                if !target.exists() {
                    fs::copy(e.path(), target).unwrap();
                }
            }
        }
    }

    fn edit(v: &mut Vault, user: &str) {
        let fields = EntryFields {
            user: Some(user.into()),
            ..Default::default()
        };
        v.edit_entry("acme", "web", fields, None).unwrap();
    }

    /// Regression: the merge at open read the versions' client files before the
    /// state's index was set, and refused each one as "belongs to another client or
    /// vault" (found by `baton sync`, crates/baton-cli/tests/git_sync.rs).
    #[test]
    fn one_entry_edited_in_two_folders_opens_as_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut v = crate::vault::test_vault(&a, PASS);
        v.add_client(NewClient {
            id: "acme".into(),
            ..Default::default()
        })
        .unwrap();
        v.add_entry("acme", "web", EntryFields::default()).unwrap();
        drop(v);
        fs::create_dir_all(&b).unwrap();
        for d in ["clients", "audit", "heads"] {
            fs::create_dir_all(b.join(d)).unwrap();
        }
        fs::copy(a.join("vault.json"), b.join("vault.json")).unwrap();
        copy_new_files(&a, &b);
        let pass = Passphrase::new(PASS.into());
        edit(&mut Vault::open(&a, &pass, Access::Write).unwrap(), "on-a");
        edit(&mut Vault::open(&b, &pass, Access::Write).unwrap(), "on-b");
        copy_new_files(&b, &a);
        let v = Vault::open(&a, &pass, Access::Read).unwrap();
        assert_eq!(v.conflicted_clients(), vec!["acme".to_string()]);
    }
}
