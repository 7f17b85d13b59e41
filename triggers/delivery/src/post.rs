//! The HTTP client of the dispatcher: POSTs a message to a function's Service over pooled
//! keep-alive connections, with one timeout per attempt.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, USER_AGENT};
use http::{HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::answer::{Answer, Failure, classify};

/// Sends deliveries; cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Poster {
    client: Client<HttpConnector, Full<Bytes>>,
    attempt_timeout: Duration,
    user_agent: HeaderValue,
}

impl Poster {
    /// A client whose attempts each end after `attempt_timeout` without a complete answer.
    pub fn new(attempt_timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let user_agent =
            HeaderValue::from_static(concat!("fnhost-dispatcher/", env!("CARGO_PKG_VERSION")));
        Poster {
            client,
            attempt_timeout,
            user_agent,
        }
    }

    /// One attempt: POST `body` with `headers` to `target`, and read the whole answer (so the
    /// connection can be reused).
    pub async fn post(&self, target: &Uri, headers: HeaderMap, body: Bytes) -> Answer {
        let mut request = Request::post(target.clone()).body(Full::new(body));
        if let Ok(request) = request.as_mut() {
            *request.headers_mut() = headers;
            request
                .headers_mut()
                .insert(USER_AGENT, self.user_agent.clone());
        }
        let request = match request {
            Ok(request) => request,
            Err(e) => return Answer::Failed(Failure::Broken(e.to_string())),
        };
        match tokio::time::timeout(self.attempt_timeout, self.exchange(request)).await {
            Ok(answer) => answer,
            Err(_) => Answer::Failed(Failure::TimedOut(self.attempt_timeout)),
        }
    }

    async fn exchange(&self, request: Request<Full<Bytes>>) -> Answer {
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(e) if e.is_connect() => return Answer::Failed(Failure::Unreachable(e.to_string())),
            Err(e) => return Answer::Failed(Failure::Broken(e.to_string())),
        };
        let (parts, mut body) = response.into_parts();
        while let Some(frame) = body.frame().await {
            if let Err(e) = frame {
                return Answer::Failed(Failure::Broken(e.to_string()));
            }
        }
        classify(parts.status, &parts.headers)
    }
}
