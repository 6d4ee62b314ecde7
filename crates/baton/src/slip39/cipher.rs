//! SLIP-0039 "Encryption of the master secret": a four-round Feistel network
//! (Luby-Rackoff) with PBKDF2-HMAC-SHA256 as the round function.
//!
//! A wide-block permutation means that partial knowledge of shares reveals
//! nothing about any part of the master secret (design rationale 7), and the
//! slow KDF protects the passphrase (design rationale 6).

use sha2::Sha256;
use zeroize::Zeroizing;

/// Feistel rounds (spec "Encryption of the master secret").
const ROUNDS: u8 = 4;
/// 10000 total PBKDF2 iterations at e = 0, spread over the four rounds
/// (spec "Format of the share mnemonic", iteration exponent field).
const BASE_ROUND_ITERATIONS: u32 = 2500;
/// Salt prefix when ext = 0 (spec "Encryption of the master secret").
const SALT_PREFIX: &[u8] = b"shamir";

/// Salt prefix: "shamir" || id (big-endian) when ext = 0, so that every share
/// set gets its own EMS; empty when ext = 1, so that new share sets with fresh
/// identifiers can encode the same EMS (design rationale 10).
fn salt_prefix(identifier: u16, extendable: bool) -> Vec<u8> {
    if extendable {
        Vec::new()
    } else {
        let mut prefix = SALT_PREFIX.to_vec();
        prefix.extend_from_slice(&identifier.to_be_bytes());
        prefix
    }
}

/// F(i, R) = PBKDF2(HMAC-SHA256, i || passphrase, salt_prefix || R,
/// 2500 << e, |R|), xored into `left`.
fn round(
    i: u8,
    passphrase: &[u8],
    iteration_exponent: u8,
    prefix: &[u8],
    right: &[u8],
    left: &mut [u8],
) {
    let mut password = Zeroizing::new(Vec::with_capacity(1 + passphrase.len()));
    password.push(i);
    password.extend_from_slice(passphrase);
    // The salt contains half of the (encrypted) master secret.
    let mut salt = Zeroizing::new(Vec::with_capacity(prefix.len() + right.len()));
    salt.extend_from_slice(prefix);
    salt.extend_from_slice(right);
    let mut f = Zeroizing::new(vec![0u8; right.len()]);
    pbkdf2::pbkdf2_hmac::<Sha256>(
        &password,
        &salt,
        BASE_ROUND_ITERATIONS << iteration_exponent,
        &mut f,
    );
    for (l, k) in left.iter_mut().zip(f.iter()) {
        *l ^= k;
    }
}

/// Runs the network with round indices in `order`; encryption and decryption
/// differ only in that order (spec "Decryption of the master secret").
fn feistel(
    input: &[u8],
    passphrase: &[u8],
    iteration_exponent: u8,
    identifier: u16,
    extendable: bool,
    order: impl Iterator<Item = u8>,
) -> Zeroizing<Vec<u8>> {
    debug_assert!(input.len().is_multiple_of(2) && iteration_exponent <= 15);
    let half = input.len() / 2;
    let mut left = Zeroizing::new(input[..half].to_vec());
    let mut right = Zeroizing::new(input[half..].to_vec());
    let prefix = salt_prefix(identifier, extendable);
    for i in order {
        // (L, R) = (R, L xor F(i, R)), done in place as a swap.
        round(
            i,
            passphrase,
            iteration_exponent,
            &prefix,
            &right,
            &mut left,
        );
        std::mem::swap(&mut left, &mut right);
    }
    // The output is R || L.
    let mut output = Zeroizing::new(Vec::with_capacity(input.len()));
    output.extend_from_slice(&right);
    output.extend_from_slice(&left);
    output
}

/// EMS = Encrypt(MS, P, e, id, ext). `master_secret` must have even length.
pub(crate) fn encrypt(
    master_secret: &[u8],
    passphrase: &[u8],
    iteration_exponent: u8,
    identifier: u16,
    extendable: bool,
) -> Zeroizing<Vec<u8>> {
    feistel(
        master_secret,
        passphrase,
        iteration_exponent,
        identifier,
        extendable,
        0..ROUNDS,
    )
}

/// MS = Decrypt(EMS, P, e, id, ext). `encrypted` must have even length.
pub(crate) fn decrypt(
    encrypted: &[u8],
    passphrase: &[u8],
    iteration_exponent: u8,
    identifier: u16,
    extendable: bool,
) -> Zeroizing<Vec<u8>> {
    feistel(
        encrypted,
        passphrase,
        iteration_exponent,
        identifier,
        extendable,
        (0..ROUNDS).rev(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrypt_inverts_encrypt() {
        let ms: Vec<u8> = (0u8..16).collect();
        for extendable in [false, true] {
            let ems = encrypt(&ms, b"TREZOR", 0, 0x1234, extendable);
            assert_ne!(&ems[..], &ms[..]);
            assert_eq!(
                &decrypt(&ems, b"TREZOR", 0, 0x1234, extendable)[..],
                &ms[..]
            );
            // A different passphrase decrypts to a different, still valid secret.
            assert_ne!(&decrypt(&ems, b"", 0, 0x1234, extendable)[..], &ms[..]);
        }
    }

    #[test]
    fn identifier_only_matters_without_ext() {
        let ms = [0x42u8; 32];
        assert_ne!(
            encrypt(&ms, b"", 0, 1, false),
            encrypt(&ms, b"", 0, 2, false)
        );
        assert_eq!(encrypt(&ms, b"", 0, 1, true), encrypt(&ms, b"", 0, 2, true));
    }
}
