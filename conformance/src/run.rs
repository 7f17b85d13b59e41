//! Running one case against one runtime's fixture.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::case::{Case, ExitExpect, Expect, RawExpect, Request, StartMode, Step};
use crate::fixture::Fixture;
use crate::http::{self, Response};
use crate::process::Fnhost;

/// Settings shared by every case of one suite run.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Dependency cache shared by the run's `fnhost run --deps` cases.
    pub cache_dir: PathBuf,
}

/// How long `stdout_contains`/`stderr_contains` wait.
const OUTPUT_WAIT: Duration = Duration::from_secs(10);
/// How long `/metrics` may take to show what a step expects.
const METRICS_SETTLE: Duration = Duration::from_secs(2);

/// A fnhost started for a fixture, ready to serve.
pub struct Booted {
    /// The process.
    pub fnhost: Fnhost,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The function's folder (removed when this is dropped).
    pub workdir: tempfile::TempDir,
}

/// Starts fnhost in pod mode for `fixture` (copied and built as for a case) with `env` added,
/// and waits until it is ready: for suites that drive fnhost from code rather than steps.
pub fn boot(
    fixture: &Fixture,
    env: &BTreeMap<String, String>,
    suite: &Suite,
) -> Result<Booted, String> {
    let mut text = String::from("description = \"boot\"\nfixture = \"boot\"\n[env]\n");
    for (key, value) in env {
        text.push_str(&format!("{key} = {value:?}\n"));
    }
    let case = Case::parse(&text).map_err(|e| e.to_string())?;
    let workdir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let fn_dir = workdir.path().join("kubeless");
    fixture.copy_into(&fn_dir)?;
    fixture.build_in(&fn_dir)?;
    let (args, env) = command(&case, fixture, &fn_dir, suite, 0)?;
    let mut fnhost = Fnhost::spawn(&args, &env, workdir.path())?;
    let addr = fnhost.wait_ready()?;
    Ok(Booted {
        fnhost,
        addr,
        workdir,
    })
}

/// Runs `case` against `fixture`; `Err` describes the first broken expectation and carries
/// fnhost's output.
pub fn run_case(case: &Case, fixture: &Fixture, suite: &Suite) -> Result<(), String> {
    let workdir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let fn_dir = workdir.path().join("kubeless");
    fixture.copy_into(&fn_dir)?;
    fixture.build_in(&fn_dir)?;
    let attempts = if case.random_port { 3 } else { 1 };
    let mut last_error = String::new();
    for _ in 0..attempts {
        let port = if case.random_port { random_port() } else { 0 };
        let (args, env) = command(case, fixture, &fn_dir, suite, port)?;
        let mut fnhost = Fnhost::spawn(&args, &env, workdir.path())?;
        if let Some(expected) = &case.start_fails {
            return check_exit(&mut fnhost, expected);
        }
        match fnhost.wait_ready() {
            Ok(addr) => {
                if case.random_port && addr.port() != port {
                    return Err(format!("asked for port {port}, fnhost listens on {addr}"));
                }
                let mut run = Running {
                    fnhost,
                    addr,
                    background: HashMap::new(),
                    idle: Vec::new(),
                    kept: HashMap::new(),
                };
                return run.steps(&case.steps);
            }
            Err(e) if case.random_port && e.contains("Address already in use") => last_error = e,
            Err(e) => return Err(e),
        }
    }
    Err(last_error)
}

