//! The `fnhost-dispatcher` binary: reads its settings, serves `/metrics`, `/healthz` and
//! `/readyz`, and runs the pairs its triggers make (from a routes file, or from the cluster).
//! `fnhost-dispatcher manifest` prints `manifests/message-triggers.yaml`.

use std::path::Path;
use std::sync::Arc;

use fnhost_delivery::metrics::Metrics;
use fnhost_delivery::post::Poster;
use fnhost_dispatcher::checkpoints::ConfigMapStore;
use fnhost_dispatcher::settings::{self, Mode, Settings};
use fnhost_dispatcher::supervisor::{Board, Brokers, Env, Supervisor, name_of};
use fnhost_dispatcher::{cluster, observe, plan, routes};
use fnhost_trigger_kinesis::checkpoint::Checkpoints;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FNHOST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["manifest"] {
        return match fnhost_dispatcher::manifest::to_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("fnhost-dispatcher: cannot render the manifest: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let settings = match settings::read(&args, |key| std::env::var(key).ok()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("fnhost-dispatcher: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fnhost-dispatcher: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), String> {
    let metrics = Metrics::new().map_err(|e| format!("metrics: {e}"))?;
    let board = Board::default();
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let brokers = Brokers {
        nats_url: settings.nats_url.clone(),
        kafka: settings.kafka.clone(),
    };
    let (checkpoints, client) = match &settings.mode {
        Mode::Routes(_) => (
            Checkpoints::in_folder(settings.state_dir.join("kinesis-checkpoints")),
            None,
        ),
        Mode::Cluster { kubeconfig } => {
            let client = connect(kubeconfig.as_deref()).await?;
            let store = ConfigMapStore::new(client.clone(), &settings.namespace);
            tokio::spawn(store.clone().keep_writing());
            (Checkpoints::with(store), Some(client))
        }
    };
    let env = Arc::new(Env::new(
        brokers,
        Poster::new(settings.attempt_timeout),
        metrics.clone(),
        checkpoints,
    ));
    let supervisor = Supervisor::new(env.clone(), board.clone());
    // The routes' pairs run while `planned` lives; the cluster's are the watching task's.
    let (planned, watching) = match (&settings.mode, client) {
        (Mode::Routes(path), _) => (Some(from_routes(path, supervisor, &env)?), None),
        (Mode::Cluster { .. }, Some(client)) => {
            let task = tokio::spawn(cluster::run(client, supervisor, env.clone(), board.clone()));
            (None, Some(task))
        }
        (Mode::Cluster { .. }, None) => return Err("no Kubernetes client".to_owned()),
    };
    println!("fnhost-dispatcher: listening http={address}");
    tokio::select! {
        () = observe::serve(listener, metrics, board) => {}
        () = shutdown() => tracing::info!("stopping"),
    }
    if let Some(task) = watching {
        task.abort();
    }
    drop(planned);
    env.flush_checkpoints().await;
    Ok(())
}

/// Plans the pairs of a routes file once; they run while the returned supervisor lives.
fn from_routes(path: &Path, mut supervisor: Supervisor, env: &Env) -> Result<Supervisor, String> {
    let routes = routes::read(path).map_err(|e| e.to_string())?;
    env.set_secrets(routes.secrets);
    let (pairs, problems) = plan::pairs(&routes.triggers, &routes.functions);
    for problem in &problems {
        tracing::error!(trigger = %format!("{} {}/{}", problem.source.kind(), problem.namespace, problem.trigger),
            "not run: {}", problem.detail);
    }
    tracing::info!(pairs = pairs.len(), "routes read from {}", path.display());
    for pair in &pairs {
        tracing::debug!(pair = %name_of(&pair.id), "planned");
    }
    supervisor.apply(pairs);
    Ok(supervisor)
}

/// A client from `kubeconfig`, or inferred (in-cluster, `KUBECONFIG`, `~/.kube/config`).
async fn connect(kubeconfig: Option<&Path>) -> Result<kube::Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no Kubernetes configuration (in-cluster or kubeconfig): {e}"))?,
    };
    kube::Client::try_from(config).map_err(|e| format!("Kubernetes client: {e}"))
}

async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
