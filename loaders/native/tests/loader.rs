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
use fnhost_loader_api::{Function, FunctionSpec, Invocation, InvokeError, LoadError, Loader};
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
        .block_on(f.invoke(invocation("", Duration::from_secs(5))))
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
        .block_on(f.invoke(invocation(r#"{"it-s": "alive"}"#, Duration::from_secs(5))))
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
        .block_on(f.invoke(invocation("", Duration::from_secs(5))))
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
    match runtime().block_on(f.invoke(invocation("", Duration::from_secs(5)))) {
        Err(InvokeError::FunctionFailed(detail)) => {
            assert!(detail.contains("returned 7: native boom"), "{detail}")
        }
        other => panic!("expected FunctionFailed, got {other:?}"),
    }
    let (_dir, f) = load("bad_status", Duration::from_secs(5));
    let err = runtime()
        .block_on(f.invoke(invocation("", Duration::from_secs(5))))
        .expect_err("bad status");
    assert!(matches!(err, InvokeError::BadReturn(_)), "{err:?}");
}

#[test]
fn a_busy_loop_times_out_its_thread_is_replaced_and_calls_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    compile("behaviours.c", dir.path(), "libbehaviours");
    let timeout = Duration::from_millis(300);
    let spin = NativeLoader
        .load(&spec(dir.path(), "libbehaviours", "spin", timeout))
        .expect("loads");
    let rt = runtime();
    let err = rt
        .block_on(spin.invoke(invocation("", timeout)))
        .expect_err("times out");
    assert!(matches!(err, InvokeError::Timeout(_)), "{err:?}");
    assert_eq!(spin.stats().abandoned, 1);
    assert!(
        spin.healthy(),
        "one abandoned call of two threads is tolerated"
    );
    let err = rt
        .block_on(spin.invoke(invocation("", timeout)))
        .expect_err("times out again");
    assert!(matches!(err, InvokeError::Timeout(_)));
    let err = rt
        .block_on(spin.invoke(invocation("", timeout)))
        .expect_err("and again");
    assert!(matches!(err, InvokeError::Timeout(_)));
    assert_eq!(spin.stats().abandoned, 3);
    assert!(
        !spin.healthy(),
        "more abandoned calls than threads: /healthz fails so the pod is replaced"
    );
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
    let response = runtime().block_on(f.invoke(call)).expect("ok");
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
