//! The committed reference vault (`tests/data/reference-vault/`, see its README) pins
//! the format (docs/format.md): it was written once by baton and must keep opening,
//! with exactly the same contents, for the owner's passphrase and for the emergency
//! key rebuilt from two holders' share files. A reader that changes incompatibly
//! fails here, not in a user's vault.
//!
//! Only the crate-root API is used (plus `baton::slip39`, the SLIP-39 module the spec
//! names), and the expected values of typed fields are compared in their serialized
//! form, which is the format itself.

mod common;

use common::copy_tree;
use std::fs;
use std::path::{Path, PathBuf};

use baton::{Access, EmergencySecret, EntryKind, Passphrase, UnlockError, Vault};
use serde_json::{Value, json};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// Fixed by the committed `vault/vault.json`.
const VAULT_ID: &str = "f2e96f3ab09909ca83f35d032e9d2ca9";
const SHARE_SET: &str = "4380";

/// A copy of the committed vault in a fresh temporary folder, so that no test (and no
/// lock file) ever touches the checked-out files.
struct Scratch {
    _dir: tempfile::TempDir,
    vault: PathBuf,
}

fn reference_vault() -> Scratch {
    let committed = Path::new(DATA).join("reference-vault/vault");
    // Part of the repository: a missing folder is a broken checkout, never a skip.
    assert!(
        committed.join("vault.json").is_file(),
        "the reference vault is missing: {}; restore tests/data/ from git",
        committed.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    copy_tree(&committed, &vault);
    Scratch { _dir: dir, vault }
}

/// The owner passphrase: the first line of the committed passphrase file, as
/// `baton --passphrase-file` reads it.
fn passphrase() -> Passphrase {
    let text = fs::read_to_string(Path::new(DATA).join("reference-vault.passphrase")).unwrap();
    Passphrase::new(text.lines().next().unwrap_or_default().to_owned())
}

/// The words of a holder's committed share file (lines starting with # are comments).
fn share_words(holder: &str) -> String {
    let file = Path::new(DATA).join(format!("reference-vault/shares/{holder}.txt"));
    fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The emergency secret rebuilt from the named holders' share files.
fn emergency_secret(holders: &[&str]) -> EmergencySecret {
    let words: Vec<String> = holders.iter().map(|h| share_words(h)).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let secret = baton::slip39::combine_strs(&words, b"").expect("the shares combine");
    EmergencySecret::from_bytes(&secret).expect("a 32-byte emergency secret")
}

fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap()
}

/// Everything the vault holds, checked value by value; the same for every key that
/// opens it.
fn check_contents(v: &Vault) {
    assert_eq!(v.header().format, "baton-vault");
    assert_eq!(v.header().version, 2);
    assert_eq!(v.header().vault_id, VAULT_ID);
    assert_eq!(v.header().generation, 1);
    let index = to_json(v.index());
    assert_eq!(index["revision"], 10);
    assert_eq!(index["share_set"]["id"], SHARE_SET);
    assert_eq!(index["share_set"]["group_threshold"], 1);
    assert_eq!(
        index["share_set"]["groups"],
        json!([{"threshold": 2, "count": 3}])
    );
    assert_eq!(
        index["holders"],
        json!([
            {"name": "anna", "group": 0, "member": 0},
            {"name": "ben", "group": 0, "member": 1},
            {"name": "carla", "group": 0, "member": 2},
        ])
    );
    assert_eq!(index["owner"]["name"], "Max Admin");
    assert_eq!(index["owner"]["contact"], "max@admin.example");

    // The catalog (its own shard files) lists both clients and their entries.
    let catalog = v.catalog().expect("the catalog reads");
    let listed: Vec<(&str, &str, Vec<&str>)> = catalog
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                c.name.as_str(),
                c.entries.iter().map(|e| e.name.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("acme", "ACME GmbH", vec!["ssh-root", "registrar"]),
            ("beispiel", "Beispiel & Söhne KG", vec!["mail"]),
        ]
    );

    let acme = v.client("acme").expect("acme reads");
    assert_eq!(acme.id, "acme");
    assert_eq!(acme.name, "ACME GmbH");
    assert_eq!(acme.contact, "it@acme.example");
    assert_eq!(
        to_json(&acme.lifecycle),
        json!({"dpa": {"status": "signed", "date": "2024-03-01", "reference": "AVV-2024-07"}})
    );
    let names: Vec<&str> = acme.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["ssh-root", "registrar"]);

    let ssh = acme.entry("ssh-root").unwrap();
    assert_eq!(ssh.kind, EntryKind::Server);
    assert_eq!(ssh.url, "ssh://203.0.113.7");
    assert_eq!(ssh.user, "root");
    assert_eq!(
        ssh.password.as_ref().map(|p| p.expose()),
        Some("Ref-Root-Password-1!")
    );
    assert!(ssh.totp.is_none());
    assert_eq!(ssh.attachments.len(), 1);
    assert_eq!(ssh.attachments[0].name, "acme_ed25519");
    assert_eq!(
        ssh.attachments[0].data.expose(),
        b"not a real key: reference vault test data\n"
    );

    let registrar = acme.entry("registrar").unwrap();
    assert_eq!(registrar.kind, EntryKind::Domain);
    assert_eq!(registrar.url, "https://registrar.example");
    assert_eq!(registrar.user, "acme");
    assert_eq!(
        registrar.password.as_ref().map(|p| p.expose()),
        Some("Ref-Registrar-Pw-2")
    );
    // The RFC 6238 test seed ("12345678901234567890").
    assert_eq!(
        registrar.totp.as_ref().map(|t| t.expose()),
        Some(
            "otpauth://totp/Registrar:acme?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Registrar"
        )
    );
    assert_eq!(registrar.note, "billing in März");
    assert_eq!(registrar.tags, ["billing"]);
    assert!(registrar.attachments.is_empty());

    let beispiel = v.client("beispiel").expect("beispiel reads");
    assert_eq!(beispiel.name, "Beispiel & Söhne KG");
    assert_eq!(beispiel.contact, "admin@beispiel.example");
    assert_eq!(
        to_json(&beispiel.lifecycle),
        json!({"dpa": {"status": "unknown"}})
    );
    assert_eq!(beispiel.entries.len(), 1);
    let mail = beispiel.entry("mail").unwrap();
    assert_eq!(mail.kind, EntryKind::Mail);
    assert_eq!(mail.url, "https://mail.beispiel.example");
    assert_eq!(mail.user, "postmaster@beispiel.example");
    assert_eq!(
        mail.password.as_ref().map(|p| p.expose()),
        Some("Ref-Mail-Pw-3 äöü")
    );
    assert!(mail.totp.is_none());
    assert_eq!(mail.attachments.len(), 1);
    assert_eq!(mail.attachments[0].name, "all-bytes.bin");
    // Every byte value, so the attachment encoding is pinned for binary data too.
    let all_bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(mail.attachments[0].data.expose(), &all_bytes[..]);

    assert!(v.client("nobody").is_err());
}

