//! Recovery (docs/recovery.md): with the emergency key rebuilt from shares, check the
//! vault, hand the key over as an age identity file for the standard `age` command,
//! and record that it happened.

use std::path::{Path, PathBuf};

use crate::audit::{AuditAction, AuditEvent};
use crate::crypto::secret::concat_secret;
use crate::store::IntegrityError;
use crate::store::fsio;
use crate::vault::{Vault, VaultError};

/// The name of the key file a recovery writes into its output folder.
pub const EMERGENCY_KEY_FILE: &str = "emergency-key.txt";

/// What a recovery found and did.
#[derive(Debug)]
#[non_exhaustive]
pub struct RecoverReport {
    /// The names of the holders whose shares rebuilt the key, in the order given.
    pub holders: Vec<String>,
    /// Clients in the index; 0 if the locator could not be read (a problem then names it).
    pub clients: usize,
    /// Every problem `verify` found: the rest of the vault is still readable.
    pub problems: Vec<IntegrityError>,
    /// Whether `emergency.recover` is in the audit log. A vault opened read-only (a
    /// copy on a read-only medium) cannot record it, nor can a damaged audit log.
    pub recorded: bool,
    /// The key file written (mode 0600).
    pub key_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// Recovery hands over the emergency key; an owner open has the owner key instead.
    #[error("recovery needs the vault opened with the emergency key")]
    NotEmergency,
    #[error("cannot create {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key file could not be written (it exists already, a full disk): nothing was
    /// recorded.
    #[error("cannot write {path}: {source}")]
    WriteKey {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key file was written, but the audit record failed.
    #[error(transparent)]
    Record(#[from] VaultError),
}

impl Vault {
    /// Recovery with the emergency key that the shares `taken` (group, member) rebuilt
    /// and that opened this vault: checks every file, writes the key as an age
    /// identity file `emergency-key.txt` into `out_dir` (created 0700 if missing; the
    /// file is created new, 0600, never replacing one), and then records
    /// `emergency.recover` where the vault is writable.
    ///
    /// The key file comes before the record: a recovery that could not hand the key
    /// over did not happen. The check comes first, so the report says what the key
    /// opens before anything is written.
    pub fn recover(
        &mut self,
        taken: &[(u8, u8)],
        out_dir: &Path,
    ) -> Result<RecoverReport, RecoverError> {
        if self.is_owner() {
            return Err(RecoverError::NotEmergency);
        }
        let holders = self.holders_of(taken);
        let who = holders.join(", ");
        let problems = self.verify();
        fsio::create_private_dir(out_dir).map_err(|source| RecoverError::CreateDir {
            path: out_dir.to_path_buf(),
            source,
        })?;
        let key_file = out_dir.join(EMERGENCY_KEY_FILE);
        let head = format!(
            "# baton emergency key of vault {}, share set {}\n# rebuilt {} from the shares of {who}\n",
            self.header.vault_id,
            self.header.share_set.id,
            crate::time::now(),
        );
        let text = concat_secret(&[&head, self.identity_file().as_str()]);
        fsio::write_new(&key_file, text.as_bytes()).map_err(|source| RecoverError::WriteKey {
            path: key_file.clone(),
            source,
        })?;
        drop(text);
        // A damaged log takes no record on top (Vault::check_chain_for_write); the key
        // is still handed over, and the report's problems name the damage.
        let recorded = self.is_writable() && self.check_chain_for_write().is_ok();
        if recorded {
            let detail = format!("share set {}: {who}", self.header.share_set.id);
            self.commit(
                AuditEvent::new(AuditAction::EmergencyRecover, None, detail),
                vec![],
                &[],
            )?;
        }
        Ok(RecoverReport {
            holders,
            clients: self.clients().map(|c| c.len()).unwrap_or(0),
            problems,
            recorded,
            key_file,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::crypto::keys::EmergencySecret;
    use crate::emergency::Policy;
    use crate::vault::changes::NewClient;
    use crate::vault::{Access, InitOptions};
    use crate::{KdfParams, Passphrase};

    /// A vault with one client; its emergency key.
    fn vault(dir: &Path) -> (PathBuf, EmergencySecret) {
        let path = dir.join("v");
        let pass = Passphrase::new("correct horse battery staple".into());
        let mut v = Vault::init(
            &path,
            &pass,
            InitOptions {
                policy: Policy::single(vec!["anna".into(), "ben".into(), "carla".into()], 2),
                kdf: KdfParams::insecure_test(),
            },
            |_, _| Ok(()),
        )
        .unwrap();
        v.add_client(NewClient {
            id: "acme".into(),
            name: "ACME".into(),
            ..Default::default()
        })
        .unwrap();
        (path, v.emergency.duplicate())
    }

    fn last_action(v: &Vault) -> (AuditAction, String) {
        let r = v.audit_log().0.pop().unwrap();
        (r.action, r.detail)
    }

    #[test]
    fn writes_the_key_file_then_records() {
        let dir = tempfile::tempdir().unwrap();
        let (path, e) = vault(dir.path());
        let mut v = Vault::open_emergency(&path, &e, Access::Write).unwrap();
        let out = dir.path().join("out");
        let r = v.recover(&[(0, 2), (0, 0)], &out).unwrap();
        assert_eq!(r.holders, ["carla", "anna"]);
        assert_eq!((r.clients, r.problems.len(), r.recorded), (1, 0, true));
        assert_eq!(r.key_file, out.join("emergency-key.txt"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&out), mode(&r.key_file)), (0o700, 0o600));
        let text = std::fs::read_to_string(&r.key_file).unwrap();
        let set = &v.header().share_set.id;
        assert!(text.starts_with(&format!(
            "# baton emergency key of vault {}, share set {set}\n# rebuilt ",
            v.header().vault_id
        )));
        assert!(text.contains(" from the shares of carla, anna\n# baton emergency identity"));
        // The file is the emergency identity, for `age -d -i`.
        let id = text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-1"));
        assert_eq!(
            id.unwrap()
                .parse::<age::x25519::Identity>()
                .unwrap()
                .to_public(),
            e.identity().to_public()
        );
        assert_eq!(
            last_action(&v),
            (
                AuditAction::EmergencyRecover,
                format!("share set {set}: carla, anna")
            )
        );
        // A second recovery into the same folder never replaces the key file, and
        // records nothing.
        let head = v.index().audit_head.seq;
        assert!(matches!(
            v.recover(&[(0, 1), (0, 0)], &out),
            Err(RecoverError::WriteKey { .. })
        ));
        assert_eq!(v.index().audit_head.seq, head);
        assert_eq!(std::fs::read_to_string(&r.key_file).unwrap(), text);
    }

    #[test]
    fn a_read_only_open_writes_the_key_but_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (path, e) = vault(dir.path());
        let mut v = Vault::open_emergency(&path, &e, Access::Read).unwrap();
        let head = v.index().audit_head.seq;
        let r = v
            .recover(&[(0, 0), (0, 1)], &dir.path().join("out"))
            .unwrap();
        assert!(!r.recorded);
        assert!(r.key_file.is_file());
        let v = Vault::open_emergency(&path, &e, Access::Read).unwrap();
        assert_eq!(v.index().audit_head.seq, head);
    }

    #[test]
    fn problems_are_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let (path, e) = vault(dir.path());
        // Damage the client file: recovery still hands the key over.
        let file = {
            let v = Vault::open_emergency(&path, &e, Access::Read).unwrap();
            v.clients().unwrap()[0].file.clone()
        };
        std::fs::write(path.join(crate::store::CLIENTS_DIR).join(file), b"junk").unwrap();
        let mut v = Vault::open_emergency(&path, &e, Access::Write).unwrap();
        let r = v
            .recover(&[(0, 0), (0, 1)], &dir.path().join("out"))
            .unwrap();
        assert!(!r.problems.is_empty());
        assert!(r.key_file.is_file() && r.recorded);
    }

    /// A damaged audit log takes no record on top (Vault::check_chain_for_write), but
    /// the colleague still gets the key, and the report names the damage.
    #[test]
    fn a_damaged_audit_log_gets_no_record_but_the_key_is_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let (path, e) = vault(dir.path());
        let first = Vault::open_emergency(&path, &e, Access::Read)
            .unwrap()
            .own_record_file(1);
        std::fs::remove_file(first).unwrap();
        let mut v = Vault::open_emergency(&path, &e, Access::Write).unwrap();
        let head = v.index().audit_head.seq;
        let r = v
            .recover(&[(0, 0), (0, 1)], &dir.path().join("out"))
            .unwrap();
        assert!(r.key_file.is_file());
        assert!(!r.recorded);
        assert!(
            r.problems.iter().any(|p| matches!(
                p,
                IntegrityError::Audit(crate::audit::AuditProblem::Missing(1))
            )),
            "{:?}",
            r.problems
        );
        assert_eq!(v.index().audit_head.seq, head);
    }

    #[test]
    fn refused_with_the_owner_key_and_for_a_file_as_folder() {
        let dir = tempfile::tempdir().unwrap();
        let (path, e) = vault(dir.path());
        let pass = Passphrase::new("correct horse battery staple".into());
        let mut v = Vault::open(&path, &pass, Access::Write).unwrap();
        let out = dir.path().join("out");
        assert!(matches!(
            v.recover(&[], &out),
            Err(RecoverError::NotEmergency)
        ));
        assert!(!out.exists());
        drop(v);
        std::fs::write(&out, b"").unwrap();
        let mut v = Vault::open_emergency(&path, &e, Access::Write).unwrap();
        assert!(matches!(
            v.recover(&[(0, 0), (0, 1)], &out),
            Err(RecoverError::CreateDir { .. })
        ));
    }
}
