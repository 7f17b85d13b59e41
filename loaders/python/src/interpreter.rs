//! Starting the embedded interpreter and importing the user's module.

use std::ffi::CString;
use std::sync::OnceLock;
use std::time::Duration;

use fnhost_loader_api::{FunctionSpec, LoadError};
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyModule};

use crate::pool;

/// The source of the `fnhost` module that functions may import.
const FNHOST_PY: &str = include_str!("fnhost.py");

/// Python objects the loader needs on every call, looked up once.
pub(crate) struct Bootstrap {
    /// `fnhost.Request`.
    pub(crate) request_class: Py<PyAny>,
    /// `fnhost.json_dumps`.
    pub(crate) json_dumps: Py<PyAny>,
    /// `json.loads`.
    pub(crate) json_loads: Py<PyAny>,
    /// `fnhost.submit_async`.
    pub(crate) submit_async: Py<PyAny>,
    /// `fnhost.run_event_loop`.
    pub(crate) run_event_loop: Py<PyAny>,
    /// `inspect.isawaitable`.
    pub(crate) isawaitable: Py<PyAny>,
}

/// `fnhost.FunctionTimeout`, raised by the interruptible sleep.
static FUNCTION_TIMEOUT: OnceLock<Py<PyAny>> = OnceLock::new();

/// Starts CPython (without its signal handlers: the proxy owns SIGTERM/SIGINT) and installs
/// the `fnhost` module, unbuffered stdio and the interruptible `time.sleep`.
pub(crate) fn start() -> Result<Bootstrap, LoadError> {
    Python::initialize();
    crate::signal::install();
    Python::attach(install_bootstrap).map_err(|e| LoadError::Engine {
        engine: "python",
        detail: Python::attach(|py| describe_err(py, &e)),
    })
}

fn install_bootstrap(py: Python<'_>) -> PyResult<Bootstrap> {
    let source = CString::new(FNHOST_PY).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let module = PyModule::from_code(py, &source, c"fnhost.py", c"fnhost")?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("fnhost", &module)?;
    module.call_method0("install_stdio")?;
    module.call_method0("install_crash_reports")?;
    let sleep = wrap_pyfunction!(interruptible_sleep, &module)?;
    module.call_method1("install_sleep", (sleep,))?;
    let _ = FUNCTION_TIMEOUT.set(module.getattr("FunctionTimeout")?.unbind());
    let get = |name: &str| module.getattr(name).map(Bound::unbind);
    Ok(Bootstrap {
        request_class: get("Request")?,
        json_dumps: get("json_dumps")?,
        json_loads: py.import("json")?.getattr("loads")?.unbind(),
        submit_async: get("submit_async")?,
        run_event_loop: get("run_event_loop")?,
        isawaitable: py.import("inspect")?.getattr("isawaitable")?.unbind(),
    })
}

/// `time.sleep` on an interpreter thread: sleeps, but ends early with `FunctionTimeout`
/// when the running call times out. Returns `False` on other threads, where the original
/// `time.sleep` runs instead.
#[pyfunction]
fn interruptible_sleep(py: Python<'_>, seconds: f64) -> PyResult<bool> {
    let Some(slot) = pool::current_slot() else {
        return Ok(false);
    };
    if seconds.is_nan() {
        return Err(PyValueError::new_err("Invalid value NaN (not a number)"));
    }
    if seconds < 0.0 {
        return Err(PyValueError::new_err("sleep length must be non-negative"));
    }
    let duration = Duration::try_from_secs_f64(seconds)
        .map_err(|_| PyOverflowError::new_err("sleep length is too large"))?;
    if py.detach(|| slot.sleep(duration)) {
        return Ok(true);
    }
    match FUNCTION_TIMEOUT.get() {
        Some(cls) => Err(PyErr::from_type(
            cls.bind(py).cast::<pyo3::types::PyType>()?.clone(),
            (),
        )),
        None => Err(PyValueError::new_err("call timed out")),
    }
}

/// The folder holding the `python3.X` executable of the CPython fnhost embeds
/// (`<sys.base_prefix>/bin`), so that an install phase's `python3.X -m pip` installs for the
/// interpreter that will import the packages, whatever else is first on `PATH`. `None` when
/// the embedded CPython has no such executable beside it.
pub fn executable_dir() -> Option<std::path::PathBuf> {
    Python::initialize();
    Python::attach(|py| {
        let sys = py.import("sys").ok()?;
        let prefix: String = sys.getattr("base_prefix").ok()?.extract().ok()?;
        let (major, minor): (u32, u32) = (
            sys.getattr("version_info")
                .ok()?
                .get_item(0)
                .ok()?
                .extract()
                .ok()?,
            sys.getattr("version_info")
                .ok()?
                .get_item(1)
                .ok()?
                .extract()
                .ok()?,
        );
        let dir = std::path::Path::new(&prefix).join("bin");
        dir.join(format!("python{major}.{minor}"))
            .is_file()
            .then_some(dir)
    })
}

/// The imported handler.
pub(crate) struct Handler {
    /// The callable.
    pub(crate) callable: Py<PyAny>,
    /// `true` for `async def` handlers.
    pub(crate) is_coroutine_function: bool,
}

