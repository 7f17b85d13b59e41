//! `fnhost-trigger-kafka`: KafkaTrigger delivery, at-least-once, through librdkafka
//! (`docs/design/004-message-triggers.md`, decision 8).
//!
//! - [`consume`]: one consumer group per (trigger, function), upstream's group name; each
//!   message delivered through `fnhost-delivery` in order per partition and key; an offset is
//!   stored for commit only when every message before it is done (delivered, or produced to
//!   the dead-letter topic).

pub mod consume;

use rdkafka::ClientConfig;

/// The producer of dead letters, shared by a dispatcher's Kafka pairs.
pub use rdkafka::producer::FutureProducer;

/// Why a Kafka pair stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// librdkafka refused the configuration or a call failed.
    #[error("Kafka: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    /// The consumer's message stream ended.
    #[error("the consumer's messages stopped: {0}")]
    Messages(String),
}

/// The client settings every consumer and producer of the dispatcher shares.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", "fnhost-dispatcher");
    config
}
