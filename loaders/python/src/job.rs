//! One call on its way through the interpreter: its state machine and its reply slot.
//!
//! ```text
//! Queued ──worker──▶ Running ──handler returned an awaitable──▶ Async
//!   │                  │                                          │
//!   │ cancel           │ cancel (interrupt the thread)            │ cancel (cancel the task)
//!   ▼                  ▼                                          ▼
//! Cancelled        Cancelling ◀───────────────────────────────────┘
//! ```
//! Any state may end in `Done` when the reply is sent. The proxy-side future answers 408 on
//! its own at the deadline; the states only decide how the running code is stopped.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use fnhost_loader_api::{Invocation, InvokeError, Response};
use parking_lot::Mutex;
use pyo3::prelude::*;
use tokio::sync::oneshot;

/// What a job produces.
pub(crate) type Reply = Result<Response, InvokeError>;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const ASYNC: u8 = 2;
const CANCELLED: u8 = 3;
const CANCELLING: u8 = 4;
const DONE: u8 = 5;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A call queued for, or running in, the interpreter.
pub(crate) struct Job {
    id: u64,
    state: AtomicU8,
    invocation: Mutex<Option<Invocation>>,
    reply: Mutex<Option<oneshot::Sender<Reply>>>,
    /// The `concurrent.futures.Future` of an async call, so a timeout can cancel it.
    async_future: Mutex<Option<Py<PyAny>>>,
}

/// What [`Job::cancel`] found, i.e. what the caller must do to stop the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelAction {
    /// Nothing ran yet, or it already finished: nothing to stop.
    Nothing,
    /// Code is running on an interpreter thread: interrupt it.
    InterruptThread,
    /// An awaitable is pending on the event loop: cancel its task.
    CancelTask,
}

impl Job {
    /// A new queued job and the receiver of its reply.
    pub(crate) fn new(invocation: Invocation) -> (Job, oneshot::Receiver<Reply>) {
        let (tx, rx) = oneshot::channel();
        let job = Job {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            state: AtomicU8::new(QUEUED),
            invocation: Mutex::new(Some(invocation)),
            reply: Mutex::new(Some(tx)),
            async_future: Mutex::new(None),
        };
        (job, rx)
    }

    /// Unique id, never 0.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Moves a queued job to running and hands out its invocation; `None` if it was
    /// cancelled while queued.
    pub(crate) fn start(&self) -> Option<Invocation> {
        self.transition(QUEUED, RUNNING)
            .then(|| self.invocation.lock().take())?
    }

    /// Records that the handler returned an awaitable now pending on the event loop.
    pub(crate) fn set_async(&self, future: Py<PyAny>) -> bool {
        *self.async_future.lock() = Some(future);
        self.transition(RUNNING, ASYNC)
    }

    /// The pending task's future, for cancellation.
    pub(crate) fn async_future(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.async_future.lock().as_ref().map(|f| f.clone_ref(py))
    }

    /// Marks the job cancelled and says what must be stopped.
    pub(crate) fn cancel(&self) -> CancelAction {
        loop {
            let current = self.state.load(Ordering::Acquire);
            let (next, action) = match current {
                QUEUED => (CANCELLED, CancelAction::Nothing),
                RUNNING => (CANCELLING, CancelAction::InterruptThread),
                ASYNC => (CANCELLING, CancelAction::CancelTask),
                _ => return CancelAction::Nothing,
            };
            if self.transition(current, next) {
                if next == CANCELLED {
                    self.invocation.lock().take();
                }
                return action;
            }
        }
    }

    /// `true` once the job was cancelled (its reply is no longer awaited).
    pub(crate) fn is_cancelled(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), CANCELLED | CANCELLING)
    }

    /// Sends the reply (ignored if the caller stopped waiting) and frees the Python future.
    pub(crate) fn finish(&self, reply: Reply) {
        self.state.store(DONE, Ordering::Release);
        self.async_future.lock().take();
        if let Some(tx) = self.reply.lock().take() {
            // The receiver is gone when the caller already answered 408 or the client left.
            let _ = tx.send(reply);
        }
    }

    fn transition(&self, from: u8, to: u8) -> bool {
        self.state
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}
