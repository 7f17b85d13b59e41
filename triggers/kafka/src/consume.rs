//! One (trigger, function) pair: a consumer in the group `<ns>_<trigger>_<function>_<topic>`
//! (upstream's), its messages delivered in order per partition and key with up to
//! `max_in_flight` at once, offsets stored for librdkafka's commit only up to the first message
//! not yet done. A message that used up its attempts is produced to the dead-letter topic
//! before its offset counts as done.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fnhost_delivery::deliver::{Final, Pair};
use fnhost_delivery::event::Message as Event;
use fnhost_delivery::lanes::{Lanes, Order};
use fnhost_delivery::watermark::Watermark;
use futures::StreamExt;
use http::header::{HeaderName, HeaderValue};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::task::JoinSet;

use crate::{Connection, KafkaError};

/// Messages held (running or waiting for their lane) before the pair stops reading.
const ROOM: usize = 1024;
/// How often the group's lag is read.
const LAG_EVERY: Duration = Duration::from_secs(5);
/// How often a run of consumer errors is logged (librdkafka reports every broker connection
/// it loses, and recovers by itself).
const ERROR_LOG_EVERY: u64 = 20;

/// One Kafka pair, as the dispatcher configured it.
#[derive(Clone)]
pub struct KafkaPair {
    /// Where Kafka is and how to reach it.
    pub connection: Connection,
    /// The trigger's topic.
    pub topic: String,
    /// The consumer group ([`group_name`]).
    pub group: String,
    /// Where messages that used up their attempts go, if anywhere.
    pub dead_letter: Option<String>,
    /// Messages in flight at once.
    pub max_in_flight: usize,
    /// In order per partition and key, or not at all.
    pub order: Order,
    /// Where and how to deliver.
    pub pair: Pair,
}

/// Upstream's consumer group of a pair: `<namespace>_<trigger>_<function>_<topic>`, so a cluster
/// moving from Kubeless resumes at its committed offsets.
pub fn group_name(namespace: &str, trigger: &str, function: &str, topic: &str) -> String {
    format!("{namespace}_{trigger}_{function}_{topic}")
}

/// (partition, message key): the unit of order; without order, the key is the offset's bytes.
type Lane = (i32, Option<Vec<u8>>);

/// Joins the group and subscribes to the topic. A new group starts at the earliest retained
/// message, so nothing published while its partitions were being assigned is skipped.
pub fn prepare(pair: &KafkaPair) -> Result<Arc<StreamConsumer>, KafkaError> {
    let consumer: StreamConsumer = pair
        .connection
        .client_config()
        .set("group.id", &pair.group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "200")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // A message retried for a long time must not cost the group membership: membership
        // rests on the background heartbeats alone.
        .set("max.poll.interval.ms", "86400000")
        .set("session.timeout.ms", "10000")
        .create()?;
    consumer.subscribe(&[&pair.topic])?;
    Ok(Arc::new(consumer))
}

/// A producer for dead letters.
pub fn producer(connection: &Connection) -> Result<FutureProducer, KafkaError> {
    Ok(connection
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?)
}

/// Delivers the group's messages until an error; dropping the future stops the pair (what was
/// in flight is delivered again: its offsets were not stored).
pub async fn serve(
    consumer: Arc<StreamConsumer>,
    producer: FutureProducer,
    pair: KafkaPair,
) -> Result<(), KafkaError> {
    // Declared first, dropped last: the guard holds the last reference and closes it.
    let guard = CloseOffThread(Some(consumer));
    let consumer = guard.consumer();
    let mut messages = consumer.stream();
    // Shared by every delivery task: one reference count per message, not a copy of the pair.
    let pair = Arc::new(pair);
    let mut lanes: Lanes<Lane, OwnedMessage> = Lanes::new(pair.max_in_flight);
    let mut marks: HashMap<i32, Watermark> = HashMap::new();
    let mut running: JoinSet<(Lane, i64)> = JoinSet::new();
    let mut lag = tokio::time::interval(LAG_EVERY);
    let mut errors = 0u64;
    let spawn = |running: &mut JoinSet<(Lane, i64)>, lane: Lane, message: OwnedMessage| {
        running.spawn(deliver_one(producer.clone(), pair.clone(), lane, message));
    };
    loop {
        tokio::select! {
            next = messages.next(), if lanes.running() + lanes.waiting() < ROOM => match next {
                Some(Ok(message)) => {
                    errors = 0;
                    let message = message.detach();
                    let key = match pair.order {
                        Order::PerKey => message.key().map(<[u8]>::to_vec),
                        Order::None => Some(message.offset().to_be_bytes().to_vec()),
                    };
                    let lane = (message.partition(), key);
                    marks.entry(message.partition()).or_default().start(message.offset());
                    if let Some(message) = lanes.push(lane.clone(), message) {
                        spawn(&mut running, lane, message);
                    }
                }
                Some(Err(e)) => {
                    // Transient (a broker restarting, a connection lost): librdkafka reconnects
                    // and rejoins the group itself; the pair goes on.
                    if errors.is_multiple_of(ERROR_LOG_EVERY) {
                        tracing::warn!(pair = %pair.pair.name, errors = errors + 1, "Kafka consumer: {e}");
                    }
                    errors += 1;
                }
                None => return Err(KafkaError::Messages("the message stream ended".into())),
            },
            Some(done) = running.join_next() => {
                let (lane, offset) = done.map_err(|e| KafkaError::Messages(format!("a delivery task failed: {e}")))?;
                let partition = lane.0;
                if let Some(next) = marks.get_mut(&partition).and_then(|w| w.finish(offset)) {
                    store(&consumer, &pair, partition, next);
                }
                for (lane, message) in lanes.finish(&lane) {
                    spawn(&mut running, lane, message);
                }
            }
            _ = lag.tick() => update_lag(consumer.clone(), &pair),
        }
    }
}

