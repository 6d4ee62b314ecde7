//! Shared helpers for the CLI tests: a throwaway vault driven through the built binary.
#![allow(dead_code, clippy::new_without_default)]

use assert_cmd::Command;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const PASS: &str = "test passphrase for the cli";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub vault: PathBuf,
    pub pass_file: PathBuf,
    pub shares: PathBuf,
}

impl Env {
    /// A fresh folder with a passphrase file; no vault yet.
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let pass_file = dir.path().join("pass.txt");
        fs::write(&pass_file, format!("{PASS}\n")).unwrap();
        fs::set_permissions(&pass_file, fs::Permissions::from_mode(0o600)).unwrap();
        Env {
            vault: dir.path().join("vault"),
            shares: dir.path().join("shares"),
            pass_file,
            dir,
        }
    }

    /// A vault with holders anna, ben, carla (2 of 3), fast test KDF.
    pub fn init() -> Env {
        let e = Env::new();
        e.cmd(&[
            "init",
            "--holders",
            "anna,ben,carla",
            "-t",
            "2",
            "--insecure-test-kdf",
            "--shares-out",
        ])
        .arg(&e.shares)
        .assert()
        .success();
        e
    }

    /// `init`, with the owner's name and contact set (Max Admin, max@admin.example).
    pub fn init_with_owner() -> Env {
        let e = Env::init();
        e.cmd(&[
            "settings",
            "--owner-name",
            "Max Admin",
            "--owner-contact",
            "max@admin.example",
        ])
        .assert()
        .success();
        e
    }

    /// Adds what every test invocation needs: no inherited BATON_* variables, a private
    /// state folder, `--vault V --passphrase-file P`, then `args`.
    fn configure(&self, c: &mut Command, args: &[&str]) {
        self.configure_at(c, &self.vault, &self.dir.path().join("state"), args);
    }

    fn configure_at(&self, c: &mut Command, vault: &Path, state: &Path, args: &[&str]) {
        c.env_remove("BATON_VAULT")
            .env_remove("BATON_PASSPHRASE_FILE")
            .env("XDG_STATE_HOME", state)
            .arg("--vault")
            .arg(vault)
            .arg("--passphrase-file")
            .arg(&self.pass_file)
            .args(args);
    }

    /// `baton --vault V --passphrase-file P ARGS`, with no BATON_* variables inherited.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("baton").unwrap();
        self.configure(&mut c, args);
        c
    }

    /// `baton` on another vault folder (a copy), with its own per-machine state folder
    /// beside it, so copies of one vault do not see each other's revisions.
    pub fn cmd_at(&self, vault: &Path, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("baton").unwrap();
        self.configure_at(&mut c, vault, &vault.with_extension("state"), args);
        c
    }

    /// Like `cmd`, but in a new session without a controlling terminal (`setsid`), so
    /// that what baton would show on /dev/tty goes to stderr where the test reads it.
    pub fn cmd_detached(&self, args: &[&str]) -> Command {
        let mut c = Command::new("setsid");
        c.arg("-w").arg(assert_cmd::cargo::cargo_bin("baton"));
        self.configure(&mut c, args);
        c
    }

    /// `cmd_at` without a controlling terminal, like `cmd_detached`.
    pub fn cmd_detached_at(&self, vault: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("setsid");
        c.arg("-w").arg(assert_cmd::cargo::cargo_bin("baton"));
        self.configure_at(&mut c, vault, &vault.with_extension("state"), args);
        c
    }

    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::write(&p, contents).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "baton {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.stdout(args)).unwrap()
    }
}

