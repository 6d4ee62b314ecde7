//! The human-readable parts of a client package: the bilingual README and the
//! self-contained, printable credentials sheet (docs/export-format.md#package).

use std::fmt::Write;

use crate::client::ClientFile;
use crate::export::{Origin, attachment_path};
use crate::secret::SecretText;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An inline SVG QR code of `text` (medium error correction), or `None` if it does
/// not fit a QR code.
pub fn qr_svg(text: &str) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
    )
}

fn date(rfc3339: &str) -> &str {
    &rfc3339[..10.min(rfc3339.len())]
}

/// `README.txt`, German first, then English.
pub fn readme(client: &ClientFile, origin: &Origin) -> String {
    let day = date(origin.exported);
    format!(
        "Zugangsdaten / Access data: {name}\n\
=============================================================\n\
\n\
DEUTSCH\n\
\n\
Dieses Paket enthält alle Zugangsdaten zu Ihren Systemen (Server, Hosting,\n\
Domains, DNS, Datenbanken, CMS, E-Mail), die {from} für Sie verwaltet.\n\
Stand: {day}. Es wurde mit baton erstellt und mit age verschlüsselt.\n\
\n\
Inhalt:\n\
  credentials.html  druckbare Übersicht, ein Abschnitt je System; TOTP-Codes als\n\
                    QR-Code zum Einscannen in eine Authenticator-App\n\
  credentials.json  dieselben Daten maschinenlesbar (Format baton-export v1)\n\
  attachments/      Dateien zu den Einträgen, z. B. SSH-Schlüssel\n\
\n\
Öffnen: Sie haben dieses Paket als Datei mit der Endung .age erhalten. Mit dem\n\
freien Programm age (https://age-encryption.org) entschlüsseln Sie es:\n\
  age -d -i ihr-schluessel.txt paket.age > paket.tar      (mit Ihrem age-Schlüssel)\n\
  age -d -i ~/.ssh/id_ed25519 paket.age > paket.tar       (mit Ihrem SSH-Schlüssel)\n\
  age -d paket.age > paket.tar                            (mit Passwort; age fragt)\n\
  tar -xf paket.tar\n\
\n\
Bewahren Sie die Dateien sicher auf (verschlüsselt, z. B. in einem\n\
Passwortmanager) und löschen Sie die entpackten Kopien nach Gebrauch.\n\
Wenn {from} nicht erreichbar ist, kann jede Fachperson Ihre Systeme mit\n\
diesen Daten übernehmen. Ändern Sie nach einer Übernahme die Passwörter.\n\
\n\
ENGLISH\n\
\n\
This package holds all access data to your systems (servers, hosting, domains,\n\
DNS, databases, CMS, mail) that {from} manages for you, as of {day}.\n\
It was made with baton and encrypted with age.\n\
\n\
Contents:\n\
  credentials.html  printable overview, one section per system; TOTP seeds as QR\n\
                    codes to scan into an authenticator app\n\
  credentials.json  the same data, machine-readable (format baton-export v1)\n\
  attachments/      files stored with the entries, such as SSH keys\n\
\n\
To open it, use the free program age (https://age-encryption.org):\n\
  age -d -i your-key.txt package.age > package.tar        (with your age key)\n\
  age -d -i ~/.ssh/id_ed25519 package.age > package.tar   (with your SSH key)\n\
  age -d package.age > package.tar                        (with a passphrase)\n\
  tar -xf package.tar\n\
\n\
Keep these files safe (encrypted, for example in a password manager) and delete\n\
unpacked copies after use. If {from} cannot be reached, any competent\n\
administrator can take over your systems with this data. Change the passwords\n\
after a takeover.\n",
        name = client.name,
        from = origin.from,
    )
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem;color:#111;max-width:60rem}\
h1{font-size:1.6rem;margin-bottom:.2rem}.meta{color:#444;margin-top:0}\
section{border:1px solid #bbb;border-radius:6px;padding:1rem 1.2rem;margin:1rem 0;page-break-inside:avoid;display:flow-root}\
h2{font-size:1.2rem;margin:0 0 .6rem}.kind{font-size:.8rem;background:#eee;border-radius:4px;padding:.1rem .4rem;margin-left:.5rem;font-weight:normal;vertical-align:middle}\
table{border-collapse:collapse}th{text-align:left;padding:.2rem 1rem .2rem 0;color:#444;font-weight:600;vertical-align:top}\
td{padding:.2rem 0;vertical-align:top}code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:1rem;word-break:break-all}\
.qr{float:right;margin-left:1rem;text-align:center;font-size:.75rem;color:#444}.qr svg{width:180px;height:180px;display:block}\
.note{white-space:pre-wrap}.warn{border-left:4px solid #b00;padding-left:.8rem;color:#333}\
@media print{body{margin:1cm}section{border-color:#888}}";

/// `credentials.html`: one section per system, self-contained (no external resources),
/// printable. Every value is HTML-escaped.
pub fn html(client: &ClientFile, origin: &Origin) -> String {
    let mut h = String::new();
    let title = format!("Zugangsdaten / Access data: {}", client.name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"de\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n\
<p class=\"meta\">{}{} &middot; von / from {} &middot; Stand / as of {}</p>\n\
<p class=\"warn\">Vertraulich: enthält Passwörter. Sicher aufbewahren, nicht weitergeben.<br>\
Confidential: contains passwords. Keep it safe, do not pass it on.</p>\n",
        esc(&title),
        esc(&client.name),
        esc(&client.id),
        if client.contact.is_empty() {
            String::new()
        } else {
            format!(" &middot; {}", esc(&client.contact))
        },
        esc(origin.from),
        esc(date(origin.exported)),
    );
    if !client.notes.is_empty() {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(&client.notes));
    }
    for e in &client.entries {
        let _ = write!(
            h,
            "<section id=\"entry-{}\">\n<h2>{}<span class=\"kind\">{}</span></h2>\n",
            esc(&e.name),
            esc(&e.name),
            e.kind.as_str()
        );
        if let Some(uri) = e.totp.as_ref().map(SecretText::expose)
            && let Some(svg) = qr_svg(uri)
        {
            let _ = writeln!(
                h,
                "<div class=\"qr\" data-totp=\"{}\">{svg}TOTP</div>",
                esc(&e.name)
            );
        }
        h.push_str("<table>\n");
        let mut row = |label: &str, value: &str, code: bool| {
            if value.is_empty() {
                return;
            }
            let v = if code {
                format!("<code>{}</code>", esc(value))
            } else {
                esc(value)
            };
            let _ = writeln!(h, "<tr><th>{label}</th><td>{v}</td></tr>");
        };
        row("URL", &e.url, true);
        row("Benutzer / User", &e.user, true);
        row(
            "Passwort / Password",
            e.password.as_ref().map(SecretText::expose).unwrap_or(""),
            true,
        );
        row(
            "TOTP",
            e.totp.as_ref().map(SecretText::expose).unwrap_or(""),
            true,
        );
        row("Notiz / Note", &e.note, false);
        row("Tags", &e.tags.join(", "), false);
        let files: Vec<String> = e
            .attachments
            .iter()
            .map(|a| attachment_path(&e.name, &a.name))
            .collect();
        row("Dateien / Files", &files.join(", "), true);
        row("Geändert / Changed", date(&e.updated), false);
        h.push_str("</table>\n</section>\n");
    }
    if client.entries.is_empty() {
        h.push_str("<p>Keine Einträge / No entries.</p>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn qr_code_is_svg() {
        let svg = qr_svg("otpauth://totp/x?secret=GEZDGNBV").unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        assert!(svg.contains("<path") || svg.contains("<rect"));
    }
}
