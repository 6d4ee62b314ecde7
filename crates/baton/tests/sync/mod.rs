//! Test support for a vault kept in a folder that a file-sync service shares between
//! devices: a deterministic simulator of Syncthing, Nextcloud and Dropbox
//! ([`Sim`]), the conflict-name rules of each ([`names`]), and a harness for two
//! real Syncthing instances on this machine ([`syncthing`]).
//!
//! Include it in a test file with `mod sync;`. Nothing here knows the vault format:
//! the code under test writes into [`Sim::device_path`] folders as it would into a
//! synced folder, and the simulator finds its changes by scanning.
//!
//! # The simulator
//!
//! ```text
//! let mut sim = Sim::new(Service::Syncthing, 3, sync::seed(7));
//! write into sim.device_path(0) ...      // the code under test, on device 0
//! sim.sync_step(1);                      // device 1 exchanges a random part of its changes
//! sim.partial(2);                        // ... and device 2, leaving a transfer half done
//! sim.sync_all();                        // everyone until nothing changes; all equal
//! sim.conflict_copies(1)                 // relative paths of conflicted copies on device 1
//! ```
//!
//! * [`Sim::new`] / [`Sim::with_options`]`(service, devices, seed[, options])`: one
//!   folder per device under a temporary directory, and a "server": the files the
//!   service holds (Nextcloud's and Dropbox's server, Syncthing's cluster-wide global
//!   version of each file) with a version each.
//! * [`Sim::observe`] scans every device folder and gives each change (content hash
//!   differs from the last scan) the simulated time of the scan as its modification
//!   time (one second apart per device, in random order). Every other call scans
//!   first, so a write is stamped when the simulator next looks; call `observe`
//!   between two writes on different devices to make the second one newer (that
//!   decides Syncthing conflicts).
//! * [`Sim::pending`]`(i)`: the paths device `i` would exchange now (a local change,
//!   a change on the server, or both). [`Sim::apply`]`(i, paths)` exchanges exactly
//!   those, in that order, for hand-made schedules.
//! * [`Sim::sync_step`]`(i)`: a random non-empty subset of device `i`'s pending
//!   paths, in random order; so a deletion can arrive before the addition that
//!   replaced it. [`Sim::partial`]`(i)`: the same, and one more download is left
//!   half written under the service's temporary name (`.syncthing.NAME.tmp`,
//!   Nextcloud's `.NAME.~HEX`, Dropbox's `.dropbox.cache/`), as an interrupted sync
//!   leaves it. [`Sim::sync_device`]`(i)`: everything device `i` has pending.
//! * [`Sim::sync_all`]: rounds of `sync_device` over all devices in random order
//!   until nothing is pending anywhere; then asserts that every device holds exactly
//!   the server's files (ignored files aside) and returns the number of rounds.
//! * [`Sim::copy_folder`]`(from, to, keep_mtimes)` replaces device `to`'s folder by a
//!   copy of device `from`'s as it is now (half-synced, temporary files and all), as
//!   a person copying a synced folder does; [`Sim::add_device_copy`] makes a new
//!   device from such a copy (a new computer set up from a copied folder).
//! * [`Sim::conflict_copies`]`(i)`, [`Sim::files`], [`Sim::synced_files`],
//!   [`Sim::server_files`], [`Sim::log`] (one line per exchange) to look at.
//!
//! Runs are deterministic: the only randomness is a SplitMix64 generator ([`Rng`])
//! seeded with the `seed` (device IDs, schedules, scan order, clock), folders are
//! walked in sorted order, and modification times are simulated. A failing test prints its seed (the
//! simulator's `Drop` does it while panicking); [`seed`] and [`seeds`] take the seed
//! from `BATON_SYNC_SEED` when it is set, to replay one run.
//!
//! # What each service model does, and where it is simpler than the real one
//!
//! **Syncthing** (v1.x rules, as in Debian's 1.19): each device's files carry a
//! version vector; the server is the global version. A device announces a local
//! change; a change that is not a descendant of what the device had is a conflict,
//! won by a modification over a deletion, then by the newer modification time, then
//! by the smaller device ID ("the file originating from the device which has the
//! larger value of the first 63 bits for its device ID will be marked as the
//! conflicting file", docs.syncthing.net/users/syncing.html). The device holding the
//! loser renames it to `NAME.sync-conflict-YYYYMMDD-HHMMSS-ID.EXT` (time: its clock
//! at that moment; ID: the device that last modified the *winning* version, as
//! `folder_sendrecv.go` passes `file.ModifiedBy` of the incoming file, checked against
//! the real program in `syncthing_selftest.rs`), pulls the winner and announces the
//! merged version; the copy then syncs as a normal file. Equal contents are no
//! conflict. A conflict copy in conflict is deleted, not copied again ("already a
//! conflict copy; not copying again"), and at most 10 copies per file are kept
//! (`maxConflicts`). Syncthing 2.x dropped the "modification beats deletion" rule
//! (then the newer change wins and a losing modification becomes a conflict copy);
//! that is not modelled. Simplified: the cluster is one global index (no device
//! that hears from some peers but not others), whole files move at once (no blocks),
//! every device detects all changes (watcher and rescans are not modelled), and
//! directories exist only as parents of files (an emptied directory stays).
//!
//! **Nextcloud** (desktop client 3.x against a server): a device uploads a local
//! change if the server still has the version (etag) it last saw; if both changed
//! and the contents differ, the device syncing second renames its file to
//! `NAME (conflicted copy YYYY-MM-DD hhmmss).EXT` (time: that file's modification
//! time) and downloads the server's version. The copy stays on that device: the
//! client excludes conflict files (any name containing `_conflict-` or
//! `(conflicted copy`) from sync unless the server has the `uploadConflictFiles`
//! capability ([`Options::upload_conflict_files`]; then the name also holds the user
//! name and the copy is uploaded). Modified locally and deleted on the server: the
//! file is uploaded again; deleted locally and modified on the server: it is
//! downloaded again (modification wins both ways). Simplified: no chunked uploads,
//! no virtual files, no server-side locking, no "new folder needs confirmation"
//! prompts, and a rename is a delete plus an add (the client can detect moves).
//!
//! **Dropbox**: as Nextcloud, but the version that reaches the server second becomes
//! `NAME (WHO's conflicted copy YYYY-MM-DD).EXT` (` (N)` inside the parentheses when
//! that name is taken), `WHO` being the device's name ([`Sim::host`]), and that copy
//! is stored on the server and synced to every device ("the last version saved will
//! always appear as the conflicted copy", help.dropbox.com). Modification wins over
//! deletion as above (Dropbox's exact rule is not documented). Simplified as
//! Nextcloud, plus: no selective sync, no "(Case Conflict)" copies.
//!
//! **Ignored names** ([`Sim::is_ignored`]): what each program skips by default, plus
//! [`Options::extra_ignores`] (glob patterns with `*` and `?`, matched against
//! every path component, as a `.stignore`, Nextcloud's exclude list or Dropbox's
//! ignore attribute would add them). Syncthing ignores nothing of the user's by
//! default, only its own `.stfolder`, `.stignore`, `.stversions` and temporary
//! files (`.syncthing.*.tmp`, `~syncthing~*.tmp`). Nextcloud skips its
//! `sync-exclude.lst` (among them `*~`, `~$*`, `.~lock.*`, `~*.tmp` — not `*.tmp` —,
//! `*.~*`, `*.part`, `.*.sw?`, `._*`, `.nfs*`, `.fuse_hidden*`, `.DS_Store`,
//! `desktop.ini`), its own journal files, conflict files (above) and, when "sync
//! hidden files" is off ([`Options::ignore_hidden`]; new setups sync them), names
//! starting with a dot. Dropbox skips `desktop.ini`, `thumbs.db`, `.ds_store`,
//! `icon\r`, `.dropbox`, `.dropbox.attr`, `.dropbox.cache` and temporary files
//! `~$*`, `.~*`, `~*.tmp` (its help page "files that won't sync"; case-insensitive
//! here). So by default none of the three skips a `.lock` file or a temporary
//! `.NAME.tmp`: a vault's lock and temporary files do sync unless the user adds
//! ignore rules.

