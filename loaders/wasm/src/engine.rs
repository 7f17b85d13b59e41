//! The one wasmtime [`Engine`] of a function: configured once at load (pooling allocator sized
//! for the call concurrency, memory limit, epoch interruption) with a ticker thread that
//! advances its epoch, and the per-call [`Store`] set up to stop at the call's deadline.

use std::time::{Duration, Instant};

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

/// How often the epoch advances: a guest running wasm code yields to the scheduler at least
/// this often, and is stopped at most this long after its deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Slots whose memory is reset together (one `madvise` batch, so one TLB shootdown across the
/// process's threads for several instances instead of one each: the largest single cost of a
/// call in the first measurements).
const DECOMMIT_BATCH: u32 = 8;

/// Linear memories may not grow past 4 GiB (wasm32); a larger limit means no limit.
const WASM32_MAX_MEMORY: usize = 4 << 30;

/// What the pool is sized for.
#[derive(Debug, Clone, Copy)]
pub struct EngineLimits {
    /// Calls that may run at once (`FNHOST_THREADS`), each in its own instance.
    pub instances: u32,
    /// Largest size of each linear memory, from `FUNC_MEMORY_LIMIT`.
    pub max_memory: Option<usize>,
}

/// Builds the engine and starts its epoch ticker.
pub fn engine(limits: EngineLimits) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    // Beyond the call concurrency: the load-time check instance, and the slots waiting in
    // the reset batches (one batch per CPU shard, at most 16 shards).
    let shards = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    let waiting = u32::try_from(shards).unwrap_or(16) * (DECOMMIT_BATCH - 1);
    let slots = limits.instances.saturating_add(1).saturating_add(waiting);
    pool.decommit_batch_size(DECOMMIT_BATCH as usize)
        .total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(16))
        .total_memories(slots.saturating_mul(4))
        .total_tables(slots.saturating_mul(16))
        .total_stacks(slots);
    if let Some(bytes) = limits.max_memory.filter(|b| *b < WASM32_MAX_MEMORY) {
        pool.max_memory_size(bytes);
    }
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .memory_init_cow(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config)?;
    start_ticker(&engine);
    Ok(engine)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("fnhost-wasm-epoch".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the Wasm epoch thread, timeouts will not stop guests: {e}");
    }
}

/// A store for one call: at every epoch tick the guest yields to the scheduler, and past
/// `deadline` it traps with [`wasmtime::Trap::Interrupt`].
pub fn store<T: 'static>(engine: &Engine, data: T, deadline: Instant) -> Store<T> {
    let mut store = Store::new(engine, data);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if Instant::now() >= deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
    store
}

/// `true` when `error` is the trap [`store`] raises at the deadline.
pub fn is_interrupt(error: &wasmtime::Error) -> bool {
    error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt)
}
