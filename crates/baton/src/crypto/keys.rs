//! The vault's keys: the owner identity wrapped under the passphrase
//! (docs/format.md#owner-key), the emergency secret (docs/format.md#emergency-key) and
//! the authentication key (docs/format.md#auth-key).

use age::secrecy::ExposeSecret;
use age::x25519;
use bech32::{Bech32, Hrp};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::io::{Read, Write};
use std::str::FromStr;
use zeroize::Zeroizing;

use crate::crypto::kdf::DerivedKeys;

type HmacSha256 = Hmac<Sha256>;

/// Spells 32 secret bytes as an age X25519 identity (`AGE-SECRET-KEY-1…`). The X25519
/// scalar clamping happens inside the age crate, exactly as for a generated identity.
pub fn identity_from_bytes(secret: &[u8; 32]) -> x25519::Identity {
    let hrp = Hrp::parse("age-secret-key-").expect("valid hrp");
    let encoded =
        Zeroizing::new(bech32::encode_upper::<Bech32>(hrp, secret).expect("32 bytes fit bech32"));
    x25519::Identity::from_str(&encoded).expect("we just encoded a valid identity")
}

/// The owner's age identity, unwrapped with the passphrase.
pub struct OwnerIdentity(x25519::Identity);

impl OwnerIdentity {
    pub fn generate() -> Self {
        OwnerIdentity(x25519::Identity::generate())
    }
    pub fn identity(&self) -> &x25519::Identity {
        &self.0
    }
    pub fn recipient(&self) -> x25519::Recipient {
        self.0.to_public()
    }
}

/// The emergency secret `E`: 32 bytes, an X25519 secret and the SLIP-39 master secret.
/// Never written to disk.
pub struct EmergencySecret(Zeroizing<[u8; 32]>);

impl EmergencySecret {
    pub fn generate() -> Self {
        EmergencySecret(Zeroizing::new(rand::random()))
    }
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(EmergencySecret(Zeroizing::new(arr)))
    }
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// A second copy (zeroized on drop like the first).
    pub fn duplicate(&self) -> EmergencySecret {
        EmergencySecret(Zeroizing::new(*self.0))
    }
    pub fn identity(&self) -> x25519::Identity {
        identity_from_bytes(&self.0)
    }
    /// Reads `E` back from its age identity (`AGE-SECRET-KEY-1…`, as `baton recover`
    /// writes it): the Bech32 payload is `E` itself. Lines starting with `#` are
    /// skipped.
    pub fn from_identity_file(text: &str) -> Option<Self> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))?;
        let (hrp, data) = bech32::decode(line).ok()?;
        if !hrp.as_str().eq_ignore_ascii_case("age-secret-key-") {
            return None;
        }
        let e = Self::from_bytes(&data);
        let mut data = data;
        zeroize::Zeroize::zeroize(&mut data);
        e
    }
    /// Checks the secret against the vault's public emergency recipient, so shares can
    /// be proven without decrypting anything.
    pub fn matches(&self, recipient: &str) -> bool {
        self.identity().to_public().to_string() == recipient
    }
    /// docs/format.md#auth-key
    pub fn auth_key(&self, vault_id: &[u8; 16]) -> AuthKey {
        let hk = Hkdf::<Sha256>::new(Some(vault_id), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(b"baton/v1/auth-key", out.as_mut())
            .expect("32 bytes is a valid HKDF length");
        AuthKey(out)
    }
}

/// Key for the index MAC (docs/format.md#auth-key).
pub struct AuthKey(Zeroizing<[u8; 32]>);

