//! The printable emergency kit of one share holder (docs/recovery.md): a self-contained
//! HTML page with the share as numbered words and as a QR code, who else holds shares,
//! and instructions in German and English for the holder and for the colleague who
//! takes over, including the way without baton.

use std::fmt::{self, Write};

use zeroize::Zeroizing;

use crate::emergency::{HolderShare, Policy, format_check};
use crate::render::sheet::{date, esc_into, head, qr_svg, render_exact};
use crate::store::header::Header;
use crate::store::index::OwnerProfile;

/// Everything public a kit shows besides the share itself.
pub struct KitContext<'a> {
    pub header: &'a Header,
    pub owner: &'a OwnerProfile,
    pub policy: &'a Policy,
}

/// Turns the emergency secret printed by `shamir recover` (64 hex digits on stdin) into
/// an age identity file, without any library: Bech32 as in BIP-173, human-readable
/// part `age-secret-key-`, upper case. Printed in every kit and in docs/recovery.md.
pub const AGE_KEY_PY: &str = r#"import sys
CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
GEN = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
def polymod(values):
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= GEN[i]
    return chk
line = sys.stdin.readline().strip().split(":")[-1].strip()
secret = bytes.fromhex(line)
assert len(secret) == 32, "expected 64 hex digits"
data, acc, bits = [], 0, 0
for byte in secret:
    acc, bits = (acc << 8) | byte, bits + 8
    while bits >= 5:
        bits -= 5
        data.append((acc >> bits) & 31)
if bits:
    data.append((acc << (5 - bits)) & 31)
