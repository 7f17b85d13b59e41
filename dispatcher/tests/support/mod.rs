//! What the broker tests share: the real brokers started on loopback from their cached builds,
//! the dispatcher binary, functions served by fnhost that record every attempt, and waiting.

#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod kafka;
pub mod kinesis;
pub mod nats;
pub mod scenarios;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fnhost_conformance::case::Request;
use fnhost_conformance::fixture::Fixture;
use fnhost_conformance::process::Fnhost;
use fnhost_conformance::run::{Booted, Suite, boot};
use serde_json::Value;

/// The broker tests of one broker: the four scenarios of [`scenarios`], each with a fresh
/// broker made by `$start` from a folder of the test.
#[macro_export]
macro_rules! broker_tests {
    ($start:expr) => {
        fn broker_in(dir: &tempfile::TempDir) -> impl support::scenarios::TestBroker {
            let start = $start;
            start(dir.path())
        }

        #[test]
        fn every_message_reaches_the_python_and_nodejs_functions_with_upstreams_headers() {
            let dir = tempfile::tempdir().expect("tempdir");
            support::scenarios::every_message_arrives(&broker_in(&dir), dir.path());
        }

        #[test]
        fn failures_are_retried_then_dead_lettered_and_throttling_slows_down() {
            let dir = tempfile::tempdir().expect("tempdir");
            support::scenarios::failures_retries_dead_letters_and_throttling(
                &broker_in(&dir),
                dir.path(),
            );
        }

        #[test]
        fn a_killed_dispatcher_and_a_restarted_broker_lose_nothing() {
            let dir = tempfile::tempdir().expect("tempdir");
            support::scenarios::killed_dispatcher_and_restarted_broker(
                &mut broker_in(&dir),
                dir.path(),
            );
        }

        #[test]
        fn a_timed_out_call_is_retried() {
            let dir = tempfile::tempdir().expect("tempdir");
            support::scenarios::timed_out_calls_are_retried(&broker_in(&dir), dir.path());
        }
    };
}

/// A free port on loopback (bound and released: the broker binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A single-threaded tokio runtime, for the brokers' async clients in these sync tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A tool the project's scripts build and cache: `$env_var`, else `~/under_home`. The test
/// fails (never skips) when it is missing, naming the script that builds it.
pub fn cached_tool(env_var: &str, under_home: &str, script: &str) -> PathBuf {
    let path = std::env::var_os(env_var).map_or_else(
        || Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(under_home),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{} is missing: run {script} (scripts/test.sh does), or set {env_var}",
        path.display()
    );
    path
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `timeout` with `what`
/// and the last state `describe` gives.
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}\n{}",
            describe()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A GET on a local address; `None` if it cannot be reached.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let response = fnhost_conformance::http::send(addr, &Request::get(path)).ok()?;
    Some((response.status, response.text()))
}

/// One attempt a recorder function saw.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// `event-id`.
    pub id: String,
    /// `event-namespace`.
    pub namespace: String,
    /// `event-type`.
    pub event_type: String,
    /// `event-time`.
    pub time: String,
    /// `event.data`.
    pub data: Value,
    /// The attempt number of this event-id in the function.
    pub attempt: u64,
    /// Whether it answered 2xx.
    pub ok: bool,
}

/// A function served by fnhost that records its attempts (`tests/functions/<runtime>/recorder`).
pub struct Recorder {
    /// The fnhost serving it.
    pub booted: Booted,
    /// Its record file.
    pub file: PathBuf,
    /// `python` or `nodejs`.
    pub runtime: &'static str,
}

impl Recorder {
    /// Boots the recorder of `runtime` writing to a file in `dir`, with `env` added.
    pub fn start(runtime: &'static str, dir: &Path, env: &[(&str, &str)]) -> Recorder {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/functions");
        let fixture: Fixture = Fixture::load(&fixtures, runtime, "recorder")
            .expect("the recorder fixture exists")
            .expect("the recorder fixture parses");
        let file = dir.join(format!("{runtime}-records.jsonl"));
        std::fs::write(&file, "").expect("create the record file");
        let mut vars: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        vars.insert("RECORD_FILE".into(), file.display().to_string());
        // One worker: the recorder counts attempts per message in its own memory.
        vars.entry("FNHOST_WORKERS".into())
            .or_insert_with(|| "1".into());
        let suite = Suite {
            cache_dir: dir.join("deps-cache"),
        };
        let booted = boot(&fixture, &vars, &suite).expect("fnhost serves the recorder");
        Recorder {
            booted,
            file,
            runtime,
        }
    }

