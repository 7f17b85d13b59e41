//! The worker processes and their call *slots*. Each worker takes as many calls at once as its
//! READY frame announced (`concurrency`; 1 for workers that run one call at a time), so the pool
//! has `workers × concurrency` slots. A worker that crashes or is killed after a timeout is
//! replaced in the background (with backoff while it keeps failing to start); its slots
//! return to service once the replacement is READY. Calls wait for a free slot until their
//! deadline.
//!
//! A worker that exits for any reason, also while no call runs on it, is replaced the same
//! way. With a memory limit, the pool also watches the workers' memory ([`crate::memory`]).
//!
//! Slots are tagged with their worker's *generation*: a slot handed out before its worker was
//! replaced is discarded when it comes back, so a replacement never gets more calls than it
//! asked for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fnhost_loader_api::Counted;
use parking_lot::Mutex;
use tokio::sync::Semaphore;

use std::sync::{Arc, Weak};

use crate::memory;
use crate::worker::{Worker, WorkerCommand};

/// One worker position.
#[derive(Default)]
struct Seat {
    worker: Option<Arc<Worker>>,
    generation: u64,
}

/// The seats, the free slots and their permits.
pub struct Pool {
    command: WorkerCommand,
    seats: Vec<Mutex<Seat>>,
    free: Mutex<Vec<(usize, u64)>>,
    permits: Semaphore,
    /// Calls running now.
    pub running: AtomicUsize,
    /// Calls waiting for a slot.
    pub queued: AtomicUsize,
}

/// A slot taken for one call; given back with [`Pool::release`] or [`Pool::replace`].
pub struct Lease {
    seat: usize,
    generation: u64,
    /// The worker to call.
    pub worker: Arc<Worker>,
}

