//! Every user-facing error and hint, in one place so they can be tested and later
//! translated. Style (Go age): lowercase, no trailing period, one line each.

use baton::KdfParams;
use baton::crypto::kdf::KdfRequestError;
use baton::status::Finding;
use baton::vault::{InitError, IntegrityError, UnlockError, VaultError};
use std::fmt;

/// Exit codes (documented in `--help` and the README).
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_AUTH: i32 = 3;
pub const EXIT_INTEGRITY: i32 = 4;
pub const EXIT_LOCKED: i32 = 5;

/// An error ready to print: message, optional hint, exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
    pub code: i32,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: None,
            code: EXIT_ERROR,
        }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

pub const HINT_VAULT: &str = "give the vault folder with --vault DIR or BATON_VAULT";
pub const HINT_VERIFY: &str =
    "run 'baton verify' for a full report; restore the named files from a backup you trust";

/// Why new Argon2id costs were refused. `raising`: by `rotate --kdf`, whose rule is
/// "never lower" (its range errors get no minimum hint: they are about the maximum).
pub fn kdf_refused(e: &KdfRequestError, raising: bool) -> Failure {
    match e {
        KdfRequestError::Invalid(_) if !raising => Failure::new(e.to_string()).hint(format!(
            "use at least --kdf-memory {} --kdf-time {} (RFC 9106)",
            KdfParams::STANDARD_M_KIB / 1024,
            KdfParams::STANDARD_T
        )),
        KdfRequestError::WouldLower { .. } => {
            Failure::new("--kdf would lower the argon2id parameters").hint(
                "rotate --kdf only raises them; use 'baton passwd --kdf-memory/--kdf-time' to lower them on purpose",
            )
        }
        _ => Failure::new(e.to_string()),
    }
}

pub const HINT_ROTATION_PENDING: &str = "run 'baton rotate --resume' to finish it, or 'baton rotate --abort' to undo it (nothing is lost either way)";

/// Printed after every rotation (issue: be honest about what rotation can revoke).
pub const ROTATION_LIMITS: &str = "\
what rotation cannot revoke: copies made before it stay readable with the old keys.
purge them, or treat them as readable by whoever had the old keys:
  - backups and snapshots of the vault folder (borg, restic, Time Machine, ...)
  - git history, if the vault is kept in git
  - the trash and file versions of the sync service (Nextcloud, Dropbox, Syncthing)
  - escrow copies on USB sticks or with share holders
  - client packages and exports already handed out (they have their own keys)";

/// Printed after `purge --confirm`: what the vault cannot delete.
pub const PURGE_COPIES: &str = "\
the vault no longer holds these clients, but copies made earlier may still:
  - packages and sheets exported to the client or to you (listed above where recorded)
  - escrow copies of the vault (USB sticks, holders' or colleagues' copies)
  - git history, if the vault is kept in git
  - the trash and file versions of the sync service (Nextcloud, Dropbox, Syncthing)
  - backups and snapshots of the vault folder (borg, restic, Time Machine, ...)
a rotation ('baton rotate') re-encrypts what is left but cannot reach those copies:
delete them, or let them expire with your backup retention and note that in your records.";

/// Printed after a rotation that kept the emergency key.
pub const ROTATION_KEPT_EMERGENCY: &str = "\
the emergency key was kept, so the holders' kits stay valid. It is also inside the owner
key: if your passphrase may be known to someone else, replace it too with
'baton rotate --emergency' (new kits for the holders).";

/// Printed after `rotate --emergency`.
pub const ROTATION_LIMITS_SHARES: &str = "\
the old share set is void for everything written from now on, but any threshold of old
shares still opens the old copies above: ask every holder to destroy the old kit.";

/// Exit codes of `status --check` (for cron and systemd timers).
pub const EXIT_CHECK_ROTATION_DUE: i32 = 10;
pub const EXIT_CHECK_PROBLEM: i32 = 11;

