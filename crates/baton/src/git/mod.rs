//! `baton sync` for a vault kept in a git repository (docs/format.md#git): commit the
//! vault folder, fetch, merge the upstream, commit baton's own merge of the writers'
//! heads, push; all under the vault's write lock, with the user's own `git`.
//!
//! Why a plain git merge is safe here: in version 3 every file of the vault but
//! `vault.json` is written once, or (a head) only by its own writer
//! (docs/format.md#layout). Two clones are two writers, so the merge of two trees adds
//! files and deletes files but never combines two changes to one file. What can
//! conflict, and how it is settled:
//!
//! - `vault.json` changed on both sides (rotation, `passwd`, `add-holder`, `settings
//!   --rotate-every`): baton's header rule (docs/format.md#header-conflicts), the
//!   header of the higher generation if the vault opens with it, else ours.
//! - A head of the old generation changed by its writer and deleted by a rotation on
//!   the other side (the writer committed while offline): the changed head is kept, so
//!   that the next open reports it (docs/format.md "Rotation, takeover, purge and
//!   recovery").
//! - Anything else (a file outside the vault folder, a file baton never writes twice):
//!   the merge is aborted and the paths are named.
//!
//! One commit per sync: the folder's changes, the upstream's commits and baton's merge
//! of the heads become one commit (a merge commit when both sides moved). Its message
//! counts this writer's audit actions since the last sync (`entry.edit ×2`); it never
//! names a client, an entry or a writer: the git host learns nothing the vault's
//! encryption hides beyond the counts (docs/threat-model.md).

mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::audit::{self, AUDIT_DIR};
use crate::crypto::secret::Passphrase;
use crate::store::fsio::{self, WriteLock};
use crate::store::head::{HEADS_DIR, parse_head_file};
use crate::store::header::{HEADER_FILE, Header};
use crate::vault::{UnlockError, Vault, VaultError};

use run::Git;

/// What `baton sync` does.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncOptions {
    /// Push the result to the upstream (off: commit and merge only).
    pub push: bool,
    /// Change nothing: say what would be committed and what the upstream has.
    pub dry_run: bool,
}

/// Whose `vault.json` a header conflict kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// This clone's.
    Ours,
    /// The upstream's.
    Theirs,
}

/// How a `vault.json` changed on both sides was settled (docs/format.md#header-conflicts).
#[derive(Clone, Debug)]
pub struct HeaderChoice {
    pub kept: Side,
    /// The generation of the kept header and of the dropped one.
    pub generation: u64,
    pub dropped_generation: u64,
}

/// Whether baton's own merge of the heads was committed.
#[derive(Debug, Default)]
pub enum HeadsMerge {
    /// No heads needed merging.
    #[default]
    NotNeeded,
    /// `Vault::merge` wrote the merge (or the upgrade of a version 2 vault).
    Committed,
    /// The git merge was committed without it: the vault no longer opens with the
    /// passphrase given (changed on another device). Readers merge the heads in memory;
    /// the next sync with the new passphrase commits the merge.
    SkippedNewPassphrase,
}

/// What a sync did (or, with `dry_run`, would do).
#[derive(Debug, Default)]
pub struct SyncReport {
    /// This writer's audit actions since the last sync, with counts (the commit message).
    pub changes: Vec<(String, usize)>,
    /// The sync's commit, abbreviated; `None` when there was nothing to commit.
    pub commit: Option<String>,
    /// The upstream, as `remote/branch`; `None` when the branch has none.
    pub upstream: Option<String>,
    /// Commits the upstream had that this clone had not (merged, or with `dry_run`
    /// waiting to be).
    pub incoming: usize,
    /// Changed files in the vault folder (with `dry_run`: waiting to be committed).
    pub changed_files: usize,
    pub heads_merge: HeadsMerge,
    pub header: Option<HeaderChoice>,
    /// Heads of an older generation kept over the other side's deletion (a writer that
    /// committed while another rotated; `status` and `verify` report them).
    pub kept_heads: Vec<String>,
    pub pushed: bool,
    /// Clients whose versions are in conflict after the sync (for the terminal only:
    /// never in a commit message).
    pub conflicted_clients: Vec<String>,
    pub dry_run: bool,
}

