//! Interoperability with the standard `age` command (Debian package `age`): every
//! vault file opens with `age -d -i` given the owner identity, or the emergency identity
//! rebuilt from T share files.

mod common;

use common::Env;

fn age_decrypt(identity: &std::path::Path, file: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&common::age_decrypt(identity, file)).unwrap()
}

#[test]
#[ignore = "needs age; run with --include-ignored (CI does)"]
fn age_cli_decrypts_with_owner_and_rebuilt_emergency_identity() {
    common::need("age", "age");
    let e = Env::init();
    e.cmd(&["client", "add", "acme", "--name", "ACME GmbH"])
        .assert()
        .success();
    let pw = e.file("pw.txt", "interop-password\n");
    e.cmd(&[
        "entry",
        "add",
        "acme",
        "ssh-root",
        "--kind",
        "server",
        "--password-file",
    ])
    .arg(&pw)
    .assert()
    .success();

    let owner = e.dir.path().join("owner.key");
    e.cmd(&["key", "export-owner", "-o"])
        .arg(&owner)
        .assert()
        .success();
    // Two of three holders (ben and carla) rebuild the emergency identity.
    let emergency = e.dir.path().join("emergency.key");
    e.cmd(&["key", "from-shares"])
        .arg(e.shares.join("ben.txt"))
        .arg(e.shares.join("carla.txt"))
        .arg("-o")
        .arg(&emergency)
        .assert()
        .success();
    // One share is not enough, and says so.
    e.cmd(&["key", "from-shares"])
        .arg(e.shares.join("ben.txt"))
        .arg("-o")
        .arg(e.dir.path().join("nope.key"))
        .assert()
        .code(3)
        .stderr(predicates::str::contains(
            "not enough shares: 1 of 2 shares given",
        ));

    // Everything, the head included, opens with the standard age command: the head
    // names the locator shard, which names the client file, and the catalog shard.
    for id in [&owner, &emergency] {
        let index = age_decrypt(id, &common::head_file(&e.vault));
        let shard = index["body"]["locator"][0]["file"].as_str().unwrap();
        let locator = age_decrypt(id, &e.vault.join("clients").join(shard));
        assert_eq!(locator["format"], "baton-locator");
        let located = &locator["clients"][0];
        assert_eq!(located["id"], "acme");
        let file = located["file"].as_str().unwrap();
        let c = age_decrypt(id, &e.vault.join("clients").join(file));
        assert_eq!(c["id"], "acme");
        assert_eq!(c["name"], "ACME GmbH");
        assert_eq!(c["entries"][0]["password"], "interop-password");
        let shard = index["body"]["catalog"][0]["file"].as_str().unwrap();
        let catalog = age_decrypt(id, &e.vault.join("clients").join(shard));
        assert_eq!(catalog["format"], "baton-catalog");
        assert_eq!(catalog["clients"][0]["name"], "ACME GmbH");
        assert_eq!(catalog["clients"][0]["entries"][0]["has_password"], true);
        let first = age_decrypt(id, &common::record_file(&e.vault, 1));
        assert_eq!(first["action"], "vault.init");
    }
}
