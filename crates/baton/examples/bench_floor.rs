//! The floor for re-encrypting a vault (`scripts/bench-rotate`): with every client file
//! already in memory, how long do decrypting with the owner identity and encrypting to
//! the two vault recipients take, in one thread and across all cores (rayon)? No file
//! I/O is timed in those two figures. With `--write-dir DIR` (put it on the vault's file
//! system), also times writing the results and removing them again: one at a time the
//! way a commit does (`fsio::write_new`, `fsio::remove_durable`: every file and the
//! folder fsynced each time), and batched the way rotation does (files written in
//! parallel, made durable with one `fsio::SyncBatch`, unlinked in parallel, the folder
//! fsynced once).
//!
//! Run: `cargo run --release -p baton --example bench_floor -- VAULT IDENTITY_FILE
//! [--threads N] [--write-dir DIR]` where IDENTITY_FILE comes from
//! `baton key export-owner -o FILE`.
//!
//! Prints `key=value` lines on stdout, timings in seconds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use age::x25519;
use baton::crypto::seal;
use baton::store::fsio;
use rayon::prelude::*;

const USAGE: &str = "usage: bench_floor VAULT IDENTITY_FILE [--threads N] [--write-dir DIR]";

struct Args {
    vault: PathBuf,
    identity_file: PathBuf,
    threads: usize,
    write_dir: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut write_dir = None;
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--threads") => {
                threads = it
                    .next()
                    .and_then(|v| v.to_str()?.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--threads needs a positive number")?;
            }
            Some("--write-dir") => {
                write_dir = Some(it.next().ok_or("--write-dir needs a folder")?.into());
            }
            Some("-h" | "--help") => return Err(USAGE.into()),
            Some(s) if s.starts_with("--") => return Err(format!("unknown flag {s}\n{USAGE}")),
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let [vault, identity_file]: [PathBuf; 2] = positional.try_into().map_err(|_| USAGE)?;
    Ok(Args {
        vault,
        identity_file,
        threads,
        write_dir,
    })
}

/// The one X25519 identity in an age identity file. Errors name the line number, never
/// the line: it may be the secret key.
fn read_identity(path: &Path) -> Result<x25519::Identity, String> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the identity file: {e}"))?,
    );
    let mut found = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = x25519::Identity::from_str(line)
            .map_err(|_| format!("identity file line {}: not an age X25519 identity", n + 1))?;
        if found.replace(id).is_some() {
            return Err("the identity file holds more than one identity".into());
        }
    }
    found.ok_or_else(|| "the identity file holds no identity".into())
}

/// Every `clients/*.age` file of the vault, read into memory.
fn load_clients(vault: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(vault.join(baton::store::CLIENTS_DIR))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "age"))
        .collect();
    paths.sort();
    paths.iter().map(std::fs::read).collect()
}

/// Decrypts one file and encrypts its plaintext to `recipients`: the work rotation has
/// to do per file, whatever else it does.
fn reencrypt(
    identity: &x25519::Identity,
    recipients: &[x25519::Recipient],
    file: &[u8],
) -> Vec<u8> {
    let plain = seal::decrypt(identity, file).expect("the identity opens every client file");
    seal::encrypt(recipients, &plain)
}

/// `reencrypt` over all files on the rayon pool, as rotation does; returns how many
/// files it re-encrypted.
fn reencrypt_parallel(
    pool: &rayon::ThreadPool,
    identity: &x25519::Identity,
    recipients: &[x25519::Recipient],
    files: &[Vec<u8>],
) -> usize {
    pool.install(|| {
        files
            .par_iter()
            .map(|f| std::hint::black_box(reencrypt(identity, recipients, f)))
            .count()
    })
}

/// Seconds taken to write the re-encrypted files and remove them again.
struct WriteTimes {
    /// One file at a time through `fsio::write_new` (file and folder fsynced each
    /// time), what a commit does per client file.
    write_s: f64,
    /// One file at a time through `fsio::remove_durable` (folder fsynced each time).
    remove_s: f64,
    /// Batched instead, on the pool: every file created and written, no fsync...
    create_s: f64,
    /// ...then one `fsio::SyncBatch` (syncfs on Linux >= 5.8), then the folder. As
    /// durable as `write_s`.
    sync_s: f64,
    /// Every file unlinked on the pool, then the folder fsynced once.
    remove_batched_s: f64,
}

