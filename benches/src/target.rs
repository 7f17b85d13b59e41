//! Server processes under test: how to start one, and the running process.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::probe;

/// How to start one server. `{port}` in `args` and `env` values is replaced by the port.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Short name for the report.
    pub name: String,
    /// What it is, for the report.
    pub description: String,
    /// Program to run.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: PathBuf,
}

/// A started server, killed on drop.
pub struct Running {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Spawn to first `200` on `/`.
    pub cold_start: Duration,
    stderr_tail: Arc<Mutex<String>>,
}

impl Drop for Running {
    /// Stops the server and every process it started (Granian's workers, fnhost's workers):
    /// none may outlive its round and skew the next one.
    fn drop(&mut self) {
        let tree = crate::procfs::process_tree(self.child.id());
        let pids: Vec<String> = tree.iter().map(u32::to_string).collect();
        let _ = std::process::Command::new("kill")
            .arg("-KILL")
            .args(&pids)
            .status();
        let _ = self.child.wait();
    }
}

impl Running {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A port that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl TargetSpec {
    /// fnhost serving the Python function `<module>.<handler>` of `functions` as a Kubeless
    /// pod would start it (its environment, `{port}` for the port, loopback only).
    pub fn fnhost_python(
        name: &str,
        description: &str,
        fnhost: &Path,
        functions: &Path,
        (module, handler): (&str, &str),
    ) -> TargetSpec {
        let env = BTreeMap::from([
            ("MOD_NAME".to_owned(), module.to_owned()),
            ("FUNC_HANDLER".to_owned(), handler.to_owned()),
            ("FUNC_RUNTIME".to_owned(), "python3.11".to_owned()),
            ("FUNC_PORT".to_owned(), "{port}".to_owned()),
            ("FNHOST_LISTEN_ADDR".to_owned(), "127.0.0.1".to_owned()),
            (
                "KUBELESS_INSTALL_VOLUME".to_owned(),
                functions.display().to_string(),
            ),
            ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
        ]);
        TargetSpec {
            name: name.to_owned(),
            description: description.to_owned(),
            program: fnhost.to_owned(),
            args: Vec::new(),
            env,
            cwd: functions.to_owned(),
        }
    }

    /// The bare hyper server answering a constant: the ceiling every table is read against.
    pub fn hyper_baseline(program: &Path, functions: &Path) -> TargetSpec {
        TargetSpec {
            name: "hyper-baseline".to_owned(),
            description: "bare hyper server answering a constant (the ceiling)".to_owned(),
            program: program.to_owned(),
            args: vec!["{port}".to_owned()],
            env: BTreeMap::new(),
            cwd: functions.to_owned(),
        }
    }

    /// Starts the server and waits for its first `200` on `/` (polling, see [`probe`]).
    pub fn start(&self) -> Result<Running, String> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let fill = |s: &String| s.replace("{port}", &port.to_string());
        let mut command = Command::new(&self.program);
        command
            .args(self.args.iter().map(fill))
            .envs(self.env.iter().map(|(k, v)| (k, fill(v))))
            // The same for every target whatever the caller's shell has: with these set, Rust
            // servers capture a backtrace for every internal error value they create.
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            format!(
                "{}: cannot start {}: {e}",
                self.name,
                self.program.display()
            )
        })?;
        drain(child.stdout.take(), None);
        let stderr_tail = Arc::new(Mutex::new(String::new()));
        drain(child.stderr.take(), Some(stderr_tail.clone()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut running = Running {
            child,
            addr,
            cold_start: Duration::ZERO,
            stderr_tail,
        };
        match probe::wait_first_ok(addr, started, Duration::from_secs(60)) {
            Some(cold_start) => {
                running.cold_start = cold_start;
                Ok(running)
            }
            None => {
                let _ = running.child.kill();
                let tail = running
                    .stderr_tail
                    .lock()
                    .map(|s| s.clone())
                    .unwrap_or_default();
                Err(format!(
                    "{} never answered 200 on {addr}; its stderr:\n{tail}",
                    self.name
                ))
            }
        }
    }
}

/// Reads a child's output to the end (a real log pipe, as in a pod), keeping the last 4 KiB.
fn drain(pipe: Option<impl Read + Send + 'static>, keep: Option<Arc<Mutex<String>>>) {
    let Some(mut pipe) = pipe else { return };
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Some(keep) = &keep
                && let Ok(mut tail) = keep.lock()
            {
                tail.push_str(&String::from_utf8_lossy(&buf[..n]));
                let excess = tail.len().saturating_sub(4096);
                if excess > 0 {
                    let cut = tail.ceil_char_boundary(excess);
                    tail.drain(..cut);
                }
            }
        }
    });
}