#![allow(dead_code)]

pub use baton::sync::names;
pub mod syncthing;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use names::{Service, Stamp};

/// The environment variable that replays one seed.
pub const SEED_ENV: &str = "BATON_SYNC_SEED";

/// Rounds after which [`Sim::sync_all`] gives up: the models settle in a few.
const MAX_ROUNDS: usize = 40;

/// Syncthing's default `maxConflicts`.
const MAX_CONFLICTS: usize = 10;

/// The seed from `BATON_SYNC_SEED`, or `default`.
pub fn seed(default: u64) -> u64 {
    seeds([default])[0]
}

/// The one seed from `BATON_SYNC_SEED`, or `defaults`.
pub fn seeds(defaults: impl IntoIterator<Item = u64>) -> Vec<u64> {
    match std::env::var(SEED_ENV) {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            vec![parsed.unwrap_or_else(|_| panic!("{SEED_ENV}={s:?} is not a u64"))]
        }
        Err(_) => defaults.into_iter().collect(),
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and good enough to schedule
/// tests; the same seed gives the same sequence everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift (Lemire), without modulo bias
    /// worth speaking of for test sizes.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Settings that differ between installations of one service.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Nextcloud: the server has the `uploadConflictFiles` capability, so conflict
    /// files are named with the user and uploaded to every device.
    pub upload_conflict_files: bool,
    /// Nextcloud: "sync hidden files" is off, names starting with a dot are skipped.
    pub ignore_hidden: bool,
    /// More names to skip (glob patterns with `*` and `?`, matched against every
    /// path component), as the user's ignore rules.
    pub extra_ignores: Vec<String>,
}

type Hash = [u8; 32];