/// Why `baton sync` stopped, and where it left the repository.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("git is not installed (no 'git' command on the PATH)")]
    GitMissing,
    #[error("cannot run git: {0}")]
    Io(#[source] std::io::Error),
    #[error("{0} is not in a git repository")]
    NotARepository(PathBuf),
    #[error("the vault is locked by another baton process")]
    Locked,
    #[error("the repository has no branch checked out (detached HEAD)")]
    Detached,
    #[error("the repository is in the middle of {0}")]
    Busy(&'static str),
    #[error("changes outside the vault folder are staged ({})", .0.join(", "))]
    StagedOutside(Vec<String>),
    #[error("branch {branch} has no upstream to sync with")]
    NoUpstream { branch: String },
    #[error("git {what} failed: {stderr}")]
    Git {
        what: &'static str,
        stderr: String,
        /// The commit holding this sync's local changes, if one was made.
        left: Option<String>,
    },
    /// A conflict baton does not settle: the merge was aborted.
    #[error("merging {upstream} conflicts on {}", .paths.join(", "))]
    Conflict {
        upstream: String,
        paths: Vec<String>,
        left: Option<String>,
    },
    /// The vault did not open before anything was done (wrong passphrase, damage).
    #[error(transparent)]
    Unlock(UnlockError),
    /// The vault did not open with what the merge brought: the merge was aborted.
    #[error("the merged vault does not open: {source}")]
    Open {
        source: UnlockError,
        left: Option<String>,
    },
    #[error("baton's merge of the heads failed: {source}")]
    Merge {
        source: VaultError,
        /// The git merge's commit (made without baton's merge).
        left: Option<String>,
    },
    #[error("the upstream kept moving: the push was refused {0} times")]
    PushRaced(usize, Option<String>),
}

impl SyncError {
    /// The commit holding this sync's work when it stopped (not pushed), if any.
    pub fn left(&self) -> Option<&str> {
        match self {
            SyncError::Git { left, .. }
            | SyncError::Conflict { left, .. }
            | SyncError::Open { left, .. }
            | SyncError::Merge { left, .. }
            | SyncError::PushRaced(_, left) => left.as_deref(),
            _ => None,
        }
    }
}

/// Turns a plain open into the caller's checked one (the CLI's rollback memory, which
/// also decides the writer id: docs/format.md#writers).
pub type Guard<'a> = &'a mut dyn FnMut(Vault) -> Result<Vault, UnlockError>;

/// How often a push refused because the upstream moved is retried (fetch, merge, push).
const PUSH_ATTEMPTS: usize = 3;

/// The vault folder inside the work tree, as git pathspecs.
struct Folder {
    /// The vault folder relative to the top (empty: the top itself).
    prefix: String,
}

impl Folder {
    /// `inner` (a path inside the vault) relative to the top.
    fn path(&self, inner: &str) -> String {
        match self.prefix.is_empty() {
            true => inner.to_string(),
            false => format!("{}/{inner}", self.prefix),
        }
    }

    /// The pathspec of the vault folder. Its lock file is never committed (it is this
    /// machine's, and flock needs no content): `exclude_lock` lists it as ignored.
    fn spec(&self) -> Vec<String> {
        let top = match self.prefix.is_empty() {
            true => ".".to_string(),
            false => self.prefix.clone(),
        };
        vec!["--".into(), format!(":(top,literal){top}")]
    }

    /// A top-relative path inside the vault folder, as the vault names it.
    fn inner<'p>(&self, path: &'p str) -> Option<&'p str> {
        match self.prefix.is_empty() {
            true => Some(path),
            false => path
                .strip_prefix(self.prefix.as_str())
                .and_then(|p| p.strip_prefix('/')),
        }
    }
}

