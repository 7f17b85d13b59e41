//! The compile phase for the local runner: `fnhost run handler.go` builds the function the way
//! a pod's `compile` init container does (the catalogue's command, e.g. `fnhost build go`),
//! in a cache folder keyed by the function's files, so an unchanged function is not rebuilt.
//! The phase's own environment (e.g. a `GOCACHE` inside the pod's volume) is a pod concern
//! and is not applied here: the developer's toolchain caches are used.

use std::path::{Path, PathBuf};
use std::process::Command;

use fnhost_runtime_config::Runtime;
use sha2::{Digest, Sha256};

/// Why a function could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The function folder or the cache cannot be read or written.
    #[error("cannot prepare the build of {dir}: {source}")]
    Io {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The compile command failed (its output went to stderr).
    #[error("compiling the function failed ({status}); the command was: {command}")]
    Failed {
        /// Exit status or spawn error.
        status: String,
        /// The command.
        command: String,
    },
}

/// Compiles the function in `function_dir` (or reuses an earlier build of the same files) and
/// returns the build folder, which then serves as the function folder.
pub fn compile(
    runtime: &Runtime,
    function_dir: &Path,
    handler: &str,
    cache: &Path,
) -> Result<Option<PathBuf>, CompileError> {
    let Some(phase) = &runtime.compile else {
        return Ok(None);
    };
    let io = |dir: &Path| {
        let dir = dir.to_path_buf();
        move |source| CompileError::Io {
            dir: dir.clone(),
            source,
        }
    };
    let files = top_level_files(function_dir).map_err(io(function_dir))?;
    let build_dir =
        cache
            .join("build")
            .join(format!("{}-{}", runtime.id(), fingerprint(&files, handler)));
    if build_dir.join(".fnhost-built").is_file() {
        tracing::info!(dir = %build_dir.display(), "function already compiled");
        return Ok(Some(build_dir));
    }
    let staging = cache
        .join("build")
        .join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    for (name, _) in &files {
        std::fs::copy(function_dir.join(name), staging.join(name)).map_err(io(&staging))?;
    }
    tracing::info!(runtime = %runtime.id(), "compiling the function: {}", phase.command);
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = match own_dir {
        Some(dir) => std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&path)))
            .unwrap_or(path),
        None => path,
    };
    let status = Command::new("sh")
        .args(["-c", &phase.command])
        .current_dir(&staging)
        .env("KUBELESS_INSTALL_VOLUME", &staging)
        .env("KUBELESS_FUNC_NAME", handler)
        .env("PATH", path)
        .status();
    let failed = |status: String| CompileError::Failed {
        status,
        command: phase.command.clone(),
    };
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(failed(s.to_string())),
        Err(e) => return Err(failed(e.to_string())),
    }
    std::fs::write(staging.join(".fnhost-built"), b"").map_err(io(&staging))?;
    let _ = std::fs::remove_dir_all(&build_dir);
    std::fs::rename(&staging, &build_dir).map_err(io(&build_dir))?;
    Ok(Some(build_dir))
}

fn top_level_files(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file()
            && let Some(name) = entry.file_name().to_str()
        {
            files.push((name.to_owned(), std::fs::read(entry.path())?));
        }
    }
    files.sort();
    Ok(files)
}

/// The build's cache key: the function's files, the handler, and this fnhost binary (its
/// size and modification time), whose embedded worker shims are compiled in, so an upgraded
/// fnhost never reuses a worker built with an older shim.
fn fingerprint(files: &[(String, Vec<u8>)], handler: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(handler.as_bytes());
    if let Some(meta) = std::env::current_exe().ok().and_then(|p| p.metadata().ok()) {
        hash.update(meta.len().to_le_bytes());
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        hash.update(modified.as_nanos().to_le_bytes());
    }
    for (name, content) in files {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(content);
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}