/// The first retry delay of a worker that failed to start; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest delay between start attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl Pool {
    /// Starts `workers` workers; fails if the first cannot start (its error is the load error).
    pub async fn start(
        command: WorkerCommand,
        workers: usize,
    ) -> Result<Arc<Pool>, crate::worker::WorkerError> {
        let workers = workers.max(1);
        let first = Worker::start(&command).await?;
        let pool = Arc::new(Pool {
            command,
            seats: (0..workers).map(|_| Mutex::new(Seat::default())).collect(),
            free: Mutex::new(Vec::new()),
            permits: Semaphore::new(0),
            running: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
        });
        pool.install(0, first);
        for seat in 1..workers {
            pool.clone().respawn_in_background(seat, None);
        }
        if let Some(limit) = pool.command.memory_limit {
            tokio::spawn(watch_memory(Arc::downgrade(&pool), limit));
        }
        Ok(pool)
    }

    /// A free slot, waiting until `deadline`; `None` if none became free in time.
    pub async fn acquire(&self, deadline: Instant) -> Option<Lease> {
        // Counted until it stops waiting for any reason (also when its future is dropped
        // because the client went away).
        let waiting = Counted::new(&self.queued);
        let lease = tokio::time::timeout_at(deadline.into(), self.acquire_valid())
            .await
            .ok()
            .flatten();
        drop(waiting);
        if lease.is_some() {
            self.running.fetch_add(1, Ordering::Relaxed);
        }
        lease
    }

    async fn acquire_valid(&self) -> Option<Lease> {
        loop {
            self.permits.acquire().await.ok()?.forget();
            let Some((seat, generation)) = self.free.lock().pop() else {
                continue;
            };
            let current = self.seats[seat].lock();
            match &current.worker {
                Some(worker) if current.generation == generation && worker.alive() => {
                    return Some(Lease {
                        seat,
                        generation,
                        worker: worker.clone(),
                    });
                }
                _ => continue, // a slot of a replaced worker: discard it
            }
        }
    }

    /// Gives a slot back after a call that finished normally.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "taking the lease by value gives it back exactly once"
    )]
    pub fn release(self: &Arc<Self>, lease: Lease) {
        self.running.fetch_sub(1, Ordering::Relaxed);
        if lease.worker.alive() {
            self.free.lock().push((lease.seat, lease.generation));
            self.permits.add_permits(1);
        } else {
            self.retire(lease.seat, lease.generation, "it exited");
        }
    }

    /// Kills the lease's worker (after a timeout, or when it crashed) and starts a new one.
    /// Other calls in flight on that worker fail.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "taking the lease by value gives it back exactly once"
    )]
    pub fn replace(self: &Arc<Self>, lease: Lease, why: &str) {
        self.running.fetch_sub(1, Ordering::Relaxed);
        lease.worker.kill();
        self.retire(lease.seat, lease.generation, why);
    }

    /// Replaces the seat's worker unless that already happened for this generation.
    fn retire(self: &Arc<Self>, seat: usize, generation: u64, why: &str) {
        {
            let mut current = self.seats[seat].lock();
            if current.generation != generation || current.worker.is_none() {
                return;
            }
            current.worker = None;
            current.generation += 1;
        }
        self.clone().respawn_in_background(seat, Some(why));
    }

    fn install(self: &Arc<Self>, seat: usize, worker: Arc<Worker>) {
        let slots = usize::try_from(worker.ready.concurrency.max(1)).unwrap_or(1);
        let generation = {
            let mut current = self.seats[seat].lock();
            current.worker = Some(worker.clone());
            current.generation
        };
        // However it ends (a crash between calls, a kill for memory), the seat gets a new one.
        let pool = Arc::downgrade(self);
        tokio::spawn(async move {
            let why = worker.wait_exit().await;
            if let Some(pool) = pool.upgrade() {
                pool.retire(seat, generation, &why);
            }
        });
        self.free
            .lock()
            .extend(std::iter::repeat_n((seat, generation), slots));
        self.permits.add_permits(slots);
    }

    /// Starts the seat's worker: its first (`replacing` is `None`) or a replacement, and why.
    fn respawn_in_background(self: Arc<Self>, seat: usize, replacing: Option<&str>) {
        let why = replacing.map(str::to_owned);
        tokio::spawn(async move {
            let started = Instant::now();
            let mut delay = FIRST_BACKOFF;
            loop {
                match Worker::start(&self.command).await {
                    Ok(worker) => {
                        match &why {
                            None => {
                                tracing::debug!(seat, "worker started in {:?}", started.elapsed())
                            }
                            Some(why) => tracing::info!(
                                seat,
                                "worker replaced ({why}) in {:?}",
                                started.elapsed()
                            ),
                        }
                        self.install(seat, worker);
                        return;
                    }
                    Err(e) => {
                        tracing::error!(
                            seat,
                            "cannot start a worker ({}): {e}; retrying in {delay:?}",
                            why.as_deref().unwrap_or("first start")
                        );
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(MAX_BACKOFF);
                    }
                }
            }
        });
    }

    /// Kills the largest worker if fnhost and its workers together are over `limit` bytes.
    fn check_memory(&self, limit: u64) {
        let workers: Vec<(Arc<Worker>, u64)> = self
            .seats
            .iter()
            .filter_map(|seat| seat.lock().worker.clone())
            .filter(|worker| worker.alive())
            .filter_map(|worker| {
                let bytes = memory::resident_bytes(&worker.pid()?.to_string())?;
                Some((worker, bytes))
            })
            .collect();
        let own = memory::resident_bytes("self").unwrap_or(0);
        let sizes: Vec<u64> = workers.iter().map(|(_, bytes)| *bytes).collect();
        let Some((largest, total)) = memory::over_limit(own, &sizes, limit) else {
            return;
        };
        let (worker, bytes) = &workers[largest];
        let why = format!(
            "killed by fnhost for memory: the worker used {}, and with fnhost and the other \
             workers {}, over FUNC_MEMORY_LIMIT ({})",
            memory::mib(*bytes),
            memory::mib(total),
            memory::mib(limit)
        );
        tracing::error!("{why}");
        worker.kill_for_memory(why);
    }

    /// Workers alive now.
    pub fn live(&self) -> usize {
        self.seats
            .iter()
            .filter(|s| s.lock().worker.as_ref().is_some_and(|w| w.alive()))
            .count()
    }

    /// Number of worker positions.
    pub fn size(&self) -> usize {
        self.seats.len()
    }
}

/// Checks the workers' memory every [`memory::CHECK_EVERY`] while the pool exists.
async fn watch_memory(pool: Weak<Pool>, limit: u64) {
    let mut every = tokio::time::interval(memory::CHECK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        pool.check_memory(limit);
    }
}
