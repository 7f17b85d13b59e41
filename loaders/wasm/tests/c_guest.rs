//! The fnhost Wasm ABI from C: `guests/c/hello.c` is compiled with clang-19 and Debian's
//! wasi-libc (`scripts/setup.sh` installs both) against `include/fnhost_wasm.h`, then loaded and
//! called. A missing compiler fails the test: it is not skipped.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests: a broken setup should fail loudly"
)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use fnhost_loader_api::{FunctionSpec, Invocation, InvokeError, Loader};
use fnhost_loader_wasm::WasmLoader;

fn compile(out: &Path) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("clang-19")
        .args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-O2",
            "-mexec-model=reactor",
        ])
        .args(["-Wall", "-Werror"])
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg("-o")
        .arg(out)
        .arg(crate_dir.join("guests/c/hello.c"))
        .output()
        .expect("clang-19 runs (scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "clang-19 failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn request() -> Invocation {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-greeting", http::HeaderValue::from_static("hi"));
    Invocation::new(
        http::Method::POST,
        http::Uri::from_static("/p?x=1"),
        headers,
        Bytes::from_static(b"data"),
        Duration::from_secs(5),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_module_reads_the_request_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    compile(&dir.path().join("hello.wasm"));
    let spec = FunctionSpec {
        runtime: "wasm1".to_owned(),
        ..FunctionSpec::new("hello", "handle", dir.path())
    };
    let function = WasmLoader.load(&spec).unwrap();
    let response = function.invoke(request()).answer.await.unwrap();
    assert_eq!(response.status.as_u16(), 202);
    assert_eq!(response.headers["content-type"], "text/plain");
    assert_eq!(
        &response.body[..],
        b"hi from C: method=POST query=x=1 body=data"
    );

    let failing = WasmLoader
        .load(&FunctionSpec {
            handler: "fail".to_owned(),
            ..spec
        })
        .unwrap();
    match failing.invoke(request()).answer.await {
        Err(InvokeError::FunctionFailed(detail)) => {
            assert!(detail.contains("fail returned 7"), "{detail}");
            assert!(detail.contains("C handler failed on purpose"), "{detail}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}
