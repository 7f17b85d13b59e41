//! The dispatcher's counters (`docs/design/004-message-triggers.md`, Metrics): messages by
//! outcome, lag and delivery latency, labelled by trigger kind, namespace, trigger and function.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::event::Source;

const LABELS: [&str; 4] = ["kind", "namespace", "trigger", "function"];

/// Every pair's counters, in one registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    messages: IntCounterVec,
    lag: IntGaugeVec,
    latency: HistogramVec,
}

/// Who a pair is, for labels.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PairId {
    /// The trigger kind.
    pub source: Source,
    /// The trigger's namespace.
    pub namespace: String,
    /// The trigger's name.
    pub trigger: String,
    /// The function's name.
    pub function: String,
}

/// One pair's counters, resolved once.
#[derive(Clone)]
pub struct PairMetrics {
    delivered: IntCounter,
    retried: IntCounter,
    throttled: IntCounter,
    dead_lettered: IntCounter,
    lag: IntGauge,
    latency: Histogram,
}

impl Metrics {
    /// An empty registry with the dispatcher's metrics.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let messages = IntCounterVec::new(
            Opts::new(
                "fnhost_trigger_messages_total",
                "Messages by outcome: delivered (2xx), retried (a failed attempt), throttled (429/503), dead_lettered.",
            ),
            &[LABELS[0], LABELS[1], LABELS[2], LABELS[3], "outcome"],
        )?;
        let lag = IntGaugeVec::new(
            Opts::new(
                "fnhost_trigger_lag",
                "Messages not yet delivered (Kafka: end offset minus committed; NATS: pending in the consumer; Kinesis: milliseconds behind the stream's tip).",
            ),
            &LABELS,
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "fnhost_trigger_delivery_seconds",
                "From the broker receiving a message to the function's 2xx.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0,
            ]),
            &LABELS,
        )?;
        registry.register(Box::new(messages.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics {
            registry,
            messages,
            lag,
            latency,
        })
    }

    /// The counters of one pair.
    pub fn pair(&self, id: &PairId) -> PairMetrics {
        let labels = [
            id.source.kind(),
            id.namespace.as_str(),
            id.trigger.as_str(),
            id.function.as_str(),
        ];
        let outcome = |o: &str| {
            self.messages
                .with_label_values(&[labels[0], labels[1], labels[2], labels[3], o])
        };
        PairMetrics {
            delivered: outcome("delivered"),
            retried: outcome("retried"),
            throttled: outcome("throttled"),
            dead_lettered: outcome("dead_lettered"),
            lag: self.lag.with_label_values(&labels),
            latency: self.latency.with_label_values(&labels),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics; an error leaves it partial.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl PairMetrics {
    /// A 2xx; `published` is when the broker received the message.
    pub fn delivered(&self, published: jiff::Timestamp) {
        self.delivered.inc();
        let elapsed = jiff::Timestamp::now().duration_since(published);
        self.latency.observe(elapsed.as_secs_f64().max(0.0));
    }

    /// A failed attempt.
    pub fn retried(&self) {
        self.retried.inc();
    }

    /// A 429 or 503.
    pub fn throttled(&self) {
        self.throttled.inc();
    }

    /// A message written to the dead-letter destination.
    pub fn dead_lettered(&self) {
        self.dead_lettered.inc();
    }

    /// The pair's lag, in the broker's unit.
    pub fn set_lag(&self, lag: i64) {
        self.lag.set(lag);
    }

    /// Delivered so far.
    pub fn delivered_count(&self) -> u64 {
        self.delivered.get()
    }

    /// Failed attempts so far.
    pub fn retried_count(&self) -> u64 {
        self.retried.get()
    }

    /// Throttled attempts so far.
    pub fn throttled_count(&self) -> u64 {
        self.throttled.get()
    }

    /// Dead-lettered so far.
    pub fn dead_lettered_count(&self) -> u64 {
        self.dead_lettered.get()
    }
}
