//! One worker process: started with the function's environment plus `FNHOST_WORKER_SOCKET`,
//! it connects to that Unix socket, says READY, and answers CALL frames with RESULT frames.
//! A reader task routes results to their callers; when the worker exits, every call still in
//! flight fails with the exit status.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::protocol::{Frame, FrameError, Kind, ReadyHeader, VERSION, encode_frame};

/// How to start a worker.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    /// Program.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// Extra environment (the process inherits fnhost's own).
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub dir: PathBuf,
    /// How long loading may take, until READY.
    pub start_timeout: Duration,
    /// The most resident memory fnhost and all its workers may use together
    /// (`FUNC_MEMORY_LIMIT`); the pool kills the largest worker past it.
    pub memory_limit: Option<u64>,
}

/// Why a worker could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Spawning or the socket failed.
    #[error("cannot start the worker {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The worker exited before READY.
    #[error("the worker exited before it was ready ({0})")]
    ExitedEarly(String),
    /// No READY in time.
    #[error("the worker was not ready within {0:?}")]
    StartTimeout(Duration),
    /// A broken frame or a READY the host cannot use.
    #[error("worker protocol error: {0}")]
    Protocol(String),
}

/// What a call gets back: the RESULT frame, or why there is none.
pub type CallOutcome = Result<Frame, WorkerGone>;

/// Why a worker can no longer answer a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerGone {
    /// How it ended (exit status, signal, protocol error), for the log.
    pub reason: String,
    /// fnhost stopped it for going over the memory limit.
    pub out_of_memory: bool,
}

type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<CallOutcome>>>>>;

/// A running worker.
pub struct Worker {
    child: Mutex<Child>,
    /// CALL frames for the writer task.
    outbox: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    pending: Pending,
    next_id: AtomicU64,
    /// What READY said.
    pub ready: ReadyHeader,
    exited: tokio::sync::watch::Receiver<Option<String>>,
    /// Why fnhost stopped it for memory, if it did.
    over_memory: Mutex<Option<String>>,
}

static SOCKET_SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn socket_path() -> PathBuf {
    let n = SOCKET_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("fnhost-worker-{}-{n}.sock", std::process::id()))
}

impl Worker {
    /// Starts a worker and waits for its READY.
    pub async fn start(command: &WorkerCommand) -> Result<Arc<Worker>, WorkerError> {
        let path = socket_path();
        let _ = std::fs::remove_file(&path);
        let spawn_error = |source| WorkerError::Spawn {
            program: command.program.display().to_string(),
            source,
        };
        let listener = UnixListener::bind(&path).map_err(spawn_error)?;
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .env("FNHOST_WORKER_SOCKET", &path)
            .current_dir(&command.dir)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted.map_err(spawn_error),
            status = child.wait() => Err(WorkerError::ExitedEarly(describe_exit(status.ok()))),
            () = tokio::time::sleep(command.start_timeout) => Err(WorkerError::StartTimeout(command.start_timeout)),
        };
        remove_socket(&path);
        let (stream, _) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                let _ = child.start_kill();
                return Err(e);
            }
        };
        let (reader, writer) = stream.into_split();
        let mut reader = BufReader::with_capacity(64 * 1024, reader);
        let ready = tokio::select! {
            frame = read_frame(&mut reader) => read_ready(frame),
            status = child.wait() => Err(WorkerError::ExitedEarly(describe_exit(status.ok()))),
            () = tokio::time::sleep(command.start_timeout) => Err(WorkerError::StartTimeout(command.start_timeout)),
        };
        let ready = match ready {
            Ok(ready) => ready,
            Err(e) => {
                let _ = child.start_kill();
                return Err(e);
            }
        };
        let (exit_tx, exited) = tokio::sync::watch::channel(None);
        let (outbox, frames) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(write_frames(writer, frames));
        let worker = Arc::new(Worker {
            child: Mutex::new(child),
            outbox,
            pending: Arc::new(Mutex::new(Some(HashMap::new()))),
            next_id: AtomicU64::new(1),
            ready,
            exited,
            over_memory: Mutex::new(None),
        });
        tokio::spawn(route_results(
            reader,
            worker.pending.clone(),
            worker.clone(),
            exit_tx,
        ));
        Ok(worker)
    }

    /// Sends a CALL and waits for its RESULT (no deadline here: the caller races it).
    pub async fn call(&self, header: &[u8], body: &[u8]) -> CallOutcome {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match self.pending.lock().as_mut() {
            Some(pending) => pending.insert(id, tx),
            None => return Err(self.gone()),
        };
        let bytes = encode_frame(Kind::Call, id, header, body);
        if self.outbox.send(bytes).is_err() {
            if let Some(pending) = self.pending.lock().as_mut() {
                pending.remove(&id);
            }
            return Err(WorkerGone {
                reason: "cannot write to the worker: its connection is closed".to_owned(),
                out_of_memory: false,
            });
        }
        rx.await.unwrap_or_else(|_| Err(self.gone()))
    }

    /// Kills the worker (its in-flight calls fail).
    pub fn kill(&self) {
        let _ = self.child.lock().start_kill();
    }

    /// Kills the worker for going over the memory limit: its in-flight calls fail saying so.
    pub fn kill_for_memory(&self, why: String) {
        *self.over_memory.lock() = Some(why);
        self.kill();
    }

    /// The worker's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().id()
    }

    /// `true` while the worker process runs.
    pub fn alive(&self) -> bool {
        self.exited.borrow().is_none()
    }

    /// Waits until the worker has exited; returns how.
    pub async fn wait_exit(&self) -> String {
        let mut exited = self.exited.clone();
        loop {
            if let Some(reason) = exited.borrow().clone() {
                return reason;
            }
            if exited.changed().await.is_err() {
                return "the worker is gone".to_owned();
            }
        }
    }

    fn gone(&self) -> WorkerGone {
        let reason = self
            .exited
            .borrow()
            .clone()
            .unwrap_or_else(|| "the worker stopped answering".to_owned());
        WorkerGone {
            reason,
            out_of_memory: self.over_memory.lock().is_some(),
        }
    }

    fn reap(&self) -> String {
        let status = self.child.lock().try_wait().ok().flatten();
        describe_exit(status)
    }
}

