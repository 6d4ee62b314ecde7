//! The printable sheet rendered by a real browser (Debian's headless Chromium): the
//! screenshot's QR codes decode (zbarimg) back to the exact otpauth URIs.

mod common;

use common::Env;
use std::fs;
use std::process::Command;

const URIS: [&str; 2] = [
    "otpauth://totp/Registrar:acme?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Registrar",
    "otpauth://totp/Panel:admin%40acme.example?secret=JBSWY3DPEHPK3PXP&issuer=Panel&digits=6&period=30",
];

#[test]
#[ignore = "needs chromium, zbarimg; run with --include-ignored (CI does)"]
fn sheet_renders_in_chromium_and_its_qr_codes_decode() {
    let browser = common::need_browser_and_qr_decoder();
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
    common::screenshot(
        browser,
        &sheet,
        &shot,
        &e.dir.path().join("profile"),
        "1000,1600",
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
