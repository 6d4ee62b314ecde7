//! SLIP-0039: Shamir's Secret-Sharing for Mnemonic Codes.
//!
//! Implemented from the specification (satoshilabs/slips `slip-0039.md`):
//! a master secret is encrypted with a passphrase-keyed Feistel cipher, then
//! split with a two-level (groups, then members) Shamir scheme over GF(256),
//! and every share is spelled as words from a 1024-word list with an RS1024
//! checksum.
//!
//! Share words are secrets: [`Mnemonic`] zeroizes them on drop and never
//! prints them, and [`Slip39Error`] only ever carries word positions and
//! public metadata, never share text.

#![forbid(unsafe_code)]

mod cipher;
mod gf256;
mod rs1024;
mod share;
mod wordlist;

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use gf256::InterpolationError;

/// Shortest master secret in bytes: the spec requires at least 128 bits of
/// entropy ("Format of the share mnemonic").
pub const MIN_MASTER_SECRET_LEN: usize = 16;

/// Longest master secret in bytes accepted by this implementation. The spec
/// sets no upper bound, but RS1024 only keeps its detection guarantees while
/// the customization string plus all words fit in the 1023-symbol code
/// length (design rationale 5); 1024 bytes stays well inside that.
pub const MAX_MASTER_SECRET_LEN: usize = 1024;

/// Largest number of groups, and of members in a group: indices and counts
/// are 4-bit fields (design rationale 3).
pub const MAX_SHARE_COUNT: u8 = 16;

/// Largest iteration exponent: a 4-bit field.
pub const MAX_ITERATION_EXPONENT: u8 = 15;

/// Largest identifier: a 15-bit field.
pub const MAX_IDENTIFIER: u16 = 0x7fff;

/// x-coordinate of the shared secret (spec "Shamir's secret-sharing"; 255
/// rather than 0 so that a forged share at x = 0 cannot dictate the secret,
/// design rationale 3).
const SECRET_INDEX: u8 = 255;
/// x-coordinate of the digest share (design rationale 4).
const DIGEST_INDEX: u8 = 254;
/// Bytes of HMAC-SHA256 kept as the digest.
const DIGEST_LEN: usize = 4;

/// Errors from parsing, splitting and combining SLIP-39 shares.
///
/// Messages are lowercase and never contain share words or values; word
/// positions are 1-based, group and member numbers in messages are 1-based
/// while the `group_index`/`member_index` fields carry the raw 0-based
/// indices from the share (as in [`ShareInfo`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Slip39Error {
    /// No words, or no shares, were given.
    #[error("no share was given")]
    Empty,
    /// A word is not in the SLIP-39 word list.
    #[error("word {position} is not in the slip-39 word list")]
    UnknownWord { position: usize },
    /// A word was abbreviated to fewer than the 4 letters that identify it.
    #[error("word {position} is too short to identify: type at least its first 4 letters")]
    AmbiguousPrefix { position: usize },
    /// A share cannot have this many words.
    #[error("a share cannot have {words} words: a word is missing or extra")]
    InvalidLength { words: usize },
    /// The RS1024 checksum of a share does not match.
    #[error("share checksum does not match: a word is mistyped or missing")]
    InvalidChecksum,
    /// The padding bits of a share value are not zero.
    #[error("share padding is not zero: the share is corrupted or was not made by a slip-39 tool")]
    InvalidPadding,
    /// A share claims more required groups than groups exist.
    #[error(
        "share requires {group_threshold} groups but says only {group_count} exist: the share is corrupted"
    )]
    GroupThresholdExceedsGroupCount {
        group_threshold: u8,
        group_count: u8,
    },
    /// The master secret to split has an unsupported length.
    #[error("master secret must be an even number of bytes between 16 and 1024, got {len} bytes")]
    InvalidMasterSecretLength { len: usize },
    /// The passphrase contains characters other than printable ASCII.
    #[error("passphrase must contain only printable ascii characters (space to tilde)")]
    InvalidPassphrase,
    /// Shares differ in identifier, extendable flag or iteration exponent,
    /// i.e. come from different share sets.
    #[error("shares are from different backups: their first two words differ")]
    MismatchedShareSet,
    /// Shares of one set disagree on group threshold or group count.
    #[error(
        "shares disagree on the group threshold or group count: they are from different backups"
    )]
    MismatchedGroupParameters,
    /// Shares have different lengths.
    #[error("shares have different numbers of words: they are from different backups")]
    MismatchedShareLength,
    /// Shares of one group disagree on the member threshold.
    #[error("shares of group {} disagree on the member threshold", .group_index + 1)]
    MismatchedMemberThreshold { group_index: u8 },
    /// Two different shares carry the same member index in the same group.
    #[error(
        "two different shares claim to be member {} of group {}: one of them is corrupted or from another backup",
        .member_index + 1,
        .group_index + 1
    )]
    DuplicateShare { group_index: u8, member_index: u8 },
    /// Fewer groups than the group threshold.
    #[error("not enough groups: {have} of the {need} required groups were given")]
    InsufficientGroups { have: usize, need: usize },
    /// More groups than the group threshold (the spec requires exactly the
    /// threshold).
    #[error("too many groups: {have} were given but exactly {need} are needed")]
    TooManyGroups { have: usize, need: usize },
    /// Fewer shares in a group than its member threshold.
    #[error("not enough shares for group {}: {have} of the {need} required shares were given", .group_index + 1)]
    InsufficientShares {
        group_index: u8,
        have: usize,
        need: usize,
    },
    /// More shares in a group than its member threshold (the spec requires
    /// exactly the threshold).
    #[error("too many shares for group {}: {have} were given but exactly {need} are needed", .group_index + 1)]
    TooManyShares {
        group_index: u8,
        have: usize,
        need: usize,
    },
    /// The recovered secret does not match its digest.
    #[error(
        "shares do not combine to a valid secret (digest mismatch): a share is corrupted or forged"
    )]
    InvalidDigest,
    /// Invalid split parameters (the text never contains secrets).
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
}

