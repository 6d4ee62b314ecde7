//! The header's `previous_key` (docs/format.md#header): the previous generation's
//! emergency secret, wrapped for the current generation's keys, so that a change a
//! device made under the old keys after a rotation can be carried over
//! (docs/format.md#carry-over).

use std::io::{Read, Write};

use age::x25519;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::keys::{AuthKey, EmergencySecret};
use crate::store::envelope::{self, EnvelopeError};

const FORMAT: &str = "baton-previous-key";
/// Version 1: every authentic stranded head is carried. Version 2 (`own_only`): written
/// by a rotation that replaced the emergency key; a stranded head is carried only by
/// the device that wrote it (docs/format.md#carry-over). A baton that knows only
/// version 1 refuses version 2 and carries nothing, which is safe.
const VERSION: u32 = 1;
const VERSION_OWN_ONLY: u32 = 2;
const MAC_DOMAIN: &[u8] = b"baton-previous-key/1\n";
/// The largest plaintext read: a secret and at most some thousands of shard names.
const MAX_PLAIN: u64 = 8 << 20;

/// The previous generation's keys, unwrapped and authenticated.
pub struct PreviousKey {
    /// The generation they belong to (the header's generation − 1).
    pub generation: u64,
    /// `E` of that generation: its identity reads every file of it, and it gives that
    /// generation's `auth_key`.
    pub emergency: EmergencySecret,
    /// The shard files of that generation's heads the rotation read and removed.
    pub retired_shards: Vec<String>,
    /// The rotation replaced the emergency key: whoever holds the old keys could write
    /// an authentic head of that generation, so a stranded head is carried only by the
    /// device that wrote it, against the fingerprint it kept (docs/format.md#carry-over).
    pub own_only: bool,
}

#[derive(Serialize, Deserialize)]
struct Body {
    vault_id: String,
    generation: u64,
    /// Secret: hex of `E`.
    emergency: String,
    #[serde(default)]
    retired_shards: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    own_only: bool,
}

impl Drop for Body {
    fn drop(&mut self) {
        self.emergency.zeroize();
    }
}

/// Why a `previous_key` was not believed. It never stops an open: without it, changes
/// made under the old keys are only reported.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreviousKeyError {
    #[error("previous_key is not an age file to this vault's keys")]
    Unreadable,
    #[error("previous_key failed authentication: it was replaced or altered")]
    BadMac,
    #[error("previous_key belongs to another vault or generation")]
    Mismatch,
}

/// Wraps `E` of generation `generation` for the next generation: encrypted to its
/// `recipients`, authenticated with its `auth` key (docs/format.md#header).
pub fn wrap(
    recipients: &[x25519::Recipient],
    auth: &AuthKey,
    vault_id: &str,
    generation: u64,
    previous: &EmergencySecret,
    retired_shards: Vec<String>,
    own_only: bool,
) -> String {
    let body = Body {
        vault_id: vault_id.to_string(),
        generation,
        emergency: hex::encode(previous.expose_bytes()),
        retired_shards,
        own_only,
    };
    let version = if own_only { VERSION_OWN_ONLY } else { VERSION };
    let plain = envelope::seal(FORMAT, version, MAC_DOMAIN, &body, auth);
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .expect("x25519 recipients are always compatible");
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .expect("writing to a Vec");
    let mut w = encryptor.wrap_output(armor).expect("writing to a Vec");
    w.write_all(&plain).expect("writing to a Vec");
    w.finish()
        .and_then(|a| a.finish())
        .expect("writing to a Vec");
    String::from_utf8(out).expect("armor is ASCII")
}

/// Unwraps the `previous_key` of a header of generation `current` with a key of that
/// generation (the owner identity or `E`'s identity) and checks its MAC with that
/// generation's `auth` key, then that it names this vault and generation `current − 1`.
pub fn unwrap(
    identity: &x25519::Identity,
    auth: &AuthKey,
    vault_id: &str,
    current: u64,
    armored: &str,
) -> Result<PreviousKey, PreviousKeyError> {
    let reader = age::armor::ArmoredReader::new(armored.as_bytes());
    let decryptor = age::Decryptor::new(reader).map_err(|_| PreviousKeyError::Unreadable)?;
    let r = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| PreviousKeyError::Unreadable)?;
    let mut plain = Zeroizing::new(Vec::new());
    r.take(MAX_PLAIN)
        .read_to_end(&mut plain)
        .map_err(|_| PreviousKeyError::Unreadable)?;
    let (version, body) =
        envelope::open(&plain, FORMAT, MAC_DOMAIN, auth).map_err(|e| match e {
            EnvelopeError::Malformed => PreviousKeyError::Unreadable,
            EnvelopeError::BadMac => PreviousKeyError::BadMac,
        })?;
    let body: Body = serde_json::from_str(body).map_err(|_| PreviousKeyError::Unreadable)?;
    // The version and the flag say the same, or the file is not one baton wrote.
    let own_only = match version {
        VERSION => false,
        VERSION_OWN_ONLY => true,
        _ => return Err(PreviousKeyError::Unreadable),
    };
    if body.own_only != own_only {
        return Err(PreviousKeyError::Unreadable);
    }
    if body.vault_id != vault_id || Some(body.generation) != current.checked_sub(1) {
        return Err(PreviousKeyError::Mismatch);
    }
    let mut e = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(&body.emergency, e.as_mut()).map_err(|_| PreviousKeyError::Unreadable)?;
    let emergency = EmergencySecret::from_bytes(e.as_ref()).ok_or(PreviousKeyError::Unreadable)?;
    Ok(PreviousKey {
        generation: body.generation,
        emergency,
        retired_shards: body.retired_shards.clone(),
        own_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let new_e = EmergencySecret::generate();
        let owner = x25519::Identity::generate();
        let recipients = [owner.to_public(), new_e.identity().to_public()];
        let auth = new_e.auth_key(&[7; 16]);
        let old = EmergencySecret::generate();
        let wrapped = wrap(
            &recipients,
            &auth,
            "v",
            3,
            &old,
            vec!["a.age".into()],
            false,
        );
        for id in [&owner, &new_e.identity()] {
            let p = unwrap(id, &auth, "v", 4, &wrapped).unwrap();
            assert_eq!(p.emergency.expose_bytes(), old.expose_bytes());
            assert_eq!(
                (p.generation, p.retired_shards.clone(), p.own_only),
                (3, vec!["a.age".into()], false)
            );
        }
        let own = wrap(&recipients, &auth, "v", 3, &old, vec![], true);
        assert!(unwrap(&owner, &auth, "v", 4, &own).unwrap().own_only);
        assert_eq!(
            unwrap(&owner, &auth, "v", 5, &wrapped).err(),
            Some(PreviousKeyError::Mismatch)
        );
        assert_eq!(
            unwrap(&owner, &auth, "w", 4, &wrapped).err(),
            Some(PreviousKeyError::Mismatch)
        );
        // Someone who knows only the public recipients can encrypt a file to them, but
        // cannot authenticate it.
        let forged_auth = EmergencySecret::generate().auth_key(&[7; 16]);
        let forged = wrap(&recipients, &forged_auth, "v", 3, &old, vec![], false);
        assert_eq!(
            unwrap(&owner, &auth, "v", 4, &forged).err(),
            Some(PreviousKeyError::BadMac)
        );
        assert_eq!(
            unwrap(&x25519::Identity::generate(), &auth, "v", 4, &wrapped).err(),
            Some(PreviousKeyError::Unreadable)
        );
    }
}
