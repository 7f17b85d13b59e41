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
        let mut response = Response::ok(self.body);
        response.status = status;
        for (name, value) in self.headers {
            let name = HeaderName::from_bytes(&name).map_err(|_| {
                InvokeError::BadReturn(format!(
                    "invalid header name {:?}",
                    String::from_utf8_lossy(&name)
                ))
            })?;
            let value = HeaderValue::from_bytes(&value)
                .map_err(|_| InvokeError::BadReturn(format!("invalid value for header {name}")))?;
            response.headers.append(name, value);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
