//! Newtypes for secret material. None of them implements `Debug`, `Display`, `Clone`
//! or `Serialize` by derive: code reads them through `expose_*` at the point of use.

use age::secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// The owner's passphrase, as typed.
pub struct Passphrase(SecretString);

impl Passphrase {
    pub fn new(text: String) -> Self {
        Passphrase(SecretString::from(text))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

/// A secret string stored in a client file (password, TOTP URI).
#[derive(PartialEq, Eq)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    pub fn new(text: String) -> Self {
        SecretText(Zeroizing::new(text))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// An explicit copy; secrets are not `Clone` so that copies are visible in review.
    pub fn duplicate(&self) -> Self {
        SecretText::new(self.0.to_string())
    }
}

/// Secret bytes stored in a client file (attachment contents).
#[derive(PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(bytes))
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn duplicate(&self) -> Self {
        SecretBytes::new(self.0.to_vec())
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// Serde adapters, used only by the structs that are serialized straight into an age
/// encryptor (docs/format.md#client-files).
pub(crate) mod serde_secret_text {
    use super::SecretText;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(v: &Option<SecretText>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_some(t.expose()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretText>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        Ok(v.map(|s| SecretText(Zeroizing::new(s))))
    }
}

pub(crate) mod serde_secret_bytes {
    use super::SecretBytes;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(v: &SecretBytes, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(STANDARD.encode(v.expose()));
        s.serialize_str(&text)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretBytes, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let bytes = STANDARD
            .decode(text.as_bytes())
            .map_err(|_| D::Error::custom("attachment data is not valid base64"))?;
        Ok(SecretBytes::new(bytes))
    }
}

/// Serializes to JSON into a buffer of exactly the right size, so that no reallocation
/// leaves a freed, unwiped copy of secret plaintext behind; the result is wiped on drop.
pub fn json_bytes<T: serde::Serialize + ?Sized>(value: &T) -> Zeroizing<Vec<u8>> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("serializable");
    let mut out = Zeroizing::new(Vec::with_capacity(count.0));
    serde_json::to_writer(&mut *out, value).expect("serializable");
    debug_assert_eq!(out.len(), count.0);
    out
}

/// Concatenates `parts` (some of them secret) into one string allocated at its final
/// size, so no reallocation leaves a partial copy behind; wiped on drop.
pub fn concat_secret(parts: &[&str]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(parts.iter().map(|p| p.len()).sum()));
    for p in parts {
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bytes_is_exact_and_equal_to_serde_json() {
        let v = serde_json::json!({"a": "x".repeat(1000), "b": [1, 2, 3]});
        let b = json_bytes(&v);
        assert_eq!(b.len(), b.capacity());
        assert_eq!(&b[..], serde_json::to_vec(&v).unwrap());
    }
}