impl AuthKey {
    #[cfg(test)]
    pub(crate) fn from_bytes(b: [u8; 32]) -> Self {
        AuthKey(Zeroizing::new(b))
    }
    pub(crate) fn mac(&self, domain: &[u8], data: &[u8]) -> [u8; 32] {
        let mut m = <HmacSha256 as Mac>::new_from_slice(self.0.as_ref()).expect("any key length");
        m.update(domain);
        m.update(data);
        m.finalize().into_bytes().into()
    }
    pub(crate) fn verify(&self, domain: &[u8], data: &[u8], tag: &[u8]) -> bool {
        let mut m = <HmacSha256 as Mac>::new_from_slice(self.0.as_ref()).expect("any key length");
        m.update(domain);
        m.update(data);
        m.verify_slice(tag).is_ok() // constant time
    }
}

/// Plaintext of the `owner_key` field.
#[derive(Serialize, Deserialize)]
struct OwnerKeyPlain {
    format: String,
    vault_id: String,
    identity: String,
    /// The emergency secret `E` in hex: the owner can print the current shares again.
    emergency: String,
    mac: String,
}

impl Drop for OwnerKeyPlain {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.identity.zeroize();
        self.emergency.zeroize();
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OwnerKeyError {
    #[error("wrong passphrase")]
    WrongPassphrase,
    #[error("owner key in vault.json is damaged or was tampered with ({0})")]
    Damaged(&'static str),
}

fn owner_key_canonical(vault_id: &str, identity: &str, emergency_hex: &str) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(Vec::new());
    v.extend_from_slice(b"baton-owner-key/2\n");
    v.extend_from_slice(vault_id.as_bytes());
    v.push(b'\n');
    v.extend_from_slice(identity.as_bytes());
    v.push(b'\n');
    v.extend_from_slice(emergency_hex.as_bytes());
    v
}

fn mac_hex(key: &[u8], data: &[u8]) -> String {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("any key length");
    m.update(data);
    hex::encode(m.finalize().into_bytes())
}

/// Wraps the owner identity and the emergency secret under the passphrase-derived
/// keys; returns an armored age file (docs/format.md#owner-key).
pub fn wrap_owner_key(
    derived: &DerivedKeys,
    vault_id: &str,
    owner: &OwnerIdentity,
    emergency: &EmergencySecret,
) -> String {
    let identity = owner.0.to_string();
    let e_hex = Zeroizing::new(hex::encode(emergency.expose_bytes()));
    let canonical = owner_key_canonical(vault_id, identity.expose_secret(), &e_hex);
    let plain = OwnerKeyPlain {
        format: "baton-owner-key".into(),
        vault_id: vault_id.into(),
        identity: identity.expose_secret().to_string(),
        emergency: e_hex.to_string(),
        mac: mac_hex(derived.mac_key(), &canonical),
    };
    let json = crate::crypto::secret::json_bytes(&plain);
    let kek = identity_from_bytes(&derived.kek_secret()).to_public();
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&kek as &dyn age::Recipient))
        .expect("one recipient");
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .expect("writing to a Vec");
    let mut w = encryptor.wrap_output(armor).expect("writing to a Vec");
    w.write_all(&json).expect("writing to a Vec");
    w.finish()
        .and_then(|a| a.finish())
        .expect("writing to a Vec");
    String::from_utf8(out).expect("armor is ASCII")
}

