//! `wasm-calls`: instantiation and per-call overhead of the Wasm loader, without HTTP. Loads
//! the benchmark's wasi:http component (`wasm/hello.wasm`) and fnhost Wasm ABI module
//! (`wasm/helloabi.wasm`, handler `foo`) and measures, for each, in one run:
//!
//! - **instantiation**: a fresh `Store` with its WASI context, and an instance of the
//!   pre-linked code from the pooling allocator (the ABI row also calls
//!   `fnhost_abi_version`), median and p99 of 2,000;
//! - **guest call** (baseline): one request straight through the guest's call path
//!   (store, instance, handler, response), awaited in a loop: no task, no slot;
//! - **loader, one at a time** and **loader, 32 in flight**: `Function::invoke`, with the
//!   task, the slot semaphore and the deadline included (16 slots).
//!
//! `wasm-calls [FUNCTIONS_DIR] [CALLS]`. Prints Markdown tables.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fnhost_benches::calls::{invocation, invoke_concurrent, invoke_sequential, print_table};
use fnhost_loader_api::{Function, FunctionSpec};
use fnhost_loader_wasm::abi::{AbiGuest, Context};
use fnhost_loader_wasm::cache::{self, Compiled, Kind};
use fnhost_loader_wasm::engine::{self, EngineLimits};
use fnhost_loader_wasm::function::{Guest, WasmFunction};
use fnhost_loader_wasm::http::HttpGuest;

type Error = Box<dyn std::error::Error>;

const INSTANTIATIONS: usize = 2_000;
const SLOTS: u32 = 16;

fn main() -> Result<(), Error> {
    let (dir, calls) = fnhost_benches::calls::args()?;
    let runtime = fnhost_benches::calls::runtime()?;
    runtime.block_on(async {
        let http = http_guest(&dir.join("wasm/hello.wasm"))?;
        let abi = abi_guest(&dir.join("wasm/helloabi.wasm"))?;
        println!("| instantiation | median | p99 |\n|---|---:|---:|");
        instantiation_row(
            "wasi:http component (store, WASI context, instance)",
            || http.check(),
        )
        .await?;
        instantiation_row(
            "ABI module (store, WASI context, instance, `fnhost_abi_version`)",
            || abi.check(invocation()),
        )
        .await?;
        println!();
        let http_raw = guest_loop(calls, || http.call(invocation())).await?;
        let abi_raw = guest_loop(calls, || abi.call(invocation())).await?;
        let spec = FunctionSpec::new("hello", "handle", &dir);
        let http = WasmFunction::new(Guest::Http(http), &spec, SLOTS);
        let abi = WasmFunction::new(Guest::Abi(abi), &spec, SLOTS);
        let rows = [
            (
                "wasi:http: guest call, no task or slot (baseline)",
                http_raw,
            ),
            (
                "wasi:http: loader, one at a time",
                sequential(&http, calls).await?,
            ),
            (
                "wasi:http: loader, 32 in flight",
                concurrent(&http, calls).await?,
            ),
            ("ABI: guest call, no task or slot (baseline)", abi_raw),
            ("ABI: loader, one at a time", sequential(&abi, calls).await?),
            ("ABI: loader, 32 in flight", concurrent(&abi, calls).await?),
        ];
        print_table(calls, &rows);
        Ok(())
    })
}

async fn sequential(function: &dyn Function, calls: usize) -> Result<Duration, Error> {
    Ok(invoke_sequential(function, calls).await?)
}

async fn concurrent(function: &dyn Function, calls: usize) -> Result<Duration, Error> {
    Ok(invoke_concurrent(function, calls, 32).await?)
}

fn compiled(path: &Path) -> Result<(wasmtime::Engine, Compiled), Error> {
    let engine = engine::engine(EngineLimits {
        instances: SLOTS,
        max_memory: None,
    })?;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let kind = Kind::of(&bytes).ok_or("not a Wasm file")?;
    let compiled = cache::compile(&engine, path, &bytes, kind)?;
    Ok((engine, compiled))
}

fn http_guest(path: &Path) -> Result<HttpGuest, Error> {
    let (engine, compiled) = compiled(path)?;
    let Compiled::Component(component) = compiled else {
        return Err(format!("{} is not a component", path.display()).into());
    };
    Ok(HttpGuest::link(&engine, &component, Arc::new([]))?)
}

fn abi_guest(path: &Path) -> Result<AbiGuest, Error> {
    let (engine, compiled) = compiled(path)?;
    let Compiled::Module(module) = compiled else {
        return Err(format!("{} is not a core module", path.display()).into());
    };
    let context = Arc::new(Context {
        function_name: "helloabi.foo".to_owned(),
        runtime: "wasm1".to_owned(),
        memory_limit: "0".to_owned(),
        timeout: "180".to_owned(),
    });
    Ok(AbiGuest::link(
        &engine,
        &module,
        "foo",
        context,
        Arc::new([]),
    )?)
}

async fn instantiation_row<F, Fut, E>(name: &str, mut instantiate: F) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut times = Vec::with_capacity(INSTANTIATIONS);
    for _ in 0..INSTANTIATIONS {
        let started = Instant::now();
        instantiate().await.map_err(|e| e.to_string())?;
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "| {name} | {:.1} µs | {:.1} µs |",
        times[times.len() / 2].as_secs_f64() * 1e6,
        times[times.len() * 99 / 100].as_secs_f64() * 1e6
    );
    Ok(())
}

async fn guest_loop<F, Fut>(calls: usize, mut call: F) -> Result<Duration, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = Result<fnhost_loader_api::Response, fnhost_loader_api::InvokeError>,
        >,
{
    let started = Instant::now();
    for _ in 0..calls {
        call().await?;
    }
    Ok(started.elapsed())
}
