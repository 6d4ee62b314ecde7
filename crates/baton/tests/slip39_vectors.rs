//! The official SLIP-0039 test vectors (python-shamir-mnemonic `vectors.json`,
//! committed in `tests/data/slip39/` with its licence and provenance, see its README).
//!
//! Every valid set must give exactly the listed master secret with the
//! passphrase "TREZOR"; every invalid set must be rejected, with the error
//! kind the description names.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use baton::slip39::{Mnemonic, Slip39Error, combine};
use sha2::{Digest, Sha256};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/slip39/vectors.json"
);

/// sha256 of the file as pinned in `tests/data/slip39/README.md`.
const VECTORS_SHA256: &str = "13ebecebdd869dd2bc2cdf69e7ce3a158cf106cac76c39d17682b1c6cdabbdc4";

const PASSPHRASE: &[u8] = b"TREZOR";

/// Error kind expected for an invalid vector, keyed by a phrase of its
/// description (matched case-insensitively).
/// Whether an error is of the expected kind.
type KindCheck = fn(&Slip39Error) -> bool;

fn expected_error(description: &str) -> Option<(&'static str, KindCheck)> {
    let d = description.to_ascii_lowercase();
    let table: [(&str, &str, KindCheck); 15] = [
        ("invalid checksum", "InvalidChecksum", |e| {
            matches!(e, Slip39Error::InvalidChecksum)
        }),
        ("invalid padding", "InvalidPadding", |e| {
            matches!(e, Slip39Error::InvalidPadding)
        }),
        ("different identifiers", "MismatchedShareSet", |e| {
            matches!(e, Slip39Error::MismatchedShareSet)
        }),
        ("different iteration exponents", "MismatchedShareSet", |e| {
            matches!(e, Slip39Error::MismatchedShareSet)
        }),
        (
            "mismatching group thresholds",
            "MismatchedGroupParameters",
            |e| matches!(e, Slip39Error::MismatchedGroupParameters),
        ),
        (
            "mismatching group counts",
            "MismatchedGroupParameters",
            |e| matches!(e, Slip39Error::MismatchedGroupParameters),
        ),
        (
            "greater group threshold than group counts",
            "GroupThresholdExceedsGroupCount",
            |e| matches!(e, Slip39Error::GroupThresholdExceedsGroupCount { .. }),
        ),
        ("duplicate member indices", "DuplicateShare", |e| {
            matches!(e, Slip39Error::DuplicateShare { .. })
        }),
        (
            "mismatching member thresholds",
            "MismatchedMemberThreshold",
            |e| matches!(e, Slip39Error::MismatchedMemberThreshold { .. }),
        ),
        ("invalid digest", "InvalidDigest", |e| {
            matches!(e, Slip39Error::InvalidDigest)
        }),
        ("insufficient number of groups", "InsufficientGroups", |e| {
            matches!(e, Slip39Error::InsufficientGroups { .. })
        }),
        (
            "insufficient number of members",
            "InsufficientShares",
            |e| matches!(e, Slip39Error::InsufficientShares { .. }),
        ),
        ("insufficient length", "InvalidLength", |e| {
            matches!(e, Slip39Error::InvalidLength { .. })
        }),
        // 21 words leave 140 value bits: 12 bits of padding, more than the 8
        // the spec allows, so no even-length secret fits this length.
        ("invalid master secret length", "InvalidLength", |e| {
            matches!(e, Slip39Error::InvalidLength { words: 21 })
        }),
        // A single share of a 2-of-3 set.
        ("basic sharing 2-of-3", "InsufficientShares", |e| {
            matches!(
                e,
                Slip39Error::InsufficientShares {
                    have: 1,
                    need: 2,
                    ..
                }
            )
        }),
    ];
    table
        .into_iter()
        .find(|(phrase, _, _)| d.contains(phrase))
        .map(|(_, name, check)| (name, check))
}

fn run(mnemonics: &[String]) -> Result<zeroize::Zeroizing<Vec<u8>>, Slip39Error> {
    let parsed = mnemonics
        .iter()
        .map(|m| Mnemonic::parse(m))
        .collect::<Result<Vec<_>, _>>()?;
    combine(&parsed, PASSPHRASE)
}

/// Maps `f` over `items` on all cores, keeping the order. Items are handed
/// out one at a time so that a few slow ones do not land on one thread.
fn parallel_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<U>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(items.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let value = f(item);
                    results.lock().unwrap()[i] = Some(value);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item was mapped"))
        .collect()
}

#[test]
fn official_vectors() {
    let path = Path::new(VECTORS);
    // The vectors are part of the repository: a missing file is a broken checkout,
    // never a reason to skip.
    let text = std::fs::read(path).unwrap_or_else(|err| {
        panic!(
            "the slip39 test vectors are missing: {} ({err}); restore tests/data/slip39/ from git",
            path.display()
        )
    });
    assert_eq!(
        hex::encode(Sha256::digest(&text)),
        VECTORS_SHA256,
        "{} does not match the sha256 pinned in its README",
        path.display()
    );

    let vectors: Vec<(String, Vec<String>, String, String)> =
        serde_json::from_slice(&text).expect("vectors.json is a list of quadruples");
    assert_eq!(vectors.len(), 45, "expected the 45 official vectors");

    // The valid vectors run PBKDF2 with exponents up to 3, which is slow in
    // debug builds; spread them over the available cores.
    let results = parallel_map(&vectors, |(_, mnemonics, _, _)| run(mnemonics));

    let mut failures = Vec::new();
    let mut kinds_checked = 0;
    for ((description, mnemonics, secret_hex, _xprv), result) in vectors.iter().zip(results) {
        if secret_hex.is_empty() {
            match (result, expected_error(description)) {
                (Ok(_), _) => failures.push(format!("{description}: accepted, must be rejected")),
                (Err(err), Some((name, check))) => {
                    if check(&err) {
                        kinds_checked += 1;
                    } else {
                        failures.push(format!("{description}: expected {name}, got {err:?}"));
                    }
                }
                (Err(_), None) => {}
            }
        } else {
            match result {
                Ok(secret) if hex::encode(&secret[..]) == *secret_hex => {
                    // Valid shares are already canonical: they re-spell unchanged.
                    for m in mnemonics {
                        let parsed = Mnemonic::parse(m).expect("parsed above");
                        if parsed.expose_words() != m {
                            failures.push(format!("{description}: not re-spelled canonically"));
                        }
                    }
                }
                Ok(_) => failures.push(format!("{description}: wrong master secret")),
                Err(err) => failures.push(format!("{description}: rejected: {err}")),
            }
        }
    }

    let passed = vectors.len() - failures.len();
    println!(
        "slip39 vectors: {passed}/{} passed ({kinds_checked} error kinds checked)",
        vectors.len()
    );
    assert!(
        failures.is_empty(),
        "failing vectors:\n{}",
        failures.join("\n")
    );
}
