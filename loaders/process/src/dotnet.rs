//! C# functions on Mono (no .NET SDK can be installed from the registries fnhost builds
//! with): the compile phase (`fnhost build dotnet`) compiles the user's unmodified `.cs`
//! files with fnhost's `Kubeless.Functions` types and worker (`shims/dotnet/`) into one
//! assembly with Mono's `mcs`; the loader runs it with `mono` as worker processes (each takes
//! many calls at once, on the thread pool).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fnhost_loader_api::{Function, FunctionSpec, LoadError, Loader};

use crate::build::{self, BuildError};
use crate::shim;
use fnhost_workers::WorkerCommand;

/// The build folder, in the function folder.
pub const BUILD_DIR: &str = ".fnhost-dotnet";
/// The compiled assembly, below [`BUILD_DIR`].
const ASSEMBLY: &str = "function.exe";

const SHIM_SOURCES: [(&str, &str); 3] = [
    (
        "src/Functions.cs",
        include_str!("../shims/dotnet/Functions.cs"),
    ),
    (
        "src/FnhostJson.cs",
        include_str!("../shims/dotnet/FnhostJson.cs"),
    ),
    (
        "src/FnhostWorker.cs",
        include_str!("../shims/dotnet/FnhostWorker.cs"),
    ),
];

/// The assemblies every function may use (plus the `.dll` files in its folder).
const REFERENCES: [&str; 3] = ["Mono.Posix", "System.Core", "Microsoft.CSharp"];

/// Compiles the `.cs` files in `dir` into `<dir>/.fnhost-dotnet/function.exe`.
pub fn build(dir: &Path) -> Result<PathBuf, BuildError> {
    let (dir, build_dir) = build::fresh_build_dir(dir, BUILD_DIR)?;
    let sources = build::files_with_suffix(&dir, ".cs")?;
    if sources.is_empty() {
        return Err(BuildError::Input(format!(
            "no .cs file in {}: a C# function is a public class with a method (Event, Context)",
            dir.display()
        )));
    }
    build::write_files(&build_dir, &SHIM_SOURCES)?;
    let assembly = build_dir.join(ASSEMBLY);
    let mut mcs = Command::new("mcs");
    mcs.args(["-nologo", "-target:exe", "-optimize+"])
        .arg(format!("-out:{}", assembly.display()))
        .args(REFERENCES.iter().map(|r| format!("-r:{r}")))
        .args(
            build::files_with_suffix(&dir, ".dll")?
                .iter()
                .map(|dll| format!("-r:{}", dll.display())),
        )
        .args(SHIM_SOURCES.iter().map(|(name, _)| build_dir.join(name)))
        .args(&sources)
        .current_dir(&dir);
    build::run(mcs, "mcs", &dir.display().to_string())?;
    for dll in build::files_with_suffix(&dir, ".dll")? {
        if let Some(name) = dll.file_name() {
            std::fs::copy(&dll, build_dir.join(name))
                .map_err(build::io_error(format_args!("copy {}", dll.display())))?;
        }
    }
    Ok(assembly)
}

/// Runs compiled C# functions in Mono worker processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct DotnetLoader;

impl Loader for DotnetLoader {
    fn name(&self) -> &'static str {
        "dotnet"
    }

    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
        shim::require_module_file(spec, ".cs")?;
        let assembly = spec.dir.join(BUILD_DIR).join(ASSEMBLY);
        if !assembly.is_file() {
            return Err(LoadError::ImportFailed {
                module: spec.module.clone(),
                handler: spec.handler.clone(),
                detail: format!(
                    "{} does not exist: the compile phase (`fnhost build dotnet`) has not run",
                    assembly.display()
                ),
            });
        }
        let command = WorkerCommand {
            program: PathBuf::from("mono"),
            args: vec![assembly.display().to_string()],
            env: shim::function_env(spec),
            dir: spec.dir.clone(),
            start_timeout: Duration::from_secs(60),
            memory_limit: fnhost_workers::memory::limit_of(spec),
        };
        fnhost_workers::start_blocking("dotnet", spec, command, spec.workers)
    }
}
