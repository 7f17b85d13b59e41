//! What every interpreted-language worker shares: the shim script written next to the
//! system's temporary folder, the check that the function's file exists, and the function's
//! environment (the Kubeless variables the shims read).

use std::path::PathBuf;

use fnhost_loader_api::{FunctionSpec, LoadError};

/// Fails with [`LoadError::ModuleNotFound`] unless `<dir>/<module><suffix>` exists.
pub fn require_module_file(spec: &FunctionSpec, suffix: &str) -> Result<PathBuf, LoadError> {
    let file = spec.dir.join(format!("{}{suffix}", spec.module));
    if file.is_file() {
        return Ok(file);
    }
    Err(LoadError::ModuleNotFound {
        module: spec.module.clone(),
        handler: spec.handler.clone(),
        detail: format!("{} does not exist", file.display()),
    })
}

/// The Kubeless variables a shim reads to find and describe the function, and how many
/// calls it should take at once (`FNHOST_THREADS`, as `FNHOST_WORKER_CONCURRENCY`).
pub fn function_env(spec: &FunctionSpec) -> Vec<(String, String)> {
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
        (
            "FNHOST_WORKER_CONCURRENCY".to_owned(),
            spec.concurrency.to_string(),
        ),
    ]
}

/// Writes a shim's source once per content (the file name carries a hash of it) and returns
/// its path; `name` is e.g. `nodejs-worker.js`.
pub fn write(engine: &'static str, name: &str, source: &str) -> Result<PathBuf, LoadError> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("fnhost-{:016x}-{name}", fingerprint(source)));
    if path.is_file() {
        return Ok(path);
    }
    let staging = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&staging, source)
        .and_then(|()| std::fs::rename(&staging, &path))
        .map_err(|e| LoadError::Engine {
            engine,
            detail: format!("cannot write the worker shim {}: {e}", path.display()),
        })?;
    Ok(path)
}

/// FNV-1a, enough to tell shim versions apart.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
