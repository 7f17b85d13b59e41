//! fnhost as its own supervisor (`FNHOST_SUPERVISE`, on by default): the process a pod or a
//! person starts is a small parent that runs the serving fnhost as its child, so that a function
//! that crashes the process (a segfault in a C extension, `os._exit`, `os.abort`) costs the calls
//! that were in flight, not the pod.
//!
//! - The child binds the address, loads the function and says where it listens on the
//!   supervisor's Unix socket (`--supervisor PATH`, a hidden flag), then serves as fnhost
//!   always did (its stdout and stderr are the supervisor's).
//! - A child that dies after it was ready is logged (exit status or signal) and replaced on the
//!   same address (`--listen-on ADDR`), with a backoff while it keeps dying young. A child
//!   that dies before it was ready ends the supervisor with the same status: a function that
//!   cannot load is not restarted in a loop.
//! - SIGTERM and SIGINT go to the child; the supervisor then exits with the child's status.
//! - It reaps every child that ends, so that as a container's PID 1 it also collects the
//!   orphans a dead child leaves (its worker processes).

use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::time::Duration;

use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};
use tokio::io::AsyncBufReadExt;
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};

/// The first wait before a child that died is replaced; doubles while children die young.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two children.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A child that served this long resets the backoff.
const LIVED_LONG: Duration = Duration::from_secs(30);

/// How the supervisor ended: the exit code to leave with.
pub fn run(args: Vec<OsString>) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fnhost: cannot start the supervisor: {e}");
            return crate::EXIT_INIT;
        }
    };
    runtime.block_on(supervise(args))
}

async fn supervise(args: Vec<OsString>) -> u8 {
    let socket = socket_path();
    let _ = std::fs::remove_file(&socket);
    let listener = match UnixListener::bind(&socket) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "fnhost: cannot start the supervisor ({}): {e}",
                socket.display()
            );
            return crate::EXIT_INIT;
        }
    };
    let code = supervise_children(&args, &socket, &listener).await;
    let _ = std::fs::remove_file(&socket);
    code
}

async fn supervise_children(args: &[OsString], socket: &Path, listener: &UnixListener) -> u8 {
    let (Ok(mut term), Ok(mut int), Ok(mut chld)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::child()),
    ) else {
        eprintln!("fnhost: cannot install the supervisor's signal handlers");
        return crate::EXIT_INIT;
    };
    let mut listen_on: Option<SocketAddr> = None;
    let mut backoff = FIRST_BACKOFF;
    let mut restarts = 0u32;
    loop {
        let child = match start_child(args, socket, listen_on) {
            Ok(child) => child,
            Err(e) => {
                eprintln!("fnhost: cannot start the serving process: {e}");
                return crate::EXIT_INIT;
            }
        };
        let started = std::time::Instant::now();
        let mut ready = false;
        let mut stopping = false;
        // Kept open while the child runs: the child shuts down when it closes.
        let mut link = None;
        // One future per child, polled across the loop (not re-made): a connection accepted
        // but not yet read must never be dropped by another branch winning the select.
        let mut announcement = std::pin::pin!(announced(listener));
        // SIGCHLD wakes the reaping; the tick covers a signal that came before the handler.
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let status = loop {
            tokio::select! {
                _ = chld.recv() => {}
                _ = tick.tick() => {}
                announced = &mut announcement, if !ready => {
                    ready = true;
                    if let Some((addr, stream)) = announced {
                        if restarts > 0 {
                            tracing::info!("serving again on {addr} (restart {restarts})");
                        }
                        listen_on = Some(addr);
                        link = Some(stream);
                    }
                }
                _ = term.recv() => { stopping = true; forward(child, Signal::TERM); }
                _ = int.recv() => { stopping = true; forward(child, Signal::INT); }
            }
            if let Some(status) = reap(child) {
                break status;
            }
        };
        drop(link);
        if stopping || !ready || exit_code(status) == 0 {
            return exit_code(status);
        }
        if started.elapsed() >= LIVED_LONG {
            backoff = FIRST_BACKOFF;
        }
        tracing::error!(
            "the serving process died ({}); a new one starts in {backoff:?}{}",
            describe(status),
            listen_on.map(|a| format!(" on {a}")).unwrap_or_default()
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = term.recv() => return 0,
            _ = int.recv() => return 0,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
        restarts += 1;
    }
}

/// Starts the serving child; its process id.
fn start_child(
    args: &[OsString],
    socket: &Path,
    listen_on: Option<SocketAddr>,
) -> std::io::Result<Pid> {
    let program = std::env::current_exe()?;
    let mut command = Command::new(program);
    command.arg("--supervisor").arg(socket);
    if let Some(addr) = listen_on {
        command.arg("--listen-on").arg(addr.to_string());
    }
    command.args(args).stdin(std::process::Stdio::null());
    // The child is reaped by `reap`, never through its `Child` handle.
    let child = command.spawn()?;
    i32::try_from(child.id())
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other("the child has no valid process id"))
}

/// Reaps every child that has ended; the serving child's status once it is among them.
fn reap(child: Pid) -> Option<WaitStatus> {
    let mut ended = None;
    while let Ok(Some((pid, status))) = rustix::process::wait(WaitOptions::NOHANG) {
        if pid == child {
            ended = Some(status);
        }
    }
    ended
}

/// The address the next child announces on the supervisor's socket, and the connection it
/// came on (the child's link to its supervisor).
async fn announced(
    listener: &UnixListener,
) -> Option<(SocketAddr, tokio::io::BufReader<tokio::net::UnixStream>)> {
    let (stream, _) = listener.accept().await.ok()?;
    let mut stream = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    stream.read_line(&mut line).await.ok()?;
    Some((line.trim().parse().ok()?, stream))
}

/// In the serving child: tells the supervisor at `supervisor` where it listens, and returns a
/// future that resolves when the supervisor is gone (its socket closes), so that a child never
/// outlives its supervisor (killed, it cannot forward anything). Needs the tokio runtime.
pub fn report(supervisor: &Path, addr: SocketAddr) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    use std::io::Write;
    let connected = std::os::unix::net::UnixStream::connect(supervisor).and_then(|mut stream| {
        writeln!(stream, "{addr}")?;
        stream.set_nonblocking(true)?;
        tokio::net::UnixStream::from_std(stream)
    });
    match connected {
        Ok(stream) => Box::pin(async move {
            let mut rest = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut { stream }, &mut rest).await;
            tracing::warn!("the supervisor is gone; shutting down");
        }),
        Err(e) => {
            // A child whose supervisor cannot be reached has lost it: it must not serve on
            // as an orphan nobody supervises.
            tracing::error!(
                "cannot reach the supervisor ({}): {e}; shutting down",
                supervisor.display()
            );
            Box::pin(std::future::ready(()))
        }
    }
}

fn forward(child: Pid, signal: Signal) {
    if let Err(e) = rustix::process::kill_process(child, signal) {
        tracing::warn!("cannot pass {signal:?} on to the serving process: {e}");
    }
}

/// The status to exit with: the child's code, or 128 + the signal that ended it.
fn exit_code(status: WaitStatus) -> u8 {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        _ => 1,
    }
}

fn describe(status: WaitStatus) -> String {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(11)) => "killed by signal 11 (SIGSEGV)".to_owned(),
        (None, Some(6)) => "killed by signal 6 (SIGABRT)".to_owned(),
        (None, Some(9)) => "killed by signal 9 (SIGKILL)".to_owned(),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_owned(),
    }
}

fn socket_path() -> PathBuf {
    std::env::temp_dir().join(format!("fnhost-supervisor-{}.sock", std::process::id()))
}
