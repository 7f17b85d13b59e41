//! What the cluster tests share: a real control plane (kube-apiserver and
//! kube-controller-manager 1.20.2 with etcd, from `scripts/k8s/`), the install manifest, a
//! client acting as the reconciler's service account, and waiting on the API server.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

/// etcd + apiserver + controller manager, stopped on drop.
pub struct ControlPlane {
    run_dir: PathBuf,
    /// Admin kubeconfig.
    pub kubeconfig: PathBuf,
}

/// The folder of a tool the project's scripts build and cache: `$<env_var>`, else
/// `~/<default_under_home>`. The test fails (never skips) when `must_contain` is not in it,
/// saying which script builds it.
pub fn cached_tool_dir(
    env_var: &str,
    default_under_home: &str,
    must_contain: &str,
    built_by: &str,
) -> PathBuf {
    let dir = std::env::var(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(default_under_home)
        });
    assert!(
        dir.join(must_contain).is_file(),
        "no {must_contain} in {}: run {built_by} (scripts/test.sh does)",
        dir.display()
    );
    dir
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver and kube-controller-manager on loopback.
    pub fn start() -> ControlPlane {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/k8s/start-control-plane.sh");
        let bin = cached_tool_dir(
            "FNHOST_K8S_BIN",
            ".cache/fnhost-k8s/bin",
            "kube-apiserver",
            "scripts/k8s/build-control-plane.sh",
        );
        // Ports derived from the pid; a clash with a port in use is retried on other ports.
        let mut failures = String::new();
        for attempt in 0..3u16 {
            let base = 20_000 + (std::process::id() % 20_000) as u16 + attempt * 97;
            let run_dir = std::env::temp_dir()
                .join(format!("fnhost-kcp-test-{}-{attempt}", std::process::id()));
            let output = Command::new(&script)
                .env("RUN", &run_dir)
                .env("FNHOST_K8S_BIN", &bin)
                .env("ETCD_PORT", base.to_string())
                .env("API_PORT", (base + 10).to_string())
                .output()
                .expect("start-control-plane.sh runs");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let plane = ControlPlane {
                kubeconfig: run_dir.join("kubeconfig"),
                run_dir,
            };
            if output.status.success() {
                return plane;
            }
            drop(plane); // stops whatever did start
            failures.push_str(&format!(
                "attempt {attempt}:\n{stdout}\n{}\n",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        panic!("the control plane did not start:\n{failures}");
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // A throwaway cluster: no graceful shutdown needed, and none may outlive the test.
        for name in ["kcm", "apiserver", "etcd"] {
            if let Ok(pid) = std::fs::read_to_string(self.run_dir.join(format!("{name}.pid"))) {
                let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// Polls `probe` every 200 ms (each poll asks the API server) until it yields.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Applies `manifests/install.yaml` (as generated) and waits for the CRDs to be served.
pub async fn install(client: &Client) {
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/install.yaml"),
    )
    .expect("manifests/install.yaml");
    for document in committed.split("\n---\n").skip(1) {
        let object: Value = serde_yaml::from_str(document).expect("a YAML object");
        apply(client, &object).await;
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fnhost_reconciler::crd::crds().expect("render CRDs") {
        let name = crd["metadata"]["name"].as_str().expect("name").to_owned();
        eventually(&format!("CRD {name} established"), || {
            let (crds, name) = (crds.clone(), name.clone());
            async move {
                let crd = crds.get(&name).await.ok()?;
                let conditions = crd.status?.conditions?;
                conditions
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            }
        })
        .await;
    }
}

/// Server-side applies one manifest object.
pub async fn apply(client: &Client, object: &Value) {
    let kind = object["kind"].as_str().expect("kind");
    let (group, version) = object["apiVersion"]
        .as_str()
        .expect("apiVersion")
        .split_once('/')
        .unwrap_or(("", "v1"));
    let plural = format!("{}s", kind.to_lowercase());
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural);
    let name = object["metadata"]["name"].as_str().expect("name");
    let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let dynamic: DynamicObject = serde_json::from_value(object.clone()).expect("object");
    api.patch(
        name,
        &PatchParams::apply("install").force(),
        &Patch::Apply(&dynamic),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
}

/// A client acting as the reconciler's service account, so the test proves its RBAC rules.
pub async fn reconciler_client(kubeconfig: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    config.auth_info.impersonate = Some(format!(
        "system:serviceaccount:kubeless:{}",
        fnhost_reconciler::manifests::SERVICE_ACCOUNT
    ));
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".to_owned(),
        "system:serviceaccounts:kubeless".to_owned(),
        "system:authenticated".to_owned(),
    ]);
    Client::try_from(config).expect("client")
}

/// Waits until `api` has an object `name`.
pub async fn eventually_get(api: &Api<DynamicObject>, name: &str) -> DynamicObject {
    eventually(&format!("{} {name}", api.resource_url()), || {
        let api = api.clone();
        async move { api.get(name).await.ok() }
    })
    .await
}

/// The original kubeless CLI v1.0.8, built and cached by `scripts/k8s/build-kubeless-cli.sh`.
pub fn kubeless_binary() -> PathBuf {
    let dir = cached_tool_dir(
        "FNHOST_KUBELESS_BIN",
        ".cache/fnhost-k8s/kubeless-bin",
        "kubeless",
        "scripts/k8s/build-kubeless-cli.sh",
    );
    dir.join("kubeless")
}

/// Runs the original kubeless CLI; it must succeed. Returns stdout and stderr together.
pub fn kubeless(kubeconfig: &Path, workdir: &Path, args: &[&str]) -> String {
    let output = Command::new(kubeless_binary())
        .args(args)
        .current_dir(workdir)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("the kubeless CLI runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "kubeless {} failed ({}):\n{text}",
        args.join(" "),
        output.status
    );
    text
}

/// The API resource of a group, version, kind and plural.
pub fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}
