//! [`ProcessFunction`]: calls through a pool of worker processes.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fnhost_loader_api::{
    Call, EngineStats, Function, FunctionSpec, Invocation, InvokeError, LoadError, Response, Stop,
    Stopped,
};

use crate::pool::{Lease, Pool};
use crate::protocol::{CallHeader, EventHeader, Frame, ResultHeader};
use crate::worker::{WorkerCommand, WorkerGone};

/// A function served by worker processes.
pub struct ProcessFunction {
    pool: Arc<Pool>,
    timeout: Duration,
    description: String,
}

impl ProcessFunction {
    /// Starts `slots` workers with `command`; the first one's failure is the load error.
    pub async fn start(
        spec: &FunctionSpec,
        command: WorkerCommand,
        slots: usize,
    ) -> Result<ProcessFunction, LoadError> {
        let pool = Pool::start(command, slots)
            .await
            .map_err(|e| LoadError::ImportFailed {
                module: spec.module.clone(),
                handler: spec.handler.clone(),
                detail: e.to_string(),
            })?;
        let description = format!("{} worker process(es)", pool.size());
        Ok(ProcessFunction {
            pool,
            timeout: spec.timeout,
            description,
        })
    }
}

/// Starts `spec.workers`-style worker processes from a synchronous [`fnhost_loader_api::Loader::load`]:
/// blocks on the tokio runtime the proxy has entered (the workers' tasks live there).
pub fn start_blocking(
    engine: &'static str,
    spec: &FunctionSpec,
    command: WorkerCommand,
    workers: usize,
) -> Result<Box<dyn Function>, LoadError> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| LoadError::Engine {
        engine,
        detail: "worker processes need the tokio runtime".to_owned(),
    })?;
    let function = handle.block_on(ProcessFunction::start(spec, command, workers))?;
    Ok(Box::new(function))
}

impl Function for ProcessFunction {
    fn invoke(&self, invocation: Invocation) -> Call {
        let (pool, timeout) = (self.pool.clone(), self.timeout);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let answer = async move { call(&pool, timeout, invocation, stopped).await };
        // Stopping kills the call's worker (a fresh one takes its seat): the call is over.
        let stop = Stop::new(move || {
            let _ = stop.send(());
            Box::pin(std::future::ready(Stopped::InPlace))
        });
        Call::new(Box::pin(answer), stop)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    fn healthy(&self) -> bool {
        self.pool.live() > 0
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            queued: self.pool.queued.load(Ordering::Relaxed),
            running: self.pool.running.load(Ordering::Relaxed),
        }
    }
}

/// One call: a slot of a live worker, the CALL, the RESULT; `stopped` ends it at the
/// deadline (or when the proxy drops the call), killing the worker.
async fn call(
    pool: &Arc<Pool>,
    timeout: Duration,
    invocation: Invocation,
    stopped: tokio::sync::oneshot::Receiver<()>,
) -> Result<Response, InvokeError> {
    let deadline = invocation.deadline;
    let Some(lease) = pool.acquire(deadline).await else {
        return Err(if Instant::now() >= deadline {
            InvokeError::Timeout(timeout)
        } else {
            InvokeError::Unavailable("no worker process is available".to_owned())
        });
    };
    if !invocation.start.begin() {
        pool.release(lease);
        return Err(InvokeError::ClientGone);
    }
    let header = call_header(&invocation, deadline);
    let body = invocation.body;
    let pool = pool.clone();
    // The exchange runs in its own task, so that the slot comes back (when the worker answers,
    // or is replaced when the call is stopped) even after the proxy stops waiting for it.
    let exchange = tokio::spawn(async move {
        let outcome = tokio::select! {
            biased;
            outcome = lease.worker.call(&header, &body) => Some(outcome),
            _ = stopped => None,
        };
        finish(&pool, lease, outcome, timeout)
    });
    exchange.await.unwrap_or_else(|e| {
        Err(InvokeError::FunctionFailed(format!(
            "the call to the worker failed: {e}"
        )))
    })
}

/// What the call ended with; `None` when it was stopped before the worker answered.
fn finish(
    pool: &Arc<Pool>,
    lease: Lease,
    outcome: Option<Result<Frame, WorkerGone>>,
    timeout: Duration,
) -> Result<Response, InvokeError> {
    match outcome {
        None => {
            pool.replace(lease, "a call timed out");
            Err(InvokeError::Timeout(timeout))
        }
        Some(Err(gone)) => {
            let why = if gone.out_of_memory {
                "it went over the memory limit"
            } else {
                "it crashed"
            };
            pool.replace(lease, why);
            Err(InvokeError::Crashed {
                detail: format!("the worker process died during the call: {}", gone.reason),
                out_of_memory: gone.out_of_memory,
            })
        }
        Some(Ok(frame)) => {
            pool.release(lease);
            response(frame)
        }
    }
}

/// The CALL header, borrowing every string from the request.
fn call_header(invocation: &Invocation, deadline: Instant) -> Vec<u8> {
    let headers = invocation
        .headers
        .iter()
        .map(|(k, v)| {
            (
                Cow::Borrowed(k.as_str()),
                String::from_utf8_lossy(v.as_bytes()),
            )
        })
        .collect();
    let meta = &invocation.event;
    let header = CallHeader {
        method: Cow::Borrowed(invocation.method.as_str()),
        path: Cow::Borrowed(invocation.uri.path()),
        query: Cow::Borrowed(invocation.uri.query().unwrap_or("")),
        headers,
        event: EventHeader {
            id: borrowed(&meta.id),
            event_type: borrowed(&meta.event_type),
            time: borrowed(&meta.time),
            namespace: borrowed(&meta.namespace),
        },
        data: Cow::Borrowed(invocation.data.as_str()),
        timeout_ms: u64::try_from(
            deadline
                .saturating_duration_since(Instant::now())
                .as_millis(),
        )
        .unwrap_or(u64::MAX),
    };
    serde_json::to_vec(&header).unwrap_or_default()
}

fn borrowed(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(Cow::Borrowed)
}

fn response(frame: Frame) -> Result<Response, InvokeError> {
    let header: ResultHeader = serde_json::from_slice(&frame.header).map_err(|e| {
        InvokeError::BadReturn(format!("the worker sent an unreadable RESULT header: {e}"))
    })?;
    if let Some(error) = header.error {
        return Err(InvokeError::FunctionFailed(error));
    }
    Response::from_parts(
        header.status.unwrap_or(200),
        header.headers,
        Bytes::from(frame.body),
    )
}
