//! Node.js functions in Node.js worker processes: fnhost's worker shim
//! (`shims/nodejs-worker.js`, embedded in the binary and written next to the cache on first
//! use) loads the Kubeless function unchanged and serves many calls at once per process.

use std::path::PathBuf;
use std::time::Duration;

use fnhost_loader_api::{Function, FunctionSpec, LoadError, Loader};

use crate::worker::WorkerCommand;

/// The worker shim's source.
pub const SHIM: &str = include_str!("../shims/nodejs-worker.js");

/// Loads Node.js functions into worker processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct NodeLoader;

impl Loader for NodeLoader {
    fn name(&self) -> &'static str {
        "nodejs"
    }

    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
        if !spec.dir.join(format!("{}.js", spec.module)).is_file() {
            return Err(LoadError::ModuleNotFound {
                module: spec.module.clone(),
                handler: spec.handler.clone(),
                detail: format!(
                    "{} does not exist",
                    spec.dir.join(format!("{}.js", spec.module)).display()
                ),
            });
        }
        let shim = write_shim().map_err(|e| LoadError::Engine {
            engine: "nodejs",
            detail: format!("cannot write the worker shim: {e}"),
        })?;
        let command = WorkerCommand {
            program: PathBuf::from("node"),
            args: vec![shim.display().to_string()],
            env: worker_env(spec),
            dir: spec.dir.clone(),
            start_timeout: Duration::from_secs(60),
        };
        crate::function::start_blocking("nodejs", spec, command, spec.workers)
    }
}

/// The function's environment for the worker.
fn worker_env(spec: &FunctionSpec) -> Vec<(String, String)> {
    let mut node_path: Vec<String> = spec
        .search_path
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    node_path.push(spec.dir.join("node_modules").display().to_string());
    vec![
        (
            "FNHOST_FUNCTION_DIR".to_owned(),
            spec.dir.display().to_string(),
        ),
        ("MOD_NAME".to_owned(), spec.module.clone()),
        ("FUNC_HANDLER".to_owned(), spec.handler.clone()),
        (
            "FUNC_TIMEOUT".to_owned(),
            spec.timeout.as_secs().to_string(),
        ),
        ("FUNC_RUNTIME".to_owned(), spec.runtime.clone()),
        ("FUNC_MEMORY_LIMIT".to_owned(), spec.memory_limit.clone()),
        ("NODE_PATH".to_owned(), node_path.join(":")),
    ]
}

/// Writes the shim once per content (the file name carries a hash of it).
fn write_shim() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        "fnhost-nodejs-worker-{:016x}.js",
        fingerprint(SHIM)
    ));
    if !path.is_file() {
        let staging = dir.join(format!("{}.{}.tmp", path.display(), std::process::id()));
        std::fs::write(&staging, SHIM)?;
        std::fs::rename(&staging, &path)?;
    }
    Ok(path)
}

/// FNV-1a, enough to tell shim versions apart.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
