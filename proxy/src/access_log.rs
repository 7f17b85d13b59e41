//! One access-log line per request on stdout, in the Apache format upstream's Python runtime
//! wrote (`wsgi-request-logger`), which Kubeless tests grep for:
//!
//! ```text
//! 10.244.0.206 - - [06/Jan/2020:18:09:04 +0000] "POST / HTTP/1.1" 408 754 "" "curl/7.58.0" 180/120776
//! ```
//! (the last field is the time taken: whole seconds / total microseconds).
//!
//! Lines are formatted on the request's thread, appended to a shared buffer, and written by a
//! background thread every [`FLUSH_INTERVAL`] (sooner when [`HIGH_WATER`] bytes are pending):
//! a busy server makes one `write` per batch instead of one per request, and a request never
//! wakes another thread. `benches/RESULTS.md` shows what this costs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};

/// What one line records.
pub struct Entry<'a> {
    /// Client address.
    pub peer: Option<SocketAddr>,
    /// Method, path-and-query and version, as in the request line.
    pub method: &'a str,
    /// Path and query.
    pub target: &'a str,
    /// `HTTP/1.1`.
    pub version: &'a str,
    /// Response status.
    pub status: u16,
    /// Response body size.
    pub bytes: usize,
    /// `Referer` header.
    pub referer: &'a str,
    /// `User-Agent` header.
    pub user_agent: &'a str,
    /// Time taken.
    pub elapsed: Duration,
}

thread_local! {
    /// Each request thread's line buffer.
    static LINE: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(256));
}

/// How long a line may wait in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(20);

/// Pending bytes that make the writer flush before the interval is over.
pub const HIGH_WATER: usize = 256 * 1024;

#[derive(Default)]
struct Buffer {
    pending: String,
    closed: bool,
}

/// The access log writer.
pub struct AccessLog {
    buffer: Mutex<Buffer>,
    ready: Condvar,
    enabled: bool,
}

impl AccessLog {
    /// Starts the writer thread (when enabled).
    pub fn start(enabled: bool) -> std::io::Result<Arc<AccessLog>> {
        let log = Arc::new(AccessLog {
            buffer: Mutex::new(Buffer::default()),
            ready: Condvar::new(),
            enabled,
        });
        if enabled {
            let writer = log.clone();
            std::thread::Builder::new()
                .name("fnhost-access-log".to_owned())
                .spawn(move || writer.write_loop())?;
        }
        Ok(log)
    }

    /// Appends one line.
    pub fn record(&self, entry: &Entry<'_>) {
        if !self.enabled {
            return;
        }
        // Formatted outside the lock, into this thread's reused buffer: no allocation per line.
        let full = LINE.with_borrow_mut(|line| {
            line.clear();
            format_line(line, entry, SystemTime::now());
            let mut buffer = self.buffer.lock();
            buffer.pending.push_str(line);
            buffer.pending.len() >= HIGH_WATER
        });
        if full {
            self.ready.notify_one();
        }
    }

    /// Writes what is pending and stops the writer.
    pub fn close(&self) {
        let mut buffer = self.buffer.lock();
        buffer.closed = true;
        let pending = std::mem::take(&mut buffer.pending);
        drop(buffer);
        write_out(&pending);
        self.ready.notify_one();
    }

    fn write_loop(&self) {
        loop {
            let mut buffer = self.buffer.lock();
            if buffer.pending.len() < HIGH_WATER && !buffer.closed {
                self.ready.wait_for(&mut buffer, FLUSH_INTERVAL);
            }
            if buffer.closed {
                return;
            }
            let batch = std::mem::take(&mut buffer.pending);
            drop(buffer);
            write_out(&batch);
        }
    }
}

