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

/// What a shim reads to find and describe the function: where it is (`FNHOST_FUNCTION_DIR`,
/// `MOD_NAME`, `FUNC_HANDLER`), the function's one context as JSON (`FNHOST_CONTEXT`, which
/// the shims hand to the function instead of reading `FUNC_*` themselves), the Kubeless
/// variables a function itself may read, and how many calls to take at once
/// (`FNHOST_THREADS`, as `FNHOST_WORKER_CONCURRENCY`).
pub fn function_env(spec: &FunctionSpec) -> Vec<(String, String)> {
    let context = spec.context();
    vec![
        (
            "FNHOST_FUNCTION_DIR".to_owned(),
            spec.dir.display().to_string(),
        ),
        ("MOD_NAME".to_owned(), spec.module.clone()),
        ("FUNC_HANDLER".to_owned(), spec.handler.clone()),
        ("FNHOST_CONTEXT".to_owned(), context.to_json()),
        ("FUNC_TIMEOUT".to_owned(), context.timeout_text()),
        ("FUNC_RUNTIME".to_owned(), spec.runtime.clone()),
        ("FUNC_MEMORY_LIMIT".to_owned(), spec.memory_limit.clone()),
        (
            "FNHOST_WORKER_CONCURRENCY".to_owned(),
            spec.concurrency.to_string(),
        ),
    ]
}

/// The V8 heap a Node.js worker may grow to (`--max-old-space-size`, MiB): three quarters of
/// its share of the memory limit, so that V8 collects garbage harder before the pool has to
/// stop the worker; none without a limit.
pub fn node_heap_mib(spec: &FunctionSpec) -> Option<u64> {
    let share = fnhost_workers::memory::limit_of(spec)? / spec.workers.max(1) as u64;
    Some((share / 4 * 3 / (1024 * 1024)).max(32))
}

/// Writes a shim's source once per content (the file name carries a hash of it) into a folder
/// only this user can write, and returns its path; `name` is e.g. `nodejs-worker.js`.
pub fn write(engine: &'static str, name: &str, source: &str) -> Result<PathBuf, LoadError> {
    let failed = |what: String| LoadError::Engine {
        engine,
        detail: format!("cannot write the worker shim: {what}"),
    };
    let dir = private_dir().map_err(failed)?;
    let path = dir.join(format!("{:016x}-{name}", fingerprint(source)));
    if path.is_file() {
        return Ok(path);
    }
    let staging = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&staging);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&staging)
        .and_then(|mut file| std::io::Write::write_all(&mut file, source.as_bytes()))
        .and_then(|()| std::fs::rename(&staging, &path))
        .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// `$TMPDIR/fnhost-shims-<uid>`, created with mode 0700; refused when it exists but is a
/// link, belongs to someone else, or others may write it (a shim there runs as this user).
fn private_dir() -> Result<PathBuf, String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(|e| format!("cannot read this process's user: {e}"))?;
    let dir = std::env::temp_dir().join(format!("fnhost-shims-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => return Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is not a folder of user {uid} that only it can write",
            dir.display()
        ));
    }
    Ok(dir)
}

/// FNV-1a, enough to tell shim versions apart.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
