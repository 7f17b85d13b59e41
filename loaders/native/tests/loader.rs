//! The native loader through the `Loader`/`Function` API, with C functions compiled by the
//! test (`cc` from the system).

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use fnhost_loader_api::{
    Function, FunctionSpec, Invocation, InvokeError, LoadError, Loader, Stopped,
};
use fnhost_loader_native::NativeLoader;
use http::{HeaderMap, HeaderValue, Method, Uri};

/// Compiles `tests/c/<source>` into `<dir>/<module>.so`.
fn compile(source: &str, dir: &Path, module: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-I"])
        .arg(root.join("include"))
        .arg("-o")
        .arg(dir.join(format!("{module}.so")))
        .arg(root.join("tests/c").join(source))
        .status()
        .expect("cc runs");
    assert!(status.success(), "cc failed for {source}");
}

fn spec(dir: &Path, module: &str, handler: &str, timeout: Duration) -> FunctionSpec {
    FunctionSpec {
        timeout,
        runtime: "native1".to_owned(),
        concurrency: 2,
        ..FunctionSpec::new(module, handler, dir)
    }
}

fn load(handler: &str, timeout: Duration) -> (tempfile::TempDir, Box<dyn Function>) {
    let dir = tempfile::tempdir().expect("tempdir");
    compile("behaviours.c", dir.path(), "libbehaviours");
    let function = NativeLoader
        .load(&spec(dir.path(), "libbehaviours", handler, timeout))
        .expect("loads");
    (dir, function)
}