/// The upstream of the checked-out branch.
struct Upstream {
    remote: String,
    /// `refs/heads/…` on the remote.
    merge: String,
    /// The remote-tracking name (`origin/main`).
    name: String,
}

/// Syncs the vault at `path` through the git repository it is in (docs/format.md#git).
///
/// `guard` is applied to every open of the vault (the CLI's rollback memory); the
/// passphrase opens it before and after the merge, under one write lock held for the
/// whole sync.
pub fn sync(
    path: &Path,
    passphrase: &Passphrase,
    options: SyncOptions,
    guard: Guard<'_>,
) -> Result<SyncReport, SyncError> {
    let (git, prefix) = Git::find(path)?;
    let folder = Folder { prefix };
    let lock = WriteLock::try_acquire(path)
        .map_err(SyncError::Io)?
        .ok_or(SyncError::Locked)?;
    let branch = check_repo(&git, &folder)?;
    let upstream = upstream_of(&git, &branch)?;
    if upstream.is_none() && options.push {
        return Err(SyncError::NoUpstream { branch });
    }
    let mut open =
        |lock: &WriteLock| Vault::open_locked(path, passphrase, lock).and_then(&mut *guard);
    let vault = open(&lock).map_err(SyncError::Unlock)?;
    let writer = vault.writer().to_string();
    let start = git.commit("HEAD")?;
    let mut report = SyncReport {
        upstream: upstream.as_ref().map(|u| u.name.clone()),
        dry_run: options.dry_run,
        ..Default::default()
    };
    if options.dry_run {
        return dry_run(&git, &folder, &vault, &writer, start.as_deref(), report);
    }

    exclude_lock(&git, &folder)?;
    // 1. This clone's changes, as one commit (the merge needs a clean index).
    git.text("add", add_args(&folder))?;
    let mut actions = own_actions(&git, &folder, &vault, &writer, start.as_deref())?;
    drop(vault);
    let tree = git.text("write-tree", ["write-tree"])?;
    let local = match &start {
        Some(s) => tree != git.text("rev-parse", ["rev-parse", &format!("{s}^{{tree}}")])?,
        None => tree != EMPTY_TREE,
    };
    if local {
        report.changed_files = changed_files(&git, start.as_deref(), &tree)?;
        let parents: Vec<&str> = start.iter().map(String::as_str).collect();
        let l = commit_tree(
            &git,
            &tree,
            &parents,
            &message(&actions, None, &report),
            None,
        )?;
        set_head(&git, &l, None)?;
    }
    // The commit this sync's final commit goes on (its first parent).
    let mut base = start.clone();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let head = git.commit("HEAD")?;
        let left = || head.clone().filter(|_| local || attempt > 1);

        // 2. The upstream's commits.
        let mut merging = None;
        if let Some(up) = &upstream {
            let fetched = git.run(["fetch", "--quiet", &up.remote])?;
            if !fetched.ok {
                return Err(SyncError::Git {
                    what: "fetch",
                    stderr: fetched.stderr,
                    left: left(),
                });
            }
            if let Some(theirs) = git.commit(&format!("refs/remotes/{}", up.name))? {
                let behind = match &head {
                    Some(h) => !git.is_ancestor(&theirs, h)?,
                    None => true,
                };
                if behind {
                    report.incoming += count(&git, head.as_deref(), &theirs)?;
                    match &head {
                        Some(h) if !git.is_ancestor(h, &theirs)? => merging = Some(theirs),
                        _ => {
                            let ff = git.run(["merge", "--ff-only", "--quiet", &theirs])?;
                            if !ff.ok {
                                return Err(SyncError::Git {
                                    what: "merge --ff-only",
                                    stderr: ff.stderr,
                                    left: left(),
                                });
                            }
                            base = Some(theirs);
                        }
                    }
                }
            }
        }
        if let (Some(theirs), Some(up)) = (&merging, &upstream) {
            let merged = git.run([
                "merge",
                "--no-ff",
                "--no-commit",
                "--quiet",
                "--no-verify",
                theirs,
            ])?;
            let conflicts = unmerged(&git)?;
            if !merged.ok && conflicts.is_empty() {
                abort_merge(&git);
                return Err(SyncError::Git {
                    what: "merge",
                    stderr: merged.stderr,
                    left: left(),
                });
            }
            match settle(&git, &folder, path, passphrase, &lock, &conflicts) {
                Ok((header, kept)) => {
                    report.header = header;
                    report.kept_heads.extend(kept);
                }
                Err(paths) => {
                    abort_merge(&git);
                    return Err(SyncError::Conflict {
                        upstream: up.name.clone(),
                        paths,
                        left: left(),
                    });
                }
            }
        }

        // 3. baton's merge of the heads (and the upgrade of a version 2 vault).
        let header_changed = header_differs(&git, &folder, head.as_deref())?;
        let mut failed = None;
        match open(&lock) {
            Ok(mut v) => {
                if v.has_unmerged_heads() || !v.is_multi_writer() {
                    match v.merge() {
                        Ok(true) => report.heads_merge = HeadsMerge::Committed,
                        Ok(false) => {}
                        Err(source) => failed = Some(source),
                    }
                }
                report.conflicted_clients = v.conflicted_clients();
                git.text("add", add_args(&folder))?;
                for (seq, action) in own_actions(&git, &folder, &v, &writer, start.as_deref())? {
                    actions.entry(seq).or_insert(action);
                }
            }
            // Another device changed the passphrase: its vault.json came with the merge.
            Err(UnlockError::WrongPassphrase) if header_changed => {
                report.heads_merge = HeadsMerge::SkippedNewPassphrase;
            }
            Err(source) => {
                if merging.is_some() {
                    abort_merge(&git);
                }
                return Err(SyncError::Open {
                    source,
                    left: left(),
                });
            }
        }

        // 4. One commit for the whole sync.
        let tree = git.text("write-tree", ["write-tree"])?;
        let head_tree = match git.commit("HEAD")? {
            Some(h) => Some(git.text("rev-parse", ["rev-parse", &format!("{h}^{{tree}}")])?),
            None => None,
        };
        let changed = merging.is_some() || head_tree.as_deref() != Some(tree.as_str());
        if changed {
            // On top of the commit before this sync's own (a local commit made above
            // is folded in), with the upstream as second parent when both moved.
            let first = match local && attempt == 1 {
                true => start.clone(),
                false => git.commit("HEAD")?,
            };
            let first = first.or(base.clone());
            let mut parents: Vec<&str> = first.iter().map(String::as_str).collect();
            if let Some(t) = &merging {
                parents.push(t);
            }
            let msg = message(
                &actions,
                upstream.as_ref().filter(|_| merging.is_some()),
                &report,
            );
            let c = commit_tree(&git, &tree, &parents, &msg, left())?;
            set_head(&git, &c, left())?;
            if merging.is_some() {
                // The merge is recorded in `c`; forget git's own merge state.
                git.text("merge --quit", ["merge", "--quit"])?;
            }
        }
        if let Some(h) = git.commit("HEAD")?
            && (changed || local)
        {
            report.commit = Some(h[..12.min(h.len())].to_string());
        }
        if let Some(source) = failed {
            return Err(SyncError::Merge {
                source,
                left: git.commit("HEAD")?,
            });
        }
        report.changes = tally(&actions);

        // 5. Push.
        let Some(up) = upstream.as_ref().filter(|_| options.push) else {
            return Ok(report);
        };
        let Some(head) = git.commit("HEAD")? else {
            return Ok(report);
        };
        if git
            .commit(&format!("refs/remotes/{}", up.name))?
            .is_some_and(|t| t == head)
        {
            return Ok(report);
        }
        let pushed = git.run(["push", "--quiet", &up.remote, &format!("HEAD:{}", up.merge)])?;
        if pushed.ok {
            report.pushed = true;
            return Ok(report);
        }
        let raced = pushed.stderr.contains("non-fast-forward")
            || pushed.stderr.contains("fetch first")
            || pushed.stderr.contains("[rejected]");
        if !raced {
            return Err(SyncError::Git {
                what: "push",
                stderr: pushed.stderr,
                left: Some(head),
            });
        }
        if attempt >= PUSH_ATTEMPTS {
            return Err(SyncError::PushRaced(attempt, Some(head)));
        }
        base = Some(head);
    }
}

