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

use crate::worker::WorkerCommand;

/// The compiled worker's file name, in the function folder.
pub const WORKER_BINARY: &str = "fnhost-go-worker";
const BUILD_DIR: &str = ".fnhost-go";
const MAIN_TEMPLATE: &str = include_str!("../shims/go/main.go.tmpl");
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

/// Why a Go function could not be built; the message is what the user needs to see.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The handler is not an exported Go identifier.
    #[error("the Go handler {0:?} must be an exported function name, e.g. Foo")]
    Handler(String),
    /// Files could not be written or read.
    #[error("{0}")]
    Io(String),
    /// `go build` failed: its output.
    #[error("go build failed for handler {handler}:\n{output}")]
    Compile {
        /// The handler.
        handler: String,
        /// What the Go toolchain said.
        output: String,
    },
}

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
        return Err(BuildError::Handler(handler.to_owned()));
    }
    let io = |what: &str, e: std::io::Error| BuildError::Io(format!("{what}: {e}"));
    let dir = &std::fs::canonicalize(dir)
        .map_err(|e| io(&format!("the function folder {}", dir.display()), e))?;
    let build_dir = dir.join(BUILD_DIR);
    let _ = std::fs::remove_dir_all(&build_dir);
    let functions_dir = build_dir.join("kubeless/pkg/functions");
    let function_dir = build_dir.join("function");
    std::fs::create_dir_all(&functions_dir).map_err(|e| io("create the build folder", e))?;
    std::fs::create_dir_all(&function_dir).map_err(|e| io("create the build folder", e))?;
    std::fs::write(build_dir.join("kubeless/go.mod"), FUNCTIONS_MOD)
        .map_err(|e| io("write go.mod", e))?;
    std::fs::write(functions_dir.join("functions.go"), FUNCTIONS_GO)
        .map_err(|e| io("write functions.go", e))?;
    std::fs::write(build_dir.join("go.mod"), MAIN_MOD).map_err(|e| io("write go.mod", e))?;
    std::fs::write(
        build_dir.join("main.go"),
        MAIN_TEMPLATE.replace("{{HANDLER}}", handler),
    )
    .map_err(|e| io("write main.go", e))?;
    copy_function(dir, &function_dir)?;
    let output = dir.join(WORKER_BINARY);
    let result = Command::new("go")
        .args(["build", "-trimpath", "-o"])
        .arg(&output)
        .arg(".")
        .current_dir(&build_dir)
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .output()
        .map_err(|e| io("run go (is the Go toolchain installed?)", e))?;
    if !result.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        );
        return Err(BuildError::Compile {
            handler: handler.to_owned(),
            output: text.trim().to_owned(),
        });
    }
    Ok(output)
}

/// Copies the function's `*.go` files and its `go.mod` (module renamed `function`, as the
/// upstream examples name it) into the build's `function` module.
fn copy_function(dir: &Path, function_dir: &Path) -> Result<(), BuildError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| BuildError::Io(format!("read {}: {e}", dir.display())))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "go") {
            std::fs::copy(&path, function_dir.join(entry.file_name()))
                .map_err(|e| BuildError::Io(format!("copy {}: {e}", path.display())))?;
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
    std::fs::write(function_dir.join("go.mod"), module)
        .map_err(|e| BuildError::Io(format!("write go.mod: {e}")))?;
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
            env: vec![
                ("FUNC_HANDLER".to_owned(), spec.handler.clone()),
                (
                    "FUNC_TIMEOUT".to_owned(),
                    spec.timeout.as_secs().to_string(),
                ),
                ("FUNC_RUNTIME".to_owned(), spec.runtime.clone()),
                ("FUNC_MEMORY_LIMIT".to_owned(), spec.memory_limit.clone()),
            ],
            dir: spec.dir.clone(),
            start_timeout: Duration::from_secs(60),
        };
        crate::function::start_blocking("go", spec, command, spec.workers)
    }
}
