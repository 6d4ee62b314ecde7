//! What the audit check before every write costs as the log grows
//! (docs/performance.md#audit-check): `Vault::check_chain_for_write` against the full
//! chain check of `audit --verify` (`Vault::audit_log`), at several lengths of log.
//!
//! Run: `cargo run --release -p baton --example bench_audit -- DIR [N1 N2 ...]`
//! (default lengths 100 1000 5000). DIR should be new; a vault with the insecure test
//! KDF is made in it (no real secrets). Prints one `key=value` line per length.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use baton::audit::AuditAction;
use baton::emergency::Policy;
use baton::vault::{InitOptions, Vault};
use baton::{AuditEvent, KdfParams, Passphrase};

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    t[runs / 2]
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: bench_audit DIR [N1 N2 ...]");
        return ExitCode::from(2);
    };
    let mut lengths: Vec<u64> = args.filter_map(|a| a.to_str()?.parse().ok()).collect();
    if lengths.is_empty() {
        lengths = vec![100, 1000, 5000];
    }
    lengths.sort();
    let mut v = match Vault::init(
        &dir.join("vault"),
        &Passphrase::new("bench_audit: no real secrets".into()),
        InitOptions {
            policy: Policy::single(vec!["a".into(), "b".into()], 2),
            kdf: KdfParams::insecure_test(),
        },
        |_, _| Ok(()),
    ) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("bench_audit: {e}");
            return ExitCode::FAILURE;
        }
    };
    for n in lengths {
        // Records that change nothing else: the cheapest commits there are.
        while v.index().audit_head.seq < n {
            let seq = v.index().audit_head.seq;
            if let Err(e) = v.commit(
                AuditEvent::new(AuditAction::SettingsRetention, None, format!("bench {seq}")),
                vec![],
                &[],
            ) {
                eprintln!("bench_audit: {e}");
                return ExitCode::FAILURE;
            }
        }
        let write_check = median(9, || {
            v.check_chain_for_write().expect("an intact log");
        });
        let full = median(3, || {
            assert!(v.audit_log().1.is_empty());
        });
        println!(
            "records={n} write_check_ms={:.2} full_chain_ms={:.1}",
            write_check.as_secs_f64() * 1000.0,
            full.as_secs_f64() * 1000.0
        );
    }
    ExitCode::SUCCESS
}
