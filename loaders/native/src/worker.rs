//! The worker side of `FNHOST_ISOLATION=process`: a child process (`fnhost worker native ...`)
//! that loads the library in-process and serves the host's calls one at a time through
//! `fnhost-workers`' worker server. A crash or a timeout ends only this process; the host
//! replaces it.

use fnhost_loader_api::{FunctionSpec, Isolation, Loader};

use crate::NativeLoader;

/// Serves calls until the host closes the socket. `Err` describes why the worker cannot run.
pub fn serve(spec: &FunctionSpec, socket: &std::path::Path) -> Result<(), String> {
    let in_process = FunctionSpec {
        isolation: Isolation::InProcess,
        concurrency: 1,
        ..spec.clone()
    };
    let function = NativeLoader.load(&in_process).map_err(|e| e.to_string())?;
    fnhost_workers::serve::serve_blocking(function, socket, 1)
}
