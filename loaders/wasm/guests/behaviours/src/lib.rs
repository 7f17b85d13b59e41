//! The conformance behaviours of the Wasm guests, written once over a plain [`Request`] and
//! [`Reply`]: `kubeless-functions` (fnhost Wasm ABI 1) and `http-functions` (wasi:http) each
//! turn their own request into a [`Request`] and an [`Outcome`] into their own answer.
//!
//! Each function is named after the conformance fixture that uses it
//! (`conformance/fixtures/{wasm,wasihttp}/<fixture>/`).

use std::time::Duration;

/// A request, as either ABI delivers it.
#[derive(Debug, Default)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query without `?`.
    pub query: String,
    /// Headers, names lower case, in arrival order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
    /// `event-id`, `event-type`, `event-time`, `event-namespace` (empty when absent).
    pub event: [String; 4],
}

impl Request {
    /// `true` when the query has `key=value` exactly.
    pub fn query_is(&self, key: &str, value: &str) -> bool {
        self.query
            .split('&')
            .any(|pair| pair.split_once('=') == Some((key, value)))
    }

    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    /// Status code (the wasi:http guest cannot send an invalid one, see [`response`]).
    pub status: u16,
    /// Headers, in order; repeated names are kept.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with a body and no headers.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A call's result: an answer, or a failure with a message for fnhost's log.
#[derive(Debug)]
pub enum Outcome {
    /// Answer the client.
    Reply(Reply),
    /// The function failed.
    Fail(String),
}

/// helloget: upstream's `return "hello world"`.
pub fn helloget() -> Reply {
    Reply::ok("hello world").header("content-type", "text/html; charset=UTF-8")
}

/// hellowithdata: prints the body and the event, echoes the body with its content type.
pub fn hellowithdata(req: &Request) -> Reply {
    let [id, kind, time, namespace] = &req.event;
    println!(
        "{} {id} {kind} {time} {namespace}",
        String::from_utf8_lossy(&req.body)
    );
    let mut reply = Reply::ok(req.body.clone());
    if let Some(content_type) = req.header("content-type") {
        reply = reply.header("content-type", &String::from_utf8_lossy(content_type));
    }
    reply
}

/// printer: a line on stdout and one on stderr.
pub fn printer(req: &Request) -> Reply {
    let n = if req.query_is("n", "1") { "1" } else { "?" };
    println!("marker-from-print {n}");
    eprintln!("marker-from-stderr");
    Reply::ok("printed")
}

/// exception: fails with a message for the log.
pub fn exception() -> Outcome {
    Outcome::Fail("ValueError-like failure: conformance boom".to_owned())
}

/// slow: busy loops, naps, a long call for draining.
pub fn slow(req: &Request) -> Reply {
    if req.query_is("mode", "busy") || req.query_is("mode", "busy_catching") {
        busy_loop();
    }
    if req.query_is("mode", "nap") {
        std::thread::sleep(Duration::from_millis(500));
        return Reply::ok("rested");
    }
    if req.query_is("mode", "drain") {
        println!("drain-started");
        std::thread::sleep(Duration::from_millis(1500));
        return Reply::ok("drained");
    }
    if let Some(megabytes) = query_value(req, "allocate_mib") {
        return allocate(megabytes);
    }
    Reply::ok("ok")
}

/// Spins until fnhost stops the instance at the deadline.
fn busy_loop() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn query_value<'a>(req: &'a Request, key: &str) -> Option<&'a str> {
    req.query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

/// Allocates and touches `megabytes` MiB: within `FUNC_MEMORY_LIMIT` it answers the size,
/// past it the allocation fails and the guest aborts (a trap: 500).
fn allocate(megabytes: &str) -> Reply {
    let Ok(megabytes) = megabytes.parse::<usize>() else {
        return Reply::ok("bad size").with_status(400);
    };
    let block = vec![1u8; megabytes << 20];
    let sum: usize = block.iter().step_by(4096).map(|b| usize::from(*b)).sum();
    Reply::ok(format!("allocated {megabytes} MiB ({sum} pages)"))
}

