//! The request as a loader sees it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, Uri};

/// One call of the function: the HTTP request, already read in full and checked against the
/// body limit, plus the Kubeless event metadata and the call's deadline.
#[derive(Debug)]
pub struct Invocation {
    /// HTTP method, as sent by the client.
    pub method: Method,
    /// Path and query as sent by the client.
    pub uri: Uri,
    /// HTTP version string for logs and the Bottle `environ` (`HTTP/1.1`).
    pub version: http::Version,
    /// Request headers; a multimap, in arrival order.
    pub headers: HeaderMap,
    /// The whole request body.
    pub body: Bytes,
    /// `event-id`, `event-type`, `event-time`, `event-namespace` (or their CloudEvents twins).
    pub event: EventMeta,
    /// What the body is as the event's `data` (decided once by the proxy, JSON checked).
    pub data: crate::DataKind,
    /// The peer address, when known.
    pub remote_addr: Option<SocketAddr>,
    /// When the call must be answered; past it the loader answers [`crate::InvokeError::Timeout`].
    pub deadline: Instant,
    /// Whether the call may still start: the proxy marks a call whose client left, and the
    /// loader asks [`CallStart::begin`] just before it runs the function.
    pub start: Arc<CallStart>,
}

/// Whether a call may still start, shared by the proxy (which knows when the client leaves)
/// and the loader (which starts the call). A call whose client left before it started is never
/// started; one already running is not affected (the proxy only learns that its client left).
#[derive(Debug, Default)]
pub struct CallStart(AtomicU8);

const WAITING: u8 = 0;
const STARTED: u8 = 1;
const CLIENT_LEFT: u8 = 2;
const STARTED_CLIENT_LEFT: u8 = 3;

impl CallStart {
    /// The loader, about to run the function: `true` to go on; `false` when the client left,
    /// and then the loader answers [`crate::InvokeError::ClientGone`] without running it.
    pub fn begin(&self) -> bool {
        self.0
            .compare_exchange(WAITING, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The proxy, when the client went away: `true` when the call had not started (and now
    /// never will).
    pub fn client_left(&self) -> bool {
        // A call running already goes on; only the fact that its client left is kept.
        let left = |state| match state {
            WAITING => Some(CLIENT_LEFT),
            STARTED => Some(STARTED_CLIENT_LEFT),
            _ => None,
        };
        let before = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, left)
            .unwrap_or_else(|state| state);
        before == WAITING
    }

    /// `true` once the client went away, before or during the call.
    pub fn client_gone(&self) -> bool {
        self.0.load(Ordering::Acquire) >= CLIENT_LEFT
    }
}

/// Kubeless event metadata, taken from the `event-*` headers that Kubeless triggers send, or
/// from the CloudEvents binary-mode `ce-*` headers when those are absent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// `event-id` (or `ce-id`).
    pub id: Option<String>,
    /// `event-type` (or `ce-type`).
    pub event_type: Option<String>,
    /// `event-time` (or `ce-time`).
    pub time: Option<String>,
    /// `event-namespace` (or `ce-source`).
    pub namespace: Option<String>,
}

static EVENT_ID: HeaderName = HeaderName::from_static("event-id");
static EVENT_TYPE: HeaderName = HeaderName::from_static("event-type");
static EVENT_TIME: HeaderName = HeaderName::from_static("event-time");
static EVENT_NAMESPACE: HeaderName = HeaderName::from_static("event-namespace");
static CE_ID: HeaderName = HeaderName::from_static("ce-id");
static CE_TYPE: HeaderName = HeaderName::from_static("ce-type");
static CE_TIME: HeaderName = HeaderName::from_static("ce-time");
static CE_SOURCE: HeaderName = HeaderName::from_static("ce-source");

impl EventMeta {
    /// Reads the metadata from request headers: the Kubeless header wins, the CloudEvents
    /// header fills in. Values that are not valid UTF-8 are treated as absent.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let pick = |kubeless: &HeaderName, cloudevents: &HeaderName| {
            header_str(headers, kubeless).or_else(|| header_str(headers, cloudevents))
        };
        EventMeta {
            id: pick(&EVENT_ID, &CE_ID),
            event_type: pick(&EVENT_TYPE, &CE_TYPE),
            time: pick(&EVENT_TIME, &CE_TIME),
            namespace: pick(&EVENT_NAMESPACE, &CE_SOURCE),
        }
    }
}

fn header_str(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl Invocation {
    /// An HTTP/1.1 call with the event metadata and data kind read from `headers` and `body`
    /// (a body declared JSON that is not counts as raw), no peer address, and the deadline
    /// `timeout` from now (for loaders' own tests and tools).
    pub fn new(
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
        timeout: std::time::Duration,
    ) -> Self {
        let data = crate::decode_data(&headers, &body).unwrap_or(crate::DataKind::Raw);
        Invocation {
            method,
            uri,
            version: http::Version::HTTP_11,
            event: EventMeta::from_headers(&headers),
            data,
            headers,
            body,
            remote_addr: None,
            deadline: Instant::now() + timeout,
            start: Arc::default(),
        }
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The raw query string, empty when there is none.
    pub fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
    }

    /// `true` when the body is JSON: media type `application/json`, any parameters
    /// (such as `charset`) allowed, case-insensitive.
    pub fn is_json(&self) -> bool {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_media_type)
    }

    /// The HTTP version as it appears in a request line, e.g. `HTTP/1.1`.
    pub fn version_str(&self) -> &'static str {
        version_str(self.version)
    }
}

/// The HTTP version as it appears in a request line.
pub fn version_str(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// `true` for `application/json` with or without parameters, in any letter case.
pub fn is_json_media_type(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn json_media_type_accepts_parameters_and_case() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("Application/JSON;charset=UTF-8"));
        assert!(!is_json_media_type("application/jsonp"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type(""));
    }

    #[test]
    fn a_call_starts_or_its_client_left_never_both() {
        let start = CallStart::default();
        assert!(start.begin());
        assert!(!start.client_left(), "already running");
        assert!(start.client_gone(), "its client left while it ran");
        let gone = CallStart::default();
        assert!(!gone.client_gone());
        assert!(gone.client_left());
        assert!(!gone.begin(), "never started");
        assert!(gone.client_gone());
    }

    #[test]
    fn kubeless_headers_win_over_cloudevents() {
        let mut headers = HeaderMap::new();
        headers.insert("event-id", HeaderValue::from_static("k-1"));
        headers.insert("ce-id", HeaderValue::from_static("ce-1"));
        headers.insert("ce-type", HeaderValue::from_static("com.example"));
        headers.insert("ce-source", HeaderValue::from_static("/src"));
        let meta = EventMeta::from_headers(&headers);
        assert_eq!(meta.id.as_deref(), Some("k-1"));
        assert_eq!(meta.event_type.as_deref(), Some("com.example"));
        assert_eq!(meta.namespace.as_deref(), Some("/src"));
        assert_eq!(meta.time, None);
    }
}
