//! Durable file operations (docs/format.md#writes): atomic replace, private modes, and
//! the writer lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A test hook called at every step that changes the disk, so a crash test can stop
/// there, at each step in turn: the library's tests panic in-process
/// (crates/baton/tests/crash.rs), the CLI's debug builds kill themselves with SIGKILL.
/// Never installed in production.
static FAULT_HOOK: std::sync::OnceLock<Box<dyn Fn(&'static str) + Send + Sync>> =
    std::sync::OnceLock::new();

/// Installs the crash-test hook (once per process).
pub fn set_fault_hook(hook: Box<dyn Fn(&'static str) + Send + Sync>) {
    let _ = FAULT_HOOK.set(hook);
}

/// Marks a point at which a crash must leave a vault that opens with all data.
pub fn fault_point(label: &'static str) {
    if let Some(h) = FAULT_HOOK.get() {
        h(label);
    }
}

/// A test hook that makes a step fail with an I/O error instead (for the paths a crash
/// cannot reach: an error after a rename). Returns true to fail at that label.
static ERROR_HOOK: std::sync::OnceLock<Box<dyn Fn(&'static str) -> bool + Send + Sync>> =
    std::sync::OnceLock::new();

/// Installs the error-injection hook (once per process; for tests).
pub fn set_error_hook(hook: Box<dyn Fn(&'static str) -> bool + Send + Sync>) {
    let _ = ERROR_HOOK.set(hook);
}

fn injected(label: &'static str) -> io::Result<()> {
    match ERROR_HOOK.get() {
        Some(h) if h(label) => Err(io::Error::other(format!("injected failure ({label})"))),
        _ => Ok(()),
    }
}

/// Mode for every file baton writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode for every folder baton creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `path` (and missing parents) with mode 0700.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    // An existing folder is the user's: never change its mode (it may be ~, /tmp or a
    // shared folder); only refuse what is not a real folder.
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a folder (or is a symlink)",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)?;
    // `mode` is filtered by the umask: set it exactly on the folder we just made.
    fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE))?;
    // Make the new folder's name durable too.
    sync_dir(&parent_dir(path))
}

/// Writes `bytes` to `path` atomically: temporary file in the same folder (create_new,
/// 0600), write, fsync, rename over `path`, fsync the folder. Readers see the old or the
/// new contents, never a mix, and after return the new contents survive a power loss.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_at(
        path,
        bytes,
        [
            "write_atomic: written",
            "write_atomic: synced",
            "write_atomic: renamed",
        ],
    )
}

/// `write_atomic` for this machine's memory outside the vault (vault::rollback), whose
/// steps have their own names in the fault hook's trace, so that a sweep over a
/// command's steps tells them from the vault's.
pub fn write_atomic_memory(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_at(
        path,
        bytes,
        ["memory: written", "memory: synced", "memory: renamed"],
    )
}

fn write_atomic_at(path: &Path, bytes: &[u8], steps: [&'static str; 3]) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", hex::encode(rand::random::<[u8; 6]>())));
    debug_assert!(is_temp_name(&tmp_name.to_string_lossy()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        f.write_all(bytes)?;
        fault_point(steps[0]);
        f.sync_all()?;
        drop(f);
        fault_point(steps[1]);
        fs::rename(&tmp, path)?;
        fault_point(steps[2]);
        injected(steps[2])?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a regular file (never through a symlink, never a FIFO or device) of at most
/// `max` bytes; a larger one is `InvalidData`.
pub fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "file too large"));
    }
    Ok(bytes)
}

/// Whether `name` is one of write_atomic's temporary names: `.<name>.<12 hex>.tmp`.
pub fn is_temp_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    match rest.rsplit_once('.') {
        Some((base, hex)) => !base.is_empty() && crate::is_lower_hex(hex, 12),
        None => false,
    }
}

/// Writes a new file that must not exist yet (create_new, 0600), fsyncs it and its folder.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    let written = f.write_all(bytes).and_then(|_| {
        fault_point("write_new: written");
        f.sync_all()
    });
    if let Err(e) = written {
        // Leave no partial file behind (a full disk must not leave half a secret file).
        drop(f);
        let _ = fs::remove_file(path);
        return Err(e);
    }
    sync_dir(&parent_dir(path))
}

