//! Calling a loaded [`Function`] without HTTP, for the micro benchmarks (`python-calls`,
//! `js-calls`, `wasm-calls`): their command line, their runtime, and calls one at a time or
//! many in flight.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fnhost_loader_api::{EventMeta, Function, Invocation};
use http::{HeaderMap, Method, Uri, Version};

/// `[FUNCTIONS_DIR] [CALLS]`: the benchmark functions folder (default `benches/functions`)
/// and the calls per path (default 200,000).
pub fn args() -> Result<(PathBuf, usize), std::num::ParseIntError> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/functions")),
        PathBuf::from,
    );
    let calls = args.next().map_or(Ok(200_000), |n| n.parse())?;
    Ok((dir, calls))
}

/// The runtime the calls are made from: one tokio worker thread, as the proxy's workers see
/// a loader.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

/// A `GET /` with no body and a distant deadline.
pub fn invocation() -> Invocation {
    Invocation {
        method: Method::GET,
        uri: Uri::from_static("/"),
        version: Version::HTTP_11,
        headers: HeaderMap::new(),
        body: Bytes::new(),
        event: EventMeta::default(),
        data: fnhost_loader_api::DataKind::Empty,
        start: std::sync::Arc::default(),
        remote_addr: None,
        deadline: Instant::now() + Duration::from_secs(180),
    }
}

/// `calls` calls, each awaited before the next.
pub async fn invoke_sequential(function: &dyn Function, calls: usize) -> Result<Duration, String> {
    let started = Instant::now();
    for _ in 0..calls {
        function
            .invoke(invocation())
            .answer
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(started.elapsed())
}

/// `calls` calls with `in_flight` outstanding at any time.
pub async fn invoke_concurrent(
    function: &dyn Function,
    calls: usize,
    in_flight: usize,
) -> Result<Duration, String> {
    let mut pending = tokio::task::JoinSet::new();
    let started = Instant::now();
    let mut sent = 0;
    while sent < calls.min(in_flight) {
        pending.spawn(function.invoke(invocation()).answer);
        sent += 1;
    }
    while let Some(done) = pending.join_next().await {
        done.map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if sent < calls {
            pending.spawn(function.invoke(invocation()).answer);
            sent += 1;
        }
    }
    Ok(started.elapsed())
}

/// One Markdown table: per path, ns per call and calls per second.
pub fn print_table(calls: usize, rows: &[(&str, Duration)]) {
    println!("| path | calls | ns/call | calls/s |");
    println!("|---|---:|---:|---:|");
    for (name, elapsed) in rows {
        let per_call = elapsed.as_nanos() as f64 / calls as f64;
        println!(
            "| {name} | {calls} | {per_call:.0} | {:.0} |",
            1e9 / per_call
        );
    }
}