fn hash(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

fn short(h: Option<Hash>) -> String {
    h.map_or_else(|| "deleted".to_owned(), |h| hex::encode(&h[..4]))
}

/// A version vector: device index -> counter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Vv(BTreeMap<usize, u64>);

impl Vv {
    /// The version after a change on `device`: newer than every counter seen.
    fn bump(&self, device: usize) -> Vv {
        let top = self.0.values().copied().max().unwrap_or(0);
        let mut v = self.clone();
        v.0.insert(device, top + 1);
        v
    }

    fn merge(&self, other: &Vv) -> Vv {
        let mut v = self.clone();
        for (&d, &c) in &other.0 {
            let e = v.0.entry(d).or_insert(0);
            *e = (*e).max(c);
        }
        v
    }

    /// `self` is `other` or a descendant of it.
    fn dominates(&self, other: &Vv) -> bool {
        other
            .0
            .iter()
            .all(|(d, &c)| self.0.get(d).copied().unwrap_or(0) >= c)
    }
}

/// What the server holds for one path (a deleted file stays as a tombstone).
#[derive(Debug, Clone)]
struct Global {
    content: Option<Vec<u8>>,
    hash: Option<Hash>,
    /// Syncthing's version.
    vv: Vv,
    /// Nextcloud's and Dropbox's version.
    etag: u64,
    mtime: i64,
    /// The device that last changed it.
    by: usize,
}

/// What a device last agreed with the server about one path.
#[derive(Debug, Clone, Default)]
struct Known {
    hash: Option<Hash>,
    vv: Vv,
    etag: u64,
}

/// The last scanned state of one path on a device's disk.
#[derive(Debug, Clone)]
struct Seen {
    hash: Option<Hash>,
    mtime: i64,
}

#[derive(Debug)]
struct Device {
    root: PathBuf,
    /// Syncthing's short device ID (7 base32 characters) and its numeric value.
    short_id: String,
    id_value: u64,
    /// Dropbox's computer name.
    host: String,
    known: BTreeMap<String, Known>,
    seen: BTreeMap<String, Seen>,
    /// Half-written downloads: path -> temporary file (relative).
    temps: BTreeMap<String, String>,
}

const HOSTS: [&str; 4] = [
    "laptop",
    "Max's MacBook Pro",
    "office-pc",
    "DESKTOP-4KJ9P2A",
];

/// The display name a Nextcloud account shows (for uploaded conflict files).
pub const NEXTCLOUD_USER: &str = "Max Admin";

/// A simulated sync service and its devices; see the module documentation.
pub struct Sim {
    service: Service,
    seed: u64,
    rng: Rng,
    opts: Options,
    dir: tempfile::TempDir,
    devices: Vec<Device>,
    server: BTreeMap<String, Global>,
    /// Simulated Unix time.
    now: i64,
    next_etag: u64,
    log: Vec<String>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "sync sim: {:?}, {} devices, seed {} (replay with {SEED_ENV}={}); last exchanges:",
                self.service,
                self.devices.len(),
                self.seed,
                self.seed
            );
            // BATON_SIM_LOG=N prints the last N exchanges instead of 40.
            let n = std::env::var("BATON_SIM_LOG")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(40);
            for line in self.log.iter().rev().take(n).rev() {
                eprintln!("  {line}");
            }
        }
    }
}

impl Sim {
    pub fn new(service: Service, devices: usize, seed: u64) -> Sim {
        Sim::with_options(service, devices, seed, Options::default())
    }

    pub fn with_options(service: Service, devices: usize, seed: u64, opts: Options) -> Sim {
        let mut rng = Rng::new(seed);
        // Some day in 2024, so that the names carry plausible dates.
        let now = 1_704_067_200 + rng.below(360 * 86_400) as i64;
        let mut sim = Sim {
            service,
            seed,
            rng,
            opts,
            dir: tempfile::tempdir().expect("temporary directory"),
            devices: Vec::new(),
            server: BTreeMap::new(),
            now,
            next_etag: 1,
            log: Vec::new(),
        };
        for _ in 0..devices {
            sim.add_device();
        }
        sim
    }

    pub fn service(&self) -> Service {
        self.service
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// The folder device `i` syncs.
    pub fn device_path(&self, i: usize) -> &Path {
        &self.devices[i].root
    }

    /// Device `i`'s Syncthing short ID (7 characters of base32).
    pub fn short_id(&self, i: usize) -> &str {
        &self.devices[i].short_id
    }

    /// Device `i`'s computer name, as Dropbox writes it into conflicted copies.
    pub fn host(&self, i: usize) -> &str {
        &self.devices[i].host
    }

    /// The simulated clock, as a Unix time.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// One line per exchange, in order (the same for the same seed and actions).
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// A new device with an empty folder and no history.
    pub fn add_device(&mut self) -> usize {
        let i = self.devices.len();
        let root = self.dir.path().join(format!("device{i}"));
        fs::create_dir_all(&root).unwrap();
        // A distinct 35-bit value, spelled as the 7 base32 characters Syncthing shows.
        let id_value = loop {
            let v = self.rng.next_u64() >> 29;
            if self.devices.iter().all(|d| d.id_value != v) {
                break v;
            }
        };
        let short_id = (0..7)
            .map(|k| {
                let five = (id_value >> (30 - 5 * k)) & 31;
                char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[five as usize])
            })
            .collect();
        let host = HOSTS
            .get(i)
            .map_or_else(|| format!("device-{i}"), |h| (*h).to_owned());
        self.devices.push(Device {
            root,
            short_id,
            id_value,
            host,
            known: BTreeMap::new(),
            seen: BTreeMap::new(),
            temps: BTreeMap::new(),
        });
        i
    }

    /// A new device whose folder starts as a copy of device `from`'s folder as it is
    /// now, and which has never synced. With `keep_mtimes` the copy keeps the files'
    /// modification times (`cp -p`, rsync -a), otherwise they are "now" (`cp`).
    pub fn add_device_copy(&mut self, from: usize, keep_mtimes: bool) -> usize {
        let i = self.add_device();
        self.copy_folder(from, i, keep_mtimes);
        i
    }

