//! Every parser of untrusted input must reject garbage with an error, never panic, and
//! round-trip what it accepts (a proptest stand-in for the fuzz targets, which need a
//! nightly toolchain this project does not have).

use proptest::prelude::*;

use baton::slip39::Mnemonic;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mnemonic_parse_never_panics(s in "\\PC{0,400}") {
        let _ = Mnemonic::parse(&s);
    }

    #[test]
    fn mnemonic_parse_of_word_soup_never_panics(words in prop::collection::vec("[a-z]{2,9}", 0..40)) {
        let _ = Mnemonic::parse(&words.join(" "));
    }

    #[test]
    fn header_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vault.json"), &bytes).unwrap();
        prop_assert!(baton::vault::read_header(dir.path()).is_err());
    }

    #[test]
    fn header_with_hostile_kdf_values_is_refused(m in any::<u32>(), t in any::<u32>(), p in any::<u32>()) {
        let params = baton::KdfParams { m_cost_kib: m, t_cost: t, p_cost: p, ..baton::KdfParams::standard() };
        if params.validate().is_ok() {
            prop_assert!(m <= baton::crypto::kdf::MAX_M_COST_KIB && t <= baton::crypto::kdf::MAX_T_COST && p <= baton::crypto::kdf::MAX_P_COST);
            prop_assert!(m >= 65536 && t >= 3);
        }
    }

    #[test]
    fn age_decrypt_of_garbage_fails_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let id = age::x25519::Identity::generate();
        prop_assert!(baton::crypto::seal::decrypt(&id, &bytes).is_err());
    }

    #[test]
    fn totp_validation_never_panics(s in "otpauth://totp/\\PC{0,120}") {
        let _ = baton::otp::validate(&s);
    }
}

#[test]
fn valid_share_round_trips_through_parse() {
    let split = baton::slip39::split(
        &[7u8; 32],
        b"",
        1,
        &[baton::slip39::GroupSpec {
            threshold: 2,
            count: 3,
        }],
        true,
        0,
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    for m in &split.groups[0] {
        let words = m.expose_words();
        let again = Mnemonic::parse(words).unwrap();
        assert_eq!(again.expose_words(), words);
        assert_eq!(again.info(), m.info());
        // Four-letter prefixes in upper case and extra whitespace are accepted.
        let short: Vec<String> = words
            .split(' ')
            .map(|w| w[..w.len().min(4)].to_uppercase())
            .collect();
        let again = Mnemonic::parse(&format!("  {}\n", short.join("   "))).unwrap();
        assert_eq!(again.expose_words(), words);
    }
}