/// Every file of a folder with its contents (without the lock file), to prove that a
/// failed command changed nothing.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name() != ".lock" {
                out.push((e.path(), fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// True under CI (`CI=true`), where a test that cannot set up what it needs must fail
/// instead of returning early.
pub fn required() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

// Peer programs. A test that needs one is `#[ignore = "needs PROGRAM; ..."]`, so a plain
// `cargo test` lists it as ignored instead of passing it without running. An ignored
// test only runs when asked for (`-- --include-ignored`, as CI does), so a missing peer
// is then a failure that names the program, never a quiet return.

/// Fails the test unless `program` is on the PATH; `package` is the Debian package
/// that provides it.
#[track_caller]
pub fn need(program: &str, package: &str) {
    assert!(
        have(program),
        "this test needs `{program}`, which is not installed (apt-get install {package}); \
         it runs only when asked for with --include-ignored"
    );
}

pub fn have(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Copies a folder tree (a backup, a synced copy).
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    fs::create_dir_all(to).unwrap();
    for d in fs::read_dir(from).unwrap() {
        let d = d.unwrap();
        if d.file_type().unwrap().is_dir() {
            copy_tree(&d.path(), &to.join(d.file_name()));
        } else {
            fs::copy(d.path(), to.join(d.file_name())).unwrap();
        }
    }
}

/// A client file of the current generation, by client id (`clients/` also holds the
/// catalog's shard files).
#[allow(dead_code)]
pub fn client_file(vault: &Path, id: &str) -> PathBuf {
    use baton::crypto::secret::Passphrase;
    use baton::vault::{Access, Vault};
    let v = Vault::open(vault, &Passphrase::new(PASS.into()), Access::Read).unwrap();
    vault.join("clients").join(&v.locate(id).unwrap().file)
}

/// The plaintext of `file`, decrypted by the standard `age` command with the identity
/// file `identity` (asserts that it succeeds).
pub fn age_decrypt(identity: &Path, file: &Path) -> Vec<u8> {
    let out = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age -d {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Debian's Chromium (or another Chromium build) on the PATH.
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| have(c))
}

/// Renders `page` headless into the PNG `shot` (window `size`, e.g. "1000,1600"), with
/// a throwaway profile in `profile`; asserts that a screenshot was made.
pub fn screenshot(browser: &str, page: &Path, shot: &Path, profile: &Path, size: &str) {
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={size}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(baton::fs::file_url(page))
        .output()
        .unwrap();
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new age identity, written to `dir/name` (mode 0600) as an identity file.
pub fn age_identity(e: &Env, name: &str) -> (age::x25519::Identity, PathBuf) {
    let id = age::x25519::Identity::generate();
    let file = e.file(
        name,
        &format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&id.to_string())
        ),
    );
    (id, file)
}

/// Chromium on the PATH, or a failure naming it (see [`need`]).
#[track_caller]
pub fn need_chromium() -> &'static str {
    chromium().unwrap_or_else(|| {
        panic!(
            "this test needs chromium, which is not installed (apt-get install chromium); \
             it runs only when asked for with --include-ignored"
        )
    })
}

/// Chromium and zbarimg, or a failure naming what is missing (see [`need`]).
#[track_caller]
pub fn need_browser_and_qr_decoder() -> &'static str {
    need("zbarimg", "zbar-tools");
    need_chromium()
}

/// The plaintext of `file`, decrypted in-process (the `age` crate) with the identity in
/// the identity file `identity`. For checks that need no peer program; the standard
/// `age` command reads the same files in `interop_age.rs`.
pub fn age_decrypt_in_process(identity: &Path, file: &Path) -> Result<Vec<u8>, age::DecryptError> {
    let ids = age::IdentityFile::from_file(identity.to_string_lossy().into_owned())
        .map_err(age::DecryptError::from)
        .and_then(|f| f.into_identities())
        .unwrap_or_else(|e| panic!("identity file {}: {e}", identity.display()));
    let bytes = fs::read(file).unwrap();
    // Like the `age` command, accept both binary and ASCII-armored files.
    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(&bytes[..]))?;
    let mut reader = decryptor.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))?;
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut plain)?;
    Ok(plain)
}

