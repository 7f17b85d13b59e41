//! NATS JetStream for `trigger-load`: the ceiling is a durable pull consumer of the benchmark's
//! own stream, acknowledging each message as the dispatcher does, with as many unacknowledged
//! as the dispatcher allows itself (twice its 64 in flight).

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::pull, stream};
use fnhost_local_brokers::{self as brokers, Process};
use futures::StreamExt;

use crate::{Broker, Route, Sample, ceiling_sample, payload, sent_at, trigger_yaml};

/// The ceiling's row.
pub const CEILING: &str = "ceiling: the broker's own pull consumer (acks each message)";
/// Unacknowledged messages the ceiling's consumer may have: the dispatcher's default.
const MAX_ACK_PENDING: i64 = 128;
/// Publishes awaiting their acknowledgement at once.
const PUBLISH_WINDOW: usize = 512;

/// nats-server and a JetStream client.
pub struct NatsBench {
    /// The server.
    pub process: Process,
    url: String,
    js: jetstream::Context,
    ceiling: stream::Stream,
}

impl NatsBench {
    /// Starts nats-server and makes the ceiling's stream.
    pub async fn start(binary: &Path, dir: &Path) -> Result<NatsBench, String> {
        let (process, address) = brokers::start_nats(binary, dir, [127, 0, 0, 1].into())?;
        let url = format!("nats://{address}");
        let client = async_nats::connect(&url)
            .await
            .map_err(|e| format!("connecting to {url}: {e}"))?;
        let js = jetstream::new(client);
        let ceiling = js
            .get_or_create_stream(stream::Config {
                name: "BENCH".to_owned(),
                subjects: vec!["bench.ceiling.>".to_owned()],
                ..Default::default()
            })
            .await
            .map_err(|e| format!("the ceiling's stream: {e}"))?;
        Ok(NatsBench {
            process,
            url,
            js,
            ceiling,
        })
    }
}

impl Broker for NatsBench {
    const TITLE: &'static str = "NATS JetStream (nats-server 2.15.3)";
    const CEILING: &'static str = CEILING;

    fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The dispatcher's environment.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("NATS_URL", self.url.clone())]
    }

    /// A NATSTrigger with the defaults (64 in flight, in order per subject: the benchmark's
    /// one subject is delivered one message at a time), and one with `fnhost.io/order: none`.
    fn routes(&self) -> Vec<Route> {
        let trigger = |name: &str, subject: &str, annotations: &str| {
            trigger_yaml("NATSTrigger", name, subject, annotations)
        };
        vec![
            Route {
                trigger: "bench",
                row: "fnhost-dispatcher → fnhost (defaults: in order per subject, so 1 in flight on one subject)",
                yaml: trigger("bench", "bench.fnhost", ""),
                destination: "bench.fnhost".to_owned(),
            },
            Route {
                trigger: "bench-unordered",
                row: "fnhost-dispatcher → fnhost (fnhost.io/order: none, 64 in flight)",
                yaml: trigger(
                    "bench-unordered",
                    "bench.unordered",
                    ", annotations: {fnhost.io/order: none}",
                ),
                destination: "bench.unordered".to_owned(),
            },
        ]
    }

    /// Publishes `n` messages to `subject`, each acknowledged by JetStream.
    async fn publish(
        &self,
        subject: String,
        n: usize,
        pace: Option<Duration>,
    ) -> Result<(), String> {
        publish(&self.js, subject, n, pace).await
    }

    /// Round `round` of the ceiling: a new consumer reads `n` messages published meanwhile.
    async fn ceiling(
        &self,
        round: usize,
        n: usize,
        pace: Option<Duration>,
    ) -> Result<Sample, String> {
        let subject = format!("bench.ceiling.{round}");
        let consumer = self
            .ceiling
            .create_consumer(pull::Config {
                durable_name: Some(format!("ceiling{round}")),
                filter_subject: subject.clone(),
                ack_policy: AckPolicy::Explicit,
                max_ack_pending: MAX_ACK_PENDING,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("the ceiling's consumer: {e}"))?;
        let broker_cpu = fnhost_benches::procfs::tree_cpu_seconds(self.process.pid());
        let started = Instant::now();
        let publisher = tokio::spawn(publish(&self.js, subject, n, pace));
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| format!("the ceiling's messages: {e}"))?;
        let mut latencies = Vec::with_capacity(n);
        while latencies.len() < n {
            let message = messages
                .next()
                .await
                .ok_or("the ceiling's messages ended")?
                .map_err(|e| format!("the ceiling's messages: {e}"))?;
            let sent = sent_at(&message.payload).ok_or("a message without t")?;
            latencies.push(crate::now_nanos().saturating_sub(sent));
            message.ack().await.map_err(|e| format!("ack: {e}"))?;
        }
        let seconds = started.elapsed().as_secs_f64();
        publisher.await.map_err(|e| e.to_string())??;
        Ok(ceiling_sample(
            latencies,
            seconds,
            self.process.pid(),
            broker_cpu,
        ))
    }
}

fn publish(
    js: &jetstream::Context,
    subject: String,
    n: usize,
    pace: Option<Duration>,
) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
    let js = js.clone();
    async move {
        let mut pending = VecDeque::with_capacity(PUBLISH_WINDOW);
        let started = tokio::time::Instant::now();
        for i in 0..n {
            if let Some(pace) = pace {
                tokio::time::sleep_until(started + pace * u32::try_from(i).unwrap_or(u32::MAX))
                    .await;
            }
            let ack = js
                .publish(subject.clone(), payload().into())
                .await
                .map_err(|e| format!("publishing to {subject}: {e}"))?;
            pending.push_back(ack);
            if pending.len() >= PUBLISH_WINDOW
                && let Some(ack) = pending.pop_front()
            {
                ack.await
                    .map_err(|e| format!("{subject}: not stored: {e}"))?;
            }
        }
        for ack in pending {
            ack.await
                .map_err(|e| format!("{subject}: not stored: {e}"))?;
        }
        Ok(())
    }
}
