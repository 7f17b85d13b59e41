//! Booting the real `fnhost` binary and watching its output.
//!
//! Readiness is the line `fnhost: listening http=<addr>` on stdout; the harness never sleeps
//! to wait for anything: it blocks on a condition variable that the output readers signal.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Readiness line prefix.
pub const READY_PREFIX: &str = "fnhost: listening http=";

/// Start-up may take this long (it includes importing the function and installing deps).
pub const START_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Default)]
struct Output {
    stdout: String,
    stderr: String,
    closed: usize,
}

/// A running (or exited) fnhost.
pub struct Fnhost {
    child: Child,
    output: Arc<(Mutex<Output>, Condvar)>,
    exit: Option<ExitStatus>,
}

/// Where to find the binary: `FNHOST_BIN`, else `fnhost` next to the test executable's
/// target folder (`target/<profile>/fnhost`).
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("FNHOST_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/conformance-<hash> -> target/<profile>/fnhost
    exe.parent()
        .and_then(Path::parent)
        .map(|p| p.join("fnhost"))
        .unwrap_or_else(|| PathBuf::from("fnhost"))
}

/// Environment variables of the test machine that fnhost (and the tools it runs: pip, npm,
/// go) see; everything else is cleared so that each case states its own configuration.
const PASSED_THROUGH: [&str; 12] = [
    "PATH",
    "HOME",
    "LANG",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "GOPROXY",
    "PIP_INDEX_URL",
];

impl Fnhost {
    /// Starts fnhost with exactly `env` (plus the machine's [`PASSED_THROUGH`] variables) and `args`.
    pub fn spawn(
        args: &[String],
        env: &BTreeMap<String, String>,
        cwd: &Path,
    ) -> Result<Fnhost, String> {
        Fnhost::spawn_program(&binary(), args, env, cwd)
    }

    /// Starts another program the same way (a broker, the dispatcher), to wait on its output
    /// and signal it like fnhost.
    pub fn spawn_program(
        bin: &Path,
        args: &[String],
        env: &BTreeMap<String, String>,
        cwd: &Path,
    ) -> Result<Fnhost, String> {
        let mut cmd = Command::new(bin);
        cmd.args(args).current_dir(cwd).env_clear();
        // The machine's own setup passes through: where tools are, and how this network is
        // reached (proxies, the CA certificates TLS clients must trust).
        for key in PASSED_THROUGH {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start {}: {e} (fnhost itself is built by `cargo build -p fnhost-proxy`)",
                bin.display()
            )
        })?;
        let output = Arc::new((Mutex::new(Output::default()), Condvar::new()));
        if let Some(out) = child.stdout.take() {
            pump(out, output.clone(), true);
        }
        if let Some(err) = child.stderr.take() {
            pump(err, output.clone(), false);
        }
        Ok(Fnhost {
            child,
            output,
            exit: None,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`, ...), in KiB.
    pub fn status_kib(&self, field: &str) -> Result<u64, String> {
        let path = format!("/proc/{}/status", self.pid());
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        text.lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("{path} has no {field}"))
    }

    /// Waits for the readiness line; fails if fnhost exits first or takes too long.
    pub fn wait_ready(&mut self) -> Result<SocketAddr, String> {
        let line = self.wait_for(START_TIMEOUT, |o| {
            o.stdout
                .lines()
                .find_map(|l| l.strip_prefix(READY_PREFIX))
                .map(str::to_owned)
        });
        match line {
            Some(addr) => addr
                .trim()
                .parse()
                .map_err(|e| format!("bad address {addr:?}: {e}")),
            None => Err(format!(
                "fnhost did not become ready\n{}",
                self.transcript()
            )),
        }
    }

    /// Waits until `text` is on stdout (or stderr); `false` on timeout or exit.
    pub fn wait_output(&mut self, text: &str, on_stdout: bool, timeout: Duration) -> bool {
        self.wait_for(timeout, |o| {
            let hay = if on_stdout { &o.stdout } else { &o.stderr };
            hay.contains(text).then_some(())
        })
        .is_some()
    }

    fn wait_for<T>(
        &mut self,
        timeout: Duration,
        mut found: impl FnMut(&Output) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let (lock, cond) = &*self.output;
        let mut out = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(v) = found(&out) {
                return Some(v);
            }
            let now = Instant::now();
            if out.closed == 2 || now >= deadline {
                return None;
            }
            out = cond
                .wait_timeout(out, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`) with kill(1).
    pub fn signal(&self, name: &str) -> Result<(), String> {
        if !matches!(name, "TERM" | "INT" | "KILL") {
            return Err(format!("unknown signal {name}"));
        }
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -{name} failed: {status}"))
        }
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit.or_else(|| self.child.try_wait().ok().flatten()) {
                self.exit = Some(status);
                // Let the readers drain what is left.
                self.wait_for(Duration::from_secs(5), |o| (o.closed == 2).then_some(()));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            // Exit is not signalled through the pipes reliably (children may keep them), so poll.
            self.wait_for(Duration::from_millis(20), |_| None::<()>);
        }
    }

    /// Everything fnhost printed so far.
    pub fn transcript(&self) -> String {
        let out = self
            .output
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        format!(
            "--- fnhost stdout ---\n{}--- fnhost stderr ---\n{}",
            out.stdout, out.stderr
        )
    }

    /// stdout so far.
    pub fn stdout(&self) -> String {
        self.output
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stdout
            .clone()
    }
}

impl Drop for Fnhost {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn pump(
    stream: impl Read + Send + 'static,
    output: Arc<(Mutex<Output>, Condvar)>,
    is_stdout: bool,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line).unwrap_or(0);
            let (lock, cond) = &*output;
            let mut out = lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if n == 0 {
                out.closed += 1;
                cond.notify_all();
                return;
            }
            if is_stdout {
                out.stdout.push_str(&line)
            } else {
                out.stderr.push_str(&line)
            }
            cond.notify_all();
        }
    });
}
