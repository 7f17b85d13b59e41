//! A deliberately small HTTP/1.1 client: the harness must see exactly what went over the
//! wire (status, every header value in order, the raw body), and must be able to send bytes
//! no real client would send.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::case::Request;

/// A response as received.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// Every value of a header.
    pub fn values(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads and writes give up after this long.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `request` on a new connection (`Connection: close`) and reads the response.
/// `{addr}` in a header value becomes the server's address (e.g. a `Host` the function can
/// call back).
pub fn send(addr: SocketAddr, request: &Request) -> Result<Response, String> {
    let mut request = request.clone();
    for (_, value) in &mut request.headers {
        *value = value.replace("{addr}", &addr.to_string());
    }
    let mut stream = connect(addr)?;
    stream
        .write_all(&encode(&request))
        .map_err(|e| format!("write: {e}"))?;
    let raw = read_to_end(&mut stream)?;
    parse(&raw, request.method.eq_ignore_ascii_case("HEAD"))
}

/// Opens a connection with read/write timeouts.
pub fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// The request's bytes.
pub fn encode(r: &Request) -> Vec<u8> {
    let body: Vec<u8> = match (&r.body, r.body_size) {
        (Some(b), _) => b.clone().into_bytes(),
        (None, Some(n)) => vec![b'x'; n],
        (None, None) => Vec::new(),
    };
    let mut out = format!("{} {} HTTP/1.1\r\n", r.method, r.path);
    if !r
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("host"))
    {
        out.push_str("Host: conformance.test\r\n");
    }
    out.push_str("Connection: close\r\n");
    for (k, v) in &r.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = r.pad_header {
        out.push_str(&format!("x-pad: {}\r\n", "p".repeat(n)));
    }
    for i in 1..=r.extra_headers.unwrap_or(0) {
        out.push_str(&format!("x-extra-{i}: {i}\r\n"));
    }
    let mut bytes;
    if r.chunked {
        out.push_str("Transfer-Encoding: chunked\r\n\r\n");
        bytes = out.into_bytes();
        for chunk in body.chunks(4096) {
            bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            bytes.extend_from_slice(chunk);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n\r\n");
    } else {
        if !body.is_empty() || matches!(r.method.as_str(), "POST" | "PUT" | "PATCH") {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        out.push_str("\r\n");
        bytes = out.into_bytes();
        bytes.extend_from_slice(&body);
    }
    bytes
}

/// Reads until the server closes the connection.
pub fn read_to_end(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => Ok(raw),
        // A reset after the full response (the server closed with unread input) still counts.
        Err(e) if !raw.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => Ok(raw),
        Err(e) => Err(format!("read: {e} (after {} bytes)", raw.len())),
    }
}

/// Parses one response; the body is framed by Content-Length, chunked encoding, or EOF.
pub fn parse(raw: &[u8], head_request: bool) -> Result<Response, String> {
    let split = find(raw, b"\r\n\r\n").ok_or_else(|| {
        format!(
            "no complete response head in {:?}",
            String::from_utf8_lossy(raw)
        )
    })?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if head_request {
        return Ok(response);
    }
    response.body = if response
        .values("transfer-encoding")
        .iter()
        .any(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else if let Some(len) = response
        .values("content-length")
        .first()
        .and_then(|v| v.parse::<usize>().ok())
    {
        rest.get(..len)
            .ok_or_else(|| format!("body shorter than Content-Length {len}"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(response)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").ok_or("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("truncated chunk")?);
        data = data.get(size + 2..).ok_or("truncated chunk end")?;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Turns `\r`, `\n`, `\t` and `\\` escapes of a case file into bytes.
pub fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some(other) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
            None => out.push(b'\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multimap_headers_and_chunked_bodies() {
        let raw = b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = parse(raw, false).expect("parses");
        assert_eq!(r.status, 201);
        assert_eq!(r.values("Set-Cookie"), ["a=1", "b=2"]);
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn unescapes_case_strings() {
        assert_eq!(
            unescape(r"GET / HTTP/1.1\r\n\r\n"),
            b"GET / HTTP/1.1\r\n\r\n"
        );
    }
}
