//! Every user-facing error and hint, in one place so they can be tested and later
//! translated. Style (Go age): lowercase, no trailing period, one line each, flags
//! spelled `-t/--threshold`. Every error a user can cause has a hint with the next step
//! and an exit code from the table below; `tests/errors.rs` pins each one.

use std::fmt;
use std::path::Path;

use baton::KdfParams;
use baton::crypto::kdf::KdfRequestError;
use baton::emergency::ShareError;
use baton::rotate::RotateError;
use baton::slip39::Slip39Error;
use baton::status::Finding;
use baton::vault::{InitError, IntegrityError, UnlockError, VaultError};

/// Exit codes (documented in `--help` and the README).
pub const EXIT_ERROR: i32 = 1;
/// The command line is wrong: unknown, missing or conflicting flags, bad values. Nothing
/// was read or changed.
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_AUTH: i32 = 3;
pub const EXIT_INTEGRITY: i32 = 4;
pub const EXIT_LOCKED: i32 = 5;
/// `sync` only: git could not merge or push; the message says what state the
/// repository is in (nothing is lost).
pub const EXIT_SYNC: i32 = 6;

/// The exit code table of `baton --help` (and of the man page); the README repeats it.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success
  1   error (the message says what failed; a hint says what to do)
  2   usage error: unknown, missing or conflicting flags, or a bad value
  3   wrong passphrase, key or share
  4   integrity problem (tampering or damage detected)
  5   vault locked by another baton process (while it rotates the keys, readers
      and 'status --check' wait too: try again when it finishes)
  6   'sync' only: git could not merge or push (the message says what state the
      repository is in; nothing is lost)
  10  'status --check' only: key rotation due
  11  'status --check' only: integrity problem or interrupted rotation (with
      --verify also: conflicts between devices' versions to resolve)";

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
    /// A mistake in the command line (exit 2).
    fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure::new(message).hint(hint).code(EXIT_USAGE)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

/// A path as printed in a message (escaped for the terminal when printed).
fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Printed after kits were written.
pub const HAND_OUT: &str =
    "hand each holder their kit (print it, or pass the file in person), then delete this folder";

pub const HINT_VAULT: &str = "give the vault folder with --vault DIR or BATON_VAULT";
pub const HINT_READABLE: &str = "check that the vault folder and its files are readable by you";
pub const HINT_WRITABLE: &str =
    "check that the folder exists, is writable by you and the disk has space";
/// The Argon2id floor (RFC 9106's second recommendation).
pub const HINT_KDF: &str = "use at least --kdf-memory 64 --kdf-time 3 (RFC 9106)";
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

/// What to do about a sync service's conflicted copy in a version 2 vault
/// (docs/format.md#conflict-copies).
/// A conflicted copy of a rotation's state file (docs/format.md#sibling-rotations).
const HINT_ROTATION_STATE_COPY: &str = "two devices rotated the keys while apart and a rotation was interrupted: run 'baton rotate --resume' (or 'baton rotate --abort' if it refuses); the copy is another device's plan, holds no change, and goes with the next change once no rotation is pending";
pub const HINT_CONFLICT_COPY: &str = "two devices changed the vault while apart; keep every file (the copy is the only record of the other device's changes), write from one device only, and enter that device's changes again there ('baton audit' on it lists them)";

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
        Finding::RotationRunning { generation } => format!(
            "a rotation to generation {generation} is in progress; try again when it finishes"
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
            baton::time::day_of(since)
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
        Finding::ConflictCopies { copies, total } => format!(
            "{total} conflicted cop(ies) made by a sync service ({}): another device's changes are in them, not in this vault",
            esc(&copies
                .iter()
                .map(|(copy, original)| format!("{copy} of {original}"))
                .collect::<Vec<_>>()
                .join(", "))
        ),
        Finding::OtherGeneration { files } => format!(
            "{} index or head file(s) of another generation ({}): left by an interrupted rotation, or a device wrote under the old keys after a rotation; the next write with the passphrase carries such a head over where the vault keeps its generation's key, keep the others",
            files.len(),
            list(files)
        ),
        Finding::Conflicts { clients } => format!(
            "{} client(s) with versions from different devices to resolve ({}): 'baton conflicts' shows them, 'baton resolve' settles each",
            clients.len(),
            list(clients)
        ),
        Finding::RetiredWriters { writers } => format!(
            "{} writer(s) without a change for {} days or more ({}): files are no longer kept for them; if such a device or copy is gone for good: 'baton writers forget WRITER'",
            writers.len(),
            baton::vault::RETIRE_AFTER_DAYS,
            list(writers)
        ),
        Finding::UnknownFiles { files, total } => format!(
            "{total} file(s) in the vault folder that baton did not write ({}): move them out of the vault folder",
            list(files)
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
        Finding::ConflictCopies { .. } => Failure::new(finding(f))
            .hint(HINT_CONFLICT_COPY)
            .code(EXIT_CHECK_PROBLEM),
        Finding::RotationRunning { generation } => running_rotation(*generation),
        Finding::Conflicts { .. } => Failure::new(finding(f))
            .hint(HINT_CONFLICTS)
            .code(EXIT_CHECK_PROBLEM),
        other => check_problem(finding(other)),
    }
}

/// Another baton process is rotating the keys now (exit 5, as for a locked vault): not
/// an interrupted rotation, so nothing to resume.
pub fn running_rotation(generation: u64) -> Failure {
    Failure::new(UnlockError::RotationRunning(generation).to_string())
        .hint("another baton command is rotating the keys and holds the vault's lock; nothing needs to be done")
        .code(EXIT_LOCKED)
}

/// A head of the old generation in this machine's name that it did not write
/// (docs/format.md#carry-over).
const HINT_STRANDED_NOT_OWN: &str = "this machine keeps the fingerprint of every head it writes, so this one was written by someone else who holds the replaced keys: treat the vault folder as tampered with (keep a copy as evidence) and continue from a backup you trust, making again the changes this machine made after the rotation";

pub fn integrity(e: &IntegrityError) -> Failure {
    let hint = match e {
        IntegrityError::HeaderRecipients | IntegrityError::IndexForged => {
            "someone with write access changed the vault; do not add secrets until you have restored it from a backup you trust"
        }
        IntegrityError::ConflictCopy { original, .. }
            if baton::store::header::parse_rotation_file(original).is_some() =>
        {
            HINT_ROTATION_STATE_COPY
        }
        IntegrityError::ConflictCopy { .. } => HINT_CONFLICT_COPY,
        IntegrityError::StrandedNotOwn { .. } => HINT_STRANDED_NOT_OWN,
        IntegrityError::IndexVersion(_) => {
            "this vault was made by a development build of baton: open it with that build (its client files also decrypt with the age command and the owner identity)"
        }
        IntegrityError::RotationArriving { .. } => {
            "nothing is lost: let the sync service finish, then run the command again"
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
            UnlockError::PassphraseNotKept(_) => Failure::new(e.to_string())
                .hint("a passphrase change made on one device after those rotations is not on the other: use the passphrase of the device whose vault.json was kept (if you changed it on this device afterwards, the one from before), then run 'baton passwd' again if needed; nothing was changed (docs/format.md#sibling-rotations)")
                .code(EXIT_AUTH),
            UnlockError::WrongEmergencyKey => Failure::new(e.to_string())
                .hint("this key belongs to another vault or an earlier share set; after a takeover, the new owner opens the vault with the new passphrase")
                .code(EXIT_AUTH),
            UnlockError::Locked => Failure::new(e.to_string())
                .hint("wait for the other baton command to finish; the lock is released when it exits")
                .code(EXIT_LOCKED),
            UnlockError::RotationRunning(g) => running_rotation(*g),
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
            _ => Failure::new(e.to_string()).hint(HINT_READABLE),
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
            VaultError::BrokenAuditLog(_) => Failure::new(e.to_string())
                .hint("'baton audit --verify' names every damaged record; if another device has just rotated the keys, wait until the sync is done and try again; otherwise put the record files back from a backup you trust, then run the command again")
                .code(EXIT_INTEGRITY),
            VaultError::RotationArriving(_) => Failure::new(e.to_string()).hint(
                "nothing is lost: let the sync service finish, then run the command again; if this stays after the sync, run 'baton verify'",
            ),
            VaultError::LegalHold { client, .. } => Failure::new(e.to_string()).hint(format!(
                "a legal hold forbids deletion; lift it first if it no longer applies: 'baton client set {client} --no-hold'"
            )),
            VaultError::RotationPending(_) => {
                Failure::new(e.to_string()).hint(HINT_ROTATION_PENDING)
            }
            VaultError::RotatedMeanwhile(_) => Failure::new(e.to_string()).hint(
                "nothing is wrong with the vault: run the command again to read the new generation",
            ),
            // Names come from the command line (client ids, entry and attachment names).
            VaultError::InvalidId(_) => Failure::usage(
                e.to_string(),
                "for example 'acme' or 'acme-gmbh'; the display name (--name) may be anything",
            ),
            VaultError::BadDate(_) => Failure::new(e.to_string())
                .hint("write dates as YYYY-MM-DD, for example 2026-11-30; nothing was changed"),
            VaultError::NotEnded(id) => Failure::new(e.to_string())
                .hint(format!("'baton client end {id}' records the end of a contract")),
            VaultError::NotAHolder(_) => Failure::new(e.to_string())
                .hint("'baton status' lists the holders of the current share set"),
            VaultError::GroupNeeded(_) => Failure::new(e.to_string())
                .hint("give the group with --group N ('baton status' shows the policy)"),
            VaultError::AttachmentExists { .. } => Failure::new(e.to_string())
                .hint("pass --force to replace it, or store it under another name with --as NAME"),
            VaultError::UnknownAttachment { .. } => Failure::new(e.to_string())
                .hint("'baton show CLIENT' lists the attachments of each entry"),
            VaultError::BadTotp(_) => Failure::new(e.to_string()).hint(
                "the file must hold one otpauth://totp/... URI, as a QR code of the service encodes it",
            ),
            _ if e.to_string().starts_with("invalid value: ") => Failure::new(e.to_string())
                .hint("nothing was changed; correct the value and run the command again"),
            VaultError::ReadOnly => Failure::new(e.to_string())
                .hint("the vault folder is read-only here: work on a writable copy"),
            VaultError::OlderCopy { newer, .. } => Failure::new(e.to_string()).hint(format!(
                "work in {} instead; if this copy is to go on from here (that folder is lost or stale), move that folder away first",
                shown(newer)
            )),
            VaultError::OwnerOnly => Failure::new(e.to_string()).hint(
                "this needs the owner passphrase; with the emergency key, 'baton takeover' makes you the owner",
            ),
            VaultError::Io { .. } => Failure::new(e.to_string()).hint(HINT_WRITABLE),
            VaultError::UnknownWriter(_) | VaultError::OwnWriter(_) => {
                Failure::new(e.to_string()).hint("'baton writers' lists the writers of this folder")
            }
            VaultError::OwnChangesArriving { .. } => Failure::new(e.to_string()).hint(
                "nothing is lost: let the sync service finish, then run the command again; if the file stays missing, restore it from a backup or another device's copy",
            ),
            VaultError::OwnHeadUnreadable { .. } => Failure::new(e.to_string())
                .hint("nothing is lost: keep this folder and that file as they are; docs/recovery.md#own-head-unreadable says how to read those changes and make them again")
                .code(EXIT_INTEGRITY),
            VaultError::OwnHeadIncomplete { .. } => Failure::new(e.to_string())
                .hint("let the sync finish; if the file stays missing, keep this folder as it is and restore the file from a backup or another device's copy")
                .code(EXIT_INTEGRITY),
            VaultError::WriterNotMerged(_) => Failure::new(e.to_string()).hint(
                "let the sync finish ('baton writers' shows what is still arriving), then run it again",
            ),
            VaultError::InConflict { client, .. } => Failure::new(e.to_string()).hint(format!(
                "'baton conflicts {client}' shows the versions; settle them with 'baton resolve', then make the change"
            )),
            VaultError::Resolve { target, .. } => {
                let client = target.split('/').next().unwrap_or(target);
                Failure::new(e.to_string()).hint(format!(
                    "'baton conflicts {client}' lists its conflicts and numbers their versions"
                ))
            }
            _ => Failure::new(e.to_string()).hint(HINT_VERIFY),
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
            InitError::Kdf(_) => Failure::new(e.to_string()).hint(HINT_KDF),
            InitError::Io { .. } => Failure::new(e.to_string()).hint(HINT_WRITABLE),
            _ => Failure::new(e.to_string())
                .hint("nothing was created; run 'baton init' again (a new folder is safest)"),
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
        Failure::usage(e.to_string(), hint)
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

// ------------------------------------------------------------------ the command line

/// A flag value that a value parser in cli.rs refused: what is wrong and what to write
/// instead. clap carries it as the error's source; [`usage`] prints it in baton's form.
#[derive(Debug)]
pub struct BadValue {
    detail: String,
    hint: String,
}

impl BadValue {
    fn new(detail: impl Into<String>, hint: impl Into<String>) -> Self {
        BadValue {
            detail: detail.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for BadValue {}

pub fn not_a_number(text: &str, min: u64, max: u64) -> BadValue {
    BadValue::new(
        format!("'{text}' is not a whole number"),
        format!("give a number from {min} to {max}"),
    )
}

pub fn out_of_range(n: u64, min: u64, max: u64) -> BadValue {
    BadValue::new(
        format!("{n} is out of range"),
        format!("give a number from {min} to {max}"),
    )
}

pub fn not_a_date(text: &str) -> BadValue {
    BadValue::new(
        format!("'{text}' is not a date"),
        "write it as YYYY-MM-DD, for example 2026-11-30",
    )
}

pub fn holder_spec_empty() -> BadValue {
    BadValue::new(
        "the holder's name is missing",
        "write --holder NAME=RECIPIENT, for example --holder \"anna=age1...\"",
    )
}

pub fn holder_spec_without_key(name: &str) -> BadValue {
    BadValue::new(
        format!("'{name}' names no key"),
        format!(
            "every holder gets a kit here; --holder NAME=RECIPIENT encrypts one of them, for example --holder \"{name}=age1...\""
        ),
    )
}

/// The key is not echoed: a secret key pasted by mistake must not be printed back.
pub fn holder_key_invalid(name: &str, e: &baton::export::RecipientError) -> BadValue {
    BadValue::new(
        format!("the key of {name}: {e}"),
        "give the holder's public key: an age recipient (age1...) or an SSH public key line (ssh-ed25519 or ssh-rsa)",
    )
}

/// Hints for conflicting flags, one per pair (STYLE.md#5), by long name in either order.
const CONFLICTS: &[(&str, &str, &str)] = &[
    (
        "--keep",
        "--remove",
        "keep one version with --keep N, or remove the item with --remove",
    ),
    (
        "--dry-run",
        "--no-push",
        "--dry-run changes nothing, so there is nothing to keep from the upstream; give one of them",
    ),
    (
        "--resume",
        "--abort",
        "finish the interrupted rotation with --resume, or undo it with --abort",
    ),
    (
        "--resume",
        "--emergency",
        "--resume finishes the interrupted rotation as it was started; start a new rotation with --emergency after it",
    ),
    (
        "--resume",
        "--kdf",
        "--resume finishes the interrupted rotation as it was started; start a new rotation with --kdf after it",
    ),
    (
        "--abort",
        "--emergency",
        "--abort undoes the interrupted rotation; start a new rotation with --emergency after it",
    ),
    (
        "--abort",
        "--kdf",
        "--abort undoes the interrupted rotation; start a new rotation with --kdf after it",
    ),
    (
        "--passphrase",
        "--to",
        "a package is locked either with a generated passphrase or to public keys (--to, --to-ssh-key)",
    ),
    (
        "--passphrase",
        "--to-ssh-key",
        "a package is locked either with a generated passphrase or to public keys (--to, --to-ssh-key)",
    ),
    (
        "--passphrase",
        "--all",
        "--all locks each package to the client's stored keys (or --to); export one client at a time with --passphrase",
    ),
    (
        "CLIENT",
        "--all",
        "export one client by name, or every client with --all",
    ),
    (
        "--out-dir",
        "--output",
        "--out-dir is the folder for --all; -o/--output names the file of one package",
    ),
    (
        "--password-file",
        "--generate",
        "the password comes from one place: a file, the terminal (--password-prompt) or --generate",
    ),
    (
        "--password-file",
        "--password-prompt",
        "the password comes from one place: a file, the terminal (--password-prompt) or --generate",
    ),
    (
        "--password-prompt",
        "--generate",
        "the password comes from one place: a file, the terminal (--password-prompt) or --generate",
    ),
    (
        "--clear-password",
        "--password-file",
        "--clear-password removes the password; to replace it, give the new one without --clear-password",
    ),
    (
        "--clear-password",
        "--password-prompt",
        "--clear-password removes the password; to replace it, give the new one without --clear-password",
    ),
    (
        "--clear-password",
        "--generate",
        "--clear-password removes the password; to replace it, give the new one without --clear-password",
    ),
    (
        "--clear-totp",
        "--totp",
        "--clear-totp removes the TOTP seed; to replace it, give --totp FILE alone",
    ),
    (
        "--hold",
        "--no-hold",
        "set a legal hold with --hold REASON, or lift it with --no-hold",
    ),
    (
        "--retain-until",
        "--no-retain-until",
        "keep the data until a date with --retain-until DATE, or return to the retention policy with --no-retain-until",
    ),
    (
        "--clear",
        "RECIPIENT",
        "--clear removes every stored key; to replace them, give the new keys without --clear",
    ),
    (
        "--attachment",
        "--field",
        "print a field with --field, or a file with --attachment",
    ),
    (
        "--attachment",
        "--json",
        "--json prints the whole entry; --attachment prints one file",
    ),
    (
        "--output",
        "--json",
        "--json prints the entry to stdout: redirect it to a file",
    ),
    (
        "--length",
        "--words",
        "--words makes a passphrase of words, --length a password of characters: give one of them",
    ),
    (
        "--no-symbols",
        "--words",
        "a passphrase has no symbols anyway; --no-symbols shapes a password (--length)",
    ),
    (
        "--check",
        "--json",
        "--check prints nothing and answers with its exit code; --json prints the whole status",
    ),
    (
        "--policy",
        "--holders",
        "give the holders as --holders NAMES -t/--threshold N, or as --policy \"2 of anna,ben,carla\", not both",
    ),
    (
        "--policy",
        "--threshold",
        "give the holders as --holders NAMES -t/--threshold N, or as --policy \"2 of anna,ben,carla\", not both",
    ),
];

/// A flag as clap names it in an error ("--out-dir <DIR>", "[CLIENT]") reduced to its
/// name ("--out-dir", "CLIENT").
fn flag_name(arg: &str) -> String {
    let first = arg.split_whitespace().next().unwrap_or(arg);
    first
        .trim_end_matches("...")
        .trim_matches(|c| matches!(c, '<' | '>' | '[' | ']'))
        .to_string()
}

/// A flag name as messages spell it: with its short form (`-t/--threshold`).
fn flag_spelled(name: &str) -> String {
    match name {
        "--threshold" => "-t/--threshold".into(),
        "--output" => "-o/--output".into(),
        other => other.into(),
    }
}

/// Turns one of clap's errors into baton's form (`baton: error:` and `baton: hint:`),
/// exit code 2. `path` is the command as typed so far ("baton emergency kits");
/// `commands` are its subcommands, for a command that needs one.
pub fn usage(e: &clap::Error, path: &str, commands: &[String]) -> Failure {
    use clap::error::{ContextKind as C, ContextValue, ErrorKind as K};
    let all = |k| match e.get(k) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        Some(ContextValue::StyledStr(s)) => vec![s.to_string()],
        Some(ContextValue::StyledStrs(v)) => v.iter().map(|s| s.to_string()).collect(),
        _ => vec![],
    };
    let one = |k| all(k).into_iter().next();
    let name = one(C::InvalidArg)
        .map(|a| flag_name(&a))
        .unwrap_or_default();
    let spelled = flag_spelled(&name);
    let help = format!(
        "'{path} --help' describes {}",
        if name.is_empty() {
            "it"
        } else {
            spelled.as_str()
        }
    );
    match e.kind() {
        K::UnknownArgument => {
            let arg = one(C::InvalidArg).unwrap_or_default();
            let hint = match (one(C::SuggestedArg), one(C::Suggested)) {
                (Some(s), _) => format!("did you mean '{s}'?"),
                (None, Some(tip)) => tip,
                (None, None) => format!("'{path} --help' lists what it takes"),
            };
            Failure::usage(format!("unexpected argument '{arg}'"), hint)
        }
        K::InvalidSubcommand => {
            let sub = one(C::InvalidSubcommand).unwrap_or_default();
            // clap lists similar commands from the least to the most similar.
            let hint = match all(C::SuggestedSubcommand).pop() {
                Some(s) => format!("did you mean '{path} {s}'?"),
                None => format!("'{path} --help' lists the commands"),
            };
            Failure::usage(format!("unknown command '{path} {sub}'"), hint)
        }
        K::InvalidValue => {
            let valid = all(C::ValidValue);
            let list = format!("use one of: {}", valid.join(", "));
            match one(C::InvalidValue).filter(|v| !v.is_empty()) {
                // `--kind` at the end of the line, or `--out-dir` without its folder.
                None => {
                    let arg = one(C::InvalidArg).unwrap_or_default();
                    let hint = if valid.is_empty() {
                        format!("write it as {}", arg.replacen(&name, &spelled, 1))
                    } else {
                        list
                    };
                    Failure::usage(format!("{spelled} needs a value"), hint)
                }
                Some(v) => {
                    let hint = match one(C::SuggestedValue) {
                        Some(s) => format!("did you mean '{s}'? {list}"),
                        None => list,
                    };
                    Failure::usage(format!("unknown {spelled} value '{v}'"), hint)
                }
            }
        }
        K::ValueValidation => {
            let source = std::error::Error::source(e);
            match source.and_then(|s| s.downcast_ref::<BadValue>()) {
                Some(b) => Failure::usage(format!("invalid {spelled}: {}", b.detail), &b.hint),
                None => Failure::usage(
                    format!(
                        "invalid {spelled} value '{}': {}",
                        one(C::InvalidValue).unwrap_or_default(),
                        source.map(|s| s.to_string()).unwrap_or_default()
                    ),
                    help,
                ),
            }
        }
        K::MissingRequiredArgument => {
            let missing: Vec<String> = all(C::InvalidArg)
                .iter()
                .map(|a| {
                    let n = flag_name(a);
                    a.replacen(&n, &flag_spelled(&n), 1)
                })
                .collect();
            let hint = match one(C::Usage) {
                Some(u) => {
                    let line = u.lines().next().unwrap_or_default();
                    format!("usage: {}", line.trim_start_matches("Usage:").trim())
                }
                None => format!("'{path} --help' describes them"),
            };
            Failure::usage(format!("'{path}' needs {}", missing.join(" and ")), hint)
        }
        K::ArgumentConflict => {
            let prior: Vec<String> = all(C::PriorArg).iter().map(|a| flag_name(a)).collect();
            if prior.is_empty() || prior.contains(&name) {
                return Failure::usage(
                    format!("{spelled} was given more than once"),
                    "give it once",
                );
            }
            let hint = prior
                .iter()
                .find_map(|p| {
                    let (n, p) = (name.as_str(), p.as_str());
                    CONFLICTS
                        .iter()
                        .find(|&&(a, b, _)| (a == n && b == p) || (a == p && b == n))
                        .map(|&(_, _, h)| h.to_string())
                })
                .unwrap_or_else(|| {
                    format!("give one of them; '{path} --help' says what each does")
                });
            let prior: Vec<String> = prior.iter().map(|p| flag_spelled(p)).collect();
            Failure::usage(
                format!("{spelled} cannot be used with {}", prior.join(" or ")),
                hint,
            )
        }
        K::MissingSubcommand | K::DisplayHelpOnMissingArgumentOrSubcommand => {
            let hint = if commands.is_empty() || !path.contains(' ') {
                format!(
                    "'{path} --help' lists the commands; 'baton demo' shows them all on a throwaway vault"
                )
            } else {
                format!("one of: {}", commands.join(", "))
            };
            Failure::usage(format!("'{path}' needs a command"), hint)
        }
        K::InvalidUtf8 => Failure::usage(
            "an argument is not valid UTF-8",
            "names and values are UTF-8 text; only file names may be other bytes",
        ),
        _ => {
            // The rest (too many or too few values, ...): clap's own first line.
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or_default();
            Failure::usage(line.trim_start_matches("error: ").to_string(), help)
        }
    }
}

// ------------------------------------------------------------------ vault and secrets

pub fn no_vault() -> Failure {
    Failure::usage("no vault given", HINT_VAULT)
}

pub fn identity_not_text() -> Failure {
    Failure::new("the file given to --identity is not text")
        .hint("use the emergency-key.txt that 'baton recover' wrote")
}

pub fn identity_without_key() -> Failure {
    Failure::new("the file given to --identity holds no age identity (AGE-SECRET-KEY-1...)")
        .hint("use the emergency-key.txt that 'baton recover' wrote")
}

/// The warning when opening put a later generation's header back (another device's
/// older vault.json had won a sync race; docs/format.md#header-conflicts).
pub fn header_restored(old: u64, now: u64) -> String {
    format!(
        "vault.json was another device's version of generation {old}, while this vault is at generation {now}; baton put generation {now}'s header back from the sync service's conflicted copy. A setting that device changed in vault.json (the rotation interval) is not kept: check 'baton status'"
    )
}

/// The warning when opening removed another device's conflicted copy of `vault.json`
/// of an earlier generation (docs/format.md#header-conflicts).
pub fn header_copy_removed(old: u64, now: u64) -> String {
    format!(
        "removed another device's conflicted copy of vault.json from generation {old}; this vault is at generation {now}, and that device's changes made under generation {old} are carried over. A setting it changed in vault.json (the rotation interval) is not kept: check 'baton status'"
    )
}

/// The warning while a conflicted copy of `vault.json` of a rotation made apart has
/// another passphrase or Argon2id settings (docs/format.md#sibling-rotations).
pub fn passphrase_not_kept(now: u64) -> String {
    format!(
        "two devices rotated the keys to generation {now} apart, and their vault.json files have different passphrases or Argon2id settings (a 'baton passwd' or 'rotate --kdf' on one side): the vault opens with the passphrase of the vault.json the sync service kept, and a change made on the other side is not kept, so make it again if it was wanted"
    )
}

/// The warning for an older copy of a vault (vault::rollback).
pub fn older_copy(o: &baton::vault::rollback::OlderCopy) -> String {
    format!(
        "this is an older copy of the vault: {} has {} more change(s) (opened on this machine {}); it is read-only here",
        shown(&o.newer),
        o.behind,
        baton::time::day_of(&o.seen)
    )
}

/// A rollback alarm where a sync service kept another device's index and renamed this
/// device's (docs/format.md#conflict-copies).
pub fn index_replaced_by_sync(e: &dyn fmt::Display, copy: &str) -> Failure {
    Failure::new(format!(
        "{e}: the sync service replaced this device's index with another device's and kept this device's as {}",
        esc(copy)
    ))
    .code(EXIT_INTEGRITY)
    .hint(HINT_CONFLICT_COPY)
}

pub fn rolled_back(e: &dyn fmt::Display, memory_file: &Path) -> Failure {
    Failure::new(e.to_string()).code(EXIT_INTEGRITY).hint(format!(
        "someone restored older files; if you restored a backup on purpose, delete {} and run the command again",
        shown(memory_file)
    ))
}

pub fn stdin_unreadable(flag: &str, e: &std::io::Error) -> Failure {
    Failure::new(format!("cannot read {flag} from stdin: {}", e.kind())).hint(format!(
        "pipe the secret into baton, or give {flag} a file instead of '-'"
    ))
}

/// The path is not echoed: a secret typed where a path belongs must not be shown.
pub fn secret_file_unopenable(flag: &str, e: &std::io::Error) -> Failure {
    Failure::new(format!(
        "cannot open the file given to {flag}: {}",
        e.kind()
    ))
    .hint(format!(
        "{flag} takes the path of a file that holds the secret, not the secret itself"
    ))
}

pub fn secret_file_unreadable(flag: &str, e: &std::io::Error) -> Failure {
    Failure::new(format!(
        "cannot read the file given to {flag}: {}",
        e.kind()
    ))
    .hint(format!("{flag} takes a regular file that you can read"))
}

pub fn secret_file_not_text(flag: &str) -> Failure {
    Failure::new(format!(
        "the file given to {flag} is not UTF-8 text (line 1)"
    ))
    .hint("save the file as UTF-8 text with the secret on its first line")
}

pub fn secret_file_empty(flag: &str) -> Failure {
    Failure::new(format!("the file given to {flag} has an empty first line"))
        .hint("put the secret on the first line of the file")
}

pub const HINT_PASSPHRASE_FILE: &str = "use --passphrase-file FILE or BATON_PASSPHRASE_FILE=FILE";

pub fn no_terminal_passphrase() -> Failure {
    Failure::new("no terminal to ask for the passphrase").hint(HINT_PASSPHRASE_FILE)
}

pub fn terminal_unreadable(e: &std::io::Error) -> Failure {
    Failure::new(format!(
        "cannot read the passphrase from the terminal: {}",
        e.kind()
    ))
    .hint(HINT_PASSPHRASE_FILE)
}

pub fn secrets_differ(what: &str) -> Failure {
    Failure::new(format!("the two {what}s differ")).hint("nothing was changed; try again")
}

pub fn passphrase_empty() -> Failure {
    Failure::new("the passphrase is empty").hint(
        "choose one of at least 12 characters; 'baton generate --words 7' suggests a strong one",
    )
}

// ------------------------------------------------------------------ output

/// `-o FILE`, a report or a key file that could not be created (they are never
/// overwritten).
pub fn output_uncreatable(path: &Path, e: &dyn fmt::Display) -> Failure {
    Failure::new(format!("cannot create {}: {e}", shown(path)))
        .hint("the output file must not exist yet, and its folder must be writable")
}

pub fn binary_to_terminal() -> Failure {
    Failure::usage(
        "refusing to print a binary attachment to the terminal",
        "write it to a file with -o FILE, or force stdout with -o -",
    )
}

pub fn secret_to_terminal() -> Failure {
    Failure::usage(
        "refusing to print a secret to the terminal",
        "pass --show to display it, or pipe the output (baton get ... | wl-copy)",
    )
}

pub fn stdout_unwritable(e: &std::io::Error) -> Failure {
    Failure::new(format!("cannot write to stdout: {e}"))
        .hint("check where the output goes: a full disk or a closed pipe")
}

pub fn cannot_write(path: &Path, e: &dyn fmt::Display) -> Failure {
    Failure::new(format!("cannot write {}: {e}", shown(path))).hint(HINT_WRITABLE)
}

pub fn dir_uncreatable(path: &Path, e: &dyn fmt::Display) -> Failure {
    Failure::new(format!("cannot create {}: {e}", shown(path))).hint(HINT_WRITABLE)
}

pub fn man_unwritable(e: &dyn fmt::Display) -> Failure {
    Failure::new(format!("cannot write the man page: {e}"))
        .hint("redirect it to a file: baton man > baton.1")
}

// ------------------------------------------------------------------ clients and entries

pub fn not_a_resolve_target(text: &str) -> Failure {
    Failure::usage(
        format!("'{text}' is not CLIENT or CLIENT/ENTRY"),
        "for example: acme/ssh-root, or acme for the client's own conflict ('baton conflicts' lists them)",
    )
}

// ------------------------------------------------------- conflicts between devices

/// What to do about unresolved conflicts (docs/format.md#merge).
pub const HINT_CONFLICTS: &str = "run 'baton conflicts' to see every version, then 'baton resolve CLIENT[/ENTRY] --keep N' (or --remove) for each";

/// `baton conflicts` found nothing.
pub fn no_conflicts(client: Option<&str>) -> String {
    match client {
        Some(c) => format!("client '{c}' has no conflicts between devices' versions"),
        None => "no conflicts between devices' versions".to_string(),
    }
}

/// The footer of `baton list` when clients are marked with `!`.
pub fn list_conflicts_footer(count: usize) -> String {
    format!(
        "! {count} client(s) with versions from different devices to resolve: 'baton conflicts' shows them"
    )
}

/// After `baton resolve`.
pub fn resolved(
    target: &str,
    what: &baton::sync::ConflictTarget,
    choice: baton::sync::Resolution,
) -> String {
    use baton::sync::{ConflictTarget as T, Resolution as R};
    let did = match (what, choice) {
        (T::Removal, R::Keep(1)) => "kept the client that another device had removed".to_string(),
        (T::Removal, _) => "removed the client, as another device had".to_string(),
        (T::Fields, R::Keep(n)) => format!("kept version {n} of the client's details"),
        (T::Entry(_), R::Keep(n)) => format!("kept version {n}"),
        (_, R::Remove) => "removed the entry".to_string(),
    };
    format!("resolved {target}: {did}; other devices see it after their next sync")
}

/// After `baton resolve`, when the client has more conflicts.
pub fn conflicts_left(client: &str, count: usize) -> String {
    format!("{client} has {count} more conflict(s): 'baton conflicts {client}' shows them")
}

pub fn not_a_target(text: &str) -> Failure {
    Failure::usage(
        format!("'{text}' is not CLIENT/ENTRY"),
        "for example: acme/ssh-root ('baton show CLIENT' lists the entries)",
    )
}

pub fn totp_uri_inline() -> Failure {
    Failure::usage(
        "--totp takes a file that holds the otpauth:// URI, not the URI itself",
        "the URI contains the TOTP secret and would be visible to other users in the process list: put it in a file, or pass '--totp -' and paste it on stdin",
    )
}

pub fn attachment_without_name() -> Failure {
    Failure::usage(
        "the attachment path has no file name",
        "give one with --as NAME",
    )
}

pub fn no_attachment(client: &str, entry: &str, name: &str) -> Failure {
    Failure::new(format!("{client}/{entry} has no attachment '{name}'"))
        .hint(format!("'baton show {client}' lists the attachments"))
}

/// `get --field F` on an entry without that field.
pub fn no_field(client: &str, entry: &str, field: &str) -> Failure {
    let set = match field {
        "password" => "--password-file FILE, --password-prompt or --generate",
        "totp" => "--totp FILE",
        "user" => "--user USER",
        "url" => "--url URL",
        _ => "--note TEXT",
    };
    Failure::new(format!("{client}/{entry} has no {field}")).hint(format!(
        "set it with 'baton entry edit {client} {entry} {set}'"
    ))
}

pub fn no_totp(client: &str, entry: &str) -> Failure {
    Failure::new(format!("{client}/{entry} has no TOTP seed")).hint(format!(
        "add one with 'baton entry edit {client} {entry} --totp FILE'"
    ))
}

pub fn otp_failed(client: &str, entry: &str, e: &dyn fmt::Display) -> Failure {
    Failure::new(format!("{client}/{entry}: {e}")).hint(format!(
        "store a working otpauth:// URI with 'baton entry edit {client} {entry} --totp FILE'"
    ))
}

pub fn nothing_matches(term: &str) -> Failure {
    Failure::new(format!("nothing matches '{term}'")).hint(
        "search looks at client and entry names, URLs, users, notes and tags; 'baton list' shows every client",
    )
}

pub fn not_confirmed_remove() -> Failure {
    Failure::new("not confirmed; nothing was removed").hint("pass --yes to remove without asking")
}

pub fn verify_problems(count: usize, first: &IntegrityError) -> Failure {
    let hint = match first {
        IntegrityError::ConflictCopy { original, .. }
            if baton::store::header::parse_rotation_file(original).is_some() =>
        {
            HINT_ROTATION_STATE_COPY
        }
        IntegrityError::ConflictCopy { .. } => HINT_CONFLICT_COPY,
        IntegrityError::UnknownFile { .. } => {
            "move the files baton did not write out of the vault folder (they are not read, and a copy of the folder takes them along)"
        }
        IntegrityError::StrandedHead { .. } => {
            "the next change with the passphrase (or 'baton sync' in a git repository) re-encrypts them under the new keys and removes the old head"
        }
        IntegrityError::StrandedForItsDevice { .. } => {
            "open the vault with baton on the device that made those changes: its next change carries them over; 'baton writers' names the devices"
        }
        IntegrityError::StrandedNotOwn { .. } => HINT_STRANDED_NOT_OWN,
        _ => HINT_VERIFY,
    };
    Failure::new(format!("{count} problem(s) found, first: {first}"))
        .hint(hint)
        .code(EXIT_INTEGRITY)
}

pub fn bad_dpa(text: &str) -> Failure {
    Failure::usage(
        format!("unknown --dpa value '{text}'"),
        "use signed:YYYY-MM-DD, signed, none, not-needed or unknown",
    )
}

pub fn bad_dpa_date(date: &str) -> Failure {
    Failure::usage(
        format!("'{date}' is not a date"),
        "write --dpa signed:YYYY-MM-DD, for example signed:2024-03-01",
    )
}

// ------------------------------------------------------------------ kits and shares

pub fn no_policy() -> Failure {
    Failure::usage(
        "who holds the emergency key?",
        "--holders anna,ben,carla -t 2, or --policy \"2 of anna,ben,carla; 1 of notary,spouse\"",
    )
}

pub fn takeover_without_holders() -> Failure {
    Failure::usage(
        "a takeover needs the new holders",
        "--policy \"2 of anna,ben,carla\" or --holders anna,ben,carla -t 2",
    )
}

/// `rotate` given a flag of the new share set without `--emergency`.
pub fn needs_emergency(flag: &str) -> Failure {
    Failure::usage(
        format!("{flag} needs --emergency"),
        "new holders or kits mean a new emergency key: 'baton rotate --emergency --out-dir DIR' or 'baton emergency reissue --out-dir DIR'",
    )
}

pub fn rotate_with_emergency_key() -> Failure {
    Failure::new("with the emergency key, the vault is re-keyed by a takeover").hint(
        "'baton takeover --holders ... -t N --out-dir DIR' sets a new owner passphrase and new holders",
    )
}

pub fn resume_not_confirmed(set: &str, again: &str) -> Failure {
    Failure::new("not confirmed; nothing was changed").hint(format!(
        "if the share files of set {set} are lost or were destroyed, run 'baton rotate --abort' and then '{again}' again; pass --yes to finish without asking"
    ))
}

pub fn holders_same_file(file: &str) -> Failure {
    Failure::usage(
        format!("two holders map to the same share file name ({file})"),
        "give holders distinct names",
    )
}

/// An export whose file or folder is inside the vault (or contains it).
pub fn export_inside_vault(what: &'static str) -> Failure {
    export(baton::export::ExportError::InsideVault {
        what,
        path: Default::default(),
    })
}

/// Why an export failed (docs/export-format.md).
pub fn export(e: baton::export::ExportError) -> Failure {
    use baton::export::ExportError;
    match e {
        ExportError::InsideVault { .. } => Failure::new(e.to_string()).hint(
            "choose a file or folder outside the vault folder (which may sync, and whose cleanup removes files it does not know)",
        ),
        ExportError::Write { ref path, ref source } => match source.kind() {
            std::io::ErrorKind::AlreadyExists => Failure::new(format!(
                "{} {source} (use --force to replace a regular file)",
                shown(path)
            ))
            .hint("choose another file with -o FILE, or replace it with --force"),
            _ => Failure::new(e.to_string()).hint(HINT_WRITABLE),
        },
        ExportError::NotRecorded { removed, .. } => Failure::new(e.to_string()).hint(if removed {
            "nothing was exported; fix the problem named above and export again"
        } else {
            "delete that file before anyone gets it, fix the problem and export again"
        }),
        ExportError::Vault(v) => v.into(),
        ExportError::NoRecipients | ExportError::Encrypt(_) => Failure::new(e.to_string())
            .hint("nothing was written; check the recipients (--to, --to-ssh-key or the client's stored keys)"),
        other => Failure::new(other.to_string()).hint(HINT_VERIFY),
    }
}

pub fn private_dir_in_vault(what: &str) -> Failure {
    Failure::new(format!(
        "the {what} must not be inside the vault (or contain it)"
    ))
    .hint("choose a folder on a local, unsynced (preferably encrypted) disk")
}

pub fn private_dir_not_empty(what: &str, dir: &Path) -> Failure {
    Failure::new(format!("{what} {} exists and is not empty", shown(dir)))
        .hint("choose a new folder")
}

pub fn holder_twice(name: &str) -> Failure {
    Failure::usage(
        format!("--holder names {name} twice"),
        "name each holder once: --holder NAME or --holder NAME=RECIPIENT",
    )
}

pub fn holder_not_found(name: &str, holders: &[String]) -> Failure {
    Failure::usage(
        format!("--holder names {name}, who holds no share"),
        format!("the holders are: {}", holders.join(", ")),
    )
}

pub fn no_chromium() -> Failure {
    Failure::new("--pdf needs Chromium, which was not found")
        .hint("install it (Debian: apt install chromium), or print the HTML kits from a browser")
}

pub fn pdf_with_holder_key() -> Failure {
    Failure::usage(
        "--pdf with an encrypted kit (--holder NAME=RECIPIENT) would put a plaintext kit on the disk while printing",
        "print encrypted kits without --pdf (the HTML prints from any browser), or run where XDG_RUNTIME_DIR is set",
    )
}

pub fn kit_unencryptable(name: &str, e: &dyn fmt::Display) -> Failure {
    Failure::new(format!("cannot encrypt the kit of {name}: {e}"))
        .hint("check the key given with --holder NAME=RECIPIENT")
}

pub fn print_failed(what: &str, e: &dyn fmt::Display) -> Failure {
    Failure::new(format!("{what}: {e}"))
        .hint("the HTML kits are complete on their own: print them from a browser, without --pdf")
}

pub fn chromium_no_pdf() -> Failure {
    Failure::new("Chromium did not print the kit to PDF")
        .hint("the HTML kits are complete on their own: print them from a browser")
}

pub fn keyboard_failed(e: &std::io::Error) -> Failure {
    Failure::new(format!("cannot read from the terminal: {}", e.kind()))
        .hint("give the shares with --share-file FILE (one per holder)")
}

pub fn share_file_not_text() -> Failure {
    Failure::new("a share file is not UTF-8 text")
        .hint("a share file holds the words of one share, as 'baton init' wrote it")
}

pub fn no_terminal_shares() -> Failure {
    Failure::new("no terminal to type the shares on")
        .hint("give the shares with --share-file FILE (one per holder, '-' for stdin)")
}

pub fn no_terminal_share() -> Failure {
    Failure::new("no terminal to type the share on").hint("give the share with --share-file FILE")
}

pub fn not_enough_shares(need: &str) -> Failure {
    Failure::new(format!("not enough shares: {need}"))
        .hint("the emergency key needs shares from more holders (see the kits: 'who is needed')")
        .code(EXIT_AUTH)
}

pub fn one_share_only() -> Failure {
    Failure::usage(
        "check-share checks one share at a time",
        "give one --share-file FILE; check the other shares one by one",
    )
}

pub fn bad_vault_id() -> Failure {
    Failure::usage(
        "--vault-id takes the 32 hex digits of the vault id",
        "the kit prints it under the title",
    )
}

pub fn vault_id_or_vault(f: Failure) -> Failure {
    f.hint("without a copy of the vault, give the vault id printed on the kit: --vault-id ID")
}

/// `check-share` on a share that is valid but not one of the current set.
pub fn share_not_current(short: &str) -> Failure {
    Failure::new(short)
        .hint("ask the vault's owner for a current kit")
        .code(EXIT_AUTH)
}

/// What to tell a holder whose share was not taken.
pub fn share_hint(e: &ShareError, vault_id: &str) -> String {
    match e {
        ShareError::Invalid {
            mistyped: Some(k), ..
        } => format!("word {k} is wrong: the checksum points to it; compare it with the kit"),
        ShareError::Invalid { error, .. } => match error {
            Slip39Error::InvalidLength { .. } => {
                "a word is missing or was typed twice; compare the words with the kit".into()
            }
            _ => "compare the words with the kit; the first four letters of each word are enough"
                .into(),
        },
        ShareError::Duplicate { .. } => {
            "each share counts once: the next share must come from another holder".into()
        }
        ShareError::Retired(_) => {
            "this kit is out of date: the holder should have a newer kit of the current set; destroy the old one".into()
        }
        ShareError::Foreign { .. } => {
            format!("check that this kit belongs to this vault: its vault id must be {vault_id}")
        }
        ShareError::NotIssued => format!(
            "check that this kit belongs to this vault (vault id {vault_id}) and compare its check code; if every kit is refused like this, this copy's vault.json may have been altered: use another copy of the vault"
        ),
        ShareError::GroupComplete { .. } | ShareError::NotNeeded => {
            "this share is not needed: shares from the other groups are".into()
        }
        _ => format!(
            "compare the words with the kit, and its vault id with this vault's ({vault_id})"
        ),
    }
}

/// A share that was not taken: exit 3, like a wrong passphrase.
pub fn share(e: ShareError, vault_id: &str, source: &str) -> Failure {
    let hint = share_hint(&e, vault_id);
    Failure::new(format!("{source}: {e}"))
        .hint(hint)
        .code(EXIT_AUTH)
}

// ------------------------------------------------------------------ rotation

pub fn rotate(e: RotateError) -> Failure {
    match e {
        RotateError::Pending(g) => Failure::new(format!(
            "a rotation to generation {g} was interrupted"
        ))
        .hint(HINT_ROTATION_PENDING),
        RotateError::NothingPending => Failure::new(e.to_string())
            .hint("'baton rotate' starts a new rotation"),
        RotateError::AlreadySwitched(_) => Failure::new(e.to_string())
            .hint("run 'baton rotate --resume' to remove the old generation's files"),
        RotateError::WrongPassphrase => Failure::new("wrong passphrase")
            .hint("passphrases are case-sensitive; nothing was changed")
            .code(EXIT_AUTH),
        RotateError::StateMismatch(_) => Failure::new(e.to_string())
            .hint("if another device rotated the keys too before the devices synced (a conflicted copy of the state file is in the vault folder), run 'baton rotate --abort', let the devices sync, and rotate again; nothing is lost. If you did not start a rotation, move the file out of the vault and run 'baton verify'")
            .code(EXIT_INTEGRITY),
        RotateError::OtherDevice { generation, .. } => Failure::new(e.to_string()).hint(format!(
            "let the devices sync: that device finishes or undoes it, and its state file goes. Only if that device is gone for good (it died during the rotation) and the vault stays at generation {} after the sync, or the rotation was started here before the folder was moved, run 'baton rotate --abort --yes'",
            generation - 1
        )),
        RotateError::StateForged(_) => Failure::new(e.to_string())
            .hint("if you did not start this rotation, move the file out of the vault and run 'baton verify'")
            .code(EXIT_INTEGRITY),
        RotateError::Integrity(i) => integrity(&i),
        RotateError::VerifyFailed(_) => Failure::new(format!("rotation stopped: {e}"))
            .hint("the disk returned different data than was written; the vault was left at its old keys; check the disk and run 'baton verify'")
            .code(EXIT_INTEGRITY),
        RotateError::Io { .. } => Failure::new(format!("rotation stopped: {e}"))
            .hint("nothing was lost: the vault keeps its old keys; free space or fix the folder and run 'baton rotate' again"),
        RotateError::Setup(i) => Failure::from(i),
        RotateError::Kdf(_) => Failure::new(e.to_string()).hint(HINT_KDF),
        RotateError::ReadOnly => Failure::new(e.to_string())
            .hint("the vault folder is read-only here: rotate a writable copy"),
        RotateError::OlderCopy(v) => Failure::from(v),
        RotateError::OwnerOnly | RotateError::TakeoverByOwner => Failure::new(e.to_string()).hint(
            "the owner rotates with the passphrase ('baton rotate'); the emergency key's holder takes over ('baton takeover')",
        ),
        other => Failure::new(other.to_string())
            .hint("nothing was lost: run 'baton status' to see the vault's state"),
    }
}

// ------------------------------------------------------------------ demo

pub fn demo_failed(e: &dyn fmt::Display) -> Failure {
    Failure::new(format!("demo failed: {e}"))
        .hint("the demo works in a temporary folder: check that TMPDIR (or --keep DIR) is writable")
}

pub fn demo_keep_exists(dir: &Path) -> Failure {
    Failure::new(format!("{} already exists", shown(dir)))
        .hint("give --keep a folder that does not exist yet")
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

/// Where `baton sync` left the repository when it stopped.
fn sync_left(left: Option<&str>) -> String {
    match left {
        Some(c) => format!(
            "this sync's changes are committed locally as {} (not pushed); the work tree is clean",
            &c[..12.min(c.len())]
        ),
        None => "nothing was committed; the repository is as it was".to_string(),
    }
}

/// Why `baton sync` stopped (docs/format.md#git).
pub fn sync_failed(e: &baton::git::SyncError) -> Failure {
    use baton::git::SyncError as E;
    let left = sync_left(e.left());
    match e {
        E::GitMissing => Failure::new(e.to_string())
            .hint("install git (apt install git, brew install git), or sync the folder another way"),
        E::Io(_) => Failure::new(e.to_string()).hint("check that git runs: 'git --version'"),
        E::NotARepository(p) => Failure::new(format!("{} is not in a git repository", shown(p)))
            .hint("'baton sync' needs a vault kept in git: 'git init' the folder (or a folder above it) and add a remote"),
        E::Locked => Failure::new(e.to_string())
            .hint("wait for the other baton command to finish; the lock is released when it exits")
            .code(EXIT_LOCKED),
        E::Detached => Failure::new(e.to_string())
            .hint("check out the branch the vault is kept on ('git switch main'), then sync again"),
        E::Busy(_) => Failure::new(e.to_string())
            .hint("finish or abort it first ('git status' says how), then sync again"),
        E::StagedOutside(_) => Failure::new(e.to_string())
            .hint("commit or unstage them first ('git restore --staged PATH'): a sync commits the vault folder only"),
        E::NoUpstream { branch } => Failure::new(e.to_string())
            .hint(format!("push it once with 'git push -u origin {branch}', or sync without pushing: 'baton sync --no-push'"))
            .code(EXIT_SYNC),
        E::Git { what: "push", .. } => Failure::new(e.to_string())
            .hint(format!("{left}; fix the remote (network, credentials), then run 'baton sync' again"))
            .code(EXIT_SYNC),
        E::Git { .. } => Failure::new(e.to_string())
            .hint(format!("{left}; 'git status' shows the rest"))
            .code(EXIT_SYNC),
        E::Conflict { .. } => Failure::new(e.to_string())
            .hint(format!("the merge was aborted and {left}; these files are not baton's to merge: settle them with git, then run 'baton sync' again"))
            .code(EXIT_SYNC),
        E::Open { .. } => Failure::new(e.to_string())
            .hint(format!("the merge was aborted and {left}; the upstream's vault may be damaged or forged: check it with 'baton verify' in a separate clone"))
            .code(EXIT_INTEGRITY),
        E::Merge { .. } => Failure::new(e.to_string())
            .hint(format!("git's merge is committed without it ({left}); readers still merge the heads; run 'baton sync' again"))
            .code(EXIT_SYNC),
        E::PushRaced(..) => Failure::new(e.to_string())
            .hint(format!("{left}; run 'baton sync' again"))
            .code(EXIT_SYNC),
        _ => Failure::new(e.to_string()).hint(left).code(EXIT_SYNC),
    }
}

pub fn sync_needs_passphrase() -> Failure {
    Failure::new("'baton sync' opens the vault with the owner passphrase, not an emergency key")
        .hint("after a takeover, sync with the new owner passphrase")
}

pub fn sync_header_choice(h: &baton::git::HeaderChoice) -> String {
    use baton::git::Side;
    format!(
        "vault.json was changed on both sides: kept {} (generation {}); the other side's header change (generation {}) is lost and may need making again",
        match h.kept {
            Side::Ours => "this clone's",
            Side::Theirs => "the upstream's",
        },
        h.generation,
        h.dropped_generation
    )
}

pub fn sync_kept_heads(n: usize) -> String {
    format!(
        "kept {n} head(s) of an older generation that a rotation on another clone removed (changes made here while it rotated): the merge carries those of the generations whose keys the vault keeps over; 'baton status' names any left"
    )
}

pub const SYNC_NEW_PASSPHRASE: &str = "the passphrase was changed on another device: git's merge is committed, the writers' heads are merged in memory; run 'baton sync' again with the new passphrase";

/// Clients in conflict after a sync (the terminal only; never a commit message).
pub fn sync_conflicts(ids: &[String]) -> String {
    format!(
        "{} client(s) have versions in conflict from different devices: {}; 'baton status' and 'baton list' mark them",
        ids.len(),
        ids.join(", ")
    )
}

/// `baton writers` on a vault before the multi-writer format.
pub fn no_writers() -> String {
    "this vault has no writer heads yet (version 2): its first change upgrades it".into()
}

pub fn writers_header() -> String {
    format!(
        "{:<16}  {:>8}  {:<10}  STATE",
        "WRITER", "REVISION", "LAST WRITE"
    )
}

/// One line of `baton writers`.
pub fn writer_line(w: &baton::vault::WriterInfo) -> String {
    let mut state: Vec<String> = Vec::new();
    if w.this_folder {
        state.push("this folder".into());
    }
    if w.waiting {
        state.push("its latest change is still arriving".into());
    } else if !w.included {
        state.push("not merged yet".into());
    }
    if w.retired {
        state.push(format!("retired ({} days without a change)", w.idle_days));
    }
    if w.holds > 0 {
        state.push(format!(
            "{} replaced file(s) kept until it catches up",
            w.holds
        ));
    }
    if state.is_empty() {
        state.push("in use".into());
    }
    format!(
        "{:<16}  {:>8}  {:<10}  {}",
        w.writer,
        w.revision,
        baton::time::day_of(&w.updated),
        state.join("; ")
    )
}

pub fn retired_writers_hint() -> String {
    format!(
        "retired writers have made no change for {} days or more; if such a device or copy is gone for good: 'baton writers forget WRITER'",
        baton::vault::RETIRE_AFTER_DAYS
    )
}

pub fn writer_forgotten(writer: &str, r: &baton::vault::ForgetReport) -> String {
    format!(
        "forgot writer {writer} (its last change was revision {}): {} head file(s) removed, {} replaced file(s) no longer kept; its audit records stay",
        r.revision, r.heads_removed, r.files_released
    )
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
