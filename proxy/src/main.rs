//! The `fnhost` binary: parse the command line, set up logging and signals, run.

use std::process::ExitCode;

use clap::Parser;
use fnhost_proxy::cli::{self, Cli, Command};
use fnhost_proxy::server::Drained;
use fnhost_runtime_config::{Mode, Overrides, ProcessEnv, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (mode, overrides) = match &cli.command {
        Some(Command::Catalogue) => {
            println!("{}", cli::catalogue_json());
            return ExitCode::SUCCESS;
        }
        Some(Command::Run(args)) => (Mode::Local, args.overrides()),
        Some(Command::Build(args)) => {
            return match fnhost_proxy::build_function(
                &args.language,
                &args.dir,
                args.handler.as_deref(),
            ) {
                Ok(built) => {
                    println!("fnhost build: {}", built.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e, 1),
            };
        }
        Some(Command::Worker(args)) => {
            return match fnhost_proxy::run_worker(&args.loader, &args.spec(), &args.socket) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fnhost worker: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        None => (Mode::Pod, Overrides::default()),
    };
    let mut settings = match Settings::resolve(mode, &ProcessEnv, &overrides) {
        Ok(settings) => settings,
        Err(e) => return fail(&e.to_string(), fnhost_proxy::EXIT_CONFIG),
    };
    if cli.print_config {
        println!("{}", cli::describe_settings(&settings));
        return ExitCode::SUCCESS;
    }
    init_logging(&settings.log_filter);
    if settings.supervise && cli.supervisor.is_none() {
        // This process only supervises; the serving child resolves the same settings.
        let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        return ExitCode::from(fnhost_proxy::supervise::run(args));
    }
    if let Some(addr) = cli.listen_on {
        settings.server.listen = addr;
    }
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    let supervisor = cli.supervisor.as_deref();
    match fnhost_proxy::run(&settings, |addr| shutdown_signal(addr, supervisor)) {
        Ok(Drained::Clean) => {
            tracing::info!("all in-flight requests finished; bye");
            ExitCode::SUCCESS
        }
        Ok(Drained::TimedOut { open: _, calls: 0 }) => {
            tracing::info!("SHUTDOWN_TIMEOUT elapsed with idle connections only; bye");
            ExitCode::SUCCESS
        }
        Ok(Drained::TimedOut { open, calls }) => {
            tracing::error!(
                open,
                calls,
                "SHUTDOWN_TIMEOUT elapsed: cutting {calls} running call(s); exit code {}",
                fnhost_proxy::EXIT_CALLS_CUT
            );
            ExitCode::from(fnhost_proxy::EXIT_CALLS_CUT)
        }
        Err(e) => fail(&e.to_string(), e.exit_code()),
    }
}

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("fnhost: {}", message.trim_end());
    fnhost_proxy::write_termination_log(message);
    ExitCode::from(code)
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Installs the SIGTERM and SIGINT handlers at once (inside the runtime, before readiness is
/// announced: a signal sent right after the announcement must not find the default action),
/// tells a supervisor where fnhost listens, and returns the future that resolves on either
/// signal or when the supervisor is gone.
fn shutdown_signal(
    addr: std::net::SocketAddr,
    supervisor: Option<&std::path::Path>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; SIGTERM will not drain");
        return Box::pin(std::future::pending());
    };
    let supervisor_gone = match supervisor {
        Some(path) => fnhost_proxy::supervise::report(path, addr),
        None => Box::pin(std::future::pending()),
    };
    Box::pin(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
            () = supervisor_gone => {}
        }
    })
}