/// The id of git's empty tree.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// Lists the vault's `.lock` in the clone's own `.git/info/exclude` (never in a
/// committed file), so `git status` does not show it as untracked.
fn exclude_lock(git: &Git, folder: &Folder) -> Result<(), SyncError> {
    let file = git
        .top
        .join(git.text("rev-parse", ["rev-parse", "--git-path", "info/exclude"])?);
    let line = format!("/{}", folder.path(".lock"));
    let current = std::fs::read_to_string(&file).unwrap_or_default();
    if current.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(SyncError::Io)?;
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "# the lock of the baton vault (baton sync)\n{line}\n"
    ));
    std::fs::write(&file, text).map_err(SyncError::Io)
}

fn add_args(folder: &Folder) -> Vec<String> {
    let mut a = vec!["add".to_string(), "-A".into()];
    a.extend(folder.spec());
    a
}

/// Refuses a repository in a state a sync must not build on; returns the branch.
fn check_repo(git: &Git, folder: &Folder) -> Result<String, SyncError> {
    let branch = git.run(["symbolic-ref", "--quiet", "--short", "HEAD"])?;
    if !branch.ok {
        return Err(SyncError::Detached);
    }
    if git.commit("MERGE_HEAD")?.is_some() {
        return Err(SyncError::Busy("a merge"));
    }
    for (state, what) in [
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ] {
        let p = git.text("rev-parse", ["rev-parse", "--git-path", state])?;
        if git.top.join(p).exists() {
            return Err(SyncError::Busy(what));
        }
    }
    if !git.text("ls-files", ["ls-files", "-u"])?.is_empty() {
        return Err(SyncError::Busy("a merge (unmerged files)"));
    }
    if !folder.prefix.is_empty() {
        let staged = git.text(
            "diff",
            [
                "diff",
                "--cached",
                "--name-only",
                "--",
                ":(top)",
                &format!(":(top,exclude,literal){}", folder.prefix),
            ],
        )?;
        if !staged.is_empty() {
            return Err(SyncError::StagedOutside(
                staged.lines().map(str::to_string).collect(),
            ));
        }
    }
    Ok(branch.stdout.trim().to_string())
}