/// Writes a file without syncing it, replacing what is there (never following a
/// symlink). For files that no commit refers to yet: the caller syncs them all at once
/// with `sync_file` before the commit (docs/format.md#rotation).
pub fn write_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // The crash point comes before the change: these writes run in parallel, and a
    // panicking crash test lets rayon start queued items after the crash, which must
    // stop before they change anything (crates/baton/tests/fault/).
    fault_point("write_unsynced: writing");
    // Never write through what is there (a planted hard link, FIFO or symlink): create
    // the file exclusively, and if the name is taken, remove it and try once more.
    let create = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    };
    let mut f = match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            create()?
        }
        other => other?,
    };
    f.write_all(bytes)?;
    Ok(())
}

/// Flushes one file's data and metadata to the disk.
pub fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Makes many files written with `write_unsynced` durable at once instead of one
/// `fsync` round trip each (docs/format.md#rotation).
///
/// On Linux 5.8 and later this is one `syncfs(2)` on a descriptor of the folder opened
/// before the files were written: it flushes the whole file system in one journal
/// commit and reports every write-back error since that descriptor was opened. Files on
/// another file system than the folder, older kernels and other systems get one
/// `fsync` each, in parallel.
pub struct SyncBatch {
    dir: File,
    dev: u64,
}

impl SyncBatch {
    /// Open this before writing the files.
    pub fn open(dir: &Path) -> io::Result<SyncBatch> {
        use std::os::unix::fs::MetadataExt;
        let dir = File::open(dir)?;
        let dev = dir.metadata()?.dev();
        Ok(SyncBatch { dir, dev })
    }

    pub fn sync(&self, files: &[PathBuf]) -> Result<(), (PathBuf, io::Error)> {
        use rayon::prelude::*;
        use std::os::unix::fs::MetadataExt;
        let batched = match syncfs(&self.dir) {
            Some(Ok(())) => true,
            Some(Err(e)) => return Err((PathBuf::from("."), e)),
            None => false,
        };
        // The files were just created in their folders, so they live on their folder's
        // file system: one check per folder, not per file. (Whether each file is still
        // there is for the caller, who reads them back.)
        let mut folders: std::collections::HashMap<&Path, bool> = Default::default();
        for p in files {
            let dir = p.parent().unwrap_or(Path::new("."));
            if !folders.contains_key(dir) {
                let dev = fs::metadata(dir).map_err(|e| (dir.to_path_buf(), e))?.dev();
                folders.insert(dir, batched && dev == self.dev);
            }
        }
        files
            .par_iter()
            .filter(|p| !folders[p.parent().unwrap_or(Path::new("."))])
            .try_for_each(|p| sync_file(p).map_err(|e| (p.clone(), e)))
    }
}

/// `syncfs(2)` on the file system of `dir`, or `None` where it does not report
/// write-back errors (before Linux 5.8, other systems).
#[cfg(target_os = "linux")]
fn syncfs(dir: &File) -> Option<io::Result<()>> {
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    if !kernel_at_least(&release, (5, 8)) {
        return None;
    }
    Some(rustix::fs::syncfs(dir).map_err(io::Error::from))
}

#[cfg(not(target_os = "linux"))]
fn syncfs(_dir: &File) -> Option<io::Result<()>> {
    None
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn kernel_at_least(release: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

/// Stages `bytes` under a temporary name beside `target` (0600, fsynced) and returns
/// that name; `publish` later gives the file its final name. Lets a caller record what
/// it did between the two steps, so a file never appears without its record.
pub fn stage(target: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let tmp = temp_name(target)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    write_new(&tmp, bytes)?;
    Ok(tmp)
}

/// Moves a staged file to `target`: never over an existing file unless `replace`, and
/// then only over a regular file (not a symlink or a device).
pub fn publish(staged: &Path, target: &Path, replace: bool) -> io::Result<()> {
    match fs::symlink_metadata(target) {
        Ok(m) if !replace || !m.is_file() => {
            let _ = fs::remove_file(staged);
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                if m.is_file() {
                    "already exists"
                } else {
                    "exists and is not a regular file"
                },
            ));
        }
        _ => {}
    }
    let moved = if replace {
        fs::rename(staged, target)
    } else {
        // link() fails if the target appeared meanwhile; file systems without hard
        // links (FAT on a USB stick) fall back to rename after the check above.
        match fs::hard_link(staged, target) {
            Ok(()) => fs::remove_file(staged),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
            Err(_) => fs::rename(staged, target),
        }
    };
    if moved.is_err() {
        let _ = fs::remove_file(staged);
    }
    moved?;
    sync_dir(&parent_dir(target))
}

