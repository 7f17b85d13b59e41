//! The dispatcher's HTTP endpoint: `/metrics` (the delivery counters), `/healthz` (the process
//! answers) and `/readyz` (every planned pair has its consumer in place: 200 lists them; 503
//! lists those that do not).

use std::convert::Infallible;

use bytes::Bytes;
use fnhost_delivery::metrics::Metrics;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::supervisor::Board;

/// Serves the endpoint on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Metrics, board: Board) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (metrics, board) = (metrics.clone(), board.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let response = respond(request.uri().path(), &metrics, &board);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(path: &str, metrics: &Metrics, board: &Board) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/healthz" => (StatusCode::OK, "text/plain", "OK".to_owned()),
        "/readyz" => {
            let waiting = board.waiting();
            if waiting.is_empty() {
                let running: String = board.all().iter().map(|name| format!("{name}\n")).collect();
                (StatusCode::OK, "text/plain", format!("ready\n{running}"))
            } else {
                let list = waiting.join("\n");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("waiting for the consumers of:\n{list}\n"),
                )
            }
        }
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        _ => (StatusCode::NOT_FOUND, "text/plain", "Not Found".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}
