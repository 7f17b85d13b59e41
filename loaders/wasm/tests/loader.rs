//! The Wasm loader against small WAT modules: the ABI's happy path, every load-time refusal,
//! a guest pointer outside its memory, timeouts in wasm code and in a host call, the memory
//! limit, and the compiled-code cache. (The conformance suite runs the Rust guests over HTTP.)
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests: a broken setup should fail loudly"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fnhost_loader_api::{
    Function, FunctionSpec, Invocation, InvokeError, LoadError, Loader, Stopped,
};
use fnhost_loader_wasm::WasmLoader;
use fnhost_loader_wasm::cache::CACHE_DIR;

/// A module speaking ABI `version`, whose `hello` answers "hi" with status 201, `busy` spins,
/// `nap` sleeps 5 s in WASI, and `stray` writes from outside its memory.
fn module(version: i32, memory_pages: u32) -> String {
    format!(
        r#"(module
  (import "fnhost" "write_body" (func $write_body (param i32 i32)))
  (import "fnhost" "set_status" (func $set_status (param i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") {memory_pages})
  (data (i32.const 16) "hi")
  ;; A clock subscription for poll_oneoff: userdata, tag 0 (clock), monotonic, 5 s, relative.
  (data (i32.const 64) "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\01\00\00\00\00\00\00\00\00\f2\05\2a\01\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  (func (export "fnhost_abi_version") (result i32) (i32.const {version}))
  (func (export "hello") (result i32)
    (call $set_status (i32.const 201))
    (call $write_body (i32.const 16) (i32.const 2))
    (i32.const 0))
  (func (export "busy") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
  (func (export "nap") (result i32)
    (drop (call $poll_oneoff (i32.const 64) (i32.const 256) (i32.const 1) (i32.const 512)))
    (i32.const 0))
  (func (export "stray") (result i32)
    (call $write_body (i32.const -16) (i32.const 64))
    (i32.const 0))
  (func (export "not_a_handler") (param i32) (result i32) (local.get 0)))"#
    )
}

fn write_module(dir: &Path, name: &str, wat: &str) {
    let bytes = wat::parse_str(wat).expect("valid WAT");
    std::fs::write(dir.join(format!("{name}.wasm")), bytes).expect("write module");
}

fn spec(dir: &Path, module: &str, handler: &str) -> FunctionSpec {
    FunctionSpec {
        timeout: Duration::from_millis(300),
        runtime: "wasm1".to_owned(),
        concurrency: 2,
        ..FunctionSpec::new(module, handler, dir)
    }
}

fn load(spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
    WasmLoader.load(spec)
}

fn get(timeout: Duration) -> Invocation {
    Invocation::new(
        http::Method::GET,
        http::Uri::from_static("/"),
        http::HeaderMap::new(),
        Bytes::new(),
        timeout,
    )
}

fn load_error(dir: &Path, module: &str, handler: &str) -> String {
    match load(&spec(dir, module, handler)) {
        Ok(_) => panic!("{module}.{handler} loaded"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abi_handler_answers_through_the_imports() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), "m", &module(1, 1));
    let function = load(&spec(dir.path(), "m", "hello")).unwrap();
    for _ in 0..3 {
        let response = function
            .invoke(get(Duration::from_secs(5)))
            .answer
            .await
            .unwrap();
        assert_eq!(response.status.as_u16(), 201);
        assert_eq!(&response.body[..], b"hi");
    }
}

#[test]
fn load_refuses_what_cannot_serve_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), "m", &module(1, 1));
    write_module(dir.path(), "v2", &module(2, 1));
    write_module(
        dir.path(),
        "noabi",
        r#"(module (memory (export "memory") 1) (func (export "h") (result i32) (i32.const 0)))"#,
    );
    write_module(
        dir.path(),
        "strange",
        r#"(module (import "env" "launch_rockets" (func)) (memory (export "memory") 1)
           (func (export "fnhost_abi_version") (result i32) (i32.const 1))
           (func (export "h") (result i32) (i32.const 0)))"#,
    );
    std::fs::write(dir.path().join("text.wasm"), "not wasm at all").unwrap();

    let missing = load_error(dir.path(), "m", "nope");
    assert!(missing.contains("no function \"nope\""), "{missing}");
    assert!(missing.contains("hello, busy"), "{missing}");
    let typed = load_error(dir.path(), "m", "not_a_handler");
    assert!(typed.contains("a handler must be () -> i32"), "{typed}");
    let version = load_error(dir.path(), "v2", "hello");
    assert!(
        version.contains("fnhost Wasm ABI 2; this fnhost speaks 1"),
        "{version}"
    );
    let no_abi = load_error(dir.path(), "noabi", "h");
    assert!(no_abi.contains("fnhost_abi_version"), "{no_abi}");
    let import = load_error(dir.path(), "strange", "h");
    assert!(import.contains("launch_rockets"), "{import}");
    let text = load_error(dir.path(), "text", "h");
    assert!(
        text.contains("not a WebAssembly module or component"),
        "{text}"
    );
    let absent = load_error(dir.path(), "absent", "h");
    assert!(absent.contains("module 'absent' not found"), "{absent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pointer_outside_guest_memory_fails_the_call_only() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), "m", &module(1, 1));
    let function = load(&spec(dir.path(), "m", "stray")).unwrap();
    match function.invoke(get(Duration::from_secs(5))).answer.await {
        Err(InvokeError::FunctionFailed(detail)) => {
            assert!(detail.contains("outside the module's memory"), "{detail}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// A guest spinning in wasm code is stopped by the epoch deadline on its own: its answer is
/// the timeout, near the deadline, and its slot is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_guest_times_out_near_the_deadline_and_frees_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), "m", &module(1, 1));
    let function = load(&spec(dir.path(), "m", "busy")).unwrap();
    // Three calls on two slots: the third waits, then all time out by their deadlines.
    let started = Instant::now();
    let calls: Vec<_> = (0..3)
        .map(|_| function.invoke(get(Duration::from_millis(300))).answer)
        .collect();
    for call in calls {
        assert!(matches!(call.await, Err(InvokeError::Timeout(_))));
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(function.stats().running, 0);
    assert_eq!(function.stats().queued, 0);
}

/// A guest waiting in a host call (a 5 s WASI sleep) is stopped the way the proxy stops it at
/// the deadline: stopping is in place, and dropping the answer frees its slot and store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_waiting_in_a_host_call_is_stopped_in_place() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), "m", &module(1, 1));
    let function = load(&spec(dir.path(), "m", "nap")).unwrap();
    let calls: Vec<_> = (0..3)
        .map(|_| function.invoke(get(Duration::from_millis(300))))
        .collect();
    for call in calls {
        let mut answer = call.answer;
        let waited = tokio::time::timeout(Duration::from_millis(300), &mut answer).await;
        // No answer by the deadline: still asleep, or (on a slow machine, where the later
        // calls' deadlines pass while the test waits for the first) already ended by it.
        assert!(
            matches!(waited, Err(_) | Ok(Err(InvokeError::Timeout(_)))),
            "answered a call that sleeps past its deadline: {waited:?}"
        );
        assert_eq!(call.stop.stop().await, Stopped::InPlace);
        drop(answer);
    }
    assert_eq!(function.stats().running, 0);
    assert_eq!(function.stats().queued, 0);
}

#[test]
fn memory_over_the_limit_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), "big", &module(1, 100)); // 100 pages = 6.25 MiB
    let limited = FunctionSpec {
        memory_limit: "4Mi".to_owned(),
        ..spec(dir.path(), "big", "hello")
    };
    let error = match load(&limited) {
        Ok(_) => panic!("a 6.25 MiB memory loaded under a 4 MiB limit"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("memory"), "{error}");
    let roomy = FunctionSpec {
        memory_limit: "8Mi".to_owned(),
        ..spec(dir.path(), "big", "hello")
    };
    assert!(load(&roomy).is_ok());
}

#[test]
fn compiled_code_is_cached_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), "m", &module(1, 1));
    load(&spec(dir.path(), "m", "hello")).unwrap();
    let cache = dir.path().join(CACHE_DIR);
    let artifacts: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(artifacts.len(), 1, "one artifact after the first load");
    let artifact = artifacts[0].path();
    let written = std::fs::metadata(&artifact).unwrap().modified().unwrap();
    load(&spec(dir.path(), "m", "hello")).unwrap();
    assert_eq!(
        std::fs::metadata(&artifact).unwrap().modified().unwrap(),
        written,
        "the second load reads the artifact instead of writing it again"
    );
    // A changed module gets a new artifact, and the old one is removed.
    write_module(dir.path(), "m", &module(1, 2));
    load(&spec(dir.path(), "m", "hello")).unwrap();
    let names: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_ne!(names[0], artifact);
    // A corrupt artifact is ignored (and replaced), not trusted.
    std::fs::write(&names[0], b"garbage").unwrap();
    let function = load(&spec(dir.path(), "m", "hello"));
    assert!(function.is_ok());
}