hrp = "age-secret-key-"
expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
pm = polymod(expanded + data + [0] * 6) ^ 1
data += [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
print((hrp + "1" + "".join(CHARSET[d] for d in data)).upper())
"#;

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem;color:#111;max-width:60rem;line-height:1.4}\
h1{font-size:1.6rem;margin-bottom:.2rem}.meta{color:#333;margin-top:0}\
section{border:1px solid #bbb;border-radius:6px;padding:.8rem 1.2rem;margin:1rem 0;page-break-inside:avoid;display:flow-root}\
h2{font-size:1.15rem;margin:0 0 .5rem}h3{font-size:1rem;margin:.8rem 0 .3rem}\
.warn{border-left:4px solid #b00;padding-left:.8rem}\
ol.words{columns:3;column-gap:2rem;margin:.5rem 0;padding-left:2.2rem;font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:1.05rem}\
ol.words li{padding:.1rem 0}\
.qr{float:right;margin-left:1rem;text-align:center;font-size:.75rem;color:#444}.qr svg{width:240px;height:240px;display:block}\
.check{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:1.1rem;font-weight:600}\
pre{background:#f4f4f4;padding:.5rem .7rem;border-radius:4px;white-space:pre-wrap;word-break:break-all;font-size:.85rem}\
code{font-family:ui-monospace,'DejaVu Sans Mono',monospace}\
.lang{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}\
@media print{body{margin:1cm}.share{page-break-after:always}}";

fn text(w: &mut dyn Write, s: &str) -> fmt::Result {
    esc_into(w, s)
}

fn render(
    w: &mut dyn Write,
    ctx: &KitContext,
    share: &HolderShare,
    qr: Option<&str>,
) -> fmt::Result {
    let h = ctx.header;
    let holder = &share.holder.name;
    let owner = if ctx.owner.name.is_empty() {
        "(ohne Namen / no name set)"
    } else {
        ctx.owner.name.as_str()
    };
    let set = &h.share_set;
    let words: Vec<&str> = share.mnemonic.expose_words().split(' ').collect();

    head(w, "de", "Notfall-Kit / Emergency kit: ", holder, CSS)?;
    w.write_str("<h1>Notfall-Kit / Emergency kit: ")?;
    text(w, holder)?;
    w.write_str("</h1>\n<p class=\"meta\">Tresor von / Vault of <b>")?;
    text(w, owner)?;
    w.write_str("</b>")?;
    if !ctx.owner.contact.is_empty() {
        w.write_str(" (")?;
        text(w, &ctx.owner.contact)?;
        w.write_str(")")?;
    }
    writeln!(
        w,
        "<br>Tresor-ID / vault id <code>{}</code><br>Anteilssatz / share set <code>{}</code> vom / of {}</p>",
        h.vault_id,
        set.id,
        date(&set.created)
    )?;
    w.write_str(
        "<p class=\"warn\">Geheim. Bewahren Sie dieses Blatt sicher auf (Tresor, Schublade mit Schloss). \
Zeigen und kopieren Sie es niemandem und fotografieren Sie es nicht. Allein öffnet es nichts.<br>\
Secret. Keep this sheet safe (a safe, a locked drawer). Do not show, copy or photograph it. \
On its own it opens nothing.</p>\n",
    )?;

    // Who is needed.
    w.write_str("<section>\n<h2>Wer gebraucht wird / Who is needed</h2>\n<p>")?;
    let multi = ctx.policy.groups.len() > 1;
    if multi {
        w.write_str("Alle diese Bedingungen zusammen / All of these together:")?;
    } else {
        w.write_str("Um den Notfallschlüssel wiederherzustellen / To rebuild the emergency key:")?;
    }
    w.write_str("</p>\n<ul>\n")?;
    for g in &ctx.policy.groups {
        write!(w, "<li>{} von / of: ", g.threshold)?;
        text(w, &g.holders.join(", "))?;
        if g.threshold == 1 && g.holders.len() > 1 {
            w.write_str(
                " (jede/r hat eine Kopie desselben Anteils / each holds a copy of the same share)",
            )?;
        }
        w.write_str("</li>\n")?;
    }
    w.write_str("</ul>\n<p>Ihr Anteil / Your share: ")?;
    if multi {
        write!(w, "Gruppe / group {}, ", share.holder.group + 1)?;
    }
    writeln!(w, "Anteil / share {}.</p>", share.holder.member + 1)?;
    w.write_str("<p>Vertretung, die im Notfall übernimmt / the colleague who takes over: <b>")?;
    if ctx.owner.successor.is_empty() {
        w.write_str("(nicht benannt / not named)")?;
    } else {
        text(w, &ctx.owner.successor)?;
    }
    write!(
        w,
        "</b></p>\n<p>Öffentlicher Notfallschlüssel / public emergency key: <code>{}</code></p>\n</section>\n",
        h.recipients.emergency
    )?;

    // The share.
    write!(
        w,
        "<section class=\"share\">\n<h2>Ihr Anteil / Your share ({} Wörter / words)</h2>\n",
        words.len()
    )?;
    if let Some(svg) = qr {
        w.write_str("<div class=\"qr\">")?;
        w.write_str(svg)?;
        w.write_str("QR: dieselben Wörter / the same words</div>\n")?;
    }
    w.write_str("<ol class=\"words\">\n")?;
    for word in &words {
        w.write_str("<li>")?;
        w.write_str(word)?;
        w.write_str("</li>\n")?;
    }
    write!(
        w,
        "</ol>\n<p>Prüfcode / check code: <span class=\"check\">{}</span><br>\
<small>baton zeigt diesen Code, wenn der Anteil richtig eingegeben ist. \
baton shows this code when the share was typed correctly. \
Die ersten vier Buchstaben jedes Wortes genügen / the first four letters of each word are enough.</small></p>\n</section>\n",
        format_check(&share.check)
    )?;

    // For the holder.
    let check_cmd = format!(
        "<code>baton emergency check-share --vault-id {}</code>",
        h.vault_id
    );
    w.write_str(
        "<section>\n<h2>Für Sie als Inhaber/in / For you, the holder</h2>\n<div class=\"lang\">\n<div>\n\
<ul>\n<li>Bewahren Sie dieses Blatt auf, bis Sie ein neues bekommen. Ein neues Blatt (neuer Anteilssatz) ersetzt dieses; vernichten Sie dann das alte.</li>\n\
<li>Einmal im Jahr prüfen, mit baton: ",
    )?;
    w.write_str(&check_cmd)?;
    w.write_str(
        " eingeben, Wörter tippen; baton zeigt den Prüfcode, der dem auf diesem Blatt gleichen muss. \
Mit einer Kopie des Tresors (<code>--vault VAULT</code>) sagt es auch, ob der Anteil zum aktuellen Satz gehört. \
Oder der Eigentümer lädt zu einer Übung ein (<code>baton emergency drill</code>).</li>\n\
<li>Geben Sie den Anteil nur heraus, wenn ",
    )?;
    text(w, owner)?;
    w.write_str(
        " nicht mehr handeln kann und die oben genannte Vertretung Sie darum bittet (ist keine genannt: nur jemand, von dem Sie wissen, dass der Eigentümer ihm vertraut). Tippen Sie ihn dann selbst ein oder übergeben Sie das Blatt persönlich.</li>\n\
<li>Verlust oder Verdacht auf Diebstahl: sofort melden; dann werden neue Anteile ausgegeben.</li>\n</ul>\n</div>\n<div>\n<ul>\n\
<li>Keep this sheet until you receive a new one. A new sheet (new share set) replaces it; then destroy the old one.</li>\n\
<li>Check it once a year, with baton: run ",
    )?;
    w.write_str(&check_cmd)?;
    w.write_str(
        " and type the words; baton shows the check code, which must equal the one on this sheet. \
With a copy of the vault (<code>--vault VAULT</code>) it also says whether the share belongs to the current set. \
Or the owner invites the holders to a drill (<code>baton emergency drill</code>).</li>\n\
<li>Hand the share over only when ",
    )?;
    text(w, owner)?;
    w.write_str(
        " can no longer act and the colleague named above asks for it (if none is named: only someone you know the owner trusts). Type it in yourself, or hand over the sheet in person.</li>\n\
<li>Lost or possibly stolen: say so at once; new shares will then be issued.</li>\n</ul>\n</div>\n</div>\n</section>\n",
    )?;

    // For the colleague.
    w.write_str(
        "<section>\n<h2>Für die Vertretung / For the colleague who takes over</h2>\n<p>Kopien des Tresors / copies of the vault: <b>",
    )?;
    if ctx.owner.vault_copies.is_empty() {
        w.write_str("(nicht vermerkt / not recorded)")?;
    } else {
        text(w, &ctx.owner.vault_copies)?;
    }
    w.write_str(
        "</b><br>In den Befehlen / in the commands: <code>VAULT</code> = der Tresor-Ordner / the vault folder; \
<code>KEYDIR</code> = ein neuer Ordner auf einem verschlüsselten Datenträger / a new folder on an encrypted disk.</p>\n\
<div class=\"lang\">\n<div>\n<ol>\n\
<li>Besorgen Sie eine Kopie des Tresor-Ordners (mit <code>vault.json</code>), z.&nbsp;B. aus dem synchronisierten Ordner, vom Notfall-USB-Stick oder vom Laptop. Tresor-ID siehe oben.</li>\n\
<li>Bringen Sie die oben genannten Personen zusammen (oder lassen Sie sie ihre Wörter selbst eintippen).</li>\n\
<li>Mit baton: <code>baton recover --vault VAULT --out-dir KEYDIR</code>. baton fragt die Anteile Wort für Wort ab (oder: die Wörter jedes Kits in eine Textdatei schreiben und <code>--share-file DATEI</code> je Kit angeben) und prüft den Schlüssel, bevor es etwas entschlüsselt. Jeder angenommene Anteil zeigt seinen Prüfcode: er muss dem auf dem Kit gleichen. Danach: <code>baton --identity KEYDIR/emergency-key.txt --vault VAULT list</code>, <code>show</code>, <code>get</code>, <code>export</code>, und zur Übernahme <code>baton takeover</code>.</li>\n\
<li>Ohne baton: die Befehle unten; sie brauchen nur Python&nbsp;3 und das Programm <code>age</code>.</li>\n</ol>\n</div>\n<div>\n<ol>\n\
<li>Get a copy of the vault folder (the one with <code>vault.json</code>): from the synced folder, the escrow USB stick or the laptop. The vault id is above.</li>\n\
<li>Bring the people named above together (or have each type their own words).</li>\n\
<li>With baton: <code>baton recover --vault VAULT --out-dir KEYDIR</code>. baton asks for the shares word by word (or: write each kit's words into a text file and give <code>--share-file FILE</code> per kit) and proves the key before it decrypts anything. Each accepted share shows its check code, which must equal the kit's. Then: <code>baton --identity KEYDIR/emergency-key.txt --vault VAULT list</code>, <code>show</code>, <code>get</code>, <code>export</code>, and to take over, <code>baton takeover</code>.</li>\n\
<li>Without baton, with Python&nbsp;3 and the <code>age</code> program only (Debian: <code>apt install age python3-venv</code>):</li>\n</ol>\n</div>\n</div>\n",
    )?;
    w.write_str(
        "<h3>Ohne baton / Without baton</h3>\n\
<p>1. Das SLIP-39-Referenzprogramm installieren und die Anteile eingeben: die Wörter eines Kits ausgeschrieben in <b>eine</b> Zeile, durch Leerzeichen getrennt, Enter; dann das nächste Kit /\
 install the SLIP-39 reference program and enter the shares: one kit's words, in full, on <b>one</b> line separated by spaces, Enter; then the next kit:</p>\n\
<pre class=\"cmd\" id=\"step-shamir\">python3 -m venv slip39\nslip39/bin/pip install 'shamir-mnemonic[cli]'\nslip39/bin/shamir recover</pre>\n\
<p>2. Es zeigt / It prints <code>Your master secret is: …</code> (64 Zeichen / characters). Diese Zeile in das Skript unten geben; es schreibt den Schlüssel für <code>age</code> /\
 Feed that line to the script below; it writes the key for <code>age</code>:</p>\n\
<pre class=\"cmd\" id=\"step-key\">umask 077; python3 age-key.py &gt; emergency-key.txt</pre>\n\
<p>Es wartet ohne Anzeige: die Zeile einfügen, Enter. / It waits silently: paste the line, press Enter. (<code>umask 077</code>: nur Sie können die Dateien lesen / only you can read the files.)</p>\n",
    )?;
    writeln!(
        w,
        "<p>Die erste Zeile von <code>emergency-key.txt</code> beginnt mit <code>AGE-SECRET-KEY-1</code>; <code>age-keygen -y emergency-key.txt</code> muss <code>{}</code> zeigen. /\
 <code>age-keygen -y emergency-key.txt</code> must print <code>{}</code>.</p>",
        h.recipients.emergency, h.recipients.emergency
    )?;
    w.write_str(
        "<p>3. Jede Kundendatei entschlüsseln; jede Datei mit <code>\"format\":\"baton-client\"</code> enthält einen Kunden mit allen Zugangsdaten /\
 Decrypt every client file; each file with <code>\"format\":\"baton-client\"</code> holds one client with all its access data:</p>\n\
<pre class=\"cmd\" id=\"step-decrypt\">umask 077; mkdir plain\nfor f in VAULT/clients/*.age; do age -d -i emergency-key.txt -o \"plain/$(basename \"$f\" .age).json\" \"$f\"; done\ngrep -l '\"format\":\"baton-client\"' plain/*.json</pre>\n\
<p>Lesbar machen / to read one: <code>python3 -m json.tool plain/DATEI.json</code>; einen Kunden finden / find a client: <code>grep -l 'ACME' plain/*.json</code>.</p>\n\
<p>Skript / script <code>age-key.py</code>:</p>\n<pre id=\"age-key-py\">",
    )?;
    text(w, AGE_KEY_PY)?;
    w.write_str(
        "</pre>\n<p>Die entschlüsselten Dateien enthalten alle Passwörter: auf einem verschlüsselten Datenträger halten und nach der Übernahme löschen. /\
 The decrypted files hold every password: keep them on an encrypted disk and delete them after the takeover.</p>\n</section>\n</body>\n</html>\n",
    )
}

/// The kit page of one holder. Secret (it holds the share): wiped on drop.
pub fn html(ctx: &KitContext, share: &HolderShare) -> Zeroizing<String> {
    // The QR code once (rendering runs twice: see render_exact).
    let qr = qr_svg(share.mnemonic.expose_words());
    render_exact(|w| render(w, ctx, share, qr.as_deref().map(String::as_str)))
}
