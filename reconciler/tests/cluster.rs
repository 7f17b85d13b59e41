//! The reconciler against a real control plane: kube-apiserver and kube-controller-manager
//! 1.20.2 with etcd, started by `scripts/k8s/start-control-plane.sh` from the binaries that
//! `scripts/k8s/build-control-plane.sh` caches (`scripts/test.sh` builds them). There is no
//! skip: without the binaries this test fails and says how to build them.
//!
//! Functions are created as raw JSON in the shape `kubeless function deploy` writes.

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

use std::time::Duration;

use fnhost_reconciler::controller;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use support::{ControlPlane, eventually, eventually_get, install, reconciler_client};

/// The Prometheus Operator's ServiceMonitor CRD, reduced to what the API server needs to serve
/// the kind (the real one carries a full schema).
async fn install_service_monitor_crd(client: &kube::Client) {
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
        "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
            "names": {"kind": "ServiceMonitor", "plural": "servicemonitors", "singular": "servicemonitor"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    support::apply(client, &crd).await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    eventually("the ServiceMonitor CRD established", || {
        let crds = crds.clone();
        async move {
            let conditions = crds
                .get("servicemonitors.monitoring.coreos.com")
                .await
                .ok()?
                .status?
                .conditions?;
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        }
    })
    .await;
}

fn kubeless_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kubeless.io", "v1beta1", kind),
        plural,
    )
}

fn function_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kubeless.io", "v1beta1", "Function"),
        "functions",
    )
}

