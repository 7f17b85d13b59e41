//! The command line. Flags only fill [`Overrides`]; [`fnhost_runtime_config::Settings`]
//! applies them over the environment in one place.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use fnhost_runtime_config::{Catalogue, Overrides, runtime_images, settings::KEYS};

/// fnhost serves one Kubeless function over HTTP.
///
/// With no command it runs as a Kubeless runtime container: MOD_NAME, FUNC_HANDLER,
/// FUNC_TIMEOUT, FUNC_RUNTIME, FUNC_MEMORY_LIMIT, FUNC_PORT and KUBELESS_INSTALL_VOLUME
/// describe the function.
#[derive(Debug, Parser)]
#[command(name = "fnhost", version, about, long_about = None)]
pub struct Cli {
    /// What to do; none means serve the function described by the environment.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print the resolved configuration and exit.
    #[arg(long, global = true)]
    pub print_config: bool,
    /// Set by a supervising fnhost on its serving child: the supervisor's socket.
    #[arg(long, hide = true, global = true)]
    pub supervisor: Option<PathBuf>,
    /// Set by a supervising fnhost on a replacement child: the address its first child bound,
    /// over any other setting.
    #[arg(long, hide = true, global = true)]
    pub listen_on: Option<std::net::SocketAddr>,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install a function's dependencies and serve it locally, exactly as in a pod.
    Run(RunArgs),
    /// Print the runtime catalogue in the Kubeless `runtime-images` JSON shape.
    Catalogue,
    /// Build a compiled function (the compile phase): `fnhost build go|java|dotnet --dir D
    /// [--handler H]`.
    Build(BuildArgs),
    /// Internal: a worker process of `FNHOST_ISOLATION=process`, started by fnhost itself.
    #[command(hide = true)]
    Worker(WorkerArgs),
}

/// `fnhost build go|java|dotnet --dir D [--handler H]`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The language (`go`, `java`, `dotnet`).
    pub language: String,
    /// The function folder (`KUBELESS_INSTALL_VOLUME`).
    #[arg(long)]
    pub dir: PathBuf,
    /// The function name (`KUBELESS_FUNC_NAME`); Go compiles it into the worker.
    #[arg(long)]
    pub handler: Option<String>,
}

/// `fnhost worker native|python --dir D --module M --handler H ...` (started by fnhost, not by
/// people).
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The loader whose worker to run (`native`, `python`).
    pub loader: String,
    /// Function folder.
    #[arg(long)]
    pub dir: PathBuf,
    /// Module.
    #[arg(long)]
    pub module: String,
    /// Handler.
    #[arg(long)]
    pub handler: String,
    /// Runtime id, for the context.
    #[arg(long, default_value = "")]
    pub runtime: String,
    /// Memory limit, for the context.
    #[arg(long, default_value = "0")]
    pub memory_limit: String,
    /// Timeout in seconds, for the context.
    #[arg(long, default_value_t = 180.0)]
    pub timeout: f64,
    /// Calls the worker runs at once (`FNHOST_THREADS`).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Extra import paths (installed dependencies), in order.
    #[arg(long = "search-path")]
    pub search_path: Vec<PathBuf>,
    /// The host's socket (the worker protocol names it in the environment).
    #[arg(long, env = "FNHOST_WORKER_SOCKET")]
    pub socket: PathBuf,
}

impl WorkerArgs {
    /// The function the worker serves.
    pub fn spec(&self) -> fnhost_loader_api::FunctionSpec {
        fnhost_loader_api::FunctionSpec {
            timeout: std::time::Duration::from_secs_f64(self.timeout.max(0.0)),
            runtime: self.runtime.clone(),
            memory_limit: self.memory_limit.clone(),
            concurrency: self.threads.max(1),
            max_concurrency: self.threads.max(1),
            search_path: self.search_path.clone(),
            ..fnhost_loader_api::FunctionSpec::new(&self.module, &self.handler, self.dir.clone())
        }
    }
}

/// `fnhost run FILE --handler NAME`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The function file, e.g. ./hello.py.
    pub file: PathBuf,
    /// The handler: `NAME` or `MODULE.NAME`, e.g. hello.foo.
    #[arg(long)]
    pub handler: String,
    /// Port to listen on (0 picks a free one) [default: 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long)]
    pub listen: Option<IpAddr>,
    /// Seconds a call may run before the client gets 408 [default: 180].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Dependency file to install first (e.g. requirements.txt).
    #[arg(long)]
    pub deps: Option<PathBuf>,
    /// Runtime id, e.g. python3.11 [default: inferred from the file suffix].
    #[arg(long)]
    pub runtime: Option<String>,
}

impl RunArgs {
    /// The flags as overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            file: Some(self.file.clone()),
            handler: Some(self.handler.clone()),
            runtime: self.runtime.clone(),
            port: self.port,
            listen: self.listen,
            timeout: self.timeout,
            deps: self.deps.clone(),
        }
    }
}

/// The catalogue as `runtime-images` JSON.
pub fn catalogue_json() -> String {
    runtime_images::render(&Catalogue::builtin())
}

/// A human-readable dump of resolved settings plus the table of keys.
pub fn describe_settings(settings: &fnhost_runtime_config::Settings) -> String {
    let mut out = format!("{settings:#?}\n\nEnvironment keys:\n");
    for (key, default, meaning) in KEYS {
        out.push_str(&format!("  {key:<28} default {default}: {meaning}\n"));
    }
    out
}
