//! Running `wrk` and reading its summary.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Load settings.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Open keep-alive connections.
    pub connections: u32,
    /// wrk threads.
    pub threads: u32,
    /// Length of the run.
    pub duration: Duration,
}

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WrkResult {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, seconds.
    pub p50: f64,
    /// 99th percentile latency, seconds.
    pub p99: f64,
    /// Non-2xx/3xx responses plus socket errors.
    pub errors: u64,
}

/// Runs `wrk --latency` against `http://addr/`.
pub fn run(addr: SocketAddr, load: Load) -> Result<WrkResult, String> {
    run_script(addr, load, None)
}

/// Runs `wrk --latency` against `http://addr/`, with a Lua `script` (`-s`) when given (a
/// request method, body and headers).
pub fn run_script(
    addr: SocketAddr,
    load: Load,
    script: Option<&Path>,
) -> Result<WrkResult, String> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--latency");
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command
        .arg(format!("http://{addr}/"))
        .output()
        .map_err(|e| format!("cannot run wrk (scripts/setup.sh installs it): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed: {}\n{text}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&text).ok_or_else(|| format!("cannot read wrk's output:\n{text}"))
}

/// Reads wrk's text summary.
pub fn parse(text: &str) -> Option<WrkResult> {
    let mut result = WrkResult::default();
    let mut in_distribution = false;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", "Distribution", ..] => in_distribution = true,
            ["50%", value] if in_distribution => result.p50 = seconds(value)?,
            ["99%", value] if in_distribution => result.p99 = seconds(value)?,
            [n, "requests", "in", ..] => result.requests = n.parse().ok()?,
            ["Requests/sec:", value] => result.rps = value.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => result.errors += n.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => result.errors += socket_errors(rest),
            _ => {}
        }
    }
    (result.requests > 0).then_some(result)
}

fn socket_errors(words: &[&str]) -> u64 {
    // "connect 0, read 0, write 0, timeout 0"
    words
        .iter()
        .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
        .sum()
}

fn seconds(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        _ => return None,
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 10s test @ http://127.0.0.1:8080/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   312.45us  100.20us   5.01ms   90.00%
    Req/Sec    50.12k     2.00k   55.00k    70.00%
  Latency Distribution
     50%  300.00us
     75%  350.00us
     90%  400.00us
     99%    1.20ms
  1002400 requests in 10.00s, 120.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec: 100240.00
Transfer/sec:     12.00MB
";

    #[test]
    fn reads_the_summary() {
        let r = parse(SAMPLE).expect("parses");
        assert_eq!(r.requests, 1_002_400);
        assert!((r.rps - 100_240.0).abs() < 1e-6);
        assert!((r.p50 - 300e-6).abs() < 1e-12);
        assert!((r.p99 - 1.2e-3).abs() < 1e-12);
        assert_eq!(r.errors, 7);
    }

    #[test]
    fn rejects_output_without_requests() {
        assert_eq!(parse("wrk: connection refused"), None);
    }
}
