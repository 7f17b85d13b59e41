//! What a function produces.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use crate::InvokeError;

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

    /// A response from parts a function produced outside Rust (a worker's RESULT, a script's
    /// return value): a status outside 100–999 or a header HTTP does not allow is
    /// [`InvokeError::BadReturn`], naming what was wrong.
    pub fn from_parts(
        status: u16,
        headers: impl IntoIterator<Item = (String, String)>,
        body: impl Into<Bytes>,
    ) -> Result<Self, InvokeError> {
        let status = StatusCode::from_u16(status)
            .map_err(|_| InvokeError::BadReturn(format!("invalid status code {status}")))?;
        let mut response = Response::ok(body);
        response.status = status;
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| InvokeError::BadReturn(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| InvokeError::BadReturn(format!("invalid value for header {name}")))?;
            response.headers.append(name, value);
        }
        Ok(response)
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
