//! Simulated crashes, in-process (docs/format.md#writes): the library calls
//! `fsio::fault_point` at every step that changes the disk (after the change, or just
//! before it in parallel phases, see below); the hook installed here counts those steps
//! per thread and, at the chosen one, panics with a [`Crash`] payload. The panic unwinds out of the operation like a process that died there, and
//! the test reopens the vault from what is on disk.
//!
//! How this compares with SIGKILL (which the CLI keeps as one smoke test per operation):
//!
//! - Nothing after the step runs. The cleanups on error paths (`write_atomic` and
//!   `write_new` removing their temporary or partial file, `publish` removing a staged
//!   one, a failed rotation undoing itself) are ordinary code behind an `Err`, not
//!   `Drop`s, so an unwinding panic skips them exactly as a kill does; the sweeps see the
//!   temporary files a kill leaves.
//! - `Drop`s do run, which a kill does not. On the write path these are: file handles
//!   (`close(2)`: it releases the `flock` on `.lock`, as the kernel does when a process
//!   dies, and adds no durability: no handle buffers data), wiping secrets (memory
//!   only), and `Vault`'s own `Drop`, which raises the rollback memory to the handle's
//!   revision (vault::rollback). A handle only adopts a revision once it is on disk (the
//!   commit's rename happened), so that memory is never above the vault's revision; a
//!   killed process leaves it at the revision it opened. The sweeps attach such a
//!   memory and reopen through it, which is stricter than a kill: a higher floor can
//!   only make the reopen fail. Its write is not counted as a step (`thread::panicking`).
//! - Parallel phases (rayon): when a job panics, rayon still runs the jobs it had
//!   queued before it passes the panic on. In baton's parallel phases (writing the new
//!   generation's files, removing the old generation's) each item's fault point comes
//!   *before* its disk change (`fsio::write_unsynced`, rotate's cleanup), so such an
//!   item reaches its fault point, crashes there too and changes nothing: the disk is
//!   exactly as a kill at that step leaves it. [`Trace::after_crash`] lists those
//!   steps; the sweeps assert they are of that kind only.
//! - Like SIGKILL, this models a crash of the program, not a power loss: what was
//!   written reaches the next "process" through the page cache either way. Durability
//!   across power loss rests on the fsyncs, which no test here can observe.

#![allow(dead_code)]

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// The panic payload of a simulated crash.
#[derive(Clone, Debug)]
pub struct Crash {
    /// 1-based number of the step at which the process "died".
    pub step: usize,
    pub label: &'static str,
}

/// What an operation run under [`run`] did.
pub enum Outcome<T> {
    Finished(T),
    Crashed(Crash),
}

/// The steps an operation reached, in order.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Every step up to and including the crash (all of them if it finished).
    pub steps: Vec<&'static str>,
    /// Steps of parallel work rayon ran after the crash (see the module comment); each
    /// crashed at its fault point, before its change.
    pub after_crash: Vec<&'static str>,
}

struct Plan {
    at: Option<usize>,
    trace: Trace,
    crashed: Option<Crash>,
}

thread_local! {
    static PLAN: RefCell<Option<Plan>> = const { RefCell::new(None) };
}

fn on_fault_point(label: &'static str) {
    // A Drop running while a simulated crash unwinds (the rollback memory's write) is no
    // step of the operation: a killed process would not run it at all.
    if std::thread::panicking() {
        return;
    }
    let crash = PLAN.with_borrow_mut(|plan| {
        let plan = plan.as_mut()?;
        if let Some(c) = &plan.crashed {
            // Parallel work still running after the crash: it dies at its first step.
            plan.trace.after_crash.push(label);
            return Some(c.clone());
        }
        plan.trace.steps.push(label);
        let step = plan.trace.steps.len();
        if plan.at != Some(step) {
            return None;
        }
        let c = Crash { step, label };
        plan.crashed = Some(c.clone());
        Some(c)
    });
    if let Some(c) = crash {
        panic::panic_any(c);
    }
}

/// Installs the fault hook and a panic hook that keeps simulated crashes quiet (once
/// per test process; both hooks are process-wide, the plan is per thread).
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        baton::store::fsio::set_fault_hook(Box::new(on_fault_point));
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Crash>() {
                default(info);
            }
        }));
    });
}

/// Runs `op` as one "process" that dies at step `crash_at` (`None`: runs to the end,
/// to count the steps). `op` runs on a one-thread rayon pool of its own: its parallel
/// phases run on that thread in a fixed order (as the CLI sweeps did with
/// `RAYON_NUM_THREADS=1`), and tests on other threads keep their own plans.
///
/// A panic that is not a simulated crash (a failed assertion inside `op`) is passed on.
pub fn run<T: Send>(crash_at: Option<usize>, op: impl FnOnce() -> T + Send) -> (Outcome<T>, Trace) {
    install();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread for the operation");
    pool.install(|| {
        PLAN.set(Some(Plan {
            at: crash_at,
            trace: Trace::default(),
            crashed: None,
        }));
        let result = panic::catch_unwind(AssertUnwindSafe(op));
        let plan = PLAN.take().expect("set above");
        let outcome = match result {
            Ok(v) => {
                assert!(
                    plan.crashed.is_none(),
                    "the operation went on after the simulated crash {:?}",
                    plan.crashed
                );
                Outcome::Finished(v)
            }
            Err(payload) => match payload.downcast::<Crash>() {
                Ok(c) => Outcome::Crashed(*c),
                Err(other) => panic::resume_unwind(other),
            },
        };
        (outcome, plan.trace)
    })
}

/// Runs `op` to the end and returns its result and its steps.
pub fn count<T: Send>(op: impl FnOnce() -> T + Send) -> (T, Trace) {
    match run(None, op) {
        (Outcome::Finished(v), trace) => (v, trace),
        (Outcome::Crashed(c), _) => unreachable!("no crash was planned: {c:?}"),
    }
}

/// Runs `op`, which must die at step `at`; returns the crash and the steps.
pub fn crash<T: Send>(at: usize, op: impl FnOnce() -> T + Send) -> (Crash, Trace) {
    match run(Some(at), op) {
        (Outcome::Crashed(c), trace) => {
            assert_eq!(c.step, at);
            (c, trace)
        }
        (Outcome::Finished(_), trace) => panic!(
            "the operation finished after {} steps, before step {at}",
            trace.steps.len()
        ),
    }
}
