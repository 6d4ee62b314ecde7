//! The command-line definition. One definition produces `--help`, the man page and the
//! shell completions.

use baton::crypto::kdf;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use baton::client::EntryKind;
use baton::export::PackageRecipient;
use baton::generate;

use crate::msg::{self, BadValue};

#[derive(Parser, Debug)]
#[command(
    name = "baton",
    version,
    about = "Encrypted credential escrow vault for continuity",
    long_about = "baton keeps the access data of all your clients in an encrypted, \
                  tamper-evident vault of age files, hands each client its package, and \
                  lets a threshold of trusted holders (SLIP-39 shares) take over in an emergency.",
    after_help = msg::EXIT_CODES_HELP
)]
pub struct Cli {
    /// The vault folder [env: BATON_VAULT]
    #[arg(long, global = true, value_name = "DIR")]
    pub vault: Option<PathBuf>,

    /// Read the owner passphrase from the first line of FILE instead of the terminal
    /// [env: BATON_PASSPHRASE_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// Open the vault with the emergency key in FILE (an age identity, as written by
    /// `baton recover`) instead of the owner passphrase [env: BATON_IDENTITY]
    #[arg(long, global = true, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new vault and split its emergency key among holders
    Init(InitArgs),
    /// Add, edit or remove clients
    #[command(subcommand)]
    Client(ClientCmd),
    /// Add, edit, remove entries and attach files
    #[command(subcommand)]
    Entry(EntryCmd),
    /// List clients
    List(JsonArg),
    /// Show a client's entries (without secret values)
    Show {
        client: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Print one field of an entry (the password by default)
    Get(GetArgs),
    /// Search names, URLs, users, notes and tags
    Search {
        term: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Print the current TOTP code of an entry
    Otp {
        /// The entry, as CLIENT/ENTRY
        #[arg(value_name = "CLIENT/ENTRY")]
        target: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Generate a password or a passphrase (printed to stdout)
    Generate(GenerateArgs),
    /// Change the owner passphrase (and optionally the Argon2id parameters)
    Passwd(PasswdArgs),
    /// Show counts, share set, KDF parameters, rotation schedule and warnings
    Status(StatusArgs),
    /// Show the versions that devices made of the same data while apart: each numbered,
    /// with the device (writer id) that made it, when, and the fields that differ
    /// (secret values only with --reveal)
    Conflicts(ConflictsArgs),
    /// Settle one conflict between devices: keep one version (as numbered by
    /// 'baton conflicts'), or remove the item
    Resolve(ResolveArgs),
    /// List the folders on devices (writers) that wrote to this vault; 'forget' one
    /// that will not write again, so that replaced files are no longer kept for it
    Writers(WritersArgs),
    /// Re-encrypt every file to new keys (a new generation), crash-safe and resumable
    Rotate(RotateArgs),
    /// Show the audit log; --verify checks its hash chain
    Audit {
        #[arg(long)]
        verify: bool,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Decrypt and check every file: index, client files, audit chain
    Verify(JsonArg),
    /// Sync a vault kept in a git repository: commit the vault folder, fetch and merge
    /// the upstream, merge the writers' heads, push (uses your own git and its remotes)
    Sync(SyncArgs),
    /// Export a client's complete credential package (age file or printable sheet)
    Export(ExportArgs),
    /// Delete former clients whose retention has passed (a dry run without --yes)
    Purge(PurgeArgs),
    /// GDPR reports: the access report of Art. 15 and the records of processing
    #[command(subcommand)]
    Gdpr(GdprCmd),
    /// Show or set the owner's name and contact (shown in client packages and kits),
    /// where the vault copies are, and the rotation schedule
    Settings {
        #[arg(long, value_name = "NAME")]
        owner_name: Option<String>,
        #[arg(long, value_name = "CONTACT")]
        owner_contact: Option<String>,
        /// Where copies of the vault are, as the emergency kits tell the colleague
        /// ("Nextcloud folder baton of max@example.org; USB stick in the office safe")
        #[arg(long, value_name = "TEXT")]
        vault_copies: Option<String>,
        /// The colleague meant to take over, as the emergency kits name them for the
        /// holders ("Erika Beispiel, +49 30 1234567")
        #[arg(long, value_name = "TEXT")]
        successor: Option<String>,
        /// Months an ended client's data is kept before 'purge' deletes it (default 12;
        /// 0 to 1200)
        #[arg(long, value_name = "MONTHS", value_parser = between::<u32, 0, 1200>)]
        retention_months: Option<u32>,
        /// Months between key rotations (0: no schedule; at most 120); `status --check`
        /// reports when one is due
        #[arg(long, value_name = "MONTHS", value_parser = between::<u32, 0, 120>)]
        rotate_every: Option<u32>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Export a key as an age identity file, for the standard `age` command
    #[command(subcommand)]
    Key(KeyCmd),
    /// Emergency shares: printable kits, share checks, drills, more holders, a new set
    #[command(subcommand)]
    Emergency(EmergencyCmd),
    /// Rebuild the emergency key from the holders' shares and write it to a new folder,
    /// to read and export everything (works on a read-only copy of the vault)
    Recover(RecoverArgs),
    /// After `recover`: become the new owner. A new passphrase, new keys and new shares
    /// for new holders; everything is re-encrypted, old passphrase and shares stop working
    Takeover(TakeoverArgs),
    /// Run the whole flow on a throwaway vault with sample clients
    Demo(DemoArgs),
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a folder
    Man {
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// `--json`, the one definition every listing flattens (a command that means something
/// more specific by it says so with `mut_arg`).
#[derive(Args, Debug, Clone, Copy)]
pub struct JsonArg {
    /// Machine-readable JSON output
    #[arg(long)]
    pub json: bool,
}

/// `--yes`, the one confirmation flag (`--confirm` is a hidden alias, as `purge` had
/// it). Each command says what it skips with `mut_arg`.
#[derive(Args, Debug, Clone, Copy)]
pub struct YesArg {
    /// Do not ask for confirmation
    #[arg(long, alias = "confirm")]
    pub yes: bool,
}

/// Who holds the emergency key: `--holders` with `-t`, or `--policy`.
#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// Comma-separated names of the emergency share holders
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        requires = "threshold"
    )]
    pub holders: Option<Vec<String>>,
    /// How many holders are needed to rebuild the emergency key (1 to 16)
    #[arg(
        short = 't',
        long,
        value_name = "T",
        requires = "holders",
        value_parser = between::<u8, 1, 16>
    )]
    pub threshold: Option<u8>,
    /// SLIP-39 groups, all needed: "2 of anna,ben,carla; 1 of notary,spouse"
    #[arg(long, value_name = "POLICY", conflicts_with_all = ["holders", "threshold"])]
    pub policy: Option<String>,
}

/// How kits are written. `--holder` is the one flag that names a holder's kit
/// (`--holder-key` is its hidden alias); `emergency kits` also takes a bare NAME there,
/// to write only some holders' kits.
#[derive(Args, Debug, Clone, Default)]
pub struct KitArgs {
    /// Encrypt this holder's kit to an age or SSH public key: NAME=RECIPIENT (repeat;
    /// the holder gets only .age files)
    #[arg(
        long = "holder",
        alias = "holder-key",
        value_name = "NAME=RECIPIENT",
        value_parser = holder_with_key
    )]
    pub holder_keys: Vec<HolderSpec>,
    /// Also print each kit to PDF with headless Chromium
    #[arg(long)]
    pub pdf: bool,
}

