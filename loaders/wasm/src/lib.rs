//! The WebAssembly loader: functions compiled to Wasm run inside fnhost on wasmtime, each
//! call in a fresh instance that cannot touch the host or other calls.
//!
//! Two kinds of Wasm file are served (told apart by the file's preamble):
//!
//! - **Components** exporting `wasi:http/incoming-handler` (the world `wasmtime serve` and
//!   Spin run), with WASI preview 2. The handler is `<module>.handle`.
//! - **Core modules** for fnhost Wasm ABI 1 (`docs/wasm-abi.md`): Kubeless-shaped handlers
//!   (`<module>.<export>`) that read the request, event and context through `fnhost` imports
//!   and answer status, headers and body; WASI preview 1 for output.
//!
//! One [`wasmtime::Engine`] per function with the pooling allocator (one slot per concurrent
//! call, `FNHOST_THREADS`); the module is compiled once at load (or loaded from the on-disk
//! cache, [`cache`]) and pre-linked, so a call only instantiates. Every call gets a fresh
//! store whose linear memories are bounded by `FUNC_MEMORY_LIMIT`, and an epoch deadline: a
//! guest running past `FUNC_TIMEOUT` traps and the call answers 408, without touching any
//! other call.
//!
//! # Layout
//!
//! - [`engine`]: engine configuration, epoch ticker, per-call store.
//! - [`cache`]: compiled code on disk.
//! - [`http`]: wasi:http components.
//! - [`abi`]: fnhost Wasm ABI core modules.
//! - [`function`]: the loaded function: concurrency, deadline, load statistics.

pub mod abi;
pub mod cache;
pub mod engine;
pub mod function;
pub mod http;

use std::path::Path;
use std::sync::Arc;

use fnhost_loader_api::{Function, FunctionSpec, Invocation, InvokeError, LoadError, Loader};

use crate::abi::{AbiError, AbiGuest, Context};
use crate::cache::{Compiled, Kind};
use crate::function::{Guest, WasmFunction};
use crate::http::HttpGuest;

/// The only handler name of a wasi:http component: its `incoming-handler.handle` export.
pub const COMPONENT_HANDLER: &str = "handle";

/// Loads Wasm functions.
#[derive(Debug, Default, Clone, Copy)]
pub struct WasmLoader;

impl Loader for WasmLoader {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
        let path = spec.dir.join(format!("{}.wasm", spec.module));
        let bytes = std::fs::read(&path).map_err(|e| LoadError::ModuleNotFound {
            module: spec.module.clone(),
            handler: spec.handler.clone(),
            detail: format!("cannot read {}: {e}", path.display()),
        })?;
        let kind = Kind::of(&bytes).ok_or_else(|| LoadError::ImportFailed {
            module: spec.module.clone(),
            handler: spec.handler.clone(),
            detail: format!(
                "{} is not a WebAssembly module or component",
                path.display()
            ),
        })?;
        if kind == Kind::Component && spec.handler != COMPONENT_HANDLER {
            return Err(handler_error(
                spec,
                format!(
                    "{} is a wasi:http component: its handler is {}.{COMPONENT_HANDLER} (the incoming-handler export), not {}.{}",
                    path.display(),
                    spec.module,
                    spec.module,
                    spec.handler
                ),
            ));
        }
        // The load-time check instantiates asynchronously. The caller may be inside a tokio
        // runtime already (where `block_on` is not allowed), so it runs on a thread of its own.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .build()
                        .map_err(|e| {
                            engine_error(format!("cannot start a runtime for loading: {e}"))
                        })?
                        .block_on(load(spec, &path, &bytes, kind))
                })
                .join()
                .unwrap_or_else(|_| Err(engine_error("loading panicked".to_owned())))
        })
    }
}

