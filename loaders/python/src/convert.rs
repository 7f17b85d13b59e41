//! Turning what a Python function returned or raised into an HTTP response.
//!
//! | returned | response |
//! |---|---|
//! | `str` | UTF-8 body, `text/html; charset=UTF-8` (as Bottle) |
//! | `bytes`, `bytearray` | body as is, `text/html; charset=UTF-8` |
//! | `dict` | JSON, `application/json` (bytes values are decoded as UTF-8) |
//! | list/tuple of `str` (or of `bytes`) | the items concatenated (as Bottle) |
//! | other list/tuple, `int`, `float`, `bool` | JSON, `application/json` |
//! | `None` | empty 200 |
//! | `fnhost.Response` or a Bottle `HTTPResponse` | its status, headers and body |
//!
//! A raised `fnhost.HTTPError` (or Bottle `HTTPError`) answers with its status; any other
//! exception is a failure (500); `fnhost.FunctionTimeout` is a timeout (408).

use std::time::Duration;

use bytes::Bytes;
use fnhost_loader_api::{InvokeError, Response};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};

use crate::interpreter::{Bootstrap, describe_err};

const TEXT_HTML: &str = "text/html; charset=UTF-8";
const APPLICATION_JSON: &str = "application/json";

/// `true` for values that are certainly not awaitable, checked without calling Python.
pub(crate) fn is_plain_value(value: &Bound<'_, PyAny>) -> bool {
    value.is_none()
        || value.is_instance_of::<PyString>()
        || value.is_instance_of::<PyBytes>()
        || value.is_instance_of::<PyDict>()
        || value.is_instance_of::<PyList>()
}

/// Maps a returned value to a response.
pub(crate) fn to_response(
    py: Python<'_>,
    boot: &Bootstrap,
    value: &Bound<'_, PyAny>,
) -> Result<Response, InvokeError> {
    if !is_plain_value(value) && is_response_like(py, value) {
        return response_from_object(py, boot, value);
    }
    let (body, content_type) = body_of(py, boot, value)?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(Response::new(StatusCode::OK, headers, body))
}

/// Maps a raised exception to a reply.
pub(crate) fn from_exception(
    py: Python<'_>,
    boot: &Bootstrap,
    err: &PyErr,
    timeout: Duration,
) -> Result<Response, InvokeError> {
    let value = err.value(py);
    if value
        .get_type()
        .name()
        .is_ok_and(|n| n == "FunctionTimeout")
    {
        return Err(InvokeError::Timeout(timeout));
    }
    if is_response_like(py, value) {
        return response_from_object(py, boot, value);
    }
    Err(InvokeError::FunctionFailed(describe_err(py, err)))
}

/// `fnhost.Response`/`HTTPError` and Bottle's `HTTPResponse`/`HTTPError` share these names.
fn is_response_like(py: Python<'_>, value: &Bound<'_, PyAny>) -> bool {
    value.hasattr(intern!(py, "status_code")).unwrap_or(false)
        && value.hasattr(intern!(py, "headerlist")).unwrap_or(false)
        && value.hasattr(intern!(py, "body")).unwrap_or(false)
}

fn response_from_object(
    py: Python<'_>,
    boot: &Bootstrap,
    obj: &Bound<'_, PyAny>,
) -> Result<Response, InvokeError> {
    let bad = |what: String| InvokeError::BadReturn(what);
    let status: u16 = obj
        .getattr(intern!(py, "status_code"))
        .and_then(|s| s.extract())
        .map_err(|_| bad("status_code is not an integer".to_owned()))?;
    let status = StatusCode::from_u16(status)
        .map_err(|_| bad(format!("status {status} is not a valid HTTP status")))?;
    let body = obj
        .getattr(intern!(py, "body"))
        .map_err(|e| bad(describe_err(py, &e)))?;
    let (body, default_type) = body_of(py, boot, &body)?;
    let mut headers = header_list(py, obj)?;
    let explicit_type = obj
        .getattr(intern!(py, "content_type"))
        .ok()
        .filter(|t| !t.is_none())
        .and_then(|t| t.extract::<String>().ok());
    if let Some(ct) = explicit_type {
        let value = HeaderValue::try_from(ct.as_str())
            .map_err(|_| bad(format!("invalid content type {ct:?}")))?;
        headers.insert(header::CONTENT_TYPE, value);
    } else if !headers.contains_key(header::CONTENT_TYPE) && !body.is_empty() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(default_type));
    }
    Ok(Response::new(status, headers, body))
}