/// A holder named by `--holder NAME[=RECIPIENT]`.
#[derive(Clone, Debug)]
pub struct HolderSpec {
    pub name: String,
    pub key: Option<PackageRecipient>,
}

/// `NAME` or `NAME=RECIPIENT` (`emergency kits`, which selects holders).
fn holder(text: &str) -> Result<HolderSpec, BadValue> {
    let Some((name, key)) = text.split_once('=') else {
        let name = text.trim();
        if name.is_empty() {
            return Err(msg::holder_spec_empty());
        }
        return Ok(HolderSpec {
            name: name.to_string(),
            key: None,
        });
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(msg::holder_spec_empty());
    }
    // The key is not echoed: a secret key pasted by mistake must not be printed back.
    let key = PackageRecipient::parse(key).map_err(|e| msg::holder_key_invalid(name, &e))?;
    Ok(HolderSpec {
        name: name.to_string(),
        key: Some(key),
    })
}

/// `NAME=RECIPIENT` (every command that writes every holder's kit).
fn holder_with_key(text: &str) -> Result<HolderSpec, BadValue> {
    let spec = holder(text)?;
    if spec.key.is_none() {
        return Err(msg::holder_spec_without_key(&spec.name));
    }
    Ok(spec)
}

/// A whole number from MIN to MAX, refused with the bounds in words (clap's own
/// `value_parser!(u32).range(..)` would say "0 is not in 12..=256").
fn between<T: TryFrom<u64>, const MIN: u64, const MAX: u64>(text: &str) -> Result<T, BadValue> {
    let n: u64 = text
        .trim()
        .parse()
        .map_err(|_| msg::not_a_number(text, MIN, MAX))?;
    if !(MIN..=MAX).contains(&n) {
        return Err(msg::out_of_range(n, MIN, MAX));
    }
    T::try_from(n).map_err(|_| msg::out_of_range(n, MIN, MAX))
}

