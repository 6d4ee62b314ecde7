//! The human-readable parts of a client package: the bilingual README and the
//! self-contained, printable credentials sheet (docs/export-format.md#package).

use std::fmt::{self, Write};

use zeroize::Zeroizing;

use crate::client::ClientFile;
use crate::crypto::secret::SecretText;

/// Writes `s` escaped for HTML element content and double-quoted attributes, straight
/// into the output (no intermediate copy of secret values).
pub(crate) fn esc_into(w: &mut (impl Write + ?Sized), s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '&' => w.write_str("&amp;")?,
            '<' => w.write_str("&lt;")?,
            '>' => w.write_str("&gt;")?,
            '"' => w.write_str("&quot;")?,
            '\'' => w.write_str("&#39;")?,
            c => w.write_char(c)?,
        }
    }
    Ok(())
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    esc_into(&mut out, s).expect("writing to a String");
    out
}

/// An inline SVG QR code of `text` (medium error correction), or `None` if it does
/// not fit a QR code. Wiped on drop: the modules encode the secret.
pub fn qr_svg(text: &str) -> Option<Zeroizing<String>> {
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = Zeroizing::new(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
    );
    // Inline SVG in HTML takes no XML declaration.
    let start = svg.find("<svg").unwrap_or(0);
    Some(Zeroizing::new(svg[start..].to_string()))
}

pub(crate) use crate::time::day_of as date;

/// Renders twice: once to measure, once into a buffer of exactly that size, so no
/// reallocation leaves an unwiped copy of the secrets behind; wiped on drop.
pub(crate) fn render_exact(render: impl Fn(&mut dyn Write) -> fmt::Result) -> Zeroizing<String> {
    struct Count(usize);
    impl Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    render(&mut count).expect("counting cannot fail");
    let mut out = Zeroizing::new(String::with_capacity(count.0));
    render(&mut *out).expect("writing to a String");
    out
}

/// Who hands the package over, and when.
pub struct Origin<'a> {
    pub from: &'a str,
    /// RFC 3339 time of the export.
    pub exported: &'a str,
}

/// Path of an attachment inside the package.
pub fn attachment_path(entry: &str, name: &str) -> String {
    format!("attachments/{entry}/{name}")
}