/// A `status` warning line for a finding (docs/gdpr.md, docs/format.md#rotation).
pub fn finding(f: &Finding) -> String {
    let list = |v: &[String]| esc(&v.join(", "));
    match f {
        Finding::InsecureKdf => "the vault uses the insecure test key derivation".to_string(),
        Finding::RotationPending { generation } => format!(
            "a rotation to generation {generation} was interrupted; run 'baton rotate --resume' or '--abort'"
        ),
        Finding::IndexMissing { file } => format!("the index file {file} is missing"),
        Finding::NotAFolder { name } => format!("{name}/ in the vault is not a plain folder"),
        Finding::Damaged { count, first } => {
            format!("{count} problem(s) found, first: {first}")
        }
        Finding::RotationDue { since, .. } => {
            format!("key rotation is due (since {since}); run 'baton rotate'")
        }
        Finding::DrillDue { since } => format!(
            "an emergency drill is due (since {}): have the holders prove their kits ('baton emergency drill')",
            since.get(..10).unwrap_or(since)
        ),
        Finding::PurgeDue { clients } => format!(
            "{} former client(s) due for deletion ({}): run 'baton purge'",
            clients.len(),
            list(clients)
        ),
        Finding::WithoutDpa { clients } => format!(
            "{} client(s) without a DPA decision ({}): 'baton client set ID --dpa signed:DATE|none|not-needed'",
            clients.len(),
            list(clients)
        ),
        Finding::StaleExports { clients } => format!(
            "{} client(s) changed since their last export ({}): their packages are out of date",
            clients.len(),
            list(clients)
        ),
        Finding::Orphans { count } => format!(
            "{count} file(s) the index does not name (left by an interrupted write or rotation, or another machine's change still syncing); they are kept, never read"
        ),
        _ => format!("{f:?}"),
    }
}

/// A problem `status --check` reports with exit code 11.
pub fn check_problem(message: String) -> Failure {
    Failure::new(message)
        .hint("run 'baton status' and 'baton verify' for details")
        .code(EXIT_CHECK_PROBLEM)
}

/// The failure `status --check` exits with for its verdict's finding.
pub fn check_failure(f: &Finding) -> Failure {
    match f {
        Finding::RotationDue { since, last } => {
            Failure::new(format!("key rotation is due since {since} (last {last})"))
                .hint("run 'baton rotate'")
                .code(EXIT_CHECK_ROTATION_DUE)
        }
        Finding::RotationPending { generation } => Failure::new(format!(
            "a rotation to generation {generation} was interrupted"
        ))
        .hint(HINT_ROTATION_PENDING)
        .code(EXIT_CHECK_PROBLEM),
        other => check_problem(finding(other)),
    }
}

pub fn integrity(e: &IntegrityError) -> Failure {
    let hint = match e {
        IntegrityError::HeaderRecipients | IntegrityError::IndexForged => {
            "someone with write access changed the vault; do not add secrets until you have restored it from a backup you trust"
        }
        IntegrityError::IndexVersion(_) => {
            "this vault was made by a development build of baton: open it with that build (its client files also decrypt with the age command and the owner identity)"
        }
        IntegrityError::ShardMissing { .. }
        | IntegrityError::ShardDamaged { .. }
        | IntegrityError::CatalogMismatch => {
            "the client files themselves may be intact ('baton verify' checks each); restore the vault from a backup you trust before writing to it"
        }
        _ => HINT_VERIFY,
    };
    Failure::new(format!("integrity check failed: {e}"))
        .hint(hint)
        .code(EXIT_INTEGRITY)
}

impl From<IntegrityError> for Failure {
    fn from(e: IntegrityError) -> Self {
        integrity(&e)
    }
}

