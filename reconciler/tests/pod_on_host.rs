//! The pod the reconciler writes, run on the host: there is no container runtime here, so the
//! test executes each init container's script and then the main container's command (the
//! real `fnhost` binary) with the Deployment's own environment, mapping the pod's paths
//! (`/kubeless`, `/src`, `/tmp`) into a temporary folder. One case per content type the
//! kubeless CLI writes (text, base64, base64+zip+deps, url+compressedtar); each must then
//! answer like upstream's `get-python` / `get-python-deps`. The install steps fetch from PyPI,
//! as the pod's init container does.

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use fnhost_conformance::case::Request;
use fnhost_conformance::http;
use fnhost_conformance::process::Fnhost;
use fnhost_reconciler::content::sha256_hex;
use fnhost_reconciler::crd::{Function, FunctionSpec};
use fnhost_reconciler::objects::{self, ClusterConfig, Owner};
use fnhost_runtime_config::catalogue::Catalogue;
use serde_json::Value;

const HELLO: &str = "def foo(event, context):\n    return 'hello world'\n";

/// Rewrites the pod's absolute paths into `root`.
struct PodPaths<'a> {
    root: &'a Path,
}

impl PodPaths<'_> {
    fn map(&self, text: &str) -> String {
        let root = self.root.display();
        // /tmp first: `root` itself may live under /tmp.
        text.replace("/tmp/", &format!("{root}/tmp/"))
            .replace("/kubeless", &format!("{root}/kubeless"))
            .replace("/src/", &format!("{root}/src/"))
    }

    /// A container's env as a map, with `$(VAR)` references expanded as the kubelet does.
    fn env(&self, container: &Value) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for entry in container["env"].as_array().into_iter().flatten() {
            let name = entry["name"].as_str().unwrap_or_default().to_owned();
            let raw = entry["value"].as_str().unwrap_or_default();
            let value = fnhost_runtime_config::expand::expand(raw, |var| env.get(var).cloned());
            env.insert(name, self.map(&value));
        }
        env
    }
}

/// The pod's volumes and its `/tmp`, below `root`.
fn make_pod_dirs(root: &Path) {
    for dir in ["kubeless", "src", "tmp"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures/python/deps");
    std::fs::read(dir.join(name)).expect("fixture file")
}

fn function(
    handler: &str,
    content_type: &str,
    content: &str,
    checksum_of: &[u8],
    deps: &str,
) -> Function {
    let mut function = Function::new(
        "fn-under-test",
        FunctionSpec {
            handler: handler.to_owned(),
            checksum: format!("sha256:{}", sha256_hex(checksum_of)),
            function: content.to_owned(),
            function_content_type: content_type.to_owned(),
            runtime: "python3.11".to_owned(),
            timeout: "180".to_owned(),
            deps: deps.to_owned(),
            ..FunctionSpec::default()
        },
    );
    function.metadata.namespace = Some("default".to_owned());
    function
}

fn base64(bytes: &[u8]) -> String {
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("base64 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    String::from_utf8(child.wait_with_output().expect("base64").stdout).expect("ascii")
}

/// An archive of the deps fixture (function, helper, requirements.txt), made with Python's
/// `zipfile` or `tarfile` so the test needs no zip tool.
fn archive(kind: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "hellowithdeps.py",
        "hellowithdepshelper.py",
        "requirements.txt",
    ] {
        std::fs::write(dir.path().join(name), fixture(name)).expect("write");
    }
    let out = dir.path().join("archive");
    let script = match kind {
        "zip" => {
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    [z.write(n) for n in sys.argv[2:]]"
        }
        _ => {
            "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'w:gz') as t:\n    [t.add(n) for n in sys.argv[2:]]"
        }
    };
    let status = Command::new("python3")
        .args([
            "-c",
            script,
            out.to_str().expect("utf-8"),
            "hellowithdeps.py",
            "hellowithdepshelper.py",
            "requirements.txt",
        ])
        .current_dir(dir.path())
        .status()
        .expect("python3 runs");
    assert!(status.success());
    std::fs::read(out).expect("archive")
}

/// Serves `body` to every request on an ephemeral loopback port, for `url` content.
fn serve_file(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}/functions/hellowithdeps.tgz")
}

