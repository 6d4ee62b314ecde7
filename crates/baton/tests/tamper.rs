//! Tamper evidence (docs/threat-model.md): an attacker with write access to the folder
//! but no identity swaps, rolls back, deletes or forges files. Each attack must be
//! detected, naming the client, for the owner and for the emergency key alike.

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use baton::slip39;
use baton::vault::changes::{EntryFields, NewClient};
use baton::vault::{Access, InitOptions, IntegrityError, UnlockError, Vault, VaultError};
use baton::{EmergencySecret, KdfParams, Passphrase, SecretText};

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    pass: Passphrase,
    secret: EmergencySecret,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v");
    let pass = Passphrase::new("correct horse battery staple".into());
    let mut kept = Vec::new();
    let mut v = Vault::init(
        &path,
        &pass,
        InitOptions {
            policy: baton::emergency::Policy::single(
                vec!["anna".into(), "ben".into(), "carla".into()],
                2,
            ),
            kdf: KdfParams::insecure_test(),
        },
        |_, shares| {
            kept = shares
                .iter()
                .map(|s| slip39::Mnemonic::parse(s.mnemonic.expose_words()).unwrap())
                .collect();
            Ok(())
        },
    )
    .unwrap();
    for id in ["alpha", "beta"] {
        v.add_client(NewClient {
            id: id.into(),
            name: format!("{id} Ltd"),
            ..Default::default()
        })
        .unwrap();
        v.add_entry(
            id,
            "server",
            EntryFields {
                password: Some(SecretText::new(format!("{id}-password"))),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let secret = EmergencySecret::from_bytes(&slip39::combine(&kept[..2], b"").unwrap()).unwrap();
    Fixture {
        _dir: dir,
        path,
        pass,
        secret,
    }
}

fn client_file(path: &Path, pass: &Passphrase, id: &str) -> PathBuf {
    let v = Vault::open(path, pass, Access::Read).unwrap();
    path.join("clients").join(&v.locate(id).unwrap().file)
}

/// The vault's one head (docs/format.md#multi-writer): its file and body, read with the
/// emergency key.
fn read_head(f: &Fixture) -> (PathBuf, baton::store::head::HeadBody) {
    let path = Vault::open(&f.path, &f.pass, Access::Read)
        .unwrap()
        .commit_point();
    let writer = path.file_name().unwrap().to_string_lossy()[..16].to_string();
    let plain =
        baton::crypto::seal::decrypt(&f.secret.identity(), &fs::read(&path).unwrap()).unwrap();
    let vid = baton::vault::read_header(&f.path)
        .unwrap()
        .vault_id_bytes()
        .unwrap();
    let body =
        baton::store::head::HeadBody::open(&plain, &f.secret.auth_key(&vid), &writer).unwrap();
    (path, body)
}

/// Writes a head authenticated with the emergency key (what a holder of T shares can).
fn write_head(f: &Fixture, path: &Path, body: &baton::store::head::HeadBody) {
    let vid = baton::vault::read_header(&f.path)
        .unwrap()
        .vault_id_bytes()
        .unwrap();
    let sealed = body.seal(&f.secret.auth_key(&vid));
    fs::write(
        path,
        baton::crypto::seal::encrypt(&public_recipients(&f.path), &sealed),
    )
    .unwrap();
}

/// Runs `check` for the owner and for the emergency key.
fn for_both_keys(f: &Fixture, check: impl Fn(Result<Vault, UnlockError>)) {
    check(Vault::open(&f.path, &f.pass, Access::Read));
    check(Vault::open_emergency(&f.path, &f.secret, Access::Read));
}

fn problems_of(v: &Vault) -> Vec<IntegrityError> {
    v.verify()
}

#[test]
fn untouched_vault_verifies_for_both_keys() {
    let f = fixture();
    for_both_keys(&f, |v| {
        let v = v.unwrap();
        assert!(problems_of(&v).is_empty());
        assert_eq!(
            v.client("alpha")
                .unwrap()
                .entry("server")
                .unwrap()
                .password
                .as_ref()
                .unwrap()
                .expose(),
            "alpha-password"
        );
    });
}

#[test]
fn swapping_two_client_files_is_detected() {
    let f = fixture();
    let a = client_file(&f.path, &f.pass, "alpha");
    let b = client_file(&f.path, &f.pass, "beta");
    let (da, db) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
    fs::write(&a, &db).unwrap();
    fs::write(&b, &da).unwrap();
    for_both_keys(&f, |v| {
        let v = v.unwrap();
        let p = problems_of(&v);
        let named: Vec<_> = p.iter().filter_map(|e| e.client()).collect();
        assert_eq!(named, ["alpha", "beta"], "{p:?}");
        assert!(matches!(
            v.client("alpha"),
            Err(VaultError::Integrity(IntegrityError::ClientModified { client })) if client == "alpha"
        ));
    });
}

#[test]
fn restoring_an_older_copy_is_detected() {
    let f = fixture();
    let old_path = client_file(&f.path, &f.pass, "alpha");
    let old = fs::read(&old_path).unwrap();
    {
        let mut v = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
        v.edit_entry(
            "alpha",
            "server",
            EntryFields {
                password: Some(SecretText::new("new-password".into())),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    }
    // The attacker puts the old (genuine, decryptable) file under the current name.
    let current = client_file(&f.path, &f.pass, "alpha");
    fs::write(&current, &old).unwrap();
    for_both_keys(&f, |v| {
        let v = v.unwrap();
        assert!(matches!(
            v.client("alpha"),
            Err(VaultError::Integrity(IntegrityError::ClientModified { client })) if client == "alpha"
        ));
        assert!(v.client("beta").is_ok());
    });
}

#[test]
fn deleting_a_client_file_is_detected() {
    let f = fixture();
    fs::remove_file(client_file(&f.path, &f.pass, "beta")).unwrap();
    for_both_keys(&f, |v| {
        let v = v.unwrap();
        assert!(matches!(
            v.client("beta"),
            Err(VaultError::Integrity(IntegrityError::ClientMissing { client, .. })) if client == "beta"
        ));
        assert_eq!(problems_of(&v).len(), 1);
    });
}

fn public_recipients(path: &Path) -> Vec<age::x25519::Recipient> {
    let h = baton::vault::read_header(path).unwrap();
    vec![
        age::x25519::Recipient::from_str(&h.recipients.owner).unwrap(),
        age::x25519::Recipient::from_str(&h.recipients.emergency).unwrap(),
    ]
}

#[test]
fn a_client_file_forged_with_the_public_recipients_is_detected() {
    let f = fixture();
    let target = client_file(&f.path, &f.pass, "alpha");
    // A well-formed client file naming the right vault and ids, encrypted to the public
    // recipients: age accepts it, baton must not.
    let plain = {
        let v = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
        let mut c = v.client("alpha").unwrap();
        c.entries[0].password = Some(SecretText::new("attacker-chosen".into()));
        serde_json::to_vec(&c).unwrap()
    };
    fs::write(
        &target,
        baton::crypto::seal::encrypt(&public_recipients(&f.path), &plain),
    )
    .unwrap();
    for_both_keys(&f, |v| {
        assert!(matches!(
            v.unwrap().client("alpha"),
            Err(VaultError::Integrity(IntegrityError::ClientModified { client })) if client == "alpha"
        ));
    });
}

#[test]
fn an_index_forged_with_the_public_recipients_is_detected() {
    let f = fixture();
    let h = baton::vault::read_header(&f.path).unwrap();
    // The attacker cannot read the real index; he writes a plausible one that points
    // "alpha" at a file of his own, with a MAC under a key he made up.
    let body = serde_json::json!({
        "vault_id": h.vault_id, "generation": 1, "revision": 99, "updated": "x",
        "recipients": h.recipients, "holders": [], "audit_head": {"seq": 0, "hash": "00"},
        "clients": []
    });
    // Also as the earlier index format: neither decides the message.
    let ip = read_head(&f).0;
    for (format, version) in [("baton-head", 1), ("baton-index", 3), ("baton-head", 2)] {
        let env = format!(
            "{{\"format\":\"{format}\",\"version\":{version},\"mac\":\"{}\",\"body\":{}}}",
            "00".repeat(32),
            body
        );
        fs::write(
            &ip,
            baton::crypto::seal::encrypt(&public_recipients(&f.path), env.as_bytes()),
        )
        .unwrap();
        for_both_keys(&f, |v| {
            let e = v.err();
            // Refused, without the forged file choosing the reason beyond its format.
            assert!(
                matches!(
                    &e,
                    Some(UnlockError::Integrity(IntegrityError::HeadRefused { reason, .. }))
                        if format != "baton-head" || reason.contains("authentication failed")
                ),
                "{format} {version}: {e:?}"
            );
        });
    }
}

#[test]
fn redirecting_the_header_recipients_is_detected() {
    let f = fixture();
    let hp = f.path.join("vault.json");
    let mut h: serde_json::Value = serde_json::from_slice(&fs::read(&hp).unwrap()).unwrap();
    let attacker = age::x25519::Identity::generate().to_public().to_string();
    h["recipients"]["emergency"] = attacker.clone().into();
    fs::write(&hp, serde_json::to_vec(&h).unwrap()).unwrap();
    // The owner notices: the emergency key in the owner key (authenticated) does not
    // belong to the header's emergency recipient.
    assert!(matches!(
        Vault::open(&f.path, &f.pass, Access::Read).err(),
        Some(UnlockError::Integrity(IntegrityError::HeaderRecipients))
    ));
    // The colleague's rebuilt key no longer matches the (forged) header.
    assert!(matches!(
        Vault::open_emergency(&f.path, &f.secret, Access::Read).err(),
        Some(UnlockError::WrongEmergencyKey)
    ));
    h["recipients"]["owner"] = attacker.into();
    fs::write(&hp, serde_json::to_vec(&h).unwrap()).unwrap();
    assert!(matches!(
        Vault::open(&f.path, &f.pass, Access::Read).err(),
        Some(UnlockError::Integrity(IntegrityError::HeaderRecipients))
    ));
}

/// The owner key in `vault.json` is authenticated by the heads, which name it: an open
/// with the emergency key (which unwraps no owner key) must still refuse a header whose
/// owner recipient was replaced, or new secrets would be encrypted to the forger's key.
/// A head of another rotation to the same generation (same emergency key, another
/// owner key, docs/format.md#sibling-rotations) is taken only beside one that names the
/// header's recipients.
#[test]
fn a_replaced_owner_recipient_is_refused_with_the_emergency_key_too() {
    let f = fixture();
    let hp = f.path.join("vault.json");
    let mut h: serde_json::Value = serde_json::from_slice(&fs::read(&hp).unwrap()).unwrap();
    h["recipients"]["owner"] = age::x25519::Identity::generate()
        .to_public()
        .to_string()
        .into();
    fs::write(&hp, serde_json::to_vec(&h).unwrap()).unwrap();
    for access in [Access::Read, Access::Write] {
        assert!(matches!(
            Vault::open_emergency(&f.path, &f.secret, access).err(),
            Some(UnlockError::Integrity(IntegrityError::IndexMismatch(
                "recipients"
            )))
        ));
    }
}

#[test]
fn audit_log_truncation_and_alteration_are_detected() {
    let f = fixture();
    let v = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
    let head = v.index().audit_head.seq;
    assert!(head >= 5);
    let (records, problems) = v.audit_log();
    assert_eq!(records.len() as u64, head);
    assert!(problems.is_empty());
    drop(v);

    let own = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
    let rec = |n: u64| own.own_record_file(n);
    // Replace record 2 with record 3: the chain breaks at 2 (seq mismatch) and 3.
    fs::copy(rec(3), rec(2)).unwrap();
    let v = Vault::open_emergency(&f.path, &f.secret, Access::Read).unwrap();
    let p = v.audit_log().1;
    assert!(
        p.contains(&baton::audit::AuditProblem::BrokenChain(2)),
        "{p:?}"
    );
    // Delete the last record.
    fs::remove_file(rec(head)).unwrap();
    let p = v.audit_log().1;
    assert!(
        p.contains(&baton::audit::AuditProblem::Missing(head)),
        "{p:?}"
    );
}

#[test]
fn wrong_passphrase_and_wrong_shares_are_refused_without_changes() {
    let f = fixture();
    let before = snapshot(&f.path);
    assert!(matches!(
        Vault::open(&f.path, &Passphrase::new("wrong".into()), Access::Write).err(),
        Some(UnlockError::WrongPassphrase)
    ));
    let other = EmergencySecret::generate();
    assert!(matches!(
        Vault::open_emergency(&f.path, &other, Access::Read).err(),
        Some(UnlockError::WrongEmergencyKey)
    ));
    assert_eq!(before, snapshot(&f.path));
}

#[test]
fn passphrase_change_keeps_data_and_retires_the_old_passphrase() {
    let f = fixture();
    let new = Passphrase::new("a completely new passphrase".into());
    {
        let mut v = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
        v.change_passphrase(&new, None).unwrap();
    }
    assert!(matches!(
        Vault::open(&f.path, &f.pass, Access::Read).err(),
        Some(UnlockError::WrongPassphrase)
    ));
    let v = Vault::open(&f.path, &new, Access::Read).unwrap();
    assert!(v.verify().is_empty());
    assert_eq!(v.audit_log().0.last().unwrap().action, "passphrase.change");
}

#[test]
fn writers_exclude_each_other() {
    let f = fixture();
    let _w = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
    assert!(matches!(
        Vault::open(&f.path, &f.pass, Access::Write).err(),
        Some(UnlockError::Locked)
    ));
    // Readers are not blocked.
    assert!(Vault::open(&f.path, &f.pass, Access::Read).is_ok());
}

/// File names and contents of the whole vault, to prove a failed command changed nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
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

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn set_password(f: &Fixture, client: &str, value: &str) {
    let mut v = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
    v.edit_entry(
        client,
        "server",
        EntryFields {
            password: Some(SecretText::new(value.into())),
            ..Default::default()
        },
        None,
    )
    .unwrap();
}

#[test]
fn rolling_back_the_index_and_client_files_is_detected_by_the_audit_tail() {
    let f = fixture();
    let old = f.path.parent().unwrap().join("old");
    copy_tree(&f.path, &old);
    set_password(&f, "alpha", "second");
    set_password(&f, "alpha", "third");
    // The attacker restores the older, genuine index and client files (from a synced
    // folder's version history), but cannot make the newer audit records disappear
    // without also being noticed by anyone who kept a copy.
    let head = read_head(&f).0;
    fs::copy(old.join("heads").join(head.file_name().unwrap()), &head).unwrap();
    copy_tree(&old.join("clients"), &f.path.join("clients"));
    for_both_keys(&f, |v| {
        assert!(
            matches!(
                v.err(),
                Some(UnlockError::Integrity(IntegrityError::RolledBack { .. }))
            ),
            "rollback by two writes must be refused"
        );
    });
}

#[test]
fn an_interrupted_write_leaves_evidence_that_is_kept_not_overwritten() {
    let f = fixture();
    let v = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
    let head = v.index().audit_head.seq;
    // Simulate a crash after the audit record was written but before the head commit.
    let leftover = v.own_record_file(head + 1);
    drop(v);
    fs::write(&leftover, b"leftover of a crashed write").unwrap();
    let v = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
    assert_eq!(v.orphans().unwrap(), vec![leftover.clone()]);
    drop(v);
    set_password(&f, "beta", "after-crash");
    let kept: Vec<_> = fs::read_dir(f.path.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".interrupted-"))
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "the leftover is moved aside, not overwritten"
    );
    let v = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
    assert!(v.verify().is_empty());
    assert!(v.orphans().unwrap().is_empty());
}

#[test]
fn unreferenced_client_files_are_reported_not_deleted() {
    // In a synced folder an unreferenced file may be another machine's fresh commit whose
    // index has not arrived yet: deleting it would lose that machine's data.
    let f = fixture();
    let stray = f
        .path
        .join("clients")
        .join(format!("{}.age", "ab".repeat(16)));
    fs::write(&stray, b"another machine's new client file").unwrap();
    set_password(&f, "alpha", "x");
    assert!(stray.exists());
    let v = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
    assert_eq!(v.orphans().unwrap(), vec![stray]);
}

#[test]
fn forging_the_passphrase_check_reads_as_tampering_not_as_a_wrong_passphrase() {
    let f = fixture();
    let hp = f.path.join("vault.json");
    let mut h: serde_json::Value = serde_json::from_slice(&fs::read(&hp).unwrap()).unwrap();
    h["passphrase_check"] = "00".repeat(16).into();
    fs::write(&hp, serde_json::to_vec(&h).unwrap()).unwrap();
    assert!(matches!(
        Vault::open(&f.path, &f.pass, Access::Read).err(),
        Some(UnlockError::OwnerKeyDamaged(_))
    ));
    assert!(matches!(
        Vault::open(&f.path, &Passphrase::new("wrong".into()), Access::Read).err(),
        Some(UnlockError::WrongPassphrase)
    ));
}

#[test]
fn an_authenticated_index_cannot_point_outside_clients() {
    // Even a holder of T shares (who can authenticate an index) must not make the owner's
    // baton touch files outside the vault.
    let f = fixture();
    let victim = f.path.parent().unwrap().join("victim.txt");
    fs::write(&victim, b"keep me").unwrap();
    let v = Vault::open_emergency(&f.path, &f.secret, Access::Read).unwrap();
    let good = v.index().clone();
    let shard = baton::store::locator::shard_of("alpha");
    let mut rows: Vec<baton::ClientRef> = v
        .clients()
        .unwrap()
        .iter()
        .filter(|c| baton::store::locator::shard_of(&c.id) == shard)
        .cloned()
        .collect();
    drop(v);
    rows.iter_mut().find(|c| c.id == "alpha").unwrap().file = "../../victim.txt".into();
    let plain = serde_json::json!({
        "format": "baton-locator", "version": 1, "vault_id": good.vault_id,
        "shard": shard, "clients": rows,
    });
    let cipher =
        baton::crypto::seal::encrypt(&public_recipients(&f.path), plain.to_string().as_bytes());
    let forged = format!("{}.age", "ab".repeat(16));
    fs::write(f.path.join("clients").join(&forged), &cipher).unwrap();
    let (head_path, head) = read_head(&f);
    let write_index = |idx: &baton::IndexBody| {
        let mut forged = head.clone();
        forged.index = idx.clone();
        write_head(&f, &head_path, &forged);
    };
    // 1. A locator shard that names a file outside clients/.
    let mut idx = good.clone();
    let slot = idx.locator.iter_mut().find(|r| r.shard == shard).unwrap();
    slot.file = forged.clone();
    slot.sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&cipher));
    write_index(&idx);
    let mut v = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
    let damaged = |e: &IntegrityError| matches!(e, IntegrityError::ShardDamaged { .. });
    assert!(matches!(v.client("alpha"), Err(VaultError::Integrity(e)) if damaged(&e)));
    assert!(v.verify().iter().any(damaged), "{:?}", v.verify());
    assert!(v.add_entry("beta", "more", Default::default()).is_err());
    assert!(v.remove_client("alpha").is_err());
    drop(v);
    // 2. A head whose shard reference itself points outside clients/: the head is
    // refused as a whole.
    let mut idx = good.clone();
    idx.locator[0].file = "../../victim.txt".into();
    write_index(&idx);
    let e = Vault::open(&f.path, &f.pass, Access::Write).err();
    assert!(
        matches!(
            e,
            Some(UnlockError::Integrity(IntegrityError::HeadRefused { .. }))
        ),
        "{e:?}"
    );
    assert!(victim.exists());
    assert_eq!(fs::read(&victim).unwrap(), b"keep me");
}