fn upstream_of(git: &Git, branch: &str) -> Result<Option<Upstream>, SyncError> {
    let config = |key: &str| -> Result<Option<String>, SyncError> {
        let out = git.run(["config", "--get", &format!("branch.{branch}.{key}")])?;
        Ok(out.ok.then(|| out.stdout.trim().to_string()))
    };
    let (Some(remote), Some(merge)) = (config("remote")?, config("merge")?) else {
        return Ok(None);
    };
    if remote == "." {
        return Ok(None);
    }
    let name = format!(
        "{remote}/{}",
        merge.strip_prefix("refs/heads/").unwrap_or(&merge)
    );
    Ok(Some(Upstream {
        remote,
        merge,
        name,
    }))
}

/// This writer's audit records that `start` does not have (the sync's changes), by
/// sequence number. Needs the files added to the index first.
fn own_actions(
    git: &Git,
    folder: &Folder,
    vault: &Vault,
    writer: &str,
    start: Option<&str>,
) -> Result<BTreeMap<u64, String>, SyncError> {
    let mut args = vec!["diff", "--cached", "--name-only", "--diff-filter=A"];
    args.extend(start);
    let dir = format!(":(top,literal){}", folder.path(AUDIT_DIR));
    args.extend(["--", dir.as_str()]);
    Ok(actions_in(vault, writer, &git.text("diff", args)?))
}