/// The `headerlist` as a multimap (the framing headers are dropped by [`Response::new`]).
fn header_list(py: Python<'_>, obj: &Bound<'_, PyAny>) -> Result<HeaderMap, InvokeError> {
    let bad = |what: String| InvokeError::BadReturn(what);
    let list: Vec<(String, String)> = obj
        .getattr(intern!(py, "headerlist"))
        .and_then(|l| l.extract())
        .map_err(|_| bad("headers must be (name, value) pairs of strings".to_owned()))?;
    let mut headers = HeaderMap::with_capacity(list.len());
    for (name, value) in list {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| bad(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|_| bad(format!("invalid value for header {name}")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// The body bytes of a returned value and the content type it implies.
fn body_of(
    py: Python<'_>,
    boot: &Bootstrap,
    value: &Bound<'_, PyAny>,
) -> Result<(Bytes, &'static str), InvokeError> {
    if value.is_none() {
        return Ok((Bytes::new(), TEXT_HTML));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok((utf8(py, s)?, TEXT_HTML));
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok((Bytes::copy_from_slice(b.as_bytes()), TEXT_HTML));
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        return Ok((Bytes::from(b.to_vec()), TEXT_HTML));
    }
    if value.is_instance_of::<PyDict>() || is_json_scalar(value) {
        return Ok((json(py, boot, value)?, APPLICATION_JSON));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return sequence_body(py, boot, value);
    }
    let type_name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    Err(InvokeError::BadReturn(format!(
        "the function returned a {type_name}; return str, bytes, dict, list, None or fnhost.Response"
    )))
}

fn is_json_scalar(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<PyBool>()
        || value.is_instance_of::<PyInt>()
        || value.is_instance_of::<PyFloat>()
}

/// A list of strings (or of bytes) is concatenated, as Bottle did; anything else is JSON.
fn sequence_body(
    py: Python<'_>,
    boot: &Bootstrap,
    value: &Bound<'_, PyAny>,
) -> Result<(Bytes, &'static str), InvokeError> {
    let items: Vec<Bound<'_, PyAny>> = value
        .try_iter()
        .and_then(|it| it.collect())
        .map_err(|e| InvokeError::BadReturn(describe_err(py, &e)))?;
    if items.iter().all(|i| i.is_instance_of::<PyString>()) {
        let mut out = Vec::new();
        for item in &items {
            out.extend_from_slice(&utf8(
                py,
                item.cast::<PyString>()
                    .map_err(|e| InvokeError::BadReturn(e.to_string()))?,
            )?);
        }
        return Ok((Bytes::from(out), TEXT_HTML));
    }
    if items.iter().all(|i| i.is_instance_of::<PyBytes>()) {
        let mut out = Vec::new();
        for item in &items {
            if let Ok(b) = item.cast::<PyBytes>() {
                out.extend_from_slice(b.as_bytes());
            }
        }
        return Ok((Bytes::from(out), TEXT_HTML));
    }
    Ok((json(py, boot, value)?, APPLICATION_JSON))
}

fn utf8(py: Python<'_>, s: &Bound<'_, PyString>) -> Result<Bytes, InvokeError> {
    match s.to_str() {
        Ok(text) => Ok(Bytes::copy_from_slice(text.as_bytes())),
        Err(e) => Err(InvokeError::BadReturn(format!(
            "the returned string is not valid Unicode: {}",
            describe_err(py, &e)
        ))),
    }
}

fn json(py: Python<'_>, boot: &Bootstrap, value: &Bound<'_, PyAny>) -> Result<Bytes, InvokeError> {
    let text = boot
        .json_dumps
        .bind(py)
        .call1((value,))
        .map_err(|e| InvokeError::BadReturn(describe_err(py, &e)))?;
    let text = text
        .cast::<PyString>()
        .map_err(|e| InvokeError::BadReturn(e.to_string()))?;
    utf8(py, text)
}