fn command(
    case: &Case,
    fixture: &Fixture,
    fn_dir: &Path,
    suite: &Suite,
    port: u16,
) -> Result<(Vec<String>, BTreeMap<String, String>), String> {
    let (module, function) = fixture.split_handler()?;
    let mut env = BTreeMap::from([
        ("FNHOST_LISTEN_ADDR".to_owned(), "127.0.0.1".to_owned()),
        ("FUNC_PORT".to_owned(), port.to_string()),
        (
            "FNHOST_CACHE_DIR".to_owned(),
            suite.cache_dir.display().to_string(),
        ),
        ("FUNC_RUNTIME".to_owned(), fixture.runtime.clone()),
    ]);
    let mut args = Vec::new();
    match case.mode {
        StartMode::Pod => {
            env.insert("MOD_NAME".to_owned(), module.to_owned());
            env.insert("FUNC_HANDLER".to_owned(), function.to_owned());
            env.insert(
                "KUBELESS_INSTALL_VOLUME".to_owned(),
                fn_dir.display().to_string(),
            );
        }
        StartMode::Local => {
            let mut file = match &fixture.file {
                Some(name) => fn_dir.join(name),
                None => function_file(fn_dir, module)?,
            };
            if let Some(stem) = &case.local_file {
                let suffix = file.extension().and_then(|x| x.to_str()).unwrap_or("");
                let renamed = fn_dir.join(format!("{stem}.{suffix}"));
                std::fs::rename(&file, &renamed).map_err(|e| format!("renaming the file: {e}"))?;
                file = renamed;
            }
            if let Some(kind) = &case.local_archive {
                file = pack(fn_dir, kind)?;
            }
            args.extend([
                "run".to_owned(),
                file.display().to_string(),
                "--handler".to_owned(),
                fixture.handler.clone(),
            ]);
            if let Some(deps) = &fixture.deps {
                args.extend(["--deps".to_owned(), fn_dir.join(deps).display().to_string()]);
            }
        }
    }
    for (k, v) in &case.env {
        if v.is_empty() {
            env.remove(k);
        } else {
            env.insert(
                k.clone(),
                v.replace("{kubeless}", &fn_dir.display().to_string()),
            );
        }
    }
    Ok((args, env))
}

/// The folder's files packed into `DIR.KIND` beside it: `zip` by Python's `zipfile` (no `zip`
/// tool is installed), `tar.gz` by tar.
fn pack(dir: &Path, kind: &str) -> Result<PathBuf, String> {
    let archive = dir.with_extension(kind);
    let mut command = match kind {
        "zip" => {
            let mut zip = std::process::Command::new("python3");
            zip.args(["-m", "zipfile", "-c"]).arg(&archive);
            for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
                let name = entry.map_err(|e| e.to_string())?.file_name();
                zip.arg(name);
            }
            zip
        }
        "tar.gz" => {
            let mut tar = std::process::Command::new("tar");
            tar.arg("czf").arg(&archive).arg(".");
            tar
        }
        other => {
            return Err(format!(
                "unknown local_archive kind {other:?} (zip or tar.gz)"
            ));
        }
    };
    let status = command
        .current_dir(dir)
        .status()
        .map_err(|e| format!("packing the function: {e}"))?;
    if !status.success() {
        return Err(format!("packing the function failed: {status}"));
    }
    Ok(archive)
}

fn function_file(dir: &Path, module: &str) -> Result<PathBuf, String> {
    std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.is_file() && p.file_stem().and_then(|s| s.to_str()) == Some(module))
        .ok_or_else(|| format!("no file for module {module} in the fixture"))
}

/// A port in 20000..60000, different per process and call.
fn random_port() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = nanos ^ std::process::id().rotate_left(16);
    20_000 + u16::try_from(mixed % 40_000).unwrap_or(0)
}

struct Running {
    fnhost: Fnhost,
    addr: SocketAddr,
    background: HashMap<String, JoinHandle<Result<Response, String>>>,
    idle: Vec<TcpStream>,
    kept: HashMap<String, TcpStream>,
}

