//! Every error a user can cause, pinned: the exact stderr (`baton: error:` and
//! `baton: hint:` lines) and the exit code (STYLE.md#6). One case per error; the texts
//! live in `src/msg.rs`. The vault's temporary folder is written as `[DIR]`.

mod common;

use std::process::Output;

use common::Env;

/// Stderr of a command that opened the test vault (made with --insecure-test-kdf),
/// which warns about that first.
macro_rules! kdf {
    ($stderr:literal) => {
        concat!(
            "baton: warning: this vault uses the insecure test key derivation; do not store real secrets in it\n",
            $stderr
        )
    };
}

/// A valid age recipient (from the age specification's examples).
const AGE: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

/// How a case runs baton.
#[derive(Clone, Copy)]
enum How {
    /// `--vault V --passphrase-file P ARGS`.
    Vault,
    /// `ARGS` alone: no vault, no passphrase file, no BATON_* variables.
    Bare,
    /// Like `Vault`, without a controlling terminal (`setsid`): nobody to confirm.
    Detached,
    /// Like `Vault`, with stdout on a terminal (`script`).
    Terminal,
}

struct Case {
    args: &'static [&'static str],
    how: How,
    code: i32,
    stderr: &'static str,
}

const fn case(args: &'static [&'static str], code: i32, stderr: &'static str) -> Case {
    Case {
        args,
        how: How::Vault,
        code,
        stderr,
    }
}

const fn bare(args: &'static [&'static str], code: i32, stderr: &'static str) -> Case {
    Case {
        args,
        how: How::Bare,
        code,
        stderr,
    }
}

/// A vault (anna, ben, carla; 2 of 3) with client acme, entry acme/ssh (a password and
/// an attachment `key`), and files the cases refer to by name.
fn fixture() -> Env {
    let e = Env::init();
    e.cmd(&["client", "add", "acme", "--name", "ACME"])
        .assert()
        .success();
    let pw = e.file("pw.txt", "hunter2-but-longer\n");
    e.cmd(&[
        "entry",
        "add",
        "acme",
        "ssh",
        "--kind",
        "ssh",
        "--password-file",
    ])
    .arg(&pw)
    .assert()
    .success();
    let key = e.file("key", "ssh key text\n");
    e.cmd(&["entry", "attach", "acme", "ssh"])
        .arg(&key)
        .assert()
        .success();
    e.file("wrong-pass.txt", "not the passphrase\n");
    e.file("not-an-identity.txt", "hello\n");
    e.file("totp.txt", "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQ\n");
    e.file("share1.txt", "academic acid\n");
    e.file("share2.txt", "academic acid\n");
    e
}

/// Runs every case; returns a description of each mismatch.
fn run(e: &Env, cases: &[Case]) -> Vec<String> {
    let dir = e.dir.path().display().to_string();
    let mut failed = Vec::new();
    for c in cases {
        // Arguments may name fixture files as [DIR]/NAME.
        let args: Vec<String> = c.args.iter().map(|a| a.replace("[DIR]", &dir)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out: Output = match c.how {
            How::Vault => e.cmd(&args).output().unwrap(),
            How::Detached => e.cmd_detached(&args).output().unwrap(),
            How::Bare => assert_cmd::Command::cargo_bin("baton")
                .unwrap()
                .env_remove("BATON_VAULT")
                .env_remove("BATON_PASSPHRASE_FILE")
                .env_remove("BATON_IDENTITY")
                .env("XDG_STATE_HOME", e.dir.path().join("state"))
                .args(&args)
                .output()
                .unwrap(),
            How::Terminal => terminal(e, &args),
        };
        let stderr = check_codes(
            &String::from_utf8_lossy(&out.stderr)
                .replace("\r\n", "\n")
                .replace(&dir, "[DIR]"),
        );
        let code = out.status.code().unwrap_or(-1);
        if stderr != c.stderr || code != c.code {
            failed.push(format!(
                "baton {}\n  expected exit {}:\n{}\n  got exit {code}:\n{stderr}",
                c.args.join(" "),
                c.code,
                c.stderr
            ));
        }
    }
    failed
}

/// Share check codes differ from vault to vault: written as `[CHECK]`.
fn check_codes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("check code ") {
        let (head, tail) = rest.split_at(i + "check code ".len());
        out.push_str(head);
        out.push_str("[CHECK]");
        rest = tail.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-');
    }
    out.push_str(rest);
    out
}

