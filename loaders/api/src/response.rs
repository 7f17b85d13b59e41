//! What a function produces.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// A function's answer: status, headers (a multimap, so several `Set-Cookie` survive) and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers, in the order the function set them.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

impl Response {
    /// A 200 response with the given body and no headers.
    pub fn ok(body: impl Into<Bytes>) -> Self {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    /// A response with a status and a `text/plain; charset=utf-8` body.
    pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Response {
            status,
            headers,
            body: body.into(),
        }
    }
}