/// A Function as `kubeless function deploy NAME --runtime python3.11 --from-file helloget.py
/// --handler helloget.foo` writes it.
fn cli_function(name: &str, handler: &str, source: &str, extra: &Value) -> DynamicObject {
    let mut spec = json!({
        "checksum": format!("sha256:{}", fnhost_reconciler::content::sha256_hex(source.as_bytes())),
        "deps": "",
        "function": source,
        "function-content-type": "text",
        "handler": handler,
        "runtime": "python3.11",
        "timeout": "180",
        "deployment": {"metadata": {"creationTimestamp": null}, "spec": {"strategy": {}, "template": {
            "metadata": {"creationTimestamp": null}, "spec": {"containers": [{"name": "", "resources": {}}]}}}, "status": {}},
        "service": {"ports": [{"name": "http-function-port", "port": 8080, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"created-by": "kubeless", "function": name}, "type": "ClusterIP"},
        "horizontalPodAutoscaler": {"metadata": {"creationTimestamp": null},
            "spec": {"maxReplicas": 0, "scaleTargetRef": {"kind": "", "name": ""}},
            "status": {"conditions": null, "currentMetrics": null, "currentReplicas": 0, "desiredReplicas": 0}},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    let value = json!({
        "apiVersion": "kubeless.io/v1beta1",
        "kind": "Function",
        "metadata": {"name": name, "namespace": "default", "labels": {"created-by": "kubeless", "function": name}},
        "spec": spec,
    });
    serde_json::from_value(value).expect("a DynamicObject")
}

async fn create(functions: &Api<DynamicObject>, function: &DynamicObject) {
    functions
        .create(&PostParams::default(), function)
        .await
        .unwrap_or_else(|e| panic!("create {}: {e}", function.name_any()));
}

fn env_value(deployment: &Deployment, name: &str) -> Option<String> {
    let container = deployment
        .spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?;
    container
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == name)?
        .value
        .clone()
}

async fn ready_condition(
    functions: &Api<DynamicObject>,
    name: &str,
) -> Option<(String, String, String)> {
    let f = functions.get(name).await.ok()?;
    let conditions = f.data["status"]["conditions"].as_array()?.clone();
    let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
    Some((
        ready["status"].as_str()?.to_owned(),
        ready["reason"].as_str()?.to_owned(),
        ready["message"].as_str()?.to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_become_deployments_services_and_configmaps_and_go_away_with_them() {
    let plane = ControlPlane::start();
    let client = fnhost_reconciler::connect(Some(plane.kubeconfig.to_str().expect("utf-8 path")))
        .await
        .expect("client");
    install(&client).await;
    install_service_monitor_crd(&client).await;
    let as_reconciler = reconciler_client(&plane.kubeconfig).await;
    // The impersonation is real and the role is narrow: no access to Secrets.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(as_reconciler.clone(), "default");
    match secrets.list(&Default::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("the reconciler's service account must not list Secrets: {other:?}"),
    }
    let context = fnhost_reconciler::context(as_reconciler, ("kubeless", "kubeless-config"))
        .await
        .expect("context");
    assert_eq!(
        context.hpa_version,
        Some(fnhost_reconciler::objects::HpaVersion::V2beta2),
        "1.20 serves autoscaling/v2beta2"
    );
    let metrics = context.metrics.clone();
    let observe = fnhost_reconciler::observe::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let observe_addr = observe.local_addr().expect("addr");
    tokio::spawn(fnhost_reconciler::observe::serve(observe, metrics.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let reconciler = tokio::spawn(controller::run(context, async move {
        let _ = stopped.await;
    }));

    let functions: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &function_resource());
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    // get-python: text content, no deps.
    let source = "def foo(event, context):\n    return 'hello world'\n";
    create(
        &functions,
        &cli_function("get-python", "helloget.foo", source, &json!({})),
    )
    .await;
    // Ready=True means every object was applied.
    let (status, reason, _) = eventually("get-python Ready", || {
        let functions = functions.clone();
        async move {
            ready_condition(&functions, "get-python")
                .await
                .filter(|(s, _, _)| s == "True")
        }
    })
    .await;
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Applied"));
    // The first reconcile succeeds: the finalizer is added without a JSON patch `test` that a
    // 1.20 API server refuses with 422 (which cost every new Function a retry).
    assert_eq!(
        metrics.count("Function", "error"),
        0,
        "failed reconciles of a new Function"
    );
    let deployment = deployments
        .get("get-python")
        .await
        .expect("Deployment get-python");
    assert_eq!(
        env_value(&deployment, "MOD_NAME").as_deref(),
        Some("helloget")
    );
    assert_eq!(
        env_value(&deployment, "FUNC_HANDLER").as_deref(),
        Some("foo")
    );
    assert_eq!(env_value(&deployment, "FUNC_PORT").as_deref(), Some("8080"));
    let pod = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec");
    let init = pod.init_containers.as_ref().expect("init containers");
    assert_eq!(init[0].name, "prepare");
    assert!(
        pod.containers[0]
            .image
            .as_deref()
            .unwrap_or("")
            .starts_with("fnhost/runtime:python3.11")
    );
    assert_eq!(
        pod.security_context.as_ref().and_then(|s| s.run_as_user),
        Some(1000)
    );
    assert_eq!(deployment.owner_references()[0].kind, "Function");

    let service = services
        .get("get-python")
        .await
        .expect("Service get-python");
    let port = &service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .expect("ports")[0];
    assert_eq!(
        (port.name.as_deref(), port.port),
        (Some("http-function-port"), 8080)
    );
    let cm = config_maps
        .get("get-python")
        .await
        .expect("ConfigMap get-python");
    assert_eq!(
        cm.data
            .as_ref()
            .and_then(|d| d.get("helloget.py"))
            .map(String::as_str),
        Some(source)
    );

    let finalizers = functions
        .get("get-python")
        .await
        .expect("function")
        .finalizers()
        .to_vec();
    assert_eq!(finalizers, ["kubeless.io/function"]);

    // An update of the handler reaches the Deployment.
    let patch = json!({"spec": {"handler": "helloget.bar"}});
    functions
        .patch("get-python", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("update");
    eventually("FUNC_HANDLER=bar", || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get("get-python").await.ok()?;
            (env_value(&d, "FUNC_HANDLER").as_deref() == Some("bar")).then_some(())
        }
    })
    .await;

    // A probe of another kind replaces the default one (server-side apply must not leave the
    // default's `httpGet` behind: "may not specify more than 1 handler type").
    let patch = json!({"spec": {"deployment": {"spec": {"template": {"spec": {"containers": [
        {"name": "", "readinessProbe": {"tcpSocket": {"port": 8080}}}]}}}}}});
    functions
        .patch("get-python", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("update");
    eventually("the readiness probe becomes tcpSocket alone", || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get("get-python").await.ok()?;
            let probe = d
                .spec?
                .template
                .spec?
                .containers
                .first()?
                .readiness_probe
                .clone()?;
            (probe.tcp_socket.is_some() && probe.http_get.is_none()).then_some(())
        }
    })
    .await;

    // A broken Function is reported, not retried forever.
    create(
        &functions,
        &cli_function("broken", "nodot", source, &json!({})),
    )
    .await;
    let (status, reason, message) = eventually("broken Ready=False", || {
        let functions = functions.clone();
        async move { ready_condition(&functions, "broken").await }
    })
    .await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "InvalidFunction")
    );
    assert!(message.contains("module_name.handler_name"), "{message}");
    // `kubectl describe function broken` shows why.
    let events: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("events.k8s.io", "v1", "Event"),
            "events",
        ),
    );
    let reasons = eventually("events for get-python and broken", || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.ok()?;
            let reasons: Vec<(String, String, String)> = list
                .items
                .iter()
                .map(|e| {
                    let text = |k: &str| e.data[k].as_str().unwrap_or_default().to_owned();
                    (
                        e.data["regarding"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        text("type"),
                        text("reason"),
                    )
                })
                .collect();
            let has = |n: &str, t: &str, r: &str| {
                reasons.contains(&(n.to_owned(), t.to_owned(), r.to_owned()))
            };
            (has("get-python", "Normal", "Applied") && has("broken", "Warning", "InvalidFunction"))
                .then_some(reasons)
        }
    })
    .await;
    assert!(!reasons.is_empty());
    assert!(
        deployments.get("broken").await.is_err(),
        "no Deployment for a broken Function"
    );

    // Autoscaling as `kubeless autoscale create get-python-hpa --metric cpu --value 70 --min 1 --max 3`.
    let hpa = json!({"horizontalPodAutoscaler": {"metadata": {"name": "get-python-hpa"}, "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1beta1", "kind": "Deployment", "name": "get-python-hpa"},
        "minReplicas": 1, "maxReplicas": 3,
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "targetAverageUtilization": 70}},
            {"type": "Object", "object": {"metricName": "function_calls",
                "target": {"kind": "Service", "name": "get-python-hpa"}, "targetValue": "10"}}]}}});
    create(
        &functions,
        &cli_function("get-python-hpa", "helloget.foo", source, &hpa),
    )
    .await;
    let hpa_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("autoscaling", "v2beta2", "HorizontalPodAutoscaler"),
        "horizontalpodautoscalers",
    );
    let hpas: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &hpa_resource);
    let hpa = eventually_get(&hpas, "get-python-hpa").await;
    assert_eq!(hpa.data["spec"]["maxReplicas"], 3);
    // The API server may reorder metrics (it stores HPAs as autoscaling/v1): look them up by type.
    let hpa_metrics = hpa.data["spec"]["metrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of_type = |t: &str| {
        hpa_metrics
            .iter()
            .find(|m| m["type"] == t)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        of_type("Resource")["resource"]["target"]["averageUtilization"],
        70
    );
    assert_eq!(
        of_type("Object")["object"]["metric"]["name"],
        "function_calls"
    );
    // qps autoscaling needs Prometheus to scrape the function: a ServiceMonitor, as upstream.
    let monitors: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
            "servicemonitors",
        ),
    );
    let monitor = eventually_get(&monitors, "get-python-hpa").await;
    assert_eq!(
        monitor.data["spec"]["endpoints"][0]["port"],
        "http-function-port"
    );

    // `kubeless trigger cronjob create` and `kubeless trigger http create`.
    let cron_triggers: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &kubeless_resource("CronJobTrigger", "cronjobtriggers"),
    );
    let cron_trigger = json!({"apiVersion": "kubeless.io/v1beta1", "kind": "CronJobTrigger",
        "metadata": {"name": "get-python-hpa", "namespace": "default"},
        "spec": {"function-name": "get-python-hpa", "schedule": "*/60 * * * *", "payload": {"it-s": "alive"}}});
    create(
        &cron_triggers,
        &serde_json::from_value(cron_trigger).expect("object"),
    )
    .await;
    let cronjobs: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("batch", "v1beta1", "CronJob"),
            "cronjobs",
        ),
    );
    let cronjob = eventually_get(&cronjobs, "trigger-get-python-hpa").await;
    assert_eq!(cronjob.data["spec"]["schedule"], "*/60 * * * *");
    let curl = cronjob
        .data
        .pointer("/spec/jobTemplate/spec/template/spec/containers/0/args/0")
        .and_then(Value::as_str)
        .unwrap_or("");
    assert!(
        curl.contains(
            "http://get-python-hpa.default.svc.cluster.local:8080 -d '{\"it-s\":\"alive\"}'"
        ),
        "{curl}"
    );

    let http_triggers: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &kubeless_resource("HTTPTrigger", "httptriggers"),
    );
    let http_trigger = json!({"apiVersion": "kubeless.io/v1beta1", "kind": "HTTPTrigger",
        "metadata": {"name": "ing-get-python", "namespace": "default"},
        "spec": {"function-name": "get-python-hpa", "host-name": "test.domain", "path": "get-python", "gateway": "nginx", "tls": false}});
    create(
        &http_triggers,
        &serde_json::from_value(http_trigger).expect("object"),
    )
    .await;
    let ingresses: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("networking.k8s.io", "v1", "Ingress"),
            "ingresses",
        ),
    );
    let ingress = eventually_get(&ingresses, "ing-get-python").await;
    assert_eq!(ingress.data["spec"]["rules"][0]["host"], "test.domain");
    assert_eq!(
        ingress.data["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "get-python-hpa"
    );

    // Deleting a trigger deletes its object (owner reference, kube-controller-manager's GC).
    cron_triggers
        .delete("get-python-hpa", &DeleteParams::default())
        .await
        .expect("delete trigger");
    eventually("CronJob deleted with its trigger", || {
        let cronjobs = cronjobs.clone();
        async move {
            cronjobs
                .get("trigger-get-python-hpa")
                .await
                .is_err()
                .then_some(())
        }
    })
    .await;

    // Deleting the Function deletes what it became.
    functions
        .delete("get-python", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("get-python's objects deleted", || {
        let (deployments, services, config_maps, functions) = (
            deployments.clone(),
            services.clone(),
            config_maps.clone(),
            functions.clone(),
        );
        async move {
            let gone = deployments.get("get-python").await.is_err()
                && services.get("get-python").await.is_err()
                && config_maps.get("get-python").await.is_err()
                && functions.get("get-python").await.is_err();
            gone.then_some(())
        }
    })
    .await;

    assert!(metrics.count("Function", "applied") >= 2, "applies counted");
    assert!(
        metrics.count("Function", "invalid") >= 1,
        "invalid Functions counted"
    );
    assert!(
        metrics.count("Function", "deleted") >= 1,
        "deletions counted"
    );
    let get = fnhost_conformance::case::Request::get;
    let exposition = fnhost_conformance::http::send(observe_addr, &get("/metrics"))
        .expect("GET /metrics")
        .text();
    assert!(
        exposition
            .contains(r#"fnhost_reconciler_reconciles_total{kind="Function",outcome="applied"}"#),
        "{exposition}"
    );
    let health =
        fnhost_conformance::http::send(observe_addr, &get("/healthz")).expect("GET /healthz");
    assert_eq!((health.status, health.text()), (200, "OK".to_owned()));

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), reconciler).await;
}
