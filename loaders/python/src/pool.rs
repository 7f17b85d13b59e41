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
//!   do not block each other.
//!
//! **How many threads.** The pool keeps `keep` threads (`FNHOST_THREADS`) and grows up to
//! `max` (`FNHOST_MAX_THREADS`) only while calls block with the GIL free:
//!
//! - when jobs are queued and no thread is idle, a new thread is started to be the successor;
//! - beyond `keep` running calls, that successor takes a job only when the GIL is free: it got
//!   the GIL within the interpreter's switch interval (no running call held on to it) and the
//!   [`GilMeter`] says the interpreter threads ran or were runnable less than
//!   [`GIL_BUSY_BELOW`] of the last 10 ms or more (the calls wait on I/O). Then the pool has grown by one. Else
//!   it gives the GIL back and asks again a little later, so a CPU-bound function runs on
//!   `keep` threads however many calls are queued;
//! - a thread beyond `keep` that stays idle for [`IDLE_RETIRE`] ends.
//!
//! A thread whose call could not be stopped after a timeout is *abandoned*: it leaves the
//! pool when (if ever) its call returns, and a fresh thread takes its place at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use pyo3::prelude::*;

use crate::gil_meter::{Busy, GilMeter, ThreadClock};
use crate::job::Job;

/// How long a thread beyond the kept ones may stay idle before it ends.
pub(crate) const IDLE_RETIRE: Duration = Duration::from_secs(10);

/// Beyond the kept threads, the pool grows only while the GIL is busy less than this
/// fraction of the time.
pub(crate) const GIL_BUSY_BELOW: f64 = 0.6;

/// How many interpreter threads the pool keeps and may grow to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Threads started at load and kept (`FNHOST_THREADS`).
    pub(crate) keep: usize,
    /// Threads the pool may grow to while calls block (`FNHOST_MAX_THREADS`).
    pub(crate) max: usize,
}

impl Limits {
    /// At least one thread kept; never fewer allowed than kept.
    pub(crate) fn new(keep: usize, max: usize) -> Limits {
        let keep = keep.max(1);
        Limits {
            keep,
            max: max.max(keep),
        }
    }
}

/// Queue and thread bookkeeping, guarded by one mutex.
#[derive(Default)]
struct Schedule {
    queue: VecDeque<Arc<Job>>,
    /// Threads of the pool: started or starting, not retired or abandoned.
    live: usize,
    /// Threads started that have not yet asked for work.
    starting: usize,
    /// Threads parked, waiting for a wake token.
    idle: usize,
    /// Wake tokens handed out but not yet taken.
    tokens: usize,
    /// Threads woken and on their way to take the GIL.
    gil_waiters: usize,
    shutdown: bool,
}

