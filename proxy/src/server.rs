//! The accept loop and graceful shutdown, in the shape of mini-redis `server::run`: it takes
//! an already bound listener and a shutdown future.
//!
//! Slow or hostile clients cannot stall the server: each connection is its own task, the
//! request head must arrive within `header_read_timeout` and fit in `max_header_bytes` and
//! `max_headers` (else 431), its body is read under [`crate::body`]'s limits, and at most `max_connections` are open at once (more wait in the kernel's
//! accept queue).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::service::App;

/// hyper's own header count limit (a stack array of this many).
const HYPER_MAX_HEADERS: usize = 100;

/// Connection limits and timeouts.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Time allowed to send the request head.
    pub header_read_timeout: Duration,
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Most header fields in a request.
    pub max_headers: usize,
    /// Most open connections.
    pub max_connections: usize,
    /// Grace period for in-flight requests after shutdown starts.
    pub shutdown_timeout: Duration,
    /// Serving on after the shutdown signal, each connection closed after its response.
    pub shutdown_delay: Duration,
}

/// How a server run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every in-flight request finished.
    Clean,
    /// The grace period ran out with requests still in flight.
    TimedOut {
        /// Connections open when shutdown began.
        open: usize,
        /// Function calls still running then: they are cut.
        calls: usize,
    },
}

/// Serves until `shutdown` resolves, serves on for `limits.shutdown_delay` with the app
/// draining (every connection closed after its response), then stops accepting and lets
/// in-flight requests finish for up to `limits.shutdown_timeout`.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> Drained {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192) + 8192)
        .max_header_size(limits.max_header_bytes);
    if limits.max_headers != HYPER_MAX_HEADERS {
        // hyper parses up to 100 headers in a stack array; any other number costs a heap
        // array per request, so it is set only when asked for.
        http.max_headers(limits.max_headers);
    }
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let stop_accepting = async {
        shutdown.await;
        app.start_draining();
        if !limits.shutdown_delay.is_zero() {
            tracing::info!(
                delay = ?limits.shutdown_delay,
                "shutdown signal: serving on while the endpoints update, closing connections after each response"
            );
            tokio::time::sleep(limits.shutdown_delay).await;
        }
    };
    tokio::pin!(stop_accepting);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut stop_accepting => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: log, back off a little, go on.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop_accepting => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |request| app.clone().handle(request, peer));
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(
        open,
        "shutting down: no longer accepting, waiting for in-flight requests"
    );
    tokio::select! {
        () = graceful.shutdown() => Drained::Clean,
        () = tokio::time::sleep(limits.shutdown_timeout) => Drained::TimedOut {
            open,
            calls: app.calls_in_flight(),
        },
    }
}
