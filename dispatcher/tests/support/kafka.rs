//! Apache Kafka 4 in KRaft mode on loopback (one node, broker and controller), run from the jars
//! `scripts/brokers/fetch-kafka.sh` fetches from Maven Central with the JDK the project
//! installs; its data in a folder of the test so that a restart keeps topics and offsets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fnhost_conformance::process::Fnhost;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::{cached_tool, eventually, free_port, runtime};

/// Partitions of every topic the tests create.
const PARTITIONS: i32 = 3;

/// A running Kafka node.
pub struct KafkaBroker {
    process: Option<Fnhost>,
    dir: PathBuf,
    /// Its client port (kept across restarts).
    pub port: u16,
    /// A second listener with TLS and SASL/PLAIN, for the dispatcher only.
    secured: Option<Secured>,
}

/// The `SASL_SSL` listener of [`KafkaBroker::start_secured`].
struct Secured {
    port: u16,
    /// The test authority that signed the broker's certificate.
    ca: PathBuf,
}

/// The user the dispatcher authenticates as on the secured listener.
const SASL_USER: (&str, &str) = ("fnhost", "fnhost-secret");

fn classpath() -> String {
    let jar = cached_tool(
        "FNHOST_KAFKA_JAR",
        ".cache/fnhost-brokers/kafka-4.4.0/libs/kafka_2.13-4.4.0.jar",
        "scripts/brokers/fetch-kafka.sh",
    );
    format!("{}/*", jar.parent().expect("the libs folder").display())
}

impl KafkaBroker {
    /// Formats a store in `dir` and starts the node on free ports; returns once it answers.
    pub fn start(dir: &Path) -> KafkaBroker {
        KafkaBroker::start_with(dir, None)
    }

    /// The same, plus a listener with TLS (a certificate from a test authority made here by
    /// `openssl`) and SASL/PLAIN, which the dispatcher uses; the tests' own clients keep the
    /// plain-text one.
    pub fn start_secured(dir: &Path) -> KafkaBroker {
        std::fs::create_dir_all(dir).expect("kafka folder");
        let ca = make_certificates(dir);
        KafkaBroker::start_with(
            dir,
            Some(Secured {
                port: free_port(),
                ca,
            }),
        )
    }

    fn start_with(dir: &Path, secured: Option<Secured>) -> KafkaBroker {
        std::fs::create_dir_all(dir).expect("kafka folder");
        let (port, controller) = (free_port(), free_port());
        let (listeners, protocols, security) = match &secured {
            None => (
                format!("PLAINTEXT://127.0.0.1:{port}"),
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                String::new(),
            ),
            Some(secured) => (
                format!(
                    "PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{}",
                    secured.port
                ),
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
                format!(
                    "sasl.enabled.mechanisms=PLAIN\n\
                     listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
                     username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" user_{}=\"{}\";\n\
                     ssl.keystore.type=PEM\nssl.keystore.location={}\n",
                    SASL_USER.0,
                    SASL_USER.1,
                    dir.join("server-keystore.pem").display()
                ),
            ),
        };
        let properties = format!(
            "process.roles=broker,controller\nnode.id=1\n\
             controller.quorum.bootstrap.servers=127.0.0.1:{controller}\n\
             listeners={listeners},CONTROLLER://127.0.0.1:{controller}\n\
             advertised.listeners={listeners}\n\
             controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map={protocols}\n{security}\
             log.dirs={}\nnum.partitions={PARTITIONS}\n\
             offsets.topic.replication.factor=1\ntransaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\nshare.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\ngroup.initial.rebalance.delay.ms=0\n\
             auto.create.topics.enable=false\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("server.properties"), properties).expect("server.properties");
        std::fs::write(
            dir.join("log4j2.properties"),
            "status = warn\nappender.out.type = Console\nappender.out.name = STDOUT\n\
             appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\n\
             rootLogger.level = WARN\nrootLogger.appenderRef.out.ref = STDOUT\n",
        )
        .expect("log4j2.properties");
        let mut broker = KafkaBroker {
            process: None,
            dir: dir.to_owned(),
            port,
            secured,
        };
        broker.java(&[
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            "4bHLPwFURqyWdBPJXM59QQ",
            "-c",
            "server.properties",
        ]);
        broker.launch();
        broker
    }

    /// `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the node (SIGTERM: a controlled shutdown) and waits for it to end.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.signal("TERM");
            assert!(
                process.wait_exit(Duration::from_secs(60)).is_some(),
                "Kafka did not stop\n{}",
                process.transcript()
            );
        }
    }

    /// Runs a Kafka tool to its end; it must succeed.
    fn java(&self, args: &[&str]) {
        let status = std::process::Command::new("java")
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.dir.join("log4j2.properties").display()
            ))
            .args(["-cp", &classpath()])
            .args(args)
            .current_dir(&self.dir)
            .status()
            .expect("java runs (scripts/setup.sh installs the JDK)");
        assert!(status.success(), "java {} failed: {status}", args.join(" "));
    }

    fn launch(&mut self) {
        let args: Vec<String> = [
            "-Xms256m",
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            &format!(
                "-Dlog4j2.configurationFile={}",
                self.dir.join("log4j2.properties").display()
            ),
            "-cp",
            &classpath(),
            "kafka.Kafka",
            "server.properties",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let java = PathBuf::from("java");
        let process =
            Fnhost::spawn_program(&java, &args, &BTreeMap::new(), &self.dir).expect("start Kafka");
        self.process = Some(process);
        let bootstrap = self.bootstrap();
        eventually(
            "Kafka to answer a metadata request",
            Duration::from_secs(90),
            || {
                let consumer: BaseConsumer = ClientConfig::new()
                    .set("bootstrap.servers", &bootstrap)
                    .create()
                    .ok()?;
                consumer
                    .fetch_metadata(None, Duration::from_secs(2))
                    .ok()
                    .map(|_| ())
            },
            || {
                self.process
                    .as_ref()
                    .map(Fnhost::transcript)
                    .unwrap_or_default()
            },
        );
    }

    fn admin(&self) -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("an admin client")
    }
}

