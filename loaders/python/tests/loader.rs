//! The Python loader through the `Loader`/`Function` API alone, as the proxy uses it: no HTTP.
//! (HTTP behaviour is covered by the black-box suite in `conformance/`.) All tests share one
//! embedded interpreter, so each loads its own uniquely named module.

#![allow(
    clippy::expect_used,
    reason = "test setup failures should stop the test loudly"
)]

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use fnhost_loader_api::{
    Function, FunctionSpec, Invocation, InvokeError, LoadError, Loader, Stopped,
};
use fnhost_loader_python::PythonLoader;
use http::{HeaderMap, HeaderValue, Method, Uri};

fn spec(dir: &Path, module: &str, handler: &str, timeout: Duration) -> FunctionSpec {
    FunctionSpec {
        timeout,
        runtime: "python3.11".to_owned(),
        memory_limit: "128Mi".to_owned(),
        concurrency: 4,
        ..FunctionSpec::new(module, handler, dir)
    }
}

fn load(
    module: &str,
    source: &str,
    handler: &str,
    timeout: Duration,
) -> Result<Box<dyn Function>, LoadError> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(format!("{module}.py")), source).expect("write module");
    let function = PythonLoader.load(&spec(dir.path(), module, handler, timeout));
    // The module is imported at load time; the folder is not needed afterwards.
    drop(dir);
    function
}

fn call(
    method: Method,
    body: &'static str,
    content_type: Option<&'static str>,
    timeout: Duration,
) -> Invocation {
    let mut headers = HeaderMap::new();
    if let Some(ct) = content_type {
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    headers.insert("event-id", HeaderValue::from_static("id-1"));
    Invocation::new(
        method,
        Uri::from_static("/some/path?x=1"),
        headers,
        Bytes::from_static(body.as_bytes()),
        timeout,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio")
}

#[test]
fn a_loaded_function_answers_with_its_return_value() {
    let f = load(
        "api_hello",
        "def foo(event, context):\n    return 'hello ' + event['event-id']\n",
        "foo",
        Duration::from_secs(5),
    )
    .expect("loads");
    let response = runtime()
        .block_on(
            f.invoke(call(Method::GET, "", None, Duration::from_secs(5)))
                .answer,
        )
        .expect("call succeeds");
    assert_eq!(response.status, http::StatusCode::OK);
    assert_eq!(&response.body[..], b"hello id-1");
    assert!(f.healthy());
}

#[test]
fn json_bodies_arrive_parsed_and_context_is_complete() {
    let source = "def echo(event, context):\n    return {'data': event['data'], 'timeout': context['timeout'], \
                  'runtime': context['runtime'], 'memory': context['memory-limit'], 'name': context['function-name']}\n";
    let f = load("api_echo", source, "echo", Duration::from_secs(5)).expect("loads");
    let invocation = call(
        Method::POST,
        r#"{"a": [1, 2]}"#,
        Some("application/json; charset=utf-8"),
        Duration::from_secs(5),
    );
    let response = runtime()
        .block_on(f.invoke(invocation).answer)
        .expect("call succeeds");
    let json: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON body");
    assert_eq!(
        json,
        serde_json::json!({"data": {"a": [1, 2]}, "timeout": 5.0, "runtime": "python3.11", "memory": "128Mi", "name": "echo"})
    );
}

#[test]
fn data_follows_the_kind_the_proxy_decided() {
    let f = load(
        "api_datakind",
        "def h(event, context):\n    return {'type': type(event['data']).__name__}\n",
        "h",
        Duration::from_secs(5),
    )
    .expect("loads");
    let kind_of = |body: &'static str, content_type: Option<&'static str>| {
        let response = runtime()
            .block_on(
                f.invoke(call(
                    Method::POST,
                    body,
                    content_type,
                    Duration::from_secs(5),
                ))
                .answer,
            )
            .expect("call succeeds");
        let json: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON body");
        json["type"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(kind_of("[1]", Some("application/json")), "list");
    assert_eq!(kind_of("", Some("application/json")), "NoneType");
    assert_eq!(kind_of("[1]", Some("text/plain")), "bytes");
    assert_eq!(kind_of("", None), "bytes");
}

#[test]
fn an_exception_is_a_function_failure_with_the_traceback() {
    let f = load(
        "api_raise",
        "def h(event, context):\n    raise ValueError('api boom')\n",
        "h",
        Duration::from_secs(5),
    )
    .expect("loads");
    let err = runtime()
        .block_on(
            f.invoke(call(Method::GET, "", None, Duration::from_secs(5)))
                .answer,
        )
        .expect_err("fails");
    match err {
        InvokeError::FunctionFailed(detail) => {
            assert!(detail.contains("ValueError: api boom"), "{detail}")
        }
        other => panic!("expected FunctionFailed, got {other:?}"),
    }
}

#[test]
fn a_busy_loop_stopped_is_interrupted_in_place_and_the_next_call_is_served() {
    let source = "def h(event, context):\n    if event['data'] == b'spin':\n        while True:\n            pass\n    return 'fine'\n";
    let timeout = Duration::from_millis(300);
    let f = load("api_spin", source, "h", timeout).expect("loads");
    let rt = runtime();
    let spinning = f.invoke(call(Method::POST, "spin", None, timeout));
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while f.stats().running == 0 {
        assert!(std::time::Instant::now() < until, "the call never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rt.block_on(spinning.stop.stop()), Stopped::InPlace);
    // After an in-place stop the proxy drops the answer; what it holds depends on where the
    // stop found the call: interrupted while running (a timeout), or taken off the queue just
    // before a thread started it (`running` already counts it then), which drops its reply.
    let err = rt.block_on(spinning.answer).expect_err("interrupted");
    assert!(
        matches!(err, InvokeError::Timeout(_) | InvokeError::Unavailable(_)),
        "{err:?}"
    );
    let response = rt
        .block_on(
            f.invoke(call(Method::POST, "ok", None, Duration::from_secs(5)))
                .answer,
        )
        .expect("served after a timeout");
    assert_eq!(&response.body[..], b"fine");
}

#[test]
fn missing_handlers_and_modules_name_module_and_handler() {
    let err = load(
        "api_nohandler",
        "def other(event, context):\n    return 1\n",
        "wanted",
        Duration::from_secs(5),
    )
    .err()
    .expect("load fails");
    let text = err.to_string();
    assert!(
        text.contains("api_nohandler") && text.contains("wanted"),
        "{text}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let err = PythonLoader
        .load(&spec(
            dir.path(),
            "api_absent",
            "foo",
            Duration::from_secs(5),
        ))
        .err()
        .expect("load fails");
    assert!(matches!(err, LoadError::ModuleNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("api_absent.foo"), "{err}");
}
