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
/// The most earlier generations' keys kept (`earlier`): a device offline across more
/// rotations than this has its changes reported, not carried.
pub const MAX_EARLIER: usize = 16;

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
    /// The keys of generations before it that a head in the folder may still be written
    /// under, newest first (docs/format.md#header, `earlier`).
    pub earlier: Vec<EarlierKey>,
}

/// The keys of a generation before the previous one (docs/format.md#header,
/// `earlier`): as [`PreviousKey`], for a device that was offline across several
/// rotations.
pub struct EarlierKey {
    pub generation: u64,
    pub emergency: EmergencySecret,
    pub retired_shards: Vec<String>,
    /// Some rotation from this generation on replaced the emergency key.
    pub own_only: bool,
}

#[derive(Serialize, Deserialize)]
struct Body {
    vault_id: String,
    #[serde(flatten)]
    key: KeyBody,
    /// Generations before `generation`, newest first (a baton that does not know the
    /// field carries from one generation back only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    earlier: Vec<KeyBody>,
}

/// One generation's keys, as the body holds them (the previous generation's at the
/// top level, earlier ones in `earlier`).
#[derive(Serialize, Deserialize)]
struct KeyBody {
    generation: u64,
    /// Secret: hex of `E` of that generation.
    emergency: String,
    #[serde(default)]
    retired_shards: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    own_only: bool,
}

impl Drop for KeyBody {
    fn drop(&mut self) {
        self.emergency.zeroize();
    }
}

fn secret_of(hex_text: &str) -> Option<EmergencySecret> {
    let mut e = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex_text, e.as_mut()).ok()?;
    EmergencySecret::from_bytes(e.as_ref())
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

/// Wraps `key` (`E` of generation `key.generation`) for the next generation: encrypted
/// to its `recipients`, authenticated with its `auth` key (docs/format.md#header), with
/// the `earlier` generations' keys (newest first, each below `generation`; at most
/// [`MAX_EARLIER`] are kept). Where `own_only` (the emergency key is replaced), every
/// earlier one becomes `own_only` too: whoever holds the replaced `E` can unwrap them.
pub fn wrap(
    recipients: &[x25519::Recipient],
    auth: &AuthKey,
    vault_id: &str,
    key: &PreviousKey,
) -> String {
    let own_only = key.own_only;
    let body = Body {
        vault_id: vault_id.to_string(),
        key: KeyBody {
            generation: key.generation,
            emergency: hex::encode(key.emergency.expose_bytes()),
            retired_shards: key.retired_shards.clone(),
            own_only,
        },
        earlier: key
            .earlier
            .iter()
            .filter(|k| k.generation < key.generation)
            .take(MAX_EARLIER)
            .map(|k| KeyBody {
                generation: k.generation,
                emergency: hex::encode(k.emergency.expose_bytes()),
                retired_shards: k.retired_shards.clone(),
                own_only: k.own_only || own_only,
            })
            .collect(),
    };
    let version = if own_only { VERSION_OWN_ONLY } else { VERSION };
    seal_armored(
        recipients,
        &envelope::seal(FORMAT, version, MAC_DOMAIN, &body, auth),
    )
}

