//! KafkaTriggers against a real Apache Kafka 4 node in KRaft mode (`support/kafka.rs`),
//! functions served by fnhost and the real dispatcher binary, through the shared scenarios
//! (`support/scenarios.rs`).

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

broker_tests!(|dir: &std::path::Path| support::kafka::KafkaBroker::start(&dir.join("kafka")));
