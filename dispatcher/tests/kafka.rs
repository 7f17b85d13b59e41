//! KafkaTriggers against a real Apache Kafka 4 node in KRaft mode (`support/kafka.rs`),
//! functions served by fnhost and the real dispatcher binary, through the shared scenarios
//! (`support/scenarios.rs`).

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

broker_tests!(|dir: &std::path::Path| support::kafka::KafkaBroker::start(&dir.join("kafka")));

/// The dispatcher reaches Kafka over TLS with SASL/PLAIN credentials (upstream's
/// `KAFKA_ENABLE_TLS`, `KAFKA_CACERTS`, `KAFKA_ENABLE_SASL`, `KAFKA_USERNAME`,
/// `KAFKA_PASSWORD`): every message still arrives.
#[test]
fn every_message_arrives_over_tls_with_sasl_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = support::kafka::KafkaBroker::start_secured(&dir.path().join("kafka"));
    support::scenarios::every_message_arrives(&broker, dir.path());
}