/// response: status codes and headers set by the function. `bad_status` and `bad_header`
/// ask for what HTTP does not allow; [`Reply::status`] carries it as is, and each ABI says no
/// in its own way (fnhost's ABI fails the call, wasi:http rejects the value to the guest).
pub fn response(req: &Request) -> Reply {
    let case = query_value(req, "case").unwrap_or("");
    match case {
        "cookies" => Reply::ok("created")
            .with_status(201)
            .header("Set-Cookie", "a=1; Path=/")
            .header("Set-Cookie", "b=2; Path=/")
            .header("X-Custom", "yes")
            .header("content-type", "text/html; charset=UTF-8"),
        "json" => Reply::ok("{\"ok\": true}")
            .with_status(202)
            .header("X-From", "dict")
            .header("content-type", "application/json"),
        "content_type" => Reply::ok("a,b\n1,2\n").header("content-type", "text/csv"),
        "raise" => Reply::ok("no such thing")
            .with_status(404)
            .header("X-Reason", "missing"),
        "empty" => Reply::ok("").with_status(204),
        "bad_status" => Reply::ok("x").with_status(42),
        "bad_header" => Reply::ok("x").header("Bad Header", "v"),
        "big" => Reply::ok(big_body()),
        _ => Reply::ok("no case"),
    }
}

/// 100,000 bytes of `0123456789`: larger than one wasi:http stream write.
fn big_body() -> Vec<u8> {
    (0..100_000u32)
        .map(|i| b'0' + u8::try_from(i % 10).unwrap_or(0))
        .collect()
}

/// abi: everything the function was given, as JSON (hand-written: no dependencies).
/// context.*: the Kubeless context as one line, the same text in every language:
/// `function-name-is-handler=<bool> timeout=<t> runtime=<r> memory-limit=<m>`.
pub fn context_line(context: &[(&str, String)], handler: &str) -> Reply {
    let value = |key: &str| {
        context
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, v)| v.as_str())
    };
    Reply::ok(format!(
        "function-name-is-handler={} timeout={} runtime={} memory-limit={}",
        value("function-name") == handler,
        value("timeout"),
        value("runtime"),
        value("memory-limit")
    ))
}

/// eventmeta.*: the event's metadata as one line, the same text in every language ("-" when
/// absent).
pub fn event_line(req: &Request) -> Reply {
    let names = ["event-id", "event-type", "event-time", "event-namespace"];
    let parts: Vec<String> = names
        .iter()
        .zip(&req.event)
        .map(|(name, value)| format!("{name}={}", if value.is_empty() { "-" } else { value }))
        .collect();
    Reply::ok(parts.join(" "))
}

pub fn abi(req: &Request, context: &[(&str, String)]) -> Reply {
    let [id, kind, time, namespace] = &req.event;
    let headers: Vec<String> = req
        .headers
        .iter()
        .map(|(n, v)| format!("[{},{}]", json(n), json(&String::from_utf8_lossy(v))))
        .collect();
    let context: Vec<String> = context
        .iter()
        .map(|(k, v)| format!("{}:{}", json(k), json(v)))
        .collect();
    let body = format!(
        "{{\"method\":{},\"path\":{},\"query\":{},\"headers\":[{}],\"body\":{},\"event-id\":{},\"event-type\":{},\"event-time\":{},\"event-namespace\":{},\"context\":{{{}}}}}",
        json(&req.method),
        json(&req.path),
        json(&req.query),
        headers.join(","),
        json(&String::from_utf8_lossy(&req.body)),
        json(id),
        json(kind),
        json(time),
        json(namespace),
        context.join(","),
    );
    Reply::ok(body).header("content-type", "application/json")
}

/// A JSON string literal.
fn json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
