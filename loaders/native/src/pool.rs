//! The threads that call native handlers.
//!
//! A native call cannot be interrupted in-process. When the proxy stops one past its deadline
//! (it has answered 408 already), a call still queued is dropped; a running one is
//! *abandoned*: a fresh thread takes its place so the pool keeps its capacity, and the proxy
//! counts the call until it returns. When the stuck call returns, its thread retires (see
//! `docs/native-abi.md`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender};
use fnhost_loader_api::{Invocation, InvokeError, Response, Stopped};
use tokio::sync::oneshot;

use crate::abi::HandlerFn;
use crate::call;
use fnhost_loader_api::Context;

/// Where a call is; moved only by compare-and-swap, so the caller giving up and the thread
/// finishing agree on who does what.
#[derive(Default)]
pub struct JobState(AtomicU8);

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
const ABANDONED: u8 = 3;

impl JobState {
    fn swap(&self, from: u8, to: u8) -> bool {
        self.0
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// One queued call.
pub struct Job {
    /// The request.
    pub invocation: Invocation,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Response, InvokeError>>,
    /// Shared with the caller.
    pub state: Arc<JobState>,
}

/// The pool's shared state.
pub struct Pool {
    jobs: Sender<Job>,
    receiver: Receiver<Job>,
    handler: HandlerFn,
    /// Keeps the library mapped while any thread may call into it.
    _library: Arc<libloading::Library>,
    context: Context,
    /// Calls running now (abandoned ones included).
    pub running: AtomicUsize,
    /// Jobs waiting for a thread.
    pub queued: AtomicUsize,
}

impl Pool {
    /// Starts `threads` threads calling `handler`.
    pub fn start(
        loaded: &crate::library::Loaded,
        context: Context,
        threads: usize,
    ) -> std::io::Result<Arc<Pool>> {
        let (jobs, receiver) = crossbeam_channel::unbounded();
        let pool = Arc::new(Pool {
            jobs,
            receiver,
            handler: loaded.handler,
            _library: loaded.library.clone(),
            context,
            running: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
        });
        for _ in 0..threads.max(1) {
            pool.spawn_thread()?;
        }
        Ok(pool)
    }

    /// Queues a job; `false` if the pool is gone.
    pub fn submit(&self, job: Job) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.jobs.send(job).is_ok()
    }

    /// Stops a call past its deadline. A call still queued is dropped; a running one is
    /// abandoned and its thread replaced.
    pub fn stop(self: &Arc<Self>, state: &JobState) -> Stopped {
        if state.swap(QUEUED, ABANDONED) {
            return Stopped::InPlace;
        }
        if !state.swap(RUNNING, ABANDONED) {
            return Stopped::InPlace; // it has just answered
        }
        tracing::warn!(
            "a native call ran past its deadline and cannot be interrupted; its thread is given up and replaced"
        );
        if let Err(e) = self.spawn_thread() {
            tracing::error!("cannot start a replacement native thread: {e}");
        }
        Stopped::Abandoned
    }

    fn spawn_thread(self: &Arc<Self>) -> std::io::Result<()> {
        let pool = self.clone();
        std::thread::Builder::new()
            .name("fnhost-native".to_owned())
            .spawn(move || pool.work())?;
        Ok(())
    }

    fn work(&self) {
        while let Ok(job) = self.receiver.recv() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            if !job.state.swap(QUEUED, RUNNING) {
                continue; // the caller already answered 408
            }
            if !job.invocation.start.begin() {
                job.state.swap(RUNNING, DONE);
                let _ = job.reply.send(Err(InvokeError::ClientGone));
                continue;
            }
            self.running.fetch_add(1, Ordering::Relaxed);
            let outcome = call::run(self.handler, &job.invocation, &self.context);
            self.running.fetch_sub(1, Ordering::Relaxed);
            let retire = !job.state.swap(RUNNING, DONE);
            // The proxy still waits for an abandoned call, to know when it is over.
            let _ = job.reply.send(outcome);
            if retire {
                tracing::warn!("an abandoned native call finally returned; its thread retires");
                return;
            }
        }
    }
}
