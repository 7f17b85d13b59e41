//! Ruby functions in Ruby worker processes: fnhost's worker shim (`shims/ruby-worker.rb`,
//! standard library only) loads the Kubeless function (a top-level `def handler(event,
//! context)`) unchanged, as upstream did, and runs calls on a pool of threads per process.
//!
//! Gems installed by the install phase (`bundle install` with `GEM_HOME` in the function's
//! volume) are found through `GEM_HOME`, as upstream's runtime image set it; gems of the
//! system (Debian's `ruby-*` packages) stay visible.

use std::path::PathBuf;
use std::time::Duration;

use fnhost_loader_api::{Function, FunctionSpec, LoadError, Loader};

use crate::shim;
use fnhost_workers::WorkerCommand;

/// The worker shim's source.
pub const SHIM: &str = include_str!("../shims/ruby-worker.rb");

/// Loads Ruby functions into worker processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct RubyLoader;

impl Loader for RubyLoader {
    fn name(&self) -> &'static str {
        "ruby"
    }

    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
        shim::require_module_file(spec, ".rb")?;
        let script = shim::write("ruby", "ruby-worker.rb", SHIM)?;
        let mut env = shim::function_env(spec);
        if let Some(gem_home) = spec.search_path.first() {
            env.push(("GEM_HOME".to_owned(), gem_home.display().to_string()));
        }
        let command = WorkerCommand {
            program: PathBuf::from("ruby"),
            args: vec![script.display().to_string()],
            env,
            dir: spec.dir.clone(),
            start_timeout: Duration::from_secs(60),
            memory_limit: fnhost_workers::memory::limit_of(spec),
        };
        fnhost_workers::start_blocking("ruby", spec, command, spec.workers)
    }
}
