//! The interpreter's own threads and how calls reach them.
//!
//! Tokio threads never touch the GIL: they push a [`Job`] on a queue and await its reply.
//! Interpreter threads take jobs only **while holding the GIL**, so a queued job is never
//! held by a thread that cannot run it:
//!
//! - the thread holding the GIL (the *drainer*) runs queued jobs back to back without
//!   releasing the GIL in between, so a busy server pays for one GIL hand-off per batch, not
//!   per request;
//! - whenever jobs are queued, one more thread (the *successor*) is woken and waits for the
//!   GIL. If the drainer's function blocks (`time.sleep`, I/O) it releases the GIL, the
//!   successor takes it and drains the rest, and wakes its own successor; so calls that block
//!   do not block each other, up to the number of threads.
//!
//! A thread whose call could not be stopped after a timeout is *abandoned*: it leaves the
//! pool when (if ever) its call returns, and a fresh thread takes its place at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Condvar, Mutex};
use pyo3::prelude::*;

use crate::job::Job;

/// Queue and thread bookkeeping, guarded by one mutex.
#[derive(Default)]
struct Schedule {
    queue: VecDeque<Arc<Job>>,
    /// Threads parked, waiting for a wake token.
    idle: usize,
    /// Wake tokens handed out but not yet taken.
    tokens: usize,
    /// Threads woken and on their way to take the GIL.
    gil_waiters: usize,
    shutdown: bool,
}

/// One interpreter thread, as seen by the watchdog.
pub(crate) struct Slot {
    /// Index, for logs.
    pub(crate) index: usize,
    /// CPython's thread id (`threading.get_ident()`), for `PyThreadState_SetAsyncExc`.
    pub(crate) python_ident: AtomicU64,
    /// The pthread, for the wake-up signal.
    pub(crate) pthread: AtomicU64,
    /// Id of the job running on this thread, 0 when none. Written with the GIL held.
    pub(crate) current_job: AtomicU64,
    /// Set when a timed-out call did not stop in time; the thread retires when it returns.
    pub(crate) abandoned: AtomicBool,
    /// Id of the job whose call must stop (wakes fnhost's `time.sleep`).
    cancelled_job: Mutex<u64>,
    cancelled: Condvar,
}

impl Slot {
    fn new(index: usize) -> Slot {
        Slot {
            index,
            python_ident: AtomicU64::new(0),
            pthread: AtomicU64::new(0),
            current_job: AtomicU64::new(0),
            abandoned: AtomicBool::new(false),
            cancelled_job: Mutex::new(0),
            cancelled: Condvar::new(),
        }
    }

    /// Asks the sleep of job `job_id` on this thread to end early.
    pub(crate) fn cancel_sleep(&self, job_id: u64) {
        *self.cancelled_job.lock() = job_id;
        self.cancelled.notify_all();
    }

    /// Sleeps up to `duration`; returns `false` if the current call was cancelled.
    pub(crate) fn sleep(&self, duration: std::time::Duration) -> bool {
        let job = self.current_job.load(Ordering::Acquire);
        let deadline = std::time::Instant::now() + duration;
        let mut cancelled = self.cancelled_job.lock();
        while *cancelled != job || job == 0 {
            if self
                .cancelled
                .wait_until(&mut cancelled, deadline)
                .timed_out()
            {
                return true;
            }
        }
        false
    }
}

/// The queue plus the threads that serve it.
pub(crate) struct Pool {
    schedule: Mutex<Schedule>,
    wake: Condvar,
    slots: Mutex<Vec<Arc<Slot>>>,
    next_index: AtomicUsize,
    running: AtomicUsize,
}

