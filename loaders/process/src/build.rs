//! What the compile phases of compiled languages share (`fnhost build go|java|dotnet`): a typed
//! error whose message is what the user needs to see, running a toolchain command with its
//! output captured, and writing fnhost's embedded shim sources into a build folder.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a function could not be built; the message is what the user needs to see (and what a
/// pod's compile container writes to its termination log).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The handler or folder cannot be built as given.
    #[error("{0}")]
    Input(String),
    /// Files could not be written or read.
    #[error("{0}")]
    Io(String),
    /// The toolchain could not be started (not installed?).
    #[error("cannot run {tool} ({source}); is it installed and on PATH?")]
    Toolchain {
        /// The program.
        tool: String,
        /// Why.
        source: std::io::Error,
    },
    /// A toolchain command failed: its output.
    #[error("{step} failed for {function}:\n{output}")]
    Compile {
        /// What ran, e.g. `go build`.
        step: String,
        /// The function (handler or folder).
        function: String,
        /// What the toolchain said.
        output: String,
    },
}

/// An I/O error with what was being done.
pub fn io_error(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> BuildError {
    move |e| BuildError::Io(format!("{what}: {e}"))
}

/// Runs `command`; a non-zero exit is [`BuildError::Compile`] with its output.
pub fn run(mut command: Command, step: &str, function: &str) -> Result<(), BuildError> {
    let tool = command.get_program().to_string_lossy().into_owned();
    let output = command
        .output()
        .map_err(|source| BuildError::Toolchain { tool, source })?;
    if output.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Err(BuildError::Compile {
        step: step.to_owned(),
        function: function.to_owned(),
        output: text.trim().to_owned(),
    })
}

/// The function folder, absolute, and a fresh build folder `<dir>/<name>`.
pub fn fresh_build_dir(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), BuildError> {
    let dir = std::fs::canonicalize(dir).map_err(io_error(format_args!(
        "the function folder {}",
        dir.display()
    )))?;
    let build_dir = dir.join(name);
    let _ = std::fs::remove_dir_all(&build_dir);
    std::fs::create_dir_all(&build_dir).map_err(io_error("create the build folder"))?;
    Ok((dir, build_dir))
}

/// Writes `(relative path, content)` files below `root`.
pub fn write_files(root: &Path, files: &[(&str, &str)]) -> Result<(), BuildError> {
    for (name, content) in files {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io_error(format_args!("create {}", parent.display())))?;
        }
        std::fs::write(&path, content)
            .map_err(io_error(format_args!("write {}", path.display())))?;
    }
    Ok(())
}

/// The files in `dir` (not below it) whose name ends with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, BuildError> {
    let entries =
        std::fs::read_dir(dir).map_err(io_error(format_args!("read {}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    Ok(files)
}
