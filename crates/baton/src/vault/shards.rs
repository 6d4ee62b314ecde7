//! Reading the storage shards of an open vault: the locator (docs/format.md#locator),
//! the catalog (#catalog) and the shard files both are made of (#shards).

use std::collections::{BTreeMap, HashSet};

use zeroize::Zeroizing;

use crate::client::valid_id;
use crate::client::{ClientRef, ClientSummary, Removal};
use crate::is_lower_hex as is_hex;
use crate::store::catalog::shard_of as catalog_shard;
use crate::store::index::IndexBody;
use crate::store::locator;
use crate::store::locator::find;
use crate::store::shard::{ShardFile, ShardKind, ShardNames, ShardRef, valid_shard};
use crate::store::{CLIENTS_DIR, IntegrityError, is_client_file_name, sha256_hex};
use crate::vault::{Vault, VaultError};

impl Vault {
    /// A shard's plaintext, checked against the index's SHA-256 and its names.
    pub(crate) fn shard_plaintext(
        &self,
        kind: ShardKind,
        vault_id: &str,
        r: &ShardRef,
    ) -> Result<Zeroizing<Vec<u8>>, IntegrityError> {
        let damaged = || IntegrityError::ShardDamaged {
            kind,
            shard: r.shard.clone(),
        };
        if !is_client_file_name(&r.file) || !valid_shard(&r.shard) {
            return Err(damaged());
        }
        let p = self.path.join(CLIENTS_DIR).join(&r.file);
        let bytes =
            crate::store::fsio::read_bounded(&p, crate::store::MAX_SHARD_BYTES).map_err(|_| {
                IntegrityError::ShardMissing {
                    kind,
                    shard: r.shard.clone(),
                    file: format!("{}/{}", CLIENTS_DIR, r.file),
                }
            })?;
        if sha256_hex(&bytes) != r.sha256 {
            return Err(damaged());
        }
        let plain = self.decrypt_file(&bytes).map_err(|_| damaged())?;
        let n: ShardNames = serde_json::from_slice(&plain).map_err(|_| damaged())?;
        if n.format != kind.format()
            || n.version != 1
            || n.vault_id != vault_id
            || n.shard != r.shard
        {
            return Err(damaged());
        }
        Ok(plain)
    }

    /// A shard's rows.
    pub(crate) fn read_shard<T: serde::de::DeserializeOwned>(
        &self,
        kind: ShardKind,
        vault_id: &str,
        r: &ShardRef,
    ) -> Result<Vec<T>, IntegrityError> {
        Ok(self.read_shard_file(kind, vault_id, r)?.clients)
    }

    /// A shard's rows and tombstones.
    pub(crate) fn read_shard_file<T: serde::de::DeserializeOwned>(
        &self,
        kind: ShardKind,
        vault_id: &str,
        r: &ShardRef,
    ) -> Result<ShardFile<T>, IntegrityError> {
        let plain = self.shard_plaintext(kind, vault_id, r)?;
        serde_json::from_slice(&plain).map_err(|_| IntegrityError::ShardDamaged {
            kind,
            shard: r.shard.clone(),
        })
    }
}

impl Vault {
    /// Every client's file reference, sorted by id (all locator shards, read once and
    /// kept).
    pub fn clients(&self) -> Result<&[ClientRef], IntegrityError> {
        if let Some(c) = self.located.get() {
            return Ok(c);
        }
        let (list, removed) = self.load_locator(&self.index)?;
        let _ = self.removed_clients.set(removed);
        Ok(self.located.get_or_init(|| list))
    }

    /// The tombstones of removed clients (docs/format.md#multi-writer, "Versions").
    pub(crate) fn client_tombstones(&self) -> Result<&[Removal], IntegrityError> {
        self.clients()?;
        Ok(self.removed_clients.get().map_or(&[], |v| v))
    }

    /// All client references an index names, checked.
    pub(crate) fn load_clients(&self, index: &IndexBody) -> Result<Vec<ClientRef>, IntegrityError> {
        Ok(self.load_locator(index)?.0)
    }