/// What a worker thread runs for each job, with the GIL held.
pub(crate) type RunJob = dyn Fn(Python<'_>, &Arc<Slot>, Arc<Job>) + Send + Sync;

thread_local! {
    static CURRENT_SLOT: std::cell::RefCell<Option<Arc<Slot>>> = const { std::cell::RefCell::new(None) };
}

/// The slot of the calling thread, if it is an interpreter thread.
pub(crate) fn current_slot() -> Option<Arc<Slot>> {
    CURRENT_SLOT.with(|s| s.borrow().clone())
}

impl Pool {
    pub(crate) fn new() -> Arc<Pool> {
        Arc::new(Pool {
            schedule: Mutex::new(Schedule::default()),
            wake: Condvar::new(),
            slots: Mutex::new(Vec::new()),
            next_index: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
        })
    }

    /// Starts one interpreter thread.
    pub(crate) fn spawn_thread(self: &Arc<Self>, run: Arc<RunJob>) -> std::io::Result<()> {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::new(index));
        self.slots.lock().push(slot.clone());
        let pool = self.clone();
        std::thread::Builder::new()
            .name(format!("fnhost-py-{index}"))
            .spawn(move || pool.thread_main(&slot, &run))?;
        Ok(())
    }

    /// Queues a job and makes sure a thread will pick it up. `false` after shutdown.
    pub(crate) fn submit(&self, job: Arc<Job>) -> bool {
        let mut s = self.schedule.lock();
        if s.shutdown {
            return false;
        }
        s.queue.push_back(job);
        self.ensure_successor(&mut s);
        true
    }

    /// Stops all threads once their current call returns; queued jobs are dropped.
    pub(crate) fn shutdown(&self) {
        let mut s = self.schedule.lock();
        s.shutdown = true;
        s.queue.clear();
        self.wake.notify_all();
    }

    /// The slots of live threads.
    pub(crate) fn slots(&self) -> Vec<Arc<Slot>> {
        self.slots.lock().clone()
    }

    /// Marks a thread abandoned: it leaves the pool and retires when its call returns.
    pub(crate) fn abandon(&self, slot: &Slot) {
        if !slot.abandoned.swap(true, Ordering::AcqRel) {
            self.slots.lock().retain(|s| s.index != slot.index);
        }
    }

    /// Jobs waiting for a thread.
    pub(crate) fn queued(&self) -> usize {
        self.schedule.lock().queue.len()
    }

    /// Calls running now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    fn ensure_successor(&self, s: &mut Schedule) {
        if s.gil_waiters + s.tokens == 0 && s.idle > 0 {
            s.tokens += 1;
            self.wake.notify_one();
        }
    }

    fn thread_main(&self, slot: &Arc<Slot>, run: &Arc<RunJob>) {
        CURRENT_SLOT.with(|s| *s.borrow_mut() = Some(slot.clone()));
        slot.pthread
            .store(crate::signal::current_thread(), Ordering::Release);
        Python::attach(|py| {
            slot.python_ident
                .store(crate::async_exc::current_thread_ident(), Ordering::Release);
            // Park without the GIL; the GIL is taken again when `detach` returns.
            while py.detach(|| self.wait_for_work()) {
                self.schedule.lock().gil_waiters -= 1;
                if !self.drain(py, slot, run) {
                    return;
                }
            }
        });
    }

    /// Runs queued jobs while holding the GIL; `false` when this thread must retire.
    fn drain(&self, py: Python<'_>, slot: &Arc<Slot>, run: &Arc<RunJob>) -> bool {
        while let Some(job) = self.next_job() {
            self.running.fetch_add(1, Ordering::Relaxed);
            run(py, slot, job);
            self.running.fetch_sub(1, Ordering::Relaxed);
            if slot.abandoned.load(Ordering::Acquire) {
                tracing::warn!(
                    thread = slot.index,
                    "a stuck call finally returned; its thread retires"
                );
                return false;
            }
        }
        true
    }

    fn next_job(&self) -> Option<Arc<Job>> {
        let mut s = self.schedule.lock();
        let job = s.queue.pop_front()?;
        if !s.queue.is_empty() {
            self.ensure_successor(&mut s);
        }
        Some(job)
    }

    /// Blocks until this thread should take the GIL and drain; `false` on shutdown.
    fn wait_for_work(&self) -> bool {
        let mut s = self.schedule.lock();
        // Jobs may have arrived while this thread was finishing its last one.
        if !s.queue.is_empty() && s.gil_waiters == 0 && !s.shutdown {
            s.gil_waiters += 1;
            return true;
        }
        s.idle += 1;
        loop {
            if s.shutdown {
                s.idle -= 1;
                return false;
            }
            if s.tokens > 0 {
                s.tokens -= 1;
                s.idle -= 1;
                s.gil_waiters += 1;
                return true;
            }
            self.wake.wait(&mut s);
        }
    }
}
