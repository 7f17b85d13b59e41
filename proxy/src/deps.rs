//! Installing a function's dependencies for the local runner, with the runtime's own
//! installation phase: the same command (`python3.11 -m pip install --prefix=… -r …`) that
//! the catalogue puts in a pod's `install` init container.
//!
//! Installs are cached under `<cache>/deps/<runtime>-<sha256 of the dependency file>`; a
//! failed install leaves nothing behind (it runs in a temporary folder that is renamed into
//! place only on success).

use std::path::{Path, PathBuf};
use std::process::Command;

use fnhost_runtime_config::Runtime;
use sha2::{Digest, Sha256};

/// Why dependencies could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    /// The dependency file cannot be read.
    #[error("cannot read the dependency file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime has no installation phase.
    #[error("runtime {0} has no dependency installation phase")]
    NoInstallPhase(String),
    /// The cache folder cannot be written.
    #[error("cannot prepare the dependency cache {path}: {source}")]
    Cache {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The install command could not start or failed.
    #[error("installing dependencies failed ({status}); the command was: {command}")]
    Install {
        /// Exit status or spawn error.
        status: String,
        /// The command.
        command: String,
    },
}

/// Installs `deps_file` for `runtime` (or reuses the cached install) and returns the
/// install folder (the `KUBELESS_INSTALL_VOLUME` the command saw). `interpreter_dir`, when
/// given, goes first on the command's `PATH`: the folder of the interpreter that will import
/// what is installed (the CPython fnhost embeds), so the phase's `python3.X -m pip` is that
/// interpreter's pip, whatever else is on `PATH`. It is part of the cache key.
pub fn install(
    runtime: &Runtime,
    deps_file: &Path,
    function_dir: &Path,
    cache: &Path,
    interpreter_dir: Option<&Path>,
) -> Result<PathBuf, DepsError> {
    let phase = runtime
        .install
        .as_ref()
        .ok_or_else(|| DepsError::NoInstallPhase(runtime.id()))?;
    let content = std::fs::read(deps_file).map_err(|source| DepsError::Read {
        path: deps_file.to_path_buf(),
        source,
    })?;
    let mut key = content.clone();
    if let Some(dir) = interpreter_dir {
        key.extend_from_slice(dir.as_os_str().as_encoded_bytes());
    }
    let target = cache
        .join("deps")
        .join(format!("{}-{}", runtime.id(), short_hash(&key)));
    if target.join(".complete").is_file() {
        tracing::info!(dir = %target.display(), "dependencies already installed (cached)");
        return Ok(target);
    }
    let cache_err = |source| DepsError::Cache {
        path: target.clone(),
        source,
    };
    let parent = target.parent().unwrap_or(cache);
    std::fs::create_dir_all(parent).map_err(cache_err)?;
    let staging = tempfile_dir(parent).map_err(cache_err)?;
    let deps_abs = std::path::absolute(deps_file).unwrap_or_else(|_| deps_file.to_path_buf());
    tracing::info!(command = %phase.command, interpreter = ?interpreter_dir, "installing dependencies from {}", deps_file.display());
    let mut command = Command::new("sh");
    if let Some(dir) = interpreter_dir {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let first = std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&path));
        command.env("PATH", std::env::join_paths(first).unwrap_or(path));
    }
    let status = command
        .arg("-c")
        .arg(&phase.command)
        .current_dir(function_dir)
        .env("KUBELESS_INSTALL_VOLUME", &staging)
        .env("KUBELESS_DEPS_FILE", &deps_abs)
        .envs(phase.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .status();
    let failure = match status {
        Ok(s) if s.success() => None,
        Ok(s) => Some(s.to_string()),
        Err(e) => Some(format!("cannot run sh: {e}")),
    };
    if let Some(status) = failure {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(DepsError::Install {
            status,
            command: phase.command.clone(),
        });
    }
    std::fs::write(staging.join(".complete"), b"").map_err(cache_err)?;
    let _ = std::fs::remove_dir_all(&target);
    std::fs::rename(&staging, &target).map_err(cache_err)?;
    Ok(target)
}

fn short_hash(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn tempfile_dir(parent: &Path) -> std::io::Result<PathBuf> {
    let pid = std::process::id();
    for n in 0..1000u32 {
        let candidate = parent.join(format!(".staging-{pid}-{n}"));
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free staging folder name"))
}

/// The package folders pip created below `prefix`, whatever the platform's layout
/// (`lib/pythonX.Y/site-packages`, Debian's `local/lib/pythonX.Y/dist-packages`, …).
pub fn find_package_dirs(prefix: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for base in [prefix.join("lib"), prefix.join("local").join("lib")] {
        let Ok(entries) = std::fs::read_dir(&base) else {
            continue;
        };
        let mut pythons: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("python"))
            })
            .collect();
        pythons.sort();
        for python in pythons {
            for leaf in ["site-packages", "dist-packages"] {
                let dir = python.join(leaf);
                if dir.is_dir() {
                    found.push(dir);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_debian_and_standard_layouts() {
        let root = std::env::temp_dir().join(format!("fnhost-deps-test-{}", std::process::id()));
        let std_dir = root.join("lib/python3.11/site-packages");
        let deb_dir = root.join("local/lib/python3.11/dist-packages");
        std::fs::create_dir_all(&std_dir).expect("mkdir");
        std::fs::create_dir_all(&deb_dir).expect("mkdir");
        assert_eq!(find_package_dirs(&root), vec![std_dir, deb_dir]);
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn hash_is_stable_and_short() {
        assert_eq!(short_hash(b"bs4\n"), short_hash(b"bs4\n"));
        assert_ne!(short_hash(b"bs4\n"), short_hash(b"bs4==4.12\n"));
        assert_eq!(short_hash(b"").len(), 16);
    }
}
