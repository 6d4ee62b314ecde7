//! Argon2id (RFC 9106) derivation of the owner's key-encryption key
//! (docs/format.md#owner-key), and the policy that chooses its parameters (`policy`).

mod policy;

pub use policy::{
    Calibrated, DEFAULT_LANES, DEFAULT_MEMORY_MIB, DEFAULT_TIME, KdfRequest, KdfRequestError,
    calibrate, calibrate_with,
};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::secret::Passphrase;

/// Upper bounds accepted when reading a header, so that a crafted header cannot make
/// `baton` allocate unbounded memory or spin (docs/format.md#names).
pub const MAX_M_COST_KIB: u32 = 2 * 1024 * 1024;
pub const MAX_T_COST: u32 = 16;
pub const MAX_P_COST: u32 = 16;

/// Which parameter family a vault uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KdfProfile {
    /// RFC 9106 §4 second recommended option or stronger.
    Standard,
    /// Tiny parameters for tests and demos. Offers no protection against guessing.
    InsecureTest,
}

/// Argon2id parameters as stored in the header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub algorithm: String,
    pub version: u32,
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    pub salt: String,
    pub profile: KdfProfile,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KdfError {
    #[error("unsupported key derivation '{0}' (expected argon2id version 19)")]
    Unsupported(String),
    #[error("argon2id parameters out of range (m={m} KiB, t={t}, p={p})")]
    OutOfRange { m: u32, t: u32, p: u32 },
    #[error("argon2id parameters below the minimum for a standard vault (m={m} KiB, t={t}, p={p})")]
    TooWeak { m: u32, t: u32, p: u32 },
    #[error("salt is not valid base64 of 16 to 64 bytes")]
    BadSalt,
}

/// The 64 bytes of Argon2id output: a KEK X25519 secret and a MAC key.
pub struct DerivedKeys(Zeroizing<[u8; 64]>);

impl DerivedKeys {
    pub fn kek_secret(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0[..32].try_into().expect("32 bytes"))
    }
    pub fn mac_key(&self) -> &[u8] {
        &self.0[32..]
    }
}

impl KdfParams {
    /// RFC 9106 §4, second recommended option: m = 64 MiB, t = 3, p = 4.
    pub const STANDARD_M_KIB: u32 = 64 * 1024;
    pub const STANDARD_T: u32 = 3;
    pub const STANDARD_P: u32 = 4;

    pub fn standard() -> Self {
        Self::with(
            Self::STANDARD_M_KIB,
            Self::STANDARD_T,
            Self::STANDARD_P,
            KdfProfile::Standard,
        )
    }

    /// The clearly named, fast profile for tests (docs/format.md#header).
    pub fn insecure_test() -> Self {
        Self::with(64, 1, 1, KdfProfile::InsecureTest)
    }

    pub fn with(m_cost_kib: u32, t_cost: u32, p_cost: u32, profile: KdfProfile) -> Self {
        KdfParams {
            algorithm: "argon2id".into(),
            version: 19,
            m_cost_kib,
            t_cost,
            p_cost,
            salt: STANDARD.encode(rand::random::<[u8; 16]>()),
            profile,
        }
    }

    /// Same parameters, new salt (used by `passwd`).
    pub fn resalted(&self) -> Self {
        KdfParams {
            salt: STANDARD.encode(rand::random::<[u8; 16]>()),
            ..self.clone()
        }
    }

    /// Judged from the parameters, not from the `profile` label, which anyone with write
    /// access to vault.json could change.
    pub fn is_insecure(&self) -> bool {
        self.m_cost_kib < Self::STANDARD_M_KIB || self.t_cost < Self::STANDARD_T
    }

    /// Checks the parameters before any memory is allocated for them.
    pub fn validate(&self) -> Result<(), KdfError> {
        if self.algorithm != "argon2id" || self.version != 19 {
            return Err(KdfError::Unsupported(format!(
                "{} v{}",
                self.algorithm, self.version
            )));
        }
        let (m, t, p) = (self.m_cost_kib, self.t_cost, self.p_cost);
        if m > MAX_M_COST_KIB || t == 0 || t > MAX_T_COST || p == 0 || p > MAX_P_COST || m < 8 * p {
            return Err(KdfError::OutOfRange { m, t, p });
        }
        if self.profile == KdfProfile::Standard
            && (m < Self::STANDARD_M_KIB || t < Self::STANDARD_T || p < 1)
        {
            return Err(KdfError::TooWeak { m, t, p });
        }
        self.salt_bytes().map(|_| ())
    }

    fn salt_bytes(&self) -> Result<Vec<u8>, KdfError> {
        match STANDARD.decode(&self.salt) {
            Ok(s) if (16..=64).contains(&s.len()) => Ok(s),
            _ => Err(KdfError::BadSalt),
        }
    }

    /// Runs Argon2id. Costs `m_cost_kib` of memory and about `t_cost` passes over it.
    pub fn derive(&self, passphrase: &Passphrase) -> Result<DerivedKeys, KdfError> {
        self.validate()?;
        let salt = self.salt_bytes()?;
        let (m, t, p) = (self.m_cost_kib, self.t_cost, self.p_cost);
        let params =
            Params::new(m, t, p, Some(64)).map_err(|_| KdfError::OutOfRange { m, t, p })?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; 64]);
        argon
            .hash_password_into(passphrase.expose().as_bytes(), &salt, out.as_mut())
            .map_err(|_| KdfError::OutOfRange { m, t, p })?;
        Ok(DerivedKeys(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers from an independent implementation (argon2-cffi, the reference C
    /// code): pins algorithm, version, parameter order and output length, any change of
    /// which would lock every user out of their vault.
    #[test]
    fn argon2id_known_answers() {
        let cases = [
            (
                64,
                1,
                1,
                KdfProfile::InsecureTest,
                "0ddfc59755c60d9f1508e55df68e46ceb928c3aedcfeef203a6ce3f3a0e076951e70719aaa7542da10ba3532578b9ad3d483481e638fdd2e226c276449057064",
            ),
            (
                65536,
                3,
                4,
                KdfProfile::Standard,
                "661e8d7913b0d9d434d42392638da96e210c22e97a1ba52902842d7921201f596dc94225e3793fb3e27c9eaf442ae9bd3270b636de12f11a19c302d1bf2b466a",
            ),
        ];
        for (m, t, p, profile, expected) in cases {
            let params = KdfParams {
                salt: STANDARD.encode([0x02u8; 16]),
                ..KdfParams::with(m, t, p, profile)
            };
            let k = params.derive(&Passphrase::new("password".into())).unwrap();
            assert_eq!(hex::encode(&k.0[..]), expected);
            let other = params.derive(&Passphrase::new("passwore".into())).unwrap();
            assert_ne!(&k.0[..], &other.0[..]);
        }
    }

    #[test]
    fn rejects_weak_and_huge_parameters() {
        let mut p = KdfParams::standard();
        p.m_cost_kib = 1024;
        assert!(matches!(p.validate(), Err(KdfError::TooWeak { .. })));
        p.m_cost_kib = u32::MAX;
        assert!(matches!(p.validate(), Err(KdfError::OutOfRange { .. })));
        let mut q = KdfParams::standard();
        q.salt = "!!".into();
        assert_eq!(q.validate(), Err(KdfError::BadSalt));
        assert!(KdfParams::standard().validate().is_ok());
    }
}
