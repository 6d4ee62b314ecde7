//! Process set-up: no core dumps or ptrace, a quiet broken pipe, and the debug-build
//! crash hook.

/// Crash testing (debug builds only, so never in a release binary):
/// `BATON_FAULT_AT=N` kills the process with SIGKILL at the N-th step that changes the
/// disk (fsio::fault_point); `BATON_FAULT_AT=count` prints each step's label as it
/// passes and how many steps there were, so a smoke test can pick its steps by what
/// they do. (The library's crash tests sweep every step in-process: tests/crash.rs.)
#[cfg(debug_assertions)]
pub(crate) mod fault {
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNT: AtomicU64 = AtomicU64::new(0);

    pub fn install() {
        let Some(v) = std::env::var_os("BATON_FAULT_AT") else {
            return;
        };
        let at: u64 = v.to_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        let trace = v == "count";
        baton::fs::set_fault_hook(Box::new(move |label| {
            let step = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
            if trace {
                eprintln!("baton: fault point {step}: {label}");
            }
            if step == at {
                // SAFETY: kill with our own pid and a constant signal has no
                // preconditions; SIGKILL cannot be caught, exactly like a crash.
                unsafe {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
            }
        }));
    }

    pub fn report() {
        if std::env::var_os("BATON_FAULT_AT").is_some_and(|v| v == "count") {
            eprintln!("baton: fault points: {}", COUNT.load(Ordering::SeqCst));
        }
    }
}

/// No core dumps and no ptrace by other processes of the same user while secrets may be
/// in memory (the whole life of the process).
pub(crate) fn harden_process() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit and prctl take plain values and a pointer to a valid, initialized
    // rlimit that lives across the call; neither retains the pointer.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    // A closed pipe (`baton list | head`) ends the process quietly instead of panicking.
    // SAFETY: restoring the default disposition of SIGPIPE has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
