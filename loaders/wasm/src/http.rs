//! Components that export `wasi:http/incoming-handler` (the `wasi:http/proxy` world that
//! `wasmtime serve` and Spin run): each call instantiates the pre-linked component in a
//! fresh store and hands it the request; the response is what it sets on its out-parameter,
//! with the body it streams.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use fnhost_loader_api::{Invocation, InvokeError, Response};
use http_body_util::{BodyExt, Full};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::engine;

/// The store data of one call.
pub struct HttpState {
    ctx: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
}

impl WasiView for HttpState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HttpState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// A pre-linked wasi:http component.
pub struct HttpGuest {
    pre: ProxyPre<HttpState>,
    env: Arc<[(String, String)]>,
}

impl HttpGuest {
    /// Links the component against WASI and wasi:http; fails when it does not export
    /// `wasi:http/incoming-handler` or imports something else.
    pub fn link(
        engine: &Engine,
        component: &Component,
        env: Arc<[(String, String)]>,
    ) -> wasmtime::Result<HttpGuest> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = ProxyPre::new(linker.instantiate_pre(component)?)?;
        Ok(HttpGuest { pre, env })
    }

    /// Instantiates the component once, to find problems (memory over the limit, a failing
    /// start function) before the server is ready.
    pub async fn check(&self) -> wasmtime::Result<()> {
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let mut store = engine::store(self.pre.engine(), self.state(), deadline);
        self.pre.instantiate_async(&mut store).await.map(drop)
    }

    fn state(&self) -> HttpState {
        HttpState {
            ctx: WasiCtx::builder()
                .inherit_stdout()
                .inherit_stderr()
                .envs(&self.env)
                .build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
        }
    }

    /// Runs one call; the caller bounds it by the deadline.
    pub async fn call(&self, invocation: Invocation) -> Result<Response, InvokeError> {
        let mut store = engine::store(self.pre.engine(), self.state(), invocation.deadline);
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, hyper_request(invocation))
            .map_err(|e| InvokeError::Unavailable(format!("cannot pass the request: {e:#}")))?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(|e| InvokeError::Unavailable(format!("cannot pass the request: {e:#}")))?;
        let pre = &self.pre;
        let guest = async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
        };
        // The guest may stream the body after it set the response: read both at once.
        let answer = async move {
            let Ok(response) = receiver.await else {
                return None;
            };
            Some(collect(response).await)
        };
        let (ran, answered) = tokio::join!(guest, answer);
        match (ran, answered) {
            (Err(e), _) => Err(crate::guest_error(&e)),
            (Ok(()), Some(answer)) => answer,
            (Ok(()), None) => Err(InvokeError::BadReturn(
                "the component returned without setting a response (response-outparam.set)"
                    .to_owned(),
            )),
        }
    }
}

type GuestResponse = Result<
    hyper::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody>,
    wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
>;

async fn collect(response: GuestResponse) -> Result<Response, InvokeError> {
    let response = response.map_err(|code| {
        InvokeError::FunctionFailed(format!("the component answered with an error: {code:?}"))
    })?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|code| {
        InvokeError::FunctionFailed(format!("the component's response body failed: {code:?}"))
    })?;
    Ok(Response::new(parts.status, parts.headers, body.to_bytes()))
}

/// The request as hyper's type, with a `Host` (wasi:http needs an authority; fnhost's
/// clients on the pod network may send none over HTTP/1.0).
fn hyper_request(invocation: Invocation) -> hyper::Request<Full<Bytes>> {
    let mut request = hyper::Request::new(Full::new(invocation.body));
    *request.method_mut() = invocation.method;
    *request.uri_mut() = invocation.uri;
    *request.headers_mut() = invocation.headers;
    request
        .headers_mut()
        .entry(http::header::HOST)
        .or_insert(http::HeaderValue::from_static("localhost"));
    request
}
