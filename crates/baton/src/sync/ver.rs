//! Version vectors (docs/format.md#multi-writer, "Versions"): which writers' changes a
//! version of a client, an entry or the vault-wide fields includes.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The writer key of version 2 records and rows after an upgrade.
pub const LEGACY: &str = "legacy";

/// A writer id (16 lowercase hex digits) or [`LEGACY`].
pub fn valid_writer(w: &str) -> bool {
    w == LEGACY || crate::is_lower_hex(w, 16)
}

/// A version vector: writer id → that writer's revision. A missing writer counts 0;
/// zero counters are never stored, so equal vectors serialize equally.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ver(BTreeMap<String, u64>);

/// How two versions relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Equal,
    /// The left one is older: the right one's writer had seen it.
    Before,
    After,
    /// Neither has seen the other: made apart.
    Concurrent,
}

impl Ver {
    pub fn new() -> Ver {
        Ver::default()
    }

    /// `{writer: revision}`.
    pub fn of(writer: &str, revision: u64) -> Ver {
        Ver::new().with(writer, revision)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, writer: &str) -> u64 {
        self.0.get(writer).copied().unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(w, &n)| (w.as_str(), n))
    }

    /// Every key a writer id, every counter above 0 (what a reader accepts).
    pub fn is_valid(&self) -> bool {
        self.0.iter().all(|(w, &n)| valid_writer(w) && n > 0)
    }

    pub fn compare(&self, other: &Ver) -> Order {
        let (mut less, mut more) = (false, false);
        for w in self.0.keys().chain(other.0.keys()) {
            match self.get(w).cmp(&other.get(w)) {
                Ordering::Less => less = true,
                Ordering::Greater => more = true,
                Ordering::Equal => {}
            }
        }
        match (less, more) {
            (false, false) => Order::Equal,
            (true, false) => Order::Before,
            (false, true) => Order::After,
            (true, true) => Order::Concurrent,
        }
    }

    /// `self ≤ other`: every counter at most the other's.
    pub fn leq(&self, other: &Ver) -> bool {
        matches!(self.compare(other), Order::Equal | Order::Before)
    }

    /// Each writer's maximum of the two.
    pub fn join(&self, other: &Ver) -> Ver {
        let mut out = self.clone();
        for (w, &n) in &other.0 {
            let slot = out.0.entry(w.clone()).or_insert(0);
            *slot = (*slot).max(n);
        }
        out
    }

    /// `self ∨ {writer: revision}`: the version of a change `writer` made at
    /// `revision` on top of this one.
    pub fn with(mut self, writer: &str, revision: u64) -> Ver {
        if revision > 0 {
            let slot = self.0.entry(writer.to_string()).or_insert(0);
            *slot = (*slot).max(revision);
        }
        self
    }

    /// A total order for deterministic choices among concurrent versions (not
    /// causality): by the sorted (writer, counter) pairs.
    pub fn tie_break(&self, other: &Ver) -> Ordering {
        self.0.iter().cmp(other.0.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: &str = "aaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbb";

    #[test]
    fn order_and_join() {
        let a1 = Ver::of(A, 1);
        let a2 = Ver::of(A, 2);
        let b1 = Ver::of(B, 1);
        assert_eq!(a1.compare(&a2), Order::Before);
        assert_eq!(a2.compare(&a1), Order::After);
        assert_eq!(a1.compare(&a1.clone()), Order::Equal);
        assert_eq!(a1.compare(&b1), Order::Concurrent);
        let j = a2.join(&b1);
        assert!(a1.leq(&j) && b1.leq(&j) && !j.leq(&a2));
        assert_eq!(Ver::new().compare(&a1), Order::Before);
        assert_eq!(
            serde_json::to_string(&j).unwrap(),
            format!(r#"{{"{A}":2,"{B}":1}}"#)
        );
        assert!(j.is_valid());
        let bad: Ver = serde_json::from_str(r#"{"x":1}"#).unwrap();
        assert!(!bad.is_valid());
        let zero: Ver = serde_json::from_str(&format!(r#"{{"{A}":0}}"#)).unwrap();
        assert!(!zero.is_valid());
    }

    fn ver() -> impl Strategy<Value = Ver> {
        proptest::collection::btree_map(prop_oneof![Just(A), Just(B), Just(LEGACY)], 1..5u64, 0..3)
            .prop_map(|m| Ver(m.into_iter().map(|(w, n)| (w.to_string(), n)).collect()))
    }

    proptest! {
        #[test]
        fn join_is_the_least_upper_bound(a in ver(), b in ver(), c in ver()) {
            let j = a.join(&b);
            prop_assert!(a.leq(&j) && b.leq(&j));
            prop_assert_eq!(&j, &b.join(&a));
            prop_assert_eq!(a.join(&b).join(&c), a.join(&b.join(&c)));
            if a.leq(&c) && b.leq(&c) {
                prop_assert!(j.leq(&c));
            }
            let flipped = match a.compare(&b) {
                Order::Before => Order::After,
                Order::After => Order::Before,
                o => o,
            };
            prop_assert_eq!(b.compare(&a), flipped);
        }
    }
}
