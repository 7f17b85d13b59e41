//! The pod the reconciler writes, run on the host: there is no container runtime here, so the
//! test executes each init container's script and then the main container's command (the
//! real `fnhost` binary) with the Deployment's own environment, mapping the pod's paths
//! (`/kubeless`, `/src`, `/tmp`) into a temporary folder. A Function with dependencies, in
//! the shape the kubeless CLI writes, must then answer like upstream's `get-python-deps`.
//! The install step fetches from PyPI, as the pod's init container does.

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

use std::collections::BTreeMap;
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
            let mut value = entry["value"].as_str().unwrap_or_default().to_owned();
            for (k, v) in &env {
                value = value.replace(&format!("$({k})"), v.as_str());
            }
            env.insert(name, self.map(&value));
        }
        env
    }
}

fn deps_function() -> Function {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures/python/deps");
    let read = |name: &str| std::fs::read_to_string(fixture.join(name)).expect("fixture file");
    let source = read("hellowithdeps.py");
    let mut function = Function::new(
        "get-python-deps",
        FunctionSpec {
            handler: "hellowithdeps.foo".to_owned(),
            checksum: format!("sha256:{}", sha256_hex(source.as_bytes())),
            function: source,
            function_content_type: "text".to_owned(),
            runtime: "python3.11".to_owned(),
            timeout: "180".to_owned(),
            deps: read("requirements.txt"),
            ..FunctionSpec::default()
        },
    );
    function.metadata.namespace = Some("default".to_owned());
    function
}

#[test]
fn the_reconcilers_pod_serves_a_function_with_dependencies() {
    let function = deps_function();
    let runtime = Catalogue::builtin()
        .get("python3.11")
        .cloned()
        .expect("runtime");
    let owner = Owner::new(&function);
    let config_map = objects::config_map(&owner, &runtime).expect("configmap");
    let deployment =
        objects::deployment(&owner, &runtime, &ClusterConfig::default()).expect("deployment");

    let root = tempfile::tempdir().expect("tempdir");
    let paths = PodPaths { root: root.path() };
    for dir in ["kubeless", "src", "tmp"] {
        std::fs::create_dir_all(root.path().join(dir)).expect("mkdir");
    }
    // The ConfigMap volume, mounted at /src in the prepare container.
    for (name, content) in config_map["data"].as_object().expect("data") {
        std::fs::write(
            root.path().join("src").join(name),
            content.as_str().unwrap_or_default(),
        )
        .expect("write");
    }
    // The helper module ships with the function in a real deployment (zip); here it is copied.
    let helper = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/fixtures/python/deps/hellowithdepshelper.py");
    std::fs::copy(helper, root.path().join("kubeless/hellowithdepshelper.py")).expect("helper");

    let pod = &deployment["spec"]["template"]["spec"];
    let init = pod["initContainers"].as_array().expect("init containers");
    assert_eq!(
        init.iter()
            .map(|c| c["name"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["prepare", "install"]
    );
    for container in init {
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
    assert!(
        root.path().join("kubeless/hellowithdeps.py").is_file(),
        "prepare copied the function"
    );
    assert!(
        root.path()
            .join("kubeless/lib/python3.11/site-packages/bs4")
            .is_dir(),
        "install put bs4 under the prefix"
    );

    let main = &pod["containers"][0];
    let mut env = paths.env(main);
    env.insert("FUNC_PORT".to_owned(), "0".to_owned());
    env.insert("FNHOST_LISTEN_ADDR".to_owned(), "127.0.0.1".to_owned());
    assert_eq!(
        env.get("MOD_NAME").map(String::as_str),
        Some("hellowithdeps")
    );
    let mut fnhost = Fnhost::spawn(&[], &env, root.path()).expect("fnhost starts");
    let addr = fnhost.wait_ready().expect("fnhost is ready");
    let request = Request {
        method: "GET".to_owned(),
        path: "/".to_owned(),
        headers: Vec::new(),
        body: None,
        body_size: None,
        chunked: false,
        pad_header: None,
    };
    let response = http::send(addr, &request).expect("GET /");
    assert_eq!(
        (response.status, response.text()),
        (200, "Google".to_owned()),
        "{}",
        fnhost.transcript()
    );
}