/// `baton --vault V --passphrase-file P ARGS` with stdout (and stderr) on a terminal,
/// through `script`; what the terminal showed is returned as stderr.
fn terminal(e: &Env, args: &[&str]) -> Output {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = vec![
        quote(&assert_cmd::cargo::cargo_bin("baton").display().to_string()),
        "--vault".into(),
        quote(&e.vault.display().to_string()),
        "--passphrase-file".into(),
        quote(&e.pass_file.display().to_string()),
    ];
    line.extend(args.iter().map(|a| quote(a)));
    let out = std::process::Command::new("script")
        .args(["-qefc", &line.join(" "), "/dev/null"])
        .env_remove("BATON_VAULT")
        .env_remove("BATON_PASSPHRASE_FILE")
        .env("XDG_STATE_HOME", e.dir.path().join("state"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    Output {
        status: out.status,
        stdout: vec![],
        stderr: out.stdout,
    }
}

fn assert_all(e: &Env, cases: &[Case]) {
    let failed = run(e, cases);
    assert!(
        failed.is_empty(),
        "{} of {} cases differ:\n\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// Mistakes clap finds before baton reads anything: exit 2, baton's form.
#[test]
fn usage_errors_from_the_flag_definitions() {
    let e = Env::new();
    let cases = [
        bare(
            &[],
            2,
            "baton: error: 'baton' needs a command\nbaton: hint: 'baton --help' lists the commands; 'baton demo' shows them all on a throwaway vault\n",
        ),
        bare(
            &["xyzzy"],
            2,
            "baton: error: unknown command 'baton xyzzy'\nbaton: hint: 'baton --help' lists the commands\n",
        ),
        bare(
            &["lsit"],
            2,
            "baton: error: unknown command 'baton lsit'\nbaton: hint: did you mean 'baton list'?\n",
        ),
        bare(
            &["client"],
            2,
            "baton: error: 'baton client' needs a command\nbaton: hint: one of: add, edit, set-recipient, end, reopen, set, rm\n",
        ),
        bare(
            &["list", "--bogus"],
            2,
            "baton: error: unexpected argument '--bogus'\nbaton: hint: 'baton list --help' lists what it takes\n",
        ),
        bare(
            &["init", "--out-dri", "x"],
            2,
            "baton: error: unexpected argument '--out-dri'\nbaton: hint: did you mean '--out-dir'?\n",
        ),
        bare(
            &["init", "--holders", "a,b", "-t", "2"],
            2,
            "baton: error: 'baton init' needs --out-dir <DIR>\nbaton: hint: usage: baton init --out-dir <DIR> --holders <NAMES> --threshold <T>\n",
        ),
        bare(
            &["init", "--holders", "a,b", "--out-dir", "x"],
            2,
            "baton: error: 'baton init' needs -t/--threshold <T>\nbaton: hint: usage: baton init --out-dir <DIR> --holders <NAMES> --threshold <T>\n",
        ),
        bare(
            &["get"],
            2,
            "baton: error: 'baton get' needs <CLIENT/ENTRY>\nbaton: hint: usage: baton get <CLIENT/ENTRY>\n",
        ),
        bare(
            &["takeover", "--holders", "a", "-t", "1"],
            2,
            "baton: error: 'baton takeover' needs --owner-name <NAME> and --out-dir <DIR>\nbaton: hint: usage: baton takeover --owner-name <NAME> --out-dir <DIR> --holders <NAMES> --threshold <T>\n",
        ),
        bare(
            &["entry", "add", "acme", "x", "--kind"],
            2,
            "baton: error: --kind needs a value\nbaton: hint: use one of: server, ssh, panel, domain, dns, database, cms, mail, api, other\n",
        ),
        bare(
            &["purge", "--confirm", "--yes"],
            2,
            "baton: error: --yes was given more than once\nbaton: hint: give it once\n",
        ),
        bare(
            &["generate", "--length"],
            2,
            "baton: error: --length needs a value\nbaton: hint: write it as --length <N>\n",
        ),
        bare(
            &["generate", "--length", "0"],
            2,
            "baton: error: invalid --length: 0 is out of range\nbaton: hint: give a number from 12 to 256\n",
        ),
        bare(
            &["generate", "--words", "100"],
            2,
            "baton: error: invalid --words: 100 is out of range\nbaton: hint: give a number from 4 to 32\n",
        ),
        bare(
            &["generate", "--words", "many"],
            2,
            "baton: error: invalid --words: 'many' is not a whole number\nbaton: hint: give a number from 4 to 32\n",
        ),
        bare(
            &["generate", "--length", "20", "--words", "5"],
            2,
            "baton: error: --length cannot be used with --words\nbaton: hint: --words makes a passphrase of words, --length a password of characters: give one of them\n",
        ),
        bare(
            &["generate", "--words", "5", "--words", "6"],
            2,
            "baton: error: --words was given more than once\nbaton: hint: give it once\n",
        ),
        bare(
            &["init", "--holders", "a,b", "-t", "0", "--out-dir", "x"],
            2,
            "baton: error: invalid -t/--threshold: 0 is out of range\nbaton: hint: give a number from 1 to 16\n",
        ),
        bare(
            &[
                "init",
                "--policy",
                "1 of a",
                "--holders",
                "a",
                "-t",
                "1",
                "--out-dir",
                "x",
            ],
            2,
            "baton: error: --policy cannot be used with --holders or -t/--threshold\nbaton: hint: give the holders as --holders NAMES -t/--threshold N, or as --policy \"2 of anna,ben,carla\", not both\n",
        ),
        bare(
            &[
                "init",
                "--holders",
                "a,b",
                "-t",
                "1",
                "--out-dir",
                "x",
                "--holder",
                "a",
            ],
            2,
            "baton: error: invalid --holder: 'a' names no key\nbaton: hint: every holder gets a kit here; --holder NAME=RECIPIENT encrypts one of them, for example --holder \"a=age1...\"\n",
        ),
        bare(
            &[
                "init",
                "--holders",
                "a,b",
                "-t",
                "1",
                "--out-dir",
                "x",
                "--holder-key",
                "a=AGE-SECRET-KEY-1XYZ",
            ],
            2,
            "baton: error: invalid --holder: the key of a: this is an age identity (a secret key), not a recipient\nbaton: hint: give the holder's public key: an age recipient (age1...) or an SSH public key line (ssh-ed25519 or ssh-rsa)\n",
        ),
        bare(
            &["entry", "add", "acme", "x", "--kind", "spaceship"],
            2,
            "baton: error: unknown --kind value 'spaceship'\nbaton: hint: use one of: server, ssh, panel, domain, dns, database, cms, mail, api, other\n",
        ),
        bare(
            &["entry", "add", "acme", "x", "--kind", "sever"],
            2,
            "baton: error: unknown --kind value 'sever'\nbaton: hint: did you mean 'server'? use one of: server, ssh, panel, domain, dns, database, cms, mail, api, other\n",
        ),
        bare(
            &["entry", "add", "acme", "x", "--generate", "--length", "8"],
            2,
            "baton: error: invalid --length: 8 is out of range\nbaton: hint: give a number from 12 to 256\n",
        ),
        bare(
            &["entry", "add", "acme", "x", "--length", "30"],
            2,
            "baton: error: 'baton entry add' needs --generate\nbaton: hint: usage: baton entry add --generate --length <N> <CLIENT> <NAME>\n",
        ),
        bare(
            &[
                "entry",
                "add",
                "acme",
                "x",
                "--password-file",
                "f",
                "--generate",
            ],
            2,
            "baton: error: --password-file cannot be used with --generate\nbaton: hint: the password comes from one place: a file, the terminal (--password-prompt) or --generate\n",
        ),
        bare(
            &["entry", "edit", "acme", "x", "--clear-totp", "--totp", "f"],
            2,
            "baton: error: --clear-totp cannot be used with --totp\nbaton: hint: --clear-totp removes the TOTP seed; to replace it, give --totp FILE alone\n",
        ),
        bare(
            &["get", "acme/ssh", "--field", "pin"],
            2,
            "baton: error: unknown --field value 'pin'\nbaton: hint: use one of: password, user, url, note, totp\n",
        ),
        bare(
            &["get", "acme/ssh", "--attachment", "key", "--json"],
            2,
            "baton: error: --attachment cannot be used with --json\nbaton: hint: --json prints the whole entry; --attachment prints one file\n",
        ),
        bare(
            &["client", "end", "acme", "--date", "2026-13-01"],
            2,
            "baton: error: invalid --date: '2026-13-01' is not a date\nbaton: hint: write it as YYYY-MM-DD, for example 2026-11-30\n",
        ),
        bare(
            &["client", "set", "acme", "--retain-until", "tomorrow"],
            2,
            "baton: error: invalid --retain-until: 'tomorrow' is not a date\nbaton: hint: write it as YYYY-MM-DD, for example 2026-11-30\n",
        ),
        bare(
            &["client", "set", "acme", "--hold", "audit", "--no-hold"],
            2,
            "baton: error: --hold cannot be used with --no-hold\nbaton: hint: set a legal hold with --hold REASON, or lift it with --no-hold\n",
        ),
        bare(
            &["client", "set", "acme", "--dpa-ref", "AVV-1"],
            2,
            "baton: error: 'baton client set' needs --dpa <DECISION>\nbaton: hint: usage: baton client set --dpa <DECISION> --dpa-ref <REF> <ID>\n",
        ),
        bare(
            &["client", "set-recipient", "acme", AGE, "--clear"],
            2,
            "baton: error: RECIPIENT cannot be used with --clear\nbaton: hint: --clear removes every stored key; to replace them, give the new keys without --clear\n",
        ),
        bare(
            &["settings", "--rotate-every", "121"],
            2,
            "baton: error: invalid --rotate-every: 121 is out of range\nbaton: hint: give a number from 0 to 120\n",
        ),
        bare(
            &["settings", "--retention-months", "-1"],
            2,
            "baton: error: unexpected argument '-1'\nbaton: hint: 'baton settings --help' lists what it takes\n",
        ),
        bare(
            &["status", "--check", "--json"],
            2,
            "baton: error: --check cannot be used with --json\nbaton: hint: --check prints nothing and answers with its exit code; --json prints the whole status\n",
        ),
        bare(
            &["status", "--verify"],
            2,
            "baton: error: 'baton status' needs --check\nbaton: hint: usage: baton status --check --verify\n",
        ),
        bare(
            &["rotate", "--resume", "--abort"],
            2,
            "baton: error: --resume cannot be used with --abort\nbaton: hint: finish the interrupted rotation with --resume, or undo it with --abort\n",
        ),
        bare(
            &["rotate", "--resume", "--emergency", "--out-dir", "x"],
            2,
            "baton: error: --resume cannot be used with --emergency\nbaton: hint: --resume finishes the interrupted rotation as it was started; start a new rotation with --emergency after it\n",
        ),
        bare(
            &["rotate", "--emergency"],
            2,
            "baton: error: 'baton rotate' needs --out-dir <DIR>\nbaton: hint: usage: baton rotate --out-dir <DIR> --emergency\n",
        ),
        bare(
            &["rotate", "--yes"],
            2,
            "baton: error: 'baton rotate' needs --resume\nbaton: hint: usage: baton rotate --resume --yes\n",
        ),
        bare(
            &["emergency", "reissue"],
            2,
            "baton: error: 'baton emergency reissue' needs --out-dir <DIR>\nbaton: hint: usage: baton emergency reissue --out-dir <DIR>\n",
        ),
        bare(
            &[
                "emergency",
                "add-holder",
                "dora",
                "--group",
                "0",
                "--out-dir",
                "x",
            ],
            2,
            "baton: error: invalid --group: 0 is out of range\nbaton: hint: give a number from 1 to 16\n",
        ),
        bare(
            &["export", "acme", "--all", "--out-dir", "x"],
            2,
            "baton: error: CLIENT cannot be used with --all\nbaton: hint: export one client by name, or every client with --all\n",
        ),
        bare(
            &["export", "acme", "--passphrase", "--to", AGE],
            2,
            "baton: error: --passphrase cannot be used with --to\nbaton: hint: a package is locked either with a generated passphrase or to public keys (--to, --to-ssh-key)\n",
        ),
        bare(
            &["gdpr", "report", "acme", "--lang", "fr"],
            2,
            "baton: error: unknown --lang value 'fr'\nbaton: hint: use one of: de, en\n",
        ),
        bare(
            &["completions", "fish2"],
            2,
            "baton: error: unknown SHELL value 'fish2'\nbaton: hint: did you mean 'fish'? use one of: bash, elvish, fish, powershell, zsh\n",
        ),
    ];
    assert_all(&e, &cases);
}

/// Mistakes baton finds itself, before or after opening the vault, and what the vault
/// refuses.
#[test]
fn errors_a_command_reports() {
    let e = fixture();
    let cases = [
        // Where the vault is and how it opens.
        bare(
            &["list"],
            2,
            "baton: error: no vault given\nbaton: hint: give the vault folder with --vault DIR or BATON_VAULT\n",
        ),
        bare(
            &["--vault", "[DIR]/nowhere", "list"],
            1,
            "baton: error: no vault at [DIR]/nowhere (vault.json not found)\nbaton: hint: create one with 'baton init', or point --vault / BATON_VAULT at an existing vault\n",
        ),
        bare(
            &[
                "--vault",
                "[DIR]/vault",
                "--passphrase-file",
                "[DIR]/wrong-pass.txt",
                "list",
            ],
            3,
            kdf!(
                "baton: error: wrong passphrase\nbaton: hint: passphrases are case-sensitive; nothing was changed\n"
            ),
        ),
        bare(
            &[
                "--vault",
                "[DIR]/vault",
                "--passphrase-file",
                "[DIR]/missing.txt",
                "list",
            ],
            1,
            kdf!(
                "baton: error: cannot open the file given to --passphrase-file: entity not found\nbaton: hint: --passphrase-file takes the path of a file that holds the secret, not the secret itself\n"
            ),
        ),
        case(
            &["--identity", "[DIR]/not-an-identity.txt", "list"],
            1,
            kdf!(
                "baton: error: the file given to --identity holds no age identity (AGE-SECRET-KEY-1...)\nbaton: hint: use the emergency-key.txt that 'baton recover' wrote\n"
            ),
        ),
        // Clients and entries.
        case(
            &["show", "nope"],
            1,
            kdf!("baton: error: no client 'nope'\nbaton: hint: 'baton list' shows the clients\n"),
        ),
        case(
            &["client", "add", "acme"],
            1,
            kdf!(
                "baton: error: client 'acme' already exists\nbaton: hint: choose another name, or use 'edit'\n"
            ),
        ),
        case(
            &["client", "add", "Bad Name"],
            2,
            kdf!(
                "baton: error: 'Bad Name' is not a valid name (1-64 characters a-z 0-9 . _ -, starting with a letter or digit)\nbaton: hint: for example 'acme' or 'acme-gmbh'; the display name (--name) may be anything\n"
            ),
        ),
        case(
            &["get", "acme/nope"],
            1,
            kdf!(
                "baton: error: client 'acme' has no entry 'nope'\nbaton: hint: 'baton show acme' lists its entries\n"
            ),
        ),
        case(
            &["entry", "add", "acme", "ssh"],
            1,
            kdf!(
                "baton: error: client 'acme' already has an entry 'ssh'\nbaton: hint: choose another name, or use 'edit'\n"
            ),
        ),
        case(
            &["get", "acme"],
            2,
            "baton: error: 'acme' is not CLIENT/ENTRY\nbaton: hint: for example: acme/ssh-root ('baton show CLIENT' lists the entries)\n",
        ),
        case(
            &["get", "acme/ssh", "--field", "totp"],
            1,
            kdf!(
                "baton: error: acme/ssh has no totp\nbaton: hint: set it with 'baton entry edit acme ssh --totp FILE'\n"
            ),
        ),
        case(
            &["get", "acme/ssh", "--attachment", "nope"],
            1,
            kdf!(
                "baton: error: acme/ssh has no attachment 'nope'\nbaton: hint: 'baton show acme' lists the attachments\n"
            ),
        ),
        case(
            &["entry", "detach", "acme", "ssh", "nope"],
            1,
            kdf!(
                "baton: error: invalid value: entry 'ssh' has no attachment 'nope'\nbaton: hint: 'baton show CLIENT' lists the attachments of each entry\n"
            ),
        ),
        case(
            &["client", "reopen", "acme"],
            1,
            kdf!(
                "baton: error: invalid value: client 'acme' has not ended\nbaton: hint: 'baton client end acme' records the end of a contract\n"
            ),
        ),
        case(
            &["otp", "acme/ssh"],
            1,
            kdf!(
                "baton: error: acme/ssh has no TOTP seed\nbaton: hint: add one with 'baton entry edit acme ssh --totp FILE'\n"
            ),
        ),
        case(
            &["search", "zzz"],
            1,
            kdf!(
                "baton: error: nothing matches 'zzz'\nbaton: hint: search looks at client and entry names, URLs, users, notes and tags; 'baton list' shows every client\n"
            ),
        ),
        case(
            &[
                "entry",
                "add",
                "acme",
                "x",
                "--totp",
                "otpauth://totp/x?secret=GEZDGNBV",
            ],
            2,
            "baton: error: --totp takes a file that holds the otpauth:// URI, not the URI itself\nbaton: hint: the URI contains the TOTP secret and would be visible to other users in the process list: put it in a file, or pass '--totp -' and paste it on stdin\n",
        ),
        case(
            &["entry", "attach", "acme", "ssh", "/"],
            2,
            "baton: error: the attachment path has no file name\nbaton: hint: give one with --as NAME\n",
        ),
        case(
            &["client", "set", "acme", "--dpa", "maybe"],
            2,
            "baton: error: unknown --dpa value 'maybe'\nbaton: hint: use signed:YYYY-MM-DD, signed, none, not-needed or unknown\n",
        ),
        case(
            &["client", "set", "acme", "--dpa", "signed:2024-3-1"],
            2,
            "baton: error: '2024-3-1' is not a date\nbaton: hint: write --dpa signed:YYYY-MM-DD, for example signed:2024-03-01\n",
        ),
        Case {
            args: &["client", "rm", "acme"],
            how: How::Detached,
            code: 1,
            stderr: kdf!(
                "baton: error: not confirmed; nothing was removed\nbaton: hint: pass --yes to remove without asking\n"
            ),
        },
        Case {
            args: &["get", "acme/ssh"],
            how: How::Terminal,
            code: 2,
            stderr: kdf!(
                "baton: error: refusing to print a secret to the terminal\nbaton: hint: pass --show to display it, or pipe the output (baton get ... | wl-copy)\n"
            ),
        },
        // Export.
        case(
            &["export", "acme", "--format", "html", "--to", AGE],
            2,
            "baton: error: --format html writes an unencrypted sheet; it takes no recipients\nbaton: hint: drop --to/--to-ssh-key/--passphrase, or use --format age\n",
        ),
        case(
            &[
                "export",
                "--all",
                "--format",
                "kdbx",
                "--out-dir",
                "[DIR]/all",
            ],
            2,
            "baton: error: --all exports encrypted packages only\nbaton: hint: export sheets one client at a time with --format html\n",
        ),
        case(
            &["export", "acme", "--to", "age1nope"],
            2,
            "baton: error: recipient 1 of 1: not a valid age recipient (age1…)\nbaton: hint: give the client's public key: an age recipient (age1…) or an SSH public key (.pub file, ssh-ed25519 or ssh-rsa)\n",
        ),
        case(
            &[
                "export",
                "acme",
                "--passphrase",
                "-o",
                "[DIR]/vault/acme.age",
            ],
            1,
            "baton: error: the export file must not be inside the vault\nbaton: hint: choose a file or folder outside the vault folder (which may sync, and whose cleanup removes files it does not know)\n",
        ),
        case(
            &["export", "--all", "--out-dir", "[DIR]/vault/all"],
            1,
            "baton: error: the export folder must not be inside the vault (or contain it)\nbaton: hint: choose a file or folder outside the vault folder (which may sync, and whose cleanup removes files it does not know)\n",
        ),
        case(
            &["export", "acme", "-o", "[DIR]/acme.age"],
            1,
            kdf!(
                "baton: error: client 'acme' has no package recipient\nbaton: hint: store the client's key with 'baton client set-recipient acme age1…', or use --to, --to-ssh-key or --passphrase\n"
            ),
        ),
        // Holders, kits and shares.
        case(
            &["init", "--out-dir", "[DIR]/kits2"],
            2,
            "baton: error: who holds the emergency key?\nbaton: hint: --holders anna,ben,carla -t 2, or --policy \"2 of anna,ben,carla; 1 of notary,spouse\"\n",
        ),
        case(
            &[
                "init",
                "--holders",
                "anna,anna",
                "-t",
                "1",
                "--out-dir",
                "[DIR]/kits2",
            ],
            2,
            "baton: error: holder \"anna\" is named twice\nbaton: hint: every holder is named once, in one group\n",
        ),
        case(
            &[
                "init",
                "--holders",
                "anna,ben",
                "-t",
                "3",
                "--out-dir",
                "[DIR]/kits2",
            ],
            2,
            "baton: error: a group needs 3 of 2 holders, which is impossible\nbaton: hint: each group needs between 1 and all of its holders (-t/--threshold, or the number before 'of')\n",
        ),
        case(
            &[
                "emergency",
                "kits",
                "--out-dir",
                "[DIR]/kits2",
                "--holder",
                "anna",
                "--holder-key",
                "anna=age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
            ],
            2,
            kdf!(
                "baton: error: --holder names anna twice\nbaton: hint: name each holder once: --holder NAME or --holder NAME=RECIPIENT\n"
            ),
        ),
        case(
            &[
                "emergency",
                "kits",
                "--out-dir",
                "[DIR]/kits2",
                "--holder",
                "dora",
            ],
            2,
            kdf!(
                "baton: error: --holder names dora, who holds no share\nbaton: hint: the holders are: anna, ben, carla\n"
            ),
        ),
        case(
            &["emergency", "kits", "--out-dir", "[DIR]/vault/kits"],
            1,
            kdf!(
                "baton: error: the kit folder must not be inside the vault (or contain it)\nbaton: hint: choose a folder on a local, unsynced (preferably encrypted) disk\n"
            ),
        ),
        case(
            &["emergency", "kits", "--out-dir", "[DIR]"],
            1,
            kdf!(
                "baton: error: the kit folder must not be inside the vault (or contain it)\nbaton: hint: choose a folder on a local, unsynced (preferably encrypted) disk\n"
            ),
        ),
        case(
            &[
                "emergency",
                "add-holder",
                "dora",
                "--out-dir",
                "[DIR]/shares",
            ],
            1,
            "baton: error: kit folder [DIR]/shares exists and is not empty\nbaton: hint: choose a new folder\n",
        ),
        case(
            &["rotate", "--holders", "a,b", "-t", "2"],
            2,
            "baton: error: --holders needs --emergency\nbaton: hint: new holders or kits mean a new emergency key: 'baton rotate --emergency --out-dir DIR' or 'baton emergency reissue --out-dir DIR'\n",
        ),
        case(
            &[
                "takeover",
                "--owner-name",
                "Erika",
                "--out-dir",
                "[DIR]/new",
            ],
            2,
            "baton: error: a takeover needs the new holders\nbaton: hint: --policy \"2 of anna,ben,carla\" or --holders anna,ben,carla -t 2\n",
        ),
        case(
            &[
                "emergency",
                "check-share",
                "--share-file",
                "[DIR]/share1.txt",
                "--share-file",
                "[DIR]/share2.txt",
            ],
            2,
            "baton: error: check-share checks one share at a time\nbaton: hint: give one --share-file FILE; check the other shares one by one\n",
        ),
        bare(
            &[
                "emergency",
                "check-share",
                "--vault-id",
                "xyz",
                "--share-file",
                "[DIR]/share1.txt",
            ],
            2,
            "baton: error: --vault-id takes the 32 hex digits of the vault id\nbaton: hint: the kit prints it under the title\n",
        ),
        bare(
            &[
                "emergency",
                "check-share",
                "--share-file",
                "[DIR]/share1.txt",
            ],
            2,
            "baton: error: no vault given\nbaton: hint: without a copy of the vault, give the vault id printed on the kit: --vault-id ID\n",
        ),
        case(
            &[
                "emergency",
                "drill",
                "--share-file",
                "[DIR]/shares/anna.txt",
            ],
            3,
            "baton: share file [DIR]/shares/anna.txt: accepted (share 1, check code [CHECK]), 1 of 2 shares given\nbaton: error: not enough shares: 1 of 2 shares given\nbaton: hint: the emergency key needs shares from more holders (see the kits: 'who is needed')\n",
        ),
    ];
    assert_all(&e, &cases);
}

/// Errors of a vault in a state: a rotation running in another process, a damaged
/// audit log under a write.
#[test]
fn errors_of_a_busy_or_damaged_vault() {
    let e = fixture();
    std::fs::write(e.vault.join("rotation.g2.age"), b"").unwrap();
    let held = baton::fs::WriteLock::try_acquire(&e.vault)
        .unwrap()
        .unwrap();
    assert_all(
        &e,
        &[
            case(
                &["list"],
                5,
                kdf!(
                    "baton: error: a rotation to generation 2 is in progress; try again when it finishes\nbaton: hint: another baton command is rotating the keys and holds the vault's lock; nothing needs to be done\n"
                ),
            ),
            case(
                &["client", "add", "late"],
                5,
                kdf!(
                    "baton: error: a rotation to generation 2 is in progress; try again when it finishes\nbaton: hint: another baton command is rotating the keys and holds the vault's lock; nothing needs to be done\n"
                ),
            ),
            case(
                &["status", "--check"],
                5,
                "baton: error: a rotation to generation 2 is in progress; try again when it finishes\nbaton: hint: another baton command is rotating the keys and holds the vault's lock; nothing needs to be done\n",
            ),
        ],
    );
    drop(held);
    std::fs::remove_file(e.vault.join("rotation.g2.age")).unwrap();
    std::fs::remove_file(common::record_file(&e.vault, 2)).unwrap();
    assert_all(
        &e,
        &[case(
            &["client", "add", "late"],
            4,
            kdf!(
                "baton: error: the audit log is broken (audit record 2 is missing); no change is written on top of it\nbaton: hint: 'baton audit --verify' names every damaged record; if another device has just rotated the keys, wait until the sync is done and try again; otherwise put the record files back from a backup you trust, then run the command again\n"
            ),
        )],
    );
}

/// The old spellings still work but stay out of `--help`; completions offer the kinds;
/// `--help` documents the exit codes.
#[test]
fn aliases_are_hidden_and_help_documents_exit_codes() {
    let e = Env::new();
    let help = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("baton")
            .unwrap()
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?} --help");
        String::from_utf8(out.stdout).unwrap()
    };
    let top = help(&[]);
    assert!(top.contains("Exit codes:"), "{top}");
    assert!(top.contains("2   usage error"), "{top}");
    for (args, hidden, shown) in [
        (&["init"][..], "shares-out", "--out-dir"),
        (&["rotate"][..], "shares-out", "--out-dir"),
        (&["takeover"][..], "shares-out", "--out-dir"),
        (&["purge"][..], "--confirm", "--yes"),
        (&["emergency", "kits"][..], "holder-key", "--holder"),
        (&["init"][..], "holder-key", "--holder"),
    ] {
        let h = help(args);
        assert!(!h.contains(hidden), "{args:?} --help shows {hidden}:\n{h}");
        assert!(h.contains(shown), "{args:?} --help lacks {shown}:\n{h}");
    }
    let reissue = help(&["emergency", "reissue"]);
    let rotate = help(&["rotate"]);
    for flag in [
        "--holders",
        "--threshold",
        "--policy",
        "--out-dir",
        "--holder",
        "--pdf",
    ] {
        assert!(reissue.contains(flag) && rotate.contains(flag), "{flag}");
    }
    let version = assert_cmd::Command::cargo_bin("baton")
        .unwrap()
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(version.status.code(), Some(0));
    let completions = e.stdout(&["completions", "bash"]);
    assert!(
        completions.contains("server ssh panel domain dns database cms mail api other"),
        "bash completions do not offer the entry kinds"
    );
}