fn invocation(body: &'static str, timeout: Duration) -> Invocation {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("event-id", HeaderValue::from_static("ev-1"));
    Invocation::new(
        Method::POST,
        Uri::from_static("/a/b?x=1"),
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
fn init_runs_once_and_the_handler_answers() {
    let (_dir, f) = load("hello", Duration::from_secs(5));
    let response = runtime()
        .block_on(f.invoke(invocation("", Duration::from_secs(5))).answer)
        .expect("ok");
    assert_eq!(
        (response.status.as_u16(), &response.body[..]),
        (200, &b"hello world"[..])
    );
    assert!(f.describe().contains("native ABI v1"));
}

#[test]
fn the_request_and_context_reach_the_function() {
    let (_dir, f) = load("echo", Duration::from_secs(5));
    let response = runtime()
        .block_on(
            f.invoke(invocation(r#"{"it-s": "alive"}"#, Duration::from_secs(5)))
                .answer,
        )
        .expect("ok");
    let header = |name: &str| {
        response
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(&response.body[..], br#"{"it-s": "alive"}"#);
    assert_eq!(header("x-method"), "POST");
    assert_eq!(header("x-path"), "/a/b");
    assert_eq!(header("x-query"), "x=1");
    assert_eq!(header("x-event-id"), "ev-1");
    assert_eq!(header("x-function"), "echo", "function-name is the handler");
    assert_eq!(header("content-type"), "application/json");
}

#[test]
fn status_and_repeated_headers_pass_through() {
    let (_dir, f) = load("created", Duration::from_secs(5));
    let response = runtime()
        .block_on(f.invoke(invocation("", Duration::from_secs(5))).answer)
        .expect("ok");
    assert_eq!(response.status.as_u16(), 201);
    let cookies: Vec<&str> = response
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
}

#[test]
fn failures_and_bad_statuses_are_errors_with_the_message() {
    let (_dir, f) = load("fail", Duration::from_secs(5));
    match runtime().block_on(f.invoke(invocation("", Duration::from_secs(5))).answer) {
        Err(InvokeError::FunctionFailed(detail)) => {
            assert!(detail.contains("returned 7: native boom"), "{detail}")
        }
        other => panic!("expected FunctionFailed, got {other:?}"),
    }
    let (_dir, f) = load("bad_status", Duration::from_secs(5));
    let err = runtime()
        .block_on(f.invoke(invocation("", Duration::from_secs(5))).answer)
        .expect_err("bad status");
    assert!(matches!(err, InvokeError::BadReturn(_)), "{err:?}");
}

#[test]
fn a_busy_loop_stopped_is_abandoned_and_its_thread_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    compile("behaviours.c", dir.path(), "libbehaviours");
    let timeout = Duration::from_millis(300);
    let spin = NativeLoader
        .load(&spec(dir.path(), "libbehaviours", "spin", timeout))
        .expect("loads");
    let rt = runtime();
    // Two threads; each stuck call given up is replaced, so the third call still runs.
    for stuck in 1..=3 {
        let call = spin.invoke(invocation("", timeout));
        wait_until(|| spin.stats().running == stuck, "the call is running");
        assert_eq!(rt.block_on(call.stop.stop()), Stopped::Abandoned);
    }
    assert_eq!(spin.stats().queued, 0);
}

#[test]
fn a_call_stopped_while_queued_never_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    compile("behaviours.c", dir.path(), "libbehaviours");
    let timeout = Duration::from_millis(300);
    let mut one_thread = spec(dir.path(), "libbehaviours", "spin", timeout);
    one_thread.concurrency = 1;
    let spin = NativeLoader.load(&one_thread).expect("loads");
    let rt = runtime();
    let running = spin.invoke(invocation("", timeout));
    wait_until(|| spin.stats().running == 1, "the first call is running");
    let queued = spin.invoke(invocation("", timeout));
    assert_eq!(rt.block_on(queued.stop.stop()), Stopped::InPlace);
    assert_eq!(rt.block_on(running.stop.stop()), Stopped::Abandoned);
    wait_until(
        || spin.stats().queued == 0,
        "the replacement thread drained the queue",
    );
    assert_eq!(spin.stats().running, 1, "the stopped call never started");
}

/// Polls `done` (the engine's own threads move on their own time) for up to a minute.
fn wait_until(done: impl Fn() -> bool, what: &str) {
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn load_errors_name_module_and_handler() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = NativeLoader
        .load(&spec(
            dir.path(),
            "libmissing",
            "hello",
            Duration::from_secs(1),
        ))
        .err()
        .expect("missing");
    assert!(matches!(err, LoadError::ModuleNotFound { .. }), "{err:?}");
    compile("behaviours.c", dir.path(), "libbehaviours");
    let err = NativeLoader
        .load(&spec(
            dir.path(),
            "libbehaviours",
            "nope",
            Duration::from_secs(1),
        ))
        .err()
        .expect("no symbol");
    assert!(matches!(err, LoadError::HandlerNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("libbehaviours.nope"), "{err}");
    compile("old_abi.c", dir.path(), "libold");
    let err = NativeLoader
        .load(&spec(dir.path(), "libold", "hello", Duration::from_secs(1)))
        .err()
        .expect("old ABI");
    assert!(err.to_string().contains("native ABI 99"), "{err}");
}

/// The Rust example (`examples/rust/hello.rs`) builds with plain `rustc` and serves.
#[test]
fn a_rust_cdylib_speaks_the_abi_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rust/hello.rs");
    let status = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .args(["--edition", "2024", "--crate-type", "cdylib", "-O", "-o"])
        .arg(dir.path().join("libhello_rs.so"))
        .arg(&source)
        .status()
        .expect("rustc runs");
    assert!(status.success(), "rustc failed for {}", source.display());
    let f = NativeLoader
        .load(&spec(
            dir.path(),
            "libhello_rs",
            "hello",
            Duration::from_secs(5),
        ))
        .expect("loads");
    let mut headers = HeaderMap::new();
    headers.insert("event-id", HeaderValue::from_static("ev-9"));
    let call = Invocation::new(
        Method::GET,
        Uri::from_static("/greet?name=kubeless"),
        headers,
        Bytes::new(),
        Duration::from_secs(5),
    );
    let response = runtime().block_on(f.invoke(call).answer).expect("ok");
    assert_eq!(
        &response.body[..],
        b"hello kubeless from Rust (GET /greet, event ev-9)"
    );
    assert_eq!(
        response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; charset=utf-8")
    );
}
