//! Which Argon2id parameters a new passphrase gets (docs/format.md#header): the RFC 9106
//! default, the limits, what `passwd` may change, the "only raise" rule of a rotation,
//! and calibration to a target unlock time. One policy for every command and caller.

use std::time::{Duration, Instant};

use super::{KdfError, KdfParams, KdfProfile, MAX_M_COST_KIB};
use crate::crypto::secret::Passphrase;

/// The RFC 9106 §4 default (second recommended option), in the units people type.
pub const DEFAULT_MEMORY_MIB: u32 = KdfParams::STANDARD_M_KIB / 1024;
pub const DEFAULT_TIME: u32 = KdfParams::STANDARD_T;
pub const DEFAULT_LANES: u32 = KdfParams::STANDARD_P;

/// What a person asked for: each value `None` where they said nothing. Memory is in
/// MiB, as typed; the header stores KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KdfRequest {
    pub memory_mib: Option<u32>,
    pub time: Option<u32>,
    pub lanes: Option<u32>,
    /// The tiny parameters of profile `insecure-test`: no protection against guessing.
    pub insecure_test: bool,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KdfRequestError {
    /// Outside the ranges every vault is held to (`KdfParams::validate`).
    #[error(transparent)]
    Invalid(#[from] KdfError),
    /// More memory than any reader accepts (`MAX_M_COST_KIB`).
    #[error("argon2id memory of {mib} MiB is above the limit of {limit_mib} MiB")]
    AboveLimit { mib: u32, limit_mib: u32 },
    /// A raise that would lower memory or passes below the vault's current ones.
    #[error(
        "the new argon2id parameters (m={m} KiB, t={t}) are below the current ones (m={current_m} KiB, t={current_t})"
    )]
    WouldLower {
        m: u32,
        t: u32,
        current_m: u32,
        current_t: u32,
    },
}

impl KdfRequest {
    /// Whether any cost was given.
    pub fn is_empty(&self) -> bool {
        self.memory_mib.is_none() && self.time.is_none() && self.lanes.is_none()
    }

    /// Parameters for a passphrase whose current parameters are not trusted or do not
    /// exist (a new vault; a takeover, since the emergency key does not authenticate
    /// `vault.json`): the RFC 9106 default for what was not given, never the header's.
    pub fn fresh(&self) -> Result<KdfParams, KdfRequestError> {
        if self.insecure_test {
            return Ok(KdfParams::insecure_test());
        }
        let p = KdfParams::with(
            mib_to_kib(self.memory_mib.unwrap_or(DEFAULT_MEMORY_MIB)),
            self.time.unwrap_or(DEFAULT_TIME),
            self.lanes.unwrap_or(DEFAULT_LANES),
            KdfProfile::Standard,
        );
        p.validate()?;
        Ok(p)
    }

    /// `passwd`: `None` (keep the current costs, new salt) if nothing was asked for,
    /// else the current costs with the given ones replaced. The result is held to the
    /// standard minimum whatever the current profile: lowering on purpose is allowed,
    /// below the minimum is not.
    pub fn changed(&self, current: &KdfParams) -> Result<Option<KdfParams>, KdfRequestError> {
        if self.insecure_test {
            return Ok(Some(KdfParams::insecure_test()));
        }
        if self.is_empty() {
            return Ok(None);
        }
        let p = KdfParams::with(
            self.memory_mib.map_or(current.m_cost_kib, mib_to_kib),
            self.time.unwrap_or(current.t_cost),
            self.lanes.unwrap_or(current.p_cost),
            KdfProfile::Standard,
        );
        p.validate()?;
        Ok(Some(p))
    }

    /// `rotate --kdf`: a new salt and costs that are never lower. Without values the
    /// memory doubles; with values, the given ones replace the current ones. The
    /// profile stays the current one (a test vault stays a test vault).
    pub fn raised(&self, current: &KdfParams) -> Result<KdfParams, KdfRequestError> {
        let mut k = current.resalted();
        if self.is_empty() {
            k.m_cost_kib = current.m_cost_kib.saturating_mul(2);
        } else {
            k.m_cost_kib = self.memory_mib.map_or(current.m_cost_kib, mib_to_kib);
            k.t_cost = self.time.unwrap_or(current.t_cost);
            k.p_cost = self.lanes.unwrap_or(current.p_cost);
        }
        if k.m_cost_kib > MAX_M_COST_KIB {
            return Err(KdfRequestError::AboveLimit {
                mib: k.m_cost_kib / 1024,
                limit_mib: MAX_M_COST_KIB / 1024,
            });
        }
        if k.m_cost_kib < current.m_cost_kib || k.t_cost < current.t_cost {
            return Err(KdfRequestError::WouldLower {
                m: k.m_cost_kib,
                t: k.t_cost,
                current_m: current.m_cost_kib,
                current_t: current.t_cost,
            });
        }
        k.validate()?;
        Ok(k)
    }
}