/// Writes a file for the user (a client package, a sheet) that appears under `target`
/// complete or not at all: mode 0600, fsynced, its folder fsynced. Never over an
/// existing name unless `replace`, and then only over a regular file (not a symlink or
/// a device).
///
/// Where the file system allows it (Linux `O_TMPFILE`, and `/proc` to name the file),
/// the bytes go into an unnamed file that gets its name only when complete, so a crash,
/// SIGKILL or Ctrl-C while writing leaves nothing behind; a plaintext sheet never
/// exists under a temporary name. Elsewhere (and for `replace` over an existing file,
/// for the instant between link and rename) a temporary name `.NAME.<12 hex>.tmp`
/// beside `target` is used, which every error removes and only a crash can leave.
pub fn write_private(target: &Path, bytes: &[u8], replace: bool) -> io::Result<()> {
    match fs::symlink_metadata(target) {
        Ok(m) if !replace || !m.is_file() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                if m.is_file() {
                    "already exists"
                } else {
                    "exists and is not a regular file"
                },
            ));
        }
        _ => {}
    }
    #[cfg(target_os = "linux")]
    if let Some(done) = write_unnamed(target, bytes, replace) {
        return done;
    }
    let staged = stage(target, bytes)?;
    publish(&staged, target, replace)
}

