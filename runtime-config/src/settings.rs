//! Every setting the `fnhost` binary reads, resolved in one place.
//!
//! Precedence, applied by [`Settings::resolve`] and nowhere else: a command-line flag
//! ([`Overrides`]) wins over the environment, which wins over the default. Every value is
//! checked; all problems are collected and reported together ([`ConfigError`]); an unknown
//! `FNHOST_*` variable is an error when it is a typo of a setting, and otherwise never stops
//! fnhost from starting in an environment Kubernetes wrote ([`crate::unknown_keys`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::env::Env;
use crate::unknown_keys::{self, Verdict};

/// Every environment key fnhost reads: name, default (as text), meaning.
pub const KEYS: &[(&str, &str, &str)] = &[
    (
        "MOD_NAME",
        "(required in a pod)",
        "module (file name without suffix) of the function",
    ),
    (
        "FUNC_HANDLER",
        "(required in a pod)",
        "name of the function inside the module",
    ),
    (
        "FUNC_TIMEOUT",
        "180",
        "seconds a call may run; past it the client gets 408",
    ),
    (
        "FUNC_RUNTIME",
        "(inferred from the file suffix)",
        "runtime id, e.g. python3.11",
    ),
    (
        "FUNC_MEMORY_LIMIT",
        "0",
        "memory limit, passed to the function's context",
    ),
    (
        "FUNC_PORT",
        "8080",
        "port to listen on (0 picks a free one)",
    ),
    (
        "FUNC_MEMFILE_MAX",
        "104857600",
        "largest request body in bytes; larger is 413",
    ),
    (
        "KUBELESS_INSTALL_VOLUME",
        "/kubeless",
        "folder holding the function and its dependencies",
    ),
    (
        "SHUTDOWN_TIMEOUT",
        "10",
        "seconds in-flight requests may finish after SIGTERM",
    ),
    (
        "FNHOST_SHUTDOWN_DELAY",
        "0 (5 in pods the reconciler writes)",
        "seconds fnhost keeps serving after SIGTERM, closing each connection after its response, before it stops accepting",
    ),
    (
        "FNHOST_LISTEN_ADDR",
        "0.0.0.0 (pod), 127.0.0.1 (fnhost run)",
        "address to listen on",
    ),
    (
        "FNHOST_THREADS",
        "16",
        "calls that may run at once (Python threads kept; per worker process for worker runtimes)",
    ),
    (
        "FNHOST_MAX_THREADS",
        "512",
        "Python in-process: threads the pool may grow to while calls wait on I/O with the GIL free (never below FNHOST_THREADS)",
    ),
    (
        "FNHOST_INTERPRETERS",
        "the CPUs fnhost may use (its cgroup's CPU quota), at most 8",
        "Python in process: interpreters that share the calls when one is saturated (this process's, plus worker processes started when first needed); 1: this process's only",
    ),
    (
        "FNHOST_ISOLATION",
        "in-process",
        "Python and native functions: in-process, or process (worker processes that a crash or timeout replaces)",
    ),
    (
        "FNHOST_WORKERS",
        "2",
        "worker processes for worker runtimes and for FNHOST_ISOLATION=process",
    ),
    (
        "FNHOST_SUPERVISE",
        "true",
        "run the server as a child of a small supervisor that replaces it when the function crashes it",
    ),
    (
        "FNHOST_ACCESS_LOG",
        "true",
        "one access-log line per request on stdout",
    ),
    (
        "FNHOST_METRICS",
        "true",
        "record function metrics (the /metrics route stays)",
    ),
    (
        "FNHOST_HEADER_READ_TIMEOUT",
        "30",
        "seconds a client may take to send request headers",
    ),
    (
        "FNHOST_MAX_HEADER_BYTES",
        "65536",
        "largest request head (request line and headers)",
    ),
    (
        "FNHOST_MAX_HEADERS",
        "100",
        "most header fields in a request; more is 431",
    ),
    (
        "FNHOST_BODY_READ_TIMEOUT",
        "60",
        "seconds a client may take to send the request body after its head; then 408",
    ),
    (
        "FNHOST_MIN_BODY_RATE",
        "1024",
        "bytes a second a request body must average after its first 5 seconds, else 408 (0: no minimum)",
    ),
    (
        "FNHOST_MAX_CONNECTIONS",
        "10000",
        "open client connections; more wait to be accepted",
    ),
    (
        "FNHOST_CACHE_DIR",
        "$XDG_CACHE_HOME/fnhost or ~/.cache/fnhost",
        "where fnhost run installs dependencies",
    ),
    (
        "FNHOST_LOG",
        "info",
        "log filter (tracing syntax, e.g. debug or fnhost=trace)",
    ),
];

