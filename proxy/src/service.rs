//! The request path: route, read the body, call the function, record metrics and the access
//! log in one place, answer.
//!
//! `GET /healthz` and `GET /metrics` are the proxy's own; every other method and path goes to
//! the function (upstream Python answered 405 to PUT and OPTIONS; fnhost passes them on).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

// tokio's clock (the std one, unless a test paused it), so that in-process tests on a paused
// clock see deadlines and durations on the same clock as the timers.
use tokio::time::Instant;

use bytes::Bytes;
use fnhost_loader_api::{CallStart, EventMeta, Function, Invocation, Response, decode_data};
use http::{Method, StatusCode, Version, header};
use http_body_util::Full;
use hyper::body::Body;

use crate::access_log::{AccessLog, Entry};
use crate::body::{self, BodyLimits};
use crate::deadline::{self, Overdue};
use crate::metrics::{self, Metrics};
use crate::respond::{self, RequestError};

/// The HTTP response type the server sends.
pub type HttpResponse = http::Response<Full<Bytes>>;

/// Everything a request needs, shared by all connections.
pub struct App {
    function: Box<dyn Function>,
    function_name: String,
    metrics: Metrics,
    access_log: Arc<AccessLog>,
    timeout: Duration,
    body_limits: BodyLimits,
    overdue: Arc<Overdue>,
    /// Set on the shutdown signal: `/healthz` fails and connections close after a response.
    draining: AtomicBool,
}

/// What [`App::new`] needs.
pub struct AppParts {
    /// The loaded function.
    pub function: Box<dyn Function>,
    /// `module.handler`, for logs.
    pub function_name: String,
    /// The metrics registry.
    pub metrics: Metrics,
    /// The access log.
    pub access_log: Arc<AccessLog>,
    /// Per-call timeout.
    pub timeout: Duration,
    /// What a request body must respect (size, time, rate).
    pub body_limits: BodyLimits,
    /// Abandoned calls tolerated before `/healthz` fails (the function's threads).
    pub tolerated_abandoned: usize,
}

enum Route {
    Healthz,
    Metrics,
    Function,
}

fn route(method: &Method, path: &str) -> Route {
    let own = *method == Method::GET || *method == Method::HEAD;
    match path {
        "/healthz" if own => Route::Healthz,
        "/metrics" if own => Route::Metrics,
        _ => Route::Function,
    }
}

impl App {
    /// Assembles the app.
    pub fn new(parts: AppParts) -> App {
        App {
            function: parts.function,
            function_name: parts.function_name,
            metrics: parts.metrics,
            access_log: parts.access_log,
            timeout: parts.timeout,
            body_limits: parts.body_limits,
            overdue: Overdue::new(parts.tolerated_abandoned),
            draining: AtomicBool::new(false),
        }
    }

    /// From now on `/healthz` answers 503 and every response closes its connection, so that
    /// clients go elsewhere while the server still answers them.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// While draining, the response closes its connection (hyper honours `Connection: close`).
    fn closing_if_draining(&self, mut response: Response) -> Response {
        if self.is_draining() {
            response
                .headers
                .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        response
    }

    /// The access log, for flushing at shutdown.
    pub fn access_log(&self) -> &AccessLog {
        &self.access_log
    }

    /// Function calls the engine holds now, queued or running (whether or not their client
    /// still waits).
    pub fn calls_in_flight(&self) -> usize {
        let stats = self.function.stats();
        stats.queued + stats.running
    }

    /// Serves one request. Never fails: every error is a response. Generic over the body so
    /// tests drive it in-process with an in-memory body; the server passes hyper's.
    pub async fn handle<B>(
        self: Arc<Self>,
        request: http::Request<B>,
        peer: SocketAddr,
    ) -> Result<HttpResponse, Infallible>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let line = RequestLine::of(&parts);
        let response = match route(&parts.method, parts.uri.path()) {
            _ if !host_is_valid(&parts) => respond::request_error(&RequestError::HostHeader {
                found: parts.headers.get_all(header::HOST).iter().count(),
            }),
            Route::Healthz => self.healthz(),
            Route::Metrics => self.metrics_page(),
            Route::Function => {
                let response = self.call_to_the_end(parts, body, peer, started, line).await;
                return Ok(into_http(response));
            }
        };
        self.log_access(
            &line,
            peer,
            response.status.as_u16(),
            &response,
            started.elapsed(),
        );
        Ok(into_http(self.closing_if_draining(response)))
    }

