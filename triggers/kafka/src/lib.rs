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

/// Where Kafka is and how to reach it: what every consumer and producer of the dispatcher
/// shares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// Bootstrap servers (`host:port,...`).
    pub brokers: String,
    /// TLS to the brokers, when on.
    pub tls: Option<Tls>,
    /// SASL/PLAIN credentials, when on.
    pub sasl: Option<Sasl>,
}

/// TLS to the brokers (upstream's `KAFKA_ENABLE_TLS`, `KAFKA_CACERTS`, `KAFKA_CERT`,
/// `KAFKA_KEY`, `KAFKA_INSECURE`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// PEM file of the certificate authorities to trust; none: the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM files of the client's certificate and key, for brokers that ask for one.
    pub client: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Do not verify the brokers' certificates.
    pub insecure: bool,
}

/// SASL/PLAIN credentials (upstream's `KAFKA_ENABLE_SASL`, `KAFKA_USERNAME`, `KAFKA_PASSWORD`).
#[derive(Clone, PartialEq, Eq)]
pub struct Sasl {
    /// The user.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Sasl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sasl")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Connection {
    /// Plain text to `brokers`, no credentials.
    pub fn plain(brokers: &str) -> Connection {
        Connection {
            brokers: brokers.to_owned(),
            ..Connection::default()
        }
    }

    /// librdkafka's settings for this connection.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", "fnhost-dispatcher")
            .set("security.protocol", self.protocol());
        if let Some(tls) = &self.tls {
            if let Some(ca) = &tls.ca_file {
                config.set("ssl.ca.location", ca.display().to_string());
            }
            if let Some((cert, key)) = &tls.client {
                config
                    .set("ssl.certificate.location", cert.display().to_string())
                    .set("ssl.key.location", key.display().to_string());
            }
            if tls.insecure {
                config
                    .set("enable.ssl.certificate.verification", "false")
                    .set("ssl.endpoint.identification.algorithm", "none");
            }
        }
        if let Some(sasl) = &self.sasl {
            config
                .set("sasl.mechanisms", "PLAIN")
                .set("sasl.username", &sasl.username)
                .set("sasl.password", &sasl.password);
        }
        config
    }

    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    fn protocol(&self) -> &'static str {
        match (self.tls.is_some(), self.sasl.is_some()) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(config: &ClientConfig, key: &str) -> Option<String> {
        config.get(key).map(str::to_owned)
    }

    #[test]
    fn plain_text_by_default() {
        let config = Connection::plain("k:9092").client_config();
        assert_eq!(get(&config, "bootstrap.servers").as_deref(), Some("k:9092"));
        assert_eq!(
            get(&config, "security.protocol").as_deref(),
            Some("plaintext")
        );
        assert_eq!(get(&config, "sasl.username"), None);
    }

    #[test]
    fn tls_and_sasl_become_librdkafkas_settings() {
        let connection = Connection {
            tls: Some(Tls {
                ca_file: Some("/etc/kafka/ca.pem".into()),
                client: Some(("/c.pem".into(), "/k.pem".into())),
                insecure: true,
            }),
            sasl: Some(Sasl {
                username: "user".to_owned(),
                password: "secret".to_owned(),
            }),
            ..Connection::plain("k:9093")
        };
        let config = connection.client_config();
        assert_eq!(
            get(&config, "security.protocol").as_deref(),
            Some("sasl_ssl")
        );
        assert_eq!(
            get(&config, "ssl.ca.location").as_deref(),
            Some("/etc/kafka/ca.pem")
        );
        assert_eq!(
            get(&config, "ssl.certificate.location").as_deref(),
            Some("/c.pem")
        );
        assert_eq!(get(&config, "ssl.key.location").as_deref(), Some("/k.pem"));
        assert_eq!(
            get(&config, "enable.ssl.certificate.verification").as_deref(),
            Some("false")
        );
        assert_eq!(get(&config, "sasl.mechanisms").as_deref(), Some("PLAIN"));
        assert_eq!(get(&config, "sasl.password").as_deref(), Some("secret"));
        assert!(
            !format!("{connection:?}").contains("secret"),
            "the password stays out of logs"
        );
    }
}
