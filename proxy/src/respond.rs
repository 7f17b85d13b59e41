//! The one place where failures become HTTP responses (and get logged).
//!
//! | failure | status | body |
//! |---|---|---|
//! | invalid input ([`InvokeError::BadRequest`], a body declared JSON that is not) | 400 | `Bad Request: <what is wrong>` |
//! | body over `FUNC_MEMFILE_MAX` | 413 | `Payload Too Large: …` |
//! | the call timed out | 408 | `Timeout while processing the function` (upstream's text) |
//! | the function raised | 500 | `Internal Server Error` (traceback in the log only) |
//! | unsupported return value | 500 | `Internal Server Error` (detail in the log only) |
//! | engine unavailable | 503 | `Service Unavailable` |
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
        RequestError::BodyRead(_) | RequestError::InvalidJson(_) => {
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
        ];
        for (err, status) in cases {
            assert_eq!(invoke_error("f", &err).status.as_u16(), status, "{err}");
        }
        assert_eq!(
            request_error(&RequestError::BodyTooLarge { limit: 1 })
                .status
                .as_u16(),
            413
        );
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
