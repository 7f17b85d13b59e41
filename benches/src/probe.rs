//! Readiness and cold-start probing: a plain HTTP/1.1 `GET /` on a new connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Status code of `GET /`, or `None` if the connection or the response failed.
pub fn get_status(addr: SocketAddr) -> Option<u16> {
    get_path_status(addr, "/")
}

/// Status code of `GET <path>` (waiting up to 30 s), or `None` if the connection or the
/// response failed.
pub fn get_path_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = send_get(addr, path, Duration::from_millis(200))?;
    let mut head = [0u8; 16];
    stream.read_exact(&mut head[..12]).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Polls `GET /` every millisecond until it answers 200; returns the time since `started`.
pub fn wait_first_ok(addr: SocketAddr, started: Instant, limit: Duration) -> Option<Duration> {
    loop {
        if get_status(addr) == Some(200) {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Status and body of `GET <path>` (the server must close the connection after it, as asked,
/// and send the body with a `Content-Length`), or `None` if the exchange failed.
pub fn get_body(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = send_get(addr, path, Duration::from_secs(2))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.get(9..12)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// A new connection (given `connect` to open) that has sent `GET <path>` asking to be closed
/// after the answer, which it waits up to 30 s for.
fn send_get(addr: SocketAddr, path: &str, connect: Duration) -> Option<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&addr, connect).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    Some(stream)
}
