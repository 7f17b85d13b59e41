//! The Prometheus registry: the three Kubeless function metrics, process metrics and the
//! engine's gauges. Every name is documented in `docs/metrics.md`.
//!
//! Label handles are resolved once at start-up, one per known HTTP method (plus `OTHER`),
//! so recording a call is a few atomic operations, never a string lookup.

use std::time::Duration;

use fnhost_loader_api::{EngineStats, ErrorKind};
use http::Method;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Histogram buckets, as the upstream Python/Go runtimes (client defaults).
pub const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The `method` label values, in index order.
pub const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER",
];

/// Content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The index of a method's pre-resolved label handles.
pub fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

/// Handles for one method.
struct PerMethod {
    calls: IntCounter,
    failures: IntCounter,
    duration: Histogram,
}

/// All metrics of the process.
pub struct Metrics {
    registry: Registry,
    per_method: Vec<PerMethod>,
    errors: IntCounterVec,
    engine: IntGaugeVec,
    enabled: bool,
}

/// Why the registry could not be built (a programming error: names clash).
pub type MetricsError = prometheus::Error;

impl Metrics {
    /// Builds the registry. With `enabled == false` calls are not recorded (for measuring
    /// the cost of metrics); the endpoint still answers.
    pub fn new(enabled: bool, build_labels: &[(&str, &str)]) -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        let calls = IntCounterVec::new(
            Opts::new("function_calls_total", "Number of calls to user function"),
            &["method"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                "function_failures_total",
                "Number of exceptions in user function",
            ),
            &["method"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "function_duration_seconds",
                "Duration of user function in seconds",
            )
            .buckets(BUCKETS.to_vec()),
            &["method"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "fnhost_function_errors_total",
                "Calls that did not return normally, by kind",
            ),
            &["method", "kind"],
        )?;
        let engine = IntGaugeVec::new(
            Opts::new(
                "fnhost_engine_calls",
                "Calls inside the engine now, by state (queued, running) and calls given up (abandoned)",
            ),
            &["state"],
        )?;
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(engine.clone()))?;
        register_build_info(&registry, build_labels)?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let per_method = METHODS
            .iter()
            .map(|m| PerMethod {
                calls: calls.with_label_values(&[m]),
                failures: failures.with_label_values(&[m]),
                duration: duration.with_label_values(&[m]),
            })
            .collect();
        Ok(Metrics {
            registry,
            per_method,
            errors,
            engine,
            enabled,
        })
    }

    /// Records one call of the function: counted if the function was called, a failure if
    /// it raised, timed out or was unavailable.
    pub fn record_call(&self, method: usize, elapsed: Duration, error: Option<ErrorKind>) {
        if !self.enabled {
            return;
        }
        if let Some(kind) = error {
            self.errors
                .with_label_values(&[METHODS[method], kind.label()])
                .inc();
            if !kind.counts_as_call() {
                return;
            }
        }
        let m = &self.per_method[method];
        m.calls.inc();
        m.duration.observe(elapsed.as_secs_f64());
        if error.is_some_and(ErrorKind::counts_as_failure) {
            m.failures.inc();
        }
    }

    /// The text exposition, with the engine's gauges refreshed (`abandoned`: the calls past
    /// their deadline that could not be stopped and still run).
    pub fn render(&self, engine: EngineStats, abandoned: usize) -> Vec<u8> {
        self.engine
            .with_label_values(&["queued"])
            .set(gauge(engine.queued));
        self.engine
            .with_label_values(&["running"])
            .set(gauge(engine.running));
        self.engine
            .with_label_values(&["abandoned"])
            .set(gauge(abandoned));
        let mut out = Vec::with_capacity(8 * 1024);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("cannot encode metrics: {e}");
        }
        out
    }
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn register_build_info(registry: &Registry, labels: &[(&str, &str)]) -> Result<(), MetricsError> {
    let names: Vec<&str> = labels.iter().map(|(k, _)| *k).collect();
    let info = IntGaugeVec::new(
        Opts::new(
            "fnhost_build_info",
            "fnhost version, runtime and loader; always 1",
        ),
        &names,
    )?;
    let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
    info.with_label_values(&values).set(1);
    registry.register(Box::new(info))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &Metrics) -> String {
        String::from_utf8(m.render(EngineStats::default(), 0)).expect("utf-8")
    }

    #[test]
    fn calls_failures_and_rejections_are_counted_apart() {
        let m = Metrics::new(true, &[("version", "test")]).expect("registry");
        m.record_call(method_index(&Method::GET), Duration::from_millis(3), None);
        m.record_call(
            method_index(&Method::POST),
            Duration::from_millis(3),
            Some(ErrorKind::FunctionFailed),
        );
        m.record_call(
            method_index(&Method::POST),
            Duration::from_secs(3),
            Some(ErrorKind::Timeout),
        );
        m.record_call(
            method_index(&Method::POST),
            Duration::ZERO,
            Some(ErrorKind::BadRequest),
        );
        let t = text(&m);
        assert!(t.contains("function_calls_total{method=\"GET\"} 1"), "{t}");
        assert!(t.contains("function_calls_total{method=\"POST\"} 2"), "{t}");
        assert!(
            t.contains("function_failures_total{method=\"POST\"} 2"),
            "{t}"
        );
        assert!(
            t.contains("function_failures_total{method=\"GET\"} 0"),
            "{t}"
        );
        assert!(
            t.contains("function_duration_seconds_bucket{method=\"GET\",le=\"0.005\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("fnhost_function_errors_total{kind=\"bad_request\",method=\"POST\"} 1"),
            "{t}"
        );
    }

    #[test]
    fn disabled_metrics_record_nothing() {
        let m = Metrics::new(false, &[]).expect("registry");
        m.record_call(0, Duration::from_millis(1), None);
        assert!(text(&m).contains("function_calls_total{method=\"GET\"} 0"));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(
            METHODS[method_index(&Method::from_bytes(b"PROPFIND").expect("method"))],
            "OTHER"
        );
        assert_eq!(METHODS[method_index(&Method::DELETE)], "DELETE");
    }
}
