//! Errors a loader reports, and the closed set of kinds the proxy maps to HTTP and metrics.

use std::time::Duration;

/// The closed set of failure kinds. The proxy maps each kind to one HTTP status in one place,
/// and uses [`ErrorKind::label`] as a bounded metric label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The client sent something the function cannot be called with (e.g. invalid JSON).
    BadRequest,
    /// The function ran past its deadline.
    Timeout,
    /// The function raised or returned an error.
    FunctionFailed,
    /// The function returned a value fnhost cannot turn into a response.
    BadReturn,
    /// The function cannot take calls now (engine stopped, no worker, overloaded).
    Unavailable,
    /// The process running the call died during it: a crash, a signal, or stopped by fnhost
    /// for going over the memory limit.
    Crashed,
    /// The client left before the call started, so it was never run.
    ClientGone,
}

impl ErrorKind {
    /// A short, stable label value for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Timeout => "timeout",
            ErrorKind::FunctionFailed => "exception",
            ErrorKind::BadReturn => "bad_return",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Crashed => "crashed",
            ErrorKind::ClientGone => "client_gone",
        }
    }

    /// `true` when the function was actually called (or was due to be called) for this error,
    /// so it counts in `function_calls_total`. A request rejected before the call does not.
    pub fn counts_as_call(self) -> bool {
        !matches!(self, ErrorKind::BadRequest | ErrorKind::ClientGone)
    }

    /// `true` when the error counts in `function_failures_total`.
    pub fn counts_as_failure(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout
                | ErrorKind::FunctionFailed
                | ErrorKind::BadReturn
                | ErrorKind::Unavailable
                | ErrorKind::Crashed
        )
    }
}

/// Why a call did not produce a [`crate::Response`].
///
/// The `String` fields are for the log; the proxy decides what the client sees (a short,
/// fixed message per kind, plus the detail for [`InvokeError::BadRequest`], which describes
/// the client's own input).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The request cannot be turned into an event; the detail is shown to the client.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The call ran past its deadline.
    #[error("function timed out after {0:?}")]
    Timeout(Duration),
    /// The function raised; the detail (e.g. a traceback) is for the log only.
    #[error("function failed: {0}")]
    FunctionFailed(String),
    /// The function returned a value that has no HTTP meaning.
    #[error("function returned an unsupported value: {0}")]
    BadReturn(String),
    /// The engine cannot take the call.
    #[error("function unavailable: {0}")]
    Unavailable(String),
    /// The process running the call died during it; the detail (exit status, signal) is for
    /// the log only.
    #[error("the function's process died during the call: {detail}")]
    Crashed {
        /// How it died.
        detail: String,
        /// fnhost stopped it for going over `FUNC_MEMORY_LIMIT`.
        out_of_memory: bool,
    },
    /// The client left before the call started ([`crate::CallStart`]); it was not run.
    #[error("the client left before the call started")]
    ClientGone,
}

impl InvokeError {
    /// The closed kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            InvokeError::BadRequest(_) => ErrorKind::BadRequest,
            InvokeError::Timeout(_) => ErrorKind::Timeout,
            InvokeError::FunctionFailed(_) => ErrorKind::FunctionFailed,
            InvokeError::BadReturn(_) => ErrorKind::BadReturn,
            InvokeError::Unavailable(_) => ErrorKind::Unavailable,
            InvokeError::Crashed { .. } => ErrorKind::Crashed,
            InvokeError::ClientGone => ErrorKind::ClientGone,
        }
    }
}

/// Why a function could not be loaded. Every message names the module and the handler.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The module file or package was not found.
    #[error("cannot load function {module}.{handler}: module '{module}' not found ({detail})")]
    ModuleNotFound {
        /// Module name (`MOD_NAME`).
        module: String,
        /// Handler name (`FUNC_HANDLER`).
        handler: String,
        /// Where it was looked for.
        detail: String,
    },
    /// Importing the module raised.
    #[error("cannot load function {module}.{handler}: importing '{module}' failed:\n{detail}")]
    ImportFailed {
        /// Module name.
        module: String,
        /// Handler name.
        handler: String,
        /// The error and traceback.
        detail: String,
    },
    /// The module has no such handler, or it is not callable.
    #[error("cannot load function {module}.{handler}: {detail}")]
    HandlerNotFound {
        /// Module name.
        module: String,
        /// Handler name.
        handler: String,
        /// What was found instead.
        detail: String,
    },
    /// The spec itself is unusable (e.g. a reserved module name).
    #[error("invalid function spec: {0}")]
    InvalidSpec(String),
    /// The engine could not start.
    #[error("cannot start the {engine} engine: {detail}")]
    Engine {
        /// Engine name.
        engine: &'static str,
        /// Why.
        detail: String,
    },
}