impl From<UnlockError> for Failure {
    fn from(e: UnlockError) -> Self {
        match &e {
            UnlockError::NotAVault(_) => Failure::new(e.to_string())
                .hint("create one with 'baton init', or point --vault / BATON_VAULT at an existing vault"),
            UnlockError::WrongPassphrase => Failure::new("wrong passphrase")
                .hint("passphrases are case-sensitive; nothing was changed")
                .code(EXIT_AUTH),
            UnlockError::WrongEmergencyKey => Failure::new(e.to_string())
                .hint("this key belongs to another vault or an earlier share set; after a takeover, the new owner opens the vault with the new passphrase")
                .code(EXIT_AUTH),
            UnlockError::Locked => Failure::new(e.to_string())
                .hint("wait for the other baton command to finish; the lock is released when it exits")
                .code(EXIT_LOCKED),
            UnlockError::OwnerKeyDamaged(_) | UnlockError::BadHeader(_) => Failure::new(e.to_string())
                .hint("restore vault.json from a backup; the emergency shares can still open the vault")
                .code(EXIT_INTEGRITY),
            UnlockError::UnsupportedVersion(_) => {
                Failure::new(e.to_string()).hint("upgrade baton to open this vault")
            }
            UnlockError::Kdf(_) => Failure::new(format!("vault.json: {e}"))
                .hint("the key derivation parameters were changed; restore vault.json from a backup")
                .code(EXIT_INTEGRITY),
            UnlockError::Integrity(i) => integrity(i),
            _ => Failure::new(e.to_string()),
        }
    }
}

impl From<VaultError> for Failure {
    fn from(e: VaultError) -> Self {
        match &e {
            VaultError::UnknownClient(_) => {
                Failure::new(e.to_string()).hint("'baton list' shows the clients")
            }
            VaultError::UnknownEntry { client, .. } => {
                Failure::new(e.to_string()).hint(format!("'baton show {client}' lists its entries"))
            }
            VaultError::ClientExists(_) | VaultError::EntryExists { .. } => {
                Failure::new(e.to_string()).hint("choose another name, or use 'edit'")
            }
            VaultError::Integrity(i) => integrity(i),
            VaultError::LegalHold { client, .. } => Failure::new(e.to_string()).hint(format!(
                "a legal hold forbids deletion; lift it first if it no longer applies: 'baton client set {client} --no-hold'"
            )),
            VaultError::RotationPending(_) => {
                Failure::new(e.to_string()).hint(HINT_ROTATION_PENDING)
            }
            VaultError::RotatedMeanwhile(_) => Failure::new(e.to_string()).hint(
                "nothing is wrong with the vault: run the command again to read the new generation",
            ),
            _ => Failure::new(e.to_string()),
        }
    }
}

impl From<InitError> for Failure {
    fn from(e: InitError) -> Self {
        match &e {
            InitError::NotEmpty(_) => {
                Failure::new(e.to_string()).hint("choose a new or empty folder for the vault")
            }
            InitError::Policy(p) => Failure::from(p.clone()),
            _ => Failure::new(e.to_string()),
        }
    }
}

impl From<baton::emergency::PolicyError> for Failure {
    fn from(e: baton::emergency::PolicyError) -> Self {
        use baton::emergency::PolicyError as P;
        let hint = match &e {
            P::BadThreshold { .. } => {
                "each group needs between 1 and all of its holders (-t/--threshold, or the number before 'of')"
            }
            P::Syntax(_) => "write groups as \"2 of anna,ben,carla; 1 of notary,spouse\"",
            P::BadHolder(_) => {
                "holder names have 1-64 characters without commas, semicolons, slashes or control characters"
            }
            P::DuplicateHolder(_) => "every holder is named once, in one group",
            _ => "at most 16 groups of at most 16 holders",
        };
        Failure::new(e.to_string()).hint(hint).code(2)
    }
}

impl From<baton::emergency::RecoverError> for Failure {
    fn from(e: baton::emergency::RecoverError) -> Self {
        use baton::emergency::RecoverError as R;
        match e {
            R::CreateDir { path, source } => Failure::new(format!(
                "cannot create {}: {source}",
                esc(&path.display().to_string())
            )),
            R::WriteKey { path, source } => Failure::new(format!(
                "cannot write {}: {source}",
                esc(&path.display().to_string())
            )),
            R::Record(v) => v.into(),
            e => Failure::new(e.to_string()),
        }
    }
}

/// Escapes control and bidi characters in text printed to a terminal (names come from
/// the vault and could carry escape sequences).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(esc("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(esc("x\u{202E}y"), "x\\u{202e}y");
        assert_eq!(esc("Bäckerei"), "Bäckerei");
    }
}
