//! The one place where failures become HTTP responses (and get logged).
//!
//! | failure | status | body |
//! |---|---|---|
//! | invalid input ([`InvokeError::BadRequest`], a body declared JSON that is not) | 400 | `Bad Request: <what is wrong>` |
//! | body over `FUNC_MEMFILE_MAX` | 413 | `Payload Too Large: …` |
//! | body not in within `FNHOST_BODY_READ_TIMEOUT`, or under `FNHOST_MIN_BODY_RATE` | 408 | `Request Timeout: …` (and the connection is closed) |
//! | an HTTP/1.1 request without exactly one `Host` | 400 | `Bad Request: …` |
//! | the call timed out | 408 | `Timeout while processing the function` (upstream's text) |
//! | the function raised | 500 | `Internal Server Error` (traceback in the log only) |
//! | unsupported return value | 500 | `Internal Server Error` (detail in the log only) |
//! | engine unavailable | 503 | `Service Unavailable` |
//! | the process running the call died | 500 | `Internal Server Error: the function's process died during the call` (or `... went over its memory limit ...`) |
//! | the client left before the call started | 499 (nobody reads it; the access log does) | `Client Closed Request` |

use bytes::Bytes;
use fnhost_loader_api::{InvokeError, Response};
use http::StatusCode;

/// Why a request was rejected before reaching the function.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The body is larger than the limit.
    #[error("the request body is larger than {limit} bytes (FUNC_MEMFILE_MAX)")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The whole body did not arrive within the body read timeout.
    #[error(
        "the request body did not arrive within {timeout:?} (FNHOST_BODY_READ_TIMEOUT; {received} bytes came)"
    )]
    BodyTimeout {
        /// Bytes received before the timeout.
        received: u64,
        /// The timeout.
        timeout: std::time::Duration,
    },
    /// The body arrived slower than the minimum rate.
    #[error(
        "the request body arrives too slowly: {received} bytes in {elapsed:.1?}, under {min_rate} bytes a second (FNHOST_MIN_BODY_RATE)"
    )]
    BodyTooSlow {
        /// Bytes received so far.
        received: u64,
        /// Since the head arrived.
        elapsed: std::time::Duration,
        /// The minimum average rate.
        min_rate: u64,
    },
    /// An HTTP/1.1 request must name its host exactly once (RFC 9112 §3.2).
    #[error("an HTTP/1.1 request needs exactly one Host header ({found} found)")]
    HostHeader {
        /// How many `Host` headers the request had.
        found: usize,
    },
    /// The body could not be read.
    #[error("cannot read the request body: {0}")]
    BodyRead(String),
    /// The body says it is JSON and is not.
    #[error(transparent)]
    InvalidJson(#[from] fnhost_loader_api::InvalidJson),
}

/// The response for a failed call, logging what the client does not see.
pub fn invoke_error(function: &str, err: &InvokeError) -> Response {
    match err {
        InvokeError::BadRequest(detail) => {
            tracing::info!(function, "rejected a request: {detail}");
            Response::text(StatusCode::BAD_REQUEST, format!("Bad Request: {detail}\n"))
        }
        InvokeError::Timeout(after) => {
            tracing::warn!(function, "call timed out after {after:?}");
            Response::text(
                StatusCode::REQUEST_TIMEOUT,
                "Timeout while processing the function\n",
            )
        }
        InvokeError::FunctionFailed(traceback) => {
            tracing::error!(function, "the function raised an exception:\n{traceback}");
            Response::text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n")
        }
        InvokeError::BadReturn(detail) => {
            tracing::error!(
                function,
                "the function's return value cannot be sent: {detail}"
            );
            Response::text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n")
        }
        InvokeError::ClientGone => {
            tracing::debug!(function, "the client left before its call started");
            Response::text(
                StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
                "Client Closed Request\n",
            )
        }
        InvokeError::Crashed {
            detail,
            out_of_memory,
        } => {
            tracing::error!(
                function,
                "the function's process died during a call: {detail}"
            );
            let body = if *out_of_memory {
                "Internal Server Error: the function went over its memory limit \
                 (FUNC_MEMORY_LIMIT) and its process was stopped\n"
            } else {
                "Internal Server Error: the function's process died during the call\n"
            };
            Response::text(StatusCode::INTERNAL_SERVER_ERROR, body)
        }
        InvokeError::Unavailable(detail) => {
            tracing::error!(function, "the function is unavailable: {detail}");
            Response::text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n")
        }
    }
}

/// The response for a request rejected before the call.
pub fn request_error(err: &RequestError) -> Response {
    match err {
        RequestError::BodyTooLarge { .. } => Response::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Payload Too Large: {err}\n"),
        ),
        RequestError::BodyTimeout { .. } | RequestError::BodyTooSlow { .. } => Response::text(
            StatusCode::REQUEST_TIMEOUT,
            format!("Request Timeout: {err}\n"),
        ),
        RequestError::BodyRead(_)
        | RequestError::InvalidJson(_)
        | RequestError::HostHeader { .. } => {
            Response::text(StatusCode::BAD_REQUEST, format!("Bad Request: {err}\n"))
        }
    }
}

/// A plain-text response for the proxy's own routes.
pub fn plain(status: StatusCode, body: &'static str) -> Response {
    Response::text(status, Bytes::from_static(body.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_failure_has_its_status() {
        let cases = [
            (InvokeError::BadRequest("x".into()), 400),
            (InvokeError::Timeout(Duration::from_secs(1)), 408),
            (InvokeError::FunctionFailed("Traceback".into()), 500),
            (InvokeError::BadReturn("int".into()), 500),
            (InvokeError::Unavailable("gone".into()), 503),
            (InvokeError::ClientGone, 499),
            (
                InvokeError::Crashed {
                    detail: "signal 11".into(),
                    out_of_memory: false,
                },
                500,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(invoke_error("f", &err).status.as_u16(), status, "{err}");
        }
        let rejected = [
            (RequestError::BodyTooLarge { limit: 1 }, 413),
            (
                RequestError::BodyTimeout {
                    received: 1,
                    timeout: Duration::from_secs(1),
                },
                408,
            ),
            (
                RequestError::BodyTooSlow {
                    received: 1,
                    elapsed: Duration::from_secs(6),
                    min_rate: 1024,
                },
                408,
            ),
            (RequestError::HostHeader { found: 0 }, 400),
        ];
        for (err, status) in rejected {
            assert_eq!(request_error(&err).status.as_u16(), status, "{err}");
        }
    }

    #[test]
    fn tracebacks_never_reach_the_client() {
        let r = invoke_error(
            "f",
            &InvokeError::FunctionFailed("Traceback: secret".into()),
        );
        assert!(!String::from_utf8_lossy(&r.body).contains("secret"));
    }
}
