//! The deterministic random stream of a split, keyed by `E`
//! (docs/format.md#emergency-key).

use crate::crypto::keys::EmergencySecret;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The random values of a split, drawn from a stream keyed by `E`
/// (docs/format.md#emergency-key): block `i` is HMAC-SHA256(K, "baton-share-stream/1" ||
/// u64be(i)) with K = HKDF-SHA256(salt = vault id, ikm = E, info =
/// "baton/v1/share-split" || u16be(identifier)). So whoever holds `E` can derive any
/// share of the set again, and nobody without `E` can.
pub(super) struct ShareStream {
    key: Zeroizing<[u8; 32]>,
    block: Zeroizing<[u8; 32]>,
    used: usize,
    counter: u64,
}

impl ShareStream {
    pub(super) fn new(e: &EmergencySecret, vault_id: &[u8; 16], identifier: u16) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(vault_id), e.expose_bytes());
        let mut info = b"baton/v1/share-split".to_vec();
        info.extend_from_slice(&identifier.to_be_bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        hk.expand(&info, key.as_mut())
            .expect("32 bytes is a valid HKDF length");
        ShareStream {
            key,
            block: Zeroizing::new([0; 32]),
            used: 32,
            counter: 0,
        }
    }
}

impl rand::RngCore for ShareStream {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used == 32 {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_ref())
                    .expect("any key length");
                m.update(b"baton-share-stream/1");
                m.update(&self.counter.to_be_bytes());
                self.block.copy_from_slice(&m.finalize().into_bytes());
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand::CryptoRng for ShareStream {}