/// A test certificate authority and, signed by it, the broker's certificate for 127.0.0.1,
/// written as Kafka's PEM key store (key, then certificate); returns the authority's file.
fn make_certificates(dir: &Path) -> PathBuf {
    let openssl = |args: &[&str]| {
        let output = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (Debian's openssl package)");
        assert!(
            output.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=fnhost test authority",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("a PEM file");
    std::fs::write(
        dir.join("server-keystore.pem"),
        format!("{}{}", read("server.key"), read("server.pem")),
    )
    .expect("key store");
    dir.join("ca.pem")
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

impl super::scenarios::TestBroker for KafkaBroker {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn dispatcher_env(&self) -> Vec<(String, String)> {
        let Some(secured) = &self.secured else {
            return vec![("KAFKA_BROKERS".to_owned(), self.bootstrap())];
        };
        [
            ("KAFKA_BROKERS", format!("127.0.0.1:{}", secured.port)),
            ("KAFKA_ENABLE_TLS", "true".to_owned()),
            ("KAFKA_CACERTS", secured.ca.display().to_string()),
            ("KAFKA_ENABLE_SASL", "true".to_owned()),
            ("KAFKA_USERNAME", SASL_USER.0.to_owned()),
            ("KAFKA_PASSWORD", SASL_USER.1.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn kind(&self) -> &'static str {
        "KafkaTrigger"
    }

    fn trigger_topic(&self, base: &str) -> String {
        base.to_owned()
    }

    fn create(&self, base: &str) {
        let admin = self.admin();
        let topic = NewTopic::new(base, PARTITIONS, TopicReplication::Fixed(1));
        let results = runtime()
            .block_on(admin.create_topics([&topic], &AdminOptions::new()))
            .expect("create topics");
        for result in results {
            if let Err((name, code)) = result {
                panic!("cannot create topic {name}: {code}");
            }
        }
    }

    fn publish(&self, base: &str, messages: &[(String, Vec<u8>)]) {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("linger.ms", "5")
            .create()
            .expect("a producer");
        runtime().block_on(async {
            let sends = messages.iter().map(|(key, payload)| {
                producer.send(
                    FutureRecord::to(base)
                        .key(key.as_str())
                        .payload(payload.as_slice()),
                    Duration::from_secs(30),
                )
            });
            for sent in futures::future::join_all(sends).await {
                sent.map_err(|(e, _)| e)
                    .expect("the broker has the message");
            }
        });
    }

    fn dead_letters(&self, destination: &str, count: usize) -> Vec<(u64, Option<String>)> {
        runtime().block_on(async {
            let consumer: StreamConsumer = ClientConfig::new()
                .set("bootstrap.servers", self.bootstrap())
                .set("group.id", "fnhost-test-dead-letters")
                .set("auto.offset.reset", "earliest")
                .create()
                .expect("a consumer");
            consumer.subscribe(&[destination]).expect("subscribe");
            let mut out = Vec::new();
            while out.len() < count {
                let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
                    .await
                    .expect("the dead letters arrive in time")
                    .expect("a message");
                let data: serde_json::Value =
                    serde_json::from_slice(message.payload().unwrap_or_default()).expect("JSON");
                let attempts = message
                    .headers()
                    .and_then(|h| h.iter().find(|h| h.key == "fnhost-attempts"))
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default();
                out.push((data["n"].as_u64().expect("n"), Some(attempts)));
            }
            out
        })
    }

    fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn id_prefix(&self, base: &str) -> String {
        format!("{base}-")
    }
}
