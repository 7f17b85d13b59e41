//! The worker side of the protocol, for workers that are fnhost itself (the hidden
//! `fnhost worker LOADER ...` command of `FNHOST_ISOLATION=process`): a [`Function`] loaded
//! in the worker's own process answers the host's CALLs, as many at once as READY announced.
//!
//! The host keeps every deadline: past one it kills the worker (a crash does the same), so
//! nothing here races a timer. The event's data kind and metadata come from the CALL header,
//! as the host decided them; nothing of the contract is decided twice.
//!
//! On the host side, [`command`] is the `WorkerCommand` that starts such a worker.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fnhost_loader_api::{
    DataKind, EventMeta, Function, FunctionSpec, Invocation, InvokeError, Response,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::protocol::{
    CallHeader, EventHeader, Frame, Kind, ReadyHeader, ResultHeader, VERSION, encode_frame,
    header_pairs,
};
use crate::worker::{WorkerCommand, read_frame};

/// How the host starts a worker that is `program` (the fnhost binary) running `loader`'s
/// engine for `spec`.
pub fn command(loader: &str, spec: &FunctionSpec, program: &Path) -> WorkerCommand {
    let mut args: Vec<String> = [
        "worker",
        loader,
        "--dir",
        &spec.dir.display().to_string(),
        "--module",
        &spec.module,
        "--handler",
        &spec.handler,
        "--runtime",
        &spec.runtime,
        "--memory-limit",
        &spec.memory_limit,
        "--timeout",
        &spec.timeout.as_secs_f64().to_string(),
        "--threads",
        &spec.concurrency.to_string(),
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();
    for path in &spec.search_path {
        args.extend(["--search-path".to_owned(), path.display().to_string()]);
    }
    WorkerCommand {
        program: program.to_path_buf(),
        args,
        env: Vec::new(),
        dir: spec.dir.clone(),
        start_timeout: Duration::from_secs(60),
        memory_limit: crate::memory::limit_of(spec),
    }
}

/// Serves the host on `socket` until it closes the connection, `concurrency` calls at once.
/// Runs its own single-threaded tokio runtime; `Err` says why the worker cannot go on.
pub fn serve_blocking(
    function: Box<dyn Function>,
    socket: &Path,
    concurrency: usize,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the worker's runtime: {e}"))?;
    runtime.block_on(serve(Arc::from(function), socket, concurrency))
}

async fn serve(
    function: Arc<dyn Function>,
    socket: &Path,
    concurrency: usize,
) -> Result<(), String> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let ready = ReadyHeader {
        protocol: VERSION,
        concurrency: u32::try_from(concurrency.max(1)).unwrap_or(u32::MAX),
        description: format!(
            "{} (worker pid {})",
            function.describe(),
            std::process::id()
        ),
    };
    let ready = serde_json::to_vec(&ready).map_err(|e| e.to_string())?;
    writer
        .write_all(&encode_frame(Kind::Ready, 0, &ready, &[]))
        .await
        .map_err(|e| format!("cannot write to the host: {e}"))?;
    let (results, mut outbox) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(bytes) = outbox.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    // An error reading is the host going away: the worker's work is over.
    while let Ok(frame) = read_frame(&mut reader).await {
        if frame.kind != Kind::Call {
            return Err(format!("unexpected {:?} frame from the host", frame.kind));
        }
        let (function, results) = (function.clone(), results.clone());
        tokio::spawn(async move {
            let _ = results.send(answer(function.as_ref(), frame).await);
        });
    }
    Ok(())
}

/// The RESULT frame for one CALL.
async fn answer(function: &dyn Function, frame: Frame) -> Vec<u8> {
    let id = frame.id;
    let outcome = match invocation(frame) {
        Ok(invocation) => function.invoke(invocation).answer.await,
        Err(bad) => Err(InvokeError::BadRequest(bad)),
    };
    let (header, body) = match outcome {
        Ok(response) => result_of(&response),
        Err(e) => (
            ResultHeader {
                error: Some(e.to_string()),
                ..ResultHeader::default()
            },
            Bytes::new(),
        ),
    };
    let header = serde_json::to_vec(&header).unwrap_or_default();
    encode_frame(Kind::Result, id, &header, &body)
}

