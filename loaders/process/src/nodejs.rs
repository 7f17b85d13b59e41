//! Node.js functions in Node.js worker processes: fnhost's worker shim
//! (`shims/nodejs-worker.js`, embedded in the binary and written to the temporary folder on
//! first use) loads the Kubeless function unchanged and serves many calls at once per process.

use std::path::PathBuf;
use std::time::Duration;

use fnhost_loader_api::{Function, FunctionSpec, LoadError, Loader};

use crate::shim;
use fnhost_workers::WorkerCommand;

/// The worker shim's own source; [`shim_source`] is what runs.
pub const SHIM: &str = include_str!("../shims/nodejs-worker.js");

/// The script a Node.js worker runs: the contract's JavaScript half, then the shim.
pub fn shim_source() -> String {
    format!("{}\n{SHIM}", fnhost_loader_api::KUBELESS_JS)
}

/// Loads Node.js functions into worker processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct NodeLoader;

impl Loader for NodeLoader {
    fn name(&self) -> &'static str {
        "nodejs"
    }

    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
        shim::require_module_file(spec, ".js")?;
        let script = shim::write("nodejs", "nodejs-worker.js", &shim_source())?;
        let mut node_path: Vec<String> = spec
            .search_path
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        node_path.push(spec.dir.join("node_modules").display().to_string());
        let mut env = shim::function_env(spec);
        env.push(("NODE_PATH".to_owned(), node_path.join(":")));
        let mut args: Vec<String> = shim::node_heap_mib(spec)
            .map(|mib| format!("--max-old-space-size={mib}"))
            .into_iter()
            .collect();
        args.push(script.display().to_string());
        let command = WorkerCommand {
            program: PathBuf::from("node"),
            args,
            env,
            dir: spec.dir.clone(),
            start_timeout: Duration::from_secs(60),
            memory_limit: fnhost_workers::memory::limit_of(spec),
        };
        fnhost_workers::start_blocking("nodejs", spec, command, spec.workers)
    }
}