impl Running {
    fn steps(&mut self, steps: &[Step]) -> Result<(), String> {
        for (i, step) in steps.iter().enumerate() {
            self.step(step)
                .map_err(|e| format!("step {}: {e}\n{}", i + 1, self.fnhost.transcript()))?;
        }
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        if let Some(request) = &step.send {
            return self.send(step, request);
        }
        if let Some(id) = &step.await_background {
            let handle = self
                .background
                .remove(id)
                .ok_or_else(|| format!("no background request {id}"))?;
            let response = handle
                .join()
                .map_err(|_| "background request panicked".to_owned())??;
            return check(step.expect.as_ref(), &response);
        }
        if let Some(raw) = &step.raw {
            return self.raw(raw, step.expect_raw.as_ref());
        }
        if let Some(name) = &step.signal {
            return self.fnhost.signal(name);
        }
        if let Some(expected) = &step.exit {
            return check_exit(&mut self.fnhost, expected);
        }
        if let Some(texts) = &step.stdout_contains {
            return self.wait_output(texts, true);
        }
        if let Some(texts) = &step.stderr_contains {
            return self.wait_output(texts, false);
        }
        if let Some(lines) = &step.metrics {
            return self.metrics(lines);
        }
        if let Some(name) = &step.hang_up {
            let stream = self
                .kept
                .remove(name)
                .ok_or_else(|| format!("no kept connection {name}"))?;
            return stream
                .shutdown(std::net::Shutdown::Both)
                .map_err(|e| format!("hang up: {e}"));
        }
        if step.idle_connection == Some(true) {
            self.idle.push(http::connect(self.addr)?);
            return Ok(());
        }
        Err("the step does nothing".to_owned())
    }

    fn send(&mut self, step: &Step, request: &Request) -> Result<(), String> {
        if let Some(id) = &step.background {
            let (addr, request) = (self.addr, request.clone());
            self.background.insert(
                id.clone(),
                std::thread::spawn(move || http::send(addr, &request)),
            );
            return Ok(());
        }
        let Some(n) = step.concurrent else {
            let response = http::send(self.addr, request)?;
            return check(step.expect.as_ref(), &response);
        };
        let started = Instant::now();
        let responses = send_concurrently(self.addr, request, n);
        let elapsed = started.elapsed();
        for (i, response) in responses.into_iter().enumerate() {
            check(step.expect.as_ref(), &response?)
                .map_err(|e| format!("concurrent request {}: {e}", i + 1))?;
        }
        match step.within_seconds {
            Some(limit) if elapsed.as_secs_f64() > limit => Err(format!(
                "{n} concurrent requests took {elapsed:?}, more than {limit} s"
            )),
            _ => Ok(()),
        }
    }

    fn raw(&mut self, raw: &str, expect: Option<&RawExpect>) -> Result<(), String> {
        use std::io::Write;
        let mut stream = http::connect(self.addr)?;
        stream
            .write_all(&http::unescape(raw))
            .map_err(|e| format!("write: {e}"))?;
        let expect = expect.cloned().unwrap_or_default();
        if let Some(name) = expect.keep_open {
            self.kept.insert(name, stream);
            return Ok(());
        }
        let started = Instant::now();
        let bytes = http::read_to_end(&mut stream)?;
        if let Some(limit) = expect.closed_within {
            let waited = started.elapsed().as_secs_f64();
            if waited > limit {
                return Err(format!(
                    "the server kept the connection {waited:.1} s, more than {limit} s"
                ));
            }
        }
        if let Some(status) = expect.status {
            let response = http::parse(&bytes, false)?;
            if response.status != status {
                return Err(format!(
                    "raw request: status {} (expected {status}): {}",
                    response.status,
                    response.text()
                ));
            }
        }
        Ok(())
    }

    fn wait_output(&mut self, texts: &[String], stdout: bool) -> Result<(), String> {
        let stream = if stdout { "stdout" } else { "stderr" };
        for text in texts {
            if !self.fnhost.wait_output(text, stdout, OUTPUT_WAIT) {
                return Err(format!("{stream} never showed {text:?}"));
            }
        }
        Ok(())
    }

