//! The RS1024 checksum of SLIP-0039 "Checksum": a Reed-Solomon code over
//! GF(1024) whose three check symbols are the last three words of a share.
//!
//! Written after the spec's `rs1024_polymod` description; the customization
//! string is fed in as US-ASCII values before the data so that shares of
//! different schemes ("shamir" vs "shamir_extendable") never validate as
//! each other.

/// Generator table of the BCH view of the code (spec "Checksum").
const GEN: [u32; 10] = [
    0x00e0_e040,
    0x01c1_c080,
    0x0383_8100,
    0x0707_0200,
    0x0e0e_0009,
    0x1c0c_2412,
    0x3808_6c24,
    0x3090_fc48,
    0x21b1_f890,
    0x03f3_f120,
];

/// Number of checksum words appended to every share.
pub(crate) const CHECKSUM_WORDS: usize = 3;

/// Customization string for shares with ext = 0 (spec "Format of the share
/// mnemonic", checksum field).
pub(crate) const CS_ORIGINAL: &[u8] = b"shamir";
/// Customization string for shares with ext = 1.
pub(crate) const CS_EXTENDABLE: &[u8] = b"shamir_extendable";

pub(crate) fn customization(extendable: bool) -> &'static [u8] {
    if extendable {
        CS_EXTENDABLE
    } else {
        CS_ORIGINAL
    }
}

fn polymod(cs: &[u8], data: &[u16]) -> u32 {
    let mut chk: u32 = 1;
    let values = cs
        .iter()
        .map(|&c| u32::from(c))
        .chain(data.iter().map(|&v| u32::from(v)));
    for v in values {
        let top = chk >> 20;
        chk = ((chk & 0x000f_ffff) << 10) ^ v;
        for (i, g) in GEN.iter().enumerate() {
            // Branch-free conditional xor: the share words are secret.
            chk ^= g & 0u32.wrapping_sub((top >> i) & 1);
        }
    }
    chk
}

/// The three checksum words for `data` (the share without its checksum).
pub(crate) fn create_checksum(cs: &[u8], data: &[u16]) -> [u16; CHECKSUM_WORDS] {
    // Equivalent to appending three zero words, as in the spec snippet,
    // without building a temporary copy of the (secret) data.
    let mut chk = polymod(cs, data);
    for _ in 0..CHECKSUM_WORDS {
        let top = chk >> 20;
        chk = (chk & 0x000f_ffff) << 10;
        for (i, g) in GEN.iter().enumerate() {
            chk ^= g & 0u32.wrapping_sub((top >> i) & 1);
        }
    }
    let residue = chk ^ 1;
    let word = |shift: u32| u16::try_from((residue >> shift) & 0x3ff).unwrap_or(0);
    [word(20), word(10), word(0)]
}

/// Whether `words` (data followed by the checksum) is a valid codeword.
pub(crate) fn verify_checksum(cs: &[u8], words: &[u16]) -> bool {
    polymod(cs, words) == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_checksum_verifies() {
        let data: Vec<u16> = (0..17).map(|i| (i * 61 + 7) % 1024).collect();
        for cs in [CS_ORIGINAL, CS_EXTENDABLE] {
            let mut words = data.clone();
            words.extend_from_slice(&create_checksum(cs, &data));
            assert!(verify_checksum(cs, &words));
            let other = if cs == CS_ORIGINAL {
                CS_EXTENDABLE
            } else {
                CS_ORIGINAL
            };
            assert!(!verify_checksum(other, &words));
        }
    }

    #[test]
    fn detects_up_to_three_substitutions() {
        // The code is MDS with three check symbols (spec design rationale 5),
        // so every error pattern touching at most three words is detected.
        let data: Vec<u16> = (0..17).map(|i| (i * 389 + 5) % 1024).collect();
        let mut words = data.clone();
        words.extend_from_slice(&create_checksum(CS_ORIGINAL, &data));
        let n = words.len();
        for a in 0..n {
            for b in a..n {
                for c in b..n {
                    let mut bad = words.clone();
                    bad[a] ^= 0x155;
                    if b != a {
                        bad[b] ^= 0x2a3;
                    }
                    if c != b {
                        bad[c] ^= 0x001;
                    }
                    assert!(!verify_checksum(CS_ORIGINAL, &bad), "{a} {b} {c}");
                }
            }
        }
    }
}