fn result_of(response: &Response) -> (ResultHeader, Bytes) {
    let header = ResultHeader {
        status: Some(response.status.as_u16()),
        headers: header_pairs(&response.headers),
        error: None,
    };
    (header, response.body.clone())
}

/// The call as the host sent it: its request, and the event the host decided.
pub fn invocation(frame: Frame) -> Result<Invocation, String> {
    let call: CallHeader<'_> =
        serde_json::from_slice(&frame.header).map_err(|e| format!("bad CALL header: {e}"))?;
    let target = if call.query.is_empty() {
        call.path.to_string()
    } else {
        format!("{}?{}", call.path, call.query)
    };
    let uri: Uri = target
        .parse()
        .map_err(|e| format!("bad path {target:?}: {e}"))?;
    let method =
        Method::from_bytes(call.method.as_bytes()).map_err(|e| format!("bad method: {e}"))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &call.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    let data = data_kind(&call.data)?;
    let event = event_meta(&call.event);
    let timeout = Duration::from_millis(call.timeout_ms);
    let mut invocation = Invocation::new(method, uri, headers, Bytes::from(frame.body), timeout);
    invocation.data = data;
    invocation.event = event;
    Ok(invocation)
}

fn data_kind(name: &str) -> Result<DataKind, String> {
    [DataKind::Empty, DataKind::Json, DataKind::Raw]
        .into_iter()
        .find(|kind| kind.as_str() == name)
        .ok_or_else(|| format!("unknown data kind {name:?}"))
}

fn event_meta(event: &EventHeader<'_>) -> EventMeta {
    let owned = |value: &Option<Cow<'_, str>>| value.as_deref().map(str::to_owned);
    EventMeta {
        id: owned(&event.id),
        event_type: owned(&event.event_type),
        time: owned(&event.time),
        namespace: owned(&event.namespace),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_host_decided_event_reaches_the_function_unchanged() {
        let header = serde_json::json!({
            "method": "POST", "path": "/a", "query": "x=1",
            "headers": [["content-type", "application/json"], ["x-two", "2"]],
            "event": {"id": "e1", "type": "t", "time": null, "namespace": "ns"},
            "data": "json", "timeout_ms": 5000
        });
        let frame = Frame {
            kind: Kind::Call,
            id: 7,
            header: serde_json::to_vec(&header).expect("json"),
            body: b"[1]".to_vec(),
        };
        let inv = invocation(frame).expect("valid");
        assert_eq!(inv.method, Method::POST);
        assert_eq!(inv.uri.to_string(), "/a?x=1");
        assert_eq!(inv.data, DataKind::Json);
        assert_eq!(inv.event.id.as_deref(), Some("e1"));
        assert_eq!(inv.event.namespace.as_deref(), Some("ns"));
        assert_eq!(inv.event.time, None);
        assert_eq!(inv.headers["x-two"], "2");
        assert_eq!(&inv.body[..], b"[1]");
    }

    #[test]
    fn a_worker_command_carries_what_the_worker_loads_with() {
        let spec = FunctionSpec {
            search_path: vec!["/deps".into()],
            concurrency: 4,
            memory_limit: "64Mi".to_owned(),
            ..FunctionSpec::new("hello", "foo", "/kubeless")
        };
        let command = command("python", &spec, Path::new("/bin/fnhost"));
        let args = command.args.join(" ");
        assert!(args.starts_with("worker python --dir /kubeless --module hello --handler foo"));
        assert!(args.contains("--threads 4"), "{args}");
        assert!(args.ends_with("--search-path /deps"), "{args}");
        assert_eq!(command.memory_limit, Some(64 << 20));
    }
}
