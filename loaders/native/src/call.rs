//! One call: the request and context as the ABI's `fnhost_request`, and the built answer as a
//! [`Response`].

use fnhost_loader_api::{Context, Invocation, InvokeError, Response};

use crate::abi::{self, HandlerFn, RawHeader, RawRequest, RawStr};

/// Calls `handler` for `invocation`.
pub fn run(
    handler: HandlerFn,
    invocation: &Invocation,
    context: &Context,
) -> Result<Response, InvokeError> {
    let headers: Vec<RawHeader<'_>> = invocation
        .headers
        .iter()
        .map(|(name, value)| RawHeader {
            name: RawStr::new(name.as_str().as_bytes()),
            value: RawStr::new(value.as_bytes()),
        })
        .collect();
    let meta = &invocation.event;
    let (event_id, event_type, event_time, event_namespace) = (
        text(&meta.id),
        text(&meta.event_type),
        text(&meta.time),
        text(&meta.namespace),
    );
    let request = RawRequest {
        method: RawStr::new(invocation.method.as_str().as_bytes()),
        path: RawStr::new(invocation.uri.path().as_bytes()),
        query: RawStr::new(invocation.uri.query().unwrap_or("").as_bytes()),
        headers: headers.as_ptr(),
        headers_len: headers.len(),
        body: RawStr::new(&invocation.body),
        event_id: RawStr::new(event_id),
        event_type: RawStr::new(event_type),
        event_time: RawStr::new(event_time),
        event_namespace: RawStr::new(event_namespace),
        function_name: RawStr::new(context.function_name.as_bytes()),
        runtime: RawStr::new(context.runtime.as_bytes()),
        memory_limit: RawStr::new(context.memory_limit.as_bytes()),
        timeout_seconds: context.timeout_seconds(),
    };
    let (code, built) = abi::call(handler, &request);
    built.finish(
        &context.function_name,
        code,
        "no message (host->set_error was not called)",
    )
}

fn text(value: &Option<String>) -> &[u8] {
    value.as_deref().unwrap_or("").as_bytes()
}
