//! Reconcile scenarios against a mocked API server (the controller-rs pattern): the
//! controller's requests are answered in-process, in order, and checked, so a reconcile's
//! sequence of API calls is pinned without a cluster. `tests/cluster.rs` does the same against
//! a real kube-apiserver.
#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{Method, Request, Response};
use http_body_util::BodyExt;
use kube::Client;
use kube::client::Body;

use crate::apply::Context;
use crate::crd::{Function, FunctionSpec};
use crate::objects::ClusterConfig;
use fnhost_runtime_config::catalogue::Catalogue;

/// One request the controller made: method, path and query.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: Method,
    path: String,
    query: String,
}

fn function() -> Function {
    let mut f = Function::new(
        "hello",
        FunctionSpec {
            handler: "helloget.foo".to_owned(),
            function: "def foo(event, context):\n    return 'hello world'\n".to_owned(),
            function_content_type: "text".to_owned(),
            runtime: "python3.11".to_owned(),
            ..FunctionSpec::default()
        },
    );
    f.metadata.namespace = Some("default".to_owned());
    f.metadata.uid = Some("uid-1".to_owned());
    f.metadata.generation = Some(1);
    f.metadata.labels = Some(BTreeMap::from([(
        "created-by".to_owned(),
        "kubeless".to_owned(),
    )]));
    f
}

/// A client whose API server answers every request in-process: applies and posts are echoed
/// back (what a server returns for them), the Function's status patch returns the Function.
/// Every request is recorded, in order.
fn mocked(function: &Function) -> (Client, Arc<parking_lot::Mutex<Vec<Seen>>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let record = seen.clone();
    let function_json = serde_json::to_vec(function).expect("function");
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let body = body.collect().await.expect("body").to_bytes();
            let path = parts.uri.path().to_owned();
            record.lock().push(Seen {
                method: parts.method.clone(),
                path: path.clone(),
                query: parts.uri.query().unwrap_or("").to_owned(),
            });
            let answer = if path.ends_with("/status") {
                function_json.clone()
            } else {
                body.to_vec()
            };
            send.send_response(
                Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(Body::from(answer))
                    .expect("response"),
            );
        }
    });
    (Client::new(service, "default"), seen)
}

fn context(client: Client) -> Context {
    Context {
        events: crate::observe::Events::new(client.clone()),
        client,
        catalogue: Catalogue::builtin(),
        config: ClusterConfig::default(),
        hpa_version: None,
        cronjob_version: None,
        service_monitor_version: None,
        metrics: Arc::new(crate::observe::Metrics::new().expect("metrics")),
        backoff: crate::observe::Backoff::default(),
    }
}

#[tokio::test]
async fn a_function_is_applied_then_marked_ready_then_announced() {
    let f = function();
    let (client, seen) = mocked(&f);
    let context = context(client);
    super::apply(&f, &context).await.expect("reconciled");
    let seen = seen.lock().clone();
    let calls: Vec<(Method, &str)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            (Method::PATCH, "/api/v1/namespaces/default/configmaps/hello"),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/default/deployments/hello"
            ),
            (Method::PATCH, "/api/v1/namespaces/default/services/hello"),
            (
                Method::PATCH,
                "/apis/kubeless.io/v1beta1/namespaces/default/functions/hello/status"
            ),
            (
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/default/events"
            ),
        ],
        "{seen:#?}"
    );
    for apply in &seen[..4] {
        assert!(
            apply.query.contains("fieldManager=fnhost-reconciler")
                && apply.query.contains("force=true"),
            "server-side apply by fnhost-reconciler: {apply:?}"
        );
    }
}

#[tokio::test]
async fn an_invalid_function_is_marked_not_ready_and_nothing_is_applied() {
    let mut f = function();
    f.spec.handler = "no-dot-here".to_owned();
    let (client, seen) = mocked(&f);
    let context = context(client);
    super::apply(&f, &context).await.expect("reconciled");
    let seen = seen.lock().clone();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/apis/kubeless.io/v1beta1/namespaces/default/functions/hello/status",
            "/apis/events.k8s.io/v1/namespaces/default/events",
        ],
        "{seen:#?}"
    );
}