/// How the binary was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `fnhost` with no arguments: the Kubeless environment describes the function.
    Pod,
    /// `fnhost run FILE`: flags describe the function.
    Local,
}

/// Values given on the command line; `None` means "not given".
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Overrides {
    /// The function file (`fnhost run FILE`).
    pub file: Option<PathBuf>,
    /// `--handler`, either `foo` or `module.foo`.
    pub handler: Option<String>,
    /// `--runtime`.
    pub runtime: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--listen`.
    pub listen: Option<IpAddr>,
    /// `--timeout` in seconds.
    pub timeout: Option<f64>,
    /// `--deps`.
    pub deps: Option<PathBuf>,
}

/// The function to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSettings {
    /// Module name.
    pub module: String,
    /// Handler name.
    pub handler: String,
    /// Folder with the function's files.
    pub dir: PathBuf,
    /// Runtime id when given; `None` means infer from the file suffix.
    pub runtime: Option<String>,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Memory limit text, passed through to the function.
    pub memory_limit: String,
    /// Dependency file to install first (local runner only).
    pub deps: Option<PathBuf>,
    /// The function file named on the command line (local runner only), absolute. Its name
    /// need not be the module's: upstream's deploy accepts any file name too.
    pub file: Option<PathBuf>,
}

/// The HTTP server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Largest request body.
    pub max_body_bytes: u64,
    /// Time allowed to send the request head.
    pub header_read_timeout: Duration,
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Most header fields in a request.
    pub max_headers: usize,
    /// Time allowed to send the body, from the end of the head.
    pub body_read_timeout: Duration,
    /// Fewest bytes a second a body must average past its first seconds (0: no minimum).
    pub min_body_rate: u64,
    /// Most open connections.
    pub max_connections: usize,
    /// Grace period for in-flight requests on SIGTERM.
    pub shutdown_timeout: Duration,
    /// Time after SIGTERM during which new connections are still served (each closed after
    /// its response), while the cluster takes the pod out of its Service's endpoints.
    pub shutdown_delay: Duration,
    /// Write access-log lines.
    pub access_log: bool,
    /// Record function metrics.
    pub metrics: bool,
}

/// Everything the binary needs, resolved and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Pod or local.
    pub mode: Mode,
    /// The function.
    pub function: FunctionSettings,
    /// The server.
    pub server: ServerSettings,
    /// Calls that may run at once.
    pub concurrency: usize,
    /// Calls that may run at once in engines that add threads while calls block (Python in
    /// process); never below `concurrency`.
    pub max_concurrency: usize,
    /// Python interpreters that share the calls (in process: this one plus worker processes
    /// started when it is saturated).
    pub interpreters: usize,
    /// Where native calls run.
    pub isolation: IsolationSetting,
    /// Worker processes for calls that run in workers.
    pub workers: usize,
    /// Serve from a child process that a supervisor replaces when it dies.
    pub supervise: bool,
    /// Log filter.
    pub log_filter: String,
    /// Dependency cache of the local runner.
    pub cache_dir: PathBuf,
    /// What the startup log should say about the environment (unknown `FNHOST_*` keys).
    pub warnings: Vec<String>,
}

/// Every problem found in the configuration, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// One line per problem.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Collects problems while reading keys.
struct Reader<'a> {
    env: &'a dyn Env,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn text(&self, key: &str) -> Option<String> {
        self.env.get(key).filter(|v| !v.trim().is_empty())
    }

    fn parse<T: FromStr>(&mut self, key: &str, default: T, what: &str) -> T {
        match self.text(key) {
            None => default,
            Some(raw) => raw.trim().parse().unwrap_or_else(|_| {
                self.problems.push(format!("{key}={raw:?} is not {what}"));
                default
            }),
        }
    }

    fn seconds(&mut self, key: &str, flag: Option<f64>, default: f64) -> Duration {
        let secs = flag.unwrap_or_else(|| self.parse(key, default, "a number of seconds"));
        match Duration::try_from_secs_f64(secs) {
            Ok(d) if !d.is_zero() => d,
            _ => {
                self.problems
                    .push(format!("{key}: {secs} is not a positive number of seconds"));
                Duration::from_secs_f64(default)
            }
        }
    }

    /// Like [`Reader::seconds`], but zero is allowed (it turns the thing off).
    fn seconds_or_zero(&mut self, key: &str, default: f64) -> Duration {
        let secs = self.parse(key, default, "a number of seconds");
        Duration::try_from_secs_f64(secs).unwrap_or_else(|_| {
            self.problems.push(format!(
                "{key}: {secs} is not a number of seconds (0 or more)"
            ));
            Duration::from_secs_f64(default)
        })
    }

    fn flag(&mut self, key: &str, default: bool) -> bool {
        match self.text(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => false,
            Some(v) => {
                self.problems
                    .push(format!("{key}={v:?} is not a boolean (true/false)"));
                default
            }
        }
    }

    fn positive(&mut self, key: &str, default: usize) -> usize {
        let n = self.parse(key, default, "a whole number");
        if n == 0 {
            self.problems.push(format!("{key} must be at least 1"));
            return default;
        }
        n
    }
}

/// Where Python and native calls run (`FNHOST_ISOLATION`, `FNHOST_WORKERS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationSetting {
    /// In the fnhost process.
    InProcess,
    /// In worker processes (`FNHOST_WORKERS` of them).
    Process,
}

fn parse_isolation(r: &mut Reader<'_>) -> IsolationSetting {
    match r.text("FNHOST_ISOLATION").as_deref().map(str::trim) {
        None | Some("in-process") => IsolationSetting::InProcess,
        Some("process") => IsolationSetting::Process,
        Some(other) => {
            r.problems.push(format!(
                "FNHOST_ISOLATION={other:?} is not in-process or process"
            ));
            IsolationSetting::InProcess
        }
    }
}

impl Settings {
    /// Resolves the settings for `mode` from flags and the environment.
    pub fn resolve(mode: Mode, env: &dyn Env, flags: &Overrides) -> Result<Settings, ConfigError> {
        let mut r = Reader {
            env,
            problems: Vec::new(),
        };
        let warnings = check_unknown_keys(&mut r);
        let function = parse_function(&mut r, mode, flags);
        let server = parse_server(&mut r, mode, flags);
        let concurrency = r.positive("FNHOST_THREADS", 16);
        let max_concurrency = r.positive("FNHOST_MAX_THREADS", 512).max(concurrency);
        let interpreters = r.positive("FNHOST_INTERPRETERS", cpus_available());
        let isolation = parse_isolation(&mut r);
        let workers = r.positive("FNHOST_WORKERS", 2);
        let supervise = r.flag("FNHOST_SUPERVISE", true);
        let log_filter = r.text("FNHOST_LOG").unwrap_or_else(|| "info".to_owned());
        let cache_dir = cache_dir(&r);
        if r.problems.is_empty() {
            Ok(Settings {
                mode,
                function,
                server,
                concurrency,
                max_concurrency,
                interpreters,
                isolation,
                workers,
                supervise,
                log_filter,
                cache_dir,
                warnings,
            })
        } else {
            Err(ConfigError {
                problems: r.problems,
            })
        }
    }
}

/// The CPUs this process may use: the smaller of its CPU affinity and its cgroup's CPU quota
/// (rounded up), as the standard library reads them, at most [`MAX_DEFAULT_INTERPRETERS`];
/// 1 when unknown.
fn cpus_available() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_DEFAULT_INTERPRETERS)
}

