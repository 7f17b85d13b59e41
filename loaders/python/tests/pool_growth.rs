//! How many interpreter threads serve calls: the pool grows past `FNHOST_THREADS` while calls
//! wait with the GIL free, and stays at it while calls run Python code.
//!
//! The function records how many of its calls are in progress each time one starts (a set
//! and a list, no lock: a contended lock would itself release the GIL).
#![allow(
    clippy::expect_used,
    reason = "a test harness: a broken setup should stop the run loudly"
)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use fnhost_loader_api::{Function, FunctionSpec, Invocation, Loader};
use fnhost_loader_python::PythonLoader;
use http::{HeaderMap, Method, Uri};

const SOURCE: &str = r#"
import threading, time

active = set()
sizes = []

def _enter():
    active.add(threading.get_ident())
    sizes.append(len(active))

def _leave():
    active.discard(threading.get_ident())

def wait(event, context):
    _enter()
    try:
        time.sleep(0.3)
    finally:
        _leave()
    return "ok"

def spin(event, context):
    _enter()
    try:
        end = time.perf_counter() + 0.02
        while time.perf_counter() < end:
            pass
    finally:
        _leave()
    return "ok"

def peak(event, context):
    top = max(sizes, default=0)
    sizes.clear()
    return str(top)
"#;

fn load(dir: &Path, module: &str, handler: &str, (keep, max): (usize, usize)) -> Box<dyn Function> {
    std::fs::write(dir.join(format!("{module}.py")), SOURCE).expect("write module");
    let spec = FunctionSpec {
        runtime: "python3.11".to_owned(),
        concurrency: keep,
        max_concurrency: max,
        ..FunctionSpec::new(module, handler, dir)
    };
    PythonLoader.load(&spec).expect("loads")
}

fn get() -> Invocation {
    Invocation::new(
        Method::GET,
        Uri::from_static("/"),
        HeaderMap::new(),
        Bytes::new(),
        Duration::from_secs(30),
    )
}

/// Runs `calls` calls of `function` at once and returns the most calls that were in progress
/// together, as the function saw it (through a second function of the same module).
fn peak_of(function: &dyn Function, peak: &dyn Function, calls: usize) -> usize {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        let answers: Vec<_> = (0..calls).map(|_| function.invoke(get()).answer).collect();
        for answer in answers {
            let response = answer.await.expect("call succeeds");
            assert_eq!(&response.body[..], b"ok");
        }
        let response = peak.invoke(get()).answer.await.expect("peak answers");
        std::str::from_utf8(&response.body)
            .expect("text")
            .parse()
            .expect("a number")
    })
}

/// One test, two phases in turn: the GIL is the process's, so calls of another test running
/// meanwhile would change what these see.
#[test]
fn the_pool_grows_while_calls_wait_and_not_while_they_run_python_code() {
    let dir = tempfile::tempdir().expect("tempdir");

    let spinning = load(dir.path(), "growth_spin", "spin", (2, 64));
    let peak = load(dir.path(), "growth_spin", "peak", (1, 1));
    let seen = peak_of(spinning.as_ref(), peak.as_ref(), 32);
    assert!(
        (1..=2).contains(&seen),
        "{seen} CPU-bound calls ran together with 2 threads kept: the pool grew without calls waiting"
    );

    let waiting = load(dir.path(), "growth_wait", "wait", (4, 64));
    let peak = load(dir.path(), "growth_wait", "peak", (1, 1));
    let seen = peak_of(waiting.as_ref(), peak.as_ref(), 64);
    // 64 calls of 300 ms each: the 4 kept threads alone would never have more than 4 in
    // progress. How far past 4 the pool gets depends on the machine; it must get past.
    assert!(
        seen > 8,
        "at most {seen} sleeping calls ran together with 4 threads kept and 64 allowed"
    );
}