/// The words of a share file (lines starting with # are comments).
pub fn share_file_words(file: &Path) -> String {
    fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `c` with `input` on its stdin; returns its output (stdout and stderr captured).
pub fn run_with_input(c: &mut std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

// ------------------------------------------------------------------ crash safety
//
// The library sweeps every step of every write in-process (crates/baton/tests/crash.rs);
// the CLI tests kill the real binary with SIGKILL at a few steps, chosen by label.

/// The steps `BATON_FAULT_AT=count` reported on stderr, by label, in order.
pub fn fault_trace_of(stderr: &str) -> Vec<String> {
    let total: usize = stderr
        .lines()
        .find_map(|l| l.strip_prefix("baton: fault points: "))
        .expect("the crash tests need baton built with debug assertions (the fault hook)")
        .parse()
        .unwrap();
    let labels: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("baton: fault point "))
        .map(|l| l.split_once(": ").expect("N: label").1.to_string())
        .collect();
    assert_eq!(labels.len(), total, "{stderr}");
    labels
}

/// The steps `args` takes on a copy of `base`, by label (single-threaded, so the order
/// of steps is the same on every run).
pub fn fault_trace(e: &Env, base: &Path, args: &[&str]) -> Vec<String> {
    let probe = e.dir.path().join("probe");
    let _ = fs::remove_dir_all(&probe);
    let _ = fs::remove_dir_all(probe.with_extension("state"));
    copy_tree(base, &probe);
    let out = e
        .cmd_at(&probe, args)
        .env("BATON_FAULT_AT", "count")
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = fs::remove_dir_all(&probe);
    let _ = fs::remove_dir_all(probe.with_extension("state"));
    fault_trace_of(&String::from_utf8_lossy(&out.stderr))
}

/// The 1-based number of the first step labelled `label`.
pub fn step_of(trace: &[String], label: &str) -> u64 {
    1 + trace
        .iter()
        .position(|l| l == label)
        .unwrap_or_else(|| panic!("no step {label:?} in {trace:?}")) as u64
}

/// The step just before the commit point of an ordinary write: the index is written
/// and synced under its temporary name, not yet renamed (docs/format.md#writes).
pub fn step_before_commit(trace: &[String]) -> u64 {
    step_of(trace, "write_atomic: renamed") - 1
}

/// Runs `args` on a fresh copy of `base`, killed with SIGKILL at step `point`.
pub fn crash_at(e: &Env, base: &Path, trial: &str, args: &[&str], point: u64) -> PathBuf {
    let v = e.dir.path().join(trial);
    copy_tree(base, &v);
    let out = e
        .cmd_at(&v, args)
        .env("BATON_FAULT_AT", point.to_string())
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "{args:?} was not killed at step {point}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

/// A command's stderr as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

impl Env {
    /// The newest audit record, as `audit --json` gives it.
    pub fn last_audit(&self) -> serde_json::Value {
        let log = self.json(&["audit", "--json"]);
        log["records"].as_array().unwrap().last().unwrap().clone()
    }
}

/// The vault's head (docs/format.md#multi-writer): the head of the current generation
/// written from this folder (one `Env` is one machine, so one writer), the newest if a
/// test made several.
pub fn head_file(vault: &Path) -> PathBuf {
    let generation = baton::vault::read_header(vault).unwrap().generation;
    let suffix = format!(".g{generation}.age");
    std::fs::read_dir(vault.join("heads"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(&suffix))
        .max_by_key(|e| e.metadata().unwrap().modified().unwrap())
        .expect("a head")
        .path()
}

/// Record `seq` of the audit chain of the writer of [`head_file`].
pub fn record_file(vault: &Path, seq: u64) -> PathBuf {
    let head = head_file(vault);
    let writer = &head.file_name().unwrap().to_string_lossy()[..16];
    vault.join("audit").join(format!("{writer}.{seq:012}.age"))
}
