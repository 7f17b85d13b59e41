//! The `fnhost-dispatcher` binary: reads its settings, serves `/metrics`, `/healthz` and
//! `/readyz`, and runs the pairs its triggers make (from a routes file, or from the cluster).

use std::sync::Arc;

use fnhost_delivery::metrics::Metrics;
use fnhost_delivery::post::Poster;
use fnhost_dispatcher::settings::{self, Mode, Settings};
use fnhost_dispatcher::supervisor::{Board, Brokers, Env, Supervisor, name_of};
use fnhost_dispatcher::{observe, plan, routes};

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
        kafka_brokers: settings.kafka_brokers.clone(),
    };
    let env = Arc::new(Env::new(
        brokers,
        Poster::new(settings.attempt_timeout),
        metrics.clone(),
        &settings.state_dir,
    ));
    let mut supervisor = Supervisor::new(env.clone(), board.clone());
    match &settings.mode {
        Mode::Routes(path) => {
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
        }
        Mode::Cluster { .. } => {
            return Err(
                "cluster mode is not built yet (issue 14 in progress); use run --routes FILE"
                    .to_owned(),
            );
        }
    }
    println!("fnhost-dispatcher: listening http={address}");
    tokio::select! {
        () = observe::serve(listener, metrics, board) => {}
        () = shutdown() => tracing::info!("stopping"),
    }
    drop(supervisor);
    Ok(())
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