/// Imports `spec.module` with the function's folders on `sys.path` and finds the handler.
pub(crate) fn import_handler(py: Python<'_>, spec: &FunctionSpec) -> Result<Handler, LoadError> {
    check_module_name(spec)?;
    extend_sys_path(py, spec).map_err(|e| engine_err(py, &e))?;
    let module = py
        .import(spec.module.as_str())
        .map_err(|e| import_error(py, spec, &e))?;
    let not_found = |detail: String| LoadError::HandlerNotFound {
        module: spec.module.clone(),
        handler: spec.handler.clone(),
        detail,
    };
    let callable = module.getattr(spec.handler.as_str()).map_err(|_| {
        not_found(format!(
            "module '{}' has no attribute '{}' (it defines: {})",
            spec.module,
            spec.handler,
            public_callables(&module)
        ))
    })?;
    if !callable.is_callable() {
        let ty = callable
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default();
        return Err(not_found(format!(
            "'{}' is a {ty}, not a function",
            spec.handler
        )));
    }
    let is_coroutine_function = py
        .import("inspect")
        .and_then(|m| m.call_method1("iscoroutinefunction", (&callable,)))
        .and_then(|r| r.is_truthy())
        .unwrap_or(false);
    Ok(Handler {
        callable: callable.unbind(),
        is_coroutine_function,
    })
}

fn check_module_name(spec: &FunctionSpec) -> Result<(), LoadError> {
    let m = spec.module.as_str();
    if m.is_empty() || m == "fnhost" || m.contains(['/', '\\']) || m.starts_with('.') {
        return Err(LoadError::InvalidSpec(format!(
            "module name {m:?} cannot be used (it must be a Python module name and not 'fnhost')"
        )));
    }
    Ok(())
}

fn extend_sys_path(py: Python<'_>, spec: &FunctionSpec) -> PyResult<()> {
    let path = py.import("sys")?.getattr("path")?.cast_into::<PyList>()?;
    let wanted = spec.search_path.iter().chain(std::iter::once(&spec.dir));
    for (i, dir) in wanted.enumerate() {
        let dir = dir.to_string_lossy();
        if !path.contains(dir.as_ref())? {
            path.insert(i, dir.as_ref())?;
        }
    }
    Ok(())
}

fn import_error(py: Python<'_>, spec: &FunctionSpec, err: &PyErr) -> LoadError {
    let missing_is_ours = err.is_instance_of::<pyo3::exceptions::PyModuleNotFoundError>(py)
        && err
            .value(py)
            .getattr("name")
            .and_then(|n| n.extract::<String>())
            .is_ok_and(|n| n == spec.module);
    if missing_is_ours {
        return LoadError::ModuleNotFound {
            module: spec.module.clone(),
            handler: spec.handler.clone(),
            detail: format!(
                "looked for {}/{}.py and on sys.path",
                spec.dir.display(),
                spec.module
            ),
        };
    }
    LoadError::ImportFailed {
        module: spec.module.clone(),
        handler: spec.handler.clone(),
        detail: describe_err(py, err),
    }
}

fn public_callables(module: &Bound<'_, PyModule>) -> String {
    let names: Vec<String> = module
        .dir()
        .map(|d| {
            d.iter()
                .filter_map(|n| n.extract::<String>().ok())
                .filter(|n| !n.starts_with('_'))
                .filter(|n| module.getattr(n.as_str()).is_ok_and(|v| v.is_callable()))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        "no public callables".to_owned()
    } else {
        names.join(", ")
    }
}

fn engine_err(py: Python<'_>, err: &PyErr) -> LoadError {
    LoadError::Engine {
        engine: "python",
        detail: describe_err(py, err),
    }
}

/// An exception with its traceback, as Python prints it.
pub(crate) fn describe_err(py: Python<'_>, err: &PyErr) -> String {
    let value = err.value(py);
    py.import("traceback")
        .and_then(|tb| {
            tb.call_method1(
                "format_exception",
                (value.get_type(), value, err.traceback(py)),
            )
        })
        .and_then(|lines| lines.extract::<Vec<String>>())
        .map(|lines| lines.concat().trim_end().to_owned())
        .unwrap_or_else(|_| err.to_string())
}

/// `3.11.2`, and the path of the libpython this process loaded.
pub(crate) fn describe_runtime(py: Python<'_>) -> (String, String) {
    let version = py
        .import("platform")
        .and_then(|p| p.call_method0("python_version"))
        .and_then(|v| v.extract::<String>())
        .unwrap_or_else(|_| "unknown".to_owned());
    let library = std::fs::read_to_string("/proc/self/maps")
        .ok()
        .and_then(|maps| {
            maps.lines()
                .filter_map(|l| l.split_whitespace().nth(5))
                .find(|p| p.contains("libpython"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "statically linked".to_owned());
    (version, library)
}

/// `sys.getswitchinterval()`: how long a thread waits for a busy GIL before it asks the
/// holder to give it up (5 ms unless the function changed it while it was imported).
pub(crate) fn switch_interval(py: Python<'_>) -> std::time::Duration {
    py.import("sys")
        .and_then(|sys| sys.call_method0("getswitchinterval"))
        .and_then(|v| v.extract::<f64>())
        .ok()
        .and_then(|seconds| std::time::Duration::try_from_secs_f64(seconds).ok())
        .unwrap_or(std::time::Duration::from_millis(5))
}