/// Every file decrypts and matches the index, nothing is left over, and the audit
/// log's chain reaches the index's head with exactly the records written.
fn check_integrity(v: &Vault) {
    let problems = v.verify();
    assert!(problems.is_empty(), "verify: {problems:?}");
    let orphans = v.orphans().expect("the folder lists");
    assert!(
        orphans.is_empty(),
        "files the index does not name: {orphans:?}"
    );

    let (records, problems) = v.audit_log();
    assert!(problems.is_empty(), "audit log: {problems:?}");
    // Each record as "SEQ ACTOR ACTION [CLIENT][: DETAIL]", from its JSON form.
    let got: Vec<String> = records
        .iter()
        .map(|r| {
            let r = to_json(r);
            let field = |name: &str| r[name].as_str().unwrap_or_default().to_owned();
            let mut line = format!("{} {} {}", r["seq"], field("actor"), field("action"));
            if !field("client").is_empty() {
                line += &format!(" {}", field("client"));
            }
            if !field("detail").is_empty() {
                line += &format!(": {}", field("detail"));
            }
            line
        })
        .collect();
    let expected = [
        "1 owner vault.init: share set 4380 (2 of anna, ben, carla)",
        "2 owner vault.owner",
        "3 owner client.add acme",
        "4 owner client.add beispiel",
        "5 owner entry.add acme: ssh-root",
        "6 owner entry.add acme: registrar",
        "7 owner entry.add beispiel: mail",
        "8 owner entry.attach acme: ssh-root: acme_ed25519 (42 bytes)",
        "9 owner entry.attach beispiel: mail: all-bytes.bin (256 bytes)",
        "10 owner client.gdpr acme: dpa=signed 2024-03-01 AVV-2024-07",
    ];
    assert_eq!(got, expected);
}

#[test]
fn opens_with_the_owner_passphrase_and_reads_every_value() {
    let copy = reference_vault();
    let v = Vault::open(&copy.vault, &passphrase(), Access::Read)
        .expect("the reference vault opens with its passphrase");
    assert!(v.is_owner());
    check_contents(&v);
    check_integrity(&v);
}

#[test]
fn opens_with_the_emergency_key_from_any_two_share_files() {
    let copy = reference_vault();
    for pair in [["anna", "ben"], ["anna", "carla"], ["ben", "carla"]] {
        let secret = emergency_secret(&pair);
        let v = Vault::open_emergency(&copy.vault, &secret, Access::Read)
            .unwrap_or_else(|e| panic!("{pair:?} rebuild the emergency key: {e}"));
        assert!(!v.is_owner());
        check_contents(&v);
        check_integrity(&v);
    }
    // One share is below the threshold.
    let one = share_words("anna");
    assert!(baton::slip39::combine_strs(&[one.as_str()], b"").is_err());
}

#[test]
fn a_wrong_passphrase_is_told_apart() {
    let copy = reference_vault();
    let wrong = Passphrase::new("not the reference vault passphrase".into());
    assert!(matches!(
        Vault::open(&copy.vault, &wrong, Access::Read),
        Err(UnlockError::WrongPassphrase)
    ));
}

#[test]
fn opens_for_writing() {
    // A newer baton must keep working with an old vault, not only read it: the writer
    // (which takes the lock) accepts it too. The copy keeps the committed files as
    // they are.
    let copy = reference_vault();
    let v = Vault::open(&copy.vault, &passphrase(), Access::Write)
        .expect("the reference vault opens for writing");
    assert!(v.is_writable());
    check_integrity(&v);
}
