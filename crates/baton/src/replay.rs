//! Replayable runs for the sync simulator (docs/format.md#multi-writer, "Tests"): the
//! identifiers baton draws at random that are not secrets (vault ids, client ids, file
//! names, names set aside) and the clock come, in a thread that asked for it, from a
//! generator seeded by the test and a clock that advances one second per reading.
//! Writer ids then depend on the vault id and the folder's own name only, not on the
//! temporary folder around it. Everything else (keys, salts, shares, age's file keys)
//! stays random.
//!
//! Only a program that calls [`start`] in a thread gets this, and only in that thread;
//! the `baton` binary never does.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

struct Replay {
    ids: StdRng,
    clock: u64,
}

thread_local! {
    static REPLAY: RefCell<Option<Replay>> = const { RefCell::new(None) };
}

/// From now on, in this thread: identifiers from a generator seeded with `seed`, and a
/// clock that starts at `unix_time` and advances one second per reading.
#[doc(hidden)]
pub fn start(seed: u64, unix_time: u64) {
    REPLAY.with(|r| {
        *r.borrow_mut() = Some(Replay {
            ids: StdRng::seed_from_u64(seed),
            clock: unix_time,
        })
    });
}

/// Back to random identifiers and the system clock in this thread.
#[doc(hidden)]
pub fn stop() {
    REPLAY.with(|r| *r.borrow_mut() = None);
}

/// Whether this thread replays (see [`start`]).
pub(crate) fn active() -> bool {
    REPLAY.with(|r| r.borrow().is_some())
}

/// `N` random bytes for an identifier that is not a secret.
pub(crate) fn id_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    REPLAY.with(|r| match r.borrow_mut().as_mut() {
        Some(replay) => replay.ids.fill_bytes(&mut out),
        None => rand::thread_rng().fill_bytes(&mut out),
    });
    out
}

/// The current time: the system's, or the replayed clock's.
pub(crate) fn now() -> SystemTime {
    REPLAY.with(|r| match r.borrow_mut().as_mut() {
        Some(replay) => {
            replay.clock += 1;
            UNIX_EPOCH + Duration::from_secs(replay.clock)
        }
        None => SystemTime::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaying_thread_draws_the_same_ids_and_times_again() {
        let draw = || {
            start(7, 1_700_000_000);
            let out = (id_bytes::<8>(), id_bytes::<16>(), now(), now());
            stop();
            out
        };
        let (a, b) = (draw(), draw());
        assert_eq!(a, b);
        assert_eq!(a.3.duration_since(a.2).unwrap(), Duration::from_secs(1));
        assert!(!active());
        // Outside a replay: random, and the system clock.
        assert_ne!(id_bytes::<16>(), id_bytes::<16>());
        assert!(now() > UNIX_EPOCH + Duration::from_secs(1_750_000_000));
    }

    #[test]
    fn another_thread_does_not_replay() {
        start(7, 1_700_000_000);
        let first = id_bytes::<16>();
        let other = std::thread::spawn(|| (active(), id_bytes::<16>()))
            .join()
            .unwrap();
        stop();
        assert!(!other.0);
        start(7, 1_700_000_000);
        assert_eq!(id_bytes::<16>(), first);
        stop();
        assert_ne!(other.1, first);
    }
}
