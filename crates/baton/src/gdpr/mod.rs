//! GDPR duties (docs/gdpr.md): retention and purge of former clients, the access
//! report of GDPR Art. 15, and the records overview of all processing. Reports and
//! deletion records hold names, counts and dates, never a secret value.

use std::fmt::{self, Write};

use serde::Serialize;

use crate::audit::{AuditAction, AuditRecord};
use crate::client::{ClientSummary, DpaStatus, EntryKind, Lifecycle};
use crate::render::sheet::{esc_into, head};
use crate::time::now;
use crate::vault::{Vault, VaultError};

mod purge;

pub use purge::{
    PurgeBasis, PurgeCandidate, PurgeError, PurgePlan, PurgeStatus, PurgeTarget, Purged,
};

/// Audit actions that decrypt every client's data, so that an access report lists them.
/// Actions about the whole vault that also reach every client's data: they belong in
/// each client's access report.
fn vault_wide_access(action: &AuditAction) -> bool {
    matches!(
        action,
        AuditAction::EmergencyRecover | AuditAction::VaultTakeover
    )
}

/// A data category of GDPR Art. 15, with its labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    ServerAccess,
    HostingPanels,
    Domains,
    Databases,
    Cms,
    Mail,
    ApiKeys,
    Other,
}

impl Category {
    pub fn of(kind: EntryKind) -> Category {
        match kind {
            EntryKind::Server | EntryKind::Ssh => Category::ServerAccess,
            EntryKind::Panel => Category::HostingPanels,
            EntryKind::Domain | EntryKind::Dns => Category::Domains,
            EntryKind::Database => Category::Databases,
            EntryKind::Cms => Category::Cms,
            EntryKind::Mail => Category::Mail,
            EntryKind::Api => Category::ApiKeys,
            EntryKind::Other => Category::Other,
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        let (de, en) = match self {
            Category::ServerAccess => ("Serverzugänge (SSH)", "server access (SSH)"),
            Category::HostingPanels => ("Hosting-Verwaltung", "hosting panels"),
            Category::Domains => ("Domains und DNS", "domains and DNS"),
            Category::Databases => ("Datenbanken", "databases"),
            Category::Cms => ("CMS-Zugänge", "CMS logins"),
            Category::Mail => ("E-Mail-Konten", "mail accounts"),
            Category::ApiKeys => ("API-Schlüssel", "API keys"),
            Category::Other => ("Sonstige Zugänge", "other access data"),
        };
        lang.pick(de, en)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    De,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    fn pick(self, de: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::De => de,
            Lang::En => en,
        }
    }
}

/// Entries of one category of one client: how many, first created, last changed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CategoryCount {
    pub category: Category,
    pub entries: usize,
    pub passwords: usize,
    pub totp: usize,
    pub attachments: usize,
    pub last_changed: String,
}

/// What is held about one client, by category (names and counts, no values).
pub fn categories(c: &ClientSummary) -> Vec<CategoryCount> {
    let mut out: Vec<CategoryCount> = Vec::new();
    for e in &c.entries {
        let cat = Category::of(e.kind);
        let i = match out.iter().position(|x| x.category == cat) {
            Some(i) => i,
            None => {
                out.push(CategoryCount {
                    category: cat,
                    entries: 0,
                    passwords: 0,
                    totp: 0,
                    attachments: 0,
                    last_changed: String::new(),
                });
                out.len() - 1
            }
        };
        let x = &mut out[i];
        x.entries += 1;
        x.passwords += usize::from(e.has_password);
        x.totp += usize::from(e.has_totp);
        x.attachments += e.attachments.len();
        if e.updated > x.last_changed {
            x.last_changed = e.updated.clone();
        }
    }
    out.sort_by_key(|x| x.category);
    out
}

use crate::time::day_of as day;

/// Where the current client of this id starts in the audit log: its last `client.add`
/// (an id can be used again after a purge; the earlier client's records are another
/// person's).
fn first_seq(records: &[AuditRecord], id: &str) -> u64 {
    records
        .iter()
        .filter(|r| r.action == AuditAction::ClientAdd && r.client.as_deref() == Some(id))
        .map(|r| r.seq)
        .max()
        .unwrap_or(0)
}

/// The records about the current client `id`.
fn history<'a>(records: &'a [AuditRecord], id: &'a str) -> impl Iterator<Item = &'a AuditRecord> {
    let start = first_seq(records, id);
    records
        .iter()
        .filter(move |r| r.seq >= start && r.client.as_deref() == Some(id))
}

