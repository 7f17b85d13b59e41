//! `python-calls`: the per-call overhead of the embedded Python loader, without HTTP.
//!
//! Loads `benches/functions/hello.py` with the real `PythonLoader` and measures, in one run:
//!
//! - **raw pyo3 call** (baseline): `foo(event, context)` called in a loop on one thread holding
//!   the GIL, with the event dict built per call as any host must; the least a host can spend.
//! - **loader, one at a time**: `Function::invoke` awaited call after call from tokio: the
//!   queue hand-off to an interpreter thread and back, event building and conversion included.
//! - **loader, 32 in flight**: the same with 32 calls outstanding, the shape of a loaded server.
//!
//! `python-calls [FUNCTIONS_DIR] [CALLS]`. Prints one Markdown table.

use std::time::{Duration, Instant};

use fnhost_benches::calls::{invoke_concurrent, invoke_sequential, print_table};
use fnhost_loader_api::{FunctionSpec, Loader};
use fnhost_loader_python::PythonLoader;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (dir, calls) = fnhost_benches::calls::args()?;
    let spec = FunctionSpec {
        runtime: "python3.11".to_owned(),
        concurrency: 16,
        ..FunctionSpec::new("hello", "foo", dir)
    };
    let function = PythonLoader.load(&spec)?;
    let runtime = fnhost_benches::calls::runtime()?;

    let raw = raw_pyo3(calls)?;
    let sequential = runtime.block_on(invoke_sequential(function.as_ref(), calls))?;
    let concurrent = runtime.block_on(invoke_concurrent(function.as_ref(), calls, 32))?;

    print_table(
        calls,
        &[
            ("raw pyo3 call (baseline)", raw),
            ("loader, one at a time", sequential),
            ("loader, 32 in flight", concurrent),
        ],
    );
    Ok(())
}

fn raw_pyo3(calls: usize) -> PyResult<Duration> {
    Python::attach(|py| {
        let handler = py.import("hello")?.getattr("foo")?;
        let context = PyDict::new(py);
        context.set_item("function-name", &handler)?;
        context.set_item("timeout", 180.0)?;
        context.set_item("runtime", "python3.11")?;
        context.set_item("memory-limit", "0")?;
        let started = Instant::now();
        for _ in 0..calls {
            let event = PyDict::new(py);
            event.set_item("data", pyo3::types::PyBytes::new(py, b""))?;
            event.set_item("event-id", py.None())?;
            event.set_item("event-type", py.None())?;
            event.set_item("event-time", py.None())?;
            event.set_item("event-namespace", py.None())?;
            let result = handler.call1((event, &context))?;
            let _text: String = result.extract()?;
        }
        Ok(started.elapsed())
    })
}