/// `README.txt`, German first, then English.
pub fn readme(client: &ClientFile, origin: &Origin) -> String {
    let day = date(origin.exported);
    format!(
        "Zugangsdaten / Access data: {name}\n\
Von / From: {from}\n\
Stand / As of: {day}\n\
=============================================================\n\
\n\
DEUTSCH\n\
\n\
Dieses Paket enthält alle Zugangsdaten zu Ihren Systemen (Server, Hosting,\n\
Domains, DNS, Datenbanken, CMS, E-Mail), die wir für Sie verwalten, mit dem\n\
Stand vom {day}. Es wurde mit baton erstellt und mit age verschlüsselt.\n\
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
Wenn wir nicht erreichbar sind, kann jede Fachperson Ihre Systeme mit diesen\n\
Daten übernehmen. Ändern Sie nach einer Übernahme die Passwörter.\n\
\n\
ENGLISH\n\
\n\
This package holds all access data to your systems (servers, hosting, domains,\n\
DNS, databases, CMS, mail) that we manage for you, as of {day}.\n\
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
unpacked copies after use. If we cannot be reached, any competent administrator\n\
can take over your systems with this data. Change the passwords after a takeover.\n",
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

/// One table row; empty values are left out. `code` sets the value in monospace.
fn row(w: &mut dyn Write, label: &str, value: &str, code: bool) -> fmt::Result {
    if value.is_empty() {
        return Ok(());
    }
    write!(w, "<tr><th>{label}</th><td")?;
    if !code {
        w.write_str(" class=\"note\"")?;
    }
    w.write_str(">")?;
    if code {
        w.write_str("<code>")?;
    }
    esc_into(&mut *w, value)?;
    if code {
        w.write_str("</code>")?;
    }
    w.write_str("</td></tr>\n")
}

/// The start of a self-contained page, up to `<body>`: a Content-Security-Policy that
/// forbids every external resource, the title `prefix` + `name` (escaped), the style.
/// `lang` is the page's language (`de`, `en`).
pub(crate) fn head(
    w: &mut dyn Write,
    lang: &str,
    prefix: &str,
    name: &str,
    css: &str,
) -> fmt::Result {
    write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n<title>",
    )?;
    w.write_str(prefix)?;
    esc_into(&mut *w, name)?;
    write!(w, "</title>\n<style>{css}</style>\n</head>\n<body>\n")
}

fn render_html(w: &mut dyn Write, client: &ClientFile, origin: &Origin) -> fmt::Result {
    head(w, "de", "Zugangsdaten / Access data: ", &client.name, CSS)?;
    w.write_str("<h1>")?;
    esc_into(&mut *w, &client.name)?;
    w.write_str("</h1>\n<p class=\"meta\">")?;
    esc_into(&mut *w, &client.id)?;
    if !client.contact.is_empty() {
        w.write_str(" &middot; ")?;
        esc_into(&mut *w, &client.contact)?;
    }
    w.write_str(" &middot; von / from ")?;
    esc_into(&mut *w, origin.from)?;
    w.write_str(" &middot; Stand / as of ")?;
    esc_into(&mut *w, date(origin.exported))?;
    w.write_str(
        "</p>\n<p class=\"warn\">Vertraulich: enthält Passwörter. Sicher aufbewahren, nicht weitergeben.<br>\
Confidential: contains passwords. Keep it safe, do not pass it on.</p>\n",
    )?;
    if !client.notes.is_empty() {
        w.write_str("<p class=\"note\">")?;
        esc_into(&mut *w, &client.notes)?;
        w.write_str("</p>\n")?;
    }
    for e in &client.entries {
        w.write_str("<section id=\"entry-")?;
        esc_into(&mut *w, &e.name)?;
        w.write_str("\">\n<h2>")?;
        esc_into(&mut *w, &e.name)?;
        writeln!(w, "<span class=\"kind\">{}</span></h2>", e.kind.as_str())?;
        if let Some(uri) = e.totp.as_ref().map(SecretText::expose)
            && let Some(svg) = qr_svg(uri)
        {
            w.write_str("<div class=\"qr\">")?;
            w.write_str(&svg)?;
            w.write_str("TOTP</div>\n")?;
        }
        w.write_str("<table>\n")?;
        row(w, "URL", &e.url, true)?;
        row(w, "Benutzer / User", &e.user, true)?;
        let password = e.password.as_ref().map(SecretText::expose).unwrap_or("");
        row(w, "Passwort / Password", password, true)?;
        let totp = e.totp.as_ref().map(SecretText::expose).unwrap_or("");
        row(w, "TOTP", totp, true)?;
        row(w, "Notiz / Note", &e.note, false)?;
        row(w, "Tags", &e.tags.join(", "), false)?;
        let files: Vec<String> = e
            .attachments
            .iter()
            .map(|a| attachment_path(&e.name, &a.name))
            .collect();
        row(w, "Dateien / Files", &files.join(", "), true)?;
        row(w, "Geändert / Changed", date(&e.updated), false)?;
        w.write_str("</table>\n</section>\n")?;
    }
    if client.entries.is_empty() {
        w.write_str("<p>Keine Einträge / No entries.</p>\n")?;
    }
    w.write_str("</body>\n</html>\n")
}

/// `credentials.html`: one section per system, self-contained (no external resources),
/// printable. Every value is HTML-escaped. Secret: wiped on drop.
pub fn html(client: &ClientFile, origin: &Origin) -> Zeroizing<String> {
    render_exact(|w| render_html(w, client, origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn qr_code_is_inline_svg() {
        let svg = qr_svg("otpauth://totp/x?secret=GEZDGNBV").unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<path") || svg.contains("<rect"));
    }

    #[test]
    fn exact_rendering_does_not_reallocate() {
        let s = render_exact(|w| {
            for i in 0..100 {
                writeln!(w, "line {i}")?;
            }
            Ok(())
        });
        assert_eq!(s.len(), s.capacity());
    }
}