/// Public metadata of one share (spec "Format of the share mnemonic").
///
/// Thresholds and the group count are the actual numbers (1..=16), not the
/// stored minus-one encoding; indices are the raw 0-based x-coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareInfo {
    pub identifier: u16,
    pub extendable: bool,
    pub iteration_exponent: u8,
    pub group_index: u8,
    pub group_threshold: u8,
    pub group_count: u8,
    pub member_index: u8,
    pub member_threshold: u8,
}

/// One group of a split: `threshold` of `count` member shares are needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSpec {
    pub threshold: u8,
    pub count: u8,
}

/// One share's mnemonic words.
///
/// The words are a secret: they are zeroized on drop, and there is no
/// `Display`, `Clone` or serialization; `Debug` shows only the public
/// [`ShareInfo`].
pub struct Mnemonic {
    words: Zeroizing<String>,
    value: Zeroizing<Vec<u8>>,
    info: ShareInfo,
    word_count: usize,
}

impl Mnemonic {
    /// Parses a share typed by a user.
    ///
    /// Case-insensitive; words may be separated by any whitespace and each
    /// word may be given in full or by a prefix of at least 4 letters (spec
    /// "Wordlist": 4-letter prefixes are unique). Validates the length, the
    /// RS1024 checksum (customization string per the ext bit), the padding
    /// and the header.
    pub fn parse(text: &str) -> Result<Mnemonic, Slip39Error> {
        let count = text.split_whitespace().count();
        if count == 0 {
            return Err(Slip39Error::Empty);
        }
        let mut indices = Zeroizing::new(Vec::with_capacity(count));
        for (i, token) in text.split_whitespace().enumerate() {
            match wordlist::lookup(token) {
                wordlist::Lookup::Found(index) => indices.push(index),
                wordlist::Lookup::TooShort => {
                    return Err(Slip39Error::AmbiguousPrefix { position: i + 1 });
                }
                wordlist::Lookup::Unknown => {
                    return Err(Slip39Error::UnknownWord { position: i + 1 });
                }
            }
        }
        let max_words = share::share_words(MAX_MASTER_SECRET_LEN);
        let (info, value) = share::decode(&indices, max_words)?;
        Ok(Mnemonic {
            words: spell(&indices),
            value,
            info,
            word_count: count,
        })
    }

    /// Builds the mnemonic of a freshly generated share.
    fn from_share(info: ShareInfo, value: Zeroizing<Vec<u8>>) -> Mnemonic {
        let indices = share::encode(&info, &value);
        Mnemonic {
            words: spell(&indices),
            word_count: indices.len(),
            value,
            info,
        }
    }

    /// The canonical share: lowercase full words separated by single spaces.
    pub fn expose_words(&self) -> &str {
        &self.words
    }

    /// The share's public metadata.
    pub fn info(&self) -> ShareInfo {
        self.info
    }

    /// Number of words (20 for a 128-bit secret, 33 for 256 bits).
    pub fn word_count(&self) -> usize {
        self.word_count
    }
}

/// Whether one typed word is a list word (or a unique prefix of at least 4 letters).
pub fn check_word(token: &str) -> Result<(), Slip39Error> {
    match wordlist::lookup(token) {
        wordlist::Lookup::Found(_) => Ok(()),
        wordlist::Lookup::TooShort => Err(Slip39Error::AmbiguousPrefix { position: 1 }),
        wordlist::Lookup::Unknown => Err(Slip39Error::UnknownWord { position: 1 }),
    }
}

/// The share set identifier and extendable flag carried by a share's first two words,
/// so a share of the wrong set can be named before the rest is typed.
pub fn identifier_of_first_words(first: &str, second: &str) -> Option<(u16, bool)> {
    let (wordlist::Lookup::Found(a), wordlist::Lookup::Found(b)) =
        (wordlist::lookup(first), wordlist::lookup(second))
    else {
        return None;
    };
    Some(((a << 5) | (b >> 5), (b >> 4) & 1 == 1))
}

/// Finds the one mistyped word of a share whose checksum fails: the 1-based position
/// of the only word that, replaced by some other list word, makes the checksum valid.
///
/// RS1024 has minimum distance 4, so a share with exactly one wrong word has exactly
/// one such position, and a share with two wrong words has none (it is then reported
/// as `None`, as are shares with unknown words). Only the position is returned: the
/// corrected word is a secret and is never printed.
pub fn locate_mistyped_word(text: &str) -> Option<usize> {
    let mut indices = Zeroizing::new(Vec::new());
    for token in text.split_whitespace() {
        match wordlist::lookup(token) {
            wordlist::Lookup::Found(index) => indices.push(index),
            _ => return None,
        }
    }
    let valid = |w: &[u16]| {
        rs1024::verify_checksum(rs1024::CS_ORIGINAL, w)
            || rs1024::verify_checksum(rs1024::CS_EXTENDABLE, w)
    };
    if indices.len() < share::share_words(MIN_MASTER_SECRET_LEN) || valid(&indices) {
        return None;
    }
    let mut found = None;
    for pos in 0..indices.len() {
        let original = indices[pos];
        let fixable = (0..wordlist::RADIX as u16)
            .filter(|&w| w != original)
            .any(|w| {
                indices[pos] = w;
                valid(&indices)
            });
        indices[pos] = original;
        if fixable {
            if found.is_some() {
                return None;
            }
            found = Some(pos + 1);
        }
    }
    found
}

