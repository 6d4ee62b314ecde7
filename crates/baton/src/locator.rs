//! The locator (docs/format.md#locator): where each client's file is and the SHA-256
//! that binds it, in up to 16 shards by the first hex digit of SHA-256(client id), so
//! that `get` reads one small shard instead of every client's entry.

use std::collections::{BTreeMap, HashSet};

use sha2::{Digest, Sha256};

use crate::client::{ClientRef, valid_id};
use crate::index::IndexBody;
use crate::is_lower_hex as is_hex;
use crate::shard::{ShardKind, ShardRef};
use crate::vault::{IntegrityError, Vault, VaultError, is_client_file_name};

/// The locator shard of a client id: the first hex digit of SHA-256(id).
pub fn shard_of(id: &str) -> String {
    let d = Sha256::digest(id.as_bytes());
    format!("{:x}", d[0] >> 4)
}

/// Groups a list of client references by locator shard, each group sorted by id.
pub(crate) fn group(clients: &[ClientRef]) -> BTreeMap<String, Vec<ClientRef>> {
    let mut out: BTreeMap<String, Vec<ClientRef>> = BTreeMap::new();
    for c in clients {
        out.entry(shard_of(&c.id)).or_default().push(c.clone());
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    out
}

impl Vault {
    /// Every client's file reference, sorted by id (all locator shards, read once and
    /// kept).
    pub fn clients(&self) -> Result<&[ClientRef], IntegrityError> {
        if let Some(c) = self.located.get() {
            return Ok(c);
        }
        let list = self.load_clients(&self.index)?;
        Ok(self.located.get_or_init(|| list))
    }

    /// All client references an index names, checked.
    pub(crate) fn load_clients(&self, index: &IndexBody) -> Result<Vec<ClientRef>, IntegrityError> {
        let (all, mut problems) = self.load_clients_partial(index);
        match problems.is_empty() {
            true => Ok(all),
            false => Err(problems.swap_remove(0)),
        }
    }

    /// The references of every locator shard that reads back intact, and a problem for
    /// each that does not (`verify` checks the clients it can still find).
    pub(crate) fn load_clients_partial(
        &self,
        index: &IndexBody,
    ) -> (Vec<ClientRef>, Vec<IntegrityError>) {
        let mut all = Vec::new();
        let mut problems = Vec::new();
        for r in &index.locator {
            match self.locator_shard(index, r) {
                Ok(list) => all.extend(list),
                Err(e) => problems.push(e),
            }
        }
        all.sort_by(|a, b| a.id.cmp(&b.id));
        let mut cids = HashSet::with_capacity(all.len());
        if let Some(c) = all.iter().find(|c| !cids.insert(c.cid.as_str())) {
            problems.push(IntegrityError::ClientMismatch {
                client: c.id.clone(),
            });
        }
        (all, problems)
    }

    /// One locator shard's references: sorted by id, each in the right shard, every
    /// name of the right form (so no authenticated file can make baton read or delete
    /// outside `clients/`).
    fn locator_shard(
        &self,
        index: &IndexBody,
        r: &ShardRef,
    ) -> Result<Vec<ClientRef>, IntegrityError> {
        let list: Vec<ClientRef> = self.read_shard(ShardKind::Locator, &index.vault_id, r)?;
        let sorted = list.windows(2).all(|w| w[0].id < w[1].id);
        let valid = list.iter().all(|c| {
            valid_id(&c.id)
                && shard_of(&c.id) == r.shard
                && is_hex(&c.cid, 32)
                && is_hex(&c.sha256, 64)
                && is_client_file_name(&c.file)
        });
        if !sorted || !valid {
            return Err(IntegrityError::ShardDamaged {
                kind: ShardKind::Locator,
                shard: r.shard.clone(),
            });
        }
        Ok(list)
    }

    /// Where a client's file is; reads only that client's locator shard.
    pub fn locate(&self, id: &str) -> Result<ClientRef, VaultError> {
        let found = match self.located.get() {
            Some(all) => find(all, id),
            None => self.locate_in(&self.index, id)?,
        };
        found.ok_or_else(|| VaultError::UnknownClient(id.to_string()))
    }

    pub(crate) fn locate_in(
        &self,
        index: &IndexBody,
        id: &str,
    ) -> Result<Option<ClientRef>, IntegrityError> {
        let shard = shard_of(id);
        match index.locator.iter().find(|r| r.shard == shard) {
            Some(r) => Ok(find(&self.locator_shard(index, r)?, id)),
            None => Ok(None),
        }
    }
}

fn find(sorted: &[ClientRef], id: &str) -> Option<ClientRef> {
    sorted
        .binary_search_by(|c| c.id.as_str().cmp(id))
        .ok()
        .map(|i| sorted[i].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_and_are_stable() {
        // Pinned (the shard is part of the format): SHA-256("acme") = 8…,
        // SHA-256("client-00001") = 9…
        assert_eq!(shard_of("acme"), "8");
        assert_eq!(shard_of("client-00001"), "9");
        let mut seen = HashSet::new();
        for i in 0..1000 {
            seen.insert(shard_of(&format!("client-{i}")));
        }
        assert_eq!(seen.len(), 16);
    }
}
