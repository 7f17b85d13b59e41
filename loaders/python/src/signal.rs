//! The wake-up signal that knocks a timed-out call out of a blocking system call.
//!
//! CPython runs Python-level signal handlers only on its main thread, so a signal cannot
//! raise inside a call running on one of our threads. What a signal *can* do is make a
//! blocking system call in that thread return `EINTR`. C code that then returns to Python
//! (for example `libc.sleep` through ctypes) lets the pending asynchronous exception fire;
//! code that retries on `EINTR` (most of CPython's own I/O, PEP 475) keeps blocking and is
//! left to the watchdog's abandonment path.
//!
//! The handler does nothing; it is installed without `SA_RESTART` so that the interrupted
//! call is not silently restarted by the kernel. The signal is a real-time one that neither
//! CPython nor tokio use.
#![allow(unsafe_code, reason = "sigaction and pthread_kill are FFI calls")]

use std::sync::Once;

/// The signal number used: `SIGRTMIN + 5`.
fn wake_signal() -> libc::c_int {
    libc::SIGRTMIN() + 5
}

extern "C" fn on_wake_signal(_: libc::c_int) {}

/// Installs the no-op handler once per process.
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: `sigaction` is given a zeroed, then fully initialised struct that lives for
        // the duration of the call; the handler is an `extern "C"` function that does
        // nothing, which is async-signal-safe. No other code in the process uses this
        // real-time signal.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_wake_signal as *const () as libc::sighandler_t;
            action.sa_flags = 0; // no SA_RESTART: blocking calls return EINTR
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(wake_signal(), &action, std::ptr::null_mut()) != 0 {
                tracing::warn!("cannot install the wake-up signal handler; blocked calls will only be abandoned");
            }
        }
    });
}

/// The calling thread's pthread, the id [`wake`] takes.
pub(crate) fn current_thread() -> u64 {
    // SAFETY: `pthread_self` has no preconditions and always succeeds.
    let me = unsafe { libc::pthread_self() };
    me as u64
}

/// Sends the wake-up signal to `thread` (from [`current_thread`]; 0 means none).
pub(crate) fn wake(thread: u64) {
    let thread = thread as libc::pthread_t;
    if thread == 0 {
        return;
    }
    // SAFETY: `thread` was recorded by `current_thread` on an interpreter thread of this
    // process, and the caller only passes the id of a thread still registered in its pool
    // (interpreter threads live until shutdown or until they retire, and a retired slot is
    // removed before that). The signal has a no-op handler installed by `install`.
    let rc = unsafe { libc::pthread_kill(thread, wake_signal()) };
    if rc != 0 {
        tracing::debug!(rc, "pthread_kill failed");
    }
}
