//! Running the user's own `git` (no git library): their credentials, remotes, hooks
//! and configuration apply. Nothing secret is ever passed: no argument, environment
//! value or commit message carries more than file names, action counts and hashes.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::SyncError;

/// A git work tree, every command run from its top folder.
pub(crate) struct Git {
    pub top: PathBuf,
}

/// What a git command printed, and whether it succeeded.
pub(crate) struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Git {
    /// The work tree holding `path` (the vault folder may be its top or any folder in it).
    pub fn find(path: &Path) -> Result<(Git, String), SyncError> {
        let out = run_in(
            path,
            ["rev-parse", "--show-toplevel", "--show-prefix"],
            None,
        )?;
        if !out.ok {
            return Err(SyncError::NotARepository(path.to_path_buf()));
        }
        let mut lines = out.stdout.lines();
        let top = PathBuf::from(lines.next().unwrap_or_default());
        let prefix = lines.next().unwrap_or_default().trim_end_matches('/');
        Ok((Git { top }, prefix.to_string()))
    }

    /// Runs `git ARGS` in the top folder.
    pub fn run<I, S>(&self, args: I) -> Result<Out, SyncError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_in(&self.top, args, None)
    }

    /// Runs `git ARGS` with `input` on its standard input (a commit message).
    pub fn run_input<I, S>(&self, args: I, input: &str) -> Result<Out, SyncError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_in(&self.top, args, Some(input))
    }

    /// Runs `git ARGS` and returns its trimmed output, or the failure named `what`.
    pub fn text<I, S>(&self, what: &'static str, args: I) -> Result<String, SyncError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.run(args)?;
        if !out.ok {
            return Err(SyncError::Git {
                what,
                stderr: out.stderr,
                left: None,
            });
        }
        Ok(out.stdout.trim_end().to_string())
    }

    /// The commit a name resolves to, if it does.
    pub fn commit(&self, name: &str) -> Result<Option<String>, SyncError> {
        let out = self.run(["rev-parse", "-q", "--verify", &format!("{name}^{{commit}}")])?;
        Ok(out.ok.then(|| out.stdout.trim().to_string()))
    }

    /// Whether commit `a` is an ancestor of (or equal to) `b`.
    pub fn is_ancestor(&self, a: &str, b: &str) -> Result<bool, SyncError> {
        Ok(self.run(["merge-base", "--is-ancestor", a, b])?.ok)
    }
}

fn run_in<I, S>(dir: &Path, args: I, input: Option<&str>) -> Result<Out, SyncError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("git");
    // Plain output whatever the user's configuration: no pager, no colour, no
    // localised messages to parse (the messages shown are git's own, in English).
    cmd.arg("--no-pager")
        .args(["-c", "color.ui=false", "-c", "core.quotePath=false"])
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SyncError::GitMissing,
        _ => SyncError::Io(e),
    })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).map_err(SyncError::Io)?;
    }
    let out = child.wait_with_output().map_err(SyncError::Io)?;
    Ok(Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}