fn remove_socket(path: &Path) {
    let _ = std::fs::remove_file(path);
}

fn read_ready(frame: Result<Frame, FrameError>) -> Result<ReadyHeader, WorkerError> {
    let frame = frame.map_err(|e| WorkerError::Protocol(e.to_string()))?;
    if frame.kind != Kind::Ready {
        return Err(WorkerError::Protocol(format!(
            "expected READY, got {:?}",
            frame.kind
        )));
    }
    let ready: ReadyHeader = serde_json::from_slice(&frame.header)
        .map_err(|e| WorkerError::Protocol(format!("READY header: {e}")))?;
    if ready.protocol != VERSION {
        return Err(WorkerError::Protocol(format!(
            "the worker speaks protocol {}, fnhost speaks {VERSION}",
            ready.protocol
        )));
    }
    Ok(ready)
}

/// Reads one frame; an EOF is a `Malformed` error.
/// Results are read through a buffer: under load one `read` brings several frames.
pub(crate) type FrameReader = BufReader<OwnedReadHalf>;

pub(crate) async fn read_frame(reader: &mut FrameReader) -> Result<Frame, FrameError> {
    let mut length = [0u8; 4];
    reader
        .read_exact(&mut length)
        .await
        .map_err(|_| FrameError::Malformed("connection closed"))?;
    let length = Frame::check_length(u32::from_le_bytes(length))?;
    let mut payload = vec![0u8; length];
    reader
        .read_exact(&mut payload)
        .await
        .map_err(|_| FrameError::Malformed("connection closed mid-frame"))?;
    Frame::decode(payload)
}

/// Writes CALL frames as they come; frames queued meanwhile go out in the same write, so a
/// loaded worker gets many calls per system call. Ends when the connection fails (the reader
/// then fails the calls in flight) or the worker is dropped.
async fn write_frames(
    mut out: OwnedWriteHalf,
    mut frames: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    const BATCH: usize = 256 * 1024;
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Some(frame) = frames.recv().await {
        if frames.is_empty() {
            // The usual case when lightly loaded: one frame, written as it is.
            if out.write_all(&frame).await.is_err() {
                return;
            }
            continue;
        }
        batch.extend_from_slice(&frame);
        while batch.len() < BATCH {
            match frames.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if out.write_all(&batch).await.is_err() {
            return;
        }
        batch.clear();
    }
}

async fn route_results(
    mut reader: FrameReader,
    pending: Pending,
    worker: Arc<Worker>,
    exit_tx: tokio::sync::watch::Sender<Option<String>>,
) {
    let why = loop {
        match read_frame(&mut reader).await {
            Ok(frame) if frame.kind == Kind::Result => {
                let waiter = pending.lock().as_mut().and_then(|p| p.remove(&frame.id));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(Ok(frame));
                }
            }
            Ok(frame) => break format!("protocol error: unexpected {:?} frame", frame.kind),
            Err(FrameError::Malformed(_)) => break String::new(),
            Err(e) => break format!("protocol error: {e}"),
        }
    };
    // Give the kernel a moment to report the exit status of a crashed worker.
    let mut reason = String::new();
    for _ in 0..50 {
        reason = worker.reap();
        if reason != "still running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reason = match (worker.over_memory.lock().clone(), why.is_empty()) {
        (Some(memory), _) => format!("{memory} ({reason})"),
        (None, true) => format!("the worker exited ({reason})"),
        (None, false) => format!("{why}; {reason}"),
    };
    worker.kill();
    let _ = exit_tx.send(Some(reason));
    let gone = worker.gone();
    let waiters = pending.lock().take().unwrap_or_default();
    for (_, waiter) in waiters {
        let _ = waiter.send(Err(gone.clone()));
    }
}

/// `exit code 3`, `killed by signal 11 (SIGSEGV)`, ...
fn describe_exit(status: Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        None => "still running".to_owned(),
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(11)) => "killed by signal 11 (SIGSEGV)".to_owned(),
            (None, Some(9)) => "killed by signal 9 (SIGKILL)".to_owned(),
            (None, Some(6)) => "killed by signal 6 (SIGABRT)".to_owned(),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "exited".to_owned(),
        },
    }
}
