//! The emergency key's share set (docs/format.md#emergency-key): who holds which share
//! (the policy), the split that lets the owner print any share of the current set
//! again, the public check codes, the diagnosis of shares typed by holders, and
//! recovery with the rebuilt key (`recover`).

mod collect;
mod holders;
mod policy;
mod recover;
mod shares;
mod stream;

pub use recover::{EMERGENCY_KEY_FILE, RecoverError, RecoverReport};

/// SLIP-39 iteration exponent of new share sets: 20000 PBKDF2 rounds, cheap, because
/// the secret is 256 random bits and needs no stretching.
pub const ITERATION_EXPONENT: u8 = 1;

pub use crate::store::index::Holder;

/// Months after which `status` suggests a drill (the kits' "check it once a year").
pub const DRILL_MONTHS: u32 = 12;

pub use collect::*;
pub use policy::*;
pub use shares::*;
use stream::*;

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::crypto::keys::EmergencySecret;
    #[allow(unused_imports)]
    use crate::slip39::{self, GroupSpec, Mnemonic};
    #[allow(unused_imports)]
    use crate::store::header::{RetiredSet, ShareGroup, ShareSet};
    #[allow(unused_imports)]
    use sha2::Digest;
    #[allow(unused_imports)]
    use std::collections::HashSet;

    const VID: &str = "000102030405060708090a0b0c0d0e0f";

    fn e() -> EmergencySecret {
        EmergencySecret::from_bytes(&[7; 32]).unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn policy_parses_and_describes() {
        let p = Policy::parse("2 of anna, ben,carla ; 1 of notary,spouse").unwrap();
        assert_eq!(p.describe(), "2 of anna, ben, carla; 1 of notary, spouse");
        assert_eq!(p.holder_names().len(), 5);
        for bad in [
            "",
            "2 anna,ben",
            "x of anna",
            "3 of anna,ben",
            "0 of anna",
            "1 of anna; 1 of Anna",
            "1 of a/b",
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shares_derive_again_identically_and_combine() {
        let p = Policy::parse("2 of anna,ben,carla; 1 of notary,spouse").unwrap();
        let (set, holders) = new_share_set(&e(), VID, &p, "2026-11-27T00:00:00Z", None).unwrap();
        assert_eq!(set.group_threshold, 2);
        assert_eq!(
            set.groups[1],
            ShareGroup {
                threshold: 1,
                count: 1
            }
        );
        assert_eq!(set.checks.len(), 4);
        let shares = holder_shares(&e(), VID, &set, &holders).unwrap();
        // notary and spouse hold copies of one share.
        assert_eq!(
            shares[3].mnemonic.expose_words(),
            shares[4].mnemonic.expose_words()
        );
        let recipient = e().identity().to_public().to_string();
        let mut c = Collector::new(VID, &set, &recipient);
        c.add(shares[2].mnemonic.expose_words()).unwrap();
        assert!(matches!(
            c.add(shares[2].mnemonic.expose_words()),
            Err(ShareError::Duplicate { .. })
        ));
        c.add(shares[4].mnemonic.expose_words()).unwrap();
        assert!(matches!(
            c.add(shares[3].mnemonic.expose_words()),
            Err(ShareError::Duplicate { .. })
        ));
        assert!(matches!(c.combine(), Err(ShareError::Incomplete)));
        c.add(shares[0].mnemonic.expose_words()).unwrap();
        assert!(matches!(
            c.add(shares[1].mnemonic.expose_words()),
            Err(ShareError::GroupComplete { .. })
        ));
        assert_eq!(c.combine().unwrap().expose_bytes(), e().expose_bytes());
    }

    #[test]
    fn added_member_combines_with_the_existing_shares() {
        let p = Policy::single(names(&["anna", "ben", "carla"]), 2);
        let (set, holders) = new_share_set(&e(), VID, &p, "2026-11-27T00:00:00Z", None).unwrap();
        let before = holder_shares(&e(), VID, &set, &holders).unwrap();
        let (set2, dora) = add_member(&e(), VID, &set, &holders, "dora", 0).unwrap();
        assert_eq!(dora.member, 3);
        assert_eq!(set2.groups[0].count, 4);
        assert_eq!(&set2.checks[..3], &set.checks[..]);
        let mut all = holders.clone();
        all.push(dora);
        let after = holder_shares(&e(), VID, &set2, &all).unwrap();
        for (a, b) in before.iter().zip(&after) {
            assert_eq!(a.mnemonic.expose_words(), b.mnemonic.expose_words());
        }
        let recipient = e().identity().to_public().to_string();
        let mut c = Collector::new(VID, &set2, &recipient);
        c.add(after[3].mnemonic.expose_words()).unwrap();
        c.add(after[1].mnemonic.expose_words()).unwrap();
        assert_eq!(c.combine().unwrap().expose_bytes(), e().expose_bytes());
        // The old record does not know dora's share.
        let mut old = Collector::new(VID, &set, &recipient);
        assert!(matches!(
            old.add(after[3].mnemonic.expose_words()),
            Err(ShareError::NotIssued)
        ));
        assert!(add_member(&e(), VID, &set, &holders, "Anna", 0).is_err());
        assert!(add_member(&e(), VID, &set, &holders, "dora", 1).is_err());
    }

    #[test]
    fn a_group_can_grow_while_the_policy_has_more_than_16_holders() {
        let names = |p: &str, n: usize| (0..n).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
        let p = Policy {
            groups: vec![
                PolicyGroup {
                    threshold: 2,
                    holders: names("a", 9),
                },
                PolicyGroup {
                    threshold: 2,
                    holders: names("b", 8),
                },
            ],
        };
        let (set, holders) = new_share_set(&e(), VID, &p, "2026-11-27T00:00:00Z", None).unwrap();
        let (set2, h) = add_member(&e(), VID, &set, &holders, "c", 1).unwrap();
        assert_eq!((h.group, h.member), (1, 8));
        assert_eq!(set2.groups[1].count, 9);
        assert!(set.lags(&set2));
        assert!(!set2.lags(&set));
    }

    #[test]
    fn derivation_is_pinned() {
        // A change to the stream or the split would make reprinted kits differ from
        // the paper the holders keep: this fixes the derivation.
        let set = ShareSet {
            id: "1234".into(),
            group_threshold: 1,
            groups: vec![ShareGroup {
                threshold: 3,
                count: 5,
            }],
            extendable: true,
            iteration_exponent: 1,
            created: String::new(),
            checks: vec![],
            retired: vec![],
        };
        let shares = derive_unchecked(&e(), VID, &set).unwrap();
        let first: Vec<&str> = shares[0][0].expose_words().split(' ').collect();
        assert_eq!(first.len(), 33);
        assert_eq!(
            sha2::Sha256::digest(shares[0][4].expose_words().as_bytes())[..4],
            PINNED[..]
        );
    }
    const PINNED: [u8; 4] = [131, 9, 189, 76];

    #[test]
    fn retired_and_foreign_shares_are_named() {
        let p = Policy::single(names(&["anna", "ben"]), 2);
        let (old, oh) = new_share_set(&e(), VID, &p, "2026-01-01T00:00:00Z", None).unwrap();
        let f = EmergencySecret::from_bytes(&[9; 32]).unwrap();
        let (new, _) = new_share_set(&f, VID, &p, "2026-06-01T00:00:00Z", Some(&old)).unwrap();
        assert_ne!(new.id, old.id);
        let s = holder_shares(&e(), VID, &old, &oh).unwrap();
        assert!(matches!(
            classify(VID, &new, &s[0].mnemonic),
            Verdict::Retired(RetiredSet { ref id, .. }) if *id == old.id
        ));
        let other = "ffffffffffffffffffffffffffffffff";
        let (foreign, fh) = new_share_set(&f, other, &p, "2026-06-01T00:00:00Z", None).unwrap();
        let fs = holder_shares(&f, other, &foreign, &fh).unwrap();
        let v = classify(VID, &new, &fs[0].mnemonic);
        assert!(
            matches!(v, Verdict::Foreign { .. }) || matches!(v, Verdict::NotIssued),
            "{v:?}"
        );
    }

    #[test]
    fn check_codes_are_grouped() {
        assert_eq!(format_check("3f2a91bc07d4e5aa"), "3f2a-91bc-07d4-e5aa");
    }
}
