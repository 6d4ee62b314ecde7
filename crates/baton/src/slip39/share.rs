//! Bit layout of one share (SLIP-0039 "Format of the share mnemonic"):
//!
//! ```text
//! id (15) | ext (1) | e (4) | GI (4) | Gt (4) | g (4) | I (4) | t (4) | padded share value | checksum (30)
//! ```
//!
//! packed big-endian into 10-bit word indices.

use zeroize::Zeroizing;

use super::rs1024::{self, CHECKSUM_WORDS};
use super::{ShareInfo, Slip39Error};

/// Words for id || ext || e: 20 bits, so the share-set identity is exactly
/// the first two words (spec: users can compare them at a glance).
const ID_EXP_WORDS: usize = 2;
/// Words for GI || Gt || g || I || t: 20 bits.
const PARAMS_WORDS: usize = 2;
/// Words that carry no share value.
pub(crate) const METADATA_WORDS: usize = ID_EXP_WORDS + PARAMS_WORDS + CHECKSUM_WORDS;
const RADIX_BITS: usize = 10;
/// Spec "Combining the shares": the padding, i.e. the padded share value
/// length in bits modulo 16, must not exceed 8 bits.
const MAX_PADDING_BITS: usize = 8;

/// Share value words needed for `len` bytes: the value is left-padded with
/// zero bits to the next multiple of 10 bits.
pub(crate) const fn value_words(len: usize) -> usize {
    (len * 8).div_ceil(RADIX_BITS)
}

/// Number of words of a share whose value has `len` bytes.
pub(crate) const fn share_words(len: usize) -> usize {
    METADATA_WORDS + value_words(len)
}

/// Word indices (including the checksum) of the share with the given
/// metadata and value. The caller guarantees that the metadata is in range.
pub(crate) fn encode(info: &ShareInfo, value: &[u8]) -> Zeroizing<Vec<u16>> {
    let mut words = Zeroizing::new(Vec::with_capacity(share_words(value.len())));

    let id_exp = (u32::from(info.identifier & 0x7fff) << 5)
        | (u32::from(info.extendable) << 4)
        | u32::from(info.iteration_exponent & 0x0f);
    // Thresholds and the group count are stored minus one (spec "Format of
    // the share mnemonic") so that 16 fits in 4 bits.
    let params = (u32::from(info.group_index & 0x0f) << 16)
        | (u32::from(info.group_threshold.wrapping_sub(1) & 0x0f) << 12)
        | (u32::from(info.group_count.wrapping_sub(1) & 0x0f) << 8)
        | (u32::from(info.member_index & 0x0f) << 4)
        | u32::from(info.member_threshold.wrapping_sub(1) & 0x0f);
    for field in [id_exp, params] {
        words.push(ten_bits(field >> 10));
        words.push(ten_bits(field));
    }

    // The leading padding bits are zeros, so start the accumulator as if
    // they had already been shifted in.
    let padding = value_words(value.len()) * RADIX_BITS - value.len() * 8;
    let mut acc: u32 = 0;
    let mut acc_bits = padding;
    for &byte in value {
        acc = (acc << 8) | u32::from(byte);
        acc_bits += 8;
        if acc_bits >= RADIX_BITS {
            acc_bits -= RADIX_BITS;
            words.push(ten_bits(acc >> acc_bits));
            acc &= (1 << acc_bits) - 1;
        }
    }
    debug_assert_eq!(acc_bits, 0);

    let checksum = rs1024::create_checksum(rs1024::customization(info.extendable), &words);
    words.extend_from_slice(&checksum);
    words
}

fn ten_bits(value: u32) -> u16 {
    // Masked to 10 bits, so the conversion cannot fail.
    u16::try_from(value & 0x3ff).unwrap_or(0)
}

fn nibble(value: u32, shift: u32) -> u8 {
    u8::try_from((value >> shift) & 0x0f).unwrap_or(0)
}

