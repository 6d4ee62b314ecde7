//! The authenticated envelope of the index and of writer heads
//! (docs/format.md#index, #multi-writer): `{"format", "version", "mac", "body"}` with
//! `mac` = HMAC-SHA256(auth_key, domain || raw bytes of `body` exactly as in the file).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use crate::crypto::keys::AuthKey;

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'a str,
    version: u32,
    mac: String,
    body: &'a RawValue,
}

#[derive(Deserialize)]
struct EnvelopeIn<'a> {
    format: String,
    version: u32,
    mac: String,
    #[serde(borrow)]
    body: &'a RawValue,
}

/// Why an envelope was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EnvelopeError {
    /// Not JSON of this format.
    Malformed,
    /// The MAC does not verify.
    BadMac,
}

/// Serializes `body` and authenticates it; the result is the plaintext to encrypt.
pub(crate) fn seal(
    format: &str,
    version: u32,
    domain: &[u8],
    body: &impl Serialize,
    auth: &AuthKey,
) -> Zeroizing<Vec<u8>> {
    let bytes = crate::crypto::secret::json_bytes(body);
    let raw =
        RawValue::from_string(String::from_utf8(bytes.to_vec()).expect("serde_json writes UTF-8"))
            .expect("valid JSON");
    let mac = hex::encode(auth.mac(domain, raw.get().as_bytes()));
    crate::crypto::secret::json_bytes(&EnvelopeOut {
        format,
        version,
        mac,
        body: &raw,
    })
}

/// Checks the format and verifies the MAC over the exact bytes of `body` before
/// anything else in the file is believed, the version included. Returns the version
/// and the body's text, for the caller to check and parse.
pub(crate) fn open<'a>(
    plaintext: &'a [u8],
    format: &str,
    domain: &[u8],
    auth: &AuthKey,
) -> Result<(u32, &'a str), EnvelopeError> {
    let env: EnvelopeIn =
        serde_json::from_slice(plaintext).map_err(|_| EnvelopeError::Malformed)?;
    if env.format != format {
        return Err(EnvelopeError::Malformed);
    }
    let tag = hex::decode(&env.mac).map_err(|_| EnvelopeError::BadMac)?;
    if !auth.verify(domain, env.body.get().as_bytes(), &tag) {
        return Err(EnvelopeError::BadMac);
    }
    Ok((env.version, env.body.get()))
}