    /// Replaces device `to`'s folder with a copy of device `from`'s folder as it is
    /// now (with any half-synced state and temporary files); `to` keeps its sync
    /// history, so the service sees the differences as local changes on `to`.
    pub fn copy_folder(&mut self, from: usize, to: usize, keep_mtimes: bool) {
        assert_ne!(from, to, "copy_folder onto itself");
        self.observe();
        let dst = self.devices[to].root.clone();
        fs::remove_dir_all(&dst).unwrap();
        copy_tree(&self.devices[from].root, &dst);
        if keep_mtimes {
            let seen = self.devices[from].seen.clone();
            let dev = &mut self.devices[to];
            dev.seen.retain(|p, _| seen.contains_key(p));
            dev.seen.extend(seen);
        }
        // A copied temporary file belongs to no transfer of `to`'s.
        self.devices[to].temps.clear();
        self.note(
            to,
            "copy",
            &format!("folder of d{from} (keep mtimes: {keep_mtimes})"),
        );
        self.observe();
    }

    /// Writes a file on device `i` (as the code under test would).
    pub fn write(&self, i: usize, rel: &str, bytes: impl AsRef<[u8]>) {
        let path = self.devices[i].root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    /// Removes a file on device `i`.
    pub fn remove(&self, i: usize, rel: &str) {
        fs::remove_file(self.devices[i].root.join(rel)).unwrap();
    }

    /// A file of device `i`, if it is there.
    pub fn read(&self, i: usize, rel: &str) -> Option<Vec<u8>> {
        fs::read(self.devices[i].root.join(rel)).ok()
    }

    /// Every regular file in device `i`'s folder, ignored ones included.
    pub fn files(&self, i: usize) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(&self.devices[i].root, "", &mut |rel, path| {
            if path.is_file() {
                out.insert(rel.to_owned(), fs::read(path).unwrap());
            }
            true
        });
        out
    }

    /// The files of device `i` that the service syncs (not ignored).
    pub fn synced_files(&self, i: usize) -> BTreeMap<String, Vec<u8>> {
        let mut files = self.files(i);
        files.retain(|rel, _| !self.is_ignored(rel));
        files
    }

    /// The files the server holds (deleted ones left out).
    pub fn server_files(&self) -> BTreeMap<String, Vec<u8>> {
        self.server
            .iter()
            .filter_map(|(p, g)| g.content.clone().map(|c| (p.clone(), c)))
            .collect()
    }

    /// Conflicted copies (of this service's naming) on device `i`, as paths relative
    /// to its folder, sorted.
    pub fn conflict_copies(&self, i: usize) -> Vec<PathBuf> {
        self.files(i)
            .into_keys()
            .filter(|rel| names::parse(rel).is_some_and(|c| c.service == self.service))
            .map(PathBuf::from)
            .collect()
    }

    /// Whether the service skips `rel` (a relative path with `/`).
    pub fn is_ignored(&self, rel: &str) -> bool {
        let base = rel.rsplit('/').next().unwrap_or(rel);
        if self.service == Service::Nextcloud
            && !self.opts.upload_conflict_files
            && (base.contains("_conflict-") || base.contains("(conflicted copy"))
        {
            // Utility::isConflictFile, excluded unless conflict files are uploaded.
            return true;
        }
        rel.split('/').any(|c| self.ignored_component(c))
    }

    fn ignored_component(&self, name: &str) -> bool {
        let extra = self.opts.extra_ignores.iter().any(|p| glob(p, name));
        extra
            || match self.service {
                Service::Syncthing => SYNCTHING_INTERNAL.iter().any(|p| glob(p, name)),
                Service::Nextcloud => {
                    (self.opts.ignore_hidden && name.starts_with('.'))
                        || NEXTCLOUD_EXCLUDES.iter().any(|p| glob(p, name))
                }
                Service::Dropbox => {
                    let lower = name.to_lowercase();
                    DROPBOX_IGNORED.iter().any(|p| glob(p, &lower))
                }
            }
    }

    /// Scans every device folder; a change gets the current simulated time.
    ///
    /// Devices are scanned in random order, and each device that changed moves the
    /// clock on by a second: changes on two devices never share a modification time
    /// (real ones carry nanoseconds), so neither do the conflict names made from
    /// them.
    pub fn observe(&mut self) {
        let mut order: Vec<usize> = (0..self.devices.len()).collect();
        self.rng.shuffle(&mut order);
        for i in order {
            if self.scan(i) {
                self.now += 1;
            }
        }
        self.now += 1;
    }

    /// Scans device `i`'s folder; returns whether anything changed.
    fn scan(&mut self, i: usize) -> bool {
        let mut disk = BTreeMap::new();
        walk(&self.devices[i].root, "", &mut |rel, path| {
            if self.is_ignored(rel) {
                return false; // a skipped directory is skipped whole
            }
            if path.is_file() {
                disk.insert(rel.to_owned(), hash(&fs::read(path).unwrap()));
            }
            true
        });
        let now = self.now;
        let dev = &mut self.devices[i];
        let mut changed = false;
        for (p, h) in &disk {
            if dev.seen.get(p).and_then(|s| s.hash) != Some(*h) {
                changed = true;
                dev.seen.insert(
                    p.clone(),
                    Seen {
                        hash: Some(*h),
                        mtime: now,
                    },
                );
            }
        }
        for (p, s) in dev.seen.iter_mut() {
            if s.hash.is_some() && !disk.contains_key(p) {
                changed = true;
                *s = Seen {
                    hash: None,
                    mtime: now,
                };
            }
        }
        changed
    }

