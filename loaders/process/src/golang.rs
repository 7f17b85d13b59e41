//! Go functions: the compile phase (`fnhost build go`, the compile init container in a pod)
//! builds the user's unmodified `package kubeless` together with fnhost's worker shim
//! (`shims/go/`) into one static binary, `fnhost-go-worker`, in the function folder; the
//! loader runs it as worker processes (each takes many calls at once, one goroutine each).
//!
//! Unmodified functions import `github.com/kubeless/kubeless/pkg/functions`: the build
//! replaces that module with fnhost's copy of its types, and resolves every other dependency
//! of the function's `go.mod` through the Go module proxy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fnhost_loader_api::{Function, FunctionSpec, LoadError, Loader};

use crate::build::{self, BuildError, io_error};
use fnhost_workers::WorkerCommand;

/// The compiled worker's file name, in the function folder.
pub const WORKER_BINARY: &str = "fnhost-go-worker";
const BUILD_DIR: &str = ".fnhost-go";
const MAIN_TEMPLATE: &str = include_str!("../shims/go/main.go.tmpl");
const CALL_HEADER_GO: &str = include_str!("../shims/go/callheader.go");
const FUNCTIONS_GO: &str = include_str!("../shims/go/kubeless/pkg/functions/functions.go");
const FUNCTIONS_MOD: &str = include_str!("../shims/go/kubeless/go.mod");
const MAIN_MOD: &str = "module fnhost.local/goworker

go 1.21

require (
\tgithub.com/kubeless/kubeless v1.0.8
\tfunction v0.0.0
)

replace github.com/kubeless/kubeless => ./kubeless

replace function => ./function
";

/// Builds `<dir>/fnhost-go-worker` from the `*.go` files and `go.mod` in `dir`.
pub fn build(dir: &Path, handler: &str) -> Result<PathBuf, BuildError> {
    let exported = handler
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase())
        && handler
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !exported {
        return Err(BuildError::Input(format!(
            "the Go handler {handler:?} must be an exported function name, e.g. Foo"
        )));
    }
    let (dir, build_dir) = build::fresh_build_dir(dir, BUILD_DIR)?;
    let main_go = MAIN_TEMPLATE.replace("{{HANDLER}}", handler);
    build::write_files(
        &build_dir,
        &[
            ("kubeless/go.mod", FUNCTIONS_MOD),
            ("kubeless/pkg/functions/functions.go", FUNCTIONS_GO),
            ("go.mod", MAIN_MOD),
            ("main.go", &main_go),
            ("callheader.go", CALL_HEADER_GO),
        ],
    )?;
    let function_dir = build_dir.join("function");
    std::fs::create_dir_all(&function_dir).map_err(io_error("create the build folder"))?;
    copy_function(&dir, &function_dir)?;
    let output = dir.join(WORKER_BINARY);
    let mut go = Command::new("go");
    go.args(["build", "-trimpath", "-o"])
        .arg(&output)
        .arg(".")
        .current_dir(&build_dir)
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local");
    build::run(go, "go build", &format!("handler {handler}"))?;
    Ok(output)
}

/// Copies the function's `*.go` files and its `go.mod` (module renamed `function`, as the
/// upstream examples name it) into the build's `function` module.
fn copy_function(dir: &Path, function_dir: &Path) -> Result<(), BuildError> {
    for path in build::files_with_suffix(dir, ".go")? {
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, function_dir.join(name))
                .map_err(io_error(format_args!("copy {}", path.display())))?;
        }
    }
    let user_mod = std::fs::read_to_string(dir.join("go.mod")).unwrap_or_default();
    let module = if user_mod.trim().is_empty() {
        "module function\n\ngo 1.21\n".to_owned()
    } else {
        user_mod
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("module ") {
                    "module function"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(function_dir.join("go.mod"), module).map_err(io_error("write go.mod"))?;
    if let Ok(sum) = std::fs::read(dir.join("go.sum")) {
        let _ = std::fs::write(function_dir.join("go.sum"), sum);
    }
    Ok(())
}

/// Runs compiled Go functions in worker processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct GoLoader;

impl Loader for GoLoader {
    fn name(&self) -> &'static str {
        "go"
    }

    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
        let program = spec.dir.join(WORKER_BINARY);
        if !program.is_file() {
            return Err(LoadError::ImportFailed {
                module: spec.module.clone(),
                handler: spec.handler.clone(),
                detail: format!(
                    "{} does not exist: the compile phase (`fnhost build go`) has not run",
                    program.display()
                ),
            });
        }
        let command = WorkerCommand {
            program,
            args: Vec::new(),
            env: crate::shim::function_env(spec),
            dir: spec.dir.clone(),
            start_timeout: Duration::from_secs(60),
            memory_limit: fnhost_workers::memory::limit_of(spec),
        };
        fnhost_workers::start_blocking("go", spec, command, spec.workers)
    }
}