/// `write_private` through an unnamed `O_TMPFILE` file; `None` where that cannot be
/// done here (another file system, no `/proc`), before anything has a name.
#[cfg(target_os = "linux")]
fn write_unnamed(target: &Path, bytes: &[u8], replace: bool) -> Option<io::Result<()>> {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    let dir = parent_dir(target);
    let fd = rustix::fs::open(
        &dir,
        OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(FILE_MODE),
    )
    .ok()?;
    let mut file = File::from(fd);
    let written = file.write_all(bytes).and_then(|()| {
        fault_point("write_private: written");
        file.sync_all()
    });
    if let Err(e) = written {
        // Nothing has a name yet: closing the file discards it.
        return Some(Err(e));
    }
    let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
    let link = |to: &Path| {
        rustix::fs::linkat(CWD, proc_path.as_str(), CWD, to, AtFlags::SYMLINK_FOLLOW)
            .map_err(io::Error::from)
    };
    let exists = fs::symlink_metadata(target).is_ok();
    let named = if replace && exists {
        // link() never replaces a name: link beside the target, then rename over it.
        let tmp = temp_name(target)?;
        match link(&tmp) {
            Ok(()) => {
                let moved = fs::rename(&tmp, target);
                if moved.is_err() {
                    let _ = fs::remove_file(&tmp);
                }
                moved
            }
            Err(e) => Err(e),
        }
    } else {
        link(target)
    };
    match named {
        Ok(()) => {
            fault_point("write_private: named");
            Some(sync_dir(&dir))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Some(Err(e)),
        // No /proc, or a file system that cannot link the unnamed file: write it the
        // other way (nothing was named here).
        Err(_) => None,
    }
}

/// `.NAME.<12 hex>.tmp` beside `target`.
fn temp_name(target: &Path) -> Option<PathBuf> {
    let mut name = std::ffi::OsString::from(".");
    name.push(target.file_name()?);
    name.push(format!(".{}.tmp", hex::encode(rand::random::<[u8; 6]>())));
    Some(parent_dir(target).join(name))
}

/// Removes a file and fsyncs its folder; a file that is already gone is fine.
pub fn remove_durable(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {
            fault_point("remove: removed");
            sync_dir(&parent_dir(path))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An exclusive advisory lock on the vault's `.lock` file, released on drop.
#[derive(Debug)]
pub struct WriteLock {
    _file: File,
}

impl WriteLock {
    /// Takes the lock without waiting; `Ok(None)` when another process holds it.
    pub fn try_acquire(vault: &Path) -> io::Result<Option<WriteLock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            // A planted symlink must not make us create or lock a file elsewhere.
            .custom_flags(libc::O_NOFOLLOW)
            .open(vault.join(".lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(WriteLock { _file: file })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// A second handle on this same lock (a duplicate of its file descriptor: flock
    /// locks belong to the open file, so the lock is held while either handle lives).
    /// `baton sync` holds the lock across several opens of the vault while git changes
    /// the folder in between.
    pub fn share(&self) -> io::Result<WriteLock> {
        Ok(WriteLock {
            _file: self._file.try_clone()?,
        })
    }

    /// Whether another process holds the lock now (a running writer or rotation), for
    /// a process that does not hold it itself: a non-blocking shared lock is tried and
    /// released at once. Never creates `.lock` (the folder may be read-only).
    ///
    /// The probe holds a shared lock for an instant, so a writer that starts at exactly
    /// that moment is told the vault is locked: callers probe only when it matters
    /// (a rotation's state file exists). A handle of this same process that holds the
    /// lock counts as another holder (flock locks belong to open files).
    pub fn held_elsewhere(vault: &Path) -> io::Result<bool> {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(vault.join(".lock"))
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(false),
            Err(fs::TryLockError::WouldBlock) => Ok(true),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// An absolute form of `path` with every symlink resolved, for a path that may not
/// exist yet: each existing component is resolved as the system would, and the
/// components from the first missing one on are taken as written (`..` after a missing
/// folder cancels it, after which resolving goes on).
pub fn resolve(path: &Path) -> PathBuf {
    use std::path::Component;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::from("/");
    // How many of the last components of `out` do not exist.
    let mut missing = 0usize;
    for c in abs.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => {
                out = PathBuf::from(c.as_os_str());
                missing = 0;
            }
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
                missing = missing.saturating_sub(1);
            }
            Component::Normal(name) if missing == 0 => {
                let next = out.join(name);
                match next.canonicalize() {
                    Ok(real) => out = real,
                    Err(_) => {
                        out = next;
                        missing = 1;
                    }
                }
            }
            Component::Normal(name) => {
                out.push(name);
                missing += 1;
            }
        }
    }
    out
}

/// Whether `path` is the vault folder, lies inside it or contains it, compared after
/// resolving symlinks ([`resolve`]): where kits, keys and packages must never go, since
/// the vault folder may sync and anyone who reads it would get them.
pub fn overlaps(vault: &Path, path: &Path) -> bool {
    let (vault, path) = (resolve(vault), resolve(path));
    path.starts_with(&vault) || vault.starts_with(&path)
}

/// A `file://` URL for `path`, every byte but `A-Z a-z 0-9 / . _ -` percent-encoded.
pub fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut url = String::from("file://");
    for &b in abs.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/._-".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Whether this process cannot write into the folder `dir` at all: a read-only mount
/// (EROFS), or permissions that deny it (EACCES/EPERM; root is not denied by
/// permissions). Other failures (a missing folder) are not "read-only".
pub fn is_read_only_folder(dir: &Path) -> bool {
    match rustix::fs::access(dir, rustix::fs::Access::WRITE_OK) {
        Ok(()) => false,
        Err(e) => {
            e == rustix::io::Errno::ROFS
                || e == rustix::io::Errno::ACCESS
                || e == rustix::io::Errno::PERM
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions() {
        assert!(kernel_at_least("6.1.0-27-amd64", (5, 8)));
        assert!(kernel_at_least("5.8.0", (5, 8)));
        assert!(!kernel_at_least("5.4.0-150-generic", (5, 8)));
        assert!(!kernel_at_least("4.19.0", (5, 8)));
        assert!(!kernel_at_least("", (5, 8)));
    }

    #[test]
    fn sync_batch_syncs_files() {
        let dir = tempfile::tempdir().unwrap();
        let batch = SyncBatch::open(dir.path()).unwrap();
        let files: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("f{i}"))).collect();
        for f in &files {
            write_unsynced(f, b"x").unwrap();
        }
        batch.sync(&files).unwrap();
        // A folder that vanished is reported, batched or not.
        let gone = vec![dir.path().join("missing").join("f")];
        assert_eq!(batch.sync(&gone).unwrap_err().0, dir.path().join("missing"));
    }

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_new_refuses_existing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_new(&p, b"one").unwrap();
        assert!(write_new(&p, b"two").is_err());
        assert_eq!(fs::read(&p).unwrap(), b"one");
    }

    #[test]
    fn stage_and_publish() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("out");
        let s = stage(&t, b"one").unwrap();
        assert!(!t.exists());
        publish(&s, &t, false).unwrap();
        assert_eq!(fs::read(&t).unwrap(), b"one");
        let s = stage(&t, b"two").unwrap();
        assert!(publish(&s, &t, false).is_err());
        assert!(!s.exists(), "a refused staged file is removed");
        let s = stage(&t, b"two").unwrap();
        publish(&s, &t, true).unwrap();
        assert_eq!(fs::read(&t).unwrap(), b"two");
        // --force never replaces a symlink.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        let s = stage(&link, b"x").unwrap();
        assert!(publish(&s, &link, true).is_err());
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    /// A private write appears complete or not at all, never replaces a file unless
    /// asked (and then never a symlink), and leaves no temporary file.
    #[test]
    fn private_writes() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("package.age");
        write_private(&t, b"one", false).unwrap();
        assert_eq!(fs::read(&t).unwrap(), b"one");
        assert_eq!(
            fs::metadata(&t).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let e = write_private(&t, b"two", false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&t).unwrap(), b"one");
        write_private(&t, b"two", true).unwrap();
        assert_eq!(fs::read(&t).unwrap(), b"two");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        assert!(write_private(&link, b"x", true).is_err());
        assert!(!dir.path().join("elsewhere").exists());
        assert!(write_private(&dir.path().join("no/such/folder/f"), b"x", false).is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn paths_inside_the_vault_are_found_through_symlinks_and_dot_dot() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let vault = base.join("vault");
        fs::create_dir_all(vault.join("clients")).unwrap();
        fs::create_dir(base.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(&vault, base.join("link")).unwrap();
        for inside in [
            vault.clone(),
            vault.join("x.age"),
            vault.join("clients/new/x"),
            base.join("link/out"),
            base.join("elsewhere/../vault/x"),
            base.join("missing/../vault/x"),
            base.join("missing/../link/x"),
            base.join("missing/deeper/../../link/x"),
            base.clone(),
        ] {
            assert!(overlaps(&vault, &inside), "{}", inside.display());
        }
        for outside in [
            base.join("elsewhere/x"),
            base.join("vault-2/x"),
            base.join("vault/../x"),
            base.join("missing/x"),
        ] {
            assert!(!overlaps(&vault, &outside), "{}", outside.display());
        }
        assert_eq!(resolve(&base.join("a/./b/../c")), base.join("a/c"));
    }

    #[test]
    fn existing_folders_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        create_private_dir(&shared).unwrap();
        assert_eq!(
            fs::metadata(&shared).unwrap().permissions().mode() & 0o7777,
            0o1777
        );
        let new = dir.path().join("new/inner");
        create_private_dir(&new).unwrap();
        assert_eq!(
            fs::metadata(&new).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!WriteLock::held_elsewhere(dir.path()).unwrap());
        assert!(
            !dir.path().join(".lock").exists(),
            "a probe creates nothing"
        );
        let a = WriteLock::try_acquire(dir.path()).unwrap();
        assert!(a.is_some());
        assert!(WriteLock::try_acquire(dir.path()).unwrap().is_none());
        assert!(WriteLock::held_elsewhere(dir.path()).unwrap());
        drop(a);
        assert!(!WriteLock::held_elsewhere(dir.path()).unwrap());
        // The probe released its shared lock: a writer gets the lock.
        assert!(WriteLock::try_acquire(dir.path()).unwrap().is_some());
    }
}
