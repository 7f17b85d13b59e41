//! The embedded JavaScript loader: Kubeless Node.js-style functions (`module.exports = {
//! handler(event, context) }` or `module.exports = fn`) run inside fnhost on a pool of
//! JavaScript isolates, without a Node.js process.
//!
//! The loader is engine-neutral: [`engine::Engine`] is the whole surface it needs (evaluate,
//! call a global, run promise jobs, interrupt at a deadline), and `js/runtime.js` carries the
//! Kubeless behaviour (CommonJS `require`, `console`, timers, `TextEncoder`, `URL`, event and
//! context, `extensions.request`/`response`, return values). This build uses QuickJS-ng through
//! `rquickjs` ([`quickjs::QuickJs`]); `docs/design/002-javascript-engine.md` says why, and how a
//! V8 build would plug in.
//!
//! Which functions run here: the `jsembedded` runtime of the catalogue. `nodejs20` keeps
//! running on real Node.js worker processes (`fnhost-loader-process`), for functions that need
//! Node's own APIs (`Buffer`, streams, `fs`, native modules).
//!
//! # Layout
//!
//! - [`engine`]: the [`engine::Engine`] trait and the call [`engine::Deadline`].
//! - [`quickjs`]: the QuickJS-ng engine.
//! - [`isolate`]: isolate threads, the job queue, the call driver (promises, timers, timeouts).

pub mod engine;
pub mod isolate;
pub mod quickjs;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crossbeam_channel::Sender;
use fnhost_loader_api::{
    Call, Counted, EngineStats, Function, FunctionSpec, Invocation, InvokeError, LoadError, Loader,
    Stop, answer_from,
};
use serde_json::json;

use crate::engine::Engine;
use crate::isolate::{Job, Setup};
use crate::quickjs::QuickJs;

/// Loads JavaScript functions into embedded isolates.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsLoader;

impl Loader for JsLoader {
    fn name(&self) -> &'static str {
        "js"
    }

    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
        let file = spec.dir.join(format!("{}.js", spec.module));
        if !file.is_file() {
            return Err(LoadError::ModuleNotFound {
                module: spec.module.clone(),
                handler: spec.handler.clone(),
                detail: format!("{} does not exist", file.display()),
            });
        }
        start::<QuickJs>(spec)
    }
}

/// A function served by a pool of isolates.
pub struct JsFunction {
    jobs: Sender<Job>,
    setup: Arc<Setup>,
    isolates: usize,
    engine: &'static str,
}

fn start<E: Engine + 'static>(spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
    let setup = Arc::new(Setup {
        module: spec.module.clone(),
        handler: spec.handler.clone(),
        config_json: load_config(spec),
        memory_limit: spec.memory_limit_bytes(),
        timeout: spec.timeout,
        running: Default::default(),
        live: Default::default(),
    });
    let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
    let isolates = spec.concurrency.max(1);
    // An engine stays on the thread that made it. The first isolate's load result is the
    // load error (the others load the same module and log if they cannot).
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    for n in 0..isolates {
        let (setup, queue) = (setup.clone(), queue.clone());
        let first = (n == 0).then(|| first_tx.clone());
        std::thread::Builder::new()
            .name(format!("fnhost-js-{n}"))
            .spawn(move || {
                let loaded = isolate::boot::<E>(&setup);
                // Counted as live while the isolate exists (also when its thread ends by a panic).
                let live = loaded.is_ok().then(|| Counted::new(&setup.live));
                let loaded = match (loaded, first) {
                    (Ok(loaded), Some(first)) => {
                        let _ = first.send(Ok(()));
                        loaded
                    }
                    (Ok(loaded), None) => loaded,
                    (Err(e), Some(first)) => {
                        let _ = first.send(Err(e));
                        return;
                    }
                    (Err(e), None) => {
                        tracing::error!("JavaScript isolate {n} cannot load the function: {e}");
                        return;
                    }
                };
                if let Some(live) = live {
                    isolate::serve::<E>(&setup, &queue, loaded, live);
                }
            })
            .map_err(|e| LoadError::Engine {
                engine: E::NAME,
                detail: format!("cannot start an isolate thread: {e}"),
            })?;
    }
    first_rx.recv().map_err(|_| LoadError::Engine {
        engine: E::NAME,
        detail: "the first isolate stopped before loading".to_owned(),
    })??;
    tracing::info!(
        "{}.{} runs on the embedded JavaScript engine ({}, {isolates} isolates): no Node.js APIs \
         (Buffer, process, fs, streams); runtime nodejs20 runs functions that need them",
        spec.module,
        spec.handler,
        E::NAME
    );
    Ok(Box::new(JsFunction {
        jobs,
        setup,
        isolates,
        engine: E::NAME,
    }))
}

/// What `__fnhost_load` reads: where the function is, and its context.
pub fn load_config(spec: &FunctionSpec) -> String {
    json!({
        "dir": std::path::absolute(&spec.dir).unwrap_or_else(|_| spec.dir.clone()).display().to_string(),
        "module": spec.module,
        "handler": spec.handler,
        "searchPath": spec.search_path.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "context": spec.context().to_json_value(),
    })
    .to_string()
}

impl Function for JsFunction {
    fn invoke(&self, invocation: Invocation) -> Call {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            call_json: call_json(&invocation),
            deadline: invocation.deadline,
            reply,
            start: invocation.start.clone(),
        };
        if self.jobs.send(job).is_err() {
            return Call::failed(InvokeError::Unavailable(
                "the JavaScript isolates have stopped".to_owned(),
            ));
        }
        let answer = answer_from(answer, "the JavaScript isolate stopped during the call");
        // The isolate's interrupt check stops the script at the call's deadline by itself
        // (and a job still queued then is skipped), so stopping only stops waiting.
        Call::new(answer, Stop::by_dropping_the_answer())
    }

    fn describe(&self) -> String {
        format!("{} ({} isolates)", self.engine, self.isolates)
    }

    /// Unhealthy once no isolate can take calls (their threads ended), so the orchestrator
    /// replaces the process.
    fn healthy(&self) -> bool {
        self.setup.live.load(Ordering::Relaxed) > 0
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            queued: self.jobs.len(),
            running: self.setup.running.load(Ordering::Relaxed),
        }
    }
}

/// The call as `runtime.js` reads it (the body as UTF-8 text).
fn call_json(invocation: &Invocation) -> String {
    let headers: Vec<(&str, String)> = invocation
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let event = &invocation.event;
    json!({
        "method": invocation.method.as_str(),
        "path": invocation.uri.path(),
        "query": invocation.uri.query().unwrap_or(""),
        "headers": headers,
        "body": String::from_utf8_lossy(&invocation.body),
        "data": invocation.data.as_str(),
        "event": {
            "id": event.id, "type": event.event_type, "time": event.time, "namespace": event.namespace,
        },
    })
    .to_string()
}
