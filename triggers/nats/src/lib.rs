//! `fnhost-trigger-nats`: NATSTrigger delivery, at-least-once, over JetStream
//! (`docs/design/004-message-triggers.md`, decision 7).
//!
//! - [`streams`]: makes sure a stream captures a subject (the trigger's, and its dead-letter
//!   subject), so a plain core-NATS publish is stored until delivered.
//! - [`consume`]: one durable pull consumer per (trigger, function), its messages delivered
//!   through `fnhost-delivery`, acknowledged only after the function's 2xx or a stored dead
//!   letter.

pub mod consume;
pub mod streams;

/// Why a NATS pair stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// Connecting to the server failed.
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        /// The server URL.
        url: String,
        /// The client's error.
        source: async_nats::ConnectError,
    },
    /// A JetStream request (stream, consumer, publish) failed.
    #[error("JetStream: {0}")]
    JetStream(String),
    /// A trigger's subject is not a valid NATS subject.
    #[error("{0:?} is not a valid NATS subject")]
    Subject(String),
    /// The consumer's message stream ended or failed.
    #[error("the consumer's messages stopped: {0}")]
    Messages(String),
}

impl NatsError {
    fn jetstream(error: impl std::fmt::Display) -> Self {
        NatsError::JetStream(error.to_string())
    }
}

/// A JetStream handle, what the consumers and stream calls take.
pub use async_nats::jetstream::Context;

/// The JetStream handle of a connection.
pub fn jetstream(client: async_nats::Client) -> Context {
    async_nats::jetstream::new(client)
}

/// Connects to `url` (e.g. `nats://127.0.0.1:4222`), retrying while the server is not up yet.
pub async fn connect(url: &str) -> Result<async_nats::Client, NatsError> {
    async_nats::ConnectOptions::new()
        .name("fnhost-dispatcher")
        .retry_on_initial_connect()
        .connect(url)
        .await
        .map_err(|source| NatsError::Connect {
            url: url.to_owned(),
            source,
        })
}
