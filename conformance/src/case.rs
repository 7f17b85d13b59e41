//! The case file format (`conformance/cases/<name>/case.toml`).
//!
//! ```toml
//! description = "GET returns the function's string"
//! fixture = "helloget"          # conformance/fixtures/<runtime>/helloget/
//! mode = "pod"                  # or "local" (fnhost run FILE --handler …)
//! [env]                         # extra environment of the fnhost process
//! FUNC_TIMEOUT = "3"
//!
//! [[steps]]
//! send = { method = "GET", path = "/" }
//! expect = { status = 200, body = "hello world" }
//! ```
//! A step does exactly one thing: `send` (optionally `concurrent = N` times at once, or
//! `background = "id"` to await later with `await_background`), `raw` bytes, `signal`,
//! `exit`, `stdout_contains`/`stderr_contains` (waited for, with a deadline), `metrics`, or
//! `idle_connection` (held open until the end of the case).

use std::collections::BTreeMap;

use serde::Deserialize;

/// One case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub description: String,
    /// The fixture folder name, looked up per runtime.
    pub fixture: String,
    /// The runtimes the case is about (e.g. `["python"]` for Python's own API); absent means
    /// every runtime. For the others the case is listed as ignored, not run.
    #[serde(default)]
    pub runtimes: Option<Vec<String>>,
    /// How fnhost is started.
    #[serde(default)]
    pub mode: StartMode,
    /// Local mode only: the function file is renamed to this name (its suffix kept) before
    /// `fnhost run FILE --handler MODULE.NAME`, which must still serve it as `MODULE`.
    #[serde(default)]
    pub local_file: Option<String>,
    /// Local mode only: the whole function folder is packed into an archive of this kind
    /// (`zip` or `tar.gz`), as `kubeless function deploy --from-file` takes one, and fnhost is
    /// started with `fnhost run ARCHIVE`.
    #[serde(default)]
    pub local_archive: Option<String>,
    /// Extra environment; `{kubeless}` is replaced by the function folder, an empty value
    /// removes the variable.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// When set, fnhost must fail to start with this outcome.
    #[serde(default)]
    pub start_fails: Option<ExitExpect>,
    /// Use a random port instead of an ephemeral one (tests `FUNC_PORT`).
    #[serde(default)]
    pub random_port: bool,
    /// What to do once it is ready.
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// Pod mode (Kubeless environment) or the local runner.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StartMode {
    /// `fnhost` with `MOD_NAME`, `FUNC_HANDLER`, … and the fixture copied to a fresh
    /// `KUBELESS_INSTALL_VOLUME`.
    #[default]
    Pod,
    /// `fnhost run <fixture file> --handler … [--deps …]`.
    Local,
}

/// One step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Send an HTTP request.
    pub send: Option<Request>,
    /// Send it this many times at once.
    pub concurrent: Option<usize>,
    /// Every concurrent copy must be answered within this many seconds of the first send.
    pub within_seconds: Option<f64>,
    /// Send it in the background under this id.
    pub background: Option<String>,
    /// Wait for a background request.
    pub await_background: Option<String>,
    /// What the response must look like.
    pub expect: Option<Expect>,
    /// Send these raw bytes (escapes `\r\n` allowed) on a new connection.
    pub raw: Option<String>,
    /// What must happen to a raw request.
    pub expect_raw: Option<RawExpect>,
    /// Send a signal to fnhost: `TERM` or `INT`.
    pub signal: Option<String>,
    /// fnhost must exit like this.
    pub exit: Option<ExitExpect>,
    /// These strings must appear on stdout (waited for up to 10 s).
    pub stdout_contains: Option<Vec<String>>,
    /// These strings must appear on stderr (waited for up to 10 s).
    pub stderr_contains: Option<Vec<String>>,
    /// `GET /metrics` must contain these lines exactly.
    pub metrics: Option<Vec<String>>,
    /// Open a connection that sends nothing and keep it open.
    pub idle_connection: Option<bool>,
    /// Close a connection kept by `expect_raw.keep_open`, without reading its response.
    pub hang_up: Option<String>,
}

/// An HTTP request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Method (default GET).
    #[serde(default = "default_method")]
    pub method: String,
    /// Path and query (default `/`).
    #[serde(default = "default_path")]
    pub path: String,
    /// Headers, in order; repeated names allowed. `{addr}` in a value becomes the server's
    /// address; a `Host` given here replaces the default `conformance.test`.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Body text.
    #[serde(default)]
    pub body: Option<String>,
    /// A generated body of this many bytes (`x`).
    #[serde(default)]
    pub body_size: Option<usize>,
    /// Send the body with chunked transfer encoding (no Content-Length).
    #[serde(default)]
    pub chunked: bool,
    /// Add an `x-pad` header with a value of this many bytes.
    #[serde(default)]
    pub pad_header: Option<usize>,
    /// Add this many small headers (`x-extra-1: 1`, ...).
    #[serde(default)]
    pub extra_headers: Option<usize>,
}

impl Request {
    /// A plain `GET path` with no headers or body.
    pub fn get(path: &str) -> Request {
        Request {
            method: "GET".to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            body_size: None,
            chunked: false,
            pad_header: None,
            extra_headers: None,
        }
    }
}

fn default_method() -> String {
    "GET".to_owned()
}

fn default_path() -> String {
    "/".to_owned()
}

/// Expectations on a response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Exact status.
    pub status: Option<u16>,
    /// Exact body.
    pub body: Option<String>,
    /// Substrings of the body.
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// Substrings the body must not contain.
    #[serde(default)]
    pub body_not_contains: Vec<String>,
    /// The body parsed as JSON must equal this (given as JSON text).
    pub body_json: Option<String>,
    /// Regex the body must match.
    pub body_regex: Option<String>,
    /// Header values (first value, exact, name case-insensitive).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Every value of a header, in order.
    #[serde(default)]
    pub header_values: BTreeMap<String, Vec<String>>,
    /// Headers that must be absent.
    #[serde(default)]
    pub headers_absent: Vec<String>,
}

/// Expectations on a raw request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Status of the response, if one must come.
    pub status: Option<u16>,
    /// The server must close the connection within this many seconds.
    pub closed_within: Option<f64>,
    /// Keep the connection open under this name, without reading, until a `hang_up` step
    /// closes it (a client that goes away while its call runs).
    pub keep_open: Option<String>,
}

/// How fnhost must exit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitExpect {
    /// Exit code.
    pub code: Option<i32>,
    /// Within this many seconds (default 15).
    pub within_seconds: Option<f64>,
    /// Substrings of stderr.
    #[serde(default)]
    pub stderr_contains: Vec<String>,
}

impl Case {
    /// Parses a case file.
    pub fn parse(text: &str) -> Result<Case, toml::de::Error> {
        toml::from_str(text)
    }
}
