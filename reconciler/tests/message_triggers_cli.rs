//! The original kubeless CLI v1.0.8 creates, lists, updates and deletes the message triggers
//! (KafkaTrigger, NATSTrigger, KinesisTrigger) against kube-apiserver 1.20.2 with fnhost's CRDs,
//! and what it writes reads back as fnhost's types (`fnhost-kubeless-api`), which the dispatcher
//! consumes.

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

use fnhost_reconciler::crd::{KafkaTrigger, KinesisTrigger, NATSTrigger};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use support::{ControlPlane, install, kubeless};

/// The label pairs of a selector, as `key=value` strings in order.
fn match_labels(selector: &fnhost_reconciler::crd::LabelSelector) -> Vec<String> {
    selector
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kubeless_cli_manages_kafka_nats_and_kinesis_triggers() {
    let plane = ControlPlane::start();
    let admin = fnhost_reconciler::connect(Some(plane.kubeconfig.to_str().expect("utf-8")))
        .await
        .expect("client");
    install(&admin).await;
    let workdir = tempfile::tempdir().expect("tempdir");
    let (kc, wd) = (plane.kubeconfig.as_path(), workdir.path());

    for (kind, topic_flag) in [("kafka", "--trigger-topic"), ("nats", "--trigger-topic")] {
        let name = format!("{kind}-orders");
        kubeless(
            kc,
            wd,
            &[
                "trigger",
                kind,
                "create",
                &name,
                topic_flag,
                "orders",
                "--function-selector",
                "created-by=kubeless,topic=orders",
            ],
        );
        let listed = kubeless(kc, wd, &["trigger", kind, "list"]);
        assert!(
            listed.contains(&name) && listed.contains("orders"),
            "{kind} list: {listed}"
        );
        kubeless(
            kc,
            wd,
            &["trigger", kind, "update", &name, topic_flag, "orders.v2"],
        );
    }
    let kafka: Api<KafkaTrigger> = Api::namespaced(admin.clone(), "default");
    let trigger = kafka.get("kafka-orders").await.expect("the KafkaTrigger");
    assert_eq!(trigger.spec.topic, "orders.v2", "updated topic");
    assert_eq!(
        match_labels(&trigger.spec.function_selector),
        ["created-by=kubeless", "topic=orders"]
    );
    let nats: Api<NATSTrigger> = Api::namespaced(admin.clone(), "default");
    let trigger = nats.get("nats-orders").await.expect("the NATSTrigger");
    assert_eq!(trigger.spec.topic, "orders.v2", "updated subject");
    assert_eq!(
        match_labels(&trigger.spec.function_selector),
        ["created-by=kubeless", "topic=orders"]
    );

    // `trigger kinesis create` checks that the Function and the Secret exist first.
    let functions: Api<kube::api::DynamicObject> = Api::namespaced_with(
        admin.clone(),
        "default",
        &support::resource("kubeless.io", "v1beta1", "Function", "functions"),
    );
    let function = serde_json::from_value(json!({
        "apiVersion": "kubeless.io/v1beta1", "kind": "Function",
        "metadata": {"name": "records", "namespace": "default"},
        "spec": {"runtime": "python3.11", "handler": "r.handle", "function": "x"}
    }))
    .expect("function");
    functions
        .create(&PostParams::default(), &function)
        .await
        .expect("create the Function");
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "default");
    let secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ec2"},
        "stringData": {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}
    }))
    .expect("secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create the Secret");
    kubeless(
        kc,
        wd,
        &[
            "trigger",
            "kinesis",
            "create",
            "records-stream",
            "--function-name",
            "records",
            "--stream",
            "kubeless-stream",
            "--aws-region",
            "us-west-2",
            "--shard-id",
            "shardId-000000000000",
            "--secret",
            "ec2",
            "--endpoint",
            "http://127.0.0.1:4567",
        ],
    );
    let listed = kubeless(kc, wd, &["trigger", "kinesis", "list"]);
    assert!(
        listed.contains("records-stream") && listed.contains("kubeless-stream"),
        "kinesis list: {listed}"
    );
    let kinesis: Api<KinesisTrigger> = Api::namespaced(admin.clone(), "default");
    let spec = kinesis
        .get("records-stream")
        .await
        .expect("the KinesisTrigger")
        .spec;
    assert_eq!(
        [
            spec.function_name.as_str(),
            &spec.stream,
            &spec.aws_region,
            &spec.shard,
            &spec.secret,
            &spec.endpoint
        ],
        [
            "records",
            "kubeless-stream",
            "us-west-2",
            "shardId-000000000000",
            "ec2",
            "http://127.0.0.1:4567"
        ]
    );

    for (kind, name) in [
        ("kafka", "kafka-orders"),
        ("nats", "nats-orders"),
        ("kinesis", "records-stream"),
    ] {
        kubeless(kc, wd, &["trigger", kind, "delete", name]);
        let listed = kubeless(kc, wd, &["trigger", kind, "list"]);
        assert!(!listed.contains(name), "{kind} after delete: {listed}");
    }
    assert!(kafka.get_opt("kafka-orders").await.expect("get").is_none());
    assert!(nats.get_opt("nats-orders").await.expect("get").is_none());
    assert!(
        kinesis
            .get_opt("records-stream")
            .await
            .expect("get")
            .is_none()
    );
}
