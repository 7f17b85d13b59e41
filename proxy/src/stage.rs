//! The local runner's function folder, as a pod's prepare step lays it out: the file named on
//! the command line under its module's name (`fnhost run ./HelloGet.java --handler Foo.foo`
//! serves `Foo.java`, as Kubeless's controller names the file after the handler's module), and
//! a `--deps` file of a compiled runtime under the runtime's dependency file name (`go.mod`,
//! `pom.xml`), where its compile phase looks for it.
//!
//! An archive (`.zip`, `.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`, `.tar.xz`), which `kubeless function
//! deploy --from-file` takes for a function of several files, is unpacked into a folder of its
//! own with the same tools the pod's prepare step runs (`unzip -o`, `tar xf`).
//!
//! When none of this is needed the function's own folder is used as it is. Otherwise a folder in
//! the cache holds the function: for interpreted runtimes, links to the file and to everything
//! beside it (helper modules, `node_modules`); for compiled runtimes, copies of just the file
//! and the dependency file, as upstream's prepare step copied them.

use std::path::{Path, PathBuf};

use fnhost_runtime_config::Runtime;
use fnhost_runtime_config::settings::FunctionSettings;
use sha2::{Digest, Sha256};

/// Why the function folder could not be laid out.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// A file or folder could not be read or written.
    #[error("cannot lay out the function in {dir}: {source}")]
    Io {
        /// The folder being written.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--deps` was given for a runtime that takes none.
    #[error("runtime {0} takes no dependency file (--deps)")]
    NoDependencyFile(String),
    /// The archive could not be unpacked.
    #[error("cannot unpack {file}: {detail}")]
    Unpack {
        /// The archive.
        file: PathBuf,
        /// The tool's own words.
        detail: String,
    },
}

/// The kinds of archive a function may come in, by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    /// `.zip`
    Zip,
    /// `.tar`, compressed or not (GNU tar finds the compression itself).
    Tar,
}

impl Archive {
    /// The archive kind of `file`, by its name; `None` for a plain source file.
    pub fn of(file: &Path) -> Option<Archive> {
        let name = file.file_name()?.to_str()?.to_ascii_lowercase();
        const TARS: [&str; 7] = [
            ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
        ];
        if name.ends_with(".zip") {
            Some(Archive::Zip)
        } else if TARS.iter().any(|t| name.ends_with(t)) {
            Some(Archive::Tar)
        } else {
            None
        }
    }
}

/// The folder to serve the function from, laid out in `cache` when the file's name is not
/// its module's or a compiled runtime's dependency file must be placed beside it.
pub fn function_dir(
    runtime: &Runtime,
    function: &FunctionSettings,
    cache: &Path,
) -> Result<PathBuf, StageError> {
    let Some(file) = &function.file else {
        return Ok(function.dir.clone());
    };
    if let Some(archive) = Archive::of(file) {
        return unpacked(runtime, function, file, archive, cache);
    }
    let wanted = format!("{}{}", function.module, runtime.suffix);
    let renamed = file.file_name().and_then(|n| n.to_str()) != Some(wanted.as_str());
    let deps = placed_deps(runtime, function)?;
    if !renamed && deps.is_none() {
        return Ok(function.dir.clone());
    }
    let dir = fresh_dir(cache, &function.module, file, deps)?;
    let io = |source| StageError::Io {
        dir: dir.clone(),
        source,
    };
    let compiled = runtime.compile.is_some();
    if !compiled {
        link_siblings(&function.dir, file, &dir, &wanted).map_err(io)?;
    }
    place(file, &dir.join(&wanted), compiled).map_err(io)?;
    if let Some(deps) = deps {
        place(deps, &dir.join(&runtime.dep_file), compiled).map_err(io)?;
    }
    tracing::info!(
        dir = %dir.display(),
        "serving {} as {wanted}{}",
        file.display(),
        deps.map_or(String::new(), |d| format!(" with {} as {}", d.display(), runtime.dep_file))
    );
    Ok(dir)
}