async fn load(
    spec: &FunctionSpec,
    path: &Path,
    bytes: &[u8],
    kind: Kind,
) -> Result<Box<dyn Function>, LoadError> {
    let instances = u32::try_from(spec.concurrency.max(1)).unwrap_or(u32::MAX);
    let limits = engine::EngineLimits {
        instances,
        max_memory: spec.memory_limit_bytes(),
    };
    let engine = engine::engine(limits).map_err(|e| engine_error(format!("{e:#}")))?;
    let compiled =
        cache::compile(&engine, path, bytes, kind).map_err(|e| LoadError::ImportFailed {
            module: spec.module.clone(),
            handler: spec.handler.clone(),
            detail: format!("compiling {} failed: {e:#}", path.display()),
        })?;
    let env = guest_env(spec);
    let import_failed = |detail: String| LoadError::ImportFailed {
        module: spec.module.clone(),
        handler: spec.handler.clone(),
        detail,
    };
    let guest = match compiled {
        Compiled::Component(component) => {
            let guest = HttpGuest::link(&engine, &component, env)
                .map_err(|e| import_failed(format!("{e:#}")))?;
            guest
                .check()
                .await
                .map_err(|e| import_failed(format!("instantiating failed: {e:#}")))?;
            Guest::Http(guest)
        }
        Compiled::Module(module) => {
            let abi_error = |e: AbiError| match e {
                AbiError::Handler(detail) => handler_error(spec, detail),
                AbiError::Module(detail) => import_failed(detail),
            };
            let guest = AbiGuest::link(&engine, &module, &spec.handler, context(spec), env)
                .map_err(abi_error)?;
            guest.check(probe()).await.map_err(abi_error)?;
            Guest::Abi(guest)
        }
    };
    let function = WasmFunction::new(guest, spec, instances);
    tracing::info!(
        "{}.{} runs on wasmtime as {} ({instances} instances at once, memory {} each)",
        spec.module,
        spec.handler,
        function.kind_name(),
        limits
            .max_memory
            .map_or("unlimited".to_owned(), |b| format!("≤ {} MiB", b >> 20))
    );
    Ok(Box::new(function))
}

/// The Kubeless environment, for guests that read it (`MOD_NAME`, `FUNC_HANDLER`, …).
fn guest_env(spec: &FunctionSpec) -> Arc<[(String, String)]> {
    [
        ("MOD_NAME", spec.module.clone()),
        ("FUNC_HANDLER", spec.handler.clone()),
        ("FUNC_RUNTIME", spec.runtime.clone()),
        ("FUNC_MEMORY_LIMIT", spec.memory_limit.clone()),
        ("FUNC_TIMEOUT", spec.context().timeout_text()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The ABI's view of the function's one context (text fields, as the ABI hands them over).
fn context(spec: &FunctionSpec) -> Arc<Context> {
    let context = spec.context();
    Arc::new(Context {
        timeout: context.timeout_text(),
        function_name: context.function_name,
        runtime: context.runtime,
        memory_limit: context.memory_limit,
    })
}

/// The load-time check call: an empty GET.
fn probe() -> Invocation {
    Invocation::new(
        ::http::Method::GET,
        ::http::Uri::from_static("/"),
        ::http::HeaderMap::new(),
        bytes::Bytes::new(),
        std::time::Duration::from_secs(10),
    )
}

fn handler_error(spec: &FunctionSpec, detail: String) -> LoadError {
    LoadError::HandlerNotFound {
        module: spec.module.clone(),
        handler: spec.handler.clone(),
        detail,
    }
}

fn engine_error(detail: String) -> LoadError {
    LoadError::Engine {
        engine: "wasmtime",
        detail,
    }
}

/// What a failed guest call means: a trap at the deadline is a timeout; anything else (a
/// trap, a failed import, an instantiation error) is the function's failure, with wasmtime's
/// message and the guest backtrace for the log.
pub(crate) fn guest_error(error: &wasmtime::Error) -> InvokeError {
    if engine::is_interrupt(error) {
        return InvokeError::Timeout(std::time::Duration::ZERO);
    }
    InvokeError::FunctionFailed(format!("{error:#}"))
}
