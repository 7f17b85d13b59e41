//! One (trigger, function) pair: a durable pull consumer on the trigger's subject, its
//! messages delivered in order per subject with up to `max_in_flight` at once, each
//! acknowledged only after the function's 2xx or after its dead letter is stored. While a
//! message is being delivered (retries included) the consumer is told it is in progress, so
//! JetStream does not hand it out again.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, AckKind};
use bytes::Bytes;
use fnhost_delivery::deliver::{Final, Pair};
use fnhost_delivery::event::Message;
use fnhost_delivery::lanes::{Lanes, Order};
use futures::StreamExt;
use tokio::task::JoinSet;

use crate::NatsError;
use crate::streams::Streams;

/// How long JetStream waits for an acknowledgement before delivering a message again.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// How often a message being delivered is reported in progress (well within `ACK_WAIT`).
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// At most this many messages are handed out and not yet acknowledged, per pair: what waits
/// in the lanes, and what a killed dispatcher leaves to JetStream's `ACK_WAIT` before it is
/// delivered again. Twice `max_in_flight`, at least 64.
fn max_ack_pending(max_in_flight: usize) -> i64 {
    i64::try_from(max_in_flight.saturating_mul(2).max(64)).unwrap_or(i64::MAX)
}
/// How often the consumer's lag is read.
const LAG_EVERY: Duration = Duration::from_secs(5);
/// Message-stream errors in a row after which the pair is restarted.
const MAX_STREAM_ERRORS: u32 = 10;

/// One NATS pair, as the dispatcher configured it.
#[derive(Clone)]
pub struct NatsPair {
    /// The trigger's subject.
    pub subject: String,
    /// The durable consumer's name ([`durable_name`]).
    pub durable: String,
    /// Where messages that used up their attempts go, if anywhere.
    pub dead_letter: Option<String>,
    /// Messages in flight at once.
    pub max_in_flight: usize,
    /// In order per subject, or not at all.
    pub order: Order,
    /// Where and how to deliver.
    pub pair: Pair,
}

