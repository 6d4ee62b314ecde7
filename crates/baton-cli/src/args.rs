//! Flag values that several commands turn into library values the same way.

use baton::crypto::kdf::{self, KdfParams};
use baton::emergency::Policy;

use crate::cli::{self, PolicyArgs};
use crate::msg::{self, Failure, Result};

/// The policy from `--policy` or `--holders`/`-t`; `None` if neither was given.
pub(crate) fn policy(a: &PolicyArgs) -> Result<Option<Policy>> {
    let p = match (&a.policy, &a.holders, a.threshold) {
        (Some(text), _, _) => Policy::parse(text)?,
        (None, Some(h), Some(t)) => Policy::single(h.clone(), t),
        _ => return Ok(None),
    };
    p.validate()?;
    Ok(Some(p))
}

/// The Argon2id parameters from the KDF flags (the library's policy), calibrated if
/// asked; warns about the insecure test profile.
pub(crate) fn kdf_params(a: &cli::KdfArgs) -> Result<KdfParams> {
    if a.insecure_test_kdf {
        eprintln!(
            "baton: warning: --insecure-test-kdf offers no protection against passphrase guessing; for tests only"
        );
    }
    let mut p = a
        .request()
        .fresh()
        .map_err(|e| msg::kdf_refused(&e, false))?;
    if let Some(target_ms) = a.calibrate.filter(|_| !a.insecure_test_kdf) {
        let c = kdf::calibrate(p, target_ms).map_err(|e| Failure::new(e.to_string()))?;
        eprintln!(
            "baton: argon2id calibrated to m={} MiB t={} p={} ({} ms here)",
            c.params.m_cost_kib / 1024,
            c.params.t_cost,
            c.params.p_cost,
            c.millis
        );
        p = c.params;
    }
    Ok(p)
}