/// What a thread does after asking for work.
enum Work {
    /// Take the GIL; `Some` with when it asked for it, if it did not hold it a moment ago.
    Drain(Option<Instant>),
    /// End: the pool shuts down, or an extra thread stayed idle too long.
    End,
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
    /// The thread's CPU clock, for the [`GilMeter`].
    clock: OnceLock<ThreadClock>,
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
            clock: OnceLock::new(),
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
    /// The queue's length, for readers that must not take the lock on every call.
    queued: AtomicUsize,
    limits: Limits,
    /// A successor that waited less than this found the GIL free: the interpreter's switch
    /// interval, read once at start.
    gil_free_within: Duration,
    meter: GilMeter,
    run: OnceLock<Arc<RunJob>>,
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
    /// A pool with no threads yet; [`Pool::start`] starts them.
    pub(crate) fn new(limits: Limits, gil_free_within: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            schedule: Mutex::new(Schedule::default()),
            wake: Condvar::new(),
            slots: Mutex::new(Vec::new()),
            next_index: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            limits,
            gil_free_within,
            meter: GilMeter::default(),
            run: OnceLock::new(),
        })
    }

    /// Starts the kept threads, each running `run` for its jobs.
    pub(crate) fn start(self: &Arc<Self>, run: Arc<RunJob>) -> std::io::Result<()> {
        let _ = self.run.set(run);
        for _ in 0..self.limits.keep {
            self.schedule.lock().live += 1;
            self.spawn_thread()?;
        }
        Ok(())
    }

    /// Starts one interpreter thread, already counted in `live`.
    pub(crate) fn spawn_thread(self: &Arc<Self>) -> std::io::Result<()> {
        let Some(run) = self.run.get().cloned() else {
            return Ok(()); // not started: nothing to run
        };
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::new(index));
        self.slots.lock().push(slot.clone());
        self.schedule.lock().starting += 1;
        let pool = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("fnhost-py-{index}"))
            .spawn(move || pool.thread_main(&slot, &run));
        if let Err(e) = spawned {
            self.slots.lock().retain(|s| s.index != index);
            let mut s = self.schedule.lock();
            s.starting -= 1;
            s.live -= 1;
            return Err(e);
        }
        Ok(())
    }

    /// Replaces an abandoned thread with a fresh one.
    pub(crate) fn replace_thread(self: &Arc<Self>) -> std::io::Result<()> {
        self.schedule.lock().live += 1;
        self.spawn_thread()
    }

    /// Queues a job and makes sure a thread will pick it up. `false` after shutdown.
    pub(crate) fn submit(self: &Arc<Self>, job: Arc<Job>) -> bool {
        let grow = {
            let mut s = self.schedule.lock();
            if s.shutdown {
                return false;
            }
            s.queue.push_back(job);
            self.queued.store(s.queue.len(), Ordering::Relaxed);
            self.ensure_successor(&mut s)
        };
        if grow {
            self.grow();
        }
        true
    }

    /// Stops all threads once their current call returns; queued jobs are dropped.
    pub(crate) fn shutdown(&self) {
        let mut s = self.schedule.lock();
        s.shutdown = true;
        s.queue.clear();
        self.queued.store(0, Ordering::Relaxed);
        self.wake.notify_all();
    }

    /// The slots of live threads.
    pub(crate) fn slots(&self) -> Vec<Arc<Slot>> {
        self.slots.lock().clone()
    }

    /// Marks a thread abandoned: it leaves the pool and retires when its call returns.
    pub(crate) fn abandon(&self, slot: &Slot) {
        if !slot.abandoned.swap(true, Ordering::AcqRel) {
            self.leave(slot);
            self.schedule.lock().live -= 1;
        }
    }

    /// Takes a thread out of the slots, its CPU time kept in the meter's totals.
    fn leave(&self, slot: &Slot) {
        self.slots.lock().retain(|s| s.index != slot.index);
        if let Some(clock) = slot.clock.get() {
            self.meter.retire(clock);
        }
    }

    /// Jobs waiting for a thread.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Calls running now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Interpreter threads now (kept and grown).
    pub(crate) fn threads(&self) -> usize {
        self.schedule.lock().live
    }

    /// Wakes an idle thread to wait for the GIL unless one already does; `true` when none is
    /// idle and a thread must be started (counted in `live` already) to be the successor.
    fn ensure_successor(&self, s: &mut Schedule) -> bool {
        if s.gil_waiters + s.tokens + s.starting > 0 {
            return false;
        }
        if s.idle > 0 {
            s.tokens += 1;
            self.wake.notify_one();
            return false;
        }
        if s.live < self.limits.max {
            s.live += 1;
            return true;
        }
        false
    }

    /// Starts one more thread (already counted), logging each doubling.
    fn grow(self: &Arc<Self>) {
        if let Err(e) = self.spawn_thread() {
            tracing::warn!("cannot start another interpreter thread: {e}");
            return;
        }
        let live = self.threads();
        if live > self.limits.keep && live.is_power_of_two() {
            tracing::info!(
                threads = live,
                max = self.limits.max,
                "calls wait with the GIL free: the interpreter pool grew"
            );
        }
    }

    fn thread_main(self: &Arc<Self>, slot: &Arc<Slot>, run: &Arc<RunJob>) {
        CURRENT_SLOT.with(|s| *s.borrow_mut() = Some(slot.clone()));
        slot.pthread
            .store(crate::signal::current_thread(), Ordering::Release);
        if let Some(clock) = ThreadClock::current() {
            let _ = slot.clock.set(clock);
        }
        let asked = Instant::now();
        Python::attach(|py| {
            slot.python_ident
                .store(crate::async_exc::current_thread_ident(), Ordering::Release);
            // A thread started while jobs wait is the successor; it has just waited for the GIL.
            let mut turn = self.arrive().then_some(Some(asked));
            loop {
                if let Some(asked) = turn
                    && self.take_turn(py, asked)
                    && !self.drain(py, slot, run)
                {
                    return; // abandoned: already out of the pool
                }
                // Park without the GIL; the GIL is taken again when `detach` returns.
                match py.detach(|| self.wait_for_work()) {
                    Work::Drain(asked) => turn = Some(asked),
                    Work::End => break,
                }
            }
            self.leave(slot);
        });
    }

    /// The GIL's busy fraction of the last few milliseconds, from every thread's clock.
    pub(crate) fn gil_busy(&self) -> Option<Busy> {
        self.meter.busy(|| {
            let slots = self.slots();
            crate::gil_meter::total_of(slots.iter().filter_map(|s| s.clock.get()))
        })
    }

    /// A new thread holding the GIL for the first time: `true` when it is the successor.
    fn arrive(&self) -> bool {
        let mut s = self.schedule.lock();
        s.starting -= 1;
        let successor = !s.queue.is_empty() && s.gil_waiters == 0 && !s.shutdown;
        if successor {
            s.gil_waiters += 1;
        }
        successor
    }

    /// A successor that now holds the GIL: `true` to drain, `false` to park (nothing queued).
    /// Within the kept threads it drains at once. Beyond them it drains only once it found
    /// the GIL free: it asked at `asked` and got it within the switch interval. Until then it
    /// stays the successor: it gives the GIL back, waits one interval without it (asking at
    /// once would take it back from the call it was just handed to) and asks again.
    fn take_turn(&self, py: Python<'_>, mut asked: Option<Instant>) -> bool {
        loop {
            {
                let mut s = self.schedule.lock();
                if s.shutdown || s.queue.is_empty() {
                    s.gil_waiters -= 1;
                    return false;
                }
                if self.running.load(Ordering::Relaxed) < self.limits.keep {
                    s.gil_waiters -= 1;
                    return true;
                }
            }
            let got_it_soon = asked.is_some_and(|at| at.elapsed() < self.gil_free_within);
            if got_it_soon
                && self
                    .gil_busy()
                    .is_some_and(|busy| busy.wanted < GIL_BUSY_BELOW)
            {
                self.schedule.lock().gil_waiters -= 1;
                return true;
            }
            asked = Some(py.detach(|| {
                std::thread::sleep(2 * self.gil_free_within);
                Instant::now()
            }));
        }
    }

    /// Runs queued jobs while holding the GIL; `false` when this thread must retire.
    fn drain(self: &Arc<Self>, py: Python<'_>, slot: &Arc<Slot>, run: &Arc<RunJob>) -> bool {
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

    fn next_job(self: &Arc<Self>) -> Option<Arc<Job>> {
        let (job, grow) = {
            let mut s = self.schedule.lock();
            let job = s.queue.pop_front()?;
            self.queued.store(s.queue.len(), Ordering::Relaxed);
            let grow = !s.queue.is_empty() && self.ensure_successor(&mut s);
            (job, grow)
        };
        if grow {
            self.grow();
        }
        Some(job)
    }

    /// Blocks until this thread should take the GIL and drain.
    fn wait_for_work(&self) -> Work {
        let mut s = self.schedule.lock();
        // Jobs may have arrived while this thread was finishing its last one. It held the GIL
        // a moment ago, so how soon it gets it back says nothing about whether it was free.
        if !s.queue.is_empty() && s.gil_waiters == 0 && !s.shutdown {
            s.gil_waiters += 1;
            return Work::Drain(None);
        }
        s.idle += 1;
        let mut idle_since = Instant::now();
        loop {
            if s.shutdown {
                s.idle -= 1;
                return Work::End;
            }
            if s.tokens > 0 {
                s.tokens -= 1;
                s.idle -= 1;
                s.gil_waiters += 1;
                return Work::Drain(Some(Instant::now()));
            }
            let timed_out = self.wake.wait_for(&mut s, IDLE_RETIRE).timed_out();
            if !timed_out {
                idle_since = Instant::now();
            } else if idle_since.elapsed() >= IDLE_RETIRE && s.live > self.limits.keep {
                s.idle -= 1;
                s.live -= 1;
                return Work::End;
            }
        }
    }
}