    /// A function call runs to its end whatever the client does, so that it is counted and in
    /// the access log: it runs inline in the request's future while the client waits (no task
    /// hop on the fast path), and when the client hangs up (hyper drops that future) the rest
    /// of the call moves to a task of its own; the access log then says 499.
    async fn call_to_the_end<B>(
        self: Arc<Self>,
        parts: http::request::Parts,
        body: B,
        peer: SocketAddr,
        started: Instant,
        line: RequestLine,
    ) -> Response
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let client = ClientWaiting::default();
        let start = client.start.clone();
        let app = self;
        let call = async move {
            let response = app.call(parts, body, peer, started, &start).await;
            let status = if start.client_gone() {
                CLIENT_CLOSED_REQUEST
            } else {
                response.status.as_u16()
            };
            app.log_access(&line, peer, status, &response, started.elapsed());
            // Decided when the answer is ready: draining may have begun during the call.
            app.closing_if_draining(response)
        };
        ToTheEnd {
            call: Some(Box::pin(call)),
            client,
        }
        .await
    }

    fn healthz(&self) -> Response {
        if self.is_draining() {
            respond::plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
        } else if !self.overdue.healthy() {
            tracing::error!(
                abandoned = self.overdue.abandoned(),
                "unhealthy: too many calls could not be stopped"
            );
            respond::plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "unhealthy: too many timed-out calls could not be stopped\n",
            )
        } else if !self.function.healthy() {
            tracing::error!("unhealthy: the engine cannot take calls any more");
            respond::plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "unhealthy: the engine cannot take calls any more\n",
            )
        } else {
            respond::plain(StatusCode::OK, "OK")
        }
    }

    fn metrics_page(&self) -> Response {
        let page = self
            .metrics
            .render(self.function.stats(), self.overdue.abandoned());
        Response::ok(page).with_header(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static(metrics::CONTENT_TYPE),
        )
    }

    async fn call<B>(
        &self,
        parts: http::request::Parts,
        body: B,
        peer: SocketAddr,
        started: Instant,
        start: &Arc<CallStart>,
    ) -> Response
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let method = metrics::method_index(&parts.method);
        let body = match body::read(body, &parts.headers, &self.body_limits, started).await {
            Ok(body) => body,
            Err(err) => return respond::request_error(&err),
        };
        // The event's data is decided here, once, for every runtime: a body declared JSON
        // that is not is the client's mistake, and the function is never called.
        // FUNC_TIMEOUT is the function's time: it starts once the body is in.
        let call_started = Instant::now();
        let data = match decode_data(&parts.headers, &body) {
            Ok(data) => data,
            Err(err) => {
                let kind = Some(fnhost_loader_api::ErrorKind::BadRequest);
                self.metrics.record_call(method, Duration::ZERO, kind);
                return respond::request_error(&RequestError::InvalidJson(err));
            }
        };
        let invocation = Invocation {
            event: EventMeta::from_headers(&parts.headers),
            data,
            start: start.clone(),
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            body,
            remote_addr: Some(peer),
            deadline: (call_started + self.timeout).into_std(),
        };
        let deadline = call_started + self.timeout;
        let call = self.function.invoke(invocation);
        let result = deadline::answer_by(call, deadline, self.timeout, &self.overdue).await;
        self.metrics.record_call(
            method,
            call_started.elapsed(),
            result.as_ref().err().map(|e| e.kind()),
        );
        result.unwrap_or_else(|err| respond::invoke_error(&self.function_name, &err))
    }

    fn log_access(
        &self,
        line: &RequestLine,
        peer: SocketAddr,
        status: u16,
        response: &Response,
        elapsed: Duration,
    ) {
        self.access_log.record(&Entry {
            peer: Some(peer),
            method: line.method.as_str(),
            target: line.uri.path_and_query().map_or("/", |pq| pq.as_str()),
            version: fnhost_loader_api::invocation::version_str(line.version),
            status,
            bytes: if line.method == Method::HEAD {
                0
            } else {
                response.body.len()
            },
            referer: header_text(line.referer.as_ref()),
            user_agent: header_text(line.user_agent.as_ref()),
            elapsed,
        });
    }
}

/// HTTP/1.1 requests name their host exactly once (RFC 9112 §3.2); HTTP/1.0 may omit it.
fn host_is_valid(parts: &http::request::Parts) -> bool {
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), None) => true,
        (None, None) => parts.version < Version::HTTP_11,
        _ => false,
    }
}

/// The access-log status of a call whose client hung up before the answer (nginx's).
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// A call in the request's future. Dropped before the call ended (the client went away), it
/// tells the call so (a call that has not started yet never will) and spawns the rest of it.
struct ToTheEnd<F: Future<Output = Response> + Send + 'static> {
    call: Option<Pin<Box<F>>>,
    client: ClientWaiting,
}

impl<F: Future<Output = Response> + Send + 'static> Future for ToTheEnd<F> {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Response> {
        let Some(call) = self.call.as_mut() else {
            return Poll::Pending; // never polled again after Ready
        };
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx)));
        let response = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(response)) => response,
            Err(_) => {
                tracing::error!("a call panicked");
                respond::plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n")
            }
        };
        self.call = None;
        self.client.answered = true;
        Poll::Ready(response)
    }
}

impl<F: Future<Output = Response> + Send + 'static> Drop for ToTheEnd<F> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            self.client.left();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(call);
            }
        }
    }
}

/// Whether the client still waits for a call's answer.
#[derive(Default)]
struct ClientWaiting {
    start: Arc<CallStart>,
    answered: bool,
}

impl ClientWaiting {
    /// The client went away: the call's access-log line says so, and a call that has not
    /// started yet never will.
    fn left(&mut self) {
        if !self.answered {
            self.answered = true;
            self.start.client_left();
        }
    }
}

/// What the access log needs of a request, kept while the request itself moves on (the
/// clones are reference-counted, not copies).
struct RequestLine {
    method: Method,
    uri: http::Uri,
    version: http::Version,
    referer: Option<http::HeaderValue>,
    user_agent: Option<http::HeaderValue>,
}

impl RequestLine {
    fn of(parts: &http::request::Parts) -> RequestLine {
        RequestLine {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            referer: parts.headers.get(header::REFERER).cloned(),
            user_agent: parts.headers.get(header::USER_AGENT).cloned(),
        }
    }
}

fn header_text(value: Option<&http::HeaderValue>) -> &str {
    value.and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn into_http(response: Response) -> HttpResponse {
    let mut out = http::Response::new(Full::new(response.body));
    *out.status_mut() = response.status;
    *out.headers_mut() = response.headers;
    out
}
