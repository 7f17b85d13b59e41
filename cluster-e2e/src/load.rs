//! Load through a Service while the cluster changes under it: `wrk` (Debian's package, the
//! load generator of `benches/`) runs from the host against a ClusterIP until it is stopped,
//! and its summary says how many requests were made and how many failed, by kind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::Error;

/// A running `wrk`.
#[derive(Debug)]
pub struct Load {
    child: Child,
    stdout: BufReader<ChildStdout>,
    url: String,
}

/// What `wrk` counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Requests answered (any status).
    pub requests: u64,
    /// Connections that could not be opened (refused, reset while connecting).
    pub connect_errors: u64,
    /// Connections that broke while reading a response.
    pub read_errors: u64,
    /// Connections that broke while writing a request.
    pub write_errors: u64,
    /// Requests without an answer within `wrk --timeout`.
    pub timeouts: u64,
    /// Answers with status 400 or more.
    pub error_statuses: u64,
}

impl LoadReport {
    /// Every request that did not get a successful answer.
    pub fn failed(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.timeouts
            + self.error_statuses
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests, {} failed (connect {}, read {}, write {}, timeout {}, status >= 400: {})",
            self.requests,
            self.failed(),
            self.connect_errors,
            self.read_errors,
            self.write_errors,
            self.timeouts,
            self.error_statuses
        )
    }
}

impl Load {
    /// Starts `wrk` on `url` with `connections` keep-alive connections, for up to 15
    /// minutes, and returns once it runs: `wrk` first opens one connection to check the
    /// address, then prints `Running ...`; if that connection fails it exits, and this is an
    /// error (no request of the load was made). [`Load::stop`] ends it.
    pub fn start(url: &str, connections: u32) -> Result<Self, Error> {
        // Line-buffered (coreutils' stdbuf), so its `Running` line arrives when printed.
        let mut child = Command::new("stdbuf")
            .args([
                "-oL",
                "wrk",
                "-t1",
                &format!("-c{connections}"),
                "-d900s",
                "--timeout",
                "10s",
                url,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start wrk (scripts/setup.sh installs it): {e}"))?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("wrk's output")?);
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        if !first.starts_with("Running ") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            let _ = child.wait();
            return Err(format!("wrk did not start on {url}: {first}{stderr}"));
        }
        Ok(Self {
            child,
            stdout,
            url: url.to_owned(),
        })
    }

    /// Stops `wrk` (SIGINT: it prints its summary) and reads what it counted.
    pub fn stop(self) -> Result<LoadReport, Error> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .map_err(|e| format!("kill -INT {pid}: {e}"))?;
        if !status.success() {
            return Err(format!("wrk on {} had already ended", self.url));
        }
        let mut text = String::new();
        let mut stdout = self.stdout;
        let _ = stdout.read_to_string(&mut text);
        let output = self
            .child
            .wait_with_output()
            .map_err(|e| format!("waiting for wrk: {e}"))?;
        parse_wrk(&text).ok_or_else(|| {
            format!(
                "wrk printed no summary:\n{text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    }
}

/// Reads `wrk`'s summary: `N requests in ...`, and the `Socket errors:` and `Non-2xx or 3xx
/// responses:` lines it prints only when they are not zero.
pub fn parse_wrk(text: &str) -> Option<LoadReport> {
    let mut report = LoadReport::default();
    let mut seen_total = false;
    for line in text.lines().map(str::trim) {
        if let Some((count, _)) = line.split_once(" requests in ") {
            report.requests = count.trim().parse().ok()?;
            seen_total = true;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            for part in rest.split(',') {
                let (kind, count) = part.trim().split_once(' ')?;
                let count: u64 = count.trim().parse().ok()?;
                match kind {
                    "connect" => report.connect_errors = count,
                    "read" => report.read_errors = count,
                    "write" => report.write_errors = count,
                    "timeout" => report.timeouts = count,
                    _ => return None,
                }
            }
        } else if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            report.error_statuses = count.trim().parse().ok()?;
        }
    }
    seen_total.then_some(report)
}

/// `GET path` on a new connection to `address`; the status and the body. For checks from the
/// host through a Service (kube-proxy routes ClusterIPs for the host too).
pub fn http_get(address: SocketAddr, path: &str) -> Result<(u16, String), Error> {
    http_get_host(address, &address.to_string(), path)
}

/// `GET path` with `Host: host` on a new connection to `address` (an Ingress controller routes
/// by it); the status and the body.
pub fn http_get_host(address: SocketAddr, host: &str, path: &str) -> Result<(u16, String), Error> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| format!("connecting to {address}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("writing to {address}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("reading from {address}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP answer from {address}: {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line from {address}: {head:?}"))?;
    Ok((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_summary_has_no_failures() {
        let text = "Running 1m test @ http://10.96.0.5:8080/\n  1 threads and 8 connections\n  \
                    7618 requests in 10.01s, 1.01MB read\nRequests/sec:    761.08\n";
        let report = parse_wrk(text).expect("parsed");
        assert_eq!(report.requests, 7618);
        assert_eq!(report.failed(), 0);
    }

    #[test]
    fn socket_errors_and_error_statuses_are_counted() {
        let text = "  120 requests in 2.00s, 10KB read\n  Socket errors: connect 3, read 2, write 1, timeout 4\n  Non-2xx or 3xx responses: 5\n";
        let report = parse_wrk(text).expect("parsed");
        assert_eq!(
            (
                report.connect_errors,
                report.read_errors,
                report.write_errors,
                report.timeouts,
                report.error_statuses
            ),
            (3, 2, 1, 4, 5)
        );
        assert_eq!(report.failed(), 15);
    }

    #[test]
    fn no_total_is_no_summary() {
        assert_eq!(parse_wrk("unable to connect to 10.96.0.5:8080"), None);
    }
}
