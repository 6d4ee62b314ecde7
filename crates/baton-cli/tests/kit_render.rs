//! The holders' printable kits, checked by real programs: headless Chromium renders a
//! kit and prints it to PDF, zbarimg decodes its QR code back to the exact share, the
//! SLIP-39 reference tool (`shamir recover`) rebuilds the emergency secret from the
//! printed words, and the kit's own no-baton instructions (its Python script and its
//! `age` commands, run as printed) decrypt every client file.

mod common;

use common::Env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The text of the element `<tag ... id="id">…</tag>`.
fn element(html: &str, tag: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id} in the kit"));
    let body = &html[start + id.len() + 6..];
    let end = body.find(&format!("</{tag}>")).unwrap();
    unescape(&body[..end])
}

/// The numbered words of a kit, in order.
fn kit_words(html: &str) -> String {
    let start = html.find("<ol class=\"words\">").expect("word list");
    let list = &html[start..html[start..].find("</ol>").unwrap() + start];
    list.split("<li>")
        .skip(1)
        .map(|w| w.split("</li>").next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
#[ignore = "needs chromium, zbarimg; run with --include-ignored (CI does)"]
fn kit_renders_in_chromium_and_its_qr_code_is_the_share() {
    let browser = common::need_browser_and_qr_decoder();
    let e = Env::init();
    e.cmd(&[
        "settings",
        "--owner-name",
        "Max Admin <IT>",
        "--owner-contact",
        "max@admin.example",
        "--vault-copies",
        "Nextcloud folder baton; USB stick in the office safe",
    ])
    .assert()
    .success();
    // A folder name that needs escaping in a file:// URL.
    let kits = e.dir.path().join("kits #1 100%");
    e.cmd(&[
        "emergency",
        "kits",
        "--pdf",
        "--holder",
        "anna",
        "--out-dir",
    ])
    .arg(&kits)
    .assert()
    .success();
    let kit = kits.join("anna.kit.html");
    let html = fs::read_to_string(&kit).unwrap();
    // The kit names whose vault it is (escaped), and its words are the share.
    assert!(html.contains("Max Admin &lt;IT&gt;"));
    assert!(html.contains("USB stick in the office safe"));
    assert_eq!(
        kit_words(&html),
        common::share_file_words(&kits.join("anna.txt"))
    );
    assert_eq!(
        kit_words(&html),
        common::share_file_words(&e.shares.join("anna.txt"))
    );
    let pdf = fs::read(kits.join("anna.kit.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF") && pdf.len() > 10_000, "PDF kit");
    assert!(
        !kits.join("ben.kit.html").exists(),
        "--holder anna prints anna's kit only"
    );
    assert!(
        fs::read_dir(&kits).unwrap().all(|d| !d
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".kit-print")),
        "the printing folder is removed"
    );

    let shot = e.dir.path().join("kit.png");
    common::screenshot(
        browser,
        &kit,
        &shot,
        &e.dir.path().join("profile"),
        "1000,1400",
    );
    let z = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&shot)
        .output()
        .unwrap();
    let decoded = String::from_utf8(z.stdout).unwrap();
    assert_eq!(
        decoded.trim_end(),
        common::share_file_words(&e.shares.join("anna.txt"))
    );
}

#[test]
fn kits_can_be_delivered_encrypted_to_a_holder_key() {
    let e = Env::init();
    let (anna, anna_file) = common::age_identity(&e, "anna-key.txt");
    let kits = e.dir.path().join("kits");
    // Every holder's kit, anna's encrypted (`--holder-key` is the old spelling of
    // `--holder`; both name the holders whose kits are written).
    e.cmd(&["emergency", "kits", "--out-dir"])
        .arg(&kits)
        .arg("--holder-key")
        .arg(format!("anna={}", anna.to_public()))
        .args(["--holder", "ben", "--holder", "carla"])
        .assert()
        .success();
    assert!(!kits.join("anna.kit.html").exists());
    assert!(!kits.join("anna.txt").exists());
    assert!(kits.join("ben.kit.html").exists());
    assert!(kits.join("carla.kit.html").exists());
    // The same with --holder NAME=KEY: only anna's kit, encrypted.
    let only = e.dir.path().join("only-anna");
    e.cmd(&["emergency", "kits", "--out-dir"])
        .arg(&only)
        .arg("--holder")
        .arg(format!("anna={}", anna.to_public()))
        .assert()
        .success();
    let mut names: Vec<String> = fs::read_dir(&only)
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["anna.kit.html.age", "anna.txt.age"]);
    // anna's key opens both (in-process; `interop_age.rs` has the `age` command read
    // the files baton encrypts).
    let txt = common::age_decrypt_in_process(&anna_file, &kits.join("anna.txt.age")).unwrap();
    let html = common::age_decrypt_in_process(&anna_file, &kits.join("anna.kit.html.age")).unwrap();
    let words = common::share_file_words(&e.shares.join("anna.txt"));
    assert!(String::from_utf8(txt).unwrap().contains(&words));
    assert_eq!(kit_words(&String::from_utf8(html).unwrap()), words);
    // A secret key where the public one belongs is refused before anything is written.
    let out = e
        .cmd(&["emergency", "kits", "--out-dir"])
        .arg(e.dir.path().join("kits2"))
        .arg("--holder-key")
        .arg(format!(
            "ben={}",
            age::secrecy::ExposeSecret::expose_secret(&anna.to_string())
        ))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a recipient"));
    assert!(!e.dir.path().join("kits2").exists());
}