/// A calendar date, YYYY-MM-DD.
fn date(text: &str) -> Result<String, BadValue> {
    if baton::time::is_date(text) {
        Ok(text.to_string())
    } else {
        Err(msg::not_a_date(text))
    }
}

/// `--kind`: the library's entry kinds, offered by completions and `--help`.
fn entry_kind() -> impl TypedValueParser<Value = EntryKind> {
    PossibleValuesParser::new(EntryKind::ALL.map(EntryKind::as_str))
        .map(|s| s.parse::<EntryKind>().expect("one of EntryKind::ALL"))
}

/// A new emergency key and share set: who holds it and where its kits go. `emergency
/// reissue` and `rotate --emergency` are one operation and take this one set of flags.
#[derive(Args, Debug, Clone, Default)]
pub struct NewSharesArgs {
    /// The new holders (default: the current policy)
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// New folder for the holders' new kits (mode 0700), outside the vault
    #[arg(long, alias = "shares-out", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    #[command(flatten)]
    pub kits: KitArgs,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// New folder for the holders' kits and share files (mode 0700), outside the vault
    /// and preferably on a local, unsynced disk
    #[arg(long, alias = "shares-out", value_name = "DIR")]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub kits: KitArgs,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// Argon2id parameters of a new owner passphrase.
#[derive(Args, Debug, Clone)]
pub struct KdfArgs {
    /// Argon2id memory in MiB (at least 64)
    #[arg(long, value_name = "MIB", default_value_t = kdf::DEFAULT_MEMORY_MIB)]
    pub kdf_memory: u32,
    /// Argon2id passes (at least 3)
    #[arg(long, value_name = "N", default_value_t = kdf::DEFAULT_TIME)]
    pub kdf_time: u32,
    /// Argon2id lanes
    #[arg(long, value_name = "N", default_value_t = kdf::DEFAULT_LANES)]
    pub kdf_lanes: u32,
    /// Raise the Argon2id memory until one unlock takes about this many milliseconds
    #[arg(long, value_name = "MS")]
    pub calibrate: Option<u64>,
    /// Use tiny Argon2id parameters: for tests only, offers no protection
    #[arg(long, hide = true)]
    pub insecure_test_kdf: bool,
}

impl KdfArgs {
    /// The request for the library's policy (`KdfRequest::fresh`).
    pub fn request(&self) -> kdf::KdfRequest {
        kdf::KdfRequest {
            memory_mib: Some(self.kdf_memory),
            time: Some(self.kdf_time),
            lanes: Some(self.kdf_lanes),
            insecure_test: self.insecure_test_kdf,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ClientCmd {
    /// Add a client
    Add {
        /// Short name used in commands (a-z 0-9 . _ -)
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        contact: String,
        #[arg(long, default_value = "")]
        notes: String,
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Change a client's name, contact, notes or tags
    Edit {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        /// Replace the tags (repeat for several)
        #[arg(long = "tag", value_name = "TAG")]
        tags: Option<Vec<String>>,
    },
    /// Set the client's own public keys that packages are encrypted to
    SetRecipient {
        id: String,
        /// `age1…`, an SSH public key line, or a .pub file (one key per line); repeat
        /// for several. Replaces the stored set.
        #[arg(required_unless_present = "clear", value_name = "RECIPIENT")]
        recipients: Vec<String>,
        /// Remove all stored recipients
        #[arg(long, conflicts_with = "recipients")]
        clear: bool,
    },
    /// Record that the contract ended (the data is then kept for the retention period
    /// and purged after it)
    End {
        id: String,
        /// The day it ended, YYYY-MM-DD [default: today]
        #[arg(long, value_name = "DATE", value_parser = date)]
        date: Option<String>,
        /// Why ("moved to another provider", "site offline for good")
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Undo 'client end': the client is active again
    Reopen { id: String },
    /// Set the data processing agreement, a legal hold or a retention date
    Set {
        id: String,
        /// signed:YYYY-MM-DD, signed, none (personal data but no agreement), not-needed,
        /// or unknown
        #[arg(long, value_name = "DECISION")]
        dpa: Option<String>,
        /// The agreement's reference ("AVV-2024-07")
        #[arg(long, value_name = "REF", requires = "dpa")]
        dpa_ref: Option<String>,
        /// Set a legal hold: the client is never purged while it is set
        #[arg(long, value_name = "REASON", conflicts_with = "no_hold")]
        hold: Option<String>,
        /// Lift the legal hold
        #[arg(long)]
        no_hold: bool,
        /// Keep the data until DATE (YYYY-MM-DD) instead of the vault's retention policy
        #[arg(
            long,
            value_name = "DATE",
            conflicts_with = "no_retain_until",
            value_parser = date
        )]
        retain_until: Option<String>,
        /// Back to the vault's retention policy
        #[arg(long)]
        no_retain_until: bool,
    },
    /// Remove a client and all its entries
    Rm {
        id: String,
        #[command(flatten)]
        yes: YesArg,
    },
}

#[derive(Args, Debug, Default)]
pub struct EntryFieldArgs {
    /// What the entry is for
    #[arg(long, value_parser = entry_kind())]
    pub kind: Option<EntryKind>,
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// Read the password from FILE ('-' for stdin); never give it on the command line
    #[arg(long, value_name = "FILE", conflicts_with_all = ["generate", "password_prompt"])]
    pub password_file: Option<PathBuf>,
    /// Ask for the password on the terminal
    #[arg(long, conflicts_with = "generate")]
    pub password_prompt: bool,
    /// Generate a random password
    #[arg(long)]
    pub generate: bool,
    /// Length of a generated password (12 to 256)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 24,
        requires = "generate",
        value_parser = between::<usize, { generate::MIN_LENGTH as u64 }, { generate::MAX_LENGTH as u64 }>
    )]
    pub length: usize,
    /// Read an otpauth://totp/ URI from FILE ('-' for stdin)
    #[arg(long = "totp", value_name = "FILE")]
    pub totp_file: Option<String>,
    #[arg(long)]
    pub note: Option<String>,
    /// Tag (repeat for several; replaces existing tags when editing)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Option<Vec<String>>,
}

#[derive(Subcommand, Debug)]
pub enum EntryCmd {
    /// Add an entry to a client
    Add {
        client: String,
        name: String,
        #[command(flatten)]
        fields: EntryFieldArgs,
    },
    /// Change fields of an entry
    Edit {
        client: String,
        name: String,
        #[command(flatten)]
        fields: EntryFieldArgs,
        /// Give the entry a new name
        #[arg(long, value_name = "NEW")]
        rename: Option<String>,
        #[arg(long, conflicts_with_all = ["password_file", "password_prompt", "generate"])]
        clear_password: bool,
        #[arg(long, conflicts_with = "totp_file")]
        clear_totp: bool,
    },
    /// Remove an entry
    Rm { client: String, name: String },
    /// Store a file (SSH key, certificate) with an entry
    Attach {
        client: String,
        entry: String,
        file: PathBuf,
        /// Store under this name instead of the file's name
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// Replace an attachment of the same name
        #[arg(long)]
        force: bool,
    },
    /// Remove an attachment
    Detach {
        client: String,
        entry: String,
        name: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Field {
    Password,
    User,
    Url,
    Note,
    /// The otpauth:// URI (a secret)
    Totp,
}

#[derive(Args, Debug)]
#[command(mut_arg("json", |a| a.help("The whole entry as JSON, secrets included")))]
pub struct GetArgs {
    /// The entry, as CLIENT/ENTRY
    #[arg(value_name = "CLIENT/ENTRY")]
    pub target: String,
    #[arg(long, value_enum, default_value = "password")]
    pub field: Field,
    /// Print an attachment instead of a field
    #[arg(long, value_name = "NAME", conflicts_with_all = ["field", "json"])]
    pub attachment: Option<String>,
    /// Allow printing a secret to a terminal
    #[arg(long)]
    pub show: bool,
    /// Write to FILE (created new, mode 0600) instead of stdout
    #[arg(short, long, value_name = "FILE", conflicts_with = "json")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Args, Debug)]
pub struct WritersArgs {
    #[command(subcommand)]
    pub action: Option<WritersCmd>,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Subcommand, Debug)]
pub enum WritersCmd {
    /// Forget a writer that will not write again (a replaced machine, a deleted copy):
    /// its head goes and replaced files are no longer kept for it; its audit records
    /// stay
    Forget {
        /// The writer id, as 'baton writers' lists it
        writer: String,
    },
}

#[derive(Args, Debug)]
pub struct ConflictsArgs {
    /// Only this client's conflicts
    pub client: Option<String>,
    /// Also print secret values (passwords, TOTP seeds) of every version
    #[arg(long)]
    pub reveal: bool,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("choice").required(true).args(["keep", "remove"])))]
pub struct ResolveArgs {
    /// An entry (CLIENT/ENTRY), or a client (CLIENT) for its own conflict: its removal
    /// on another device first, then its details
    #[arg(value_name = "CLIENT[/ENTRY]")]
    pub target: String,
    /// Keep version N as 'baton conflicts' numbers them (a removal's number removes)
    #[arg(long, value_name = "N", value_parser = between::<usize, 1, 1000>)]
    pub keep: Option<usize>,
    /// Remove the entry (or, for a client removed on another device, the client)
    #[arg(long)]
    pub remove: bool,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Password length (12 to 256) [default: 24]
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "words",
        value_parser = between::<usize, { generate::MIN_LENGTH as u64 }, { generate::MAX_LENGTH as u64 }>
    )]
    pub length: Option<usize>,
    /// A passphrase of N words instead (4 to 32; SLIP-39 word list, 10 bits per word)
    #[arg(long, value_name = "N", value_parser = between::<usize, { generate::MIN_WORDS as u64 }, { generate::MAX_WORDS as u64 }>)]
    pub words: Option<usize>,
    /// Letters and digits only
    #[arg(long, conflicts_with = "words")]
    pub no_symbols: bool,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print nothing; exit 0 if all is well, 10 if a key rotation is due, 11 if there
    /// is an integrity problem or an interrupted rotation (for cron or a systemd timer).
    /// Needs no passphrase unless --verify is given
    #[arg(long, conflicts_with = "json")]
    pub check: bool,
    /// With --check: also unlock the vault, decrypt and check every file, and count
    /// unresolved conflicts between devices as a problem (exit 11; only the key can
    /// see them)
    #[arg(long, requires = "check")]
    pub verify: bool,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Rotation cannot revoke old copies: backups, git history, synced \
                        trash and earlier exports stay readable with the old keys. \
                        'baton rotate' prints the checklist.",
    mut_arg("out_dir", |a| a.help("With --emergency: new folder for the holders' new kits (mode 0700), outside the vault")),
    mut_arg("yes", |a| a.requires("resume").help("With --resume: finish a rotation that replaces the emergency key without asking whether its share files still exist"))
)]
pub struct RotateArgs {
    /// Also replace the emergency key: new SLIP-39 shares for every holder (old shares
    /// open nothing written from now on); the same as 'baton emergency reissue'
    #[arg(long, requires = "out_dir")]
    pub emergency: bool,
    /// With --emergency: the new holders, where their kits go and how
    #[command(flatten)]
    pub shares: NewSharesArgs,
    /// Also raise the Argon2id parameters of the passphrase (new salt); without values
    /// the memory cost is doubled
    #[arg(long)]
    pub kdf: bool,
    /// With --kdf: Argon2id memory in MiB
    #[arg(long, value_name = "MIB", requires = "kdf")]
    pub kdf_memory: Option<u32>,
    /// With --kdf: Argon2id passes
    #[arg(long, value_name = "N", requires = "kdf")]
    pub kdf_time: Option<u32>,
    /// With --kdf: Argon2id lanes
    #[arg(long, value_name = "N", requires = "kdf")]
    pub kdf_lanes: Option<u32>,
    /// Finish a rotation that was interrupted (crash, Ctrl-C, full disk)
    #[arg(long, conflicts_with_all = ["abort", "emergency", "kdf"])]
    pub resume: bool,
    /// Undo a rotation that was interrupted before it switched to the new keys
    #[arg(long, conflicts_with_all = ["emergency", "kdf"])]
    pub abort: bool,
    #[command(flatten)]
    pub yes: YesArg,
}