    /// The paths device `i` would exchange now, sorted.
    pub fn pending(&mut self, i: usize) -> Vec<String> {
        self.observe();
        self.pending_paths(i)
    }

    fn pending_paths(&self, i: usize) -> Vec<String> {
        let dev = &self.devices[i];
        let all: BTreeSet<&String> = dev
            .known
            .keys()
            .chain(dev.seen.keys())
            .chain(self.server.keys())
            .collect();
        all.into_iter()
            .filter(|p| self.needs_exchange(i, p))
            .cloned()
            .collect()
    }

    fn needs_exchange(&self, i: usize, p: &str) -> bool {
        let (local, remote) = self.changes(i, p);
        local || remote
    }

    /// (changed on the device, changed on the server) since device `i` last agreed.
    fn changes(&self, i: usize, p: &str) -> (bool, bool) {
        let dev = &self.devices[i];
        let known = dev.known.get(p);
        let seen_hash = dev.seen.get(p).and_then(|s| s.hash);
        let local = seen_hash != known.and_then(|k| k.hash);
        let g = self.server.get(p);
        let empty = Vv::default();
        let remote = match self.service {
            Service::Syncthing => g.map_or(&empty, |g| &g.vv) != known.map_or(&empty, |k| &k.vv),
            Service::Nextcloud | Service::Dropbox => {
                g.map_or(0, |g| g.etag) != known.map_or(0, |k| k.etag)
            }
        };
        (local, remote)
    }

    /// Device `i` exchanges exactly `paths`, in this order.
    pub fn apply(&mut self, i: usize, paths: &[&str]) {
        self.observe();
        for p in paths {
            self.exchange(i, p);
        }
        self.tick();
    }

    /// Device `i` exchanges a random non-empty part of what it has pending, in
    /// random order; returns how many paths.
    pub fn sync_step(&mut self, i: usize) -> usize {
        self.observe();
        let mut paths = self.pending_paths(i);
        if paths.is_empty() {
            return 0;
        }
        self.rng.shuffle(&mut paths);
        let n = 1 + self.rng.below(paths.len());
        for p in &paths[..n] {
            self.exchange(i, p);
        }
        self.tick();
        n
    }

    /// A [`Sim::sync_step`] that is then interrupted during one more download: that
    /// file is left half written under the service's temporary name.
    pub fn partial(&mut self, i: usize) -> usize {
        let n = self.sync_step(i);
        let downloads: Vec<String> = self
            .pending_paths(i)
            .into_iter()
            .filter(|p| {
                self.changes(i, p) == (false, true)
                    && self.server[p].content.as_ref().is_some_and(|c| c.len() > 1)
            })
            .collect();
        if !downloads.is_empty() {
            let p = self.rng.pick(&downloads).clone();
            let content = self.server[&p].content.clone().unwrap();
            let temp = self.temp_name(&p);
            self.write(i, &temp, &content[..content.len() / 2]);
            debug_assert!(self.is_ignored(&temp), "{temp} must be ignored");
            self.note(i, "interrupted", &format!("{p} (half in {temp})"));
            if let Some(old) = self.devices[i].temps.insert(p, temp.clone())
                && old != temp
            {
                let _ = fs::remove_file(self.devices[i].root.join(old));
            }
        }
        n
    }

    /// Device `i` exchanges everything it has pending (again, until nothing is:
    /// a conflict leaves a new copy to send).
    pub fn sync_device(&mut self, i: usize) {
        self.observe();
        self.sync_device_scanned(i);
    }

    /// [`Sim::sync_device`] when every folder has been scanned since the last
    /// outside change (the simulator's own changes keep its scan state current).
    fn sync_device_scanned(&mut self, i: usize) {
        for _ in 0..MAX_ROUNDS {
            let mut paths = self.pending_paths(i);
            if paths.is_empty() {
                self.tick();
                return;
            }
            self.rng.shuffle(&mut paths);
            for p in &paths {
                self.exchange(i, p);
            }
            if self.scan(i) {
                self.now += 1;
            }
        }
        panic!("device {i} still has changes pending after {MAX_ROUNDS} passes");
    }

    /// Whether no device has anything to exchange.
    pub fn is_quiescent(&mut self) -> bool {
        self.observe();
        (0..self.devices.len()).all(|i| self.pending_paths(i).is_empty())
    }

    /// Syncs all devices, in rounds of random order, until nothing is pending; then
    /// asserts every device holds exactly the server's (not ignored) files. Returns
    /// the number of rounds.
    pub fn sync_all(&mut self) -> usize {
        self.observe();
        for round in 1..=MAX_ROUNDS {
            let mut order: Vec<usize> = (0..self.devices.len()).collect();
            self.rng.shuffle(&mut order);
            for i in order {
                self.sync_device_scanned(i);
            }
            if self.is_quiescent() {
                let server = self.server_files();
                for i in 0..self.devices.len() {
                    let local = self.synced_files(i);
                    assert!(
                        local == server,
                        "device {i} differs from the server after sync_all: \
                         device has {:?}, server has {:?}",
                        local.keys().collect::<Vec<_>>(),
                        server.keys().collect::<Vec<_>>()
                    );
                }
                return round;
            }
        }
        panic!("sync_all: still not quiescent after {MAX_ROUNDS} rounds");
    }

