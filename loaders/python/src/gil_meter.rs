//! How busy the GIL is: what the pool asks before it grows past its kept threads.
//!
//! Python code runs only with the GIL held, so the time the interpreter threads together spend
//! on a CPU is close to the time the GIL is held. Calls blocked in I/O, in `time.sleep` or
//! waiting for the GIL sleep and add nothing. Linux keeps the figures per thread in
//! `/proc/<pid>/task/<tid>/schedstat` (time on a CPU, time waiting on a run queue). Two
//! readings come of them ([`Busy`]):
//!
//! - `on_cpu`, time running: at least 85% (the saturation mark of `spill.rs`) means Python
//!   ran nearly all the time (another interpreter would help);
//! - `wanted`, time running or runnable: a GIL holder that a busy machine does not run still
//!   counts, so a CPU-bound function never looks idle; threads that wake together count each
//!   (an overestimate), so it serves only to hold growth back.
//!
//! Where the file cannot be read (no `/proc`), the meter reports nothing and the pool keeps
//! its kept threads only.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The shortest window worth measuring; a question sooner gets the last answer.
const MIN_WINDOW: Duration = Duration::from_millis(10);
/// The longest window that still says something about now; older, the meter starts over.
const MAX_WINDOW: Duration = Duration::from_millis(100);

/// One interpreter thread's `schedstat`, opened by the thread itself.
pub(crate) struct ThreadClock(File);

impl ThreadClock {
    /// The calling thread's clock; `None` without `/proc`.
    pub(crate) fn current() -> Option<ThreadClock> {
        File::open("/proc/thread-self/schedstat")
            .ok()
            .map(ThreadClock)
    }

    /// Nanoseconds this thread has run, and waited to run.
    fn read(&self) -> Option<Times> {
        let mut buf = [0u8; 96];
        let n = self.0.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        let mut fields = text.split_whitespace().map(str::parse::<u64>);
        let on_cpu = fields.next()?.ok()?;
        let waiting = fields.next()?.ok()?;
        Some(Times { on_cpu, waiting })
    }
}

/// CPU times of threads, in nanoseconds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    on_cpu: u64,
    waiting: u64,
}

impl std::ops::Add for Times {
    type Output = Times;
    fn add(self, other: Times) -> Times {
        Times {
            on_cpu: self.on_cpu + other.on_cpu,
            waiting: self.waiting + other.waiting,
        }
    }
}

impl std::iter::Sum for Times {
    fn sum<I: Iterator<Item = Times>>(iter: I) -> Times {
        iter.fold(Times::default(), |a, b| a + b)
    }
}

/// How busy the GIL was over a window, as fractions of it (see the module's docs).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Busy {
    /// Time the interpreter threads ran.
    pub(crate) on_cpu: f64,
    /// Time they ran or were runnable.
    pub(crate) wanted: f64,
}

/// The times of `clocks` together; `None` when one cannot be read.
pub(crate) fn total_of<'a>(clocks: impl Iterator<Item = &'a ThreadClock>) -> Option<Times> {
    clocks.map(ThreadClock::read).sum()
}

/// The GIL's busy fraction over the last few milliseconds.
#[derive(Default)]
pub(crate) struct GilMeter {
    state: Mutex<Sample>,
}

#[derive(Default)]
struct Sample {
    /// When the last window ended; `None` before the first reading.
    at: Option<Instant>,
    /// The threads' total at that moment.
    total: Times,
    /// The time of threads that have ended, kept in every total.
    ended: Times,
    /// The answer for the last window.
    busy: Option<Busy>,
}

impl GilMeter {
    /// How busy the GIL was over the last window (about 1.0 when it never rests); `None`
    /// when there is no recent window yet (ask again a few milliseconds later) or a clock
    /// cannot be read. `live_total` sums the clocks of the threads now in the pool (see
    /// [`total_of`]); it is called only when a new window ends.
    pub(crate) fn busy(&self, live_total: impl FnOnce() -> Option<Times>) -> Option<Busy> {
        let mut sample = self.state.lock();
        let now = Instant::now();
        let since = sample.at.map(|at| now - at);
        if since.is_some_and(|d| d < MIN_WINDOW) {
            return sample.busy;
        }
        let total = sample.ended + live_total()?;
        let busy = since.filter(|d| *d <= MAX_WINDOW).map(|window| {
            let window = window.as_nanos() as f64;
            let on_cpu = total.on_cpu.saturating_sub(sample.total.on_cpu) as f64;
            let waiting = total.waiting.saturating_sub(sample.total.waiting) as f64;
            Busy {
                on_cpu: on_cpu / window,
                wanted: (on_cpu + waiting) / window,
            }
        });
        *sample = Sample {
            at: Some(now),
            total,
            ended: sample.ended,
            busy,
        };
        busy
    }

    /// A thread leaves the pool: its time so far stays in the totals.
    pub(crate) fn retire(&self, clock: &ThreadClock) {
        if let Some(times) = clock.read() {
            let mut sample = self.state.lock();
            sample.ended = sample.ended + times;
        }
    }
}
