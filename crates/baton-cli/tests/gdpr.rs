//! Client lifecycle and GDPR duties through the binary: ending and reopening, the DPA
//! decision, retention and legal hold, purge (dry run, confirm, on request), the
//! deletion record, the access report in both languages and the records overview,
//! scanned for every stored secret and (an ignored test: it needs Chromium) rendered
//! by headless Chromium.

mod common;

use common::{Env, snapshot};
use std::fs;
use std::path::{Path, PathBuf};

use common::stderr;

/// A vault with three clients, each with a password and one with a TOTP seed and an
/// attachment. Returns the env and every secret value stored.
fn clients() -> (Env, Vec<String>) {
    let e = Env::init_with_owner();
    let mut secrets = Vec::new();
    for (id, name, kind, pw) in [
        ("acme", "ACME GmbH", "server", "Acme-Root-Pw-0001"),
        ("altkunde", "Altkunde KG", "mail", "Alt-Mail-Pw-0002"),
        ("neukunde", "Neukunde AG", "cms", "Neu-Cms-Pw-0003"),
    ] {
        e.cmd(&["client", "add", id, "--name", name])
            .assert()
            .success();
        let f = e.file(&format!("{id}-pw.txt"), &format!("{pw}\n"));
        e.cmd(&[
            "entry",
            "add",
            id,
            "main",
            "--kind",
            kind,
            "--user",
            "admin",
            "--password-file",
        ])
        .arg(&f)
        .assert()
        .success();
        secrets.push(pw.to_string());
    }
    let totp = "otpauth://totp/Reg:acme?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Reg";
    let f = e.file("totp.txt", &format!("{totp}\n"));
    e.cmd(&[
        "entry",
        "add",
        "acme",
        "registrar",
        "--kind",
        "domain",
        "--generate",
        "--totp",
    ])
    .arg(&f)
    .assert()
    .success();
    secrets.push("JBSWY3DPEHPK3PXPJBSWY3DP".into());
    secrets.push(
        e.stdout(&["get", "acme/registrar", "--show"])
            .trim()
            .to_string(),
    );
    let key = e.file(
        "id_ed25519",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nS3CR3T-KEY-MATERIAL\n",
    );
    e.cmd(&["entry", "attach", "acme", "main"])
        .arg(&key)
        .assert()
        .success();
    secrets.push("S3CR3T-KEY-MATERIAL".into());
    (e, secrets)
}

fn sign_dpa(e: &Env) {
    e.cmd(&[
        "client",
        "set",
        "acme",
        "--dpa",
        "signed:2024-03-01",
        "--dpa-ref",
        "AVV-2024-07",
    ])
    .assert()
    .success();
}

