//! What a function produces.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use crate::InvokeError;

/// A function's answer: status, headers (a multimap, so several `Set-Cookie` survive) and body.
///
/// Built only through this crate's constructors ([`Response::new`] and the ones on top of it),
/// which drop the framing headers a function must not set: the server frames the body itself.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers, in the order the function set them.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

/// Headers that frame the message or the connection (RFC 9110 §7.6.1, RFC 9112 §6): the
/// server sets them from the body it sends, so a function's are dropped.
pub static FRAMING_HEADERS: [HeaderName; 8] = [
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
];

impl Response {
    /// The one checked constructor every loader's answer goes through: `headers` as the
    /// function set them, minus [`FRAMING_HEADERS`].
    pub fn new(status: StatusCode, mut headers: HeaderMap, body: impl Into<Bytes>) -> Self {
        // Usually none is there: one pass over the (few) names, removals only when needed.
        if headers.keys().any(|name| FRAMING_HEADERS.contains(name)) {
            for name in &FRAMING_HEADERS {
                headers.remove(name);
            }
        }
        Response {
            status,
            headers,
            body: body.into(),
        }
    }

    /// A 200 response with the given body and no headers.
    pub fn ok(body: impl Into<Bytes>) -> Self {
        Response::new(StatusCode::OK, HeaderMap::new(), body)
    }

    /// The same response with one more header (the proxy's own routes).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        if !FRAMING_HEADERS.contains(&name) {
            self.headers.insert(name, value);
        }
        self
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
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| InvokeError::BadReturn(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| InvokeError::BadReturn(format!("invalid value for header {name}")))?;
            map.append(name, value);
        }
        Ok(Response::new(status, map, body))
    }

    /// A response with a status and a `text/plain; charset=utf-8` body.
    pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Response::new(status, headers, body)
    }
}

/// An answer a function builds piece by piece through an ABI's callbacks (the native C ABI,
/// the Wasm ABI): status, headers and body as the function gave them, and a failure message
/// for the log. [`BuiltResponse::finish`] turns it into the call's result.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BuiltResponse {
    /// The status, when the function set one (200 otherwise).
    pub status: Option<u32>,
    /// Headers as raw bytes, in the order they were added; repeated names are kept.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
    /// What the function said about its failure, if anything.
    pub error: Option<String>,
}

impl BuiltResponse {
    /// The result of a handler that returned `code`: 0 is the response (checked as in
    /// [`BuiltResponse::into_response`]); anything else is [`InvokeError::FunctionFailed`]
    /// reading `<function> returned <code>: <error>`, with `no_error` when the function gave
    /// no message.
    pub fn finish(
        self,
        function: &str,
        code: i32,
        no_error: &str,
    ) -> Result<Response, InvokeError> {
        if code == 0 {
            return self.into_response();
        }
        let detail = self.error.unwrap_or_else(|| no_error.to_owned());
        Err(InvokeError::FunctionFailed(format!(
            "{function} returned {code}: {detail}"
        )))
    }

    /// The response: a status outside 100–999 or a header HTTP does not allow is
    /// [`InvokeError::BadReturn`], naming what was wrong. Header values are taken as bytes
    /// (an ABI hands over bytes, not text), as HTTP allows.
    pub fn into_response(self) -> Result<Response, InvokeError> {
        let status = self.status.unwrap_or(200);
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .ok_or_else(|| InvokeError::BadReturn(format!("invalid status code {status}")))?;
        let mut headers = HeaderMap::new();
        for (name, value) in self.headers {
            let name = HeaderName::from_bytes(&name).map_err(|_| {
                InvokeError::BadReturn(format!(
                    "invalid header name {:?}",
                    String::from_utf8_lossy(&name)
                ))
            })?;
            let value = HeaderValue::from_bytes(&value)
                .map_err(|_| InvokeError::BadReturn(format!("invalid value for header {name}")))?;
            headers.append(name, value);
        }
        Ok(Response::new(status, headers, self.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_headers_never_come_from_a_function() {
        let pairs = [
            ("Content-Length", "999"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "close"),
            ("Keep-Alive", "timeout=5"),
            ("Upgrade", "websocket"),
            ("X-Kept", "yes"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let response = Response::from_parts(200, pairs, "body").expect("valid");
        assert_eq!(response.headers.len(), 1, "{:?}", response.headers);
        assert_eq!(response.headers["x-kept"], "yes");
        let built = BuiltResponse {
            headers: vec![(b"content-length".to_vec(), b"1".to_vec())],
            ..BuiltResponse::default()
        };
        assert!(built.into_response().expect("valid").headers.is_empty());
        let own =
            Response::ok("x").with_header(header::CONNECTION, HeaderValue::from_static("close"));
        assert!(own.headers.is_empty());
    }

    #[test]
    fn built_responses_are_checked() {
        let built = BuiltResponse {
            status: Some(201),
            headers: vec![
                (b"Set-Cookie".to_vec(), b"a=1".to_vec()),
                (b"set-cookie".to_vec(), b"b=2".to_vec()),
            ],
            body: b"made".to_vec(),
            error: None,
        };
        let response = built.clone().finish("m.h", 0, "-").expect("valid");
        assert_eq!(response.status, StatusCode::CREATED);
        assert_eq!(response.headers.get_all("set-cookie").iter().count(), 2);
        assert_eq!(&response.body[..], b"made");

        let failed = built.clone().finish("m.h", 3, "no message");
        assert!(
            matches!(failed, Err(InvokeError::FunctionFailed(d)) if d == "m.h returned 3: no message")
        );
        for status in [42, 1000, 70_000] {
            let bad = BuiltResponse {
                status: Some(status),
                ..built.clone()
            }
            .into_response();
            assert!(
                matches!(bad, Err(InvokeError::BadReturn(d)) if d == format!("invalid status code {status}"))
            );
        }
        let bad_name = BuiltResponse {
            headers: vec![(b"Bad Header".to_vec(), b"v".to_vec())],
            ..built
        };
        assert!(
            matches!(bad_name.into_response(), Err(InvokeError::BadReturn(d)) if d.starts_with("invalid header name"))
        );
    }
}
