//! `fnhost`: the in-pod HTTP proxy that serves one Kubeless function, and the local runner.
//!
//! `main.rs` only parses the command line, installs signal handlers and calls [`run`]; all
//! behaviour lives here so tests and benchmarks can drive it.
//!
//! # Layout
//!
//! - [`cli`]: the command line (`fnhost`, `fnhost run FILE`, `fnhost catalogue`).
//! - [`loading`]: runtime resolution and loader selection; [`stage`], [`deps`], [`compile`]:
//!   the local runner's function folder, dependency install and compile phase.
//! - [`server`]: the accept loop, connection limits, graceful shutdown.
//! - [`service`]: the request path (routes, invocation, metrics, access log).
//! - [`body`]: reading a request body (its limit, its time, memory in proportion to it).
//! - [`deadline`]: every call's deadline: the race, the 408, the calls that could not be
//!   stopped.
//! - [`respond`]: the one place that maps failures to HTTP statuses.
//! - [`metrics`], [`access_log`]: what each request records.
//! - [`supervise`]: fnhost as the parent of its serving process, which it replaces when a
//!   function crashes it (`FNHOST_SUPERVISE`).

pub mod access_log;
pub mod body;
pub mod cli;
pub mod compile;
pub mod deadline;
pub mod deps;
pub mod loading;
pub mod metrics;
pub mod respond;
pub mod server;
pub mod service;
pub mod stage;
pub mod supervise;

use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;

use fnhost_runtime_config::Settings;

use crate::access_log::AccessLog;
use crate::loading::{PrepareError, Prepared};
use crate::server::{Drained, ServerLimits};
use crate::service::{App, AppParts};

/// Exit code for invalid configuration (`EX_USAGE`).
pub const EXIT_CONFIG: u8 = 64;
/// Exit code for a function that cannot be loaded or served.
pub const EXIT_INIT: u8 = 1;
/// Exit code when `SHUTDOWN_TIMEOUT` ran out with calls still running (`EX_TEMPFAIL`): they
/// were cut, and a supervisor should know.
pub const EXIT_CALLS_CUT: u8 = 75;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The function could not be prepared.
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Another start-up step failed (metrics registry, threads, runtime).
    #[error("cannot start: {0}")]
    Internal(String),
}

impl StartError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Prepare(PrepareError::Runtime(_)) => EXIT_CONFIG,
            _ => EXIT_INIT,
        }
    }
}

/// Loads the function (blocking: imports, installs) and serves it until the future made by
/// `shutdown` resolves. `shutdown` gets the bound address and runs inside the runtime before
/// readiness is announced, so whatever it installs (signal handlers, the link to a
/// supervisor) is in place when clients and supervisors are told.
///
/// The function is loaded before the port is bound, so the server is ready as soon as it
/// accepts connections. Readiness is announced on stdout as one machine-readable line:
/// `fnhost: listening http=<address>`.
pub fn run<F: Future<Output = ()> + Send>(
    settings: &Settings,
    shutdown: impl FnOnce(std::net::SocketAddr) -> F,
) -> Result<Drained, StartError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fnhost-io")
        .build()
        .map_err(|e| StartError::Internal(format!("tokio runtime: {e}")))?;
    // Loaders may start background tasks (worker processes), so they load inside the runtime.
    let prepared = {
        let _entered = runtime.enter();
        loading::prepare(settings)?
    };
    let app = Arc::new(build_app(settings, prepared)?);
    let drained = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(settings.server.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: settings.server.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Internal(e.to_string()))?;
        let shutdown = shutdown(addr);
        announce(addr);
        Ok::<_, StartError>(server::run(listener, app.clone(), limits(settings), shutdown).await)
    })?;
    app.access_log().close();
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(drained)
}