/// The most interpreters `FNHOST_INTERPRETERS` defaults to: a pod without a CPU limit sees
/// every CPU of its node, and each interpreter is a process with its own memory.
const MAX_DEFAULT_INTERPRETERS: usize = 8;

/// Unknown `FNHOST_*` keys: a typo of a setting is a problem, a Kubernetes service link is
/// ignored, anything else is a warning (see [`crate::unknown_keys`]).
fn check_unknown_keys(r: &mut Reader<'_>) -> Vec<String> {
    let known: Vec<&'static str> = KEYS.iter().map(|(name, _, _)| *name).collect();
    let mut unknown: Vec<String> = r
        .env
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("FNHOST_") && !known.contains(&k.as_str()))
        .collect();
    unknown.sort();
    let mut warnings = Vec::new();
    for key in unknown {
        match unknown_keys::judge(&key, &known) {
            Verdict::Ignore => {}
            Verdict::Typo { meant } => r.problems.push(format!(
                "unknown setting {key}: did you mean {meant}? (see `fnhost --print-config`)"
            )),
            Verdict::Warn => warnings.push(format!(
                "{key} is not an fnhost setting and is ignored (known keys: `fnhost --print-config`)"
            )),
        }
    }
    warnings
}

fn parse_function(r: &mut Reader<'_>, mode: Mode, flags: &Overrides) -> FunctionSettings {
    let (module, handler, dir) = match mode {
        Mode::Pod => pod_function(r),
        Mode::Local => local_function(r, flags),
    };
    let file = match mode {
        Mode::Pod => None,
        Mode::Local => flags
            .file
            .as_ref()
            .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone())),
    };
    let runtime = flags.runtime.clone().or_else(|| r.text("FUNC_RUNTIME"));
    FunctionSettings {
        module,
        handler,
        dir,
        runtime,
        timeout: r.seconds("FUNC_TIMEOUT", flags.timeout, 180.0),
        memory_limit: r
            .text("FUNC_MEMORY_LIMIT")
            .unwrap_or_else(|| "0".to_owned()),
        deps: flags.deps.clone(),
        file,
    }
}