    /// All client references and tombstones an index names, checked.
    pub(crate) fn load_locator(
        &self,
        index: &IndexBody,
    ) -> Result<(Vec<ClientRef>, Vec<Removal>), IntegrityError> {
        let mut removed = Vec::new();
        let (all, mut problems) = self.load_clients_into(index, &mut removed);
        match problems.is_empty() {
            true => Ok((all, removed)),
            false => Err(problems.swap_remove(0)),
        }
    }

    /// The references of every locator shard that reads back intact, and a problem for
    /// each that does not (`verify` checks the clients it can still find).
    pub(crate) fn load_clients_partial(
        &self,
        index: &IndexBody,
    ) -> (Vec<ClientRef>, Vec<IntegrityError>) {
        self.load_clients_into(index, &mut Vec::new())
    }

    fn load_clients_into(
        &self,
        index: &IndexBody,
        removed: &mut Vec<Removal>,
    ) -> (Vec<ClientRef>, Vec<IntegrityError>) {
        let mut all = Vec::new();
        let mut problems = Vec::new();
        for r in &index.locator {
            match self.locator_shard(index, r) {
                Ok((list, gone)) => {
                    all.extend(list);
                    removed.extend(gone);
                }
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
    pub(crate) fn locator_shard(
        &self,
        index: &IndexBody,
        r: &ShardRef,
    ) -> Result<(Vec<ClientRef>, Vec<Removal>), IntegrityError> {
        let file: ShardFile<ClientRef> =
            self.read_shard_file(ShardKind::Locator, &index.vault_id, r)?;
        let (list, removed) = (file.clients, file.removed);
        let sorted = list.windows(2).all(|w| w[0].id < w[1].id);
        let valid = list.iter().all(|c| {
            valid_id(&c.id)
                && locator::shard_of(&c.id) == r.shard
                && is_hex(&c.cid, 32)
                && is_hex(&c.sha256, 64)
                && is_client_file_name(&c.file)
                && c.ver.is_valid()
        }) && removed.iter().all(|t| {
            valid_id(&t.name) && locator::shard_of(&t.name) == r.shard && t.ver.is_valid()
        });
        if !sorted || !valid {
            return Err(IntegrityError::ShardDamaged {
                kind: ShardKind::Locator,
                shard: r.shard.clone(),
            });
        }
        Ok((list, removed))
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
        let shard = locator::shard_of(id);
        match index.locator.iter().find(|r| r.shard == shard) {
            Some(r) => Ok(find(&self.locator_shard(index, r)?.0, id)),
            None => Ok(None),
        }
    }
}

impl Vault {
    /// Every client's summary, sorted by id, checked against the locator: each shard is
    /// the file the index pins, and the shards hold exactly the clients the locator
    /// names.
    pub fn catalog(&self) -> Result<Vec<ClientSummary>, VaultError> {
        if let Some(m) = &self.merged {
            return Ok(m.summaries.clone());
        }
        let first = self
            .clients()
            .and_then(|clients| self.catalog_of(&self.index, clients))
            .map_err(VaultError::from);
        self.or_fresh(first, |fresh| {
            let clients = self.load_clients(fresh)?;
            Ok(self.catalog_of(fresh, &clients)?)
        })
    }

    pub(crate) fn catalog_of(
        &self,
        index: &IndexBody,
        clients: &[ClientRef],
    ) -> Result<Vec<ClientSummary>, IntegrityError> {
        let mut by_cid: BTreeMap<String, ClientSummary> = BTreeMap::new();
        for r in &index.catalog {
            let list: Vec<ClientSummary> =
                self.read_shard(ShardKind::Catalog, &index.vault_id, r)?;
            for s in list {
                if catalog_shard(&s.cid) != r.shard || by_cid.insert(s.cid.clone(), s).is_some() {
                    return Err(IntegrityError::CatalogMismatch);
                }
            }
        }
        let mut out = Vec::with_capacity(clients.len());
        for c in clients {
            match by_cid.remove(&c.cid) {
                Some(s) if s.id == c.id => out.push(s),
                _ => return Err(IntegrityError::CatalogMismatch),
            }
        }
        if !by_cid.is_empty() {
            return Err(IntegrityError::CatalogMismatch);
        }
        Ok(out)
    }
}