fn build_app(settings: &Settings, prepared: Prepared) -> Result<App, StartError> {
    let f = &settings.function;
    let function_name = format!("{}.{}", f.module, f.handler);
    tracing::info!("function ready: {}", prepared.function.describe());
    let metrics = metrics::Metrics::new(
        settings.server.metrics,
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("runtime", &prepared.runtime),
            ("loader", prepared.loader),
        ],
    )
    .map_err(|e| StartError::Internal(format!("metrics registry: {e}")))?;
    let access_log = AccessLog::start(settings.server.access_log)
        .map_err(|e| StartError::Internal(format!("access log thread: {e}")))?;
    Ok(App::new(AppParts {
        function: prepared.function,
        function_name,
        metrics,
        access_log,
        timeout: f.timeout,
        body_limits: body::BodyLimits {
            max_bytes: settings.server.max_body_bytes,
            timeout: settings.server.body_read_timeout,
            min_rate: settings.server.min_body_rate,
        },
        tolerated_abandoned: settings.concurrency,
    }))
}

fn limits(settings: &Settings) -> ServerLimits {
    ServerLimits {
        header_read_timeout: settings.server.header_read_timeout,
        max_header_bytes: settings.server.max_header_bytes,
        max_headers: settings.server.max_headers,
        max_connections: settings.server.max_connections,
        shutdown_timeout: settings.server.shutdown_timeout,
        shutdown_delay: settings.server.shutdown_delay,
    }
}

fn announce(addr: std::net::SocketAddr) {
    tracing::info!("listening on http://{addr}");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "fnhost: listening http={addr}").and_then(|()| out.flush());
}

/// The compile phase of compiled runtimes (`fnhost build go|java|dotnet`): builds the
/// function in `dir`. Go needs the handler (it is compiled into the worker).
pub fn build_function(
    language: &str,
    dir: &std::path::Path,
    handler: Option<&str>,
) -> Result<std::path::PathBuf, String> {
    match language {
        #[cfg(feature = "go")]
        "go" => {
            let handler =
                handler.ok_or("fnhost build go needs --handler (the Go function name)")?;
            fnhost_loader_process::golang::build(dir, handler).map_err(|e| e.to_string())
        }
        #[cfg(feature = "java")]
        "java" => fnhost_loader_process::java::build(dir).map_err(|e| e.to_string()),
        #[cfg(feature = "dotnet")]
        "dotnet" => fnhost_loader_process::dotnet::build(dir).map_err(|e| e.to_string()),
        other => {
            let _ = (dir, handler);
            Err(format!(
                "this build of fnhost cannot build {other:?} functions"
            ))
        }
    }
}

/// Runs a worker process of `FNHOST_ISOLATION=process` for `loader` (the hidden `fnhost
/// worker` command): serves calls from the parent fnhost until it closes the socket.
pub fn run_worker(
    loader: &str,
    spec: &fnhost_loader_api::FunctionSpec,
    socket: &std::path::Path,
) -> Result<(), String> {
    match loader {
        #[cfg(feature = "native")]
        "native" => fnhost_loader_native::worker::serve(spec, socket),
        #[cfg(feature = "python")]
        "python" => fnhost_loader_python::worker::serve(spec, socket),
        other => {
            let _ = (spec, socket);
            Err(format!("this build of fnhost has no {other:?} worker"))
        }
    }
}

/// Where Kubernetes reads a container's last words (the default `terminationMessagePath`).
pub const TERMINATION_LOG: &str = "/dev/termination-log";

/// Writes a start-up failure where Kubernetes reads it ([`TERMINATION_LOG`]), if that file
/// exists and is writable; it is never created.
pub fn write_termination_log(message: &str) {
    write_termination_message(std::path::Path::new(TERMINATION_LOG), message);
}

/// Writes `message` to `path` if the file exists and is writable; `false` otherwise.
pub fn write_termination_message(path: &std::path::Path, message: &str) -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut file| file.write_all(message.as_bytes()))
        .is_ok()
}

#[cfg(test)]
mod termination_tests {
    use super::write_termination_message;

    #[test]
    fn writes_an_existing_file_and_never_creates_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let existing = dir.path().join("termination-log");
        std::fs::write(&existing, "old and longer text").expect("create");
        assert!(write_termination_message(
            &existing,
            "cannot load function hello.foo"
        ));
        assert_eq!(
            std::fs::read_to_string(&existing).expect("read"),
            "cannot load function hello.foo"
        );

        let absent = dir.path().join("absent");
        assert!(!write_termination_message(&absent, "x"));
        assert!(!absent.exists());
    }
}