/// The clients among `ids` whose content changed after their last export: the
/// package they have is out of date (lifecycle and DPA changes do not count).
pub fn stale_exports(records: &[AuditRecord], ids: &[String]) -> Vec<String> {
    ids.iter()
        .filter(|id| {
            let mut last_export = None;
            let mut last_change = None;
            for r in history(records, id) {
                if r.action == AuditAction::ClientExport {
                    last_export = Some(r.seq);
                } else if r.action.changes_package() {
                    last_change = Some(r.seq);
                }
            }
            matches!((last_export, last_change), (Some(e), Some(c)) if c > e)
        })
        .cloned()
        .collect()
}

/// The lifecycle as the reports show it: the client file's fields (docs/format.md
/// #client-files), its status and the retention date they give.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LifecycleView {
    /// "active" or "ended".
    pub status: &'static str,
    /// When the data is due for deletion; none while active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_date: Option<String>,
    #[serde(flatten)]
    pub lifecycle: Lifecycle,
}

fn lifecycle_view(l: &Lifecycle, months: u32) -> LifecycleView {
    LifecycleView {
        status: if l.ended.is_some() { "ended" } else { "active" },
        retention_date: l.retention_date(months),
        lifecycle: l.clone(),
    }
}

impl Vault {
    /// The access report of GDPR Art. 15 for one client.
    pub fn access_report(&self, id: &str) -> Result<AccessReport, VaultError> {
        let c = self
            .catalog()?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| VaultError::UnknownClient(id.to_string()))?;
        let (records, problems) = self.audit_log();
        let start = first_seq(&records, id);
        let events = records
            .into_iter()
            .filter(|r| {
                r.seq >= start && (r.client.as_deref() == Some(id) || vault_wide_access(&r.action))
            })
            .map(EventView::from)
            .collect();
        let policy = self.policy();
        let owner = &self.index().owner;
        Ok(AccessReport {
            format: "baton-gdpr-report",
            version: 1,
            generated: now(),
            keeper: Party {
                name: owner.name.clone(),
                contact: owner.contact.clone(),
            },
            client: Party {
                name: c.name.clone(),
                contact: c.contact.clone(),
            },
            client_id: c.id.clone(),
            since: c.created.clone(),
            last_changed: c.updated.clone(),
            entries: c.entries.len(),
            categories: categories(&c),
            notes: !c.notes.is_empty() || c.entries.iter().any(|e| !e.note.is_empty()),
            access: Access {
                owner: owner.name.clone(),
                emergency_policy: policy.describe(),
                emergency_holders: policy.holder_names(),
                emergency_groups: groups_of(&policy),
                client_keys: c
                    .recipients
                    .iter()
                    .filter_map(|r| crate::export::PackageRecipient::parse(r).ok())
                    .map(|r| r.fingerprint())
                    .collect(),
            },
            lifecycle: lifecycle_view(&c.lifecycle, self.index().retention_months),
            retention_months: self.index().retention_months,
            purpose: purpose(Lang::En),
            records: c
                .entries
                .iter()
                .map(|e| EntryView {
                    name: e.name.clone(),
                    category: Category::of(e.kind),
                    url: e.url.clone(),
                    user: e.user.clone(),
                    last_changed: e.updated.clone(),
                })
                .collect(),
            events,
            log_problems: problems.len(),
        })
    }

    /// The overview of all processing: every client, and the clients purged so far.
    pub fn records_overview(&self) -> Result<RecordsOverview, VaultError> {
        let months = self.index().retention_months;
        let clients = self
            .catalog()?
            .iter()
            .map(|c| ClientRecord {
                id: c.id.clone(),
                name: c.name.clone(),
                since: c.created.clone(),
                entries: c.entries.len(),
                categories: categories(c).into_iter().map(|x| x.category).collect(),
                lifecycle: lifecycle_view(&c.lifecycle, months),
            })
            .collect();
        let purged = self
            .audit_log()
            .0
            .into_iter()
            .filter(|r| {
                r.action == AuditAction::ClientPurge || r.action == AuditAction::ClientRemove
            })
            .map(EventView::from)
            .collect();
        let policy = self.policy();
        Ok(RecordsOverview {
            format: "baton-gdpr-records",
            version: 1,
            generated: now(),
            keeper: Party {
                name: self.index().owner.name.clone(),
                contact: self.index().owner.contact.clone(),
            },
            retention_months: months,
            emergency_policy: policy.describe(),
            emergency_groups: groups_of(&policy),
            clients,
            purged,
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Party {
    pub name: String,
    pub contact: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Access {
    pub owner: String,
    pub emergency_policy: String,
    pub emergency_holders: Vec<String>,
    /// The policy by group: `threshold` of `holders`, every group needed.
    pub emergency_groups: Vec<GroupView>,
    /// Fingerprints of the client's own keys that packages are encrypted to.
    pub client_keys: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupView {
    pub threshold: u8,
    pub holders: Vec<String>,
}

fn groups_of(p: &crate::emergency::Policy) -> Vec<GroupView> {
    p.groups
        .iter()
        .map(|g| GroupView {
            threshold: g.threshold,
            holders: g.holders.clone(),
        })
        .collect()
}

/// One entry as the access report lists it: what it is and where, never its secret.
#[derive(Clone, Debug, Serialize)]
pub struct EntryView {
    pub name: String,
    pub category: Category,
    pub url: String,
    pub user: String,
    pub last_changed: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct EventView {
    pub time: String,
    pub action: AuditAction,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub detail: String,
}

impl From<AuditRecord> for EventView {
    fn from(r: AuditRecord) -> Self {
        EventView {
            time: r.time,
            action: r.action,
            actor: r.actor,
            client: r.client,
            detail: r.detail,
        }
    }
}

/// The Art. 15 report (docs/gdpr.md#access-report); also its JSON form.
#[derive(Clone, Debug, Serialize)]
pub struct AccessReport {
    pub format: &'static str,
    pub version: u32,
    pub generated: String,
    /// Who keeps the data (the vault's owner).
    pub keeper: Party,
    pub client: Party,
    pub client_id: String,
    pub since: String,
    pub last_changed: String,
    pub entries: usize,
    pub categories: Vec<CategoryCount>,
    pub notes: bool,
    /// The entries by name, category, URL and user: the data held about the client
    /// apart from secret values, which go only into an encrypted package.
    pub records: Vec<EntryView>,
    pub access: Access,
    pub lifecycle: LifecycleView,
    /// Months an ended client's data is kept (the vault's policy).
    pub retention_months: u32,
    pub purpose: &'static str,
    /// Every recorded change, export, purge decision, and every recovery or takeover
    /// (those decrypt all data).
    pub events: Vec<EventView>,
    /// Problems found in the audit log (a damaged or altered record): then `events`
    /// may be incomplete, and the report says so.
    pub log_problems: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClientRecord {
    pub id: String,
    pub name: String,
    pub since: String,
    pub entries: usize,
    pub categories: Vec<Category>,
    pub lifecycle: LifecycleView,
}

/// The records overview (docs/gdpr.md#records); also its JSON form.
#[derive(Clone, Debug, Serialize)]
pub struct RecordsOverview {
    pub format: &'static str,
    pub version: u32,
    pub generated: String,
    pub keeper: Party,
    pub retention_months: u32,
    pub emergency_policy: String,
    pub emergency_groups: Vec<GroupView>,
    pub clients: Vec<ClientRecord>,
    /// The deletion records of purged clients.
    pub purged: Vec<EventView>,
}

// ------------------------------------------------------------------ HTML

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem;color:#111;max-width:62rem;line-height:1.4}\
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin:1.4rem 0 .5rem}.meta{color:#444;margin-top:0}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem .3rem 0;border-bottom:1px solid #ddd;vertical-align:top}\
th{color:#333;font-weight:600}td.n,th.n{text-align:right}code{font-family:ui-monospace,'DejaVu Sans Mono',monospace}\
.note{color:#444;font-size:.9rem}.warn{border-left:4px solid #b00;padding-left:.8rem}@media print{body{margin:1cm}}";

fn t(w: &mut dyn Write, s: &str) -> fmt::Result {
    esc_into(w, s)
}

fn purpose(lang: Lang) -> &'static str {
    lang.pick(
        "Verwaltung, Wartung und Betreuung der IT-Systeme des Kunden (Server, Hosting, Domains, E-Mail, Datenbanken, Websites) im Auftrag des Kunden; Sicherstellung einer Vertretung im Notfall.",
        "Administration, maintenance and support of the client's IT systems (servers, hosting, domains, mail, databases, websites) on the client's behalf; ensuring a stand-in in an emergency.",
    )
}

fn dpa_text(v: &LifecycleView, lang: Lang) -> String {
    let dpa = &v.lifecycle.dpa;
    let s = match dpa.status {
        DpaStatus::Unknown => lang.pick("keine Angabe", "not recorded"),
        DpaStatus::Signed => lang.pick("abgeschlossen", "signed"),
        DpaStatus::None => lang.pick(
            "keiner (obwohl personenbezogene Daten verarbeitet werden)",
            "none (although personal data is processed)",
        ),
        DpaStatus::NotNeeded => lang.pick(
            "nicht erforderlich (keine Verarbeitung personenbezogener Daten im Auftrag)",
            "not needed (no personal data processed on the client's behalf)",
        ),
    };
    let mut out = s.to_string();
    if !dpa.date.is_empty() {
        out.push_str(&format!(" {} {}", lang.pick("am", "on"), dpa.date));
    }
    if !dpa.reference.is_empty() {
        out.push_str(&format!(" ({})", dpa.reference));
    }
    out
}

fn status_text(v: &LifecycleView, lang: Lang) -> String {
    match &v.lifecycle.ended {
        None => lang.pick("aktiv", "active").to_string(),
        Some(e) => {
            let mut s = format!("{} {}", lang.pick("beendet am", "ended on"), e.date);
            if !e.reason.is_empty() {
                s.push_str(&format!(" ({})", e.reason));
            }
            s
        }
    }
}

fn retention_text(v: &LifecycleView, months: u32, lang: Lang) -> String {
    let mut s = match &v.retention_date {
        Some(d) => format!("{} {d}", lang.pick("Löschung fällig am", "deletion due on")),
        None => format!(
            "{} {months} {}",
            lang.pick(
                "bis zum Vertragsende, danach",
                "until the contract ends, then"
            ),
            lang.pick("Monate", "months")
        ),
    };
    if !v.lifecycle.retain_until.is_empty() {
        if v.retention_date.is_some() {
            s.push_str(lang.pick(" (für diesen Kunden festgelegt)", " (set for this client)"));
        } else {
            s.push_str(&format!(
                "; {} {}",
                lang.pick(
                    "nach Vertragsende aufbewahrt bis",
                    "after the end kept until"
                ),
                v.lifecycle.retain_until
            ));
        }
    }
    if let Some(h) = &v.lifecycle.hold {
        s.push_str(&format!(
            "; {} {} {}: {}",
            lang.pick("Aufbewahrungspflicht (Löschsperre)", "legal hold"),
            lang.pick("seit", "since"),
            h.since,
            h.reason
        ));
    }
    s
}

/// A person's word for an audit action.
fn action_label(action: &AuditAction, lang: Lang) -> &'static str {
    let (de, en) = match action {
        AuditAction::ClientAdd => ("Kunde angelegt", "client added"),
        AuditAction::ClientEdit => ("Kundendaten geändert", "client details changed"),
        AuditAction::ClientRecipients => ("Schlüssel für Pakete geändert", "package keys changed"),
        AuditAction::ClientExport => ("Export (Paket)", "export (package)"),
        AuditAction::ClientEnd => ("Vertrag beendet", "contract ended"),
        AuditAction::ClientReopen => ("wieder aktiv", "active again"),
        AuditAction::ClientGdpr => ("Datenschutzangaben geändert", "GDPR facts changed"),
        AuditAction::ClientPurge => ("gelöscht", "deleted"),
        AuditAction::EntryAdd => ("Eintrag angelegt", "entry added"),
        AuditAction::EntryEdit => ("Eintrag geändert", "entry changed"),
        AuditAction::EntryRemove => ("Eintrag gelöscht", "entry removed"),
        AuditAction::EntryAttach => ("Datei gespeichert", "file stored"),
        AuditAction::EntryDetach => ("Datei entfernt", "file removed"),
        AuditAction::EmergencyRecover => (
            "Notfall: Schlüssel wiederhergestellt",
            "emergency: key recovered",
        ),
        AuditAction::VaultTakeover => {
            ("Notfall: Übernahme durch Vertretung", "emergency: takeover")
        }
        AuditAction::EntryRename => ("Eintrag umbenannt", "entry renamed"),
        AuditAction::ClientRemove => ("Kunde entfernt", "client removed"),
        AuditAction::VaultInit => ("Tresor angelegt", "vault created"),
        AuditAction::VaultOwner => ("Verwalterangaben geändert", "keeper's details changed"),
        AuditAction::VaultRotate => ("Schlüssel erneuert", "keys rotated"),
        AuditAction::PassphraseChange => ("Passphrase geändert", "passphrase changed"),
        AuditAction::SettingsRetention => ("Aufbewahrungsfrist geändert", "retention changed"),
        AuditAction::SettingsRotation => ("Erneuerungsplan geändert", "rotation schedule changed"),
        AuditAction::SettingsChange => ("Einstellungen geändert", "settings changed"),
        AuditAction::EmergencyDrill => ("Notfallübung", "emergency drill"),
        AuditAction::VaultMerge => (
            "Änderungen zweier Geräte zusammengeführt",
            "changes of two devices merged",
        ),
        AuditAction::VaultUpgrade => ("Tresorformat erneuert", "vault format upgraded"),
        AuditAction::ClientResolve => (
            "Abweichende Fassungen zweier Geräte bereinigt",
            "conflict between two devices' versions resolved",
        ),
        AuditAction::WriterForget => ("Früheres Gerät ausgetragen", "former device forgotten"),
        AuditAction::EmergencyAddHolder => {
            ("Notfall: Inhaber hinzugefügt", "emergency: holder added")
        }
        AuditAction::VaultRotateFailed => {
            ("Schlüsselerneuerung fehlgeschlagen", "key rotation failed")
        }
        AuditAction::VaultRotateAbort => ("Schlüsselerneuerung abgebrochen", "key rotation undone"),
        AuditAction::Other(_) => ("", ""),
    };
    lang.pick(de, en)
}

/// The emergency policy in words: "2 von: anna, ben, carla; 1 von: notar, partner".
fn policy_text(groups: &[GroupView], lang: Lang) -> String {
    groups
        .iter()
        .map(|g| {
            format!(
                "{} {}: {}",
                g.threshold,
                lang.pick("von", "of"),
                g.holders.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Who did it, for a person: the keeper's name, or the emergency key.
fn actor_text(actor: &str, keeper: &str, lang: Lang) -> String {
    match actor {
        "owner" if !keeper.is_empty() => keeper.to_string(),
        "owner" => lang.pick("der Verwalter", "the keeper").to_string(),
        "emergency" => lang
            .pick("Notfallschlüssel (Vertretung)", "emergency key (stand-in)")
            .to_string(),
        other => other.to_string(),
    }
}

/// `2026-11-27T07:00:14Z` as `2026-11-27 07:00 UTC`.
fn when(t: &str) -> String {
    match (
        Some(crate::time::day_of(t)).filter(|d| d.len() == 10),
        t.get(11..16),
    ) {
        (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
        _ => t.to_string(),
    }
}

/// A table's header row.
fn header_row(w: &mut dyn Write, cells: &[&str]) -> fmt::Result {
    w.write_str("<tr>")?;
    for h in cells {
        w.write_str("<th>")?;
        t(w, h)?;
        w.write_str("</th>")?;
    }
    w.write_str("</tr>\n")
}

fn row(w: &mut dyn Write, th: &str, td: &str) -> fmt::Result {
    w.write_str("<tr><th>")?;
    t(w, th)?;
    w.write_str("</th><td>")?;
    t(w, td)?;
    w.write_str("</td></tr>\n")
}

fn render_report(w: &mut dyn Write, r: &AccessReport, lang: Lang) -> fmt::Result {
    let title = lang.pick(
        "Auskunft nach Art. 15 DSGVO: ",
        "Access report (GDPR Art. 15): ",
    );
    head(w, lang.code(), title, &r.client.name, CSS)?;
    w.write_str("<h1>")?;
    t(w, title)?;
    t(w, &r.client.name)?;
    w.write_str("</h1>\n<p class=\"meta\">")?;
    t(w, lang.pick("Stand", "As of"))?;
    write!(w, " {} &middot; ", day(&r.generated))?;
    t(
        w,
        lang.pick("Verantwortlich für die Speicherung", "Kept by"),
    )?;
    w.write_str(": ")?;
    t(w, &r.keeper.name)?;
    if !r.keeper.contact.is_empty() {
        w.write_str(" (")?;
        t(w, &r.keeper.contact)?;
        w.write_str(")")?;
    }
    w.write_str("</p>\n")?;
    if r.log_problems > 0 {
        w.write_str("<p class=\"warn\">")?;
        t(
            w,
            lang.pick(
                "Achtung: das Protokoll ist beschädigt oder wurde verändert; die Liste der Vorgänge unten ist möglicherweise unvollständig ('baton audit --verify').",
                "Warning: the audit log is damaged or was altered; the list of events below may be incomplete ('baton audit --verify').",
            ),
        )?;
        w.write_str("</p>\n")?;
    }
    w.write_str("<p class=\"note\">")?;
    t(w, lang.pick(
        "Diese Auskunft nennt, welche Daten gespeichert sind, nicht die Daten selbst: Passwörter und Schlüssel erhalten Sie auf Wunsch als verschlüsseltes Paket.",
        "This report says which data is held, not the data itself: passwords and keys are available on request as an encrypted package.",
    ))?;
    w.write_str("</p>\n<table>\n")?;
    row(
        w,
        lang.pick("Kunde", "Client"),
        &format!("{} ({})", r.client.name, r.client_id),
    )?;
    row(w, lang.pick("Zweck", "Purpose"), purpose(lang))?;
    row(
        w,
        lang.pick("Herkunft", "Source"),
        lang.pick(
            "vom Kunden mitgeteilt oder in seinem Auftrag angelegt (z. B. erzeugte Passwörter)",
            "provided by the client, or created on its behalf (such as generated passwords)",
        ),
    )?;
    row(
        w,
        lang.pick("Gespeichert seit", "Held since"),
        day(&r.since),
    )?;
    row(
        w,
        lang.pick("Zuletzt geändert", "Last changed"),
        day(&r.last_changed),
    )?;
    row(
        w,
        lang.pick("Status", "Status"),
        &status_text(&r.lifecycle, lang),
    )?;
    row(
        w,
        lang.pick("Aufbewahrung", "Retention"),
        &retention_text(&r.lifecycle, r.retention_months, lang),
    )?;
    row(
        w,
        lang.pick(
            "Auftragsverarbeitungsvertrag (Art. 28)",
            "Data processing agreement (Art. 28)",
        ),
        &dpa_text(&r.lifecycle, lang),
    )?;
    w.write_str("</table>\n<h2>")?;
    t(
        w,
        lang.pick(
            "Gespeicherte Daten nach Kategorie",
            "Data held, by category",
        ),
    )?;
    w.write_str("</h2>\n<table>\n<tr><th>")?;
    for (i, h) in [
        lang.pick("Kategorie", "Category"),
        lang.pick("Einträge", "Entries"),
        lang.pick("Passwörter", "Passwords"),
        lang.pick("TOTP-Schlüssel", "TOTP seeds"),
        lang.pick("Dateien", "Files"),
        lang.pick("Zuletzt geändert", "Last changed"),
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            w.write_str(if i < 5 {
                "</th><th class=\"n\">"
            } else {
                "</th><th>"
            })?;
        }
        t(w, h)?;
    }
    w.write_str("</th></tr>\n")?;
    for c in &r.categories {
        w.write_str("<tr><td>")?;
        t(w, c.category.label(lang))?;
        writeln!(
            w,
            "</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            c.entries,
            c.passwords,
            c.totp,
            c.attachments,
            day(&c.last_changed)
        )?;
    }
    if r.categories.is_empty() {
        w.write_str("<tr><td colspan=\"6\">")?;
        t(w, lang.pick("keine Einträge", "no entries"))?;
        w.write_str("</td></tr>\n")?;
    }
    w.write_str("</table>\n<p class=\"note\">")?;
    t(
        w,
        if r.notes {
            lang.pick(
                "Dazu kommen Notizen und die Kontaktangabe des Kunden.",
                "Notes and the client's contact are held as well.",
            )
        } else {
            lang.pick(
                "Dazu kommt die Kontaktangabe des Kunden.",
                "The client's contact is held as well.",
            )
        },
    )?;
    w.write_str("</p>\n<h2>")?;
    t(
        w,
        lang.pick(
            "Die Einträge (ohne Passwörter, Schlüssel und Notizen)",
            "The entries (without passwords, keys and notes)",
        ),
    )?;
    w.write_str("</h2>\n<table>\n")?;
    header_row(
        w,
        &[
            lang.pick("Eintrag", "Entry"),
            lang.pick("Kategorie", "Category"),
            lang.pick("Adresse", "Address"),
            lang.pick("Benutzer", "User"),
            lang.pick("Zuletzt geändert", "Last changed"),
        ],
    )?;
    for e in &r.records {
        for (i, v) in [
            e.name.as_str(),
            e.category.label(lang),
            e.url.as_str(),
            e.user.as_str(),
            day(&e.last_changed),
        ]
        .into_iter()
        .enumerate()
        {
            w.write_str(if i == 0 { "<tr><td>" } else { "</td><td>" })?;
            t(w, v)?;
        }
        w.write_str("</td></tr>\n")?;
    }
    w.write_str("</table>\n<h2>")?;
    t(
        w,
        lang.pick(
            "Wer die Daten entschlüsseln kann",
            "Who can decrypt the data",
        ),
    )?;
    w.write_str("</h2>\n<ul>\n<li>")?;
    t(w, lang.pick("Der Verwalter", "The keeper"))?;
    w.write_str(": ")?;
    t(w, &r.access.owner)?;
    w.write_str("</li>\n<li>")?;
    t(
        w,
        lang.pick(
            "Im Notfall, nur gemeinsam (Schlüsselteile nach SLIP-39)",
            "In an emergency, only together (SLIP-39 key shares)",
        ),
    )?;
    w.write_str(": ")?;
    t(w, &policy_text(&r.access.emergency_groups, lang))?;
    w.write_str("</li>\n")?;
    if !r.access.client_keys.is_empty() {
        w.write_str("<li>")?;
        t(
            w,
            lang.pick(
                "Sie selbst, mit Ihren eigenen Schlüsseln (Fingerabdrücke), an die Ihre Pakete verschlüsselt werden",
            "You, with your own keys (fingerprints) that your packages are encrypted to",
            ),
        )?;
        w.write_str(": <code>")?;
        t(w, &r.access.client_keys.join(", "))?;
        w.write_str("</code></li>\n")?;
    }
    w.write_str("</ul>\n<h2>")?;
    t(
        w,
        lang.pick(
            "Protokoll: Änderungen, Exporte, Notfallzugriffe",
            "Log: changes, exports, emergency access",
        ),
    )?;
    w.write_str("</h2>\n<table>\n<tr><th>")?;
    t(w, lang.pick("Zeit", "Time"))?;
    w.write_str("</th><th>")?;
    t(w, lang.pick("Vorgang", "Event"))?;
    w.write_str("</th><th>")?;
    t(w, lang.pick("durch", "by"))?;
    w.write_str("</th><th>")?;
    t(w, lang.pick("Angaben", "Details"))?;
    w.write_str("</th></tr>\n")?;
    for e in &r.events {
        w.write_str("<tr><td>")?;
        t(w, &when(&e.time))?;
        w.write_str("</td><td>")?;
        let label = action_label(&e.action, lang);
        if !label.is_empty() {
            t(w, label)?;
            w.write_str(" ")?;
        }
        w.write_str("<code class=\"note\">")?;
        t(w, e.action.as_str())?;
        w.write_str("</code></td><td>")?;
        t(w, &actor_text(&e.actor, &r.keeper.name, lang))?;
        w.write_str("</td><td>")?;
        t(w, &e.detail)?;
        w.write_str("</td></tr>\n")?;
    }
    w.write_str("</table>\n<p class=\"note\">")?;
    t(w, lang.pick(
        "Ihre Rechte: Sie können Berichtigung (Art. 16), Löschung (Art. 17), Einschränkung der Verarbeitung (Art. 18) und eine Kopie Ihrer Daten in einem gängigen Format (Art. 15 Abs. 3, Art. 20) verlangen und der Verarbeitung widersprechen (Art. 21). Sie können sich bei einer Datenschutz-Aufsichtsbehörde beschweren (Art. 77). Nach Vertragsende werden die Daten nach Ablauf der Aufbewahrungsfrist gelöscht, soweit keine gesetzliche Aufbewahrungspflicht besteht. Erstellt mit baton.",
        "Your rights: you may ask for correction (Art. 16), deletion (Art. 17), restriction of processing (Art. 18) and a copy of your data in a common format (Art. 15(3), Art. 20), and object to the processing (Art. 21). You may lodge a complaint with a data protection supervisory authority (Art. 77). After the contract ends, the data is deleted when the retention period has passed, unless the law requires keeping it. Made with baton.",
    ))?;
    w.write_str("</p>\n</body>\n</html>\n")
}

/// The access report as a self-contained HTML page.
pub fn report_html(r: &AccessReport, lang: Lang) -> String {
    let mut out = String::new();
    render_report(&mut out, r, lang).expect("writing to a String");
    out
}

fn render_records(w: &mut dyn Write, r: &RecordsOverview, lang: Lang) -> fmt::Result {
    let title = lang.pick(
        "Verzeichnis der Verarbeitungstätigkeiten: Zugangsdaten der Kunden",
        "Records of processing: client access data",
    );
    head(w, lang.code(), title, "", CSS)?;
    w.write_str("<h1>")?;
    t(w, title)?;
    w.write_str("</h1>\n<p class=\"meta\">")?;
    t(w, lang.pick("Stand", "As of"))?;
    write!(w, " {} &middot; ", day(&r.generated))?;
    t(w, &r.keeper.name)?;
    if !r.keeper.contact.is_empty() {
        w.write_str(" (")?;
        t(w, &r.keeper.contact)?;
        w.write_str(")")?;
    }
    w.write_str("</p>\n<table>\n")?;
    row(w, lang.pick("Zweck", "Purpose"), purpose(lang))?;
    row(
        w,
        lang.pick("Kategorien", "Categories"),
        lang.pick(
            "Zugangsdaten zu Servern, Hosting, Domains und DNS, Datenbanken, CMS, E-Mail und APIs; TOTP-Schlüssel; SSH-Schlüssel; Kontaktangaben der Kunden",
            "access data to servers, hosting, domains and DNS, databases, CMS, mail and APIs; TOTP seeds; SSH keys; clients' contact details",
        ),
    )?;
    row(
        w,
        lang.pick("Betroffene Personen", "Data subjects"),
        lang.pick(
            "Kunden und ihre Ansprechpartner; Personen, deren Benutzerkonten auf den Systemen der Kunden gespeichert sind",
            "clients and their contact persons; people whose user accounts on the clients' systems are stored",
        ),
    )?;
    row(
        w,
        lang.pick("Übermittlung in Drittländer", "Transfers to third countries"),
        lang.pick(
            "keine durch baton; der Speicherort des synchronisierten Tresor-Ordners entscheidet (nur verschlüsselte Dateien)",
            "none by baton; where the synced vault folder is stored decides (encrypted files only)",
        ),
    )?;
    row(
        w,
        lang.pick("Empfänger", "Recipients"),
        &format!(
            "{}; {}: {}",
            lang.pick(
                "der jeweilige Kunde (sein eigenes Paket)",
                "each client (its own package)"
            ),
            lang.pick("im Notfall gemeinsam", "in an emergency, together"),
            policy_text(&r.emergency_groups, lang)
        ),
    )?;
    row(
        w,
        lang.pick("Löschfrist", "Deletion"),
        &format!(
            "{} {}",
            r.retention_months,
            lang.pick("Monate nach Vertragsende", "months after the contract ends"),
        ),
    )?;
    row(
        w,
        lang.pick("Technische Maßnahmen", "Technical measures"),
        lang.pick(
            "Verschlüsselung mit age (X25519, ChaCha20-Poly1305), Passphrase mit Argon2id, manipulationssicheres Protokoll, Notfallschlüssel nach SLIP-39 aufgeteilt",
            "encryption with age (X25519, ChaCha20-Poly1305), passphrase with Argon2id, tamper-evident log, emergency key split with SLIP-39",
        ),
    )?;
    w.write_str("</table>\n<h2>")?;
    t(w, lang.pick("Kunden", "Clients"))?;
    w.write_str("</h2>\n<table>\n")?;
    header_row(
        w,
        &[
            lang.pick("Kunde", "Client"),
            lang.pick("seit", "since"),
            lang.pick("Kategorien", "categories"),
            lang.pick("Status", "status"),
            lang.pick("Aufbewahrung", "retention"),
            lang.pick("AV-Vertrag", "DPA"),
        ],
    )?;
    for c in &r.clients {
        w.write_str("<tr><td>")?;
        t(w, &format!("{} ({})", c.name, c.id))?;
        w.write_str("</td><td>")?;
        t(w, day(&c.since))?;
        w.write_str("</td><td>")?;
        let cats: Vec<&str> = c.categories.iter().map(|x| x.label(lang)).collect();
        t(w, &cats.join(", "))?;
        w.write_str("</td><td>")?;
        t(w, &status_text(&c.lifecycle, lang))?;
        w.write_str("</td><td>")?;
        t(w, &retention_text(&c.lifecycle, r.retention_months, lang))?;
        w.write_str("</td><td>")?;
        t(w, &dpa_text(&c.lifecycle, lang))?;
        w.write_str("</td></tr>\n")?;
    }
    w.write_str("</table>\n")?;
    if !r.purged.is_empty() {
        w.write_str("<h2>")?;
        t(w, lang.pick("Gelöschte Kunden", "Purged clients"))?;
        w.write_str("</h2>\n<table>\n")?;
        header_row(
            w,
            &[
                lang.pick("Datum", "Date"),
                lang.pick("Kunde", "Client"),
                lang.pick("Löschprotokoll", "Deletion record"),
            ],
        )?;
        for e in &r.purged {
            w.write_str("<tr><td>")?;
            t(w, day(&e.time))?;
            w.write_str("</td><td>")?;
            t(w, e.client.as_deref().unwrap_or(""))?;
            w.write_str("</td><td>")?;
            t(w, &e.detail)?;
            w.write_str("</td></tr>\n")?;
        }
        w.write_str("</table>\n")?;
    }
    w.write_str("</body>\n</html>\n")
}

/// The records overview as a self-contained HTML page.
pub fn records_html(r: &RecordsOverview, lang: Lang) -> String {
    let mut out = String::new();
    render_records(&mut out, r, lang).expect("writing to a String");
    out
}