fn write_out(text: &str) {
    if text.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    // A closed stdout must not take the server down; lines are lost then.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Appends one formatted line (with its newline) to `out`. Written by hand rather than with
/// `format!`: this runs once per request, and the formatting machinery was a sixth of the
/// instructions of a native hello-world request (`benches/instructions.py`). The address and
/// the time are formatted once and reused while they stay the same (per thread).
pub fn format_line(out: &mut String, e: &Entry<'_>, now: SystemTime) {
    RECENT.with_borrow_mut(|recent| {
        recent.peer(e.peer.map(|p| p.ip()), out);
        out.push_str(" - - [");
        recent.time(now, out);
    });
    out.push_str("] \"");
    out.push_str(e.method);
    out.push(' ');
    out.push_str(e.target);
    out.push(' ');
    out.push_str(e.version);
    out.push_str("\" ");
    let mut number = itoa::Buffer::new();
    out.push_str(number.format(e.status));
    out.push(' ');
    out.push_str(number.format(e.bytes));
    out.push_str(" \"");
    out.push_str(e.referer);
    out.push_str("\" \"");
    out.push_str(e.user_agent);
    out.push_str("\" ");
    out.push_str(number.format(e.elapsed.as_secs()));
    out.push('/');
    out.push_str(number.format(e.elapsed.as_micros()));
    out.push('\n');
}

thread_local! {
    /// The last address and second this thread formatted.
    static RECENT: std::cell::RefCell<Recent> = std::cell::RefCell::new(Recent::default());
}

/// The text of the last client address and of the last second a thread wrote.
#[derive(Default)]
struct Recent {
    peer: Option<(Option<std::net::IpAddr>, String)>,
    second: Option<(u64, String)>,
}

impl Recent {
    fn peer(&mut self, ip: Option<std::net::IpAddr>, out: &mut String) {
        let text = match &self.peer {
            Some((known, text)) if *known == ip => text,
            _ => {
                let text = ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
                &self.peer.insert((ip, text)).1
            }
        };
        out.push_str(text);
    }

    fn time(&mut self, now: SystemTime, out: &mut String) {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let text = match &self.second {
            Some((known, text)) if *known == secs => text,
            _ => {
                let mut text = String::with_capacity(26);
                format_time(&mut text, secs);
                &self.second.insert((secs, text)).1
            }
        };
        out.push_str(text);
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `06/Jan/2020:18:09:04 +0000` (always UTC) for `secs` since the epoch.
fn format_time(out: &mut String, secs: u64) {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0) % 12];
    let _ = write!(
        out,
        "{day:02}/{month_name}/{year}:{:02}:{:02}:{:02} +0000",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days` algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_matches_the_upstream_format() {
        let mut out = String::new();
        let entry = Entry {
            peer: Some("10.244.0.206:5000".parse().expect("addr")),
            method: "GET",
            target: "/",
            version: "HTTP/1.1",
            status: 200,
            bytes: 11,
            referer: "",
            user_agent: "curl/7.58.0",
            elapsed: Duration::from_micros(1_500_250),
        };
        // 2020-01-06T18:09:04Z
        format_line(
            &mut out,
            &entry,
            UNIX_EPOCH + Duration::from_secs(1_578_334_144),
        );
        assert_eq!(
            out,
            "10.244.0.206 - - [06/Jan/2020:18:09:04 +0000] \"GET / HTTP/1.1\" 200 11 \"\" \"curl/7.58.0\" 1/1500250\n"
        );
    }

    #[test]
    fn a_line_without_a_peer_and_lines_in_the_next_second_are_formatted_afresh() {
        let entry = |peer: Option<SocketAddr>| Entry {
            peer,
            method: "POST",
            target: "/a?b=1",
            version: "HTTP/1.0",
            status: 408,
            bytes: 0,
            referer: "r",
            user_agent: "",
            elapsed: Duration::from_micros(42),
        };
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        let mut out = String::new();
        format_line(&mut out, &entry(None), at(1_578_334_144));
        format_line(
            &mut out,
            &entry(Some("[::1]:80".parse().expect("addr"))),
            at(1_578_334_145),
        );
        format_line(
            &mut out,
            &entry(Some("[::1]:81".parse().expect("addr"))),
            at(1_578_334_145),
        );
        assert_eq!(
            out,
            "- - - [06/Jan/2020:18:09:04 +0000] \"POST /a?b=1 HTTP/1.0\" 408 0 \"r\" \"\" 0/42\n\
             ::1 - - [06/Jan/2020:18:09:05 +0000] \"POST /a?b=1 HTTP/1.0\" 408 0 \"r\" \"\" 0/42\n\
             ::1 - - [06/Jan/2020:18:09:05 +0000] \"POST /a?b=1 HTTP/1.0\" 408 0 \"r\" \"\" 0/42\n"
        );
    }

    #[test]
    fn calendar_conversion_handles_leap_years() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_819), (2027, 1, 1));
    }
}