impl FromStr for Mnemonic {
    type Err = Slip39Error;

    fn from_str(text: &str) -> Result<Mnemonic, Slip39Error> {
        Mnemonic::parse(text)
    }
}

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mnemonic")
            .field("info", &self.info)
            .field("word_count", &self.word_count)
            .finish_non_exhaustive()
    }
}

/// Joins the words for `indices` into a string allocated once at its final
/// size, so no partially filled copy is left behind by reallocation.
fn spell(indices: &[u16]) -> Zeroizing<String> {
    let len = indices
        .iter()
        .map(|&i| wordlist::word(i).len() + 1)
        .sum::<usize>()
        .saturating_sub(1);
    let mut words = Zeroizing::new(String::with_capacity(len));
    for (i, &index) in indices.iter().enumerate() {
        if i > 0 {
            words.push(' ');
        }
        words.push_str(wordlist::word(index));
    }
    words
}

/// The shares of one split, by group (outer index = group index, inner index
/// = member index).
#[derive(Debug)]
pub struct Split {
    pub identifier: u16,
    pub extendable: bool,
    pub iteration_exponent: u8,
    pub groups: Vec<Vec<Mnemonic>>,
}

/// Splits `master_secret` into mnemonic shares (spec "Generating the
/// shares") under a random 15-bit identifier.
///
/// `groups` lists each group's member threshold and count; `group_threshold`
/// of them are needed. New backups should use `extendable = true` (spec
/// "Generating the shares", step 3). The PBKDF2 work is 10000 * 2^e
/// iterations in total.
pub fn split<R: RngCore + CryptoRng>(
    master_secret: &[u8],
    passphrase: &[u8],
    group_threshold: u8,
    groups: &[GroupSpec],
    extendable: bool,
    iteration_exponent: u8,
    rng: &mut R,
) -> Result<Split, Slip39Error> {
    // Spec "Generating the shares", step 2: a random 15-bit identifier.
    let identifier = u16::try_from(rng.next_u32() & u32::from(MAX_IDENTIFIER)).unwrap_or(0);
    split_inner(
        identifier,
        master_secret,
        passphrase,
        group_threshold,
        groups,
        extendable,
        iteration_exponent,
        rng,
    )
}

/// Like [`split`], with a caller-chosen identifier, e.g. to create a further
/// share set for the same master secret and passphrase.
///
/// Requires `extendable = true`: with ext = 0 the identifier salts the
/// encryption, and the spec (design rationale 10) says implementations
/// should not allow intentionally creating another set with the same
/// identifier and EMS.
#[allow(clippy::too_many_arguments)]
pub fn split_with_identifier<R: RngCore + CryptoRng>(
    identifier: u16,
    master_secret: &[u8],
    passphrase: &[u8],
    group_threshold: u8,
    groups: &[GroupSpec],
    extendable: bool,
    iteration_exponent: u8,
    rng: &mut R,
) -> Result<Split, Slip39Error> {
    if identifier > MAX_IDENTIFIER {
        return Err(Slip39Error::InvalidParameters(format!(
            "identifier must be at most {MAX_IDENTIFIER} (15 bits)"
        )));
    }
    if !extendable {
        return Err(Slip39Error::InvalidParameters(
            "a chosen identifier requires an extendable share set".to_owned(),
        ));
    }
    split_inner(
        identifier,
        master_secret,
        passphrase,
        group_threshold,
        groups,
        extendable,
        iteration_exponent,
        rng,
    )
}

/// Spec "Passphrase": only printable ASCII (code points 32-126), for
/// interoperability across systems and wallets.
fn check_passphrase(passphrase: &[u8]) -> Result<(), Slip39Error> {
    if passphrase.iter().all(|&c| (32..=126).contains(&c)) {
        Ok(())
    } else {
        Err(Slip39Error::InvalidPassphrase)
    }
}

