//! Generates a large vault for benchmarks (`scripts/bench-rotate`): N clients named
//! `client-00001`… with M entries each, committed in batches through `Vault::commit`
//! so that generation stays linear in N (one `add_client`/`add_entry` per item would
//! re-encrypt the whole index every time).
//!
//! Run: `cargo run --release -p baton --example bench_vault -- VAULT PASSPHRASE_FILE
//! [--clients N] [--entries M] [--batch B] [--insecure-kdf]`
//!
//! Prints `key=value` lines on stdout (timings in seconds, sizes in bytes); progress on
//! stderr. The emergency shares are discarded: a benchmark vault holds no real secrets.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use baton::client::Attachment;
use baton::time::now;
use baton::vault::{Access, InitOptions, Vault};
use baton::{
    AuditEvent, ClientFile, Entry, EntryKind, KdfParams, Passphrase, SecretBytes, SecretText,
};
use rand::Rng;
use rand::seq::SliceRandom;

const USAGE: &str = "usage: bench_vault VAULT PASSPHRASE_FILE [--clients N] [--entries M] [--batch B] [--insecure-kdf]";

struct Args {
    vault: PathBuf,
    passphrase_file: PathBuf,
    clients: usize,
    entries: usize,
    batch: usize,
    insecure_kdf: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut args = Args {
        vault: PathBuf::new(),
        passphrase_file: PathBuf::new(),
        clients: 10_000,
        entries: 10,
        batch: 100,
        insecure_kdf: false,
    };
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        let mut number = |flag: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.to_str()?.parse().ok())
                .ok_or_else(|| format!("{flag} needs a number"))
        };
        match a.to_str() {
            Some("--clients") => args.clients = number("--clients")?,
            Some("--entries") => args.entries = number("--entries")?,
            Some("--batch") => args.batch = number("--batch")?.max(1),
            Some("--insecure-kdf") => args.insecure_kdf = true,
            Some("-h" | "--help") => return Err(USAGE.into()),
            Some(s) if s.starts_with("--") => return Err(format!("unknown flag {s}\n{USAGE}")),
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let [vault, passphrase_file]: [PathBuf; 2] = positional.try_into().map_err(|_| USAGE)?;
    args.vault = vault;
    args.passphrase_file = passphrase_file;
    Ok(args)
}

/// The first line of the file without its line ending, as `baton --passphrase-file`
/// reads it (crates/baton-cli/src/input.rs). The file's contents are never echoed.
fn read_passphrase(path: &Path) -> Result<Passphrase, String> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("cannot read the passphrase file: {e}"))?,
    );
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line)
        .map_err(|_| "the passphrase file is not UTF-8 text (line 1)".to_string())?;
    if text.is_empty() {
        return Err("the passphrase file has an empty first line".into());
    }
    Ok(Passphrase::new(text.to_string()))
}

/// Entry templates: (name, kind, url with `{c}` for the client's domain, user, has TOTP).
const TEMPLATES: [(&str, EntryKind, &str, &str, bool); 10] = [
    ("ssh-root", EntryKind::Ssh, "ssh://{c}:22", "root", false),
    (
        "panel",
        EntryKind::Panel,
        "https://panel.{c}/login",
        "admin",
        true,
    ),
    (
        "registrar",
        EntryKind::Domain,
        "https://registrar.example/account",
        "{c}-owner",
        true,
    ),
    (
        "dns",
        EntryKind::Dns,
        "https://dns.example/zones/{c}",
        "ops@{c}",
        false,
    ),
    (
        "db-main",
        EntryKind::Database,
        "postgres://db.{c}:5432/app",
        "app",
        false,
    ),
    (
        "cms",
        EntryKind::Cms,
        "https://{c}/wp-admin",
        "editor",
        false,
    ),
    (
        "mail",
        EntryKind::Mail,
        "imaps://mail.{c}:993",
        "info@{c}",
        true,
    ),
    (
        "api",
        EntryKind::Api,
        "https://api.{c}/v2",
        "deploy-bot",
        false,
    ),
    (
        "server",
        EntryKind::Server,
        "https://hosting.example/servers/{c}",
        "customer",
        false,
    ),
    ("other", EntryKind::Other, "https://{c}/", "max", false),
];

const NOTE_WORDS: [&str; 16] = [
    "backup",
    "contract",
    "renewal",
    "migrated",
    "firewall",
    "ticket",
    "ask",
    "before",
    "changes",
    "maintenance",
    "window",
    "sunday",
    "provider",
    "support",
    "hotline",
    "invoice",
];

/// Roughly `len` characters of plausible note text (never secret).
fn note(rng: &mut impl Rng, len: usize) -> String {
    let mut s = String::with_capacity(len + 16);
    while s.len() < len {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(NOTE_WORDS.choose(rng).expect("non-empty"));
    }
    s
}

/// A random base32 TOTP secret of 160 bits (RFC 4226 §4), as an otpauth:// URI.
fn totp_uri(rng: &mut impl Rng, issuer: &str, account: &str) -> String {
    const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let secret: String = (0..32).map(|_| B32[rng.gen_range(0..32)] as char).collect();
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits=6&period=30"
    )
}

fn client_name(i: usize, width: usize) -> String {
    format!("client-{i:0width$}")
}

