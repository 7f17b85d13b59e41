//! The request path in-process: the proxy's `App` with fake functions, on tokio's paused
//! clock, without sockets or a real engine. The black-box suite (`conformance/`) covers the
//! same contract against the real binary and every runtime; these tests pin the proxy's own
//! decisions (what reaches the function, what is answered without it, what is counted).
#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use fnhost_loader_api::{
    Call, EngineStats, Function, Invocation, InvokeError, Response, Stop, Stopped,
};
use fnhost_proxy::access_log::AccessLog;
use fnhost_proxy::body::BodyLimits;
use fnhost_proxy::metrics::Metrics;
use fnhost_proxy::service::{App, AppParts};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};

/// What the fake does with a call.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers at once: the body back, the data kind in `x-data`, and a framing header it
    /// must not be able to set.
    Echo,
    /// Never answers on its own. Stopped, it reports `stopped`; abandoned, its code returns
    /// `returns_after` later.
    Stuck {
        stopped: Stopped,
        returns_after: Duration,
    },
    /// Answers after this long.
    After(Duration),
    /// Waits this long for an engine slot, then starts (if it still may) and answers.
    QueuedFor(Duration),
}

/// What the fake saw.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    stops: AtomicUsize,
}

struct Fake {
    behaviour: Behaviour,
    seen: Arc<Seen>,
    healthy: bool,
}

impl Function for Fake {
    fn invoke(&self, invocation: Invocation) -> Call {
        self.seen.calls.fetch_add(1, Ordering::SeqCst);
        match self.behaviour {
            Behaviour::Echo => {
                let answer = Response::from_parts(
                    201,
                    [
                        ("x-data".to_owned(), invocation.data.as_str().to_owned()),
                        ("content-length".to_owned(), "999".to_owned()),
                    ],
                    invocation.body,
                );
                Call::new(
                    Box::pin(std::future::ready(answer)),
                    Stop::by_dropping_the_answer(),
                )
            }
            Behaviour::Stuck {
                stopped,
                returns_after,
            } => self.stuck(stopped, returns_after),
            Behaviour::After(delay) => Call::new(
                Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    Ok(Response::ok("late"))
                }),
                Stop::by_dropping_the_answer(),
            ),
            Behaviour::QueuedFor(wait) => Call::new(
                Box::pin(async move {
                    tokio::time::sleep(wait).await;
                    if !invocation.start.begin() {
                        return Err(InvokeError::ClientGone);
                    }
                    Ok(Response::ok("ran"))
                }),
                Stop::by_dropping_the_answer(),
            ),
        }
    }

    fn describe(&self) -> String {
        "fake".to_owned()
    }

    fn healthy(&self) -> bool {
        self.healthy
    }

    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}

impl Fake {
    /// A call that runs until stopped; abandoned, its code returns `returns_after` later.
    fn stuck(&self, stopped: Stopped, returns_after: Duration) -> Call {
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let answer = async move {
            let _ = released.await;
            Ok(Response::ok("finally"))
        };
        let seen = self.seen.clone();
        let stop = Stop::new(move || {
            seen.stops.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                tokio::time::sleep(returns_after).await;
                let _ = release.send(());
            });
            Box::pin(std::future::ready(stopped))
        });
        Call::new(Box::pin(answer), stop)
    }
}

fn app(behaviour: Behaviour, healthy: bool) -> (Arc<App>, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let function = Box::new(Fake {
        behaviour,
        seen: seen.clone(),
        healthy,
    });
    let app = App::new(AppParts {
        function,
        function_name: "fake.handler".to_owned(),
        metrics: Metrics::new(true, &[]).expect("registry"),
        access_log: AccessLog::start(false).expect("access log"),
        timeout: Duration::from_secs(3),
        body_limits: BodyLimits {
            max_bytes: 1024,
            timeout: Duration::from_secs(20),
            min_rate: 10,
        },
        tolerated_abandoned: 1,
    });
    (Arc::new(app), seen)
}

fn request(
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "app.test");
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request")
}

const PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

