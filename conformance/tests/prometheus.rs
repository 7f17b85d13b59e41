//! fnhost's `/metrics` against the real Prometheus tools (Debian's `prometheus` package,
//! installed by `scripts/setup.sh`):
//!
//! - `promtool check metrics` accepts the exposition with no findings;
//! - the endpoint exposes exactly the families documented in `docs/metrics.md`;
//! - a real Prometheus server scrapes fnhost, and `function_calls_total` read back through
//!   its query API equals the calls made.
//!
//! These tests fail (they do not skip) when the tools are missing.
#![allow(
    clippy::expect_used,
    reason = "a test harness: a broken setup should stop the run loudly"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fnhost_conformance::case::Request;
use fnhost_conformance::fixture::Fixture;
use fnhost_conformance::http::{self, Response};
use fnhost_conformance::process::Fnhost;
use fnhost_conformance::root;

/// Starts fnhost in pod mode on the Python `slow` fixture (it can succeed and raise).
fn start_fnhost(workdir: &Path) -> (Fnhost, SocketAddr) {
    let fixture = Fixture::load(&root().join("fixtures"), "python", "slow")
        .expect("python/slow fixture exists")
        .expect("python/slow fixture is valid");
    let fn_dir = workdir.join("kubeless");
    fixture.copy_into(&fn_dir).expect("copy the fixture");
    let env = BTreeMap::from([
        ("MOD_NAME".to_owned(), "slow".to_owned()),
        ("FUNC_HANDLER".to_owned(), "handler".to_owned()),
        ("FUNC_RUNTIME".to_owned(), fixture.runtime.clone()),
        (
            "KUBELESS_INSTALL_VOLUME".to_owned(),
            fn_dir.display().to_string(),
        ),
        ("FNHOST_LISTEN_ADDR".to_owned(), "127.0.0.1".to_owned()),
        ("FUNC_PORT".to_owned(), "0".to_owned()),
    ]);
    let mut fnhost = Fnhost::spawn(&[], &env, workdir).expect("spawn fnhost");
    let addr = fnhost.wait_ready().expect("fnhost becomes ready");
    (fnhost, addr)
}

fn get(addr: SocketAddr, path: &str) -> Response {
    let request = Request::get(path);
    http::send(addr, &request).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Three successful GETs and one GET that raises (unknown mode: KeyError).
fn make_calls(addr: SocketAddr) {
    for _ in 0..3 {
        assert_eq!(get(addr, "/?mode=ok").status, 200);
    }
    assert_eq!(get(addr, "/?mode=unknown").status, 500);
}

#[test]
fn promtool_accepts_the_exposition() {
    let workdir = tempfile::tempdir().expect("tempdir");
    let (_fnhost, addr) = start_fnhost(workdir.path());
    make_calls(addr);
    let exposition = get(addr, "/metrics").body;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (scripts/setup.sh installs the prometheus package)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(&exposition)
        .expect("write to promtool");
    let out = promtool.wait_with_output().expect("promtool finishes");
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{findings}",
        out.status
    );
    assert!(
        findings.trim().is_empty(),
        "promtool has findings:\n{findings}"
    );
}

#[test]
fn the_endpoint_exposes_exactly_the_documented_families() {
    let workdir = tempfile::tempdir().expect("tempdir");
    let (_fnhost, addr) = start_fnhost(workdir.path());
    make_calls(addr);
    let exposition = get(addr, "/metrics").text();
    let exposed: BTreeSet<(String, String)> = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.to_owned()))
        .collect();
    let documented = documented_families(&root().join("../docs/metrics.md"));
    assert_eq!(
        exposed, documented,
        "/metrics and docs/metrics.md disagree (left: exposed, right: documented)"
    );
}

/// `(name, type)` of every row of the first table of `docs/metrics.md`.
fn documented_families(path: &Path) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip_while(|l| !l.starts_with("## Families"))
        .skip_while(|l| !l.starts_with("|------"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            Some((
                cells.get(1)?.trim_matches('`').to_owned(),
                (*cells.get(2)?).to_owned(),
            ))
        })
        .collect()
}

/// A Prometheus server on loopback, killed on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts a server that scrapes `target` every second, and waits for `/-/ready`.
    fn start(workdir: &Path, target: SocketAddr) -> Prometheus {
        let config = workdir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: fnhost\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write prometheus.yml");
        let addr = free_loopback_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                workdir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(workdir.join("prometheus.log")).expect("log file"))
            .spawn()
            .expect("prometheus runs (scripts/setup.sh installs the prometheus package)");
        let server = Prometheus { child, addr };
        server.wait_until(Duration::from_secs(60), "ready", |p| {
            (p.get("/-/ready")?.status == 200).then_some(())
        });
        server
    }

    fn get(&self, path: &str) -> Option<Response> {
        let request = Request::get(path);
        http::send(self.addr, &request).ok()
    }

    /// The value of an instant query with exactly one result.
    fn query_single(&self, query: &str) -> Option<f64> {
        let response = self.get(&format!("/api/v1/query?query={}", percent_encode(query)))?;
        let json: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
        let results = json["data"]["result"].as_array()?;
        match results.as_slice() {
            [only] => only["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Polls `probe` (each poll is a request to the server) until it yields, or panics.
    fn wait_until<T>(
        &self,
        limit: Duration,
        what: &str,
        mut probe: impl FnMut(&Prometheus) -> Option<T>,
    ) -> T {
        let started = Instant::now();
        loop {
            if let Some(value) = probe(self) {
                return value;
            }
            assert!(
                started.elapsed() < limit,
                "Prometheus never became {what} within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn free_loopback_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address")
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_real_prometheus_scrapes_function_calls_total() {
    let workdir = tempfile::tempdir().expect("tempdir");
    let (_fnhost, addr) = start_fnhost(workdir.path());
    make_calls(addr);
    let prometheus = Prometheus::start(workdir.path(), addr);
    let calls = prometheus.wait_until(Duration::from_secs(60), "a scrape with 4 GET calls", |p| {
        p.query_single(r#"function_calls_total{job="fnhost",method="GET"}"#)
            .filter(|v| *v == 4.0)
    });
    assert_eq!(calls, 4.0);
    let failures = prometheus.query_single(r#"function_failures_total{job="fnhost",method="GET"}"#);
    assert_eq!(
        failures,
        Some(1.0),
        "function_failures_total read back through Prometheus"
    );
    let up = prometheus.query_single(r#"up{job="fnhost"}"#);
    assert_eq!(up, Some(1.0), "Prometheus sees the target up");
}
