//! What a function's answer means for the message it was given.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// The outcome of one attempt to deliver a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A 2xx: the message is delivered.
    Delivered(StatusCode),
    /// 429 or 503: the function asks to be sent less; the attempt does not count. The wait it
    /// asked for (`Retry-After` in seconds), if any.
    Throttled(StatusCode, Option<Duration>),
    /// Any other answer, or none: a failed attempt.
    Failed(Failure),
}

/// Why an attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The function answered with this status (408 for its own timeout, 5xx, other 4xx).
    #[error("the function answered {0}")]
    Status(StatusCode),
    /// No connection to the function's Service.
    #[error("cannot reach the function: {0}")]
    Unreachable(String),
    /// The connection broke before a complete answer.
    #[error("the request failed: {0}")]
    Broken(String),
    /// No answer within the dispatcher's attempt timeout.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// Reads an answer's status and headers.
pub fn classify(status: StatusCode, headers: &HeaderMap) -> Answer {
    if status.is_success() {
        Answer::Delivered(status)
    } else if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        Answer::Throttled(status, retry_after(headers))
    } else {
        Answer::Failed(Failure::Status(status))
    }
}

/// `Retry-After` in whole seconds (its HTTP-date form is not used by functions; it is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let none = HeaderMap::new();
        assert_eq!(
            classify(StatusCode::NO_CONTENT, &none),
            Answer::Delivered(StatusCode::NO_CONTENT)
        );
        let mut wait = HeaderMap::new();
        wait.insert(http::header::RETRY_AFTER, "3".parse().expect("value"));
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &wait),
            Answer::Throttled(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(3)))
        );
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &none),
            Answer::Throttled(StatusCode::SERVICE_UNAVAILABLE, None)
        );
        for status in [
            StatusCode::REQUEST_TIMEOUT,
            StatusCode::BAD_REQUEST,
            StatusCode::INTERNAL_SERVER_ERROR,
        ] {
            assert_eq!(
                classify(status, &none),
                Answer::Failed(Failure::Status(status))
            );
        }
    }
}