/// Runs the pod of `function` on the host and returns the answer to `GET /`.
fn run_pod(function: &Function, expected_init: &[&str]) -> (u16, String) {
    let runtime = Catalogue::builtin()
        .get("python3.11")
        .cloned()
        .expect("runtime");
    let owner = Owner::new(function);
    let config_map = objects::config_map(&owner, &runtime).expect("configmap");
    let deployment =
        objects::deployment(&owner, &runtime, &ClusterConfig::default()).expect("deployment");
    let root = tempfile::tempdir().expect("tempdir");
    let paths = PodPaths { root: root.path() };
    make_pod_dirs(root.path());
    // The ConfigMap volume, mounted at /src in the prepare container.
    for (name, content) in config_map["data"].as_object().expect("data") {
        std::fs::write(
            root.path().join("src").join(name),
            content.as_str().unwrap_or_default(),
        )
        .expect("write");
    }
    let pod = &deployment["spec"]["template"]["spec"];
    let init = pod["initContainers"].as_array().expect("init containers");
    let names: Vec<&str> = init
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, expected_init);
    for container in init {
        run_init_container(&paths, container);
    }
    let mut env = paths.env(&pod["containers"][0]);
    env.insert("FUNC_PORT".to_owned(), "0".to_owned());
    env.insert("FNHOST_LISTEN_ADDR".to_owned(), "127.0.0.1".to_owned());
    let mut fnhost = Fnhost::spawn(&[], &env, root.path()).expect("fnhost starts");
    let addr = fnhost
        .wait_ready()
        .unwrap_or_else(|e| panic!("fnhost is not ready: {e}"));
    let request = Request::get("/");
    let response = http::send(addr, &request).expect("GET /");
    (response.status, response.text())
}

fn run_init_container(paths: &PodPaths<'_>, container: &Value) {
    let script = paths.map(container["args"][0].as_str().expect("script"));
    let workdir = paths.map(container["workingDir"].as_str().unwrap_or("/kubeless"));
    let output = Command::new("sh")
        .args(["-c", &script])
        .current_dir(&workdir)
        .envs(paths.env(container))
        .output()
        .expect("sh runs");
    assert!(
        output.status.success(),
        "init container {} failed:\n{script}\n{}{}",
        container["name"],
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn text_content() {
    let f = function("helloget.foo", "text", HELLO, HELLO.as_bytes(), "");
    assert_eq!(run_pod(&f, &["prepare"]), (200, "hello world".to_owned()));
}

#[test]
fn base64_content() {
    let f = function(
        "helloget.foo",
        "base64",
        &base64(HELLO.as_bytes()),
        HELLO.as_bytes(),
        "",
    );
    assert_eq!(run_pod(&f, &["prepare"]), (200, "hello world".to_owned()));
}

#[test]
fn base64_zip_with_bundled_deps() {
    let zip = archive("zip");
    let f = function(
        "hellowithdeps.foo",
        "base64+zip+deps",
        &base64(&zip),
        &zip,
        "",
    );
    assert_eq!(
        run_pod(&f, &["prepare", "install"]),
        (200, "Google".to_owned())
    );
}

#[test]
fn url_compressed_tar_with_deps_from_the_function() {
    let tgz = archive("tgz");
    let deps = String::from_utf8(fixture("requirements.txt")).expect("utf-8");
    let f = function(
        "hellowithdeps.foo",
        "url+compressedtar",
        &serve_file(tgz.clone()),
        &tgz,
        &deps,
    );
    assert_eq!(
        run_pod(&f, &["prepare", "install"]),
        (200, "Google".to_owned())
    );
}

#[test]
fn a_wrong_checksum_stops_the_pod_in_prepare() {
    let f = function("helloget.foo", "text", HELLO, b"something else", "");
    let runtime = Catalogue::builtin()
        .get("python3.11")
        .cloned()
        .expect("runtime");
    let owner = Owner::new(&f);
    let deployment =
        objects::deployment(&owner, &runtime, &ClusterConfig::default()).expect("deployment");
    let root = tempfile::tempdir().expect("tempdir");
    let paths = PodPaths { root: root.path() };
    make_pod_dirs(root.path());
    std::fs::write(root.path().join("src/helloget.py"), HELLO).expect("write");
    std::fs::write(root.path().join("src/requirements.txt"), "").expect("write");
    let prepare = &deployment["spec"]["template"]["spec"]["initContainers"][0];
    let script = paths.map(prepare["args"][0].as_str().expect("script"));
    let output = Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("sh runs");
    assert!(!output.status.success(), "sha256sum -c must fail");
    assert!(
        !root.path().join("kubeless/helloget.py").exists(),
        "nothing is copied"
    );
}
