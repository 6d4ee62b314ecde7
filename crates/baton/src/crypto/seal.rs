//! age encryption of vault files to the vault's recipients (binary age format, so
//! `age -d -i key.txt file.age` opens every file).

use age::x25519;
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// Encrypts to every recipient (owner and emergency). Each call draws a new file key.
pub fn encrypt(recipients: &[x25519::Recipient], plaintext: &[u8]) -> Vec<u8> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .expect("x25519 recipients are always compatible");
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    let mut w = encryptor.wrap_output(&mut out).expect("writing to a Vec");
    w.write_all(plaintext).expect("writing to a Vec");
    w.finish().expect("writing to a Vec");
    out
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptFailure {
    #[error("not encrypted to this key")]
    NotForThisKey,
    #[error("damaged age file")]
    Damaged,
}

/// Decrypts with one identity; the plaintext is zeroized on drop.
pub fn decrypt(
    identity: &x25519::Identity,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptFailure> {
    let d = age::Decryptor::new_buffered(ciphertext).map_err(|_| DecryptFailure::Damaged)?;
    let mut r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => DecryptFailure::NotForThisKey,
            _ => DecryptFailure::Damaged,
        })?;
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    r.read_to_end(&mut out)
        .map_err(|_| DecryptFailure::Damaged)?;
    Ok(out)
}
