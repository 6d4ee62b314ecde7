//! Password and passphrase generation from the operating system's CSPRNG.

use rand::Rng;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use zeroize::Zeroizing;

use crate::crypto::secret::SecretText;

const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"-_.:,;+=!?@#%*/";

/// The SLIP-39 word list: 1024 words, 4 to 8 letters, unique in their first 4 letters
/// (10 bits per word).
const WORDS: &str = include_str!("slip39/wordlist.txt");

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;
/// Words in a generated passphrase: 4 (40 bits) to 32.
pub const MIN_WORDS: usize = 4;
pub const MAX_WORDS: usize = 32;

/// A random password of `length` characters (look-alikes 0/O, 1/l/I removed), with at
/// least one character of each class. Returns it with its entropy in bits.
pub fn password(length: usize, symbols: bool) -> (SecretText, f64) {
    let length = length.clamp(MIN_LENGTH, MAX_LENGTH);
    let mut classes: Vec<&[u8]> = vec![LOWER, UPPER, DIGITS];
    if symbols {
        classes.push(SYMBOLS);
    }
    let alphabet: Vec<u8> = classes.concat();
    let mut rng = OsRng;
    loop {
        let mut out = Zeroizing::new(Vec::with_capacity(length));
        for _ in 0..length {
            out.push(alphabet[rng.gen_range(0..alphabet.len())]);
        }
        // Rejection sampling keeps the distribution uniform over passwords that contain
        // every class, instead of forcing characters into fixed positions.
        if classes.iter().all(|c| out.iter().any(|b| c.contains(b))) {
            let s = String::from_utf8(out.to_vec()).expect("ASCII");
            let bits = length as f64 * (alphabet.len() as f64).log2();
            return (SecretText::new(s), bits);
        }
    }
}

/// A diceware-style passphrase of `count` words separated by `-`, with its entropy.
pub fn passphrase(count: usize) -> (SecretText, f64) {
    let words: Vec<&str> = WORDS.lines().filter(|l| !l.is_empty()).collect();
    let count = count.clamp(MIN_WORDS, MAX_WORDS);
    let mut rng = OsRng;
    let chosen: Vec<&str> = (0..count)
        .map(|_| *words.choose(&mut rng).expect("non-empty list"))
        .collect();
    let bits = count as f64 * (words.len() as f64).log2();
    (SecretText::new(chosen.join("-")), bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_has_every_class_and_length() {
        for len in [12, 24, 64] {
            let (p, bits) = password(len, true);
            assert_eq!(p.expose().len(), len);
            assert!(p.expose().bytes().any(|b| SYMBOLS.contains(&b)));
            assert!(bits > 5.0 * len as f64);
        }
        assert_ne!(password(24, true).0.expose(), password(24, true).0.expose());
    }

    #[test]
    fn passphrase_words() {
        assert_eq!(WORDS.lines().count(), 1024);
        let (p, bits) = passphrase(6);
        assert_eq!(p.expose().split('-').count(), 6);
        assert_eq!(bits, 60.0);
    }
}