fn pod_function(r: &mut Reader<'_>) -> (String, String, PathBuf) {
    let mut required = |key: &str| {
        r.text(key).unwrap_or_else(|| {
            r.problems.push(format!(
                "{key} is not set (the Kubeless controller sets it from the function's handler)"
            ));
            String::new()
        })
    };
    let module = required("MOD_NAME");
    let handler = required("FUNC_HANDLER");
    let dir = r
        .text("KUBELESS_INSTALL_VOLUME")
        .unwrap_or_else(|| "/kubeless".to_owned());
    (module, handler, PathBuf::from(dir))
}

fn local_function(r: &mut Reader<'_>, flags: &Overrides) -> (String, String, PathBuf) {
    let Some(file) = &flags.file else {
        r.problems
            .push("no function file given (fnhost run FILE --handler NAME)".to_owned());
        return Default::default();
    };
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let dir = absolute_parent(file);
    let (module, handler) = match flags.handler.as_deref() {
        None => {
            r.problems.push(format!(
                "--handler is required, e.g. --handler {stem}.handler"
            ));
            (stem, String::new())
        }
        Some(h) => split_handler(r, stem, h),
    };
    (module, handler, dir)
}

/// `NAME` (the module is the file's name) or `MODULE.NAME` (any file name: the function is
/// served as `MODULE`, as Kubeless's controller names the file after the handler's module).
fn split_handler(r: &mut Reader<'_>, stem: String, handler: &str) -> (String, String) {
    match handler.split_once('.') {
        None if !handler.is_empty() => (stem, handler.to_owned()),
        Some((m, f)) if !m.is_empty() && !f.is_empty() && !f.contains('.') => {
            (m.to_owned(), f.to_owned())
        }
        _ => {
            r.problems.push(format!(
                "--handler {handler:?} is not `MODULE.NAME` or `NAME` (exactly one dot, e.g. {stem}.handler)"
            ));
            (stem, String::new())
        }
    }
}