/// Times writing `out` into `dir` and removing it again, one at a time and batched.
fn time_writes(
    pool: &rayon::ThreadPool,
    dir: &Path,
    out: &[Vec<u8>],
) -> std::io::Result<WriteTimes> {
    fsio::create_private_dir(dir)?;
    let fresh_names = || -> Vec<PathBuf> {
        (0..out.len())
            .map(|_| dir.join(format!("{}.age", hex::encode(rand::random::<[u8; 16]>()))))
            .collect()
    };

    // Batched first, the way rotation writes; the 2 x N folder syncs of the one-at-a-time
    // run fill the file system's journal, which can slow whatever runs after it.
    // Creating and writing is timed apart from syncing: on a busy journal creating a
    // file costs as much as its fsync.
    let names = fresh_names();
    let batch = fsio::SyncBatch::open(dir)?;
    let start = Instant::now();
    pool.install(|| {
        names
            .par_iter()
            .zip(out)
            .try_for_each(|(p, bytes)| fsio::write_unsynced(p, bytes))
    })?;
    let create_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    pool.install(|| batch.sync(&names)).map_err(|(_, e)| e)?;
    fsio::sync_dir(dir)?;
    let sync_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    pool.install(|| names.par_iter().try_for_each(std::fs::remove_file))?;
    fsio::sync_dir(dir)?;
    let remove_batched_s = start.elapsed().as_secs_f64();
    let names = fresh_names();
    let start = Instant::now();
    for (p, bytes) in names.iter().zip(out) {
        fsio::write_new(p, bytes)?;
    }
    let write_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for p in &names {
        fsio::remove_durable(p)?;
    }
    let remove_s = start.elapsed().as_secs_f64();

    Ok(WriteTimes {
        write_s,
        remove_s,
        create_s,
        sync_s,
        remove_batched_s,
    })
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let header = baton::vault::read_header(&args.vault)?;
    let recipients = vec![
        x25519::Recipient::from_str(&header.recipients.owner)?,
        x25519::Recipient::from_str(&header.recipients.emergency)?,
    ];
    let identity = read_identity(&args.identity_file)?;
    if identity.to_public().to_string() != header.recipients.owner {
        return Err("the identity is not this vault's owner key".into());
    }

    let start = Instant::now();
    let files = load_clients(&args.vault)?;
    let load_s = start.elapsed().as_secs_f64();
    let in_bytes: usize = files.iter().map(Vec::len).sum();

    let start = Instant::now();
    let out: Vec<Vec<u8>> = files
        .iter()
        .map(|f| reencrypt(&identity, &recipients, f))
        .collect();
    let single_s = start.elapsed().as_secs_f64();
    let out_bytes: usize = out.iter().map(Vec::len).sum();
    // The results must be real age files for the same plaintext.
    if let (Some(a), Some(b)) = (files.first(), out.first()) {
        let before = seal::decrypt(&identity, a)?;
        let after = seal::decrypt(&identity, b)?;
        if *before != *after {
            return Err("re-encryption changed the plaintext".into());
        }
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let start = Instant::now();
    let par_files = reencrypt_parallel(&pool, &identity, &recipients, &files);
    let parallel_s = start.elapsed().as_secs_f64();
    // Sizes vary from run to run (age adds random "grease" stanzas), so compare counts.
    assert_eq!(par_files, files.len(), "same work in both runs");

    // What rotation adds to the floor: decrypting every new file once more to prove it
    // opens (docs/format.md#rotation, step 7). Here the floor's own outputs, in memory.
    let start = Instant::now();
    let checked = pool.install(|| {
        out.par_iter()
            .map(|f| std::hint::black_box(seal::decrypt(&identity, f).map(|p| p.len())))
            .filter(Result::is_ok)
            .count()
    });
    let verify_parallel_s = start.elapsed().as_secs_f64();
    assert_eq!(checked, out.len(), "every output decrypts");

    println!("files={}", files.len());
    println!("bytes_in={in_bytes}");
    println!("bytes_out={out_bytes}");
    println!("load_s={load_s:.3}");
    println!("floor_single_s={single_s:.3}");
    println!("floor_parallel_s={parallel_s:.3}");
    println!("floor_threads={}", args.threads);
    println!("floor_verify_parallel_s={verify_parallel_s:.3}");

    if let Some(dir) = &args.write_dir {
        let t = time_writes(&pool, dir, &out)?;
        println!("floor_write_s={:.3}", t.write_s);
        println!("floor_remove_s={:.3}", t.remove_s);
        println!("floor_create_parallel_s={:.3}", t.create_s);
        println!("floor_fsync_parallel_s={:.3}", t.sync_s);
        println!("floor_write_parallel_s={:.3}", t.create_s + t.sync_s);
        println!("floor_remove_batched_s={:.3}", t.remove_batched_s);
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_floor: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_floor: error: {e}");
            ExitCode::FAILURE
        }
    }
}
