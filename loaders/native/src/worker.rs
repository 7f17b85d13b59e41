//! The worker side of `FNHOST_ISOLATION=process`: a child process (`fnhost worker native ...`)
//! that loads the library, connects to `FNHOST_WORKER_SOCKET`, says READY, and answers CALL
//! frames one at a time (`docs/worker-protocol.md`). A crash or a timeout ends only this
//! process; the host replaces it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use bytes::Bytes;
use fnhost_loader_api::{FunctionSpec, Invocation, InvokeError};
use fnhost_workers::protocol::{CallHeader, Frame, Kind, ReadyHeader, ResultHeader, VERSION};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::call;
use crate::library;

/// Serves calls until the host closes the socket. `Err` describes why the worker cannot run.
pub fn serve(spec: &FunctionSpec, socket: &std::path::Path) -> Result<(), String> {
    let loaded = library::open(spec).map_err(|e| e.to_string())?;
    let mut stream = UnixStream::connect(socket)
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    let context = spec.context();
    let ready = ReadyHeader {
        protocol: VERSION,
        concurrency: 1,
        description: format!("native worker pid {}", std::process::id()),
    };
    write_frame(&mut stream, Kind::Ready, 0, &ready, Vec::new())?;
    while let Some(frame) = read_frame(&mut stream)? {
        if frame.kind != Kind::Call {
            return Err(format!("unexpected {:?} frame from the host", frame.kind));
        }
        let (header, body) = match invocation(&frame) {
            Ok(invocation) => result(call::run(loaded.handler, &invocation, &context)),
            Err(e) => (
                ResultHeader {
                    error: Some(e),
                    ..ResultHeader::default()
                },
                Vec::new(),
            ),
        };
        write_frame(&mut stream, Kind::Result, frame.id, &header, body)?;
    }
    Ok(())
}

fn invocation(frame: &Frame) -> Result<Invocation, String> {
    let call: CallHeader =
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
    let timeout = std::time::Duration::from_millis(call.timeout_ms);
    Ok(Invocation::new(
        method,
        uri,
        headers,
        Bytes::from(frame.body.clone()),
        timeout,
    ))
}

fn result(outcome: Result<fnhost_loader_api::Response, InvokeError>) -> (ResultHeader, Vec<u8>) {
    match outcome {
        Ok(response) => {
            let headers = fnhost_workers::protocol::header_pairs(&response.headers);
            (
                ResultHeader {
                    status: Some(response.status.as_u16()),
                    headers,
                    error: None,
                },
                response.body.to_vec(),
            )
        }
        Err(e) => (
            ResultHeader {
                error: Some(e.to_string()),
                ..ResultHeader::default()
            },
            Vec::new(),
        ),
    }
}

fn write_frame<H: serde::Serialize>(
    stream: &mut UnixStream,
    kind: Kind,
    id: u64,
    header: &H,
    body: Vec<u8>,
) -> Result<(), String> {
    let header = serde_json::to_vec(header).map_err(|e| e.to_string())?;
    let bytes = Frame {
        kind,
        id,
        header,
        body,
    }
    .encode();
    stream
        .write_all(&bytes)
        .map_err(|e| format!("cannot write to the host: {e}"))
}

/// The next frame, or `None` when the host closed the socket.
fn read_frame(stream: &mut UnixStream) -> Result<Option<Frame>, String> {
    let mut length = [0u8; 4];
    match stream.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(format!("cannot read from the host: {e}")),
    }
    let length = Frame::check_length(u32::from_le_bytes(length)).map_err(|e| e.to_string())?;
    let mut payload = vec![0u8; length];
    stream
        .read_exact(&mut payload)
        .map_err(|e| format!("cannot read from the host: {e}"))?;
    Frame::decode(payload).map(Some).map_err(|e| e.to_string())
}