fn mib_to_kib(mib: u32) -> u32 {
    mib.saturating_mul(1024)
}

/// The outcome of calibration: the parameters and how long one derivation with them
/// took on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calibrated {
    pub params: KdfParams,
    pub millis: u64,
}

/// Doubles the memory cost of `start` while one derivation stays under half of
/// `target_ms` (so the result lands between half the target and the target), and
/// never beyond half of `MAX_M_COST_KIB` (the next doubling must stay below the
/// limit, so `rotate --kdf` can still raise it). Each step runs Argon2id once.
pub fn calibrate(start: KdfParams, target_ms: u64) -> Result<Calibrated, KdfError> {
    let probe = Passphrase::new("calibration".into());
    calibrate_with(start, target_ms, |p| {
        let t = Instant::now();
        p.derive(&probe)?;
        Ok(t.elapsed())
    })
}

/// `calibrate` with the measurement given: `clock(params)` runs (or pretends to run)
/// one derivation and says how long it took.
pub fn calibrate_with(
    mut p: KdfParams,
    target_ms: u64,
    mut clock: impl FnMut(&KdfParams) -> Result<Duration, KdfError>,
) -> Result<Calibrated, KdfError> {
    loop {
        let millis = u64::try_from(clock(&p)?.as_millis()).unwrap_or(u64::MAX);
        let next = p.m_cost_kib.saturating_mul(2);
        if millis.saturating_mul(2) > target_ms || next > MAX_M_COST_KIB / 2 {
            return Ok(Calibrated { params: p, millis });
        }
        p.m_cost_kib = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(m: Option<u32>, t: Option<u32>, p: Option<u32>) -> KdfRequest {
        KdfRequest {
            memory_mib: m,
            time: t,
            lanes: p,
            insecure_test: false,
        }
    }

    fn costs(k: &KdfParams) -> (u32, u32, u32, KdfProfile) {
        (k.m_cost_kib, k.t_cost, k.p_cost, k.profile)
    }

    #[test]
    fn fresh_defaults_to_rfc_9106_and_holds_the_minimum() {
        let k = KdfRequest::default().fresh().unwrap();
        assert_eq!(costs(&k), (65536, 3, 4, KdfProfile::Standard));
        let k = req(Some(256), Some(4), Some(2)).fresh().unwrap();
        assert_eq!(costs(&k), (256 * 1024, 4, 2, KdfProfile::Standard));
        assert!(matches!(
            req(Some(32), None, None).fresh(),
            Err(KdfRequestError::Invalid(KdfError::TooWeak { .. }))
        ));
        assert!(matches!(
            req(None, Some(2), None).fresh(),
            Err(KdfRequestError::Invalid(KdfError::TooWeak { .. }))
        ));
        // MiB are multiplied without overflow: a huge value is out of range, not tiny.
        assert!(matches!(
            req(Some(u32::MAX), None, None).fresh(),
            Err(KdfRequestError::Invalid(KdfError::OutOfRange { .. }))
        ));
        assert!(matches!(
            req(None, None, Some(0)).fresh(),
            Err(KdfRequestError::Invalid(KdfError::OutOfRange { .. }))
        ));
        let test = KdfRequest {
            insecure_test: true,
            ..req(Some(1024), None, None)
        };
        assert_eq!(
            costs(&test.fresh().unwrap()),
            (64, 1, 1, KdfProfile::InsecureTest)
        );
        // Every call draws a new salt.
        assert_ne!(
            KdfRequest::default().fresh().unwrap().salt,
            KdfRequest::default().fresh().unwrap().salt
        );
    }

    #[test]
    fn changed_keeps_what_was_not_given() {
        let cur = KdfParams::with(128 * 1024, 5, 2, KdfProfile::Standard);
        assert_eq!(KdfRequest::default().changed(&cur), Ok(None));
        let k = req(None, Some(3), None).changed(&cur).unwrap().unwrap();
        assert_eq!(costs(&k), (128 * 1024, 3, 2, KdfProfile::Standard));
        // Lowering on purpose is allowed, below the standard minimum is not, even
        // from a test vault (the result is labelled standard).
        let insecure = KdfParams::insecure_test();
        assert!(matches!(
            req(None, Some(3), None).changed(&insecure),
            Err(KdfRequestError::Invalid(KdfError::TooWeak { .. }))
        ));
        let k = req(Some(64), Some(3), Some(1))
            .changed(&insecure)
            .unwrap()
            .unwrap();
        assert_eq!(costs(&k), (65536, 3, 1, KdfProfile::Standard));
        let test = KdfRequest {
            insecure_test: true,
            ..KdfRequest::default()
        };
        let k = test.changed(&cur).unwrap().unwrap();
        assert_eq!(costs(&k), (64, 1, 1, KdfProfile::InsecureTest));
    }

    #[test]
    fn raised_doubles_memory_and_never_lowers() {
        let cur = KdfParams::standard();
        let k = KdfRequest::default().raised(&cur).unwrap();
        assert_eq!(costs(&k), (2 * 65536, 3, 4, KdfProfile::Standard));
        assert_ne!(k.salt, cur.salt);
        // Given values replace; memory is then not doubled.
        let k = req(None, Some(4), None).raised(&cur).unwrap();
        assert_eq!(costs(&k), (65536, 4, 4, KdfProfile::Standard));
        assert_eq!(
            req(Some(0), Some(1), None).raised(&cur),
            Err(KdfRequestError::WouldLower {
                m: 0,
                t: 1,
                current_m: 65536,
                current_t: 3
            })
        );
        assert!(matches!(
            req(None, Some(2), None).raised(&cur),
            Err(KdfRequestError::WouldLower { .. })
        ));
        assert_eq!(
            req(Some(4096), None, None).raised(&cur),
            Err(KdfRequestError::AboveLimit {
                mib: 4096,
                limit_mib: 2048
            })
        );
        // Doubling past the limit is refused, not clamped.
        let big = KdfParams::with(MAX_M_COST_KIB, 3, 4, KdfProfile::Standard);
        assert!(matches!(
            KdfRequest::default().raised(&big),
            Err(KdfRequestError::AboveLimit { .. })
        ));
        // The ranges still hold: too many passes.
        assert!(matches!(
            req(None, Some(17), None).raised(&cur),
            Err(KdfRequestError::Invalid(KdfError::OutOfRange { .. }))
        ));
        // A test vault stays labelled as one.
        let k = KdfRequest::default()
            .raised(&KdfParams::insecure_test())
            .unwrap();
        assert_eq!(costs(&k), (128, 1, 1, KdfProfile::InsecureTest));
    }

    /// A pretend machine on which one derivation takes 1 ms per MiB.
    fn one_ms_per_mib(k: &KdfParams) -> Result<Duration, KdfError> {
        Ok(Duration::from_millis(u64::from(k.m_cost_kib / 1024)))
    }

    #[test]
    fn calibration_doubles_memory_until_half_the_target() {
        let start = KdfParams::standard();
        // 64 ms, 128 ms, 256 ms: 256 * 2 > 500 stops at 256 MiB.
        let c = calibrate_with(start.clone(), 500, one_ms_per_mib).unwrap();
        assert_eq!((c.params.m_cost_kib, c.millis), (256 * 1024, 256));
        assert_eq!(c.params.salt, start.salt);
        // A target already met keeps the start.
        let c = calibrate_with(start.clone(), 100, one_ms_per_mib).unwrap();
        assert_eq!((c.params.m_cost_kib, c.millis), (65536, 64));
        // A fast machine stops at half the limit.
        let c = calibrate_with(start, u64::MAX, |_| Ok(Duration::ZERO)).unwrap();
        assert_eq!(c.params.m_cost_kib, MAX_M_COST_KIB / 2);
        // A failing derivation is passed on.
        let mut bad = KdfParams::standard();
        bad.salt = "!".into();
        assert_eq!(
            calibrate(bad, 1000).map(|c| c.millis),
            Err(KdfError::BadSalt)
        );
    }
}
