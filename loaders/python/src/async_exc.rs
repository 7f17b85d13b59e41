//! Raising an exception in another Python thread (`PyThreadState_SetAsyncExc`), and the
//! CPython thread id that names the thread.
#![allow(
    unsafe_code,
    reason = "PyThreadState_SetAsyncExc is a CPython C-API call"
)]

use pyo3::prelude::*;

/// Schedules `exc_type` to be raised in the thread with CPython id `ident` at its next
/// bytecode. Needs the GIL (the `py` token proves it).
pub(crate) fn raise_in_thread(_py: Python<'_>, ident: u64, exc_type: &Py<PyAny>) {
    let Ok(ident) = libc::c_long::try_from(ident) else {
        return;
    };
    // SAFETY: the GIL is held (the `Python` token); `exc_type` is a live exception class
    // kept alive by the caller for the duration of the call; CPython takes its own
    // reference when it stores it in the thread state.
    let changed = unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(ident, exc_type.as_ptr()) };
    if changed != 1 {
        tracing::debug!(
            ident,
            changed,
            "PyThreadState_SetAsyncExc did not find the thread"
        );
    }
}

/// Clears an exception scheduled for the calling thread that has not fired yet, so that it
/// cannot hit the next call. Needs the GIL.
pub(crate) fn clear_for_current_thread(_py: Python<'_>) {
    let Ok(ident) = libc::c_long::try_from(current_thread_ident()) else {
        return;
    };
    // SAFETY: the GIL is held; a NULL exception clears the pending one (documented C-API use).
    unsafe {
        pyo3::ffi::PyThreadState_SetAsyncExc(ident, std::ptr::null_mut());
    }
}

/// CPython's id of the calling thread (`threading.get_ident()`), the id
/// [`raise_in_thread`] takes.
#[allow(
    clippy::useless_conversion,
    reason = "c_ulong is 32 bits wide on some targets"
)]
pub(crate) fn current_thread_ident() -> u64 {
    // SAFETY: `PyThread_get_thread_ident` has no preconditions; it does not need the GIL.
    let ident = unsafe { pyo3::ffi::PyThread_get_thread_ident() };
    u64::from(ident)
}
