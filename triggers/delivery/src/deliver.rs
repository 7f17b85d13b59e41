//! One message to one function: attempts until it is delivered, or until it must go to dead
//! letter. Dropping the future stops it (the message is then not acknowledged, so the broker
//! delivers it again).

use http::Uri;

use crate::answer::{Answer, Failure};
use crate::event::{self, Message, Source};
use crate::metrics::PairMetrics;
use crate::policy::{Next, RetryPolicy};
use crate::post::Poster;

/// A (trigger, function) pair: where its messages go and how it retries.
#[derive(Clone)]
pub struct Pair {
    /// The trigger kind.
    pub source: Source,
    /// `namespace/trigger → function`, for logs.
    pub name: String,
    /// The function's Service URL.
    pub target: Uri,
    /// How failed attempts are retried.
    pub policy: RetryPolicy,
    /// The pair's counters.
    pub metrics: PairMetrics,
    /// The HTTP client.
    pub poster: Poster,
}

/// How a message's delivery ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Final {
    /// The function answered 2xx at this attempt (throttled attempts included).
    Delivered {
        /// Attempts made, 1 when the first one succeeded.
        attempts: u32,
    },
    /// The policy's attempts are used up and the trigger names a dead-letter destination.
    DeadLetter {
        /// Failed attempts made.
        failed: u32,
        /// Why the last one failed.
        last: Failure,
    },
}

impl Pair {
    /// Delivers `message`, retrying as the policy says; counts every attempt.
    pub async fn deliver(&self, message: &Message) -> Final {
        let headers = event::headers(self.source, message);
        let (mut failed, mut throttled) = (0u32, 0u32);
        loop {
            let answer = self
                .poster
                .post(&self.target, headers.clone(), message.body.clone())
                .await;
            match answer {
                Answer::Delivered(_) => {
                    self.metrics.delivered(message.time);
                    return Final::Delivered {
                        attempts: failed + throttled + 1,
                    };
                }
                Answer::Throttled(status, asked) => {
                    throttled += 1;
                    self.metrics.throttled();
                    let wait = self.policy.after_throttle(throttled, asked);
                    tracing::debug!(pair = %self.name, id = %message.id, %status, ?wait, "throttled");
                    tokio::time::sleep(wait).await;
                }
                Answer::Failed(failure) => {
                    failed += 1;
                    self.metrics.retried();
                    match self.policy.after_failure(failed) {
                        Next::DeadLetter => {
                            return Final::DeadLetter {
                                failed,
                                last: failure,
                            };
                        }
                        Next::RetryAfter(wait) => {
                            tracing::warn!(pair = %self.name, id = %message.id, attempt = failed,
                                "{failure}; retrying in {wait:?}");
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
            }
        }
    }
}
