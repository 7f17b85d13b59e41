//! A fixed number of worker *slots*, each a worker process taking one call at a time, kept
//! alive: a worker that crashes or is killed after a timeout is replaced in the background
//! (with backoff when it keeps failing to start), and its slot returns to service once the
//! replacement is READY. Calls wait for a free slot until their deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::worker::{Worker, WorkerCommand};

/// The slots and the free list.
pub struct Pool {
    command: WorkerCommand,
    slots: Vec<Mutex<Option<Arc<Worker>>>>,
    free: Mutex<Vec<usize>>,
    permits: Semaphore,
    /// Workers started since load (first starts included).
    pub starts: AtomicUsize,
    /// Calls running now.
    pub running: AtomicUsize,
    /// Calls waiting for a slot.
    pub queued: AtomicUsize,
}

/// A slot taken for one call; returned with [`Pool::release`] or [`Pool::replace`].
pub struct Lease {
    /// Slot index.
    pub slot: usize,
    /// Its worker.
    pub worker: Arc<Worker>,
}

/// The first retry delay of a worker that failed to start; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest delay between start attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl Pool {
    /// Starts `slots` workers; fails if the first one cannot start (its error is the load error).
    pub async fn start(
        command: WorkerCommand,
        slots: usize,
    ) -> Result<Arc<Pool>, crate::worker::WorkerError> {
        let slots = slots.max(1);
        let first = Worker::start(&command).await?;
        let pool = Arc::new(Pool {
            command,
            slots: (0..slots).map(|_| Mutex::new(None)).collect(),
            free: Mutex::new(Vec::new()),
            permits: Semaphore::new(0),
            starts: AtomicUsize::new(1),
            running: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
        });
        pool.install(0, first);
        for slot in 1..slots {
            pool.clone().respawn_in_background(slot, "starting");
        }
        Ok(pool)
    }

    /// A free slot, waiting until `deadline`; `None` if none became free in time.
    pub async fn acquire(&self, deadline: Instant) -> Option<Lease> {
        self.queued.fetch_add(1, Ordering::Relaxed);
        let permit = tokio::time::timeout_at(deadline.into(), self.permits.acquire()).await;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        permit.ok()?.ok()?.forget();
        let slot = self.free.lock().pop()?;
        let worker = self.slots[slot].lock().clone()?;
        self.running.fetch_add(1, Ordering::Relaxed);
        Some(Lease { slot, worker })
    }

    /// Returns a slot after a call that finished normally.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "taking the lease by value gives it back exactly once"
    )]
    pub fn release(self: &Arc<Self>, lease: Lease) {
        self.running.fetch_sub(1, Ordering::Relaxed);
        if lease.worker.alive() {
            self.free.lock().push(lease.slot);
            self.permits.add_permits(1);
        } else {
            self.clone().respawn_in_background(lease.slot, "it exited");
        }
    }

    /// Kills the slot's worker (after a timeout, or when it crashed) and starts a new one.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "taking the lease by value gives it back exactly once"
    )]
    pub fn replace(self: &Arc<Self>, lease: Lease, why: &str) {
        self.running.fetch_sub(1, Ordering::Relaxed);
        lease.worker.kill();
        self.clone().respawn_in_background(lease.slot, why);
    }

    fn install(&self, slot: usize, worker: Arc<Worker>) {
        *self.slots[slot].lock() = Some(worker);
        self.free.lock().push(slot);
        self.permits.add_permits(1);
    }

    fn respawn_in_background(self: Arc<Self>, slot: usize, why: &str) {
        *self.slots[slot].lock() = None;
        let why = why.to_owned();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut delay = FIRST_BACKOFF;
            loop {
                match Worker::start(&self.command).await {
                    Ok(worker) => {
                        self.starts.fetch_add(1, Ordering::Relaxed);
                        if why == "starting" {
                            tracing::debug!(slot, "worker started in {:?}", started.elapsed());
                        } else {
                            tracing::info!(
                                slot,
                                "worker replaced ({why}) in {:?}",
                                started.elapsed()
                            );
                        }
                        self.install(slot, worker);
                        return;
                    }
                    Err(e) => {
                        tracing::error!(
                            slot,
                            "cannot restart a worker ({why}): {e}; retrying in {delay:?}"
                        );
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(MAX_BACKOFF);
                    }
                }
            }
        });
    }

    /// Slots with a live worker.
    pub fn live(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.lock().as_ref().is_some_and(|w| w.alive()))
            .count()
    }

    /// Number of slots.
    pub fn size(&self) -> usize {
        self.slots.len()
    }
}
