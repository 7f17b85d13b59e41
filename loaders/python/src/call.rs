//! One call, with the GIL held: build `event` and `context` as upstream Kubeless does, call
//! the handler, and turn what it returned or raised into a reply.

use std::time::Duration;

use fnhost_loader_api::{Context, DataKind, Invocation, InvokeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::{IntoPyObjectExt, intern};

use crate::convert;
use crate::interpreter::{Bootstrap, Handler, describe_err};
use crate::job::Reply;

/// Everything a call needs, shared by all interpreter threads.
pub(crate) struct Loaded {
    pub(crate) handler: Handler,
    /// The `context` dict; each call gets a copy so one call cannot change the next one's.
    pub(crate) context: Py<PyDict>,
    pub(crate) boot: Bootstrap,
    pub(crate) timeout: Duration,
}

/// What a call produced.
pub(crate) enum Outcome<'py> {
    /// A reply, ready to send.
    Reply(Reply),
    /// The handler returned an awaitable; it must run on the event loop.
    Pending(Bound<'py, PyAny>),
}

/// The `context` dict (`function-name`, `timeout` as a float, `runtime`, `memory-limit`) of
/// the function's one [`Context`].
pub(crate) fn build_context<'py>(
    py: Python<'py>,
    context: &Context,
) -> PyResult<Bound<'py, PyDict>> {
    let ctx = PyDict::new(py);
    ctx.set_item("function-name", &context.function_name)?;
    ctx.set_item("timeout", context.timeout_seconds())?;
    ctx.set_item("runtime", &context.runtime)?;
    ctx.set_item("memory-limit", &context.memory_limit)?;
    Ok(ctx)
}

/// Calls the handler once.
pub(crate) fn call<'py>(py: Python<'py>, loaded: &Loaded, invocation: &Invocation) -> Outcome<'py> {
    let event = match build_event(py, &loaded.boot, invocation) {
        Ok(event) => event,
        Err(err) => return Outcome::Reply(Err(err)),
    };
    let context = match loaded.context.bind(py).copy() {
        Ok(ctx) => ctx,
        Err(err) => return Outcome::Reply(Err(InvokeError::Unavailable(describe_err(py, &err)))),
    };
    match loaded.handler.callable.bind(py).call1((event, context)) {
        Ok(value) if is_awaitable(py, loaded, &value) => Outcome::Pending(value),
        Ok(value) => Outcome::Reply(convert::to_response(py, &loaded.boot, &value)),
        Err(err) => Outcome::Reply(convert::from_exception(
            py,
            &loaded.boot,
            &err,
            loaded.timeout,
        )),
    }
}

fn is_awaitable(py: Python<'_>, loaded: &Loaded, value: &Bound<'_, PyAny>) -> bool {
    if loaded.handler.is_coroutine_function {
        return true;
    }
    if convert::is_plain_value(value) {
        return false;
    }
    loaded
        .boot
        .isawaitable
        .bind(py)
        .call1((value,))
        .and_then(|r| r.is_truthy())
        .unwrap_or(false)
}

/// `{'data', 'event-id', 'event-type', 'event-time', 'event-namespace', 'extensions': {'request'}}`.
fn build_event<'py>(
    py: Python<'py>,
    boot: &Bootstrap,
    inv: &Invocation,
) -> Result<Bound<'py, PyDict>, InvokeError> {
    let internal = |e: PyErr| InvokeError::Unavailable(describe_err(py, &e));
    let body = PyBytes::new(py, &inv.body);
    let data = event_data(py, boot, inv, &body)?;
    let request = build_request(py, boot, inv, &body).map_err(internal)?;
    let build = || -> PyResult<Bound<'py, PyDict>> {
        let extensions = PyDict::new(py);
        extensions.set_item(intern!(py, "request"), request)?;
        let event = PyDict::new(py);
        event.set_item(intern!(py, "data"), data)?;
        event.set_item(intern!(py, "event-id"), inv.event.id.as_deref())?;
        event.set_item(intern!(py, "event-type"), inv.event.event_type.as_deref())?;
        event.set_item(intern!(py, "event-time"), inv.event.time.as_deref())?;
        event.set_item(
            intern!(py, "event-namespace"),
            inv.event.namespace.as_deref(),
        )?;
        event.set_item(intern!(py, "extensions"), extensions)?;
        Ok(event)
    };
    build().map_err(internal)
}

/// `data` as upstream Python has it, for the kind the proxy decided: the parsed JSON, `None`
/// for an empty body declared JSON, and otherwise the raw body as `bytes`.
fn event_data<'py>(
    py: Python<'py>,
    boot: &Bootstrap,
    inv: &Invocation,
    body: &Bound<'py, PyBytes>,
) -> Result<Bound<'py, PyAny>, InvokeError> {
    match inv.data {
        DataKind::Json => boot.json_loads.bind(py).call1((body,)).map_err(|err| {
            // The proxy checked the JSON; what Python still refuses is its own limit
            // (recursion), reported as the client's input.
            InvokeError::BadRequest(format!("the body is not valid JSON: {}", err.value(py)))
        }),
        DataKind::Empty if inv.is_json() => Ok(py.None().into_bound(py)),
        DataKind::Empty | DataKind::Raw => Ok(body.clone().into_any()),
    }
}

fn build_request<'py>(
    py: Python<'py>,
    boot: &Bootstrap,
    inv: &Invocation,
    body: &Bound<'py, PyBytes>,
) -> PyResult<Bound<'py, PyAny>> {
    let headers = PyList::empty(py);
    for (name, value) in &inv.headers {
        let value = match value.to_str() {
            Ok(s) => PyString::new(py, s),
            // Not ASCII: decode as UTF-8 with replacement, as a WSGI server would pass latin-1.
            Err(_) => PyString::new(py, &String::from_utf8_lossy(value.as_bytes())),
        };
        headers.append(PyTuple::new(py, [PyString::new(py, name.as_str()), value])?)?;
    }
    let remote = inv.remote_addr.map(|a| a.ip().to_string());
    let args = (
        inv.method.as_str(),
        inv.path(),
        inv.query(),
        headers,
        body,
        remote,
        intern!(py, "http"),
        inv.version_str(),
    )
        .into_bound_py_any(py)?;
    boot.request_class
        .bind(py)
        .call1(args.cast_into::<PyTuple>()?)
}
