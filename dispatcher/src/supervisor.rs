//! One task per pair. A pair whose consumer fails is restarted with backoff; a pair whose
//! trigger, options, function URL or broker changed is replaced; a pair no longer planned is
//! stopped (what it had in flight is delivered again by its broker).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fnhost_delivery::deliver::Pair;
use fnhost_delivery::metrics::{Metrics, PairId};
use fnhost_delivery::policy::RetryPolicy;
use fnhost_delivery::post::Poster;
use fnhost_trigger_kafka::KafkaError;
use fnhost_trigger_kafka::consume::{self as kafka, KafkaPair};
use fnhost_trigger_kinesis::checkpoint::Checkpoints;
use fnhost_trigger_kinesis::consume::{self as kinesis, KinesisPair};
use fnhost_trigger_kinesis::{AccessKey, KinesisError};
use fnhost_trigger_nats::NatsError;
use fnhost_trigger_nats::consume::{self, NatsPair};
use fnhost_trigger_nats::streams::Streams;
use tokio::task::JoinHandle;

use crate::plan::{Broker, PairSpec};

/// Why a pair's consumer stopped.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// NATS or JetStream.
    #[error(transparent)]
    Nats(#[from] NatsError),
    /// Kafka.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// Kinesis.
    #[error(transparent)]
    Kinesis(#[from] KinesisError),
    /// A KinesisTrigger's Secret is not known (or lacks the access key).
    #[error("Secret {namespace}/{name} with aws_access_key_id and aws_secret_access_key not found")]
    Secret {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The consumer's message stream ended without an error.
    #[error("the consumer ended")]
    Ended,
}

/// What every pair shares: the brokers' clients, the HTTP client, the counters.
pub struct Env {
    /// The NATS server.
    pub nats_url: String,
    /// Where Kafka is and how to reach it.
    pub kafka: fnhost_trigger_kafka::Connection,
    /// Deliveries go through it.
    pub poster: Poster,
    /// Every pair's counters.
    pub metrics: Metrics,
    nats: tokio::sync::OnceCell<fnhost_trigger_nats::Context>,
    streams: Streams,
    kafka_producer: std::sync::OnceLock<fnhost_trigger_kafka::FutureProducer>,
    checkpoints: Checkpoints,
    secrets: Mutex<BTreeMap<(String, String), AccessKey>>,
}

impl Env {
    /// Clients are made when a pair first needs them.
    pub fn new(
        brokers: Brokers,
        poster: Poster,
        metrics: Metrics,
        checkpoints: Checkpoints,
    ) -> Self {
        Env {
            nats_url: brokers.nats_url,
            kafka: brokers.kafka,
            poster,
            metrics,
            nats: tokio::sync::OnceCell::new(),
            streams: Streams::default(),
            kafka_producer: std::sync::OnceLock::new(),
            checkpoints,
            secrets: Mutex::new(BTreeMap::new()),
        }
    }

    /// Writes the Kinesis checkpoints saved but not written yet (before the dispatcher exits).
    pub async fn flush_checkpoints(&self) {
        if let Err(e) = self.checkpoints.flush().await {
            tracing::warn!("Kinesis checkpoints not written before stopping: {e}");
        }
    }

    /// The AWS access keys Kinesis pairs may use, by (namespace, Secret name).
    pub fn set_secrets(&self, secrets: BTreeMap<(String, String), AccessKey>) {
        *self
            .secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = secrets;
    }

    fn secret(&self, namespace: &str, name: &str) -> Result<AccessKey, PairError> {
        let secrets = self
            .secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        secrets
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| PairError::Secret {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
    }

    fn kafka_producer(&self) -> Result<fnhost_trigger_kafka::FutureProducer, KafkaError> {
        if let Some(producer) = self.kafka_producer.get() {
            return Ok(producer.clone());
        }
        let producer = kafka::producer(&self.kafka)?;
        Ok(self.kafka_producer.get_or_init(|| producer).clone())
    }

    async fn jetstream(&self) -> Result<fnhost_trigger_nats::Context, NatsError> {
        self.nats
            .get_or_try_init(|| async {
                let client = fnhost_trigger_nats::connect(&self.nats_url).await?;
                Ok(fnhost_trigger_nats::jetstream(client))
            })
            .await
            .cloned()
    }
}

/// Where the brokers are.
#[derive(Clone, Debug)]
pub struct Brokers {
    /// The NATS server URL.
    pub nats_url: String,
    /// Where Kafka is and how to reach it.
    pub kafka: fnhost_trigger_kafka::Connection,
}

/// Which pairs run and whether each has its consumer in place: what `/readyz` reports.
#[derive(Clone, Default)]
pub struct Board {
    pairs: Arc<Mutex<BTreeMap<String, Arc<AtomicBool>>>>,
}

impl Board {
    /// The pairs without a consumer in place yet (empty: ready).
    pub fn waiting(&self) -> Vec<String> {
        let pairs = self
            .pairs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pairs
            .iter()
            .filter(|(_, prepared)| !prepared.load(Ordering::Acquire))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Reports `name` as waiting (besides the pairs) until [`Board::done`].
    pub fn wait_for(&self, name: &str) {
        self.set(name.to_owned(), Arc::new(AtomicBool::new(false)));
    }

    /// What [`Board::wait_for`] waited for is done.
    pub fn done(&self, name: &str) {
        self.remove(name);
    }

    /// Every tracked name, in order.
    pub fn all(&self) -> Vec<String> {
        let pairs = self
            .pairs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pairs.keys().cloned().collect()
    }

    fn set(&self, name: String, prepared: Arc<AtomicBool>) {
        let mut pairs = self
            .pairs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pairs.insert(name, prepared);
    }

    fn remove(&self, name: &str) {
        let mut pairs = self
            .pairs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pairs.remove(name);
    }
}

struct Running {
    spec: PairSpec,
    task: JoinHandle<()>,
}

/// The running pairs.
pub struct Supervisor {
    env: Arc<Env>,
    board: Board,
    running: HashMap<PairId, Running>,
}

impl Supervisor {
    /// No pairs yet.
    pub fn new(env: Arc<Env>, board: Board) -> Self {
        Supervisor {
            env,
            board,
            running: HashMap::new(),
        }
    }

    /// Makes the running pairs the `desired` ones.
    pub fn apply(&mut self, desired: Vec<PairSpec>) {
        let mut keep: HashMap<PairId, PairSpec> =
            desired.into_iter().map(|s| (s.id.clone(), s)).collect();
        self.running.retain(|id, running| {
            let same = keep.get(id).is_some_and(|spec| *spec == running.spec);
            if same {
                keep.remove(id);
            } else {
                running.task.abort();
                self.board.remove(&name_of(id));
                tracing::info!(pair = %name_of(id), "stopped");
            }
            same
        });
        for (id, spec) in keep {
            let prepared = Arc::new(AtomicBool::new(false));
            self.board.set(name_of(&id), prepared.clone());
            tracing::info!(pair = %name_of(&id), target = %spec.target, "starting");
            let task = tokio::spawn(run_pair(self.env.clone(), spec.clone(), prepared));
            self.running.insert(id, Running { spec, task });
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        for running in self.running.values() {
            running.task.abort();
        }
    }
}

/// `kind namespace/trigger -> function`, for logs and `/readyz`.
pub fn name_of(id: &PairId) -> String {
    format!(
        "{} {}/{} -> {}",
        id.source.kind(),
        id.namespace,
        id.trigger,
        id.function
    )
}

/// Runs a pair for as long as it is planned, restarting its consumer after failures.
async fn run_pair(env: Arc<Env>, spec: PairSpec, prepared: Arc<AtomicBool>) {
    let name = name_of(&spec.id);
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let error = match run_consumer(&env, &spec, &prepared).await {
            Ok(()) => PairError::Ended,
            Err(e) => e,
        };
        prepared.store(false, Ordering::Release);
        failures = if started.elapsed() > Duration::from_secs(60) {
            1
        } else {
            failures + 1
        };
        let wait = Duration::from_secs(1 << failures.min(5).saturating_sub(1))
            .min(Duration::from_secs(30));
        tracing::error!(pair = %name, "{error}; restarting in {wait:?}");
        tokio::time::sleep(wait).await;
    }
}

async fn run_consumer(env: &Env, spec: &PairSpec, prepared: &AtomicBool) -> Result<(), PairError> {
    let pair = Pair {
        source: spec.id.source,
        name: name_of(&spec.id),
        target: spec.target.clone(),
        policy: RetryPolicy {
            max_attempts: spec.options.max_attempts,
            dead_letter: spec.options.dead_letter.is_some(),
            ..RetryPolicy::default()
        },
        metrics: env.metrics.pair(&spec.id),
        poster: env.poster.clone(),
    };
    match &spec.broker {
        Broker::Nats { subject } => {
            let js = env.jetstream().await?;
            let nats = NatsPair {
                subject: subject.clone(),
                durable: consume::durable_name(
                    &spec.id.namespace,
                    &spec.id.trigger,
                    &spec.id.function,
                ),
                dead_letter: spec.options.dead_letter.clone(),
                max_in_flight: spec.options.max_in_flight,
                order: spec.options.order,
                pair,
            };
            let consumer = consume::prepare(&js, &env.streams, &nats).await?;
            prepared.store(true, Ordering::Release);
            tracing::info!(pair = %nats.pair.name, durable = %nats.durable, "consuming");
            consume::serve(js, consumer, nats).await?;
            Ok(())
        }
        Broker::Kafka { topic } => {
            let kafka_pair = KafkaPair {
                connection: env.kafka.clone(),
                topic: topic.clone(),
                group: kafka::group_name(
                    &spec.id.namespace,
                    &spec.id.trigger,
                    &spec.id.function,
                    topic,
                ),
                dead_letter: spec.options.dead_letter.clone(),
                max_in_flight: spec.options.max_in_flight,
                order: spec.options.order,
                pair,
            };
            let producer = env.kafka_producer()?;
            let consumer = kafka::prepare(&kafka_pair)?;
            prepared.store(true, Ordering::Release);
            tracing::info!(pair = %kafka_pair.pair.name, group = %kafka_pair.group, "consuming");
            kafka::serve(consumer, producer, kafka_pair).await?;
            Ok(())
        }
        Broker::Kinesis {
            stream,
            shard,
            region,
            endpoint,
            secret,
        } => {
            let key = env.secret(&spec.id.namespace, secret)?;
            let kinesis_pair = KinesisPair {
                client: fnhost_trigger_kinesis::client(region, &key, endpoint.as_deref()),
                stream: stream.clone(),
                shard: shard.clone(),
                checkpoint: format!("{}/{}/{}", spec.id.namespace, spec.id.trigger, shard),
                dead_letter: spec.options.dead_letter.clone(),
                max_in_flight: spec.options.max_in_flight,
                order: spec.options.order,
                pair,
            };
            let shard_iterator = kinesis::prepare(&kinesis_pair, &env.checkpoints).await?;
            prepared.store(true, Ordering::Release);
            tracing::info!(pair = %kinesis_pair.pair.name, stream, shard, "consuming");
            kinesis::serve(kinesis_pair, env.checkpoints.clone(), shard_iterator).await?;
            Ok(())
        }
    }
}