    fn tick(&mut self) {
        self.now += 1 + self.rng.below(5) as i64;
    }

    fn note(&mut self, i: usize, what: &str, detail: &str) {
        self.log
            .push(format!("t={} d{i} {what} {detail}", self.now));
    }

    fn temp_name(&mut self, rel: &str) -> String {
        let (dir, base) = match rel.rfind('/') {
            Some(k) => rel.split_at(k + 1),
            None => ("", rel),
        };
        match self.service {
            Service::Syncthing => format!("{dir}.syncthing.{base}.tmp"),
            Service::Nextcloud => {
                format!("{dir}.{base}.~{:x}", self.rng.next_u64() as u32)
            }
            Service::Dropbox => format!(".dropbox.cache/{:016x}.tmp", self.rng.next_u64()),
        }
    }

    // Disk operations of the service on a device's folder.

    fn disk_read(&self, i: usize, p: &str) -> Option<Vec<u8>> {
        self.read(i, p)
    }

    fn disk_write(&mut self, i: usize, p: &str, bytes: &[u8], mtime: i64) {
        if self.read(i, p).as_deref() != Some(bytes) {
            self.write(i, p, bytes);
        }
        self.devices[i].seen.insert(
            p.to_owned(),
            Seen {
                hash: Some(hash(bytes)),
                mtime,
            },
        );
    }

    fn disk_remove(&mut self, i: usize, p: &str) {
        let path = self.devices[i].root.join(p);
        if path.is_file() {
            fs::remove_file(path).unwrap();
        }
        let now = self.now;
        if let Some(s) = self.devices[i].seen.get_mut(p) {
            *s = Seen {
                hash: None,
                mtime: now,
            };
        }
    }

    /// Renames `from` to `to` on device `i`, keeping the modification time.
    fn disk_rename(&mut self, i: usize, from: &str, to: &str) {
        let root = &self.devices[i].root;
        let dst = root.join(to);
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::rename(root.join(from), &dst).unwrap();
        let seen = self.devices[i].seen.get(from).cloned();
        if let Some(s) = seen {
            if !self.is_ignored(to) {
                self.devices[i].seen.insert(to.to_owned(), s.clone());
            }
            self.devices[i].seen.insert(
                from.to_owned(),
                Seen {
                    hash: None,
                    mtime: s.mtime,
                },
            );
        }
    }

    fn drop_temp(&mut self, i: usize, p: &str) {
        if let Some(temp) = self.devices[i].temps.remove(p) {
            let _ = fs::remove_file(self.devices[i].root.join(temp));
        }
    }

    /// Device `i` brings path `p` in line with the server, by the service's rules.
    fn exchange(&mut self, i: usize, p: &str) {
        match self.service {
            Service::Syncthing => self.exchange_syncthing(i, p),
            Service::Nextcloud | Service::Dropbox => self.exchange_server(i, p),
        }
    }

    fn local_state(&self, i: usize, p: &str) -> (Known, Seen) {
        let dev = &self.devices[i];
        let known = dev.known.get(p).cloned().unwrap_or_default();
        let seen = dev.seen.get(p).cloned().unwrap_or(Seen {
            hash: None,
            mtime: self.now,
        });
        (known, seen)
    }

    /// Stores device `i`'s current file `p` on the server.
    fn send(&mut self, i: usize, p: &str, mtime: i64, vv: Vv) {
        let content = self.disk_read(i, p);
        let h = content.as_deref().map(hash);
        let etag = self.next_etag;
        self.next_etag += 1;
        self.server.insert(
            p.to_owned(),
            Global {
                content,
                hash: h,
                vv: vv.clone(),
                etag,
                mtime,
                by: i,
            },
        );
        self.devices[i]
            .known
            .insert(p.to_owned(), Known { hash: h, vv, etag });
        let what = if h.is_some() { "send" } else { "send-delete" };
        self.note(i, what, &format!("{p} [{}]", short(h)));
    }

    /// Puts the server's version of `p` on device `i`'s disk.
    fn receive(&mut self, i: usize, p: &str, vv: Vv) {
        let g = self.server[p].clone();
        match &g.content {
            Some(c) => self.disk_write(i, p, c, g.mtime),
            None => self.disk_remove(i, p),
        }
        self.drop_temp(i, p);
        self.devices[i].known.insert(
            p.to_owned(),
            Known {
                hash: g.hash,
                vv,
                etag: g.etag,
            },
        );
        let what = if g.hash.is_some() {
            "receive"
        } else {
            "receive-delete"
        };
        self.note(i, what, &format!("{p} [{}]", short(g.hash)));
    }