/// `plain` as an armored age file to `recipients`.
fn seal_armored(recipients: &[x25519::Recipient], plain: &[u8]) -> String {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .expect("x25519 recipients are always compatible");
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .expect("writing to a Vec");
    let mut w = encryptor.wrap_output(armor).expect("writing to a Vec");
    w.write_all(plain).expect("writing to a Vec");
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
    if body.key.own_only != own_only {
        return Err(PreviousKeyError::Unreadable);
    }
    if body.vault_id != vault_id || Some(body.key.generation) != current.checked_sub(1) {
        return Err(PreviousKeyError::Mismatch);
    }
    let emergency = secret_of(&body.key.emergency).ok_or(PreviousKeyError::Unreadable)?;
    // Strictly older generations, newest first, and not more than baton keeps: anything
    // else is not what baton wrote.
    let descending = body
        .earlier
        .iter()
        .try_fold(body.key.generation, |above, k| {
            (k.generation < above).then_some(k.generation)
        })
        .is_some();
    if !descending || body.earlier.len() > MAX_EARLIER {
        return Err(PreviousKeyError::Unreadable);
    }
    let earlier = body
        .earlier
        .iter()
        .map(|k| {
            Some(EarlierKey {
                generation: k.generation,
                emergency: secret_of(&k.emergency)?,
                retired_shards: k.retired_shards.clone(),
                own_only: k.own_only || own_only,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or(PreviousKeyError::Unreadable)?;
    Ok(PreviousKey {
        generation: body.key.generation,
        emergency,
        retired_shards: body.key.retired_shards.clone(),
        own_only,
        earlier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(generation: u64, e: &EmergencySecret, own_only: bool) -> PreviousKey {
        PreviousKey {
            generation,
            emergency: e.duplicate(),
            retired_shards: vec!["a.age".into()],
            own_only,
            earlier: vec![],
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let new_e = EmergencySecret::generate();
        let owner = x25519::Identity::generate();
        let recipients = [owner.to_public(), new_e.identity().to_public()];
        let auth = new_e.auth_key(&[7; 16]);
        let old = EmergencySecret::generate();
        let wrapped = wrap(&recipients, &auth, "v", &key(3, &old, false));
        for id in [&owner, &new_e.identity()] {
            let p = unwrap(id, &auth, "v", 4, &wrapped).unwrap();
            assert_eq!(p.emergency.expose_bytes(), old.expose_bytes());
            assert_eq!(
                (p.generation, p.retired_shards.clone(), p.own_only),
                (3, vec!["a.age".into()], false)
            );
            assert!(p.earlier.is_empty());
        }
        let own = wrap(&recipients, &auth, "v", &key(3, &old, true));
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
        let forged = wrap(&recipients, &forged_auth, "v", &key(3, &old, false));
        assert_eq!(
            unwrap(&owner, &auth, "v", 4, &forged).err(),
            Some(PreviousKeyError::BadMac)
        );
        assert_eq!(
            unwrap(&x25519::Identity::generate(), &auth, "v", 4, &wrapped).err(),
            Some(PreviousKeyError::Unreadable)
        );
    }

    /// Earlier generations' keys ride along, newest first; a rotation that replaces the
    /// emergency key makes every one of them `own_only`; a chain out of order is not
    /// baton's.
    #[test]
    fn earlier_generations() {
        let new_e = EmergencySecret::generate();
        let owner = x25519::Identity::generate();
        let recipients = [owner.to_public(), new_e.identity().to_public()];
        let auth = new_e.auth_key(&[7; 16]);
        let (e3, e2, e1) = (
            EmergencySecret::generate(),
            EmergencySecret::generate(),
            EmergencySecret::generate(),
        );
        let earlier = |a: u64, b: u64| {
            vec![
                EarlierKey {
                    generation: a,
                    emergency: e2.duplicate(),
                    retired_shards: vec!["b.age".into()],
                    own_only: false,
                },
                EarlierKey {
                    generation: b,
                    emergency: e1.duplicate(),
                    retired_shards: vec![],
                    own_only: false,
                },
            ]
        };
        for own_only in [false, true] {
            let k = PreviousKey {
                earlier: earlier(2, 1),
                ..key(3, &e3, own_only)
            };
            let p = unwrap(&owner, &auth, "v", 4, &wrap(&recipients, &auth, "v", &k)).unwrap();
            let got: Vec<(u64, Vec<u8>, Vec<String>, bool)> = p
                .earlier
                .iter()
                .map(|k| {
                    (
                        k.generation,
                        k.emergency.expose_bytes().to_vec(),
                        k.retired_shards.clone(),
                        k.own_only,
                    )
                })
                .collect();
            assert_eq!(
                got,
                vec![
                    (
                        2,
                        e2.expose_bytes().to_vec(),
                        vec!["b.age".into()],
                        own_only
                    ),
                    (1, e1.expose_bytes().to_vec(), vec![], own_only),
                ]
            );
        }
        // Not below the previous generation, or not newest first: refused.
        for (a, b) in [(1, 2), (3, 1), (2, 2)] {
            let k = PreviousKey {
                earlier: earlier(a, b),
                ..key(3, &e3, false)
            };
            let wrapped = wrap_unchecked(&recipients, &auth, "v", &k);
            assert_eq!(
                unwrap(&owner, &auth, "v", 4, &wrapped).err(),
                Some(PreviousKeyError::Unreadable),
                "{a} {b}"
            );
        }
    }

    /// `wrap` without its filter, for the refusals above (what a forger with the keys,
    /// or another program, might write).
    fn wrap_unchecked(
        recipients: &[x25519::Recipient],
        auth: &AuthKey,
        vault_id: &str,
        key: &PreviousKey,
    ) -> String {
        let body = Body {
            vault_id: vault_id.to_string(),
            key: KeyBody {
                generation: key.generation,
                emergency: hex::encode(key.emergency.expose_bytes()),
                retired_shards: vec![],
                own_only: false,
            },
            earlier: key
                .earlier
                .iter()
                .map(|k| KeyBody {
                    generation: k.generation,
                    emergency: hex::encode(k.emergency.expose_bytes()),
                    retired_shards: vec![],
                    own_only: false,
                })
                .collect(),
        };
        seal_armored(
            recipients,
            &envelope::seal(FORMAT, VERSION, MAC_DOMAIN, &body, auth),
        )
    }
}
