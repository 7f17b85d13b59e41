//! Message triggers end to end with everything in the cluster: the dispatcher installed from
//! `manifests/message-triggers.yaml`, an upstream-style Python function in a pod, the trigger
//! made by the kubeless CLI, and a real broker on the node's address (where pods reach it):
//! nats-server with JetStream, Kafka 4 in KRaft mode and kinesis-local
//! (`fnhost-local-brokers`). NATS messages are published the way an upstream user published
//! them, with a plain core-NATS `PUB`; Kafka's by librdkafka's producer; Kinesis records by the
//! AWS SDK, and the KinesisTrigger reads its keys from a Secret. Each must reach the function with upstream's
//! event headers, before and after the dispatcher's pod is replaced (the new one resumes where
//! the old one was: fewer duplicates than a replay from the start).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, StreamStatus};
use fnhost_cluster_e2e::load::http_get;
use fnhost_cluster_e2e::{Cluster, Error, eventually};
use fnhost_local_brokers::{self as brokers, Process};
use fnhost_trigger_kinesis::AccessKey;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::{deploy_python, service_address, write};

const MESSAGES: u32 = 20;
/// Records what it is sent; a GET answers the records.
const RECORDER: &str = r#"import json
import threading

_seen = []
_lock = threading.Lock()


def handle(event, context):
    if event["extensions"]["request"].method == "GET":
        with _lock:
            return json.dumps(_seen)
    data = event["data"]
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    with _lock:
        _seen.append({
            "id": event["event-id"],
            "type": event["event-type"],
            "namespace": event["event-namespace"],
            "data": data,
        })
    return "recorded"
"#;

/// A broker running on the node's address for one case.
trait NodeBroker {
    /// `nats` or `kafka`: the kubeless CLI's trigger kind.
    fn kind(&self) -> &'static str;
    /// The dispatcher's variable that points at it, with its value (`NAME=value`), if it
    /// takes one.
    fn dispatcher_env(&self) -> Option<String>;
    /// Publishes each payload to `topic`; returns once the broker has them all.
    fn publish(&self, topic: &str, payloads: &[String]) -> Result<(), Error>;
    /// The CLI's `trigger <kind> create NAME` flags for `topic` and the function.
    fn create_flags(&self, topic: &str, function: &str) -> Vec<String> {
        let _ = function;
        vec![
            "--function-selector".to_owned(),
            format!("topic={topic}"),
            "--trigger-topic".to_owned(),
            topic.to_owned(),
        ]
    }
}

pub fn nats_trigger_delivers_to_a_pod(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let binary = cached_tool("scripts/brokers/build-nats-server.sh")?;
    let (process, address) = brokers::start_nats(&binary, dir, cluster.node_ip()?)?;
    trigger_delivers_to_a_pod(
        cluster,
        dir,
        &Nats {
            address,
            _process: process,
        },
    )
}

pub fn kinesis_trigger_delivers_to_a_pod(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let package = cached_tool("scripts/brokers/fetch-kinesis.sh")?;
    let (process, port) = brokers::start_kinesis(&package, dir)?;
    let kinesis = Kinesis {
        endpoint: format!("http://{}:{port}", cluster.node_ip()?),
        _process: process,
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("an async runtime for the AWS SDK: {e}"))?,
    };
    kinesis.create_stream("orders-kinesis")?;
    cluster.kubectl(&[
        "create",
        "secret",
        "generic",
        KINESIS_SECRET,
        &format!("--from-literal=aws_access_key_id={}", kinesis_key().id),
        &format!(
            "--from-literal=aws_secret_access_key={}",
            kinesis_key().secret
        ),
    ])?;
    let outcome = trigger_delivers_to_a_pod(cluster, dir, &kinesis);
    cluster.kubectl(&["delete", "secret", KINESIS_SECRET])?;
    outcome
}

pub fn kafka_trigger_delivers_to_a_pod(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let libs = cached_tool("scripts/brokers/fetch-kafka.sh")?;
    let (process, address) = brokers::start_kafka(&libs, dir, cluster.node_ip()?)?;
    let kafka = Kafka {
        address,
        _process: process,
    };
    kafka.create_topic(KAFKA_TOPIC)?;
    trigger_delivers_to_a_pod(cluster, dir, &kafka)
}

