//! `baton sync` through git (docs/format.md#git): a bare repository on disk and three
//! clones of it, each one a separate machine (its own XDG_STATE_HOME, so its own
//! writer id and rollback memory), driven through the built binary.
//!
//! Needs the `git` program: `#[ignore]`d like every peer test (CI installs git and runs
//! them with --include-ignored). No test reads the user's git configuration: each
//! runs git with an empty global configuration and sets the committer in each clone.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

const PASS: &str = "one vault, three clones";

/// Fails, naming the peer, when git is missing (the test is then not passed).
fn need_git() {
    let ok = std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "this test needs the 'git' command (apt install git)");
}

struct World {
    dir: tempfile::TempDir,
    remote: PathBuf,
    pass: PathBuf,
    /// An empty file used as the global git configuration of every git run here.
    gitconfig: PathBuf,
}

/// One clone: a machine with the repository checked out and the vault in `vault/`.
struct Clone {
    top: PathBuf,
    state: PathBuf,
}

impl Clone {
    fn vault(&self) -> PathBuf {
        self.top.join("vault")
    }
}

impl World {
    /// A bare repository and a first clone `a` holding a new vault, pushed by its
    /// first sync; then `others` more clones of it.
    fn new(others: &[&str]) -> (World, Vec<Clone>) {
        need_git();
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("pass.txt");
        fs::write(&pass, format!("{PASS}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&pass, fs::Permissions::from_mode(0o600)).unwrap();
        let gitconfig = dir.path().join("gitconfig");
        fs::write(&gitconfig, "").unwrap();
        let w = World {
            remote: dir.path().join("remote.git"),
            dir,
            pass,
            gitconfig,
        };
        w.git(
            w.dir.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                "remote.git",
            ],
        );
        let a = w.clone_as("a");
        w.baton(
            &a,
            &[
                "init",
                "--holders",
                "anna,ben",
                "-t",
                "2",
                "--insecure-test-kdf",
                "--out-dir",
            ],
        )
        .arg(w.dir.path().join("shares-a"))
        .assert()
        .success();
        w.sync(&a);
        let mut clones = vec![a];
        for name in others {
            clones.push(w.clone_as(name));
        }
        (w, clones)
    }

    fn clone_as(&self, name: &str) -> Clone {
        self.git(
            self.dir.path(),
            &["clone", "--quiet", self.remote.to_str().unwrap(), name],
        );
        let top = self.dir.path().join(name);
        self.git(&top, &["config", "user.name", &format!("Machine {name}")]);
        self.git(
            &top,
            &["config", "user.email", &format!("{name}@example.invalid")],
        );
        Clone {
            top,
            state: self.dir.path().join(format!("state-{name}")),
        }
    }

    fn git_cmd(&self, dir: &Path) -> std::process::Command {
        let mut c = std::process::Command::new("git");
        c.current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", &self.gitconfig)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("LC_ALL", "C");
        c
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_cmd(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `baton --vault C/vault --passphrase-file P ARGS` as machine C.
    fn baton(&self, c: &Clone, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("baton").unwrap();
        cmd.env_remove("BATON_VAULT")
            .env_remove("BATON_PASSPHRASE_FILE")
            .env_remove("BATON_IDENTITY")
            .env("XDG_STATE_HOME", &c.state)
            .env("GIT_CONFIG_GLOBAL", &self.gitconfig)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .arg("--vault")
            .arg(c.vault())
            .arg("--passphrase-file")
            .arg(&self.pass)
            .args(args);
        cmd
    }

    fn ok(&self, c: &Clone, args: &[&str]) -> String {
        let out = self.baton(c, args).output().unwrap();
        assert!(out.status.success(), "baton {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    fn sync(&self, c: &Clone) -> String {
        let s = self.ok(c, &["sync"]);
        // Nothing is left behind: the work tree is clean (the lock is not committed
        // and not shown).
        assert_eq!(
            self.git(&c.top, &["status", "--porcelain"]),
            "",
            "after sync"
        );
        s
    }

    fn ids(&self, c: &Clone) -> Vec<String> {
        let list: serde_json::Value =
            serde_json::from_str(&self.ok(c, &["list", "--json"])).unwrap();
        let mut ids: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Every commit message the remote holds.
    fn messages(&self) -> String {
        self.git(&self.remote, &["log", "--all", "--format=%B%n--"])
    }

    fn add_client(&self, c: &Clone, id: &str) {
        self.ok(c, &["client", "add", id, "--name", &format!("{id} Name")]);
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
#[ignore = "needs git; run with --include-ignored (CI does)"]
fn clients_added_on_three_clones_merge_and_commit_messages_name_none() {
    let (w, c) = World::new(&["b", "c"]);
    w.add_client(&c[0], "alpha-client");
    w.add_client(&c[1], "bravo-client");
    w.add_client(&c[2], "charlie-client");
    w.ok(
        &c[2],
        &[
            "entry",
            "add",
            "charlie-client",
            "web",
            "--user",
            "root",
            "--generate",
        ],
    );
    for i in [0, 1, 2, 0, 1] {
        w.sync(&c[i]);
    }
    let all = vec!["alpha-client", "bravo-client", "charlie-client"];
    for clone in &c {
        assert_eq!(w.ids(clone), all);
        w.ok(clone, &["verify"]);
    }
    let log = w.messages();
    assert!(log.contains("client.add ×1"), "{log}");
    assert!(log.contains("entry.add ×1"), "{log}");
    for id in &all {
        assert!(!log.contains(id), "a client id in a commit message: {log}");
    }
    assert!(!log.contains("Name"), "{log}");
    // One commit per sync: clone c synced once, with changes, after a and b pushed
    // (a merge commit folding its own changes in).
    let by_c = w.git(&w.remote, &["log", "--all", "--format=%ae %p"]);
    let c_commits: Vec<&str> = by_c.lines().filter(|l| l.starts_with("c@")).collect();
    assert_eq!(c_commits.len(), 1, "{by_c}");
    assert_eq!(c_commits[0].split(' ').count(), 3, "a merge commit: {by_c}");
}

#[test]
#[ignore = "needs git; run with --include-ignored (CI does)"]
fn the_same_entry_edited_on_two_clones_is_kept_as_a_conflict() {
    let (w, c) = World::new(&["b"]);
    w.add_client(&c[0], "acme");
    w.ok(
        &c[0],
        &[
            "entry",
            "add",
            "acme",
            "web",
            "--user",
            "first",
            "--generate",
        ],
    );
    w.sync(&c[0]);
    w.sync(&c[1]);
    w.ok(
        &c[0],
        &["entry", "edit", "acme", "web", "--user", "edited-on-a"],
    );
    w.ok(
        &c[1],
        &["entry", "edit", "acme", "web", "--user", "edited-on-b"],
    );
    w.sync(&c[0]);
    let out = w.baton(&c[1], &["sync"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in conflict"),
        "{}",
        text(&out)
    );
    w.sync(&c[0]);
    for clone in &c {
        let v = baton::Vault::open(
            &clone.vault(),
            &baton::Passphrase::new(PASS.into()),
            baton::Access::Read,
        )
        .unwrap();
        assert_eq!(v.conflicted_clients(), vec!["acme".to_string()]);
        let acme = v.client("acme").unwrap();
        let kept = serde_json::to_string(&acme.conflicts).unwrap();
        let shown = &acme.entry("web").unwrap().user;
        let both = [
            shown.as_str(),
            if kept.contains("edited-on-a") {
                "edited-on-a"
            } else {
                ""
            },
            if kept.contains("edited-on-b") {
                "edited-on-b"
            } else {
                ""
            },
        ];
        assert!(
            both.contains(&"edited-on-a") && both.contains(&"edited-on-b"),
            "{shown} / {kept}"
        );
    }
    // The commit messages say what was done, not to what.
    let log = w.messages();
    assert!(log.contains("entry.edit ×1"), "{log}");
    assert!(!log.contains("acme") && !log.contains("edited-on"), "{log}");
}

#[test]
#[ignore = "needs git; run with --include-ignored (CI does)"]
fn a_rotation_on_one_clone_reaches_the_others() {
    let (w, c) = World::new(&["b", "c"]);
    w.add_client(&c[0], "acme");
    w.sync(&c[0]);
    w.add_client(&c[1], "globex");
    w.sync(&c[1]);
    w.sync(&c[2]);
    w.sync(&c[0]);
    w.ok(&c[0], &["rotate"]);
    w.sync(&c[0]);
    for clone in &c[1..] {
        w.sync(clone);
        assert_eq!(w.ids(clone), vec!["acme", "globex"]);
        let status: serde_json::Value =
            serde_json::from_str(&w.ok(clone, &["status", "--json"])).unwrap();
        assert_eq!(status["generation"], 2, "{status}");
        w.ok(clone, &["verify"]);
    }
    // Writing after the rotation works everywhere and merges back.
    w.add_client(&c[2], "initech");
    w.sync(&c[2]);
    w.sync(&c[0]);
    assert_eq!(w.ids(&c[0]), vec!["acme", "globex", "initech"]);
}

#[test]
#[ignore = "needs git; run with --include-ignored (CI does)"]
fn a_purged_client_stays_purged_on_the_other_clones() {
    let (w, c) = World::new(&["b", "c"]);
    w.add_client(&c[0], "acme");
    w.add_client(&c[0], "globex");
    w.sync(&c[0]);
    w.sync(&c[1]);
    w.sync(&c[2]);
    w.ok(&c[1], &["purge", "--client", "acme", "--yes"]);
    // Meanwhile another clone changes something else.
    w.add_client(&c[2], "initech");
    w.sync(&c[1]);
    w.sync(&c[2]);
    w.sync(&c[0]);
    w.sync(&c[1]);
    for clone in &c {
        assert_eq!(w.ids(clone), vec!["globex", "initech"]);
        w.ok(clone, &["verify"]);
    }
    assert!(!w.messages().contains("acme"));
}

#[test]
#[ignore = "needs git; run with --include-ignored (CI does)"]
fn vault_json_changed_on_two_clones_is_settled_by_the_header_rule() {
    let (w, c) = World::new(&["b"]);
    w.ok(&c[0], &["settings", "--rotate-every", "6"]);
    w.ok(&c[1], &["settings", "--rotate-every", "3"]);
    w.sync(&c[0]);
    let out = w.baton(&c[1], &["sync"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("vault.json was changed on both sides"),
        "{}",
        text(&out)
    );
    w.sync(&c[0]);
    for clone in &c {
        let h: serde_json::Value =
            serde_json::from_slice(&fs::read(clone.vault().join("vault.json")).unwrap()).unwrap();
        assert_eq!(
            h["rotation"]["interval_months"], 3,
            "same generation: ours (b's) kept"
        );
        w.ok(clone, &["verify"]);
    }
}

#[test]
#[ignore = "needs git; run with --include-ignored (CI does)"]
fn a_conflict_outside_the_vault_aborts_the_merge_and_says_where_things_are() {
    let (w, c) = World::new(&["b"]);
    for (i, text) in [(0, "from a\n"), (1, "from b\n")] {
        fs::write(c[i].top.join("README"), text).unwrap();
        w.git(&c[i].top, &["add", "README"]);
        w.git(&c[i].top, &["commit", "--quiet", "-m", "readme"]);
    }
    w.add_client(&c[1], "acme");
    w.sync(&c[0]);
    let before = w.git(&c[1].top, &["rev-parse", "HEAD"]);
    let out = w.baton(&c[1], &["sync"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("conflicts on README"), "{err}");
    assert!(err.contains("committed locally as"), "{err}");
    // The merge is aborted and the work tree clean; the vault's change is committed.
    assert_eq!(w.git(&c[1].top, &["status", "--porcelain"]), "");
    let head = w.git(&c[1].top, &["rev-parse", "HEAD"]);
    assert_ne!(head, before);
    assert_eq!(w.git(&c[1].top, &["rev-parse", "HEAD~1"]), before);
    assert_eq!(w.ids(&c[1]), vec!["acme"]);
}

#[test]
#[ignore = "needs git; run with --include-ignored (CI does)"]
fn sync_errors_say_what_to_do() {
    need_git();
    let (w, c) = World::new(&[]);
    // No upstream.
    w.git(&c[0].top, &["switch", "--quiet", "-c", "local-only"]);
    let out = w.baton(&c[0], &["sync"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("git push -u origin local-only"));
    // --no-push needs none.
    w.add_client(&c[0], "acme");
    let s = w.ok(&c[0], &["sync", "--no-push"]);
    assert!(s.contains("client.add ×1"), "{s}");
    // --dry-run changes nothing.
    w.add_client(&c[0], "globex");
    let head = w.git(&c[0].top, &["rev-parse", "HEAD"]);
    let s = w.ok(&c[0], &["sync", "--dry-run"]);
    assert!(s.contains("would commit"), "{s}");
    assert_eq!(w.git(&c[0].top, &["rev-parse", "HEAD"]), head);
    assert_ne!(w.git(&c[0].top, &["status", "--porcelain"]), "");
    // Not a repository.
    let plain = Clone {
        top: w.dir.path().join("plain"),
        state: w.dir.path().join("state-plain"),
    };
    w.baton(
        &plain,
        &[
            "init",
            "--holders",
            "anna,ben",
            "-t",
            "2",
            "--insecure-test-kdf",
            "--out-dir",
        ],
    )
    .arg(w.dir.path().join("shares-plain"))
    .assert()
    .success();
    // (GIT_CEILING_DIRECTORIES keeps git from finding a repository above the temp dir.)
    let out = w
        .baton(&plain, &["sync"])
        .env("GIT_CEILING_DIRECTORIES", w.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in a git repository"));
}

/// The "stranded" case (issue 13): a clone commits under generation 1 while another
/// rotated to generation 2. git keeps the changed old head over the rotation's removal,
/// and the merge of `baton sync` carries its changes over into generation 2
/// (docs/format.md#carry-over): every clone then shows them, `verify` is clean, and
/// `status --check` exits 0.
#[test]
#[ignore = "needs git; run with --include-ignored (CI does)"]
fn a_change_made_under_the_old_generation_while_another_clone_rotated_is_carried_over() {
    let (w, c) = World::new(&["b"]);
    w.add_client(&c[0], "acme");
    w.sync(&c[0]);
    // b has a head of generation 1 in the repository...
    w.add_client(&c[1], "early");
    w.sync(&c[1]);
    w.sync(&c[0]);
    // ... which a's rotation removes, while b changes it again.
    w.ok(&c[0], &["rotate"]);
    w.sync(&c[0]);
    w.add_client(&c[1], "stranded-client");
    let out = w.baton(&c[1], &["sync"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    w.sync(&c[0]);
    for clone in &c {
        let verify = w.baton(clone, &["verify"]).output().unwrap();
        assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
        let check = w.baton(clone, &["status", "--check"]).output().unwrap();
        assert_eq!(check.status.code(), Some(0), "{}", text(&check));
        assert_eq!(w.ids(clone), vec!["acme", "early", "stranded-client"]);
    }
}

/// Two clones, apart, each add a client and rotate to generation 2
/// (docs/format.md#sibling-rotations). `baton sync` settles `vault.json` by the header
/// rule (ours at the same generation); the other rotation's heads, files and archive
/// came with the merge under their own names and are merged too: every clone shows
/// both clients, `verify` and `status --check` are clean, and the audit log holds both
/// rotations.
#[test]
#[ignore = "needs git; run with --include-ignored (CI does)"]
fn two_clones_rotating_apart_keep_both_changes() {
    let (w, c) = World::new(&["b"]);
    w.add_client(&c[0], "acme");
    w.sync(&c[0]);
    w.sync(&c[1]);
    w.add_client(&c[0], "made-on-a");
    w.ok(&c[0], &["rotate"]);
    w.add_client(&c[1], "made-on-b");
    w.ok(&c[1], &["rotate"]);
    w.add_client(&c[1], "after-b-rotated");
    w.sync(&c[0]);
    w.sync(&c[1]);
    w.sync(&c[0]);
    w.add_client(&c[0], "later");
    w.sync(&c[0]);
    w.sync(&c[1]);
    for clone in &c {
        let verify = w.baton(clone, &["verify"]).output().unwrap();
        assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
        let check = w.baton(clone, &["status", "--check"]).output().unwrap();
        assert_eq!(check.status.code(), Some(0), "{}", text(&check));
        assert_eq!(
            w.ids(clone),
            vec!["acme", "after-b-rotated", "later", "made-on-a", "made-on-b"]
        );
        w.ok(clone, &["audit", "--verify"]);
        let log = w.ok(clone, &["audit", "--json"]);
        assert_eq!(log.matches("\"vault.rotate\"").count(), 2, "{log}");
        for id in ["made-on-a", "made-on-b", "after-b-rotated"] {
            assert!(log.contains(&format!("\"{id}\"")), "{id}: {log}");
        }
    }
}
