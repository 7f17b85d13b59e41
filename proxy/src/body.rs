//! Reading a request body, for hostile clients as much as for friendly ones.
//!
//! - **Memory is proportional to the body's bytes**, however the client cuts it up. Each
//!   piece hyper hands over is a slice of its read buffer, and a slice keeps the whole buffer
//!   alive: kept until the body is complete, a body trickled one byte per TCP segment pinned
//!   a read buffer per byte (about 4,000 times its size). Every piece after the first is
//!   therefore copied into one growing buffer and released at once.
//! - **The limit** (`FUNC_MEMFILE_MAX`): a declared `Content-Length` over it is refused
//!   before any of the body is read; a chunked body as soon as it passes it, and reading
//!   stops there.
//! - **Time**: the whole body must arrive within `FNHOST_BODY_READ_TIMEOUT` of the head, and
//!   after a grace of [`RATE_GRACE`] it must keep up an average of `FNHOST_MIN_BODY_RATE`
//!   bytes a second (the model of Kestrel's minimum request body data rate). A trickled body
//!   is cut with a 408 and its connection freed, so slow clients cannot hold the server's
//!   connections. The function's own `FUNC_TIMEOUT` starts once the body is in.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, header};
use hyper::body::Body;
use tokio::time::{Instant, Sleep};

use crate::respond::RequestError;

/// How long a body may take before its average rate is checked.
pub const RATE_GRACE: Duration = Duration::from_secs(5);

/// The first allocation for a body that arrives in more than one piece (a declared
/// `Content-Length` smaller than this is allocated exactly).
const FIRST_CAPACITY: usize = 64 * 1024;

/// What a request body must respect.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Largest body in bytes (`FUNC_MEMFILE_MAX`).
    pub max_bytes: u64,
    /// The whole body must have arrived this long after the head.
    pub timeout: Duration,
    /// Past [`RATE_GRACE`], the fewest bytes a second on average; 0 checks no rate.
    pub min_rate: u64,
}

/// Reads the whole body of a request whose head arrived at `head_at`.
pub async fn read<B>(
    body: B,
    headers: &HeaderMap,
    limits: &BodyLimits,
    head_at: Instant,
) -> Result<Bytes, RequestError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = declared_length(headers);
    if declared.is_some_and(|len| len > limits.max_bytes) {
        return Err(RequestError::BodyTooLarge {
            limit: limits.max_bytes,
        });
    }
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    let mut body = pin!(body);
    let mut pieces = Pieces::new(declared, limits.max_bytes);
    let mut timer = PieceTimer::default();
    loop {
        let due = pieces.due(limits, head_at);
        let frame = std::future::poll_fn(|cx| match body.as_mut().poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(Some(frame)),
            Poll::Pending => timer.poll_until(due, cx).map(|()| None),
        })
        .await;
        let Some(frame) = frame else {
            return Err(too_slow(&pieces, limits, head_at));
        };
        match frame {
            None => break,
            Some(Err(e)) => return Err(RequestError::BodyRead(e.into().to_string())),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    pieces.push(data)?;
                }
                if body.is_end_stream() {
                    break;
                }
            }
        }
    }
    Ok(pieces.finish())
}

/// The timer of the piece a body waits for, made only once a piece is late to arrive (a body
/// already in hyper's buffer, the usual case, never starts a timer).
#[derive(Default)]
struct PieceTimer(Option<Pin<Box<Sleep>>>);