impl RotateArgs {
    /// `--kdf-*` for the library's "only raise" rule (`KdfRequest::raised`).
    pub fn kdf_request(&self) -> kdf::KdfRequest {
        kdf::KdfRequest {
            memory_mib: self.kdf_memory,
            time: self.kdf_time,
            lanes: self.kdf_lanes,
            insecure_test: false,
        }
    }
}

#[derive(Args, Debug)]
pub struct PasswdArgs {
    /// Read the new passphrase from FILE instead of the terminal
    #[arg(long, value_name = "FILE")]
    pub new_passphrase_file: Option<PathBuf>,
    /// New Argon2id memory in MiB
    #[arg(long, value_name = "MIB")]
    pub kdf_memory: Option<u32>,
    /// New Argon2id passes
    #[arg(long, value_name = "N")]
    pub kdf_time: Option<u32>,
    /// New Argon2id lanes
    #[arg(long, value_name = "N")]
    pub kdf_lanes: Option<u32>,
}

impl PasswdArgs {
    /// `--kdf-*` for the library's policy (`KdfRequest::changed`).
    pub fn kdf_request(&self) -> kdf::KdfRequest {
        kdf::KdfRequest {
            memory_mib: self.kdf_memory,
            time: self.kdf_time,
            lanes: self.kdf_lanes,
            insecure_test: false,
        }
    }
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo vault in DIR instead of a temporary folder
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Write the owner identity (after the passphrase) to a new 0600 file
    ExportOwner {
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Rebuild the emergency identity from share files, check it against the vault, and
    /// write it to a new 0600 file
    FromShares {
        /// Share files (one SLIP-39 mnemonic each; lines starting with # are ignored)
        #[arg(required = true, value_name = "SHARE_FILE")]
        shares: Vec<PathBuf>,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExportFormatArg {
    /// An age file holding README.txt, credentials.html, credentials.json and attachments
    Age,
    /// The printable sheet alone, unencrypted (asks to confirm)
    Html,
    /// A KeePassXC database (KDBX 4) locked with a generated password, shown once
    Kdbx,
}

#[derive(Args, Debug)]
#[command(mut_arg("yes", |a| a.help("Do not ask before writing a plaintext sheet")))]
pub struct ExportArgs {
    /// The client to export
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub client: Option<String>,
    /// Every client with a stored recipient, one package each (needs --out-dir); with
    /// --to or --to-ssh-key, every client, to those keys
    #[arg(long, requires = "out_dir")]
    pub all: bool,
    /// Folder for --all packages (created, mode 0700)
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    pub out_dir: Option<PathBuf>,
    /// Encrypt to this recipient (age1… or an SSH public key line) instead of the stored ones
    #[arg(long = "to", value_name = "RECIPIENT")]
    pub to: Vec<String>,
    /// Encrypt to the SSH public key(s) in FILE (ssh-ed25519 or ssh-rsa)
    #[arg(long = "to-ssh-key", value_name = "FILE")]
    pub to_ssh_key: Vec<PathBuf>,
    /// Encrypt with a newly generated passphrase, shown once on the terminal
    #[arg(long, conflicts_with_all = ["to", "to_ssh_key", "all"])]
    pub passphrase: bool,
    #[arg(long, value_enum, default_value = "age")]
    pub format: ExportFormatArg,
    /// Output file (created new, mode 0600) [default: baton-CLIENT-DATE.age or .html]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// ASCII-armored age output (PEM-like text)
    #[arg(long)]
    pub armor: bool,
    /// Replace an existing output file
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub yes: YesArg,
}

/// Shares typed by holders: from files, or word by word on the terminal.
#[derive(Args, Debug, Clone, Default)]
pub struct ShareInput {
    /// A share file (one SLIP-39 share; lines starting with # are ignored; '-' reads
    /// one share per line from stdin). Repeat for several. Without it, baton asks on
    /// the terminal, word by word
    #[arg(long = "share-file", value_name = "FILE")]
    pub share_files: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum EmergencyCmd {
    /// Write one printable kit (HTML, and PDF with --pdf) and share file per holder of
    /// the current share set
    #[command(mut_arg("holder_keys", |a| a
        .value_name("NAME[=RECIPIENT]")
        .value_parser(holder)
        .help("Only this holder's kit (repeat; default: every holder's); NAME=RECIPIENT also encrypts it to an age or SSH public key")))]
    Kits {
        /// New folder for the kits (mode 0700), outside the vault
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        #[command(flatten)]
        kits: KitArgs,
    },
    /// Check one share: are the words valid, is it this vault's, is it the current set?
    /// Needs no passphrase and no other share
    CheckShare {
        #[command(flatten)]
        input: ShareInput,
        /// Without a copy of the vault: the vault id printed on the kit. baton then
        /// checks the words and shows the check code to compare with the kit
        #[arg(long, value_name = "ID")]
        vault_id: Option<String>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// A rehearsal: enough holders enter their shares; baton proves they rebuild the
    /// emergency key, records the drill, and prints nothing secret. Needs no passphrase
    Drill {
        #[command(flatten)]
        input: ShareInput,
    },
    /// Give one more person a share of the current set (no new key; existing shares
    /// stay valid)
    AddHolder {
        name: String,
        /// The group (1-based) the holder joins, if the policy has several
        #[arg(long, value_name = "N", value_parser = between::<usize, 1, 16>)]
        group: Option<usize>,
        /// New folder for the holder's kit, outside the vault
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        #[command(flatten)]
        kits: KitArgs,
    },
    /// A new emergency key and share set (a key rotation): every old share becomes
    /// void for everything written from now on; kits for every holder. The same as
    /// 'baton rotate --emergency'
    #[command(mut_arg("out_dir", |a| a.required(true)))]
    Reissue(NewSharesArgs),
}

#[derive(Args, Debug)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub input: ShareInput,
    /// New folder (mode 0700) for the emergency key file, on an encrypted or
    /// removable disk
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct TakeoverArgs {
    /// The new holders of the new emergency key
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Your name, as the new holders' kits and client packages show it
    #[arg(long, value_name = "NAME")]
    pub owner_name: String,
    /// Your phone or mail, for the kits and packages
    #[arg(long, value_name = "CONTACT", default_value = "")]
    pub owner_contact: String,
    /// Where the vault copies are now (default: as the old owner recorded it)
    #[arg(long, value_name = "TEXT")]
    pub vault_copies: Option<String>,
    /// Who takes over from you, for the new kits (default: nobody named)
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub successor: String,
    /// New folder for the new holders' kits (mode 0700), outside the vault
    #[arg(long, alias = "shares-out", value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Read the new owner passphrase from FILE instead of the terminal
    #[arg(long, value_name = "FILE")]
    pub new_passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    pub kits: KitArgs,
    #[command(flatten)]
    pub input: ShareInput,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

#[derive(Args, Debug)]
#[command(mut_arg("yes", |a| a.help("Delete now: without it, purge only lists what it would delete")))]
pub struct PurgeArgs {
    #[command(flatten)]
    pub yes: YesArg,
    /// Delete this client on request (GDPR Art. 17), whatever its retention date;
    /// refused under a legal hold
    #[arg(long, value_name = "ID")]
    pub client: Option<String>,
    #[command(flatten)]
    pub json: JsonArg,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LangArg {
    De,
    En,
}

#[derive(Subcommand, Debug)]
pub enum GdprCmd {
    /// What is held about one client (GDPR Art. 15): categories and counts, purpose,
    /// who can decrypt it, its exports and recoveries, retention, DPA; no secret value
    Report {
        client: String,
        #[command(flatten)]
        out: ReportOut,
    },
    /// The records of processing (Art. 30): all clients with categories, lifecycle,
    /// retention and DPA, and the clients purged so far
    Records {
        #[command(flatten)]
        out: ReportOut,
    },
}

/// How a GDPR report is written.
#[derive(Args, Debug)]
#[command(mut_arg("json", |a| a.help("JSON instead of HTML")))]
pub struct ReportOut {
    #[arg(long, value_enum, default_value = "de")]
    pub lang: LangArg,
    /// Write the page (or the JSON) to FILE (created new, mode 0600) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonArg,
}

/// The command line, or a usage error in baton's form (exit 2). `--help` and
/// `--version` print as clap does and exit 0.
pub fn parse() -> crate::msg::Result<Cli> {
    use clap::error::ErrorKind;
    <Cli as clap::Parser>::try_parse().map_err(|e| {
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            e.exit();
        }
        let (path, commands) = command_path();
        crate::msg::usage(&e, &path, &commands)
    })
}

/// The (sub)command as typed ("baton emergency kits") and the names of its
/// subcommands, for usage errors. Flags are skipped, and with them the values of the
/// global flags.
fn command_path() -> (String, Vec<String>) {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut path = vec![cmd.get_name().to_string()];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if matches!(a.as_str(), "--vault" | "--passphrase-file" | "--identity") {
            args.next();
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(&a) {
            Some(sub) => {
                let sub = sub.clone();
                path.push(sub.get_name().to_string());
                cmd = sub;
            }
            None => break,
        }
    }
    let commands = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    (path.join(" "), commands)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own checks over every command: the ids that `requires`, `conflicts_with`
    /// and `mut_arg` name exist, and no flag is defined twice.
    #[test]
    fn flag_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn numbers_outside_their_range_are_refused() {
        assert_eq!(between::<u8, 1, 16>("16").unwrap(), 16);
        assert!(between::<u8, 1, 16>("0").is_err());
        assert!(between::<u8, 1, 16>("17").is_err());
        assert!(between::<u8, 1, 16>("-1").is_err());
        assert!(between::<u32, 0, 120>("x").is_err());
        assert_eq!(between::<usize, 0, 120>(" 7").unwrap(), 7);
    }

    #[test]
    fn a_holder_key_must_be_public() {
        assert!(holder("anna").unwrap().key.is_none());
        assert!(holder_with_key("anna").is_err());
        assert!(holder("=age1x").is_err());
        assert!(holder("anna=AGE-SECRET-KEY-1QQQQ").is_err());
    }
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Commit and merge, but do not push
    #[arg(long)]
    pub no_push: bool,
    /// Change nothing: show what would be committed and how far the upstream is ahead
    /// (as of the last fetch)
    #[arg(long, conflicts_with = "no_push")]
    pub dry_run: bool,
    #[command(flatten)]
    pub json: JsonArg,
}
