//! Compiled code cached on disk, so that a restart does not recompile.
//!
//! The artifact of `hello.wasm` is `.fnhost-wasm-cache/hello-<key>.cwasm` next to it (in a pod
//! the function volume, which outlives container restarts; locally like Python's
//! `__pycache__`). The key is a SHA-256 of the Wasm bytes and of the engine's compatibility
//! hash (wasmtime version and every setting that changes code), so a changed function or a
//! new fnhost never loads stale code; older artifacts of the same module are removed. When
//! the folder cannot be written, the function still runs, compiled in memory, and the log
//! says so.

#![allow(
    unsafe_code,
    reason = "loading compiled machine code is wasmtime's one unsafe API; each use says why it holds"
)]

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::Module;
use wasmtime::component::Component;

/// The cache folder, next to the function's Wasm file.
pub const CACHE_DIR: &str = ".fnhost-wasm-cache";

/// The compiled code of a Wasm file.
pub enum Compiled {
    /// A core module (fnhost Wasm ABI).
    Module(Module),
    /// A component (wasi:http).
    Component(Component),
}

/// What kind of Wasm file it is, from its preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A core module (layer 0).
    Module,
    /// A component (layer 1).
    Component,
}

impl Kind {
    /// Reads the preamble: `\0asm`, a version, and a layer (0 core module, 1 component).
    pub fn of(bytes: &[u8]) -> Option<Kind> {
        let preamble = bytes.get(..8)?;
        if &preamble[..4] != b"\0asm" {
            return None;
        }
        match preamble[6..8] {
            [0, 0] => Some(Kind::Module),
            [1, 0] => Some(Kind::Component),
            _ => None,
        }
    }
}

/// Compiles `bytes` (read from `path`), or loads the artifact an earlier start left.
pub fn compile(
    engine: &Engine,
    path: &Path,
    bytes: &[u8],
    kind: Kind,
) -> wasmtime::Result<Compiled> {
    let artifact = artifact_path(engine, path, bytes);
    if let Some(artifact) = artifact.as_deref().filter(|a| a.is_file()) {
        let started = Instant::now();
        match deserialize_file(engine, artifact, kind) {
            Ok(compiled) => {
                tracing::info!(
                    artifact = %artifact.display(),
                    "loaded the compiled code of {} from the cache in {:.1} ms",
                    path.display(),
                    started.elapsed().as_secs_f64() * 1e3
                );
                return Ok(compiled);
            }
            Err(e) => {
                tracing::warn!(artifact = %artifact.display(), "ignoring an unusable cached artifact: {e:#}")
            }
        }
    }
    let started = Instant::now();
    let precompiled = match kind {
        Kind::Module => engine.precompile_module(bytes)?,
        Kind::Component => engine.precompile_component(bytes)?,
    };
    tracing::info!(
        "compiled {} in {:.0} ms",
        path.display(),
        started.elapsed().as_secs_f64() * 1e3
    );
    if let Some(artifact) = &artifact {
        store_artifact(artifact, &precompiled);
    }
    deserialize(engine, &precompiled, kind)
}

/// Where the artifact of `path` with these bytes lives; `None` when `path` has no file name.
fn artifact_path(engine: &Engine, path: &Path, bytes: &[u8]) -> Option<PathBuf> {
    let stem = path.file_stem()?.to_str()?;
    let mut engine_hash = std::hash::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let mut sha = Sha256::new();
    sha.update(bytes);
    sha.update(engine_hash.finish().to_le_bytes());
    let key: String = sha.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(
        path.parent()?
            .join(CACHE_DIR)
            .join(format!("{stem}-{key}.cwasm")),
    )
}

/// Writes the artifact (to a temporary file, then renamed, so a reader never sees half of
/// it) and removes older artifacts of the same module. Failure only costs the next start a
/// compilation, so it is logged, not returned.
fn store_artifact(artifact: &Path, precompiled: &[u8]) {
    let written = (|| -> std::io::Result<()> {
        let dir = artifact.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        remove_older_artifacts(artifact);
        let temporary = artifact.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, precompiled)?;
        std::fs::rename(&temporary, artifact)
    })();
    match written {
        Ok(()) => tracing::info!(artifact = %artifact.display(), "cached the compiled code"),
        Err(e) => tracing::warn!(
            artifact = %artifact.display(),
            "cannot cache the compiled code ({e}); the next start compiles again"
        ),
    }
}

fn remove_older_artifacts(artifact: &Path) {
    let (Some(dir), Some(name)) = (
        artifact.parent(),
        artifact.file_name().and_then(|n| n.to_str()),
    ) else {
        return;
    };
    let Some((stem, _)) = name.rsplit_once('-') else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let other = entry.file_name();
        let other = other.to_string_lossy();
        let same_module = other
            .rsplit_once('-')
            .is_some_and(|(s, rest)| s == stem && rest.ends_with(".cwasm"));
        if same_module && other != name {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn deserialize(engine: &Engine, precompiled: &[u8], kind: Kind) -> wasmtime::Result<Compiled> {
    Ok(match kind {
        // SAFETY: `precompiled` was produced by `engine.precompile_module` a moment ago, in
        // this process.
        Kind::Module => Compiled::Module(unsafe { Module::deserialize(engine, precompiled)? }),
        Kind::Component => {
            // SAFETY: as above, by `engine.precompile_component`.
            let component = unsafe { Component::deserialize(engine, precompiled)? };
            Compiled::Component(component)
        }
    })
}

// Trust in a cached artifact: it was written by `store_artifact` of an fnhost with the same
// engine settings (the compatibility hash is part of its name, and wasmtime checks its header
// again) into the function's own folder, so whoever can replace it can already replace the
// function itself: it is trusted exactly as much as the function's code.
fn deserialize_file(engine: &Engine, artifact: &Path, kind: Kind) -> wasmtime::Result<Compiled> {
    Ok(match kind {
        // SAFETY: see the comment above the function.
        Kind::Module => Compiled::Module(unsafe { Module::deserialize_file(engine, artifact)? }),
        Kind::Component => {
            // SAFETY: see the comment above the function.
            let component = unsafe { Component::deserialize_file(engine, artifact)? };
            Compiled::Component(component)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn preamble_tells_modules_from_components() {
        assert_eq!(Kind::of(b"\0asm\x01\0\0\0rest"), Some(Kind::Module));
        assert_eq!(Kind::of(b"\0asm\x0d\0\x01\0rest"), Some(Kind::Component));
        assert_eq!(Kind::of(b"\x7fELF\x02\x01\x01\0"), None);
        assert_eq!(Kind::of(b"\0asm"), None);
    }
}
