//! Stopping calls that ran past their deadline.
//!
//! The proxy answers 408 at the deadline on its own and asks the function to stop the call;
//! this thread then stops the code that is still running, with the GIL held so that "which
//! job runs on which thread" is stable while it looks, and tells the proxy what it achieved:
//!
//! 1. **Python code** (`while True: pass`): `PyThreadState_SetAsyncExc` raises
//!    `fnhost.FunctionTimeout` in that thread at its next bytecode.
//! 2. **`time.sleep`**: fnhost's interruptible sleep is woken and raises the same exception.
//! 3. **C code in a blocking system call**: the wake-up signal makes the call return `EINTR`;
//!    code that then returns to Python is stopped by step 1.
//! 4. **Anything still running after [`STUCK_GRACE`]** (C code that retries on `EINTR`, a
//!    lock held forever) cannot be stopped in-process: the thread is *abandoned* and a fresh
//!    thread takes its place, so the server keeps its full capacity. The proxy counts the
//!    call until it returns; when more than `concurrency` calls are abandoned, `/healthz`
//!    fails, so Kubernetes replaces the pod.
//! 5. **Async handlers**: the task is cancelled on the event loop.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use fnhost_loader_api::Stopped;
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::job::{CancelAction, Job};
use crate::pool::{Pool, Slot};

/// How long a timed-out call may take to stop before its thread is abandoned.
pub(crate) const STUCK_GRACE: Duration = Duration::from_secs(1);

/// A request to stop one job.
pub(crate) struct StopRequest {
    pub(crate) job: Arc<Job>,
    pub(crate) action: CancelAction,
    /// Where the outcome goes: stopped in place, or abandoned.
    pub(crate) verdict: oneshot::Sender<Stopped>,
}

struct GraceCheck {
    due: Instant,
    slot: Arc<Slot>,
    job_id: u64,
    verdict: oneshot::Sender<Stopped>,
}

/// Runs the watchdog loop until every sender is dropped.
pub(crate) fn run(requests: &Receiver<StopRequest>, pool: &Arc<Pool>, timeout_type: &Py<PyAny>) {
    let mut checks: Vec<GraceCheck> = Vec::new();
    loop {
        let wait = checks
            .iter()
            .map(|c| c.due.saturating_duration_since(Instant::now()))
            .min()
            .unwrap_or(Duration::from_secs(3600));
        match requests.recv_timeout(wait) {
            Ok(request) => {
                if let Some(check) = stop(request, pool, timeout_type) {
                    checks.push(check);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = checks.into_iter().partition(|c| c.due <= now);
        checks = later;
        for check in due {
            let verdict = abandon_if_stuck(&check, pool);
            let _ = check.verdict.send(verdict);
        }
    }
}

/// Starts stopping one job; a thread interrupted is checked again after [`STUCK_GRACE`],
/// anything else is stopped in place at once.
fn stop(request: StopRequest, pool: &Pool, timeout_type: &Py<PyAny>) -> Option<GraceCheck> {
    let StopRequest {
        job,
        action,
        verdict,
    } = request;
    let check = Python::attach(|py| match action {
        CancelAction::Nothing => None,
        CancelAction::CancelTask => {
            if let Some(future) = job.async_future(py)
                && let Err(e) = future.bind(py).call_method0("cancel")
            {
                tracing::warn!("cannot cancel a timed-out async call: {e}");
            }
            None
        }
        CancelAction::InterruptThread => {
            let job_id = job.id();
            let slot = pool
                .slots()
                .into_iter()
                .find(|s| s.current_job.load(std::sync::atomic::Ordering::Acquire) == job_id)?;
            interrupt(py, &slot, job_id, timeout_type);
            Some((slot, job_id))
        }
    });
    let Some((slot, job_id)) = check else {
        let _ = verdict.send(Stopped::InPlace);
        return None;
    };
    Some(GraceCheck {
        due: Instant::now() + STUCK_GRACE,
        slot,
        job_id,
        verdict,
    })
}

/// Raises `FunctionTimeout` in the slot's thread, wakes its sleep and its system call.
/// Called with the GIL held and only while `slot` runs `job_id`, so the thread is alive and
/// cannot move on to another job until the GIL is released.
fn interrupt(py: Python<'_>, slot: &Slot, job_id: u64, timeout_type: &Py<PyAny>) {
    let ident = slot.python_ident.load(std::sync::atomic::Ordering::Acquire);
    crate::async_exc::raise_in_thread(py, ident, timeout_type);
    slot.cancel_sleep(job_id);
    crate::signal::wake(slot.pthread.load(std::sync::atomic::Ordering::Acquire));
    tracing::debug!(thread = slot.index, job_id, "interrupting a timed-out call");
}

fn abandon_if_stuck(check: &GraceCheck, pool: &Arc<Pool>) -> Stopped {
    let still_running = Python::attach(|_py| {
        check
            .slot
            .current_job
            .load(std::sync::atomic::Ordering::Acquire)
            == check.job_id
    });
    if !still_running {
        return Stopped::InPlace;
    }
    pool.abandon(&check.slot);
    tracing::warn!(
        thread = check.slot.index,
        "a timed-out call did not stop within {STUCK_GRACE:?} (it is blocked in code that cannot be \
         interrupted); its thread is abandoned and replaced"
    );
    if let Err(e) = pool.replace_thread() {
        tracing::error!("cannot start a replacement interpreter thread: {e}");
    }
    Stopped::Abandoned
}

/// The sending half, held by the function.
pub(crate) type StopSender = Sender<StopRequest>;