    fn exchange_syncthing(&mut self, i: usize, p: &str) {
        let (known, seen) = self.local_state(i, p);
        let (local, remote) = self.changes(i, p);
        match (local, remote) {
            (false, false) => {}
            (true, false) => self.send(i, p, seen.mtime, known.vv.bump(i)),
            (false, true) => {
                let g = self.server[p].clone();
                if g.vv.dominates(&known.vv) {
                    self.receive(i, p, g.vv);
                } else {
                    // What we hold lost, elsewhere, to a concurrent change: move it
                    // aside, take the winner, and announce that we resolved it.
                    if seen.hash.is_some() && seen.hash != g.hash {
                        self.move_for_conflict(i, p, g.by);
                    }
                    let merged = g.vv.merge(&known.vv);
                    self.receive(i, p, merged.clone());
                    self.server.get_mut(p).unwrap().vv = merged;
                }
            }
            (true, true) => {
                let g = self.server[p].clone();
                let ours = known.vv.bump(i);
                if seen.hash == g.hash {
                    // The same content on both sides is no conflict.
                    let merged = ours.merge(&g.vv);
                    self.devices[i].known.insert(
                        p.to_owned(),
                        Known {
                            hash: g.hash,
                            vv: merged.clone(),
                            etag: g.etag,
                        },
                    );
                    self.server.get_mut(p).unwrap().vv = merged;
                    self.note(i, "same", p);
                } else if self.syncthing_local_wins(i, &seen, &g) {
                    // Ours becomes the global version; whoever holds the other one
                    // moves it aside when it pulls ours.
                    self.note(i, "conflict-won", &format!("{p} over d{}", g.by));
                    self.send(i, p, seen.mtime, ours);
                } else {
                    self.note(i, "conflict-lost", &format!("{p} to d{}", g.by));
                    if seen.hash.is_some() {
                        self.move_for_conflict(i, p, g.by);
                    }
                    let merged = ours.merge(&g.vv);
                    self.receive(i, p, merged.clone());
                    self.server.get_mut(p).unwrap().vv = merged;
                }
            }
        }
    }

    /// `WinsConflict` of Syncthing 1.x: a modification beats a deletion, then the
    /// newer modification time, then the smaller device ID.
    fn syncthing_local_wins(&self, i: usize, seen: &Seen, g: &Global) -> bool {
        match (seen.hash.is_some(), g.hash.is_some()) {
            (true, false) => true,
            (false, true) => false,
            _ if seen.mtime != g.mtime => seen.mtime > g.mtime,
            _ => self.devices[i].id_value < self.devices[g.by].id_value,
        }
    }

    /// `moveForConflict`: renames device `i`'s `p` to its conflict name, naming the
    /// device that last changed the winning version.
    fn move_for_conflict(&mut self, i: usize, p: &str, winner_by: usize) {
        let base = p.rsplit('/').next().unwrap_or(p);
        if base.contains(".sync-conflict-") {
            // "Conflict for … which is already a conflict copy; not copying again."
            self.note(i, "conflict-copy-dropped", p);
            self.disk_remove(i, p);
            return;
        }
        let at = Stamp::from_unix(self.now);
        let copy = names::syncthing_name(p, at, &self.devices[winner_by].short_id.clone());
        self.disk_rename(i, p, &copy);
        self.note(i, "conflict-copy", &copy);
        // maxConflicts: keep the newest ten copies of this file.
        let (dir, base) = match p.rfind('/') {
            Some(k) => p.split_at(k + 1),
            None => ("", p),
        };
        let ext = base.rfind('.').map_or("", |k| &base[k..]);
        let prefix = format!("{dir}{}.sync-conflict-", &base[..base.len() - ext.len()]);
        let mut copies: Vec<String> = self
            .files(i)
            .into_keys()
            .filter(|f| {
                f.starts_with(&prefix) && f.ends_with(ext) && !f[prefix.len()..].contains('/')
            })
            .collect();
        copies.sort_by(|a, b| b.cmp(a));
        for old in copies.iter().skip(MAX_CONFLICTS) {
            self.note(i, "conflict-copy-expired", old);
            self.disk_remove(i, old);
        }
    }

    fn exchange_server(&mut self, i: usize, p: &str) {
        let (_, seen) = self.local_state(i, p);
        let (local, remote) = self.changes(i, p);
        match (local, remote) {
            (false, false) => {}
            (true, false) => self.send(i, p, seen.mtime, Vv::default()),
            (false, true) => self.receive(i, p, Vv::default()),
            (true, true) => {
                let g = self.server[p].clone();
                if seen.hash == g.hash {
                    self.devices[i].known.insert(
                        p.to_owned(),
                        Known {
                            hash: g.hash,
                            vv: Vv::default(),
                            etag: g.etag,
                        },
                    );
                    self.note(i, "same", p);
                } else if seen.hash.is_none() {
                    // Deleted here, changed there: the change comes back.
                    self.receive(i, p, Vv::default());
                } else if g.hash.is_none() {
                    // Changed here, deleted there: uploaded again.
                    self.send(i, p, seen.mtime, Vv::default());
                } else if self.service == Service::Nextcloud {
                    let user = self.opts.upload_conflict_files.then_some(NEXTCLOUD_USER);
                    let copy = names::nextcloud_name(p, Stamp::from_unix(seen.mtime), user);
                    self.disk_rename(i, p, &copy);
                    self.note(i, "conflict-copy", &copy);
                    self.receive(i, p, Vv::default());
                } else {
                    let day = Stamp::from_unix(self.now).date_only();
                    let host = self.devices[i].host.clone();
                    let mut number = None;
                    let copy = loop {
                        let name = names::dropbox_name(p, &host, day, number);
                        let taken = self.server.get(&name).is_some_and(|g| g.content.is_some())
                            || self.devices[i].root.join(&name).exists();
                        if !taken {
                            break name;
                        }
                        number = Some(number.map_or(1, |n| n + 1));
                    };
                    // The server keeps the late version as the conflicted copy.
                    self.disk_rename(i, p, &copy);
                    self.note(i, "conflict-copy", &copy);
                    self.send(i, &copy, seen.mtime, Vv::default());
                    self.receive(i, p, Vv::default());
                }
            }
        }
    }
}

