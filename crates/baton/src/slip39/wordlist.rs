//! The SLIP-0039 "Wordlist": 1024 lowercase English words, alphabetically
//! sorted, 4 to 8 letters, each identified by its first 4 letters.
//!
//! `wordlist.txt` is the list mandated by the spec (slip-0039/wordlist.txt).
//! Its layout is checked at compile time so a damaged file cannot build.

use std::cmp::Ordering;

const TEXT: &str = include_str!("wordlist.txt");

/// Number of words; every word encodes 10 bits.
pub(crate) const RADIX: usize = 1024;

/// Shortest word, and the length of the prefix that identifies a word.
pub(crate) const PREFIX_LEN: usize = 4;

/// Byte offsets (start, end) of each word in `TEXT`.
const OFFSETS: [(usize, usize); RADIX] = offsets();

const fn offsets() -> [(usize, usize); RADIX] {
    let bytes = TEXT.as_bytes();
    let mut table = [(0usize, 0usize); RADIX];
    let mut count = 0;
    let mut start = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        let b = bytes[pos];
        if b == b'\n' {
            assert!(count < RADIX, "wordlist has more than 1024 words");
            let len = pos - start;
            assert!(len >= PREFIX_LEN && len <= 8, "wordlist word of bad length");
            table[count] = (start, pos);
            count += 1;
            start = pos + 1;
        } else {
            assert!(b.is_ascii_lowercase(), "wordlist must be lowercase ascii");
        }
        pos += 1;
    }
    assert!(start == bytes.len(), "wordlist must end with a newline");
    assert!(count == RADIX, "wordlist must have exactly 1024 words");
    table
}

/// The word with the given 10-bit index.
pub(crate) fn word(index: u16) -> &'static str {
    let (start, end) = OFFSETS[usize::from(index) % RADIX];
    &TEXT[start..end]
}

/// Compares a list word with user input, ignoring ASCII case of the input.
fn cmp_word(word: &str, input: &str) -> Ordering {
    word.bytes()
        .cmp(input.bytes().map(|b| b.to_ascii_lowercase()))
}

fn starts_with_ignore_case(word: &str, prefix: &str) -> bool {
    word.len() >= prefix.len()
        && word.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Outcome of looking up one token of user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    Found(u16),
    /// A prefix of at least one word, but shorter than the 4 letters that
    /// identify a word.
    TooShort,
    Unknown,
}

/// Finds a word given in full or by a prefix of at least 4 letters
/// (spec "Wordlist": all words begin with a unique 4-letter prefix), ignoring
/// ASCII case.
pub(crate) fn lookup(input: &str) -> Lookup {
    // First list word >= input; the list is sorted so a word equal to or
    // extending the input can only be here.
    let (mut lo, mut hi) = (0u16, RADIX as u16);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if cmp_word(word(mid), input) == Ordering::Less {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if usize::from(lo) == RADIX {
        return Lookup::Unknown;
    }
    let candidate = lo;
    if !starts_with_ignore_case(word(candidate), input) {
        return Lookup::Unknown;
    }
    if input.len() >= PREFIX_LEN {
        Lookup::Found(candidate)
    } else {
        Lookup::TooShort
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_with_unique_prefixes() {
        for i in 1..RADIX as u16 {
            let (a, b) = (word(i - 1), word(i));
            assert!(a < b, "{a} < {b}");
            assert_ne!(a[..PREFIX_LEN], b[..PREFIX_LEN]);
        }
        assert_eq!(word(0), "academic");
        assert_eq!(word(1023), "zero");
    }

    #[test]
    fn every_word_and_prefix_is_found() {
        for i in 0..RADIX as u16 {
            let w = word(i);
            assert_eq!(lookup(w), Lookup::Found(i));
            assert_eq!(lookup(&w.to_ascii_uppercase()), Lookup::Found(i));
            for len in PREFIX_LEN..=w.len() {
                assert_eq!(lookup(&w[..len]), Lookup::Found(i));
            }
            assert_eq!(lookup(&w[..3]), Lookup::TooShort);
        }
    }

    #[test]
    fn rejects_non_words() {
        for input in [
            "",
            "zzzz",
            "academix",
            "academics",
            "aaaa",
            "zero0",
            "ñame",
            "a",
        ] {
            assert!(
                matches!(lookup(input), Lookup::Unknown | Lookup::TooShort),
                "{input}"
            );
        }
        assert_eq!(lookup("zzzz"), Lookup::Unknown);
        assert_eq!(lookup("academics"), Lookup::Unknown);
        assert_eq!(lookup("acx"), Lookup::Unknown);
    }
}
