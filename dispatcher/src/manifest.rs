//! The dispatcher's manifest (`manifests/message-triggers.yaml`): its service account, the
//! least rights its watches and its checkpoints need, and its Deployment, in the `kubeless` namespace that
//! `manifests/install.yaml` creates. Generated here so the rules sit next to the code that
//! uses them ([`crate::cluster`]); a test checks that the committed file is current. Like
//! upstream's separate trigger-controller manifests, it is applied after `install.yaml`:
//!
//! ```sh
//! kubectl apply -f manifests/install.yaml -f manifests/message-triggers.yaml
//! ```

use serde_json::{Value, json};

/// The dispatcher's service account, ClusterRole and Deployment name.
pub const NAME: &str = "fnhost-dispatcher";
/// The namespace it runs in (`install.yaml` creates it).
pub const NAMESPACE: &str = "kubeless";
/// The image the Deployment runs.
pub const IMAGE: &str = concat!("fnhost/dispatcher:", env!("CARGO_PKG_VERSION"));
/// The port of `/metrics`, `/healthz` and `/readyz`.
const PORT: u16 = 8082;

/// The least rights the dispatcher needs: to watch the triggers and Functions, and to read
/// the Secrets KinesisTriggers name (in any namespace, as upstream's controller did).
pub fn cluster_role() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": { "name": NAME },
        "rules": [
            { "apiGroups": ["kubeless.io"],
              "resources": ["kafkatriggers", "natstriggers", "kinesistriggers", "functions"],
              "verbs": ["get", "list", "watch"] },
            { "apiGroups": [""], "resources": ["secrets"], "verbs": ["get"] },
        ],
    })
}

/// In its own namespace only: the ConfigMap that keeps Kinesis checkpoints
/// ([`crate::checkpoints`]). Creating cannot be limited to one name; reading and changing are.
pub fn role() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": { "name": NAME, "namespace": NAMESPACE },
        "rules": [
            { "apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"] },
            { "apiGroups": [""], "resources": ["configmaps"],
              "resourceNames": [crate::checkpoints::CONFIG_MAP], "verbs": ["get", "patch"] },
        ],
    })
}

/// Every object of the manifest, in apply order.
pub fn objects() -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": { "name": NAME, "namespace": NAMESPACE },
        }),
        cluster_role(),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": { "name": NAME },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME },
            "subjects": [{ "kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE }],
        }),
        role(),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": { "name": NAME, "namespace": NAMESPACE },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME },
            "subjects": [{ "kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE }],
        }),
        deployment(),
    ]
}

fn deployment() -> Value {
    let labels = json!({ "app.kubernetes.io/name": NAME });
    let env = json!([
        { "name": "NATS_URL", "value": "nats://nats.nats-io.svc.cluster.local:4222" },
        { "name": "KAFKA_BROKERS", "value": "kafka.kubeless:9092" },
        { "name": "POD_NAMESPACE", "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } },
    ]);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": NAME, "namespace": NAMESPACE, "labels": labels },
        "spec": {
            "replicas": 1,
            // One dispatcher at a time: a second would consume the same groups and consumers.
            "strategy": { "type": "Recreate" },
            "selector": { "matchLabels": labels },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": { "prometheus.io/scrape": "true", "prometheus.io/port": PORT.to_string(), "prometheus.io/path": "/metrics" },
                },
                "spec": {
                    "serviceAccountName": NAME,
                    "securityContext": { "runAsUser": 1000, "runAsNonRoot": true, "fsGroup": 1000 },
                    "containers": [{
                        "name": "dispatcher",
                        "image": IMAGE,
                        "args": ["run"],
                        "env": env,
                        "resources": { "requests": { "cpu": "50m", "memory": "32Mi" }, "limits": { "memory": "256Mi" } },
                        "ports": [{ "name": "metrics", "containerPort": PORT, "protocol": "TCP" }],
                        "livenessProbe": { "httpGet": { "path": "/healthz", "port": PORT }, "periodSeconds": 30 },
                        "readinessProbe": { "httpGet": { "path": "/readyz", "port": PORT }, "periodSeconds": 5 },
                        "securityContext": { "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false },
                    }],
                },
            },
        },
    })
}

/// The manifest as one multi-document YAML with a header naming the command that made it.
pub fn to_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::from(
        "# Generated by `fnhost-dispatcher manifest` from dispatcher/src: do not edit.\n",
    );
    for object in objects() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&object)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_manifest_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../manifests/message-triggers.yaml"
        );
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == to_yaml().expect("renders"),
            "manifests/message-triggers.yaml is stale: run `cargo run -p fnhost-dispatcher -- manifest > manifests/message-triggers.yaml`"
        );
    }

    /// The image builds this crate and runs `fnhost-dispatcher run` as user 1000, under the
    /// name the manifest uses.
    #[test]
    fn the_image_matches_the_manifest() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../images/dispatcher/Dockerfile"
        );
        let text = std::fs::read_to_string(path).expect("images/dispatcher/Dockerfile");
        assert!(text.contains("cargo build --release --locked -p fnhost-dispatcher"));
        assert_eq!(
            text.lines().rev().find(|l| l.starts_with("USER ")),
            Some("USER 1000")
        );
        assert!(text.contains(r#"ENTRYPOINT ["fnhost-dispatcher"]"#));
        assert!(text.contains(r#"CMD ["run"]"#));
        assert!(
            text.contains(&format!("-t {IMAGE} .")),
            "the manifest's image tag"
        );
    }
}