/// Closes a consumer on a blocking thread when the pair stops: librdkafka's close leaves the
/// group and commits, and waits for a broker that may be down, which must not hold an async
/// thread.
struct CloseOffThread(Option<Arc<StreamConsumer>>);

impl CloseOffThread {
    fn consumer(&self) -> Arc<StreamConsumer> {
        match &self.0 {
            Some(consumer) => consumer.clone(),
            None => unreachable!("the guard holds its consumer until it is dropped"),
        }
    }
}

impl Drop for CloseOffThread {
    fn drop(&mut self) {
        let Some(consumer) = self.0.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn_blocking(move || drop(consumer));
        }
    }
}

/// Stores `next` (the next offset to read) of `partition` for the coming commit.
fn store(consumer: &StreamConsumer, pair: &KafkaPair, partition: i32, next: i64) {
    let mut list = TopicPartitionList::new();
    let stored = list
        .add_partition_offset(&pair.topic, partition, Offset::Offset(next))
        .and_then(|()| consumer.store_offsets(&list));
    if let Err(e) = stored {
        // The partition was revoked meanwhile: its new owner delivers from the last commit.
        tracing::debug!(pair = %pair.pair.name, partition, next, "offset not stored: {e}");
    }
}

/// Reads the group's lag (end offsets minus committed ones) off the async threads.
fn update_lag(consumer: Arc<StreamConsumer>, pair: &KafkaPair) {
    let metrics = pair.pair.metrics.clone();
    let topic = pair.topic.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(committed) = consumer.committed(Duration::from_secs(5)) else {
            return;
        };
        let mut behind = 0i64;
        for element in committed.elements_for_topic(&topic) {
            let Ok((_, high)) =
                consumer.fetch_watermarks(&topic, element.partition(), Duration::from_secs(5))
            else {
                return;
            };
            let done = match element.offset() {
                Offset::Offset(offset) => offset,
                _ => 0,
            };
            behind += (high - done).max(0);
        }
        metrics.set_lag(behind);
    });
}

/// Delivers one message; a dead letter is produced before it counts as done. Returns its lane
/// and offset.
async fn deliver_one(
    producer: FutureProducer,
    pair: Arc<KafkaPair>,
    lane: Lane,
    message: OwnedMessage,
) -> (Lane, i64) {
    let event = to_event(&message);
    if let Final::DeadLetter { failed, last } = pair.pair.deliver(&event).await
        && let Some(topic) = pair.dead_letter.as_deref()
    {
        let tries =
            produce_dead_letter(&producer, topic, &message, failed, &last.to_string()).await;
        tracing::warn!(pair = %pair.pair.name, id = %event.id, dead_letter = topic,
            "{last}: after {failed} failed attempts, produced as a dead letter ({tries} tries)");
        pair.pair.metrics.dead_lettered();
    }
    (lane, message.offset())
}

/// Produces the message to the dead-letter topic until the broker has it, with its key, its
/// headers and `fnhost-original-topic`, `fnhost-failure`, `fnhost-attempts`. Returns the tries.
async fn produce_dead_letter(
    producer: &FutureProducer,
    topic: &str,
    message: &OwnedMessage,
    failed: u32,
    failure: &str,
) -> u32 {
    let original = format!(
        "{}-{}-{}",
        message.topic(),
        message.partition(),
        message.offset()
    );
    let attempts = failed.to_string();
    let mut tries = 0;
    loop {
        tries += 1;
        let mut headers = message.headers().cloned().unwrap_or_else(OwnedHeaders::new);
        for (key, value) in [
            ("fnhost-original-topic", message.topic()),
            ("fnhost-original-position", original.as_str()),
            ("fnhost-failure", failure),
            ("fnhost-attempts", attempts.as_str()),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
            .payload(message.payload().unwrap_or_default())
            .headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        match producer.send(record, Duration::from_secs(30)).await {
            Ok(_) => return tries,
            Err((e, _)) => {
                tracing::warn!(topic, "producing a dead letter failed ({e}); trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The delivery's view of a Kafka message: `event-id` `<topic>-<partition>-<offset>`, the
/// message's timestamp, its `Content-Type` header if any, and upstream's `event-topic`.
fn to_event(message: &OwnedMessage) -> Event {
    let time = message
        .timestamp()
        .to_millis()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    let content_type = message.headers().and_then(|headers| {
        headers
            .iter()
            .find(|h| h.key.eq_ignore_ascii_case("content-type"))
            .and_then(|h| h.value)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::to_owned)
    });
    let topic = HeaderValue::from_str(message.topic()).ok();
    Event {
        id: format!(
            "{}-{}-{}",
            message.topic(),
            message.partition(),
            message.offset()
        ),
        body: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
        content_type,
        time,
        extra_headers: topic
            .map(|t| (HeaderName::from_static("event-topic"), t))
            .into_iter()
            .collect(),
    }
}
