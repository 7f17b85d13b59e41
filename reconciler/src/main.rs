//! `fnhost-reconciler`: the cluster side of fnhost.
//!
//! - `fnhost-reconciler run [--kubeconfig PATH]`: watches Functions and keeps their objects in
//!   sync (in a pod: the in-cluster service account; else `KUBECONFIG` or `~/.kube/config`).
//!   Reads `kubeless-config` from `KUBELESS_NAMESPACE` (default `kubeless`), name
//!   `KUBELESS_CONFIG` (default `kubeless-config`), as upstream. Serves `/metrics` and
//!   `/healthz` on `FNHOST_RECONCILER_LISTEN` (default `0.0.0.0:8081`).
//! - `fnhost-reconciler crds`: prints the CRD manifests generated from the Rust types.
//! - `fnhost-reconciler install-manifest`: prints `manifests/install.yaml`.
//! - `fnhost-reconciler render FUNCTION.yaml`: prints the objects a Function becomes (JSON,
//!   one per line), without a cluster: what the reconciler would apply.

use std::process::ExitCode;

use fnhost_reconciler::crd::Function;
use fnhost_reconciler::objects::{self, ClusterConfig, HpaVersion, Owner};
use fnhost_runtime_config::catalogue::Catalogue;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["crds"] => fnhost_reconciler::manifests::crds_yaml()
            .map(|yaml| print!("{yaml}"))
            .map_err(|e| e.to_string()),
        ["render", path] => render(path),
        ["install-manifest"] => fnhost_reconciler::manifests::install_objects()
            .map_err(|e| e.to_string())
            .and_then(|objects| {
                fnhost_reconciler::manifests::to_yaml("install-manifest", &objects)
                    .map_err(|e| e.to_string())
            })
            .map(|yaml| print!("{yaml}")),
        ["run"] => serve(None),
        ["run", "--kubeconfig", path] => serve(Some(path)),
        _ => {
            eprintln!(
                "usage: fnhost-reconciler run [--kubeconfig PATH] | crds | render FUNCTION.yaml"
            );
            return ExitCode::from(64);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fnhost-reconciler: {e}");
            ExitCode::FAILURE
        }
    }
}

fn render(path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let function: Function =
        serde_yaml::from_str(&text).map_err(|e| format!("{path}: not a Function: {e}"))?;
    let catalogue = Catalogue::builtin();
    let runtime = catalogue.get(&function.spec.runtime).ok_or_else(|| {
        format!(
            "runtime {:?} is not in the catalogue ({})",
            function.spec.runtime,
            catalogue.ids().join(", ")
        )
    })?;
    let owner = Owner::new(&function);
    let config = ClusterConfig::default();
    let mut out = vec![
        objects::config_map(&owner, runtime).map_err(|e| e.to_string())?,
        objects::deployment(&owner, runtime, &config).map_err(|e| e.to_string())?,
        objects::service(&owner).map_err(|e| e.to_string())?,
    ];
    if let Some(hpa) = objects::horizontal_pod_autoscaler(&owner, HpaVersion::V2beta2)
        .map_err(|e| e.to_string())?
    {
        out.push(hpa);
    }
    for object in out {
        println!("{object}");
    }
    Ok(())
}

fn serve(kubeconfig: Option<&str>) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FNHOST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    runtime.block_on(async {
        let client = fnhost_reconciler::connect(kubeconfig)
            .await
            .map_err(|e| e.to_string())?;
        let env = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.to_owned());
        let namespace = env("KUBELESS_NAMESPACE", fnhost_reconciler::settings::DEFAULT_NAMESPACE);
        let name = env("KUBELESS_CONFIG", fnhost_reconciler::settings::DEFAULT_NAME);
        let context = fnhost_reconciler::context(client, (&namespace, &name))
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(hpa = ?context.hpa_version, cronjob = ?context.cronjob_version, runtimes = %context.catalogue.ids().join(","), "fnhost-reconciler started");
        let listen = env("FNHOST_RECONCILER_LISTEN", "0.0.0.0:8081");
        let addr: std::net::SocketAddr = listen.parse().map_err(|e| format!("FNHOST_RECONCILER_LISTEN={listen:?}: {e}"))?;
        let listener = fnhost_reconciler::observe::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        tracing::info!("metrics and health on http://{addr}/metrics, /healthz");
        tokio::spawn(fnhost_reconciler::observe::serve(listener, context.metrics.clone()));
        fnhost_reconciler::controller::run(context, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        Ok(())
    })
}
