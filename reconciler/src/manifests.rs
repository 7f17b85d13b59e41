//! The install manifest (`manifests/install.yaml`): everything `kubectl apply -f` needs to run
//! fnhost's cluster side, generated here so the RBAC rules sit next to the code that needs
//! them. A test checks that the committed file is current; the cluster test applies it and runs
//! the reconciler as its service account (impersonated), so the rules are proven sufficient.

use serde_json::{Value, json};

use crate::settings::{DEFAULT_NAMESPACE, shipped_config_map};

/// The reconciler's service account name.
pub const SERVICE_ACCOUNT: &str = "fnhost-reconciler";
/// The image the reconciler Deployment runs.
pub const IMAGE: &str = concat!("fnhost/reconciler:", env!("CARGO_PKG_VERSION"));

/// Verbs on the objects the reconciler owns.
const OWN: [&str; 7] = [
    "get", "list", "watch", "create", "patch", "update", "delete",
];

/// The least rights the reconciler needs.
pub fn cluster_role() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": { "name": SERVICE_ACCOUNT },
        "rules": [
            { "apiGroups": ["kubeless.io"], "resources": ["functions", "httptriggers", "cronjobtriggers"],
              "verbs": ["get", "list", "watch", "patch", "update"] },
            { "apiGroups": ["kubeless.io"], "resources": ["functions/status"], "verbs": ["get", "patch", "update"] },
            { "apiGroups": [""], "resources": ["configmaps", "services"], "verbs": OWN },
            { "apiGroups": ["apps"], "resources": ["deployments"], "verbs": OWN },
            { "apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": OWN },
            { "apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": OWN },
            { "apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": OWN },
            { "apiGroups": ["monitoring.coreos.com"], "resources": ["servicemonitors"], "verbs": OWN },
            { "apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"] },
        ],
    })
}

/// Every object of the install manifest, in apply order.
pub fn install_objects() -> Result<Vec<Value>, serde_json::Error> {
    let ns = DEFAULT_NAMESPACE;
    let mut objects =
        vec![json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } })];
    objects.extend(crate::crd::crds()?);
    objects.push(json!({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": SERVICE_ACCOUNT, "namespace": ns },
    }));
    objects.push(cluster_role());
    objects.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": { "name": SERVICE_ACCOUNT },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": SERVICE_ACCOUNT },
        "subjects": [{ "kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": ns }],
    }));
    objects.push(shipped_config_map(ns));
    objects.push(reconciler_deployment(ns));
    Ok(objects)
}

fn reconciler_deployment(ns: &str) -> Value {
    let labels = json!({ "app.kubernetes.io/name": SERVICE_ACCOUNT });
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": SERVICE_ACCOUNT, "namespace": ns, "labels": labels },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": labels },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": { "prometheus.io/scrape": "true", "prometheus.io/port": "8081", "prometheus.io/path": "/metrics" },
                },
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "securityContext": { "runAsUser": 1000, "runAsNonRoot": true },
                    "containers": [{
                        "name": "reconciler",
                        "image": IMAGE,
                        "args": ["run"],
                        "env": [{ "name": "KUBELESS_NAMESPACE", "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } }],
                        "resources": { "requests": { "cpu": "10m", "memory": "32Mi" }, "limits": { "memory": "128Mi" } },
                        "ports": [{ "name": "metrics", "containerPort": 8081, "protocol": "TCP" }],
                        "livenessProbe": { "httpGet": { "path": "/healthz", "port": 8081 }, "periodSeconds": 30 },
                    }],
                },
            },
        },
    })
}

/// Rendering a manifest failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// To JSON.
    #[error("cannot serialise the manifest: {0}")]
    Json(#[from] serde_json::Error),
    /// To YAML.
    #[error("cannot write the manifest as YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
}

/// Objects as one multi-document YAML with a header naming the command that made it.
pub fn to_yaml(command: &str, objects: &[Value]) -> Result<String, RenderError> {
    let mut out =
        format!("# Generated by `fnhost-reconciler {command}` from reconciler/src: do not edit.\n");
    for object in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(object)?);
    }
    Ok(out)
}

/// The CRD manifests, as one multi-document YAML (`manifests/crds.yaml`).
pub fn crds_yaml() -> Result<String, RenderError> {
    to_yaml("crds", &crate::crd::crds()?)
}
