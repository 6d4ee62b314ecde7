//! The catalog (docs/format.md#catalog): what `list`, `show` and `search` need about
//! every client (names, contacts, entry summaries; never a secret value), kept apart
//! from the locator so that reading one entry does not cost the whole vault's
//! summaries.
//!
//! Clients are spread over up to 16 shard files by the first hex digit of their `cid`,
//! so a write re-encrypts one shard, not all of them.

use std::collections::BTreeMap;

use crate::client::ClientSummary;

/// The catalog shard a client belongs to: the first hex digit of its `cid`.
pub fn shard_of(cid: &str) -> &str {
    cid.get(..1).unwrap_or("")
}

/// Applies a write to the catalog: `upserts` replace or add summaries (matched by
/// `cid`), `removes` drop them. Returns the new content of every shard touched, keyed
/// by shard; an empty list means the shard file goes away.
pub(crate) fn apply(
    mut current: BTreeMap<String, Vec<ClientSummary>>,
    upserts: Vec<ClientSummary>,
    removes: &[String],
) -> BTreeMap<String, Vec<ClientSummary>> {
    for cid in removes {
        if let Some(list) = current.get_mut(shard_of(cid)) {
            list.retain(|c| &c.cid != cid);
        }
    }
    for s in upserts {
        let list = current.entry(shard_of(&s.cid).to_string()).or_default();
        match list.iter_mut().find(|c| c.cid == s.cid) {
            Some(slot) => *slot = s,
            None => list.push(s),
        }
    }
    for list in current.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    current
}

/// Shards a write touches.
pub(crate) fn touched<'a>(
    upserts: impl Iterator<Item = &'a str>,
    removes: &'a [String],
) -> Vec<String> {
    let mut v: Vec<String> = upserts
        .chain(removes.iter().map(String::as_str))
        .map(|cid| shard_of(cid).to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}