    /// The URL the dispatcher delivers to.
    pub fn url(&self) -> String {
        format!("http://{}/", self.booted.addr)
    }

    /// Every attempt so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .map(|v| Attempt {
                id: v["id"].as_str().unwrap_or_default().to_owned(),
                namespace: v["namespace"].as_str().unwrap_or_default().to_owned(),
                event_type: v["type"].as_str().unwrap_or_default().to_owned(),
                time: v["time"].as_str().unwrap_or_default().to_owned(),
                data: v["data"].clone(),
                attempt: v["attempt"].as_u64().unwrap_or_default(),
                ok: v["ok"].as_bool().unwrap_or_default(),
            })
            .collect()
    }

    /// Successful deliveries per message, keyed by the `n` field of its data.
    pub fn delivered_by_n(&self) -> HashMap<u64, usize> {
        let mut out = HashMap::new();
        for attempt in self.attempts().into_iter().filter(|a| a.ok) {
            if let Some(n) = attempt.data["n"].as_u64() {
                *out.entry(n).or_default() += 1;
            }
        }
        out
    }
}

/// The dispatcher binary, running from a routes file.
pub struct Dispatcher {
    /// The process.
    pub process: Fnhost,
    /// Its `/metrics` and `/readyz` address.
    pub addr: SocketAddr,
}

impl Dispatcher {
    /// Starts `fnhost-dispatcher run --routes FILE` with `env` and waits until `/readyz` says
    /// every pair has its consumer.
    pub fn start(routes: &Path, env: &[(&str, &str)]) -> Dispatcher {
        let mut vars: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        vars.insert("FNHOST_DISPATCHER_LISTEN".into(), "127.0.0.1:0".into());
        vars.entry("FNHOST_LOG".into())
            .or_insert_with(|| "info".into());
        let args = vec![
            "run".to_owned(),
            "--routes".to_owned(),
            routes.display().to_string(),
        ];
        let bin = Path::new(env!("CARGO_BIN_EXE_fnhost-dispatcher"));
        let cwd = routes.parent().unwrap_or(Path::new("/"));
        let mut process =
            Fnhost::spawn_program(bin, &args, &vars, cwd).expect("start the dispatcher");
        let prefix = "fnhost-dispatcher: listening http=";
        assert!(
            process.wait_output(prefix, true, Duration::from_secs(30)),
            "the dispatcher did not start\n{}",
            process.transcript()
        );
        let addr: SocketAddr = process
            .stdout()
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|a| a.trim().parse().ok())
            .expect("the dispatcher's address");
        let dispatcher = Dispatcher { process, addr };
        eventually(
            "the dispatcher's consumers (/readyz)",
            Duration::from_secs(60),
            || get(dispatcher.addr, "/readyz").filter(|(s, _)| *s == 200),
            || {
                format!(
                    "{:?}\n{}",
                    get(dispatcher.addr, "/readyz"),
                    dispatcher.process.transcript()
                )
            },
        );
        dispatcher
    }

    /// The sum of the samples of `family` whose labels contain every `label="value"` given.
    pub fn metric(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        let (_, text) = get(self.addr, "/metrics").unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with(family) && !l.starts_with('#'))
            .filter(|l| {
                labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// A routes file: `triggers` (YAML objects), the recorders as functions labelled
/// `topic=<label>`, and `extra` sections.
pub fn write_routes(
    dir: &Path,
    triggers: &str,
    functions: &[(&str, &Recorder, &str)],
    extra: &str,
) -> PathBuf {
    let mut text = format!("triggers:\n{triggers}\nfunctions:\n");
    for (name, recorder, label) in functions {
        text.push_str(&format!(
            "  - {{name: {name}, namespace: default, labels: {{topic: {label}}}, url: \"{}\"}}\n",
            recorder.url()
        ));
    }
    text.push_str(extra);
    let path = dir.join("routes.yaml");
    std::fs::write(&path, text).expect("write the routes file");
    path
}