/// Decodes and validates share word indices: length, checksum, padding and
/// header consistency (spec "Combining the shares", step 1, per-share checks).
pub(crate) fn decode(
    words: &[u16],
    max_words: usize,
) -> Result<(ShareInfo, Zeroizing<Vec<u8>>), Slip39Error> {
    let count = words.len();
    let min_words = share_words(super::MIN_MASTER_SECRET_LEN);
    if count < min_words || count > max_words {
        return Err(Slip39Error::InvalidLength { words: count });
    }
    let value_word_count = count - METADATA_WORDS;
    let padding = (value_word_count * RADIX_BITS) % 16;
    if padding > MAX_PADDING_BITS {
        // No even-length value fits this many words.
        return Err(Slip39Error::InvalidLength { words: count });
    }

    let id_exp = (u32::from(words[0]) << 10) | u32::from(words[1]);
    let extendable = (id_exp >> 4) & 1 == 1;
    if !rs1024::verify_checksum(rs1024::customization(extendable), words) {
        return Err(Slip39Error::InvalidChecksum);
    }

    let params = (u32::from(words[2]) << 10) | u32::from(words[3]);
    let info = ShareInfo {
        identifier: u16::try_from(id_exp >> 5).unwrap_or(0),
        extendable,
        iteration_exponent: nibble(id_exp, 0),
        group_index: nibble(params, 16),
        group_threshold: nibble(params, 12) + 1,
        group_count: nibble(params, 8) + 1,
        member_index: nibble(params, 4),
        member_threshold: nibble(params, 0) + 1,
    };

    let value_words = &words[ID_EXP_WORDS + PARAMS_WORDS..count - CHECKSUM_WORDS];
    let value_len = (value_word_count * RADIX_BITS - padding) / 8;
    let mut value = Zeroizing::new(Vec::with_capacity(value_len));
    let mut acc: u32 = 0;
    let mut acc_bits = 0usize;
    let mut padding_bits: u32 = 0;
    for (i, &word) in value_words.iter().enumerate() {
        let mut word = u32::from(word);
        let mut width = RADIX_BITS;
        if i == 0 {
            padding_bits = word >> (RADIX_BITS - padding);
            width -= padding;
            word &= (1 << width) - 1;
        }
        acc = (acc << width) | word;
        acc_bits += width;
        while acc_bits >= 8 {
            acc_bits -= 8;
            value.push(u8::try_from((acc >> acc_bits) & 0xff).unwrap_or(0));
            acc &= (1 << acc_bits) - 1;
        }
    }
    debug_assert_eq!(value.len(), value_len);
    // Spec "Combining the shares": all padding bits must be "0"; a non-zero
    // padding means the share was not produced by a conforming encoder.
    if padding_bits != 0 {
        return Err(Slip39Error::InvalidPadding);
    }

    // Spec "Combining the shares": G must be at least GT. A share that
    // violates this can never be combined, so report it on its own.
    if info.group_threshold > info.group_count {
        return Err(Slip39Error::GroupThresholdExceedsGroupCount {
            group_threshold: info.group_threshold,
            group_count: info.group_count,
        });
    }
    Ok((info, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ShareInfo {
        ShareInfo {
            identifier: 0x7abc,
            extendable: true,
            iteration_exponent: 9,
            group_index: 3,
            group_threshold: 2,
            group_count: 16,
            member_index: 15,
            member_threshold: 16,
        }
    }

    #[test]
    fn share_lengths_match_spec_table() {
        // Spec "Format of the share mnemonic": 128 bits -> 20 words,
        // 256 bits -> 33 words.
        assert_eq!(share_words(16), 20);
        assert_eq!(share_words(32), 33);
    }

    #[test]
    fn encode_decode_round_trip() {
        for len in (16..=80).step_by(2) {
            let value: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let words = encode(&info(), &value);
            assert_eq!(words.len(), share_words(len));
            let (decoded, decoded_value) = decode(&words, 1000).unwrap();
            assert_eq!(decoded, info());
            assert_eq!(&decoded_value[..], &value[..]);
        }
    }

    #[test]
    fn rejects_non_zero_padding() {
        let value = [0xffu8; 16];
        let mut words = encode(&info(), &value);
        // Set a padding bit and recompute the checksum so that only the
        // padding is wrong.
        let data_len = words.len() - CHECKSUM_WORDS;
        words.truncate(data_len);
        words[4] |= 0x200;
        let checksum = rs1024::create_checksum(rs1024::CS_EXTENDABLE, &words);
        words.extend_from_slice(&checksum);
        assert!(matches!(
            decode(&words, 1000),
            Err(Slip39Error::InvalidPadding)
        ));
    }

    #[test]
    fn rejects_lengths_without_even_value() {
        // 21 words: 140 value bits, padding 12 > 8.
        let words = vec![0u16; 21];
        assert!(matches!(
            decode(&words, 1000),
            Err(Slip39Error::InvalidLength { words: 21 })
        ));
        let words = vec![0u16; 19];
        assert!(matches!(
            decode(&words, 1000),
            Err(Slip39Error::InvalidLength { words: 19 })
        ));
    }
}
