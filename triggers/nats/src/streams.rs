//! The streams that capture trigger subjects. A subject already captured by some stream (one
//! a user made) is left to it; any other is added to fnhost's stream `KUBELESS`, created on
//! first use. Calls are serialised: two triggers adding subjects at once must not overwrite
//! each other's stream configuration.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use tokio::sync::Mutex;

use crate::NatsError;

/// fnhost's stream for subjects no other stream captures.
pub const STREAM: &str = "KUBELESS";

/// How long messages stay in `KUBELESS` without being delivered to every consumer.
const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Serialises stream changes of one dispatcher.
#[derive(Debug, Default)]
pub struct Streams {
    lock: Mutex<()>,
}

impl Streams {
    /// The name of the stream that captures `subject`, after adding it to [`STREAM`] if none
    /// did.
    pub async fn capture(
        &self,
        js: &jetstream::Context,
        subject: &str,
    ) -> Result<String, NatsError> {
        if !valid_subject(subject) {
            return Err(NatsError::Subject(subject.to_owned()));
        }
        let _guard = self.lock.lock().await;
        if let Ok(name) = js.stream_by_subject(subject).await {
            return Ok(name);
        }
        let mut config = match js.get_stream(STREAM).await {
            Ok(mut existing) => existing
                .info()
                .await
                .map_err(NatsError::jetstream)?
                .config
                .clone(),
            Err(_) => stream::Config {
                name: STREAM.to_owned(),
                max_age: MAX_AGE,
                description: Some("Subjects of NATSTriggers, captured by fnhost-dispatcher".into()),
                ..stream::Config::default()
            },
        };
        if !config.subjects.iter().any(|s| s == subject) {
            config.subjects.push(subject.to_owned());
        }
        js.create_or_update_stream(config)
            .await
            .map_err(NatsError::jetstream)?;
        tracing::info!(subject, stream = STREAM, "the stream captures the subject");
        Ok(STREAM.to_owned())
    }
}

/// A subject a stream can capture: dot-separated non-empty tokens without spaces, `*` as a
/// whole token, `>` only as the last one.
pub fn valid_subject(subject: &str) -> bool {
    let tokens: Vec<&str> = subject.split('.').collect();
    tokens.iter().enumerate().all(|(i, token)| {
        !token.is_empty()
            && !token.contains(char::is_whitespace)
            && (*token == "*" || !token.contains('*'))
            && (*token == ">" && i + 1 == tokens.len() || !token.contains('>'))
    })
}

#[cfg(test)]
mod tests {
    use super::valid_subject;

    #[test]
    fn subjects_are_checked() {
        for ok in ["orders", "orders.eu", "orders.*", "orders.>", "a.*.c"] {
            assert!(valid_subject(ok), "{ok}");
        }
        for bad in ["", "a..b", "a b", "or*ders", "a.>.b", ".a", "a."] {
            assert!(!valid_subject(bad), "{bad:?}");
        }
    }
}
