//! The worker side of `FNHOST_ISOLATION=process` for Python: a child process
//! (`fnhost worker python ...`) that embeds its own interpreter, imports the function and
//! serves the host's calls (`FNHOST_THREADS` at once) through `fnhost-workers`' worker
//! server. A crash in the function (`os._exit`, a segfault in a C extension, `os.abort`)
//! or a timeout ends only this process; the host answers its calls, logs why, and starts a
//! fresh one.

use fnhost_loader_api::{FunctionSpec, Isolation, Loader};

use crate::PythonLoader;

/// Serves calls until the host closes the socket. `Err` describes why the worker cannot run.
pub fn serve(spec: &FunctionSpec, socket: &std::path::Path) -> Result<(), String> {
    let in_process = FunctionSpec {
        isolation: Isolation::InProcess,
        ..spec.clone()
    };
    let function = PythonLoader.load(&in_process).map_err(|e| e.to_string())?;
    fnhost_workers::serve::serve_blocking(function, socket, spec.concurrency)
}
