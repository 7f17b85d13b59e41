//! `js-calls`: instantiation and per-call overhead of the embedded JavaScript loader, without
//! HTTP. Loads `benches/functions/hello.js` and measures, in one run:
//!
//! - **isolate instantiation**: a fresh QuickJS-ng engine, fnhost's `runtime.js`, and the
//!   function module loaded (what replacing an isolate after a timeout costs), median and p99
//!   of 200;
//! - **engine call** (baseline): `__fnhost_call` on one isolate in a loop: the call JSON parsed,
//!   event and context built, the handler called, the result serialised; no threads;
//! - **loader, one at a time** and **loader, 32 in flight**: `Function::invoke` through the
//!   isolate pool (16 isolates), the hand-off to an isolate thread and back included.
//!
//! `js-calls [FUNCTIONS_DIR] [CALLS]`. Prints Markdown tables.

use std::time::{Duration, Instant};

use fnhost_benches::calls::{invoke_concurrent, invoke_sequential, print_table};
use fnhost_loader_api::{FunctionSpec, Loader};
use fnhost_loader_js::engine::Engine;
use fnhost_loader_js::isolate::{Setup, boot};
use fnhost_loader_js::quickjs::QuickJs;
use fnhost_loader_js::{JsLoader, load_config};

const CALL_JSON: &str = r#"{"method":"GET","path":"/","query":"","headers":[],"body":"","event":{"id":null,"type":null,"time":null,"namespace":null}}"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (dir, calls) = fnhost_benches::calls::args()?;
    let spec = FunctionSpec {
        runtime: "jsembedded".to_owned(),
        concurrency: 16,
        ..FunctionSpec::new("hello", "foo", dir)
    };
    let setup = Setup {
        module: spec.module.clone(),
        handler: spec.handler.clone(),
        config_json: load_config(&spec),
        memory_limit: None,
        timeout: spec.timeout,
        running: Default::default(),
        live: Default::default(),
    };

    let mut boots: Vec<Duration> = (0..200)
        .map(|_| {
            let started = Instant::now();
            boot::<QuickJs>(&setup).map(|_| started.elapsed())
        })
        .collect::<Result<_, _>>()?;
    boots.sort();
    println!(
        "| isolate instantiation (engine, runtime.js, module) | median | p99 |\n|---|---:|---:|\n| 200 isolates | {:.0} µs | {:.0} µs |\n",
        boots[boots.len() / 2].as_secs_f64() * 1e6,
        boots[boots.len() * 99 / 100].as_secs_f64() * 1e6
    );

    let (mut engine, _deadline) = boot::<QuickJs>(&setup)?;
    let started = Instant::now();
    for n in 0..calls {
        let state = engine.call("__fnhost_call", CALL_JSON, n as f64)?;
        if !state.starts_with('R') {
            return Err(format!("the call did not finish at once: {state}").into());
        }
    }
    let raw = started.elapsed();

    let function = JsLoader.load(&spec)?;
    let runtime = fnhost_benches::calls::runtime()?;
    let sequential = runtime.block_on(invoke_sequential(function.as_ref(), calls))?;
    let concurrent = runtime.block_on(invoke_concurrent(function.as_ref(), calls, 32))?;
    print_table(
        calls,
        &[
            ("engine call, one isolate, no threads (baseline)", raw),
            ("loader, one at a time", sequential),
            ("loader, 32 in flight", concurrent),
        ],
    );
    Ok(())
}
