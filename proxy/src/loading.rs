//! From settings to a loaded function: pick the runtime, install dependencies (local runner),
//! build the [`FunctionSpec`], and hand it to the loader for the runtime's language.

use std::path::{Path, PathBuf};

use fnhost_loader_api::{Function, FunctionSpec, LoadError, Loader};
use fnhost_runtime_config::settings::FunctionSettings;
use fnhost_runtime_config::{Catalogue, Language, Mode, Runtime, Settings, expand::expand};

use crate::deps::{self, DepsError};

/// Why the function could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The runtime is unknown or not built in.
    #[error("{0}")]
    Runtime(String),
    /// Installing dependencies failed.
    #[error(transparent)]
    Deps(#[from] DepsError),
    /// The local runner could not lay out the function's folder.
    #[error(transparent)]
    Stage(#[from] crate::stage::StageError),
    /// Compiling the function failed.
    #[error(transparent)]
    Compile(#[from] crate::compile::CompileError),
    /// The loader could not load the function.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// A function ready to serve, with what the startup log says about it.
pub struct Prepared {
    /// The function.
    pub function: Box<dyn Function>,
    /// The runtime id used.
    pub runtime: String,
    /// The loader's name.
    pub loader: &'static str,
}

/// Resolves the runtime, installs dependencies when asked, and loads the function.
pub fn prepare(settings: &Settings) -> Result<Prepared, PrepareError> {
    let catalogue = Catalogue::builtin();
    let f = &settings.function;
    let runtime = resolve_runtime(&catalogue, f)?;
    let loader = loader_for(&runtime)?;
    // The local runner lays the function out as a pod's prepare step would (the file under
    // its module's name, a compiled runtime's --deps file beside it).
    let function_dir = match settings.mode {
        Mode::Local => crate::stage::function_dir(&runtime, f, &settings.cache_dir)?,
        Mode::Pod => f.dir.clone(),
    };
    let install_dir = match (&f.deps, settings.mode) {
        (Some(deps_file), _) if runtime.install.is_some() => Some(deps::install(
            &runtime,
            deps_file,
            &function_dir,
            &settings.cache_dir,
            importing_interpreter(&runtime).as_deref(),
        )?),
        (_, Mode::Pod) => Some(f.dir.clone()),
        (Some(_), Mode::Local) => None,
        (None, Mode::Local) => {
            hint_unused_deps(&runtime, &function_dir);
            None
        }
    };
    let dir = match settings.mode {
        Mode::Local => {
            crate::compile::compile(&runtime, &function_dir, &f.handler, &settings.cache_dir)?
                .unwrap_or(function_dir)
        }
        Mode::Pod => f.dir.clone(),
    };
    let spec = FunctionSpec {
        module: f.module.clone(),
        handler: f.handler.clone(),
        dir,
        search_path: install_dir
            .map(|d| search_path(&runtime, &d))
            .unwrap_or_default(),
        timeout: f.timeout,
        runtime: f.runtime.clone().unwrap_or_else(|| runtime.id()),
        memory_limit: f.memory_limit.clone(),
        concurrency: settings.concurrency,
        max_concurrency: settings.max_concurrency,
        isolation: isolation(settings)?,
        workers: settings.workers,
        spill: spill(settings),
    };
    tracing::info!(runtime = %runtime.id(), loader = loader.name(), dir = %spec.dir.display(), "loading {}.{}", spec.module, spec.handler);
    let function = loader.load(&spec)?;
    Ok(Prepared {
        function,
        runtime: runtime.id(),
        loader: loader.name(),
    })
}

/// The folder of the interpreter that will import what an install phase installs, when
/// fnhost embeds it (Python): its install command must run that interpreter's pip.
fn importing_interpreter(runtime: &Runtime) -> Option<PathBuf> {
    #[cfg(feature = "python")]
    if runtime.language == Language::Python {
        let dir = fnhost_loader_python::executable_dir();
        if dir.is_none() {
            tracing::warn!(
                "the embedded CPython has no python executable beside it; dependencies are \
                 installed with the first one on PATH"
            );
        }
        return dir;
    }
    let _ = runtime;
    None
}

/// Worker processes run this very binary (its hidden `worker` command).
fn isolation(settings: &Settings) -> Result<fnhost_loader_api::Isolation, PrepareError> {
    use fnhost_runtime_config::settings::IsolationSetting;
    match settings.isolation {
        IsolationSetting::InProcess => Ok(fnhost_loader_api::Isolation::InProcess),
        IsolationSetting::Process => {
            let worker_program = std::env::current_exe().map_err(|e| {
                PrepareError::Runtime(format!(
                    "cannot find the fnhost binary for worker processes: {e}"
                ))
            })?;
            Ok(fnhost_loader_api::Isolation::Process { worker_program })
        }
    }
}

/// Worker processes for the calls an in-process Python interpreter cannot take
/// (`FNHOST_INTERPRETERS` beyond 1); none when calls already run in workers.
fn spill(settings: &Settings) -> Option<fnhost_loader_api::SpillTo> {
    use fnhost_runtime_config::settings::IsolationSetting;
    if settings.interpreters < 2 || settings.isolation != IsolationSetting::InProcess {
        return None;
    }
    match std::env::current_exe() {
        Ok(worker_program) => Some(fnhost_loader_api::SpillTo {
            worker_program,
            workers: settings.interpreters - 1,
        }),
        Err(e) => {
            tracing::warn!(
                "FNHOST_INTERPRETERS: cannot find the fnhost binary ({e}); calls stay in one interpreter"
            );
            None
        }
    }
}

/// The runtime named by `--runtime`/`FUNC_RUNTIME`, or the one implied by the function file.
fn resolve_runtime(catalogue: &Catalogue, f: &FunctionSettings) -> Result<Runtime, PrepareError> {
    if let Some(id) = &f.runtime {
        if let Some(rt) = catalogue.get(id) {
            return Ok(rt.clone());
        }
        return same_language_fallback(catalogue, id).ok_or_else(|| {
            PrepareError::Runtime(format!(
                "unknown runtime {id:?}; this fnhost serves: {}",
                catalogue.ids().join(", ")
            ))
        });
    }
    if let Some(file) = f
        .file
        .as_deref()
        .filter(|file| crate::stage::Archive::of(file).is_some())
    {
        return Err(PrepareError::Runtime(format!(
            "{} is an archive, which names no runtime: give one with --runtime (FUNC_RUNTIME); this fnhost serves: {}",
            file.display(),
            catalogue.ids().join(", ")
        )));
    }
    // The file named on the command line is the function, whatever else is beside it.
    let named = f
        .file
        .as_ref()
        .and_then(|file| file.extension())
        .and_then(|x| x.to_str())
        .map(|x| format!(".{x}"));
    let suffix = named
        .or_else(|| find_suffix(&f.dir, &f.module))
        .ok_or_else(|| {
            PrepareError::Runtime(format!(
                "no FUNC_RUNTIME given and no file {}/{}.<suffix> to infer it from",
                f.dir.display(),
                f.module
            ))
        })?;
    catalogue.for_suffix(&suffix).cloned().ok_or_else(|| {
        PrepareError::Runtime(format!(
            "no runtime serves {suffix} files; set FUNC_RUNTIME"
        ))
    })
}

/// `python3.8` is not in the catalogue, but a Python function still runs on the embedded
/// Python; say so in the log instead of refusing.
fn same_language_fallback(catalogue: &Catalogue, id: &str) -> Option<Runtime> {
    let language: String = id
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_' || *c == '-')
        .collect();
    let default = catalogue
        .for_suffix(".py")
        .filter(|_| language == "python")?;
    tracing::warn!(
        "runtime {id} is not in the catalogue; serving it with {} (the embedded interpreter)",
        default.id()
    );
    Some(default.clone())
}

fn find_suffix(dir: &Path, module: &str) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries.filter_map(Result::ok).find_map(|e| {
        let path = e.path();
        (path.file_stem()?.to_str()? == module)
            .then(|| {
                path.extension()
                    .and_then(|x| x.to_str())
                    .map(|x| format!(".{x}"))
            })
            .flatten()
    })
}

fn loader_for(runtime: &Runtime) -> Result<Box<dyn Loader>, PrepareError> {
    match &runtime.language {
        #[cfg(feature = "python")]
        Language::Python => Ok(Box::new(fnhost_loader_python::PythonLoader)),
        #[cfg(feature = "native")]
        Language::Native => Ok(Box::new(fnhost_loader_native::NativeLoader)),
        #[cfg(feature = "nodejs")]
        Language::Nodejs => Ok(Box::new(fnhost_loader_process::NodeLoader)),
        #[cfg(feature = "go")]
        Language::Go => Ok(Box::new(fnhost_loader_process::GoLoader)),
        #[cfg(feature = "ruby")]
        Language::Ruby => Ok(Box::new(fnhost_loader_process::RubyLoader)),
        #[cfg(feature = "java")]
        Language::Java => Ok(Box::new(fnhost_loader_process::JavaLoader)),
        #[cfg(feature = "dotnet")]
        Language::Dotnet => Ok(Box::new(fnhost_loader_process::DotnetLoader)),
        #[cfg(feature = "js")]
        Language::Js => Ok(Box::new(fnhost_loader_js::JsLoader)),
        #[cfg(feature = "wasm")]
        Language::Wasm => Ok(Box::new(fnhost_loader_wasm::WasmLoader)),
        other => Err(PrepareError::Runtime(format!(
            "runtime {} ({}) is not supported by this build of fnhost",
            runtime.id(),
            other.id()
        ))),
    }
}

/// Import paths from the runtime's own environment (`PYTHONPATH`, `NODE_PATH`, ...), expanded
/// with the install folder as `KUBELESS_INSTALL_VOLUME`, exactly as kubelet expands them in a
/// pod; only folders that exist are kept. If a Python install used another layout (Debian's pip
/// puts `--prefix` packages under `local/lib/…/dist-packages`), the folders it actually created
/// are used.
pub fn search_path(runtime: &Runtime, install_dir: &Path) -> Vec<PathBuf> {
    let volume = install_dir.to_string_lossy().into_owned();
    let mut paths: Vec<PathBuf> = runtime
        .runtime_env
        .iter()
        .flat_map(|(_, v)| {
            expand(v, |name| {
                (name == "KUBELESS_INSTALL_VOLUME").then(|| volume.clone())
            })
            .split(':')
            .map(PathBuf::from)
            .collect::<Vec<_>>()
        })
        .filter(|p| p.is_dir())
        .collect();
    let has_packages = paths
        .iter()
        .any(|p| p.ends_with("site-packages") || p.ends_with("dist-packages"));
    if runtime.language == Language::Python && !has_packages {
        paths.extend(deps::find_package_dirs(install_dir));
    }
    paths
}

fn hint_unused_deps(runtime: &Runtime, dir: &Path) {
    if !runtime.dep_file.is_empty() && dir.join(&runtime.dep_file).is_file() {
        tracing::info!(
            "{} is next to the function but not installed; pass --deps {} to install it",
            runtime.dep_file,
            dir.join(&runtime.dep_file).display()
        );
    }
}
