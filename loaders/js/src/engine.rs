//! What the loader needs from a JavaScript engine, and nothing more: evaluate a script, call a
//! global function with a string and a number, run pending promise jobs, and stop a running
//! script when the call's deadline passes. Everything Kubeless-specific lives in
//! `js/runtime.js`, so another engine (V8 through deno_core, where its library can be
//! downloaded) plugs in by implementing this trait.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Why the engine could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The script threw: the exception's message and stack.
    #[error("{0}")]
    Threw(String),
    /// The deadline passed and the engine stopped the script.
    #[error("interrupted at the deadline")]
    Interrupted,
    /// The engine itself failed (could not start, out of memory, …): replace it.
    #[error("the JavaScript engine failed: {0}")]
    Broken(String),
}

/// One JavaScript engine instance (an isolate), used from one thread only.
pub trait Engine: Sized {
    /// A short name for logs (`quickjs`).
    const NAME: &'static str;

    /// A new engine with the host functions `runtime.js` expects (`__fnhost_host.readFile`,
    /// `__fnhost_host.print`), limited to `memory_limit` bytes when given, and stopped
    /// whenever `deadline` has passed.
    fn new(memory_limit: Option<usize>, deadline: Arc<Deadline>) -> Result<Self, EngineError>;

    /// Evaluates a script (`name` is for stack traces).
    fn eval(&mut self, name: &str, source: &str) -> Result<(), EngineError>;

    /// Calls the global function `function(text, now_ms)`, which returns a string.
    fn call(&mut self, function: &str, text: &str, now_ms: f64) -> Result<String, EngineError>;

    /// Runs pending promise jobs until there are none; `true` if it ran any.
    fn run_jobs(&mut self) -> Result<bool, EngineError>;
}

/// The deadline of the call an engine is running, shared with the engine's interrupt check.
#[derive(Debug)]
pub struct Deadline {
    base: Instant,
    /// Nanoseconds after `base`; `u64::MAX` when no call runs.
    at: AtomicU64,
}

impl Deadline {
    /// No deadline yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Deadline {
            base: Instant::now(),
            at: AtomicU64::new(u64::MAX),
        })
    }

    /// A call starts that must end by `at`.
    pub fn arm(&self, at: Instant) {
        let nanos = at.saturating_duration_since(self.base).as_nanos();
        self.at.store(
            u64::try_from(nanos).unwrap_or(u64::MAX - 1),
            Ordering::Relaxed,
        );
    }

    /// No call runs.
    pub fn disarm(&self) {
        self.at.store(u64::MAX, Ordering::Relaxed);
    }

    /// `true` once the armed deadline has passed (what the engine's interrupt check asks).
    pub fn expired(&self) -> bool {
        let at = self.at.load(Ordering::Relaxed);
        at != u64::MAX && u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX) >= at
    }
}
