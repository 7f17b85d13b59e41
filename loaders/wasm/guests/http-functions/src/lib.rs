//! A `wasi:http/incoming-handler` component serving the conformance behaviours. fnhost gives
//! a component the Kubeless environment (`MOD_NAME`, `FUNC_HANDLER`, …); the behaviour is
//! picked by `MOD_NAME` (the fixture's module), and without it (`wasmtime serve`, the
//! benchmark) every request gets `hello world`.

use behaviours::{Outcome, Reply, Request};
use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Component;

wasi::http::proxy::export!(Component);

impl wasi::exports::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let module = std::env::var("MOD_NAME").unwrap_or_default();
        let outcome = match module.as_str() {
            "hellowithdata" => Outcome::Reply(behaviours::hellowithdata(&read(&request))),
            "printer" => Outcome::Reply(behaviours::printer(&read(&request))),
            "exception" => behaviours::exception(),
            "trap" => panic!("conformance boom (a trap)"),
            "fetch" => Outcome::Reply(fetch_healthz(request.authority().unwrap_or_default())),
            "slow" => Outcome::Reply(behaviours::slow(&read(&request))),
            "response" => Outcome::Reply(behaviours::response(&read(&request))),
            "abi" => Outcome::Reply(behaviours::abi(&read(&request), &context())),
            // A component's context is the environment fnhost gives it; its handler is `handle`.
            "context" => Outcome::Reply(behaviours::context_line(&context(), "handle")),
            "eventmeta" => Outcome::Reply(behaviours::event_line(&read(&request))),
            _ => Outcome::Reply(behaviours::helloget()),
        };
        match outcome {
            Outcome::Reply(reply) => send(reply, response_out),
            // A component reports a failure by trapping; the message goes to stderr.
            Outcome::Fail(message) => panic!("{message}"),
        }
    }
}

/// fetch: an outgoing wasi:http request to the `/healthz` of the server that called us (the
/// request's authority, from its `Host`), answered with that response's status and body.
fn fetch_healthz(host: String) -> Reply {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{OutgoingRequest, Scheme};
    let outgoing = OutgoingRequest::new(Fields::new());
    let set = outgoing
        .set_scheme(Some(&Scheme::Http))
        .and(outgoing.set_authority(Some(&host)))
        .and(outgoing.set_path_with_query(Some("/healthz")));
    if set.is_err() {
        panic!("cannot build a request to {host}");
    }
    let future = match outgoing_handler::handle(outgoing, None) {
        Ok(future) => future,
        Err(e) => panic!("the outgoing request to {host} failed: {e:?}"),
    };
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        other => panic!("no response from {host}: {other:?}"),
    };
    let status = response.status();
    let mut body = Vec::new();
    if let Ok(incoming) = response.consume() {
        if let Ok(stream) = incoming.stream() {
            while let Ok(chunk) = stream.blocking_read(64 * 1024) {
                body.extend_from_slice(&chunk);
            }
        }
    }
    Reply::ok(format!(
        "fetched http://{host}/healthz: {status} {}",
        String::from_utf8_lossy(&body)
    ))
}

fn context() -> Vec<(&'static str, String)> {
    let env = |name| std::env::var(name).unwrap_or_default();
    vec![
        ("function-name", env("FUNC_HANDLER")),
        ("runtime", env("FUNC_RUNTIME")),
        ("memory-limit", env("FUNC_MEMORY_LIMIT")),
        ("timeout", env("FUNC_TIMEOUT")),
    ]
}

fn method_name(method: Method) -> String {
    match method {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Other(other) => other,
    }
}

fn read(request: &IncomingRequest) -> Request {
    let path_with_query = request.path_with_query().unwrap_or_default();
    let (path, query) = path_with_query
        .split_once('?')
        .unwrap_or((&path_with_query, ""));
    let headers = request.headers().entries();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    Request {
        method: method_name(request.method()),
        path: path.to_owned(),
        query: query.to_owned(),
        event: [
            header("event-id"),
            header("event-type"),
            header("event-time"),
            header("event-namespace"),
        ],
        body: read_body(request),
        headers,
    }
}

fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let mut body = Vec::new();
    let Ok(incoming) = request.consume() else {
        return body;
    };
    let Ok(stream) = incoming.stream() else {
        return body;
    };
    while let Ok(chunk) = stream.blocking_read(64 * 1024) {
        body.extend_from_slice(&chunk);
    }
    body
}

fn send(reply: Reply, response_out: ResponseOutparam) {
    let headers = Fields::new();
    for (name, value) in &reply.headers {
        if let Err(e) = headers.append(&name.to_ascii_lowercase(), &value.as_bytes().to_vec()) {
            panic!("invalid header name or value {name:?}: wasi:http refused it ({e:?})");
        }
    }
    let response = OutgoingResponse::new(headers);
    if response.set_status_code(reply.status).is_err() {
        panic!("invalid status code {}: wasi:http refused it", reply.status);
    }
    let Ok(body) = response.body() else {
        panic!("the response body was already taken");
    };
    ResponseOutparam::set(response_out, Ok(response));
    {
        let Ok(stream) = body.write() else {
            panic!("the response body stream was already taken");
        };
        // One write may carry at most 4096 bytes (wasi:io's blocking_write_and_flush).
        for chunk in reply.body.chunks(4096) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                panic!("writing the response body failed: {e:?}");
            }
        }
    }
    if let Err(e) = OutgoingBody::finish(body, None) {
        panic!("finishing the response body failed: {e:?}");
    }
}