/// One client with `entries` entries; every 20th client has an SSH key attachment.
fn make_client(
    rng: &mut impl Rng,
    vault_id: &str,
    id: String,
    entries: usize,
    time: &str,
) -> ClientFile {
    let domain = format!("{id}.example");
    let entries = (0..entries)
        .map(|j| {
            let (base, kind, url, user, totp) = TEMPLATES[j % TEMPLATES.len()];
            let name = match j / TEMPLATES.len() {
                0 => base.to_string(),
                n => format!("{base}-{}", n + 1),
            };
            let user = user.replace("{c}", &id);
            let attachments = if j == 0 && rng.gen_ratio(1, 20) {
                let mut key = vec![0u8; 300];
                rng.fill(&mut key[..]);
                vec![Attachment {
                    name: "id_ed25519".into(),
                    data: SecretBytes::new(key),
                }]
            } else {
                vec![]
            };
            Entry {
                kind,
                url: url.replace("{c}", &domain),
                password: Some(baton::generate::password(20, true).0),
                totp: totp.then(|| SecretText::new(totp_uri(rng, &id, &user))),
                user,
                note: note(rng, 100),
                tags: vec![],
                attachments,
                created: time.into(),
                updated: time.into(),
                name,
                ver: Default::default(),
            }
        })
        .collect();
    ClientFile {
        format: ClientFile::FORMAT.into(),
        version: 1,
        vault_id: vault_id.into(),
        cid: hex::encode(rng.r#gen::<[u8; 16]>()),
        name: format!("{} GmbH", id.replace('-', " ")),
        contact: format!("office@{domain}, +49 30 1234567"),
        notes: note(rng, 100),
        tags: vec![],
        recipients: vec![],
        created: time.into(),
        updated: time.into(),
        entries,
        id,
        lifecycle: Default::default(),
        meta_ver: Default::default(),
        removed: vec![],
        conflicts: Default::default(),
    }
}

/// Total size of the regular files under `dir`, and how many there are.
fn tree_size(dir: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    for e in rd.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            let (b, f) = tree_size(&e.path());
            bytes += b;
            files += f;
        } else if t.is_file() {
            bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            files += 1;
        }
    }
    (bytes, files)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let passphrase = read_passphrase(&args.passphrase_file)?;
    let kdf = if args.insecure_kdf {
        KdfParams::insecure_test()
    } else {
        KdfParams::standard()
    };
    let width = args.clients.to_string().len().max(5);
    let mut rng = rand::thread_rng();

    let start = Instant::now();
    let mut vault = Vault::init(
        &args.vault,
        &passphrase,
        InitOptions {
            policy: baton::emergency::Policy::single(
                vec!["anna".into(), "ben".into(), "carla".into()],
                2,
            ),
            kdf,
        },
        // A benchmark vault: the shares go nowhere.
        |_, _| Ok(()),
    )?;
    let init_s = start.elapsed().as_secs_f64();
    let vault_id = vault.index().vault_id.clone();
    let mut done = 0;
    while done < args.clients {
        let upto = (done + args.batch).min(args.clients);
        let time = now();
        let batch: Vec<ClientFile> = (done + 1..=upto)
            .map(|i| {
                make_client(
                    &mut rng,
                    &vault_id,
                    client_name(i, width),
                    args.entries,
                    &time,
                )
            })
            .collect();
        let detail = format!(
            "bench: {}..{}",
            client_name(done + 1, width),
            client_name(upto, width)
        );
        vault.commit(
            AuditEvent::new(baton::audit::AuditAction::ClientAdd, None, detail),
            batch,
            &[],
        )?;
        done = upto;
        if done % 1000 == 0 || done == args.clients {
            eprintln!(
                "bench_vault: {done}/{} clients, {:.1} s",
                args.clients,
                start.elapsed().as_secs_f64()
            );
        }
    }
    let gen_s = start.elapsed().as_secs_f64();
    let index_file = vault.commit_point();
    drop(vault);

    // Reopening costs one Argon2id derivation plus decrypting, authenticating and
    // parsing the index; timing the derivation alone separates the two. Each is the
    // fastest of three runs, as Argon2id alone varies by more than a small index costs.
    let mut open_s = f64::MAX;
    let mut vault = None;
    for _ in 0..3 {
        let start = Instant::now();
        let v = Vault::open(&args.vault, &passphrase, Access::Read)?;
        open_s = open_s.min(start.elapsed().as_secs_f64());
        vault = Some(v);
    }
    let vault = vault.expect("opened three times");
    let mut kdf_s = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        drop(vault.header().kdf.derive(&passphrase)?);
        kdf_s = kdf_s.min(start.elapsed().as_secs_f64());
    }
    let sample = client_name(args.clients.div_ceil(2).max(1), width);
    let start = Instant::now();
    let file = vault.client(&sample)?;
    let client_read_s = start.elapsed().as_secs_f64();
    let first_entry = file.entries.first().map(|e| e.name.clone());

    let (vault_bytes, vault_files) = tree_size(&args.vault);
    let (clients_bytes, client_files) = tree_size(&args.vault.join(baton::store::CLIENTS_DIR));
    let index_bytes = std::fs::metadata(&index_file)?.len();
    println!("clients={}", args.clients);
    println!("entries_per_client={}", args.entries);
    println!("init_s={init_s:.3}");
    println!("generate_s={gen_s:.3}");
    println!("vault_bytes={vault_bytes}");
    println!("vault_files={vault_files}");
    println!("client_files={client_files}");
    println!("client_files_bytes={clients_bytes}");
    println!(
        "client_file_avg_bytes={}",
        clients_bytes / client_files.max(1)
    );
    println!("index_bytes={index_bytes}");
    println!("open_s={open_s:.3}");
    println!("kdf_s={kdf_s:.3}");
    println!("open_without_kdf_s={:.3}", (open_s - kdf_s).max(0.0));
    println!("client_read_s={client_read_s:.4}");
    if let Some(entry) = first_entry {
        println!("sample_target={sample}/{entry}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_vault: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_vault: error: {e}");
            ExitCode::FAILURE
        }
    }
}