/// The SLIP-39 reference tool (`shamir`, from `shamir-mnemonic[cli]`) beside the
/// interpreter `BATON_SLIP39_PYTHON` names, as `.ci/run` installs it; fails the test
/// otherwise.
#[track_caller]
fn need_shamir_cli() -> PathBuf {
    std::env::var("BATON_SLIP39_PYTHON")
        .ok()
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(|d| d.join("shamir")))
        .filter(|c| c.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test needs the SLIP-39 reference CLI: set BATON_SLIP39_PYTHON to a venv \
                 python with shamir-mnemonic[cli] (see .ci/run); it runs only when asked for \
                 with --include-ignored"
            )
        })
}

/// Follows the kit's "without baton" section as printed: the reference tool, the
/// kit's Python script, then its `age` loop over the client files.
#[test]
#[ignore = "needs shamir-mnemonic (BATON_SLIP39_PYTHON), age, age-keygen, python3; run with --include-ignored (CI does)"]
fn the_kits_no_baton_path_decrypts_every_client_file() {
    let shamir = need_shamir_cli();
    common::need("age", "age");
    common::need("age-keygen", "age");
    common::need("python3", "python3");
    let e = Env::init();
    e.cmd(&["client", "add", "acme", "--name", "ACME GmbH"])
        .assert()
        .success();
    let pw = e.file("pw.txt", "Kit-Path-Secret-42\n");
    e.cmd(&[
        "entry",
        "add",
        "acme",
        "db",
        "--user",
        "root",
        "--password-file",
    ])
    .arg(&pw)
    .assert()
    .success();
    let anna = fs::read_to_string(e.shares.join("anna.kit.html")).unwrap();
    let carla = fs::read_to_string(e.shares.join("carla.kit.html")).unwrap();

    // Step 1: the reference tool, with the words as printed on two kits.
    let step1 = element(&anna, "pre", "step-shamir");
    assert!(step1.contains("shamir recover"), "{step1}");
    let input = format!("{}\n{}\n", kit_words(&anna), kit_words(&carla));
    let out = common::run_with_input(Command::new(&shamir).arg("recover"), &input);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "shamir recover failed");
    let line = printed
        .lines()
        .find(|l| l.contains("Your master secret is:"))
        .expect("shamir recover prints the master secret")
        .to_string();

    // Step 2: the kit's script turns that line into an age identity.
    let work = e.dir.path().join("colleague");
    fs::create_dir(&work).unwrap();
    fs::write(work.join("age-key.py"), element(&anna, "pre", "age-key-py")).unwrap();
    let step2 = element(&anna, "pre", "step-key");
    let command = step2.split('#').next().unwrap().trim();
    let out = common::run_with_input(
        Command::new("sh").arg("-c").arg(command).current_dir(&work),
        &format!("{line}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let identity = fs::read_to_string(work.join("emergency-key.txt")).unwrap();
    assert!(identity.starts_with("AGE-SECRET-KEY-1"), "{identity}");
    let h: serde_json::Value =
        serde_json::from_slice(&fs::read(e.vault.join("vault.json")).unwrap()).unwrap();
    let out = Command::new("age-keygen")
        .arg("-y")
        .arg(work.join("emergency-key.txt"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        h["recipients"]["emergency"].as_str().unwrap()
    );

    // Step 3: the kit's loop over the client files, with the vault folder filled in.
    let step3 =
        element(&anna, "pre", "step-decrypt").replace("VAULT", &e.vault.display().to_string());
    let status = Command::new("sh")
        .arg("-c")
        .arg(&step3)
        .current_dir(&work)
        .status()
        .unwrap();
    assert!(status.success(), "{step3}");
    let found = fs::read_dir(work.join("plain"))
        .unwrap()
        .map(|d| fs::read_to_string(d.unwrap().path()).unwrap())
        .any(|json| {
            json.contains("\"format\":\"baton-client\"")
                && json.contains("ACME GmbH")
                && json.contains("Kit-Path-Secret-42")
        });
    assert!(found, "a decrypted client file holds acme's password");
}