fn ids(e: &Env) -> Vec<String> {
    e.json(&["list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

const END_ALTKUNDE: [&str; 7] = [
    "client",
    "end",
    "altkunde",
    "--date",
    "2024-01-31",
    "--reason",
    "moved to another provider",
];

#[test]
fn lifecycle_retention_legal_hold_and_purge() {
    let (e, _) = clients();
    // End, reopen, end again.
    let out = e.cmd(&END_ALTKUNDE).output().unwrap();
    assert!(
        stderr(&out).contains("due for deletion now"),
        "{}",
        stderr(&out)
    );
    assert_eq!(e.last_audit()["action"], "client.end");
    e.cmd(&["client", "reopen", "altkunde"]).assert().success();
    let out = e.cmd(&["client", "reopen", "altkunde"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("has not ended"));
    e.cmd(&END_ALTKUNDE).assert().success();
    let out = e
        .cmd(&["client", "end", "acme", "--date", "31.01.2024"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("is not a date"), "{}", stderr(&out));
    // Ended today: kept for the retention period.
    e.cmd(&["client", "end", "neukunde", "--reason", "site offline"])
        .assert()
        .success();
    sign_dpa(&e);
    let out = e
        .cmd(&["client", "set", "acme", "--dpa", "maybe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // status names what is due and what lacks a decision.
    let s = e.json(&["status", "--json"]);
    assert_eq!(s["gdpr"]["purge_due"], serde_json::json!(["altkunde"]));
    assert_eq!(s["gdpr"]["without_dpa"], serde_json::json!([]));

    // Dry run: lists, deletes nothing.
    let before = snapshot(&e.vault);
    let out = e.stdout(&["purge"]);
    assert!(
        out.contains("altkunde") && out.contains("due: would be deleted"),
        "{out}"
    );
    assert!(
        out.contains("neukunde") && out.contains("kept until"),
        "{out}"
    );
    assert!(
        out.contains("dry run: 1 client(s) would be deleted"),
        "{out}"
    );
    assert_eq!(snapshot(&e.vault), before);

    // A legal hold keeps it, in a purge and on request.
    e.cmd(&["client", "set", "altkunde", "--hold", "tax audit 2025"])
        .assert()
        .success();
    assert_eq!(e.last_audit()["detail"], "legal hold set: tax audit 2025");
    let out = e.stdout(&["purge", "--confirm"]);
    assert!(out.contains("nothing was due"), "{out}");
    let out = e
        .cmd(&["purge", "--client", "altkunde", "--confirm"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("legal hold"), "{}", stderr(&out));
    assert!(ids(&e).contains(&"altkunde".to_string()));
    // A retention override keeps it too.
    e.cmd(&[
        "client",
        "set",
        "altkunde",
        "--no-hold",
        "--retain-until",
        "2099-12-31",
    ])
    .assert()
    .success();
    assert!(e.stdout(&["purge"]).contains("kept until 2099-12-31"));
    e.cmd(&["client", "set", "altkunde", "--no-retain-until"])
        .assert()
        .success();

    // Confirmed: deleted, recorded, and the checklist printed.
    let files_before = fs::read_dir(e.vault.join("clients")).unwrap().count();
    let out = e.stdout(&["purge", "--confirm"]);
    assert!(out.contains("deleted altkunde (Altkunde KG)"), "{out}");
    assert!(
        out.contains("git history") && out.contains("backups"),
        "{out}"
    );
    assert!(!ids(&e).contains(&"altkunde".to_string()));
    assert!(fs::read_dir(e.vault.join("clients")).unwrap().count() < files_before);
    let rec = e.last_audit();
    assert_eq!(rec["action"], "client.purge");
    assert_eq!(rec["client"], "altkunde");
    let detail = rec["detail"].as_str().unwrap();
    for want in [
        "name=Altkunde KG",
        "retention passed (ended 2024-01-31: moved to another provider",
        "mail accounts 1",
        "1 password,",
        "by Max Admin",
    ] {
        assert!(detail.contains(want), "{want}: {detail}");
    }
    assert!(!detail.contains("Alt-Mail-Pw"));
    e.cmd(&["audit", "--verify"]).assert().success();

    // Art. 17: deletion on request, of a client that is still active.
    let out = e.stdout(&["purge", "--client", "acme"]);
    assert!(out.contains("would be deleted on request"), "{out}");
    assert!(
        !out.contains("neukunde"),
        "only the client asked about: {out}"
    );
    assert!(
        out.contains("run 'baton purge --client acme --yes'"),
        "{out}"
    );
    assert!(ids(&e).contains(&"acme".to_string()));
    e.stdout(&["purge", "--client", "acme", "--confirm"]);
    assert!(!ids(&e).contains(&"acme".to_string()));
    assert!(
        e.last_audit()["detail"]
            .as_str()
            .unwrap()
            .contains("deletion requested (GDPR Art. 17)")
    );
    // The records overview lists both deletions.
    let r = e.json(&["gdpr", "records", "--json"]);
    assert_eq!(r["purged"].as_array().unwrap().len(), 2);
    assert_eq!(r["clients"].as_array().unwrap().len(), 1);
}

#[test]
fn retention_follows_the_vault_policy() {
    let (e, _) = clients();
    let date = {
        // Ended 13 months ago: due under the default 12, kept under 24.
        let now = baton::time::now();
        let y: i32 = now[..4].parse().unwrap();
        let m: i32 = now[5..7].parse().unwrap();
        let total = y * 12 + (m - 1) - 13;
        format!("{:04}-{:02}-01", total / 12, total % 12 + 1)
    };
    e.cmd(&["client", "end", "altkunde", "--date", &date])
        .assert()
        .success();
    assert!(e.stdout(&["purge"]).contains("due: would be deleted"));
    e.cmd(&["settings", "--retention-months", "24"])
        .assert()
        .success();
    assert!(e.stdout(&["purge"]).contains("kept until"));
    assert_eq!(e.last_audit()["action"], "settings.retention");
}

/// `page`, checked by a real browser: a screenshot is made and nothing is refused or
/// fails on the page.
fn renders_cleanly(e: &Env, browser: &str, page: &Path) {
    let shot = page.with_extension("png");
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,1400",
        ])
        .arg(format!(
            "--user-data-dir={}",
            e.dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(baton::fs::file_url(page))
        .output()
        .unwrap();
    let log = stderr(&out);
    assert!(shot.is_file(), "no screenshot: {log}");
    assert!(fs::metadata(&shot).unwrap().len() > 10_000, "empty page");
    for bad in ["Uncaught", "Refused to", "ERR_"] {
        assert!(
            !log.contains(bad),
            "{bad} while rendering {}: {log}",
            page.display()
        );
    }
}

/// A vault whose reports have something to say: acme has a client key and an export,
/// neukunde has ended, the DPA decisions are recorded. Writes the access report in
/// German and English and the records overview as HTML; returns them with the env and
/// every stored secret.
fn with_reports() -> (Env, Vec<String>, [PathBuf; 3]) {
    let (e, secrets) = clients();
    let age_key = age::x25519::Identity::generate().to_public().to_string();
    e.cmd(&["client", "set-recipient", "acme", &age_key])
        .assert()
        .success();
    e.cmd(&["export", "acme", "-o"])
        .arg(e.dir.path().join("acme.age"))
        .assert()
        .success();
    e.cmd(&[
        "client",
        "end",
        "neukunde",
        "--date",
        "2026-01-15",
        "--reason",
        "moved",
    ])
    .assert()
    .success();
    sign_dpa(&e);
    let de = e.dir.path().join("auskunft-acme.html");
    let en = e.dir.path().join("report-acme.html");
    let rec = e.dir.path().join("verzeichnis.html");
    e.cmd(&["gdpr", "report", "acme", "-o"])
        .arg(&de)
        .assert()
        .success();
    e.cmd(&["gdpr", "report", "acme", "--lang", "en", "-o"])
        .arg(&en)
        .assert()
        .success();
    e.cmd(&["gdpr", "records", "-o"])
        .arg(&rec)
        .assert()
        .success();
    (e, secrets, [de, en, rec])
}

#[test]
fn reports_in_both_languages_hold_no_secret() {
    let (e, secrets, [de, en, rec]) = with_reports();
    let json = e.stdout(&["gdpr", "report", "acme", "--json"]);
    let records_en = e.stdout(&["gdpr", "records", "--lang", "en"]);
    let de_html = fs::read_to_string(&de).unwrap();
    let en_html = fs::read_to_string(&en).unwrap();
    let rec_html = fs::read_to_string(&rec).unwrap();

    // Both languages say what is held, for whom, and how it ends.
    for (html, words) in [
        (
            &de_html,
            [
                "Auskunft nach Art. 15 DSGVO",
                "Serverzugänge",
                "Domains und DNS",
                "abgeschlossen am 2024-03-01 (AVV-2024-07)",
                "Wer die Daten entschlüsseln kann",
                "2 von: anna, ben, carla",
            ],
        ),
        (
            &en_html,
            [
                "Access report (GDPR Art. 15)",
                "server access",
                "domains and DNS",
                "signed on 2024-03-01 (AVV-2024-07)",
                "Who can decrypt the data",
                "2 of: anna, ben, carla",
            ],
        ),
    ] {
        for w in words {
            assert!(html.contains(w), "{w}");
        }
        assert!(html.contains("anna, ben, carla"));
        assert!(html.contains("Art. 77"), "the right to complain");
        assert!(
            html.contains("<td>admin</td>"),
            "the entries' users are listed"
        );
        assert!(
            html.contains("Max Admin</td>"),
            "the keeper by name, not 'owner'"
        );
        assert!(html.contains("client.export"), "the export is listed");
        assert!(html.contains("Max Admin"));
    }
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(j["format"], "baton-gdpr-report");
    assert_eq!(j["entries"], 2);
    assert_eq!(
        j["access"]["emergency_holders"],
        serde_json::json!(["anna", "ben", "carla"])
    );
    assert_eq!(j["access"]["client_keys"].as_array().unwrap().len(), 1);
    assert_eq!(j["lifecycle"]["dpa"]["status"], "signed");
    assert_eq!(j["lifecycle"]["dpa"]["reference"], "AVV-2024-07");
    assert_eq!(j["log_problems"], 0);
    assert!(rec_html.contains("Neukunde AG") && rec_html.contains("beendet am 2026-01-15 (moved)"));
    assert!(records_en.contains("Records of processing"));

    // No stored secret appears anywhere in any report.
    for text in [&de_html, &en_html, &rec_html, &json, &records_en] {
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "a stored secret appears in a report"
            );
        }
    }
}

#[test]
#[ignore = "needs chromium; run with --include-ignored (CI does)"]
fn reports_render_cleanly_in_chromium() {
    let browser = common::need_chromium();
    let (e, _, pages) = with_reports();
    for page in &pages {
        renders_cleanly(&e, browser, page);
    }
}

#[test]
fn status_reports_missing_dpa_decisions_and_stale_exports() {
    let (e, _) = clients();
    let s = e.json(&["status", "--json"]);
    assert_eq!(
        s["gdpr"]["without_dpa"],
        serde_json::json!(["acme", "altkunde", "neukunde"])
    );
    for (id, dpa) in [
        ("acme", "not-needed"),
        ("altkunde", "none"),
        ("neukunde", "signed"),
    ] {
        e.cmd(&["client", "set", id, "--dpa", dpa])
            .assert()
            .success();
    }
    e.cmd(&["export", "acme", "--passphrase", "-o"])
        .arg(e.dir.path().join("acme.age"))
        .assert()
        .success();
    assert_eq!(
        e.json(&["status", "--json"])["gdpr"]["stale_exports"],
        serde_json::json!([])
    );
    // Lifecycle and DPA changes do not change the package.
    e.cmd(&["client", "set", "acme", "--hold", "audit"])
        .assert()
        .success();
    e.cmd(&["client", "set", "acme", "--no-hold"])
        .assert()
        .success();
    assert_eq!(
        e.json(&["status", "--json"])["gdpr"]["stale_exports"],
        serde_json::json!([])
    );
    // An edit, even within the same second as the export, does.
    e.cmd(&["entry", "edit", "acme", "main", "--user", "root"])
        .assert()
        .success();
    let s = e.json(&["status", "--json"]);
    assert_eq!(s["gdpr"]["without_dpa"], serde_json::json!([]));
    assert_eq!(s["gdpr"]["stale_exports"], serde_json::json!(["acme"]));
    let text = e.stdout(&["status"]);
    assert!(text.contains("changed since their last export"), "{text}");
}

/// `purge --confirm` killed with SIGKILL in the middle, right before its commit point
/// and right after it (the library crashes every step in-process,
/// crates/baton/tests/crash.rs): the vault always opens and verifies, and the client is
/// either there with all its data or gone with its deletion record; never half
/// deleted, never deleted without a record.
#[test]
fn purge_survives_sigkill_smoke() {
    use baton::crypto::secret::Passphrase;
    use baton::vault::{Access, Vault};
    let (e, _) = clients();
    e.cmd(&END_ALTKUNDE).assert().success();
    let args = ["purge", "--confirm"];
    let trace = common::fault_trace(&e, &e.vault, &args);
    let commit = common::step_before_commit(&trace);
    let mut points = vec![trace.len() as u64 / 2, commit, commit + 1];
    points.sort();
    points.dedup();
    let pass = Passphrase::new(common::PASS.into());
    let before = Vault::open(&e.vault, &pass, Access::Read).unwrap();
    let kept = before.client("altkunde").unwrap();
    let kept = String::from_utf8(baton::crypto::secret::json_bytes(&kept).to_vec()).unwrap();
    drop(before);
    let (mut gone, mut there) = (0, 0);
    for point in points {
        let v = common::crash_at(&e, &e.vault, &format!("p{point}"), &args, point);
        let vault = Vault::open(&v, &pass, Access::Read)
            .unwrap_or_else(|err| panic!("step {point}: {err}"));
        assert!(
            vault.verify().is_empty(),
            "step {point}: {:?}",
            vault.verify()
        );
        let (records, problems) = vault.audit_log();
        assert!(problems.is_empty(), "step {point}");
        let recorded = records.iter().any(|r| r.action == "client.purge");
        match vault.client("altkunde") {
            Ok(c) => {
                let now =
                    String::from_utf8(baton::crypto::secret::json_bytes(&c).to_vec()).unwrap();
                assert_eq!(now, kept, "step {point}: the client changed");
                assert!(
                    !recorded,
                    "step {point}: a deletion record for a kept client"
                );
                there += 1;
            }
            Err(_) => {
                assert!(recorded, "step {point}: deleted without a record");
                gone += 1;
            }
        }
        drop(vault);
        fs::remove_dir_all(&v).unwrap();
    }
    assert!(gone > 0 && there > 0, "{gone} gone, {there} there");
}

#[test]
fn holds_json_reused_ids_and_page_language() {
    let (e, secrets) = clients();
    // `client rm` is refused under a legal hold, like purge.
    e.cmd(&["client", "set", "acme", "--hold", "court case"])
        .assert()
        .success();
    let out = e.cmd(&["client", "rm", "acme", "--yes"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("legal hold"), "{}", stderr(&out));
    let out = e
        .cmd(&["client", "set", "acme", "--no-hold"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("no legal hold"), "{}", stderr(&out));

    // JSON of the dry run and of the deletion.
    e.cmd(&END_ALTKUNDE).assert().success();
    let dry = e.json(&["purge", "--json"]);
    assert_eq!(dry["would_delete"], serde_json::json!(["altkunde"]));
    assert_eq!(dry["clients"][0]["id"], "altkunde");
    let done = e.json(&["purge", "--confirm", "--json"]);
    assert_eq!(done["deleted"][0]["id"], "altkunde");
    assert!(done["copies"].as_array().unwrap().len() > 3);
    let text = done.to_string() + &e.stdout(&["status"]) + &e.stdout(&["audit"]);
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret in purge, status or audit output"
        );
    }

    // The id used again: the new client's report does not show the old one's history.
    e.cmd(&["client", "add", "altkunde", "--name", "Neue Altkunde GmbH"])
        .assert()
        .success();
    let r = e.json(&["gdpr", "report", "altkunde", "--json"]);
    let events = r["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["action"], "client.add");
    assert!(!r.to_string().contains("Altkunde KG"));

    // Each page says its language.
    let en = e.stdout(&["gdpr", "report", "acme", "--lang", "en"]);
    assert!(en.contains("<html lang=\"en\">"));
    let de = e.stdout(&["gdpr", "records"]);
    assert!(de.contains("<html lang=\"de\">"));
}