/// The status, headers and body text of the app's answer.
async fn send(
    app: &Arc<App>,
    request: Request<Full<Bytes>>,
) -> (StatusCode, http::HeaderMap, String) {
    let response = app.clone().handle(request, PEER).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn metrics(app: &Arc<App>) -> String {
    send(app, request(Method::GET, "/metrics", None, ""))
        .await
        .2
}

#[tokio::test(start_paused = true)]
async fn the_function_sees_the_decided_data_and_cannot_set_framing_headers() {
    let (app, seen) = app(Behaviour::Echo, true);
    let (status, headers, body) = send(
        &app,
        request(Method::POST, "/", Some("application/json"), "[1]"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["x-data"], "json");
    assert!(headers.get("content-length").is_none());
    assert_eq!(body, "[1]");
    let (_, headers, _) = send(&app, request(Method::POST, "/", Some("text/plain"), "[1")).await;
    assert_eq!(headers["x-data"], "raw");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn invalid_json_is_answered_without_calling_the_function() {
    let (app, seen) = app(Behaviour::Echo, true);
    let json = Some("application/json; charset=utf-8");
    let (status, _, body) = send(&app, request(Method::POST, "/", json, "{\"a\":")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("not valid JSON"), "{body}");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
    let page = metrics(&app).await;
    has(&page, "function_calls_total{method=\"POST\"} 0");
    assert!(page.contains("kind=\"bad_request\""), "{page}");
}

#[tokio::test(start_paused = true)]
async fn a_body_over_the_limit_is_413_without_calling_the_function() {
    let (app, seen) = app(Behaviour::Echo, true);
    let (status, _, _) = send(&app, request(Method::POST, "/", None, &"x".repeat(1025))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

const STOPPED_IN_PLACE: Behaviour = Behaviour::Stuck {
    stopped: Stopped::InPlace,
    returns_after: Duration::ZERO,
};

/// Abandoned calls whose code returns ten seconds after they were given up.
const ABANDONED: Behaviour = Behaviour::Stuck {
    stopped: Stopped::Abandoned,
    returns_after: Duration::from_secs(10),
};

/// The metrics page has this line.
fn has(page: &str, line: &str) {
    assert!(page.lines().any(|l| l == line), "no {line} in:\n{page}");
}

async fn healthz(app: &Arc<App>) -> StatusCode {
    send(app, request(Method::GET, "/healthz", None, ""))
        .await
        .0
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_deadline_is_408_at_the_deadline_and_counts_as_a_failure() {
    let (app, seen) = app(STOPPED_IN_PLACE, true);
    let started = tokio::time::Instant::now();
    let (status, _, body) = send(&app, request(Method::GET, "/", None, "")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(body, "Timeout while processing the function\n");
    // The proxy keeps deadlines on tokio's clock, paused here: the answer comes exactly at
    // the deadline, not at any later timer.
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    // Stopping runs after the answer, in a task of its own: let it run.
    tokio::task::yield_now().await;
    let page = metrics(&app).await;
    has(&page, "function_calls_total{method=\"GET\"} 1");
    has(&page, "function_failures_total{method=\"GET\"} 1");
    assert_eq!(
        seen.stops.load(Ordering::SeqCst),
        1,
        "the engine was asked to stop it"
    );
    has(&page, "fnhost_engine_calls{state=\"abandoned\"} 0");
}

/// An engine that cannot stop its call gives up the thread; the proxy counts the call until
/// its code returns, and more such calls than the function's threads fail `/healthz`.
#[tokio::test(start_paused = true)]
async fn calls_that_cannot_be_stopped_count_as_abandoned_until_they_return() {
    let (app, seen) = app(ABANDONED, true);
    for _ in 0..2 {
        let (status, _, _) = send(&app, request(Method::GET, "/", None, "")).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(seen.stops.load(Ordering::SeqCst), 2);
    let page = metrics(&app).await;
    has(&page, "fnhost_engine_calls{state=\"abandoned\"} 2");
    assert_eq!(
        healthz(&app).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "two abandoned, one thread"
    );
    tokio::time::sleep(Duration::from_secs(11)).await;
    let page = metrics(&app).await;
    has(&page, "fnhost_engine_calls{state=\"abandoned\"} 0");
    assert_eq!(
        healthz(&app).await,
        StatusCode::OK,
        "the stuck code returned"
    );
}

/// The case native once got wrong: the client hangs up during a stuck call. The call is
/// still stopped at its deadline, and counted as abandoned, so capacity and `/healthz` stay
/// true.
#[tokio::test(start_paused = true)]
async fn a_stuck_call_whose_client_left_is_still_stopped_and_counted_at_its_deadline() {
    let (app, seen) = app(ABANDONED, true);
    let page = hang_up_then_metrics(&app).await;
    assert!(
        page.contains("function_calls_total{method=\"GET\"} 0"),
        "not over yet: {page}"
    );
    hang_up_then_metrics(&app).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        seen.stops.load(Ordering::SeqCst),
        2,
        "both stopped at their deadline"
    );
    let page = metrics(&app).await;
    has(&page, "function_failures_total{method=\"GET\"} 2");
    has(&page, "fnhost_engine_calls{state=\"abandoned\"} 2");
    assert_eq!(healthz(&app).await, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(start_paused = true)]
async fn healthz_and_metrics_are_the_proxys_and_report_an_unhealthy_engine() {
    let (app, seen) = app(Behaviour::Echo, false);
    let (status, _, body) = send(&app, request(Method::GET, "/healthz", None, "")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.starts_with("unhealthy"), "{body}");
    let (status, _, _) = send(&app, request(Method::HEAD, "/metrics", None, "")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
    let (status, _, _) = send(&app, request(Method::POST, "/healthz", None, "x")).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "POST /healthz is the function's"
    );
}

/// A GET whose client hangs up 100 ms in (hyper then drops the request's future), and the
/// metrics page once the call had two seconds to end.
async fn hang_up_then_metrics(app: &Arc<App>) -> String {
    let pending = app
        .clone()
        .handle(request(Method::GET, "/", None, ""), PEER);
    let gone = tokio::time::timeout(Duration::from_millis(100), pending).await;
    assert!(gone.is_err(), "the call had not ended when the client left");
    tokio::time::sleep(Duration::from_secs(2)).await;
    metrics(app).await
}

/// When the client hangs up, hyper drops the request's future; the call runs on to its end in
/// its own task and is counted (and logged, as 499) all the same.
#[tokio::test(start_paused = true)]
async fn a_call_whose_client_left_is_still_counted() {
    let (app, seen) = app(Behaviour::After(Duration::from_secs(1)), true);
    let page = hang_up_then_metrics(&app).await;
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    assert!(
        page.contains("function_calls_total{method=\"GET\"} 1"),
        "a call whose client left is still counted: {page}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_client_left_before_it_started_is_never_run() {
    let (app, _) = app(Behaviour::QueuedFor(Duration::from_secs(1)), true);
    let page = hang_up_then_metrics(&app).await;
    has(&page, "function_calls_total{method=\"GET\"} 0");
    assert!(page.contains("kind=\"client_gone\""), "{page}");
    let (status, _, body) = send(&app, request(Method::GET, "/", None, "")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "ran"),
        "a waiting client's call runs"
    );
}

/// A request body that arrives in pieces, each after a pause (on tokio's clock).
struct Trickle {
    pieces: std::collections::VecDeque<(Duration, Bytes)>,
    pause: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Trickle {
    /// `count` pieces of `piece` bytes, one every `every`.
    fn new(count: usize, piece: usize, every: Duration) -> Trickle {
        Trickle {
            pieces: (0..count)
                .map(|_| (every, Bytes::from(vec![b'x'; piece])))
                .collect(),
            pause: None,
        }
    }
}

impl hyper::body::Body for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::future::Future as _;
        use std::task::Poll;
        let Some((every, _)) = self.pieces.front() else {
            return Poll::Ready(None);
        };
        let every = *every;
        let pause = self
            .pause
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
        if pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.pause = None;
        let piece = self.pieces.pop_front().map(|(_, data)| data);
        Poll::Ready(piece.map(|data| Ok(hyper::body::Frame::data(data))))
    }
}

async fn send_trickle(app: &Arc<App>, body: Trickle) -> (StatusCode, String) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/")
        .header("host", "app.test")
        .body(body)
        .expect("request");
    let response = app.clone().handle(request, PEER).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (parts.status, String::from_utf8_lossy(&body).into_owned())
}

/// The app's limits: at least 10 bytes a second past the first 5 s, all within 20 s.
#[tokio::test(start_paused = true)]
async fn a_body_slower_than_the_minimum_rate_is_408_once_the_grace_is_over() {
    let (app, seen) = app(Behaviour::Echo, true);
    let started = tokio::time::Instant::now();
    // One byte a second: 5 bytes by the end of the grace, owed 50.
    let (status, body) = send_trickle(&app, Trickle::new(100, 1, Duration::from_secs(1))).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert!(body.contains("too slowly"), "{body}");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_body_that_keeps_the_rate_but_not_the_timeout_is_408_at_the_timeout() {
    let (app, seen) = app(Behaviour::Echo, true);
    let started = tokio::time::Instant::now();
    // 30 bytes a second, well over the rate, but 1,000 bytes take 33 s.
    let (status, body) =
        send_trickle(&app, Trickle::new(100, 10, Duration::from_millis(333))).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert!(body.contains("FNHOST_BODY_READ_TIMEOUT"), "{body}");
    assert_eq!(started.elapsed(), Duration::from_secs(20));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

/// FUNC_TIMEOUT is the function's: a body that took longer than it to arrive (within the
/// body's own limits) is still served.
#[tokio::test(start_paused = true)]
async fn the_functions_timeout_starts_once_the_body_is_in() {
    // A function that takes 2 s of its 3 s.
    let (app, seen) = app(Behaviour::After(Duration::from_secs(2)), true);
    // 8 pieces of 20 bytes, one every 0.5 s: 4 s, past the 3 s FUNC_TIMEOUT.
    let (status, body) = send_trickle(&app, Trickle::new(8, 20, Duration::from_millis(500))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "late"));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_http11_request_needs_exactly_one_host() {
    let (app, seen) = app(Behaviour::Echo, true);
    let build = |version: http::Version, hosts: &[&str]| {
        let mut builder = Request::builder().uri("/").version(version);
        for host in hosts {
            builder = builder.header("host", *host);
        }
        builder.body(Full::new(Bytes::new())).expect("request")
    };
    for hosts in [&[][..], &["a", "b"][..]] {
        let (status, _, body) = send(&app, build(http::Version::HTTP_11, hosts)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hosts:?}");
        assert!(body.contains("Host"), "{body}");
    }
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
    let (status, _, _) = send(&app, build(http::Version::HTTP_10, &[])).await;
    assert_eq!(status, StatusCode::CREATED, "HTTP/1.0 may omit Host");
    let (status, _, _) = send(&app, build(http::Version::HTTP_11, &["a"])).await;
    assert_eq!(status, StatusCode::CREATED);
}