/// The durable consumer name of a pair: upstream's queue group `<ns>_<trigger>_<function>`
/// with the characters JetStream refuses in names (`.`, `*`, `>`, whitespace) made `_`.
pub fn durable_name(namespace: &str, trigger: &str, function: &str) -> String {
    format!("{namespace}_{trigger}_{function}")
        .chars()
        .map(|c| {
            if c == '.' || c == '*' || c == '>' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Makes sure the subjects are captured and the durable consumer exists (created, or updated
/// to the trigger's subject). Messages published from now on are delivered.
pub async fn prepare(
    js: &jetstream::Context,
    streams: &Streams,
    pair: &NatsPair,
) -> Result<PullConsumer, NatsError> {
    if let Some(dead_letter) = &pair.dead_letter {
        streams.capture(js, dead_letter).await?;
    }
    let stream_name = streams.capture(js, &pair.subject).await?;
    let stream = js
        .get_stream(&stream_name)
        .await
        .map_err(NatsError::jetstream)?;
    let config = PullConfig {
        durable_name: Some(pair.durable.clone()),
        description: Some(format!("fnhost-dispatcher: {}", pair.pair.name)),
        filter_subject: pair.subject.clone(),
        deliver_policy: DeliverPolicy::New,
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        max_deliver: -1,
        max_ack_pending: max_ack_pending(pair.max_in_flight),
        ..PullConfig::default()
    };
    match stream.get_consumer::<PullConfig>(&pair.durable).await {
        Ok(existing) if existing.cached_info().config.filter_subject == pair.subject => {
            Ok(existing)
        }
        _ => stream
            .create_consumer(config)
            .await
            .map_err(NatsError::jetstream),
    }
}

/// Delivers the consumer's messages until an error; dropping the future stops the pair (what
/// was in flight is delivered again by JetStream).
pub async fn serve(
    js: jetstream::Context,
    mut consumer: PullConsumer,
    pair: NatsPair,
) -> Result<(), NatsError> {
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(usize::try_from(max_ack_pending(pair.max_in_flight)).unwrap_or(64))
        // Short pulls: a killed dispatcher's pending pull stops taking messages within 5 s.
        .heartbeat(Duration::from_secs(2))
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .map_err(|e| NatsError::Messages(e.to_string()))?;
    // Shared by every delivery task: one reference count per message, not a copy of the pair.
    let pair = std::sync::Arc::new(pair);
    let mut lanes: Lanes<String, jetstream::Message> = Lanes::new(pair.max_in_flight);
    let mut running: JoinSet<String> = JoinSet::new();
    let mut lag = tokio::time::interval(LAG_EVERY);
    let room = usize::try_from(max_ack_pending(pair.max_in_flight)).unwrap_or(64);
    let mut errors = 0u32;
    loop {
        tokio::select! {
            next = messages.next(), if lanes.running() + lanes.waiting() < room => match next {
                Some(Ok(message)) => {
                    errors = 0;
                    let key = lane_key(&message, pair.order);
                    if let Some(message) = lanes.push(key.clone(), message) {
                        running.spawn(deliver_one(js.clone(), pair.clone(), key, message));
                    }
                }
                Some(Err(e)) => {
                    errors += 1;
                    tracing::warn!(pair = %pair.pair.name, "NATS consumer: {e}");
                    if errors >= MAX_STREAM_ERRORS {
                        return Err(NatsError::Messages(e.to_string()));
                    }
                }
                None => return Err(NatsError::Messages("the message stream ended".into())),
            },
            Some(done) = running.join_next() => {
                let key = done.map_err(|e| NatsError::Messages(format!("a delivery task failed: {e}")))?;
                for (key, message) in lanes.finish(&key) {
                    running.spawn(deliver_one(js.clone(), pair.clone(), key, message));
                }
            }
            _ = lag.tick() => {
                if let Ok(info) = consumer.info().await {
                    let behind = info.num_pending.saturating_add(info.num_ack_pending as u64);
                    pair.pair.metrics.set_lag(i64::try_from(behind).unwrap_or(i64::MAX));
                }
            }
        }
    }
}

/// The message's lane: its subject, or (without order) its own stream sequence.
fn lane_key(message: &jetstream::Message, order: Order) -> String {
    // The reply subject is parsed only when there is no order to keep.
    if order == Order::None
        && let Ok(info) = message.info()
    {
        return info.stream_sequence.to_string();
    }
    message.subject.to_string()
}

/// Delivers one message, reporting progress meanwhile, then acknowledges it. Returns its key.
async fn deliver_one(
    js: jetstream::Context,
    pair: std::sync::Arc<NatsPair>,
    key: String,
    message: jetstream::Message,
) -> String {
    let event = to_event(&message);
    let outcome = in_progress(&message, pair.pair.deliver(&event)).await;
    if let Final::DeadLetter { failed, last } = outcome {
        let Some(subject) = pair.dead_letter.as_deref() else {
            return key; // unreachable: the policy dead-letters only when a subject is named
        };
        let stored = in_progress(
            &message,
            store_dead_letter(&js, subject, &message, failed, &last.to_string()),
        )
        .await;
        tracing::warn!(pair = %pair.pair.name, id = %event.id, dead_letter = subject,
            "{last}: after {failed} failed attempts, stored as a dead letter ({stored} tries)");
        pair.pair.metrics.dead_lettered();
    }
    if let Err(e) = message.ack().await {
        tracing::warn!(pair = %pair.pair.name, id = %event.id,
            "acknowledging failed ({e}): JetStream will deliver it again");
    }
    key
}

/// Runs `work` while telling JetStream, every [`PROGRESS_EVERY`], that `message` is in
/// progress.
async fn in_progress<T>(message: &jetstream::Message, work: impl Future<Output = T>) -> T {
    tokio::pin!(work);
    let mut progress =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = progress.tick() => {
                let _ = message.ack_with(AckKind::Progress).await;
            }
        }
    }
}

/// Publishes the message to the dead-letter subject until JetStream has stored it, with the
/// original subject, the last failure and the attempt count as headers. Returns the tries.
async fn store_dead_letter(
    js: &jetstream::Context,
    subject: &str,
    message: &jetstream::Message,
    failed: u32,
    failure: &str,
) -> u32 {
    let mut headers = message.headers.clone().unwrap_or_default();
    headers.insert("Fnhost-Original-Subject", message.subject.as_str());
    headers.insert("Fnhost-Failure", failure);
    headers.insert("Fnhost-Attempts", failed.to_string());
    let mut tries = 0;
    loop {
        tries += 1;
        let sent = js
            .publish_with_headers(subject.to_owned(), headers.clone(), message.payload.clone())
            .await;
        let stored = match sent {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match stored {
            Ok(()) => return tries,
            Err(e) => {
                tracing::warn!(subject, "storing a dead letter failed ({e}); trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The delivery's view of a JetStream message: `event-id` `<stream>-<sequence>`, the time the
/// stream stored it, and its `Content-Type` header if it has one.
fn to_event(message: &jetstream::Message) -> Message {
    let (id, time) = match message.info() {
        Ok(info) => (
            format!("{}-{}", info.stream, info.stream_sequence),
            jiff::Timestamp::from_nanosecond(info.published.unix_timestamp_nanos())
                .unwrap_or_else(|_| jiff::Timestamp::now()),
        ),
        Err(_) => (String::new(), jiff::Timestamp::now()),
    };
    let content_type = message
        .headers
        .as_ref()
        .and_then(|h| h.get("Content-Type"))
        .map(|v| v.as_str().to_owned());
    Message {
        id,
        body: Bytes::clone(&message.payload),
        content_type,
        time,
        extra_headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::durable_name;

    #[test]
    fn durable_names_are_valid_jetstream_names() {
        assert_eq!(
            durable_name("default", "orders.eu", "hello"),
            "default_orders_eu_hello"
        );
        assert_eq!(durable_name("ns", "t", "f"), "ns_t_f");
    }
}