#[test]
fn symlinked_vault_folders_are_refused() {
    let f = fixture();
    let elsewhere = f.path.parent().unwrap().join("elsewhere");
    fs::rename(f.path.join("audit"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, f.path.join("audit")).unwrap();
    assert!(matches!(
        Vault::open(&f.path, &f.pass, Access::Read).err(),
        Some(UnlockError::Integrity(IntegrityError::NotADirectory(
            "audit"
        )))
    ));
}

#[test]
fn a_reader_is_not_fooled_into_a_tamper_alarm_by_a_concurrent_writer() {
    let f = fixture();
    let reader = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
    // A writer replaces alpha's file (and deletes the one the reader's index names).
    set_password(&f, "alpha", "newer");
    assert!(reader.verify().is_empty());
    let alpha = reader.client("alpha").unwrap();
    assert_eq!(
        alpha.entries[0].password.as_ref().unwrap().expose(),
        "newer"
    );
}

// ------------------------------------------------------------------ the catalog

/// The catalog shard file that holds `id`'s summary.
fn shard_file(path: &Path, pass: &Passphrase, id: &str) -> PathBuf {
    let v = Vault::open(path, pass, Access::Read).unwrap();
    let cid = v.locate(id).unwrap().cid.clone();
    let r = v
        .index()
        .catalog
        .iter()
        .find(|r| r.shard == baton::store::catalog::shard_of(&cid))
        .unwrap();
    path.join("clients").join(&r.file)
}

/// Both `verify` and an ordinary `catalog()` read (what `list` and `search` use) fail.
fn assert_catalog_problem(f: &Fixture, expected: impl Fn(&IntegrityError) -> bool) {
    for_both_keys(f, |v| {
        let v = v.unwrap();
        let p = problems_of(&v);
        assert!(p.iter().any(&expected), "{p:?}");
        match v.catalog() {
            Err(VaultError::Integrity(e)) => assert!(expected(&e), "{e:?}"),
            other => panic!("catalog read: {:?}", other.map(|c| c.len())),
        }
        // Reading a client's values does not depend on the catalog.
        v.client("beta").unwrap();
    });
}

#[test]
fn a_rolled_back_catalog_shard_is_detected() {
    let f = fixture();
    let old = fs::read(shard_file(&f.path, &f.pass, "alpha")).unwrap();
    {
        let mut v = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
        v.add_entry("alpha", "second", EntryFields::default())
            .unwrap();
    }
    let now = shard_file(&f.path, &f.pass, "alpha");
    fs::write(&now, &old).unwrap();
    assert_catalog_problem(&f, |e| matches!(e, IntegrityError::ShardDamaged { .. }));
}

#[test]
fn a_deleted_catalog_shard_is_detected() {
    let f = fixture();
    fs::remove_file(shard_file(&f.path, &f.pass, "alpha")).unwrap();
    assert_catalog_problem(&f, |e| matches!(e, IntegrityError::ShardMissing { .. }));
}

#[test]
fn a_catalog_shard_forged_with_the_public_recipients_is_detected() {
    let f = fixture();
    let target = shard_file(&f.path, &f.pass, "alpha");
    let (vault_id, cid, shard) = {
        let v = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
        let cid = v.locate("alpha").unwrap().cid.clone();
        let shard = baton::store::catalog::shard_of(&cid).to_string();
        (v.index().vault_id.clone(), cid, shard)
    };
    let forged = serde_json::json!({
        "format": "baton-catalog", "version": 1, "vault_id": vault_id, "shard": shard,
        "clients": [{ "id": "alpha", "cid": cid, "name": "Evil Ltd", "contact": "",
                      "notes": "", "tags": [], "recipients": [], "created": "x",
                      "updated": "x", "entries": [] }]
    });
    fs::write(
        &target,
        baton::crypto::seal::encrypt(&public_recipients(&f.path), forged.to_string().as_bytes()),
    )
    .unwrap();
    assert_catalog_problem(&f, |e| matches!(e, IntegrityError::ShardDamaged { .. }));
}

#[test]
fn a_client_file_swapped_with_a_catalog_shard_is_detected() {
    let f = fixture();
    let c = client_file(&f.path, &f.pass, "alpha");
    let s = shard_file(&f.path, &f.pass, "alpha");
    let (dc, ds) = (fs::read(&c).unwrap(), fs::read(&s).unwrap());
    fs::write(&c, &ds).unwrap();
    fs::write(&s, &dc).unwrap();
    for_both_keys(&f, |v| {
        let v = v.unwrap();
        let p = problems_of(&v);
        assert!(p.iter().any(|e| e.client() == Some("alpha")), "{p:?}");
        assert!(
            p.iter()
                .any(|e| matches!(e, IntegrityError::ShardDamaged { .. })),
            "{p:?}"
        );
        assert!(v.client("alpha").is_err());
        assert!(v.catalog().is_err());
    });
}

// ------------------------------------------------------------------ the locator

/// The locator shard file that holds `id`'s reference.
fn locator_file(path: &Path, pass: &Passphrase, id: &str) -> PathBuf {
    let v = Vault::open(path, pass, Access::Read).unwrap();
    let shard = baton::store::locator::shard_of(id);
    let r = v.index().locator.iter().find(|r| r.shard == shard).unwrap();
    path.join("clients").join(&r.file)
}

/// Reading `id` fails as `expected` for both keys, `verify` reports it, and the clients
/// of the other locator shards still verify and read.
fn assert_locator_problem(f: &Fixture, id: &str, expected: impl Fn(&IntegrityError) -> bool) {
    let shard = baton::store::locator::shard_of(id);
    for_both_keys(f, |v| {
        let v = v.unwrap();
        match v.client(id) {
            Err(VaultError::Integrity(e)) => assert!(expected(&e), "{e:?}"),
            other => panic!("client read: {:?}", other.map(|c| c.id)),
        }
        let p = problems_of(&v);
        assert!(p.iter().any(&expected), "{p:?}");
        for other in ["alpha", "beta"] {
            if baton::store::locator::shard_of(other) != shard {
                v.client(other).unwrap();
            }
        }
    });
}

#[test]
fn a_rolled_back_locator_shard_is_detected() {
    let f = fixture();
    let old = fs::read(locator_file(&f.path, &f.pass, "alpha")).unwrap();
    {
        let mut v = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
        v.add_entry("alpha", "second", EntryFields::default())
            .unwrap();
    }
    // The old shard names alpha's previous file, which the write removed; put the old
    // shard's bytes where the index expects the new one.
    fs::write(locator_file(&f.path, &f.pass, "alpha"), &old).unwrap();
    assert_locator_problem(&f, "alpha", |e| {
        matches!(
            e,
            IntegrityError::ShardDamaged {
                kind: baton::store::shard::ShardKind::Locator,
                ..
            }
        )
    });
}

#[test]
fn a_deleted_locator_shard_is_detected() {
    let f = fixture();
    fs::remove_file(locator_file(&f.path, &f.pass, "beta")).unwrap();
    assert_locator_problem(&f, "beta", |e| {
        matches!(
            e,
            IntegrityError::ShardMissing {
                kind: baton::store::shard::ShardKind::Locator,
                ..
            }
        )
    });
}

#[test]
fn a_commit_that_names_a_client_twice_is_refused_and_changes_nothing() {
    use baton::audit::AuditEvent;
    let f = fixture();
    let mut v = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
    let before = snapshot(&f.path);
    let alpha = v.client("alpha").unwrap();
    let cid = alpha.cid.clone();
    let ev = || AuditEvent::new(baton::audit::AuditAction::Other("test".into()), None, "");
    // Upserted and removed at once.
    assert!(
        v.commit(ev(), vec![v.client("alpha").unwrap()], &[cid])
            .is_err()
    );
    // Twice in one change.
    assert!(
        v.commit(
            ev(),
            vec![v.client("alpha").unwrap(), v.client("alpha").unwrap()],
            &[]
        )
        .is_err()
    );
    // A second client under an id that exists.
    let mut twin = v.client("beta").unwrap();
    twin.cid = "0".repeat(32);
    twin.id = "alpha".into();
    assert!(matches!(
        v.commit(ev(), vec![twin], &[]),
        Err(VaultError::ClientExists(id)) if id == "alpha"
    ));
    assert_eq!(snapshot(&f.path), before);
    assert!(v.verify().is_empty());
}

#[test]
fn a_reader_during_another_rotation_is_told_so_not_warned_of_tampering() {
    let f = fixture();
    // A reader opened before the rotation (no lock), and a writer that rotates.
    let reader = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
    {
        let mut w = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
        w.rotate(
            Default::default(),
            None,
            |_, _| Ok(()),
            &|_: baton::rotate::Progress| {},
        )
        .unwrap();
    }
    // Its index names files the rotation removed.
    assert!(matches!(
        reader.client("alpha"),
        Err(VaultError::RotatedMeanwhile(2))
    ));
    assert!(matches!(
        reader.catalog(),
        Err(VaultError::RotatedMeanwhile(2))
    ));
    // A new open reads the new generation.
    let v = Vault::open(&f.path, &f.pass, Access::Read).unwrap();
    assert!(v.client("alpha").is_ok());
}

/// The emergency key does not authenticate the Argon2id parameters in vault.json: a
/// takeover must not inherit parameters a folder writer lowered.
#[test]
fn a_takeover_ignores_argon2id_parameters_lowered_in_the_header() {
    let f = fixture();
    let hp = f.path.join("vault.json");
    let mut h: serde_json::Value = serde_json::from_slice(&fs::read(&hp).unwrap()).unwrap();
    h["kdf"]["m_cost_kib"] = 8.into();
    fs::write(&hp, serde_json::to_vec(&h).unwrap()).unwrap();
    let mut v = Vault::open_emergency(&f.path, &f.secret, Access::Write).unwrap();
    let policy = baton::emergency::Policy::single(vec!["dora".into(), "emil".into()], 2);
    let new = Passphrase::new("the colleague's passphrase".into());
    v.take_over(&new, KdfParams::standard(), policy, |_, _| Ok(()), &|_| {})
        .unwrap();
    let h = baton::vault::read_header(&f.path).unwrap();
    assert_eq!(h.kdf.m_cost_kib, KdfParams::standard().m_cost_kib);
    assert!(!h.kdf.is_insecure());
    drop(v);
    let v = Vault::open(&f.path, &new, Access::Read).unwrap();
    assert!(v.verify().is_empty());
}

/// A header may lag the index by exactly one added member (a crash inside
/// `add-holder`), nothing more: a folder writer cannot strip the check codes.
#[test]
fn the_header_may_lag_one_added_member_and_no_more() {
    let f = fixture();
    let hp = f.path.join("vault.json");
    let before = fs::read(&hp).unwrap();
    {
        let mut v = Vault::open(&f.path, &f.pass, Access::Write).unwrap();
        v.add_holder("dora", None, |_, _| Ok(())).unwrap();
    }
    // The crash between the index and the header: the old header is back.
    let after = fs::read(&hp).unwrap();
    fs::write(&hp, &before).unwrap();
    assert!(Vault::open(&f.path, &f.pass, Access::Read).is_ok());
    assert!(Vault::open_emergency(&f.path, &f.secret, Access::Read).is_ok());
    // Opening for writing catches the header up.
    drop(Vault::open(&f.path, &f.pass, Access::Write).unwrap());
    assert_eq!(fs::read(&hp).unwrap(), after);
    // Stripping check codes, or more than one member behind, is tampering.
    for cut in [1usize, 2, 4] {
        let mut h: serde_json::Value = serde_json::from_slice(&after).unwrap();
        let checks = h["share_set"]["checks"].as_array_mut().unwrap();
        let keep = checks.len().saturating_sub(cut);
        checks.truncate(keep);
        h["share_set"]["groups"][0]["count"] = (keep as u64).into();
        fs::write(&hp, serde_json::to_vec(&h).unwrap()).unwrap();
        let accepted = Vault::open(&f.path, &f.pass, Access::Read).is_ok();
        assert_eq!(accepted, cut == 1, "{cut} check codes cut");
        if cut > 1 {
            assert!(matches!(
                Vault::open_emergency(&f.path, &f.secret, Access::Read).err(),
                Some(UnlockError::Integrity(IntegrityError::IndexMismatch(
                    "share set"
                )))
            ));
        }
    }
}
