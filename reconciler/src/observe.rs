//! What the reconciler tells people: Kubernetes Events on the objects it works on (what
//! `kubectl describe function` shows), Prometheus counters, and its own `/metrics` and
//! `/healthz` endpoint.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};

/// The reconciler's counters.
pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
}

impl Metrics {
    /// A fresh registry with the reconciler's families.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new(
                "fnhost_reconciler_reconciles_total",
                "Reconciles by object kind and outcome",
            ),
            &["kind", "outcome"],
        )?;
        registry.register(Box::new(reconciles.clone()))?;
        Ok(Metrics {
            registry,
            reconciles,
        })
    }

    /// Counts one reconcile: `outcome` is `applied`, `invalid`, `deleted`, `waiting` or `error`.
    pub fn reconciled(&self, kind: &str, outcome: &str) {
        self.reconciles.with_label_values(&[kind, outcome]).inc();
    }

    /// The count so far, for tests and logs.
    pub fn count(&self, kind: &str, outcome: &str) -> u64 {
        self.reconciles.with_label_values(&[kind, outcome]).get()
    }

    /// The text exposition.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("cannot encode metrics: {e}");
        }
        out
    }
}

/// Publishes Events as `fnhost-reconciler`; a failure to publish is logged, never fatal.
pub struct Events {
    recorder: Recorder,
}

impl Events {
    /// A recorder for `client`.
    pub fn new(client: Client) -> Events {
        Events {
            recorder: Recorder::new(client, Reporter::from("fnhost-reconciler")),
        }
    }

    /// A `Normal` (or `Warning` when `warning`) event on `object`.
    pub async fn publish(
        &self,
        object: &k8s_openapi::api::core::v1::ObjectReference,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_owned(),
            note: Some(note.chars().take(1000).collect()),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, object).await {
            tracing::warn!(reason, "cannot publish an event: {e}");
        }
    }
}

/// Serves `GET /metrics` and `GET /healthz` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(respond(&request, &metrics)) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(request: &Request<hyper::body::Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match request.uri().path() {
        "/healthz" => (StatusCode::OK, "text/plain", Bytes::from_static(b"OK")),
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            Bytes::from(metrics.render()),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            Bytes::from_static(b"Not Found"),
        ),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

/// Binds the observability endpoint.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_rendered_with_labels() {
        let m = Metrics::new().expect("registry");
        m.reconciled("Function", "applied");
        m.reconciled("Function", "applied");
        m.reconciled("CronJobTrigger", "invalid");
        let text = String::from_utf8(m.render()).expect("utf-8");
        assert!(
            text.contains(
                r#"fnhost_reconciler_reconciles_total{kind="Function",outcome="applied"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"fnhost_reconciler_reconciles_total{kind="CronJobTrigger",outcome="invalid"} 1"#
            ),
            "{text}"
        );
        assert_eq!(m.count("Function", "applied"), 2);
    }
}

/// Per-object retry delays: 5 s after the first failure, doubling up to 5 minutes, forgotten
/// after a success.
#[derive(Default)]
pub struct Backoff {
    failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl Backoff {
    /// The first delay.
    pub const FIRST: std::time::Duration = std::time::Duration::from_secs(5);
    /// The longest delay.
    pub const MAX: std::time::Duration = std::time::Duration::from_secs(300);

    /// Records a failure of `key` and returns how long to wait before the next attempt.
    pub fn failed(&self, key: &str) -> std::time::Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = failures.entry(key.to_owned()).or_insert(0);
        let delay = Self::FIRST
            .saturating_mul(2u32.saturating_pow(*count))
            .min(Self::MAX);
        *count = count.saturating_add(1);
        delay
    }

    /// Forgets the failures of `key`.
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn delays_double_up_to_the_cap_and_reset_on_success() {
        let b = Backoff::default();
        let delays: Vec<Duration> = (0..9).map(|_| b.failed("ns/f")).collect();
        assert_eq!(delays[..4], [5, 10, 20, 40].map(Duration::from_secs));
        assert_eq!(delays[8], Backoff::MAX);
        assert_eq!(b.failed("ns/other"), Backoff::FIRST, "per object");
        b.succeeded("ns/f");
        assert_eq!(b.failed("ns/f"), Backoff::FIRST);
    }
}