/// The case for one broker: the dispatcher pointed at it, a recorder function labelled for
/// the trigger the CLI creates, every message published reaching the function with upstream's
/// event headers, and the pair stopped when the trigger is deleted.
fn trigger_delivers_to_a_pod(
    cluster: &Cluster,
    dir: &Path,
    broker: &dyn NodeBroker,
) -> Result<(), Error> {
    let kind = broker.kind();
    let (function, trigger, topic) = (
        format!("{kind}-recorder"),
        format!("{kind}-orders"),
        format!("orders-{kind}"),
    );
    if let Some(variable) = broker.dispatcher_env() {
        point_the_dispatcher_at(cluster, &variable)?;
    }
    write(dir, "recorder.py", RECORDER)?;
    deploy_python(
        cluster,
        dir,
        &function,
        "recorder.py",
        "recorder.handle",
        &["--label", &format!("topic={topic}")],
    )?;
    let mut create = vec![
        "trigger".to_owned(),
        kind.to_owned(),
        "create".to_owned(),
        trigger.clone(),
    ];
    create.extend(broker.create_flags(&topic, &function));
    cluster.kubeless(dir, &create.iter().map(String::as_str).collect::<Vec<_>>())?;
    let pair = format!("default/{trigger} -> {function}");
    eventually(
        "the dispatcher runs the pair",
        Duration::from_secs(120),
        || dispatcher_ready_with(cluster, &pair),
    )?;
    let address = service_address(cluster, &function)?;
    let namespace = format!("{kind}triggers.kubeless.io");
    let round = |numbers: std::ops::Range<u32>| -> Result<Vec<serde_json::Value>, Error> {
        let payloads: Vec<String> = numbers.clone().map(|n| format!(r#"{{"n":{n}}}"#)).collect();
        broker.publish(&topic, &payloads)?;
        eventually(
            "every message reaches the function",
            Duration::from_secs(120),
            || every_message_recorded(address, &namespace, 0..numbers.end),
        )
    };
    let records = round(0..MESSAGES)?;
    let duplicates = records.len() - MESSAGES as usize;
    eprintln!(
        "{kind} in pods: {MESSAGES} published, {MESSAGES} delivered, {duplicates} duplicated"
    );
    // A new dispatcher pod resumes where the old one was: from the broker's consumer position
    // (NATS, Kafka) or the checkpoint ConfigMap (Kinesis), not from the start of the stream.
    replace_the_dispatcher_pod(cluster, &pair)?;
    let records = round(MESSAGES..2 * MESSAGES)?;
    let duplicates = records.len() - 2 * MESSAGES as usize;
    eprintln!(
        "{kind} in pods, the dispatcher's pod replaced between two rounds: {} published, {} delivered, {duplicates} duplicated",
        2 * MESSAGES,
        2 * MESSAGES
    );
    if duplicates >= MESSAGES as usize {
        return Err(format!(
            "{duplicates} duplicates after the dispatcher's pod was replaced: it started again from the beginning"
        ));
    }

    cluster.kubeless(dir, &["trigger", kind, "delete", &trigger])?;
    eventually(
        "the pair stops with its trigger",
        Duration::from_secs(60),
        || match dispatcher_ready_with(cluster, &pair) {
            Ok(()) => Err("still running".to_owned()),
            Err(e) if e.contains("not among") => Ok(()),
            Err(e) => Err(e),
        },
    )?;
    crate::delete(cluster, dir, &function)
}

/// What a broker script prints: the path of the binary or folder it built or fetched (cached).
fn cached_tool(script: &str) -> Result<PathBuf, Error> {
    let output = std::process::Command::new(fnhost_cluster_e2e::repository_root().join(script))
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && Path::new(&path).exists() {
        Ok(PathBuf::from(path))
    } else {
        Err(format!(
            "{script} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

struct Nats {
    address: SocketAddr,
    _process: Process,
}

impl NodeBroker for Nats {
    fn kind(&self) -> &'static str {
        "nats"
    }

    fn dispatcher_env(&self) -> Option<String> {
        Some(format!("NATS_URL=nats://{}", self.address))
    }

    fn publish(&self, topic: &str, payloads: &[String]) -> Result<(), Error> {
        nats_publish(self.address, topic, payloads)
    }
}

const KAFKA_TOPIC: &str = "orders-kafka";

struct Kafka {
    address: SocketAddr,
    _process: Process,
}

impl Kafka {
    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.address.to_string());
        config
    }

    /// Creates `topic` (3 partitions), retrying while the node starts.
    fn create_topic(&self, topic: &str) -> Result<(), Error> {
        let admin: AdminClient<DefaultClientContext> = self
            .config()
            .create()
            .map_err(|e| format!("Kafka's admin client: {e}"))?;
        let new = NewTopic::new(topic, brokers::KAFKA_PARTITIONS, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        eventually(
            &format!("Kafka creates {topic}"),
            Duration::from_secs(90),
            || {
                let results = futures::executor::block_on(admin.create_topics([&new], &options))
                    .map_err(|e| e.to_string())?;
                match results.into_iter().next() {
                    Some(Ok(_)) => Ok(()),
                    Some(Err((_, code))) => Err(code.to_string()),
                    None => Err("no answer".to_owned()),
                }
            },
        )
    }
}

impl NodeBroker for Kafka {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn dispatcher_env(&self) -> Option<String> {
        Some(format!("KAFKA_BROKERS={}", self.address))
    }

    fn publish(&self, topic: &str, payloads: &[String]) -> Result<(), Error> {
        let producer: BaseProducer = self
            .config()
            .create()
            .map_err(|e| format!("Kafka's producer: {e}"))?;
        for (i, payload) in payloads.iter().enumerate() {
            let key = i.to_string();
            producer
                .send(BaseRecord::to(topic).key(&key).payload(payload))
                .map_err(|(e, _)| format!("producing to {topic}: {e}"))?;
        }
        producer
            .flush(Duration::from_secs(30))
            .map_err(|e| format!("Kafka did not take every message: {e}"))
    }
}

const KINESIS_SECRET: &str = "kinesis-e2e";
const KINESIS_REGION: &str = "us-east-1";
const KINESIS_SHARD: &str = "shardId-000000000000";

fn kinesis_key() -> AccessKey {
    AccessKey {
        id: "AKIDFNHOSTE2E".to_owned(),
        secret: "fnhost-e2e-secret".to_owned(),
    }
}

/// kinesis-local; the AWS SDK talks to it as the dispatcher does (`fnhost-trigger-kinesis`).
struct Kinesis {
    endpoint: String,
    _process: Process,
    runtime: tokio::runtime::Runtime,
}

impl Kinesis {
    fn client(&self) -> aws_sdk_kinesis::Client {
        let _entered = self.runtime.enter();
        fnhost_trigger_kinesis::client(KINESIS_REGION, &kinesis_key(), Some(&self.endpoint))
    }

    /// Creates `stream` with one shard and waits until it is active.
    fn create_stream(&self, stream: &str) -> Result<(), Error> {
        let client = self.client();
        eventually(
            &format!("kinesis-local creates {stream}"),
            Duration::from_secs(60),
            || {
                self.runtime
                    .block_on(
                        client
                            .create_stream()
                            .stream_name(stream)
                            .shard_count(1)
                            .send(),
                    )
                    .map(drop)
                    .map_err(|e| format!("{e:?}"))
            },
        )?;
        eventually(
            &format!("{stream} is active"),
            Duration::from_secs(60),
            || {
                let summary = self
                    .runtime
                    .block_on(client.describe_stream_summary().stream_name(stream).send())
                    .map_err(|e| format!("{e:?}"))?;
                let status = summary
                    .stream_description_summary()
                    .map(|s| s.stream_status().clone());
                if status == Some(StreamStatus::Active) {
                    Ok(())
                } else {
                    Err(format!("{status:?}"))
                }
            },
        )
    }
}

impl NodeBroker for Kinesis {
    fn kind(&self) -> &'static str {
        "kinesis"
    }

    fn dispatcher_env(&self) -> Option<String> {
        None // the endpoint is the trigger's own
    }

    fn publish(&self, topic: &str, payloads: &[String]) -> Result<(), Error> {
        let client = self.client();
        let entries: Vec<PutRecordsRequestEntry> = payloads
            .iter()
            .enumerate()
            .map(|(i, payload)| {
                PutRecordsRequestEntry::builder()
                    .partition_key(i.to_string())
                    .data(Blob::new(payload.clone()))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        let output = self
            .runtime
            .block_on(
                client
                    .put_records()
                    .stream_name(topic)
                    .set_records(Some(entries))
                    .send(),
            )
            .map_err(|e| format!("putting records into {topic}: {e:?}"))?;
        match output.failed_record_count() {
            Some(failed) if failed > 0 => Err(format!("{failed} records were not stored")),
            _ => Ok(()),
        }
    }

    fn create_flags(&self, topic: &str, function: &str) -> Vec<String> {
        [
            "--function-name",
            function,
            "--stream",
            topic,
            "--aws-region",
            KINESIS_REGION,
            "--shard-id",
            KINESIS_SHARD,
            "--secret",
            KINESIS_SECRET,
            "--endpoint",
            &self.endpoint,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }
}

/// Sets the dispatcher's broker variable (`NAME=value`) as a user would, and waits for the new
/// pod.
fn point_the_dispatcher_at(cluster: &Cluster, variable: &str) -> Result<(), Error> {
    let deployment = "deployment/fnhost-dispatcher";
    cluster.kubectl(&["-n", "kubeless", "set", "env", deployment, variable])?;
    crate::rolled_out_in_kubeless(cluster, deployment)
}

/// Deletes the dispatcher's pod (SIGTERM: it writes its checkpoints and closes its consumers),
/// waits until it is gone and until its replacement runs `pair`.
fn replace_the_dispatcher_pod(cluster: &Cluster, pair: &str) -> Result<(), Error> {
    cluster.kubectl(&[
        "-n",
        "kubeless",
        "delete",
        "pod",
        "-l",
        "app.kubernetes.io/name=fnhost-dispatcher",
        "--wait=true",
        "--timeout=120s",
    ])?;
    eventually(
        "a new dispatcher pod runs the pair",
        Duration::from_secs(180),
        || dispatcher_ready_with(cluster, pair),
    )
}

/// The dispatcher's `/readyz` (through the apiserver's proxy) answers 200 and lists `pair`.
fn dispatcher_ready_with(cluster: &Cluster, pair: &str) -> Result<(), Error> {
    let pod = cluster.kubectl(&[
        "-n",
        "kubeless",
        "get",
        "pods",
        "-l",
        "app.kubernetes.io/name=fnhost-dispatcher",
        "--field-selector",
        "status.phase=Running",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ])?;
    let ready = cluster.kubectl(&[
        "get",
        "--raw",
        &format!(
            "/api/v1/namespaces/kubeless/pods/{}:8082/proxy/readyz",
            pod.trim()
        ),
    ])?;
    if ready.lines().any(|line| line.ends_with(pair)) {
        Ok(())
    } else {
        Err(format!("{pair:?} is not among the running pairs:\n{ready}"))
    }
}

/// The function's records once every published `n` is among them, each with upstream's
/// event headers.
fn every_message_recorded(
    function: SocketAddr,
    namespace: &str,
    expected: std::ops::Range<u32>,
) -> Result<Vec<serde_json::Value>, Error> {
    let (status, body) = http_get(function, "/")?;
    if status != 200 {
        return Err(format!("GET answered {status}: {body}"));
    }
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&body).map_err(|e| format!("the records {body:?}: {e}"))?;
    let mut delivered: BTreeMap<u64, usize> = BTreeMap::new();
    for record in &records {
        if record["namespace"] != namespace
            || record["type"] != "application/json"
            || record["id"].as_str().is_none_or(str::is_empty)
        {
            return Err(format!("not upstream's event headers: {record}"));
        }
        let n = record["data"]["n"]
            .as_u64()
            .ok_or_else(|| format!("not a published message: {record}"))?;
        *delivered.entry(n).or_default() += 1;
    }
    let missing: Vec<u32> = expected
        .filter(|n| !delivered.contains_key(&u64::from(*n)))
        .collect();
    if missing.is_empty() {
        Ok(records)
    } else {
        Err(format!("not delivered yet: {missing:?}"))
    }
}

/// A core-NATS publish of each payload, then a PING: its PONG says the server has them all.
fn nats_publish(server: SocketAddr, subject: &str, payloads: &[String]) -> Result<(), Error> {
    let failed = |e: std::io::Error| format!("publishing to {server}: {e}");
    let mut stream = TcpStream::connect_timeout(&server, Duration::from_secs(5)).map_err(failed)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(failed)?;
    let mut reader = BufReader::new(stream.try_clone().map_err(failed)?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(failed)?;
    if !line.starts_with("INFO ") {
        return Err(format!("{server} is not a NATS server: {line:?}"));
    }
    let mut out = String::from("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    for payload in payloads {
        out.push_str(&format!("PUB {subject} {}\r\n{payload}\r\n", payload.len()));
    }
    out.push_str("PING\r\n");
    stream.write_all(out.as_bytes()).map_err(failed)?;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(failed)? == 0 {
            return Err(format!("{server} closed the connection"));
        }
        match line.trim_end() {
            "PONG" => return Ok(()),
            "PING" => stream.write_all(b"PONG\r\n").map_err(failed)?,
            other if other.starts_with("-ERR") => return Err(format!("{server}: {other}")),
            _ => {}
        }
    }
}