    /// `/metrics` must show every line. Gauges settle a moment after the response that
    /// changed them (an engine thread counts a call as done after it has answered), so the
    /// scrape is repeated until the lines appear or [`METRICS_SETTLE`] passes.
    fn metrics(&mut self, lines: &[String]) -> Result<(), String> {
        let request = Request::get("/metrics");
        let started = Instant::now();
        loop {
            let text = http::send(self.addr, &request)?.text();
            let missing: Vec<&String> = lines
                .iter()
                .filter(|l| !text.lines().any(|t| t == l.as_str()))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if started.elapsed() > METRICS_SETTLE {
                return Err(format!("/metrics lacks {missing:?}; it has:\n{text}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn send_concurrently(
    addr: SocketAddr,
    request: &Request,
    n: usize,
) -> Vec<Result<Response, String>> {
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (barrier, request) = (barrier.clone(), request.clone());
            std::thread::spawn(move || {
                barrier.wait();
                http::send(addr, &request)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("request thread panicked".to_owned()))
        })
        .collect()
}

fn check_exit(fnhost: &mut Fnhost, expected: &ExitExpect) -> Result<(), String> {
    let within = Duration::from_secs_f64(expected.within_seconds.unwrap_or(15.0));
    let status = fnhost.wait_exit(within).ok_or_else(|| {
        format!(
            "fnhost did not exit within {within:?}\n{}",
            fnhost.transcript()
        )
    })?;
    if let Some(code) = expected.code
        && status.code() != Some(code)
    {
        return Err(format!(
            "exit status {status}, expected code {code}\n{}",
            fnhost.transcript()
        ));
    }
    let transcript = fnhost.transcript();
    for text in &expected.stderr_contains {
        if !transcript.contains(text.as_str()) {
            return Err(format!("output lacks {text:?}\n{transcript}"));
        }
    }
    Ok(())
}

/// Checks a response against the expectations.
pub fn check(expect: Option<&Expect>, r: &Response) -> Result<(), String> {
    let Some(e) = expect else { return Ok(()) };
    let body = r.text();
    let fail = |what: String| {
        Err(format!(
            "{what}\nstatus {} headers {:?}\nbody {body:?}",
            r.status, r.headers
        ))
    };
    if let Some(status) = e.status
        && r.status != status
    {
        return fail(format!("status {} (expected {status})", r.status));
    }
    if let Some(exact) = &e.body
        && body != *exact
    {
        return fail(format!("body differs (expected {exact:?})"));
    }
    for needle in &e.body_contains {
        if !body.contains(needle.as_str()) {
            return fail(format!("body lacks {needle:?}"));
        }
    }
    for needle in &e.body_not_contains {
        if body.contains(needle.as_str()) {
            return fail(format!("body contains {needle:?}"));
        }
    }
    if let Some(json) = &e.body_json {
        let want: serde_json::Value =
            serde_json::from_str(json).map_err(|err| format!("case body_json: {err}"))?;
        match serde_json::from_str::<serde_json::Value>(&body) {
            Ok(got) if got == want => {}
            Ok(got) => return fail(format!("JSON body {got} (expected {want})")),
            Err(err) => return fail(format!("body is not JSON: {err}")),
        }
    }
    if let Some(pattern) = &e.body_regex {
        let re = regex::Regex::new(pattern).map_err(|err| format!("case body_regex: {err}"))?;
        if !re.is_match(&body) {
            return fail(format!("body does not match /{pattern}/"));
        }
    }
    for (name, value) in &e.headers {
        if r.values(name).first() != Some(&value.as_str()) {
            return fail(format!(
                "header {name} is {:?} (expected {value:?})",
                r.values(name)
            ));
        }
    }
    for (name, values) in &e.header_values {
        if r.values(name) != *values {
            return fail(format!(
                "header {name} values {:?} (expected {values:?})",
                r.values(name)
            ));
        }
    }
    for name in &e.headers_absent {
        if !r.values(name).is_empty() {
            return fail(format!("header {name} should be absent"));
        }
    }
    Ok(())
}