fn absolute_parent(file: &Path) -> PathBuf {
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf())
}

fn parse_server(r: &mut Reader<'_>, mode: Mode, flags: &Overrides) -> ServerSettings {
    let default_ip = match mode {
        Mode::Pod => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Mode::Local => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let ip = flags
        .listen
        .unwrap_or_else(|| r.parse("FNHOST_LISTEN_ADDR", default_ip, "an IP address"));
    let port = flags
        .port
        .unwrap_or_else(|| r.parse("FUNC_PORT", 8080, "a port number (0-65535)"));
    ServerSettings {
        listen: SocketAddr::new(ip, port),
        max_body_bytes: r.parse("FUNC_MEMFILE_MAX", 100 * 1024 * 1024, "a number of bytes"),
        header_read_timeout: r.seconds("FNHOST_HEADER_READ_TIMEOUT", None, 30.0),
        max_header_bytes: r
            .parse("FNHOST_MAX_HEADER_BYTES", 64 * 1024, "a number of bytes")
            .max(8192),
        max_headers: r.positive("FNHOST_MAX_HEADERS", 100),
        body_read_timeout: r.seconds("FNHOST_BODY_READ_TIMEOUT", None, 60.0),
        min_body_rate: r.parse("FNHOST_MIN_BODY_RATE", 1024, "a number of bytes a second"),
        max_connections: r.positive("FNHOST_MAX_CONNECTIONS", 10_000),
        shutdown_timeout: r.seconds("SHUTDOWN_TIMEOUT", None, 10.0),
        shutdown_delay: r.seconds_or_zero("FNHOST_SHUTDOWN_DELAY", 0.0),
        access_log: r.flag("FNHOST_ACCESS_LOG", true),
        metrics: r.flag("FNHOST_METRICS", true),
    }
}

fn cache_dir(r: &Reader<'_>) -> PathBuf {
    if let Some(dir) = r.text("FNHOST_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = r.text("XDG_CACHE_HOME") {
        return Path::new(&xdg).join("fnhost");
    }
    match r.text("HOME") {
        Some(home) => Path::new(&home).join(".cache").join("fnhost"),
        None => std::env::temp_dir().join("fnhost-cache"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    fn pod(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::resolve(
            Mode::Pod,
            &MapEnv::from_pairs(pairs.iter().copied()),
            &Overrides::default(),
        )
    }

    #[test]
    fn pod_defaults_match_kubeless() {
        let s = pod(&[("MOD_NAME", "hello"), ("FUNC_HANDLER", "foo")]).expect("valid");
        assert_eq!(s.function.dir, PathBuf::from("/kubeless"));
        assert_eq!(s.function.timeout, Duration::from_secs(180));
        assert_eq!(s.function.memory_limit, "0");
        assert_eq!(s.server.listen, "0.0.0.0:8080".parse().expect("addr"));
        assert_eq!(s.server.max_body_bytes, 100 * 1024 * 1024);
        assert_eq!(s.server.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(s.server.shutdown_delay, Duration::ZERO);
        assert!(s.server.access_log && s.server.metrics);
    }

    #[test]
    fn all_problems_are_reported_together() {
        let err = pod(&[
            ("FUNC_TIMEOUT", "soon"),
            ("FUNC_PORT", "99999"),
            ("FNHOST_THREDS", "4"),
        ])
        .expect_err("invalid");
        let text = err.to_string();
        for needle in [
            "MOD_NAME",
            "FUNC_HANDLER",
            "FUNC_TIMEOUT",
            "FUNC_PORT",
            "FNHOST_THREDS",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
        assert_eq!(err.problems.len(), 5);
    }

    #[test]
    fn a_pods_environment_never_stops_startup() {
        let s = pod(&[
            ("MOD_NAME", "m"),
            ("FUNC_HANDLER", "f"),
            ("FNHOST_SERVICE_HOST", "10.0.0.1"),
            ("FNHOST_PORT_8080_TCP_ADDR", "10.0.0.1"),
            ("FNHOST_RECONCILER_SERVICE_PORT", "8081"),
            ("FNHOST_MY_OWN_FLAG", "1"),
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
        ])
        .expect("a pod's environment is accepted");
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("FNHOST_MY_OWN_FLAG"));
    }

    #[test]
    fn zero_and_negative_timeouts_are_rejected() {
        for t in ["0", "-1", "NaN"] {
            let err = pod(&[
                ("MOD_NAME", "m"),
                ("FUNC_HANDLER", "f"),
                ("FUNC_TIMEOUT", t),
            ])
            .expect_err(t);
            assert!(err.to_string().contains("FUNC_TIMEOUT"));
        }
        let s = pod(&[
            ("MOD_NAME", "m"),
            ("FUNC_HANDLER", "f"),
            ("FUNC_TIMEOUT", "0.25"),
        ])
        .expect("valid");
        assert_eq!(s.function.timeout, Duration::from_millis(250));
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = MapEnv::from_pairs([("FUNC_PORT", "9000"), ("FUNC_TIMEOUT", "5")]);
        let flags = Overrides {
            file: Some(PathBuf::from("/srv/fn/hello.py")),
            handler: Some("hello.foo".into()),
            port: Some(7000),
            ..Overrides::default()
        };
        let s = Settings::resolve(Mode::Local, &env, &flags).expect("valid");
        assert_eq!(s.server.listen, "127.0.0.1:7000".parse().expect("addr"));
        assert_eq!(s.function.timeout, Duration::from_secs(5));
        assert_eq!(
            (s.function.module.as_str(), s.function.handler.as_str()),
            ("hello", "foo")
        );
        assert_eq!(s.function.dir, PathBuf::from("/srv/fn"));
    }

    #[test]
    fn a_local_handler_names_the_module_whatever_the_file_is_called() {
        let run = |handler: &str| {
            let flags = Overrides {
                file: Some(PathBuf::from("/fn/HelloGet.java")),
                handler: Some(handler.into()),
                ..Overrides::default()
            };
            Settings::resolve(Mode::Local, &MapEnv::default(), &flags)
        };
        let s = run("Foo.foo").expect("any file name");
        assert_eq!(
            (s.function.module.as_str(), s.function.handler.as_str()),
            ("Foo", "foo")
        );
        assert_eq!(s.function.file, Some(PathBuf::from("/fn/HelloGet.java")));
        let s = run("foo").expect("the file's own name");
        assert_eq!(s.function.module, "HelloGet");
        for bad in ["a.b.c", ".foo", "Foo."] {
            let err = run(bad).expect_err(bad);
            assert!(err.to_string().contains("exactly one dot"), "{err}");
        }
    }

    #[test]
    fn cache_dir_follows_xdg_then_home() {
        let base = [("MOD_NAME", "m"), ("FUNC_HANDLER", "f")];
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = base.to_vec();
            pairs.push(extra);
            pod(&pairs).expect("valid").cache_dir
        };
        assert_eq!(with(("XDG_CACHE_HOME", "/x")), PathBuf::from("/x/fnhost"));
        assert_eq!(
            with(("HOME", "/home/u")),
            PathBuf::from("/home/u/.cache/fnhost")
        );
        assert_eq!(with(("FNHOST_CACHE_DIR", "/c")), PathBuf::from("/c"));
    }
}

#[cfg(test)]
mod docs_tests {
    /// `docs/config.md` documents every key, so the table cannot fall behind the code.
    #[test]
    fn the_configuration_page_lists_every_key() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/config.md");
        let page = std::fs::read_to_string(path).unwrap_or_default();
        let missing: Vec<&str> = super::KEYS
            .iter()
            .map(|(key, _, _)| *key)
            .filter(|key| !page.contains(&format!("| `{key}` |")))
            .collect();
        assert!(missing.is_empty(), "docs/config.md lacks {missing:?}");
    }
}
