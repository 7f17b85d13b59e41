//! The objects the reconciler writes, in every API version it can choose, checked with
//! `kubernetes-validate --strict` (PyPI; `scripts/setup.sh` installs it) against the
//! Kubernetes version that serves them: 1.30 for `autoscaling/v2` and `batch/v1` CronJobs,
//! which the test control plane (1.20) does not serve, and 1.25 for `autoscaling/v2beta2`.

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use fnhost_reconciler::crd::{
    CronJobTrigger, CronJobTriggerSpec, Function, FunctionSpec, HTTPTrigger, HttpTriggerSpec,
};
use fnhost_reconciler::objects::{self, ClusterConfig, CronJobVersion, HpaVersion, Owner};
use fnhost_runtime_config::catalogue::Catalogue;
use serde_json::{Value, json};

fn validator() -> PathBuf {
    let dir = support::cached_tool_dir(
        "FNHOST_VALIDATE_BIN",
        ".cache/fnhost/validate-venv/bin",
        "kubernetes-validate",
        "scripts/setup.sh",
    );
    dir.join("kubernetes-validate")
}

fn function() -> Function {
    let mut f = Function::new(
        "get-python",
        FunctionSpec {
            handler: "helloget.foo".to_owned(),
            function: "def foo(event, context):\n    return 'hello world'\n".to_owned(),
            function_content_type: "text".to_owned(),
            runtime: "python3.11".to_owned(),
            deps: "bs4\n".to_owned(),
            horizontal_pod_autoscaler: Some(json!({"spec": {
            "scaleTargetRef": {"name": "get-python"}, "minReplicas": 1, "maxReplicas": 3,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "targetAverageUtilization": 70}},
                {"type": "Object", "object": {"metricName": "function_calls", "target": {"kind": "Service", "name": "get-python"}, "targetValue": "10"}}
            ]}})),
            ..FunctionSpec::default()
        },
    );
    f.metadata.namespace = Some("default".to_owned());
    f.metadata.uid = Some("6a1b3c4d-0000-0000-0000-000000000001".to_owned());
    f.metadata.labels = Some(BTreeMap::from([(
        "created-by".to_owned(),
        "kubeless".to_owned(),
    )]));
    f
}

fn objects_for(hpa: HpaVersion, cron: CronJobVersion) -> Vec<Value> {
    let f = function();
    let runtime = Catalogue::builtin()
        .get("python3.11")
        .cloned()
        .expect("runtime");
    let owner = Owner::new(&f);
    let mut cron_trigger = CronJobTrigger::new(
        "get-python",
        CronJobTriggerSpec {
            schedule: "*/5 * * * *".to_owned(),
            function_name: "get-python".to_owned(),
            payload: Some(json!({"a": 1})),
        },
    );
    cron_trigger.metadata.namespace = Some("default".to_owned());
    cron_trigger.metadata.uid = Some("6a1b3c4d-0000-0000-0000-000000000002".to_owned());
    let mut http_trigger = HTTPTrigger::new(
        "ing-get-python",
        HttpTriggerSpec {
            function_name: "get-python".to_owned(),
            host_name: "test.domain".to_owned(),
            tls: true,
            ..HttpTriggerSpec::default()
        },
    );
    http_trigger.metadata.namespace = Some("default".to_owned());
    http_trigger.metadata.uid = Some("6a1b3c4d-0000-0000-0000-000000000003".to_owned());
    vec![
        objects::config_map(&owner, &runtime).expect("configmap"),
        objects::deployment(&owner, &runtime, &ClusterConfig::default()).expect("deployment"),
        objects::service(&owner).expect("service"),
        objects::horizontal_pod_autoscaler(&owner, hpa)
            .expect("hpa")
            .expect("requested"),
        objects::cron_job(&cron_trigger, &f, "img", cron).expect("cronjob"),
        objects::ingress(&http_trigger, &f).expect("ingress"),
    ]
}

fn validate(kubernetes: &str, objects: &[Value]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let path = dir.path().join(format!(
            "{i}-{}.yaml",
            object["kind"].as_str().unwrap_or("object")
        ));
        std::fs::write(&path, serde_yaml::to_string(object).expect("yaml")).expect("write");
        files.push(path);
    }
    let output = Command::new(validator())
        .args(["--strict", "-k", kubernetes])
        .args(&files)
        .output()
        .expect("kubernetes-validate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "kubernetes-validate --strict -k {kubernetes} failed:\n{text}"
    );
    assert_eq!(
        text.matches("INFO").count(),
        objects.len(),
        "every object validated:\n{text}"
    );
}

#[test]
fn objects_for_current_clusters_validate_strictly_against_1_30() {
    validate("1.30.0", &objects_for(HpaVersion::V2, CronJobVersion::V1));
}

/// 1.25 is the oldest schema kubernetes-validate ships, and the last that serves
/// `autoscaling/v2beta2`; `batch/v1beta1` CronJobs (gone in 1.25) are checked by the real
/// kube-apiserver 1.20 in `tests/cluster.rs`.
#[test]
fn objects_for_clusters_with_v2beta2_autoscaling_validate_strictly_against_1_25() {
    validate(
        "1.25.0",
        &objects_for(HpaVersion::V2beta2, CronJobVersion::V1),
    );
}