fn check_split_parameters(
    master_secret: &[u8],
    passphrase: &[u8],
    group_threshold: u8,
    groups: &[GroupSpec],
    iteration_exponent: u8,
) -> Result<(), Slip39Error> {
    let len = master_secret.len();
    // Spec "Format of the share mnemonic": at least 128 bits and a multiple
    // of 16 bits (the Feistel cipher splits the secret in two halves).
    if !(MIN_MASTER_SECRET_LEN..=MAX_MASTER_SECRET_LEN).contains(&len) || !len.is_multiple_of(2) {
        return Err(Slip39Error::InvalidMasterSecretLength { len });
    }
    check_passphrase(passphrase)?;
    let invalid = |msg: String| Err(Slip39Error::InvalidParameters(msg));
    if iteration_exponent > MAX_ITERATION_EXPONENT {
        return invalid(format!(
            "iteration exponent must be at most {MAX_ITERATION_EXPONENT}"
        ));
    }
    if groups.is_empty() || groups.len() > usize::from(MAX_SHARE_COUNT) {
        return invalid(format!(
            "there must be between 1 and {MAX_SHARE_COUNT} groups"
        ));
    }
    if group_threshold == 0 || usize::from(group_threshold) > groups.len() {
        return invalid(format!(
            "group threshold must be between 1 and the number of groups ({})",
            groups.len()
        ));
    }
    for (i, group) in groups.iter().enumerate() {
        let n = i + 1;
        // Spec "Sharing a secret", step 1: 0 < T <= N <= 16.
        if group.count == 0 || group.count > MAX_SHARE_COUNT {
            return invalid(format!(
                "group {n} must have between 1 and {MAX_SHARE_COUNT} members"
            ));
        }
        if group.threshold == 0 || group.threshold > group.count {
            return invalid(format!(
                "member threshold of group {n} must be between 1 and its member count"
            ));
        }
        // Spec "Generating the shares", step 1: several shares with threshold
        // 1 would be identical apart from the index (design rationale 2).
        if group.threshold == 1 && group.count > 1 {
            return invalid(format!(
                "group {n} has threshold 1, so it must have exactly 1 member"
            ));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn split_inner<R: RngCore + CryptoRng>(
    identifier: u16,
    master_secret: &[u8],
    passphrase: &[u8],
    group_threshold: u8,
    groups: &[GroupSpec],
    extendable: bool,
    iteration_exponent: u8,
    rng: &mut R,
) -> Result<Split, Slip39Error> {
    check_split_parameters(
        master_secret,
        passphrase,
        group_threshold,
        groups,
        iteration_exponent,
    )?;
    // Checked above: at most 16 groups.
    let group_count = u8::try_from(groups.len()).unwrap_or(MAX_SHARE_COUNT);

    // Spec "Generating the shares", steps 4-6.
    let ems = cipher::encrypt(
        master_secret,
        passphrase,
        iteration_exponent,
        identifier,
        extendable,
    );
    let group_shares = split_secret(group_threshold, group_count, &ems, rng)?;

    let mut out = Vec::with_capacity(groups.len());
    for ((group_index, group), group_share) in (0u8..).zip(groups).zip(&group_shares) {
        let member_shares = split_secret(group.threshold, group.count, group_share, rng)?;
        // Step 7: the stored fields of each member share.
        let members = (0u8..)
            .zip(member_shares)
            .map(|(member_index, value)| {
                let info = ShareInfo {
                    identifier,
                    extendable,
                    iteration_exponent,
                    group_index,
                    group_threshold,
                    group_count,
                    member_index,
                    member_threshold: group.threshold,
                };
                Mnemonic::from_share(info, value)
            })
            .collect();
        out.push(members);
    }
    Ok(Split {
        identifier,
        extendable,
        iteration_exponent,
        groups: out,
    })
}

/// First 4 bytes of HMAC-SHA256(key = R, msg = S) (design rationale 4:
/// keyed by R so that partial knowledge of shares does not help an attacker
/// test candidate secrets).
fn digest(random_part: &[u8], shared_secret: &[u8]) -> [u8; DIGEST_LEN] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(random_part)
        .expect("hmac accepts keys of any length");
    mac.update(shared_secret);
    let tag = mac.finalize().into_bytes();
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&tag[..DIGEST_LEN]);
    out
}

fn interpolation_error(err: InterpolationError) -> Slip39Error {
    match err {
        InterpolationError::NoPoints => Slip39Error::Empty,
        InterpolationError::LengthMismatch => Slip39Error::MismatchedShareLength,
        InterpolationError::DuplicateX => {
            Slip39Error::InvalidParameters("share indices must be distinct".to_owned())
        }
    }
}

/// Spec "Sharing a secret", SplitSecret(T, N, S): shares for x = 0..N-1.
fn split_secret<R: RngCore + CryptoRng>(
    threshold: u8,
    count: u8,
    secret: &[u8],
    rng: &mut R,
) -> Result<Vec<Zeroizing<Vec<u8>>>, Slip39Error> {
    debug_assert!(0 < threshold && threshold <= count && count <= MAX_SHARE_COUNT);
    // Step 2: with threshold 1 every share is the secret itself.
    if threshold == 1 {
        return Ok((0..count)
            .map(|_| Zeroizing::new(secret.to_vec()))
            .collect());
    }
    let n = secret.len();

    // Step 4: T - 2 uniformly random shares at x = 0..T-3. They are drawn before R
    // (step 3), in the order of the reference implementation, so that a split from a
    // given random stream is the same in both (docs/format.md#emergency-key relies on
    // that).
    let random_count = threshold - 2;
    let mut shares: Vec<Zeroizing<Vec<u8>>> = (0..random_count)
        .map(|_| {
            let mut y = Zeroizing::new(vec![0u8; n]);
            rng.fill_bytes(&mut y);
            y
        })
        .collect();

    // Step 3: D = digest || R, with R random.
    let mut random_part = Zeroizing::new(vec![0u8; n - DIGEST_LEN]);
    rng.fill_bytes(&mut random_part);
    let mut digest_share = Zeroizing::new(Vec::with_capacity(n));
    digest_share.extend_from_slice(&digest(&random_part, secret));
    digest_share.extend_from_slice(&random_part);

    // Step 5: the remaining shares lie on the polynomial through the random
    // shares, (254, D) and (255, S).
    let mut base: Vec<(u8, &[u8])> = (0u8..).zip(shares.iter().map(|y| &y[..])).collect();
    base.push((DIGEST_INDEX, &digest_share));
    base.push((SECRET_INDEX, secret));
    let rest = (random_count..count)
        .map(|x| gf256::interpolate(&base, x).map_err(interpolation_error))
        .collect::<Result<Vec<_>, _>>()?;
    drop(base);
    shares.extend(rest);
    Ok(shares)
}

/// Spec "Sharing a secret", RecoverSecret(T, shares), including the digest
/// check for T >= 2.
fn recover_secret(
    threshold: u8,
    points: &[(u8, &[u8])],
) -> Result<Zeroizing<Vec<u8>>, Slip39Error> {
    if threshold == 1 {
        let &(_, value) = points.first().ok_or(Slip39Error::Empty)?;
        return Ok(Zeroizing::new(value.to_vec()));
    }
    let secret = gf256::interpolate(points, SECRET_INDEX).map_err(interpolation_error)?;
    let digest_share = gf256::interpolate(points, DIGEST_INDEX).map_err(interpolation_error)?;
    if digest_share.len() < DIGEST_LEN {
        return Err(Slip39Error::InvalidDigest);
    }
    let (expected, random_part) = digest_share.split_at(DIGEST_LEN);
    let actual = digest(random_part, &secret);
    // Constant-time: the digest is derived from the secret.
    if bool::from(actual.ct_eq(expected)) {
        Ok(secret)
    } else {
        Err(Slip39Error::InvalidDigest)
    }
}

/// Recovers the master secret from shares (spec "Combining the shares").
///
/// All shares must come from one set (same identifier, ext flag, iteration
/// exponent, group threshold, group count and length). Exactly the group
/// threshold of groups must be present, each with exactly its member
/// threshold of distinct shares, as the spec requires; the same share given
/// twice is counted once, while two different shares with the same member
/// index are rejected.
///
/// There is no way to tell whether the passphrase is right (design rationale
/// 8): a wrong one yields a different secret.
pub fn combine(
    mnemonics: &[Mnemonic],
    passphrase: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Slip39Error> {
    let first = mnemonics.first().ok_or(Slip39Error::Empty)?.info;
    check_passphrase(passphrase)?;

    // Step 1, set-wide parameters. The identifier, ext flag and exponent are
    // the first two words, so a mismatch there means a different share set.
    if mnemonics.iter().any(|m| {
        let i = m.info;
        (i.identifier, i.extendable, i.iteration_exponent)
            != (first.identifier, first.extendable, first.iteration_exponent)
    }) {
        return Err(Slip39Error::MismatchedShareSet);
    }
    if mnemonics.iter().any(|m| {
        (m.info.group_threshold, m.info.group_count) != (first.group_threshold, first.group_count)
    }) {
        return Err(Slip39Error::MismatchedGroupParameters);
    }
    let len = mnemonics[0].value.len();
    if mnemonics.iter().any(|m| m.value.len() != len) {
        return Err(Slip39Error::MismatchedShareLength);
    }

    // Step 1, per group: a common member threshold and distinct member
    // indices. Group indices are 4-bit, so a fixed table holds every group.
    let mut by_group: [Vec<&Mnemonic>; MAX_SHARE_COUNT as usize] = Default::default();
    for m in mnemonics {
        let info = m.info;
        let group = &mut by_group[usize::from(info.group_index)];
        if let Some(other) = group.first()
            && other.info.member_threshold != info.member_threshold
        {
            return Err(Slip39Error::MismatchedMemberThreshold {
                group_index: info.group_index,
            });
        }
        if let Some(other) = group
            .iter()
            .find(|other| other.info.member_index == info.member_index)
        {
            if bool::from(other.value.ct_eq(&m.value)) {
                // The same share entered twice: harmless, count it once.
                continue;
            }
            return Err(Slip39Error::DuplicateShare {
                group_index: info.group_index,
                member_index: info.member_index,
            });
        }
        group.push(m);
    }

    let present: Vec<(u8, &Vec<&Mnemonic>)> = (0u8..)
        .zip(by_group.iter())
        .filter(|(_, members)| !members.is_empty())
        .collect();
    let need = usize::from(first.group_threshold);
    if present.len() < need {
        return Err(Slip39Error::InsufficientGroups {
            have: present.len(),
            need,
        });
    }
    if present.len() > need {
        return Err(Slip39Error::TooManyGroups {
            have: present.len(),
            need,
        });
    }
    for &(group_index, members) in &present {
        let need = usize::from(members[0].info.member_threshold);
        let have = members.len();
        if have < need {
            return Err(Slip39Error::InsufficientShares {
                group_index,
                have,
                need,
            });
        }
        if have > need {
            return Err(Slip39Error::TooManyShares {
                group_index,
                have,
                need,
            });
        }
    }

    // Step 2: recover each group share from its members.
    let mut group_shares: Vec<(u8, Zeroizing<Vec<u8>>)> = Vec::with_capacity(present.len());
    for &(group_index, members) in &present {
        let points: Vec<(u8, &[u8])> = members
            .iter()
            .map(|m| (m.info.member_index, &m.value[..]))
            .collect();
        let value = recover_secret(members[0].info.member_threshold, &points)?;
        group_shares.push((group_index, value));
    }

    // Step 3: recover the EMS from the group shares.
    let points: Vec<(u8, &[u8])> = group_shares.iter().map(|(x, y)| (*x, &y[..])).collect();
    let ems = recover_secret(first.group_threshold, &points)?;

    // Step 4.
    Ok(cipher::decrypt(
        &ems,
        passphrase,
        first.iteration_exponent,
        first.identifier,
        first.extendable,
    ))
}

/// Parses each share with [`Mnemonic::parse`] and combines them.
pub fn combine_strs(words: &[&str], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, Slip39Error> {
    let mnemonics = words
        .iter()
        .map(|text| Mnemonic::parse(text))
        .collect::<Result<Vec<_>, _>>()?;
    combine(&mnemonics, passphrase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    /// Vector 1 of the official test vectors (128 bits, 1-of-1, ext = 0).
    const VECTOR_1: &str = "duckling enlarge academic academic agency result length solution fridge kidney coal piece deal husband erode duke ajar critical decision keyboard";
    const VECTOR_1_SECRET: &str = "bb54aac4b89dc868ba37d9cc21b2cece";

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    fn single(threshold: u8, count: u8) -> Vec<GroupSpec> {
        vec![GroupSpec { threshold, count }]
    }

    #[test]
    fn known_vector_combines() {
        let secret = combine_strs(&[VECTOR_1], b"TREZOR").unwrap();
        assert_eq!(hex::encode(&secret[..]), VECTOR_1_SECRET);
        let m = Mnemonic::parse(VECTOR_1).unwrap();
        assert_eq!(m.word_count(), 20);
        assert_eq!(
            m.info(),
            ShareInfo {
                identifier: 7945,
                extendable: false,
                iteration_exponent: 0,
                group_index: 0,
                group_threshold: 1,
                group_count: 1,
                member_index: 0,
                member_threshold: 1,
            }
        );
    }

    #[test]
    fn parse_is_lenient_about_case_spacing_and_prefixes() {
        let messy: String = VECTOR_1
            .split(' ')
            .enumerate()
            .map(|(i, w)| match i % 3 {
                0 => w[..4].to_ascii_uppercase(),
                1 => format!("\t{w}\n"),
                _ => w[..w.len().min(5)].to_owned(),
            })
            .collect::<Vec<_>>()
            .join("  ");
        let m = Mnemonic::parse(&messy).unwrap();
        assert_eq!(m.expose_words(), VECTOR_1);
        let m: Mnemonic = format!("  {VECTOR_1}  ").parse().unwrap();
        assert_eq!(m.expose_words(), VECTOR_1);
    }

    #[test]
    fn parse_errors_point_at_words_without_revealing_them() {
        let words: Vec<&str> = VECTOR_1.split(' ').collect();
        let mut bad = words.clone();
        bad[4] = "agenx";
        let err = Mnemonic::parse(&bad.join(" ")).unwrap_err();
        assert!(
            matches!(err, Slip39Error::UnknownWord { position: 5 }),
            "{err:?}"
        );
        let mut bad = words.clone();
        bad[6] = "len";
        let err = Mnemonic::parse(&bad.join(" ")).unwrap_err();
        assert!(
            matches!(err, Slip39Error::AmbiguousPrefix { position: 7 }),
            "{err:?}"
        );

        // A swapped word keeps the length but breaks the checksum.
        let mut bad = words.clone();
        bad.swap(8, 9);
        let err = Mnemonic::parse(&bad.join(" ")).unwrap_err();
        assert!(matches!(err, Slip39Error::InvalidChecksum), "{err:?}");

        let err = Mnemonic::parse(&words[..19].join(" ")).unwrap_err();
        assert!(
            matches!(err, Slip39Error::InvalidLength { words: 19 }),
            "{err:?}"
        );
        assert!(matches!(Mnemonic::parse(" \n "), Err(Slip39Error::Empty)));

        // Nothing of the share text in messages or Debug output.
        for err in [
            Slip39Error::UnknownWord { position: 5 },
            Slip39Error::InvalidChecksum,
        ] {
            let shown = format!("{err} {err:?}");
            for word in &words {
                assert!(!shown.contains(word), "{shown} leaks {word}");
            }
        }
        let m = Mnemonic::parse(VECTOR_1).unwrap();
        let shown = format!("{m:?}");
        for word in &words {
            assert!(!shown.contains(word), "{shown} leaks {word}");
        }
    }

    #[test]
    fn error_messages_are_lowercase_without_period() {
        let errors = [
            Slip39Error::Empty,
            Slip39Error::UnknownWord { position: 1 },
            Slip39Error::AmbiguousPrefix { position: 1 },
            Slip39Error::InvalidLength { words: 3 },
            Slip39Error::InvalidChecksum,
            Slip39Error::InvalidPadding,
            Slip39Error::GroupThresholdExceedsGroupCount {
                group_threshold: 3,
                group_count: 2,
            },
            Slip39Error::InvalidMasterSecretLength { len: 3 },
            Slip39Error::InvalidPassphrase,
            Slip39Error::MismatchedShareSet,
            Slip39Error::MismatchedGroupParameters,
            Slip39Error::MismatchedShareLength,
            Slip39Error::MismatchedMemberThreshold { group_index: 0 },
            Slip39Error::DuplicateShare {
                group_index: 0,
                member_index: 1,
            },
            Slip39Error::InsufficientGroups { have: 1, need: 2 },
            Slip39Error::TooManyGroups { have: 3, need: 2 },
            Slip39Error::InsufficientShares {
                group_index: 0,
                have: 1,
                need: 2,
            },
            Slip39Error::TooManyShares {
                group_index: 0,
                have: 3,
                need: 2,
            },
            Slip39Error::InvalidDigest,
            Slip39Error::InvalidParameters("x".into()),
        ];
        for err in errors {
            let msg = err.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(msg, msg.to_lowercase(), "{msg}");
        }
        assert_eq!(
            Slip39Error::DuplicateShare {
                group_index: 0,
                member_index: 1
            }
            .to_string(),
            "two different shares claim to be member 2 of group 1: one of them is corrupted or from another backup"
        );
    }

    #[test]
    fn split_rejects_bad_parameters() {
        let ms = [7u8; 16];
        let r = &mut rng(1);
        // (master secret, passphrase, group threshold, groups, exponent)
        type Case = (Vec<u8>, &'static [u8], u8, Vec<GroupSpec>, u8);
        let cases: Vec<Case> = vec![
            (vec![1; 14], b"", 1, single(2, 3), 0),
            (vec![1; 17], b"", 1, single(2, 3), 0),
            (ms.to_vec(), b"caf\xc3\xa9", 1, single(2, 3), 0),
            (ms.to_vec(), b"", 1, single(2, 3), 16),
            (ms.to_vec(), b"", 1, vec![], 0),
            (ms.to_vec(), b"", 2, single(2, 3), 0),
            (ms.to_vec(), b"", 0, single(2, 3), 0),
            (ms.to_vec(), b"", 1, single(4, 3), 0),
            (ms.to_vec(), b"", 1, single(0, 3), 0),
            (ms.to_vec(), b"", 1, single(2, 17), 0),
            (ms.to_vec(), b"", 1, single(1, 2), 0),
            (
                ms.to_vec(),
                b"",
                1,
                vec![
                    GroupSpec {
                        threshold: 1,
                        count: 1
                    };
                    17
                ],
                0,
            ),
        ];
        for (secret, pass, gt, groups, e) in cases {
            let result = split(&secret, pass, gt, &groups, true, e, r);
            assert!(result.is_err(), "{secret:?} {gt} {groups:?} {e}");
        }
        assert!(matches!(
            split(&[1; 15], b"", 1, &single(1, 1), true, 0, r),
            Err(Slip39Error::InvalidMasterSecretLength { len: 15 })
        ));
        assert!(matches!(
            split_with_identifier(0x8000, &ms, b"", 1, &single(1, 1), true, 0, r),
            Err(Slip39Error::InvalidParameters(_))
        ));
        assert!(matches!(
            split_with_identifier(5, &ms, b"", 1, &single(1, 1), false, 0, r),
            Err(Slip39Error::InvalidParameters(_))
        ));
    }

    #[test]
    fn split_layout_and_metadata() {
        let ms: Vec<u8> = (0..32).collect();
        let groups = [
            GroupSpec {
                threshold: 1,
                count: 1,
            },
            GroupSpec {
                threshold: 2,
                count: 3,
            },
            GroupSpec {
                threshold: 3,
                count: 5,
            },
        ];
        let s =
            split_with_identifier(0x1234, &ms, b"pw", 2, &groups, true, 0, &mut rng(2)).unwrap();
        assert_eq!(
            (s.identifier, s.extendable, s.iteration_exponent),
            (0x1234, true, 0)
        );
        assert_eq!(s.groups.iter().map(Vec::len).collect::<Vec<_>>(), [1, 3, 5]);
        for (gi, group) in s.groups.iter().enumerate() {
            for (mi, m) in group.iter().enumerate() {
                assert_eq!(m.word_count(), 33);
                assert_eq!(m.expose_words().split(' ').count(), 33);
                let info = m.info();
                assert_eq!(usize::from(info.group_index), gi);
                assert_eq!(usize::from(info.member_index), mi);
                assert_eq!(info.member_threshold, groups[gi].threshold);
                assert_eq!((info.group_threshold, info.group_count), (2, 3));
                // Re-parsing the words gives the same metadata.
                let again = Mnemonic::parse(m.expose_words()).unwrap();
                assert_eq!(again.info(), info);
                assert_eq!(again.expose_words(), m.expose_words());
            }
        }
        // Group 0 (1-of-1) plus two members of group 1.
        let picked = [&s.groups[0][0], &s.groups[1][2], &s.groups[1][0]];
        let words: Vec<&str> = picked.iter().map(|m| m.expose_words()).collect();
        assert_eq!(&combine_strs(&words, b"pw").unwrap()[..], &ms[..]);
        // A wrong passphrase silently gives another secret (rationale 8).
        assert_ne!(&combine_strs(&words, b"PW").unwrap()[..], &ms[..]);
    }

    #[test]
    fn extendable_sets_share_the_same_ems() {
        let ms = [0xa5u8; 16];
        let a =
            split_with_identifier(1, &ms, b"x", 1, &single(1, 1), true, 0, &mut rng(3)).unwrap();
        let b =
            split_with_identifier(2, &ms, b"x", 1, &single(2, 2), true, 0, &mut rng(4)).unwrap();
        assert_eq!(&combine(&a.groups[0], b"x").unwrap()[..], &ms[..]);
        assert_eq!(&combine(&b.groups[0], b"x").unwrap()[..], &ms[..]);
        // Shares of the two sets do not mix.
        let mixed =
            [&a.groups[0][0], &b.groups[0][0]].map(|m| Mnemonic::parse(m.expose_words()).unwrap());
        assert!(matches!(
            combine(&mixed, b"x"),
            Err(Slip39Error::MismatchedShareSet)
        ));
    }

    #[test]
    fn combine_checks_share_sets() {
        let ms = [0x11u8; 16];
        let s = split(&ms, b"", 1, &single(3, 5), false, 0, &mut rng(5)).unwrap();
        let g = &s.groups[0];
        let parse = |i: usize| Mnemonic::parse(g[i].expose_words()).unwrap();

        assert!(matches!(combine(&[], b""), Err(Slip39Error::Empty)));
        assert!(matches!(
            combine(&[parse(0), parse(1)], b""),
            Err(Slip39Error::InsufficientShares {
                group_index: 0,
                have: 2,
                need: 3
            })
        ));
        assert!(matches!(
            combine(&[parse(0), parse(1), parse(2), parse(3)], b""),
            Err(Slip39Error::TooManyShares {
                group_index: 0,
                have: 4,
                need: 3
            })
        ));
        // The same share twice counts once.
        assert_eq!(
            &combine(&[parse(0), parse(1), parse(1), parse(4)], b"").unwrap()[..],
            &ms[..]
        );
        assert!(matches!(
            combine(&[parse(0), parse(1), parse(2)], b"\x7f"),
            Err(Slip39Error::InvalidPassphrase)
        ));

        // A share with the same index but a different value, re-encoded with
        // a valid checksum, is inconsistent.
        let forged = {
            let m = parse(2);
            let mut value = m.value.clone();
            value[0] ^= 1;
            Mnemonic::from_share(m.info(), value)
        };
        let forged_copy = Mnemonic::parse(forged.expose_words()).unwrap();
        assert!(matches!(
            combine(&[parse(0), parse(2), forged], b""),
            Err(Slip39Error::DuplicateShare {
                group_index: 0,
                member_index: 2
            })
        ));
        // Used in place of the original it breaks the digest.
        assert!(matches!(
            combine(&[parse(0), parse(1), forged_copy], b""),
            Err(Slip39Error::InvalidDigest)
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Share text is untrusted input: parsing must never panic, and
        /// whatever parses must re-spell to itself.
        #[test]
        fn parse_arbitrary_text(text in "\\PC{0,300}") {
            if let Ok(m) = Mnemonic::parse(&text) {
                let again = Mnemonic::parse(m.expose_words()).unwrap();
                prop_assert_eq!(again.expose_words(), m.expose_words());
                prop_assert_eq!(again.info(), m.info());
            }
        }

        /// Word sequences with a valid checksum either parse and re-encode to
        /// the same words, or fail on a header or padding rule.
        #[test]
        fn checksummed_word_sequences(
            data in prop::collection::vec(0u16..1024, 17..=40),
        ) {
            let extendable = (data[1] >> 4) & 1 == 1;
            let mut words = data.clone();
            words.extend(rs1024::create_checksum(rs1024::customization(extendable), &data));
            let text = words.iter().map(|&i| wordlist::word(i)).collect::<Vec<_>>().join(" ");
            match Mnemonic::parse(&text) {
                Ok(m) => {
                    prop_assert_eq!(m.expose_words(), text.as_str());
                    let rebuilt = Mnemonic::from_share(m.info(), m.value.clone());
                    prop_assert_eq!(rebuilt.expose_words(), text.as_str());
                }
                Err(err) => prop_assert!(
                    matches!(
                        err,
                        Slip39Error::InvalidLength { .. }
                            | Slip39Error::InvalidPadding
                            | Slip39Error::GroupThresholdExceedsGroupCount { .. }
                    ),
                    "unexpected error {:?}",
                    err
                ),
            }
        }
    }

    /// A random layout within the property-test bounds: 1..=4 groups,
    /// thresholds <= counts <= 6, threshold 1 only with count 1.
    fn layout() -> impl Strategy<Value = (u8, Vec<GroupSpec>)> {
        prop::collection::vec((1u8..=6, 1u8..=6), 1..=4).prop_flat_map(|pairs| {
            let groups: Vec<GroupSpec> = pairs
                .into_iter()
                .map(|(a, b)| {
                    let (threshold, count) = (a.min(b), a.max(b));
                    let count = if threshold == 1 { 1 } else { count };
                    GroupSpec { threshold, count }
                })
                .collect();
            let n = u8::try_from(groups.len()).unwrap();
            (1..=n, Just(groups))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn split_then_combine_round_trips(
            half_len in 8usize..=32,
            secret_seed in any::<u64>(),
            (group_threshold, groups) in layout(),
            extendable in any::<bool>(),
            pick_seed in any::<u64>(),
        ) {
            let r = &mut rng(secret_seed);
            let secret: Vec<u8> = (0..half_len * 2).map(|_| r.r#gen()).collect();
            let passphrase = if secret_seed % 2 == 0 { &b""[..] } else { &b"TREZOR"[..] };
            let s = split(&secret, passphrase, group_threshold, &groups, extendable, 0, r).unwrap();
            let mut picker = rng(pick_seed);

            // A qualifying subset: group_threshold groups, threshold members each.
            let mut group_ids: Vec<usize> = (0..groups.len()).collect();
            group_ids.shuffle(&mut picker);
            let chosen = &group_ids[..usize::from(group_threshold)];
            let mut qualifying: Vec<&Mnemonic> = Vec::new();
            for &g in chosen {
                let mut members: Vec<&Mnemonic> = s.groups[g].iter().collect();
                members.shuffle(&mut picker);
                qualifying.extend(&members[..usize::from(groups[g].threshold)]);
            }
            qualifying.shuffle(&mut picker);
            let parsed: Vec<Mnemonic> = qualifying
                .iter()
                .map(|m| Mnemonic::parse(m.expose_words()).unwrap())
                .collect();
            let recovered = combine(&parsed, passphrase).unwrap();
            prop_assert_eq!(&recovered[..], &secret[..]);

            // A non-qualifying subset: drop a whole group, or one member of a
            // group with threshold >= 2.
            let mut short = parsed;
            let thin = chosen.iter().copied().find(|&g| groups[g].threshold >= 2);
            match thin {
                Some(g) if picker.r#gen::<bool>() || group_threshold == 1 => {
                    let pos = short
                        .iter()
                        .position(|m| usize::from(m.info().group_index) == g)
                        .unwrap();
                    short.remove(pos);
                }
                _ => {
                    let g = chosen[picker.gen_range(0..chosen.len())];
                    short.retain(|m| usize::from(m.info().group_index) != g);
                }
            }
            let err = combine(&short, passphrase).unwrap_err();
            prop_assert!(
                matches!(
                    err,
                    Slip39Error::Empty
                        | Slip39Error::InsufficientGroups { .. }
                        | Slip39Error::InsufficientShares { .. }
                ),
                "unexpected error {:?}",
                err
            );
        }
    }
}