/// The archive unpacked into a fresh folder of the cache, with a compiled runtime's `--deps`
/// file placed beside what it holds.
fn unpacked(
    runtime: &Runtime,
    function: &FunctionSettings,
    file: &Path,
    archive: Archive,
    cache: &Path,
) -> Result<PathBuf, StageError> {
    let deps = placed_deps(runtime, function)?;
    let dir = fresh_dir(cache, &function.module, file, deps)?;
    let io = |source| StageError::Io {
        dir: dir.clone(),
        source,
    };
    let mut command = match archive {
        Archive::Zip => {
            let mut unzip = std::process::Command::new("unzip");
            unzip.arg("-o").arg("-q").arg(file).arg("-d").arg(&dir);
            unzip
        }
        Archive::Tar => {
            let mut tar = std::process::Command::new("tar");
            tar.arg("xf").arg(file).arg("-C").arg(&dir);
            tar
        }
    };
    let unpack_error = |detail: String| StageError::Unpack {
        file: file.to_path_buf(),
        detail,
    };
    let output = command
        .output()
        .map_err(|e| unpack_error(format!("cannot run {:?}: {e}", command.get_program())))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(unpack_error(format!("{} ({})", said, output.status)));
    }
    if let Some(deps) = deps {
        place(deps, &dir.join(&runtime.dep_file), true).map_err(io)?;
    }
    tracing::info!(dir = %dir.display(), "unpacked {} for the function", file.display());
    Ok(dir)
}

/// An empty folder of the cache for this function file (and dependency file).
fn fresh_dir(
    cache: &Path,
    module: &str,
    file: &Path,
    deps: Option<&Path>,
) -> Result<PathBuf, StageError> {
    let dir = cache
        .join("functions")
        .join(format!("{module}-{}", fingerprint(file, deps)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| StageError::Io {
        dir: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// The `--deps` file when the runtime's compile phase reads it from the function's folder
/// (no install phase); `None` when the install phase takes it or none was given.
fn placed_deps<'a>(
    runtime: &Runtime,
    function: &'a FunctionSettings,
) -> Result<Option<&'a Path>, StageError> {
    let Some(deps) = function.deps.as_deref() else {
        return Ok(None);
    };
    if runtime.dep_file.is_empty() {
        return Err(StageError::NoDependencyFile(runtime.id()));
    }
    Ok((runtime.install.is_none()).then_some(deps))
}

/// Links every entry of `from` into `to`, except `file` itself and an entry named `taken`.
fn link_siblings(from: &Path, file: &Path, to: &Path, taken: &str) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if entry.path() != file && name != taken {
            std::os::unix::fs::symlink(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

/// A copy (compiled runtimes read plain files) or a link.
fn place(source: &Path, target: &Path, copy: bool) -> std::io::Result<()> {
    if copy {
        std::fs::copy(source, target).map(|_| ())
    } else {
        std::os::unix::fs::symlink(source, target)
    }
}

fn fingerprint(file: &Path, deps: Option<&Path>) -> String {
    let mut hash = Sha256::new();
    hash.update(file.as_os_str().as_encoded_bytes());
    if let Some(deps) = deps {
        hash.update([0]);
        hash.update(deps.as_os_str().as_encoded_bytes());
    }
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_known_by_name_in_any_letter_case() {
        assert_eq!(
            Archive::of(Path::new("f/helloFunctions.zip")),
            Some(Archive::Zip)
        );
        for tar in [
            "a.tar",
            "a.tar.gz",
            "A.TGZ",
            "a.tar.bz2",
            "a.tar.xz",
            "a.txz",
        ] {
            assert_eq!(Archive::of(Path::new(tar)), Some(Archive::Tar), "{tar}");
        }
        for plain in ["hello.py", "index.js", "star.rb", "zip.go", "hello.wasm"] {
            assert_eq!(Archive::of(Path::new(plain)), None, "{plain}");
        }
    }
}