/// Unwraps the owner key; tells a wrong passphrase from a damaged file.
pub fn unwrap_owner_key(
    derived: &DerivedKeys,
    vault_id: &str,
    armored: &str,
) -> Result<(OwnerIdentity, EmergencySecret), OwnerKeyError> {
    let kek = identity_from_bytes(&derived.kek_secret());
    let reader = age::armor::ArmoredReader::new(armored.as_bytes());
    let decryptor =
        age::Decryptor::new(reader).map_err(|_| OwnerKeyError::Damaged("not an age file"))?;
    let mut r = decryptor
        .decrypt(std::iter::once(&kek as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => OwnerKeyError::WrongPassphrase,
            _ => OwnerKeyError::Damaged("age header"),
        })?;
    let mut json = Zeroizing::new(Vec::new());
    r.read_to_end(&mut json)
        .map_err(|_| OwnerKeyError::Damaged("age payload"))?;
    let plain: OwnerKeyPlain =
        serde_json::from_slice(&json).map_err(|_| OwnerKeyError::Damaged("contents"))?;
    if plain.format != "baton-owner-key" || plain.vault_id != vault_id {
        return Err(OwnerKeyError::Damaged("belongs to another vault"));
    }
    let canonical = owner_key_canonical(&plain.vault_id, &plain.identity, &plain.emergency);
    let tag = hex::decode(&plain.mac).map_err(|_| OwnerKeyError::Damaged("mac"))?;
    let mut m = <HmacSha256 as Mac>::new_from_slice(derived.mac_key()).expect("any key length");
    m.update(&canonical);
    m.verify_slice(&tag)
        .map_err(|_| OwnerKeyError::Damaged("mac"))?;
    let identity = x25519::Identity::from_str(&plain.identity)
        .map_err(|_| OwnerKeyError::Damaged("identity"))?;
    let mut e = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(&plain.emergency, e.as_mut())
        .map_err(|_| OwnerKeyError::Damaged("emergency key"))?;
    Ok((OwnerIdentity(identity), EmergencySecret(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::kdf::KdfParams;
    use crate::crypto::secret::Passphrase;

    #[test]
    fn identity_from_bytes_matches_age_encoding() {
        let id = x25519::Identity::generate();
        let s = id.to_string();
        let (_, bytes) = bech32::decode(s.expose_secret()).unwrap();
        let again = identity_from_bytes(&bytes.try_into().unwrap());
        assert_eq!(again.to_public().to_string(), id.to_public().to_string());
    }

    #[test]
    fn owner_key_round_trip_and_errors() {
        let p = KdfParams::insecure_test();
        let d = p.derive(&Passphrase::new("correct horse".into())).unwrap();
        let owner = OwnerIdentity::generate();
        let e = EmergencySecret::generate();
        let wrapped = wrap_owner_key(&d, "v1", &owner, &e);
        let (o2, e2) = unwrap_owner_key(&d, "v1", &wrapped).unwrap();
        assert_eq!(o2.recipient().to_string(), owner.recipient().to_string());
        assert_eq!(e2.expose_bytes(), e.expose_bytes());

        let wrong = p.derive(&Passphrase::new("correct horsf".into())).unwrap();
        assert_eq!(
            unwrap_owner_key(&wrong, "v1", &wrapped).err(),
            Some(OwnerKeyError::WrongPassphrase)
        );
        assert!(matches!(
            unwrap_owner_key(&d, "v2", &wrapped).err(),
            Some(OwnerKeyError::Damaged(_))
        ));
        let mut bad = wrapped.clone().into_bytes();
        let mid = bad.len() / 2;
        bad[mid] = if bad[mid] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            unwrap_owner_key(&d, "v1", std::str::from_utf8(&bad).unwrap()).err(),
            Some(OwnerKeyError::Damaged(_))
        ));
    }

    #[test]
    fn emergency_secret_round_trips_through_its_identity() {
        let e = EmergencySecret::generate();
        let text = format!("# comment\n{}\n", e.identity().to_string().expose_secret());
        let back = EmergencySecret::from_identity_file(&text).unwrap();
        assert_eq!(back.expose_bytes(), e.expose_bytes());
        assert!(EmergencySecret::from_identity_file("age1qqqq").is_none());
    }

    #[test]
    fn auth_key_depends_on_secret_and_vault() {
        let e = EmergencySecret::from_bytes(&[1; 32]).unwrap();
        let a = e.auth_key(&[0; 16]).mac(b"d", b"x");
        assert_eq!(a, e.auth_key(&[0; 16]).mac(b"d", b"x"));
        assert_ne!(a, e.auth_key(&[1; 16]).mac(b"d", b"x"));
        let f = EmergencySecret::from_bytes(&[2; 32]).unwrap();
        assert_ne!(a, f.auth_key(&[0; 16]).mac(b"d", b"x"));
    }
}
