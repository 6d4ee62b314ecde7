//! The printable sheet rendered by a real browser (Debian's headless Chromium): the
//! screenshot's QR codes decode (zbarimg) back to the exact otpauth URIs.

mod common;

use common::{Env, have, required};
use std::fs;
use std::process::Command;

const URIS: [&str; 2] = [
    "otpauth://totp/Registrar:acme?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Registrar",
    "otpauth://totp/Panel:admin%40acme.example?secret=JBSWY3DPEHPK3PXP&issuer=Panel&digits=6&period=30",
];

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| have(c))
}

#[test]
fn sheet_renders_in_chromium_and_its_qr_codes_decode() {
    let Some(browser) = chromium().filter(|_| have("zbarimg")) else {
        assert!(
            !required(),
            "CI needs chromium and zbarimg (apt-get install chromium zbar-tools)"
        );
        eprintln!("skipping: chromium or zbarimg not installed");
        return;
    };
    let e = Env::init();
    e.cmd(&["client", "add", "acme", "--name", "ACME GmbH"])
        .assert()
        .success();
    for (i, uri) in URIS.iter().enumerate() {
        let t = e.file(&format!("totp{i}.txt"), &format!("{uri}\n"));
        e.cmd(&[
            "entry",
            "add",
            "acme",
            &format!("entry{i}"),
            "--generate",
            "--totp",
        ])
        .arg(&t)
        .assert()
        .success();
    }
    let sheet = e.dir.path().join("sheet.html");
    e.cmd(&["export", "acme", "--format", "html", "--yes", "-o"])
        .arg(&sheet)
        .assert()
        .success();

    let shot = e.dir.path().join("shot.png");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1000,1600",
        ])
        .arg(format!(
            "--user-data-dir={}",
            e.dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", sheet.display()))
        .output()
        .unwrap();
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        fs::metadata(&shot).unwrap().len() > 10_000,
        "screenshot looks empty"
    );

    let z = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&shot)
        .output()
        .unwrap();
    let mut decoded: Vec<String> = String::from_utf8(z.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    decoded.sort();
    let mut expected: Vec<String> = URIS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(decoded, expected);
}