/// The actions of `writer`'s audit records among `names` (paths git printed, one per
/// line), by sequence number.
fn actions_in(vault: &Vault, writer: &str, names: &str) -> BTreeMap<u64, String> {
    let seqs: std::collections::HashSet<u64> = names
        .lines()
        .filter_map(|p| p.rsplit('/').next())
        .filter_map(audit::parse_chain_record_file)
        .filter(|(chain, _)| chain == writer)
        .map(|(_, seq)| seq)
        .collect();
    vault
        .audit_log()
        .0
        .into_iter()
        .filter(|r| r.writer == writer && seqs.contains(&r.seq))
        .map(|r| (r.seq, r.action.as_str().to_string()))
        .collect()
}

/// Counts per action, in the order of the labels.
fn tally(actions: &BTreeMap<u64, String>) -> Vec<(String, usize)> {
    let mut counts = BTreeMap::<&str, usize>::new();
    for a in actions.values() {
        *counts.entry(label(a)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(a, n)| (a.to_string(), n))
        .collect()
}

/// An action's label as the commit message may show it: a known action's name, never
/// free text from a record.
fn label(action: &str) -> &str {
    match crate::audit::AuditAction::parse(action) {
        crate::audit::AuditAction::Other(_) => "other",
        _ => action,
    }
}

/// The commit message: counts of this writer's actions, what was merged. Never a
/// client, an entry, a writer id or anything else the vault encrypts.
fn message(
    actions: &BTreeMap<u64, String>,
    merged: Option<&Upstream>,
    report: &SyncReport,
) -> String {
    let counts = tally(actions);
    let mut subject = match counts.is_empty() {
        true => "baton sync".to_string(),
        false => format!(
            "baton sync: {}",
            counts
                .iter()
                .map(|(a, n)| format!("{a} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    if counts.is_empty() && merged.is_some() {
        subject.push_str(": merge");
    }
    let mut body = Vec::new();
    if let Some(up) = merged {
        body.push(format!("Merged {} ({} commits).", up.name, report.incoming));
    }
    if let Some(h) = &report.header {
        body.push(format!(
            "vault.json changed on both sides: kept {} header (generation {}); the other (generation {}) is dropped.",
            match h.kept {
                Side::Ours => "this clone's",
                Side::Theirs => "the upstream's",
            },
            h.generation,
            h.dropped_generation
        ));
    }
    if !report.kept_heads.is_empty() {
        body.push(format!(
            "Kept {} head(s) of an older generation that the other side's rotation removed.",
            report.kept_heads.len()
        ));
    }
    match body.is_empty() {
        true => format!("{subject}\n"),
        false => format!("{subject}\n\n{}\n", body.join("\n")),
    }
}

fn commit_tree(
    git: &Git,
    tree: &str,
    parents: &[&str],
    message: &str,
    left: Option<String>,
) -> Result<String, SyncError> {
    let mut args = vec!["commit-tree", tree];
    for p in parents {
        args.extend(["-p", p]);
    }
    let out = git.run_input(args, message)?;
    if !out.ok {
        return Err(SyncError::Git {
            what: "commit-tree",
            stderr: out.stderr,
            left,
        });
    }
    Ok(out.stdout.trim().to_string())
}

/// Points the checked-out branch at `commit` (the index already holds its tree).
fn set_head(git: &Git, commit: &str, left: Option<String>) -> Result<(), SyncError> {
    let out = git.run(["update-ref", "-m", "baton sync", "HEAD", commit])?;
    if !out.ok {
        return Err(SyncError::Git {
            what: "update-ref",
            stderr: out.stderr,
            left,
        });
    }
    Ok(())
}

fn abort_merge(git: &Git) {
    // Puts the index and the work tree back as they were before the merge; a failure
    // leaves git's own merge state, which `git status` explains.
    let _ = git.run(["merge", "--abort"]);
}

fn count(git: &Git, from: Option<&str>, to: &str) -> Result<usize, SyncError> {
    let range = match from {
        Some(f) => format!("{f}..{to}"),
        None => to.to_string(),
    };
    Ok(git
        .text("rev-list", ["rev-list", "--count", &range])?
        .parse()
        .unwrap_or(0))
}

fn changed_files(git: &Git, start: Option<&str>, tree: &str) -> Result<usize, SyncError> {
    let from = start.map_or(EMPTY_TREE.to_string(), |s| format!("{s}^{{tree}}"));
    Ok(git
        .text("diff-tree", ["diff-tree", "-r", "--name-only", &from, tree])?
        .lines()
        .count())
}

/// Whether the merge brought another `vault.json` than `head` had.
fn header_differs(git: &Git, folder: &Folder, head: Option<&str>) -> Result<bool, SyncError> {
    let Some(head) = head else {
        return Ok(false);
    };
    let p = format!(":(top,literal){}", folder.path(HEADER_FILE));
    let out = git.run(["diff", "--cached", "--quiet", head, "--", &p])?;
    Ok(!out.ok)
}

/// Paths git could not merge, each with the stages it has (1 base, 2 ours, 3 theirs).
fn unmerged(git: &Git) -> Result<BTreeMap<String, Vec<u8>>, SyncError> {
    let out = git.text("ls-files", ["ls-files", "-u", "-z"])?;
    let mut map = BTreeMap::<String, Vec<u8>>::new();
    for rec in out.split('\0').filter(|r| !r.is_empty()) {
        let Some((meta, path)) = rec.split_once('\t') else {
            continue;
        };
        let stage = meta
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        map.entry(path.to_string()).or_default().push(stage);
    }
    Ok(map)
}

/// Settles the conflicts baton has a rule for; returns the paths it has none for.
fn settle(
    git: &Git,
    folder: &Folder,
    path: &Path,
    passphrase: &Passphrase,
    lock: &WriteLock,
    conflicts: &BTreeMap<String, Vec<u8>>,
) -> Result<(Option<HeaderChoice>, Vec<String>), Vec<String>> {
    let mut unsettled = Vec::new();
    let mut kept = Vec::new();
    let mut header = false;
    for (p, stages) in conflicts {
        let has = |s: u8| stages.contains(&s);
        match folder.inner(p) {
            Some(HEADER_FILE) if has(2) && has(3) => header = true,
            // A head changed by its writer on one side and removed by a rotation on the
            // other: only its writer ever changes it, so the changed one is the newest.
            Some(inner)
                if has(2) != has(3)
                    && inner
                        .strip_prefix(&format!("{HEADS_DIR}/"))
                        .and_then(parse_head_file)
                        .is_some() =>
            {
                let out = git.run(["add", "--", &format!(":(top,literal){p}")]);
                match out {
                    Ok(o) if o.ok => kept.push(inner.to_string()),
                    _ => unsettled.push(p.clone()),
                }
            }
            _ => unsettled.push(p.clone()),
        }
    }
    if !unsettled.is_empty() {
        return Err(unsettled);
    }
    let choice = match header {
        true => Some(
            settle_header(git, folder, path, passphrase, lock)
                .map_err(|()| vec![folder.path(HEADER_FILE)])?,
        ),
        false => None,
    };
    Ok((choice, kept))
}

/// docs/format.md#header-conflicts: of the two `vault.json`, the one of the higher
/// generation if the vault opens with it, else ours. At the same generation (two
/// `passwd`, a `passwd` and a settings change) ours if it opens, else theirs.
fn settle_header(
    git: &Git,
    folder: &Folder,
    path: &Path,
    passphrase: &Passphrase,
    lock: &WriteLock,
) -> Result<HeaderChoice, ()> {
    let p = folder.path(HEADER_FILE);
    let side = |stage: u8| -> Option<(Vec<u8>, Header)> {
        let out = git.run(["show", &format!(":{stage}:{p}")]).ok()?;
        if !out.ok {
            return None;
        }
        let h: Header = serde_json::from_str(&out.stdout).ok()?;
        Some((out.stdout.into_bytes(), h))
    };
    let (Some(ours), Some(theirs)) = (side(2), side(3)) else {
        return Err(());
    };
    let mut order = [(Side::Ours, &ours, &theirs), (Side::Theirs, &theirs, &ours)];
    if theirs.1.generation > ours.1.generation {
        order.swap(0, 1);
    }
    let file = path.join(HEADER_FILE);
    for (kept, (bytes, h), (_, other)) in order {
        if h.vault_id != other.vault_id {
            return Err(());
        }
        fsio::write_atomic(&file, bytes).map_err(|_| ())?;
        // Only whether it opens: no rollback memory is touched by this trial.
        if Vault::open_locked(path, passphrase, lock).is_ok() {
            let added = git.run(["add", "--", &format!(":(top,literal){p}")]);
            if !added.is_ok_and(|o| o.ok) {
                return Err(());
            }
            return Ok(HeaderChoice {
                kept,
                generation: h.generation,
                dropped_generation: other.generation,
            });
        }
    }
    Err(())
}

/// `--dry-run`: what the folder would commit and what the upstream has, from the last
/// fetch (nothing is fetched, staged or written).
fn dry_run(
    git: &Git,
    folder: &Folder,
    vault: &Vault,
    writer: &str,
    start: Option<&str>,
    mut report: SyncReport,
) -> Result<SyncReport, SyncError> {
    let mut args = vec![
        "status".to_string(),
        "--porcelain".into(),
        "-z".into(),
        "--untracked-files=all".into(),
    ];
    args.extend(folder.spec());
    let status = git.text("status", args)?;
    report.changed_files = status.split('\0').filter(|r| r.len() > 3).count();
    let mut args = vec!["ls-files", "--others", "--exclude-standard", "--"];
    let dir = format!(":(top,literal){}", folder.path(AUDIT_DIR));
    args.push(&dir);
    let actions = actions_in(vault, writer, &git.text("ls-files", args)?);
    report.changes = tally(&actions);
    if let Some(up) = &report.upstream
        && let Some(theirs) = git.commit(&format!("refs/remotes/{up}"))?
    {
        report.incoming = count(git, start, &theirs)?;
        if let Some(s) = start
            && git.is_ancestor(&theirs, s)?
        {
            report.incoming = 0;
        }
    }
    report.conflicted_clients = vault.conflicted_clients();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_count_actions_and_name_nothing_else() {
        let mut a = BTreeMap::new();
        a.insert(3, "entry.edit".to_string());
        a.insert(4, "entry.edit".to_string());
        a.insert(5, "client.add".to_string());
        a.insert(6, "acme-secret-label".to_string());
        let m = message(&a, None, &SyncReport::default());
        assert_eq!(m, "baton sync: client.add ×1, entry.edit ×2, other ×1\n");
        assert!(!m.contains("acme"));
    }

    #[test]
    fn the_vault_folder_as_pathspecs() {
        let f = Folder {
            prefix: "secrets/vault".into(),
        };
        assert_eq!(f.inner("secrets/vault/vault.json"), Some("vault.json"));
        assert_eq!(f.inner("secrets/vaultx/vault.json"), None);
        assert_eq!(f.inner("other"), None);
        assert_eq!(f.spec()[1], ":(top,literal)secrets/vault");
        let root = Folder {
            prefix: String::new(),
        };
        assert_eq!(root.inner("heads/a.g1.age"), Some("heads/a.g1.age"));
        assert_eq!(root.spec()[1], ":(top,literal).");
    }
}
