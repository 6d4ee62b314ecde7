//! What an audit record says was done (docs/format.md#audit-log): one variant per
//! action, spelled on disk as `<area>.<verb>`. Both crates name actions only through
//! this type, so a report that forgets one fails to compile instead of printing nothing.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An audit action. Records written by a newer baton may carry an action this one does
/// not know; they read as [`AuditAction::Other`] and keep their spelling, so the hash
/// chain and the log's text stay exactly as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    VaultInit,
    VaultOwner,
    PassphraseChange,
    VaultRotate,
    VaultRotateFailed,
    VaultRotateAbort,
    VaultTakeover,
    SettingsRetention,
    SettingsRotation,
    /// Several settings changed by one command (each named in the detail).
    SettingsChange,
    ClientAdd,
    ClientEdit,
    ClientRecipients,
    ClientExport,
    ClientEnd,
    ClientReopen,
    ClientGdpr,
    ClientRemove,
    ClientPurge,
    EntryAdd,
    EntryEdit,
    EntryRename,
    EntryRemove,
    EntryAttach,
    EntryDetach,
    EmergencyDrill,
    EmergencyAddHolder,
    EmergencyRecover,
    /// Several writers' heads merged (docs/format.md#multi-writer).
    VaultMerge,
    /// A version 2 vault upgraded to the multi-writer format.
    VaultUpgrade,
    /// A conflict between devices' versions of a client resolved by the owner
    /// (docs/format.md#merge).
    ClientResolve,
    /// A writer that will not write again forgotten (docs/format.md#retired-writers).
    WriterForget,
    /// An action this version does not know, as spelled in the record.
    Other(String),
}

impl AuditAction {
    /// Every action this version writes, in the order of the spec's table.
    pub const ALL: [AuditAction; 32] = [
        AuditAction::VaultInit,
        AuditAction::VaultOwner,
        AuditAction::PassphraseChange,
        AuditAction::VaultRotate,
        AuditAction::VaultRotateFailed,
        AuditAction::VaultRotateAbort,
        AuditAction::VaultTakeover,
        AuditAction::SettingsRetention,
        AuditAction::SettingsRotation,
        AuditAction::SettingsChange,
        AuditAction::ClientAdd,
        AuditAction::ClientEdit,
        AuditAction::ClientRecipients,
        AuditAction::ClientExport,
        AuditAction::ClientEnd,
        AuditAction::ClientReopen,
        AuditAction::ClientGdpr,
        AuditAction::ClientRemove,
        AuditAction::ClientPurge,
        AuditAction::EntryAdd,
        AuditAction::EntryEdit,
        AuditAction::EntryRename,
        AuditAction::EntryRemove,
        AuditAction::EntryAttach,
        AuditAction::EntryDetach,
        AuditAction::EmergencyDrill,
        AuditAction::EmergencyAddHolder,
        AuditAction::EmergencyRecover,
        AuditAction::VaultMerge,
        AuditAction::VaultUpgrade,
        AuditAction::ClientResolve,
        AuditAction::WriterForget,
    ];

    /// The on-disk spelling.
    pub fn as_str(&self) -> &str {
        match self {
            AuditAction::VaultInit => "vault.init",
            AuditAction::VaultOwner => "vault.owner",
            AuditAction::PassphraseChange => "passphrase.change",
            AuditAction::VaultRotate => "vault.rotate",
            AuditAction::VaultRotateFailed => "vault.rotate-failed",
            AuditAction::VaultRotateAbort => "vault.rotate-abort",
            AuditAction::VaultTakeover => "vault.takeover",
            AuditAction::SettingsRetention => "settings.retention",
            AuditAction::SettingsRotation => "settings.rotation",
            AuditAction::SettingsChange => "settings.change",
            AuditAction::ClientAdd => "client.add",
            AuditAction::ClientEdit => "client.edit",
            AuditAction::ClientRecipients => "client.recipients",
            AuditAction::ClientExport => "client.export",
            AuditAction::ClientEnd => "client.end",
            AuditAction::ClientReopen => "client.reopen",
            AuditAction::ClientGdpr => "client.gdpr",
            AuditAction::ClientRemove => "client.remove",
            AuditAction::ClientPurge => "client.purge",
            AuditAction::EntryAdd => "entry.add",
            AuditAction::EntryEdit => "entry.edit",
            AuditAction::EntryRename => "entry.rename",
            AuditAction::EntryRemove => "entry.remove",
            AuditAction::EntryAttach => "entry.attach",
            AuditAction::EntryDetach => "entry.detach",
            AuditAction::EmergencyDrill => "emergency.drill",
            AuditAction::EmergencyAddHolder => "emergency.add-holder",
            AuditAction::EmergencyRecover => "emergency.recover",
            AuditAction::VaultMerge => "vault.merge",
            AuditAction::VaultUpgrade => "vault.upgrade",
            AuditAction::ClientResolve => "client.resolve",
            AuditAction::WriterForget => "writer.forget",
            AuditAction::Other(s) => s,
        }
    }

    /// Parses the on-disk spelling; never fails (unknown spellings are kept).
    pub fn parse(s: &str) -> AuditAction {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .unwrap_or_else(|| AuditAction::Other(s.to_string()))
    }

    /// Whether the action changes what a client's package holds (its entries or its
    /// details), so that an earlier export of it is out of date.
    pub fn changes_package(&self) -> bool {
        matches!(
            self,
            AuditAction::ClientEdit
                | AuditAction::EntryAdd
                | AuditAction::EntryEdit
                | AuditAction::EntryRename
                | AuditAction::EntryRemove
                | AuditAction::EntryAttach
                | AuditAction::EntryDetach
                | AuditAction::ClientResolve
        )
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for AuditAction {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for AuditAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(AuditAction::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert!(seen.insert(a.as_str().to_string()), "{a} twice");
            assert_eq!(AuditAction::parse(a.as_str()), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<AuditAction>(&json).unwrap(), a);
        }
    }

    #[test]
    fn unknown_actions_keep_their_spelling() {
        let a: AuditAction = serde_json::from_str("\"vault.future\"").unwrap();
        assert_eq!(a, AuditAction::Other("vault.future".into()));
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"vault.future\"");
    }
}