/// Syncthing's own files, never synced.
const SYNCTHING_INTERNAL: &[&str] = &[
    ".stfolder",
    ".stignore",
    ".stversions",
    ".syncthing.*.tmp",
    "~syncthing~*.tmp",
];

/// Nextcloud desktop's `sync-exclude.lst` (the `]` "may be deleted" marks dropped),
/// plus names the client excludes in code (`desktop.ini`, its journal and log).
const NEXTCLOUD_EXCLUDES: &[&str] = &[
    "*~",
    "~$*",
    ".~lock.*",
    "~*.tmp",
    "*.~*",
    "Icon\r*",
    ".DS_Store",
    ".ds_store",
    "*.textClipping",
    "._*",
    "Thumbs.db",
    "photothumb.db",
    "System Volume Information",
    ".*.sw?",
    ".*.*sw?",
    ".TemporaryItems",
    ".Trashes",
    ".DocumentRevisions-V100",
    ".Trash-*",
    ".fseventd",
    ".apdisk",
    ".Spotlight-V100",
    ".directory",
    "*.part",
    "*.filepart",
    "*.crdownload",
    "*.kate-swp",
    "*.gnucash.tmp-*",
    ".synkron.*",
    ".sync.ffs_db",
    ".symform",
    ".symform-store",
    ".fuse_hidden*",
    "*.unison",
    ".nfs*",
    "My Saved Places.",
    "#*#",
    "*.sb-*",
    "desktop.ini",
    "Desktop.ini",
    ".sync_*.db*",
    "._sync_*.db*",
    ".csync_journal.db*",
    ".owncloudsync.log*",
];

/// Names Dropbox does not sync (matched in lower case).
const DROPBOX_IGNORED: &[&str] = &[
    "desktop.ini",
    "thumbs.db",
    ".ds_store",
    "icon\r",
    ".dropbox",
    ".dropbox.attr",
    ".dropbox.cache",
    "~$*",
    ".~*",
    "~*.tmp",
];

/// Shell-style match of one name: `*` any run, `?` any one byte (the patterns here
/// put `?` only where ASCII stands).
fn glob(pattern: &str, name: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Visits the regular files and directories under `dir` in sorted order with their
/// `/`-separated relative paths; `visit` returning false skips a directory's
/// contents. Symbolic links are not followed.
fn walk(dir: &Path, prefix: &str, visit: &mut dyn FnMut(&str, &Path) -> bool) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().into_string().expect("UTF-8 file name");
        let rel = format!("{prefix}{name}");
        let kind = e.file_type().unwrap();
        if kind.is_dir() {
            if visit(&rel, &e.path()) {
                walk(&e.path(), &format!("{rel}/"), visit);
            }
        } else if kind.is_file() {
            visit(&rel, &e.path());
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_fnmatch() {
        for (p, s) in [
            ("*.tmp", "a.tmp"),
            ("~*.tmp", "~a.tmp"),
            (".*.sw?", ".a.swp"),
            ("*.~*", ".a.txt.~1f"),
            (".syncthing.*.tmp", ".syncthing.a.txt.tmp"),
            ("*", ""),
            ("a*b*c", "aXbYc"),
        ] {
            assert!(glob(p, s), "{p} {s}");
        }
        for (p, s) in [
            ("~*.tmp", ".a.tmp"),
            ("*.tmp", "a.tmpx"),
            (".*.sw?", "a.swp"),
            ("a?", "a"),
        ] {
            assert!(!glob(p, s), "{p} {s}");
        }
    }

    /// Syncthing's order: modification over deletion, newer over older, then the
    /// smaller device ID (equal times only come from `observe` on one device).
    #[test]
    fn syncthing_conflict_winner() {
        let sim = Sim::new(Service::Syncthing, 2, 9);
        let (small, large) = if sim.devices[0].id_value < sim.devices[1].id_value {
            (0, 1)
        } else {
            (1, 0)
        };
        let seen = |hash: Option<Hash>, mtime| Seen { hash, mtime };
        let global = |hash: Option<Hash>, mtime, by| Global {
            content: None,
            hash,
            vv: Vv::default(),
            etag: 0,
            mtime,
            by,
        };
        let (x, y) = (Some(hash(b"x")), Some(hash(b"y")));
        assert!(sim.syncthing_local_wins(small, &seen(x, 5), &global(y, 5, large)));
        assert!(!sim.syncthing_local_wins(large, &seen(x, 5), &global(y, 5, small)));
        assert!(sim.syncthing_local_wins(large, &seen(x, 6), &global(y, 5, small)));
        assert!(!sim.syncthing_local_wins(small, &seen(x, 4), &global(y, 5, large)));
        assert!(sim.syncthing_local_wins(large, &seen(x, 1), &global(None, 9, small)));
        assert!(!sim.syncthing_local_wins(small, &seen(None, 9), &global(y, 1, large)));
    }

    #[test]
    fn version_vectors() {
        let a = Vv::default().bump(0);
        let b = a.bump(1);
        let c = a.bump(2);
        assert!(b.dominates(&a) && !a.dominates(&b));
        assert!(!b.dominates(&c) && !c.dominates(&b));
        assert!(b.merge(&c).dominates(&b) && b.merge(&c).dominates(&c));
    }
}