impl PieceTimer {
    fn poll_until(&mut self, due: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let sleep = self
            .0
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        if sleep.deadline() != due {
            sleep.as_mut().reset(due);
        }
        sleep.as_mut().poll(cx)
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

fn too_slow(pieces: &Pieces, limits: &BodyLimits, head_at: Instant) -> RequestError {
    let elapsed = Instant::now().saturating_duration_since(head_at);
    let received = pieces.received;
    tracing::info!(
        received,
        elapsed_ms = elapsed.as_millis(),
        "a request body arrived too slowly; answering 408 and closing the connection"
    );
    if elapsed >= limits.timeout {
        RequestError::BodyTimeout {
            received,
            timeout: limits.timeout,
        }
    } else {
        RequestError::BodyTooSlow {
            received,
            elapsed,
            min_rate: limits.min_rate,
        }
    }
}

/// The body's bytes so far: the first piece as hyper gave it (most bodies are one piece, and
/// it is not copied), the rest copied into one buffer.
struct Pieces {
    first: Option<Bytes>,
    joined: BytesMut,
    received: u64,
    declared: Option<u64>,
    limit: u64,
}

impl Pieces {
    fn new(declared: Option<u64>, limit: u64) -> Pieces {
        Pieces {
            first: None,
            joined: BytesMut::new(),
            received: 0,
            declared,
            limit,
        }
    }

    /// When the next piece must have arrived: by the body's timeout, and, past the grace,
    /// before the bytes received so far fall under the minimum average rate.
    fn due(&self, limits: &BodyLimits, head_at: Instant) -> Instant {
        let hard = head_at + limits.timeout;
        if limits.min_rate == 0 {
            return hard;
        }
        let earned = Duration::from_secs_f64(self.received as f64 / limits.min_rate as f64);
        hard.min(head_at + earned.max(RATE_GRACE))
    }

    fn push(&mut self, data: Bytes) -> Result<(), RequestError> {
        self.received += data.len() as u64;
        if self.received > self.limit {
            return Err(RequestError::BodyTooLarge { limit: self.limit });
        }
        if data.is_empty() {
            return Ok(());
        }
        if self.first.is_none() && self.joined.is_empty() {
            self.first = Some(data);
            return Ok(());
        }
        if let Some(first) = self.first.take() {
            let capacity = self
                .declared
                .map_or(FIRST_CAPACITY, |d| {
                    usize::try_from(d).unwrap_or(usize::MAX).min(FIRST_CAPACITY)
                })
                .max(first.len() + data.len());
            self.joined.reserve(capacity);
            self.joined.extend_from_slice(&first);
        }
        // `first` and `data` are released here: nothing of hyper's buffers is kept.
        self.joined.extend_from_slice(&data);
        Ok(())
    }

    fn finish(self) -> Bytes {
        match self.first {
            Some(only) => only,
            None => self.joined.freeze(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, reason = "tests")]
    use super::*;

    fn limits() -> BodyLimits {
        BodyLimits {
            max_bytes: 100,
            timeout: Duration::from_secs(30),
            min_rate: 10,
        }
    }

    #[test]
    fn pieces_join_in_order_and_a_single_piece_is_not_copied() {
        let mut one = Pieces::new(None, 100);
        let piece = Bytes::from_static(b"whole");
        one.push(piece.clone()).expect("push");
        assert_eq!(one.finish().as_ptr(), piece.as_ptr());

        let mut many = Pieces::new(Some(6), 100);
        for piece in [&b"ab"[..], b"", b"cd", b"ef"] {
            many.push(Bytes::copy_from_slice(piece)).expect("push");
        }
        assert_eq!(&many.finish()[..], b"abcdef");
    }

    #[test]
    fn a_body_past_the_limit_stops_at_the_piece_that_crosses_it() {
        let mut pieces = Pieces::new(None, 4);
        pieces.push(Bytes::from_static(b"abc")).expect("push");
        assert!(matches!(
            pieces.push(Bytes::from_static(b"de")),
            Err(RequestError::BodyTooLarge { limit: 4 })
        ));
    }

    #[test]
    fn the_deadline_moves_with_the_bytes_received_after_the_grace() {
        let start = Instant::now();
        let mut pieces = Pieces::new(None, 1000);
        assert_eq!(pieces.due(&limits(), start), start + RATE_GRACE);
        pieces.push(Bytes::from(vec![b'x'; 80])).expect("push");
        // 80 bytes at 10 bytes a second: the average holds until 8 s after the head.
        assert_eq!(pieces.due(&limits(), start), start + Duration::from_secs(8));
        pieces.push(Bytes::from(vec![b'x'; 900])).expect("push");
        assert_eq!(
            pieces.due(&limits(), start),
            start + Duration::from_secs(30)
        );
        let no_rate = BodyLimits {
            min_rate: 0,
            ..limits()
        };
        assert_eq!(
            Pieces::new(None, 1000).due(&no_rate, start),
            start + Duration::from_secs(30)
        );
    }
}
