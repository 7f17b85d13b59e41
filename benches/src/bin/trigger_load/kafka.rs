//! Kafka for `trigger-load`: the ceiling is a consumer of librdkafka (the client the
//! dispatcher uses) given the topic's partitions, that stores each offset after reading its
//! message and commits it for its group every 200 ms, as the dispatcher does. Two fnhost rows: the defaults (one message in flight per
//! partition, upstream's order) and `fnhost.io/max-in-flight: 64` (in order per key).

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use fnhost_local_brokers::{self as brokers, KAFKA_PARTITIONS, Process};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::{Broker, Route, Sample, ceiling_sample, payload, sent_at, trigger_yaml};

/// The ceiling's row.
pub const CEILING: &str =
    "ceiling: librdkafka's own consumer (stores each offset, commits every 200 ms)";
/// Produced messages awaiting the broker's acknowledgement at once.
const PUBLISH_WINDOW: usize = 10_000;

/// The Kafka node and a producer.
pub struct KafkaBench {
    /// The node.
    pub process: Process,
    bootstrap: String,
    producer: FutureProducer,
}

impl KafkaBench {
    /// Starts the node and creates every topic of the run (waiting until it answers).
    pub async fn start(libs: &Path, dir: &Path, rounds: usize) -> Result<KafkaBench, String> {
        let (process, bootstrap) = brokers::start_kafka(libs, dir, [127, 0, 0, 1].into())?;
        let bootstrap = bootstrap.to_string();
        let mut topics = vec!["bench-fnhost".to_owned(), "bench-fnhost-wide".to_owned()];
        // One more for the steady phase.
        topics.extend((1..=rounds + 1).map(|r| format!("bench-ceiling-{r}")));
        create_topics(&bootstrap, &topics)
            .await
            .map_err(|e| format!("{e}\n{}", process.log_tail()))?;
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("linger.ms", "5")
            .create()
            .map_err(|e| format!("the producer: {e}"))?;
        Ok(KafkaBench {
            process,
            bootstrap,
            producer,
        })
    }
}

impl Broker for KafkaBench {
    const TITLE: &'static str = "Kafka 4.4.0 (KRaft, 3 partitions)";
    const CEILING: &'static str = CEILING;

    fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The dispatcher's environment.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("KAFKA_BROKERS", self.bootstrap.clone())]
    }

    /// A KafkaTrigger with the defaults, and one with 64 messages in flight.
    fn routes(&self) -> Vec<Route> {
        let trigger = |name: &str, topic: &str, annotations: &str| {
            trigger_yaml("KafkaTrigger", name, topic, annotations)
        };
        vec![
            Route {
                trigger: "bench",
                row: "fnhost-dispatcher → fnhost (defaults: 1 in flight per partition)",
                yaml: trigger("bench", "bench-fnhost", ""),
                destination: "bench-fnhost".to_owned(),
            },
            Route {
                trigger: "bench-wide",
                row: "fnhost-dispatcher → fnhost (fnhost.io/max-in-flight: 64)",
                yaml: trigger(
                    "bench-wide",
                    "bench-fnhost-wide",
                    ", annotations: {fnhost.io/max-in-flight: \"64\"}",
                ),
                destination: "bench-fnhost-wide".to_owned(),
            },
        ]
    }

    /// Produces `n` messages to `topic` (keys spread over the partitions), each acknowledged.
    async fn publish(&self, topic: String, n: usize, pace: Option<Duration>) -> Result<(), String> {
        produce(self.producer.clone(), topic, n, pace).await
    }

    /// Round `round` of the ceiling: a new group reads `n` messages produced meanwhile.
    async fn ceiling(
        &self,
        round: usize,
        n: usize,
        pace: Option<Duration>,
    ) -> Result<Sample, String> {
        let topic = format!("bench-ceiling-{round}");
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", &topic)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "200")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(|e| format!("the ceiling's consumer: {e}"))?;
        // Its partitions assigned directly: the dispatcher's consumer joined its group before
        // the clock starts, so the ceiling's must not pay for a group join either.
        let mut partitions = TopicPartitionList::new();
        for partition in 0..KAFKA_PARTITIONS {
            partitions
                .add_partition_offset(&topic, partition, Offset::Beginning)
                .map_err(|e| format!("{topic}: {e}"))?;
        }
        consumer
            .assign(&partitions)
            .map_err(|e| format!("assigning {topic}: {e}"))?;
        let broker_cpu = fnhost_benches::procfs::tree_cpu_seconds(self.process.pid());
        let started = Instant::now();
        let publisher = tokio::spawn(produce(self.producer.clone(), topic.clone(), n, pace));
        let mut latencies = Vec::with_capacity(n);
        while latencies.len() < n {
            let message = consumer
                .recv()
                .await
                .map_err(|e| format!("the ceiling's consumer: {e}"))?;
            let sent = message
                .payload()
                .and_then(sent_at)
                .ok_or("a message without t")?;
            latencies.push(crate::now_nanos().saturating_sub(sent));
            consumer
                .store_offset_from_message(&message)
                .map_err(|e| format!("storing an offset: {e}"))?;
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

async fn produce(
    producer: FutureProducer,
    topic: String,
    n: usize,
    pace: Option<Duration>,
) -> Result<(), String> {
    let mut pending = VecDeque::with_capacity(PUBLISH_WINDOW);
    let started = tokio::time::Instant::now();
    for i in 0..n {
        if let Some(pace) = pace {
            tokio::time::sleep_until(started + pace * u32::try_from(i).unwrap_or(u32::MAX)).await;
        }
        let key = i.to_string();
        let body = payload();
        let delivery = loop {
            match producer.send_result(FutureRecord::to(&topic).key(&key).payload(&body)) {
                Ok(delivery) => break delivery,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, _)) => return Err(format!("producing to {topic}: {e}")),
            }
        };
        pending.push_back(delivery);
        if pending.len() >= PUBLISH_WINDOW
            && let Some(delivery) = pending.pop_front()
        {
            acknowledged(delivery, &topic).await?;
        }
    }
    for delivery in pending {
        acknowledged(delivery, &topic).await?;
    }
    Ok(())
}

async fn acknowledged(
    delivery: rdkafka::producer::DeliveryFuture,
    topic: &str,
) -> Result<(), String> {
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(format!("{topic}: not stored: {e}")),
        Err(_) => Err(format!("{topic}: the producer went away")),
    }
}

/// Creates `topics`, retrying while the node starts (up to a minute).
async fn create_topics(bootstrap: &str, topics: &[String]) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| format!("the admin client: {e}"))?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, KAFKA_PARTITIONS, TopicReplication::Fixed(1)))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    loop {
        let outcome = match admin.create_topics(&new, &options).await {
            Ok(results) => results
                .into_iter()
                .filter_map(Result::err)
                .find(|(_, code)| *code != RDKafkaErrorCode::TopicAlreadyExists)
                .map_or(Ok(()), |(topic, code)| {
                    Err(format!("topic {topic}: {code}"))
                }),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!("Kafka did not create the topics within 60 s: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
