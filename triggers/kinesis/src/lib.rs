//! `fnhost-trigger-kinesis`: KinesisTrigger delivery, at-least-once, through the AWS SDK for
//! Rust (`docs/design/004-message-triggers.md`, decision 9), the client a real AWS account
//! uses, pointed at the trigger's `endpoint` when it names one.
//!
//! - [`checkpoint`]: where the last delivered sequence number of each (trigger, shard) is kept
//!   (Kinesis keeps no consumer position).
//! - [`consume`]: reads the shard from its checkpoint (`AFTER_SEQUENCE_NUMBER`, or
//!   `TRIM_HORIZON` the first time), delivers each batch through `fnhost-delivery` in order per
//!   partition key, puts dead letters into the dead-letter stream, and moves the checkpoint once
//!   the whole batch is done.

pub mod checkpoint;
pub mod consume;

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Why a Kinesis pair stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum KinesisError {
    /// A Kinesis call failed.
    #[error("Kinesis {call}: {detail}")]
    Call {
        /// The API call.
        call: &'static str,
        /// The SDK's error, with its source.
        detail: String,
    },
    /// The checkpoint could not be read or written.
    #[error("checkpoint {key}: {source}")]
    Checkpoint {
        /// The checkpoint's key.
        key: String,
        /// Why.
        source: std::io::Error,
    },
    /// The shard was closed (resharded) and has no more records.
    #[error("shard {0} is closed")]
    ShardClosed(String),
}

impl KinesisError {
    fn call(call: &'static str, error: impl std::error::Error) -> Self {
        let mut detail = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        KinesisError::Call { call, detail }
    }
}

/// The AWS access key of a trigger's Secret (`aws_access_key_id`, `aws_secret_access_key`).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `aws_access_key_id`.
    pub id: String,
    /// `aws_secret_access_key`.
    pub secret: String,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A Kinesis client for `region` with `key`, at `endpoint` if given (else AWS's), over HTTPS
/// with rustls (ring) or plain HTTP for an `http://` endpoint.
pub fn client(region: &str, key: &AccessKey, endpoint: Option<&str>) -> aws_sdk_kinesis::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            key.id.clone(),
            key.secret.clone(),
            None,
            None,
            "kubeless-secret",
        ))
        .http_client(http);
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_kinesis::Client::from_conf(config.build())
}
