//! What a Function becomes: pure functions from a [`Function`], its runtime and the cluster
//! configuration to the JSON of the objects the reconciler applies (server-side apply, so each
//! object states only the fields fnhost owns). No I/O here: every rule of
//! `kubeless-contract.md` §6 is unit-tested against plain values.

mod deployment;
mod hpa;
mod service;
mod triggers;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

pub use deployment::deployment;
pub use hpa::{HpaVersion, horizontal_pod_autoscaler, service_monitor, wants_call_rate};
pub use service::{config_map, service, target_port};
pub use triggers::{CronJobVersion, cron_curl, cron_job, ingress, service_port};

use crate::content::ContentError;
use crate::crd::Function;

/// Cluster-wide settings from the `kubeless-config` ConfigMap.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// Image of the `prepare` init container and of CronJob triggers (needs sh, base64,
    /// sha256sum, curl, unzip, tar).
    pub provision_image: String,
    /// A Deployment merged under every function's `spec.deployment` (the `deployment` key).
    pub deployment_defaults: Value,
    /// Pull secrets added to every function pod.
    pub image_pull_secrets: Vec<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            provision_image: DEFAULT_PROVISION_IMAGE.to_owned(),
            deployment_defaults: json!({}),
            image_pull_secrets: Vec::new(),
        }
    }
}

/// The default provision image (upstream's `kubeless/unzip`).
pub const DEFAULT_PROVISION_IMAGE: &str =
    "kubeless/unzip@sha256:e867f9b366ffb1a25f14baf83438db426ced4f7add56137b7300d32507229b5a";

/// Why a Function cannot be turned into objects; shown in its `Ready` condition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// `spec.handler` is not `module.function`.
    #[error("incorrect handler format {0:?}: it should be module_name.handler_name")]
    Handler(String),
    /// The content cannot be prepared.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// `spec.timeout` is not a number of seconds.
    #[error("invalid timeout {0:?}: expected whole seconds")]
    Timeout(String),
    /// `spec.deployment`, `spec.service` or `spec.horizontalPodAutoscaler` has the wrong shape.
    #[error("invalid {field}: {detail}")]
    Shape {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// The Function's identity and labels, as every object needs them.
#[derive(Debug, Clone)]
pub struct Owner<'a> {
    /// The Function.
    pub function: &'a Function,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its labels plus `function: <name>` (upstream sets that label on every Function).
    pub labels: BTreeMap<String, String>,
}

impl<'a> Owner<'a> {
    /// Reads name, namespace and labels.
    pub fn new(function: &'a Function) -> Owner<'a> {
        let name = function.metadata.name.clone().unwrap_or_default();
        let namespace = function
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let mut labels = function.metadata.labels.clone().unwrap_or_default();
        labels.insert("function".to_owned(), name.clone());
        Owner {
            function,
            name,
            namespace,
            labels,
        }
    }

    /// `metadata` for a child: name, namespace, labels (plus `created-by: kubeless`), and the
    /// owner reference that makes Kubernetes delete it with the Function.
    pub fn child_metadata(&self, name: &str) -> Value {
        let mut labels = self.labels.clone();
        labels.insert("created-by".to_owned(), "kubeless".to_owned());
        let uid = self.function.metadata.uid.clone().unwrap_or_default();
        owned_metadata(
            name,
            &self.namespace,
            &labels,
            ("Function", &self.name, &uid),
        )
    }
}

/// `metadata` of an object owned (as controller) by the kubeless.io object `(kind, name, uid)`.
pub(crate) fn owned_metadata(
    name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    owner: (&str, &str, &str),
) -> Value {
    let (kind, owner_name, uid) = owner;
    json!({
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "ownerReferences": [{
            "apiVersion": "kubeless.io/v1beta1", "kind": kind, "name": owner_name, "uid": uid,
            "controller": true, "blockOwnerDeletion": true,
        }],
    })
}

/// `module.function` split in two; exactly one dot.
pub fn split_handler(handler: &str) -> Result<(&str, &str), PlanError> {
    match handler.split_once('.') {
        Some((module, function))
            if !module.is_empty() && !function.is_empty() && !function.contains('.') =>
        {
            Ok((module, function))
        }
        _ => Err(PlanError::Handler(handler.to_owned())),
    }
}

/// `spec.timeout` or the default `180`.
pub fn timeout_seconds(timeout: &str) -> Result<String, PlanError> {
    let trimmed = timeout.trim();
    if trimmed.is_empty() {
        return Ok("180".to_owned());
    }
    trimmed
        .parse::<u64>()
        .map(|n| n.to_string())
        .map_err(|_| PlanError::Timeout(timeout.to_owned()))
}

/// Merges `defaults` under `value`: fields of `value` win; objects merge recursively; arrays
/// of `value` win whole, except that missing ones are taken from `defaults`.
pub fn merge_under(value: &mut Value, defaults: &Value) {
    match (value, defaults) {
        (Value::Object(v), Value::Object(d)) => {
            for (key, dv) in d {
                match v.get_mut(key) {
                    Some(existing) if !existing.is_null() => merge_under(existing, dv),
                    _ => {
                        v.insert(key.clone(), dv.clone());
                    }
                }
            }
        }
        (slot @ Value::Null, d) => *slot = d.clone(),
        _ => {}
    }
}

/// The object at `path` below `value`, created (as `{}`) where missing or not an object.
pub fn object_at<'v>(value: &'v mut Value, path: &[&str]) -> &'v mut Map<String, Value> {
    let mut current = value;
    for key in path {
        if !current.is_object() {
            *current = json!({});
        }
        let map = current
            .as_object_mut()
            .unwrap_or_else(|| unreachable!("made an object above"));
        current = map.entry((*key).to_owned()).or_insert_with(|| json!({}));
    }
    if !current.is_object() {
        *current = json!({});
    }
    current
        .as_object_mut()
        .unwrap_or_else(|| unreachable!("made an object above"))
}

/// The runtime's liveness probe default: `GET /healthz` on the function port.
pub fn default_liveness(port: i64) -> Value {
    json!({ "httpGet": health_check(port), "initialDelaySeconds": 3, "periodSeconds": 30 })
}

/// `GET /healthz` on the port, with the scheme the apiserver would default spelt out: a
/// server-side apply owns only the fields it wrote, so an unwritten `scheme` would outlive the
/// rest of `httpGet` when the user later gives an `exec` or `tcpSocket` probe, and the
/// Deployment would be refused ("may not specify more than 1 handler type").
fn health_check(port: i64) -> Value {
    json!({ "path": "/healthz", "port": port, "scheme": "HTTP" })
}

/// The readiness probe default: `GET /healthz` every second, so that a new pod gets traffic
/// as soon as its function is loaded and a draining one stops getting it (fnhost answers 503
/// while it drains).
pub fn default_readiness(port: i64) -> Value {
    json!({ "httpGet": health_check(port), "periodSeconds": 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_need_exactly_one_dot() {
        assert_eq!(split_handler("hello.foo"), Ok(("hello", "foo")));
        for bad in ["hello", "a.b.c", ".foo", "hello."] {
            assert!(split_handler(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_default_to_180_and_must_be_numbers() {
        assert_eq!(timeout_seconds(""), Ok("180".to_owned()));
        assert_eq!(timeout_seconds("3"), Ok("3".to_owned()));
        assert!(timeout_seconds("3s").is_err());
    }

    #[test]
    fn merging_keeps_the_function_values_and_fills_the_rest() {
        let mut value =
            json!({"spec": {"replicas": 2, "template": {"spec": {"nodeSelector": {"a": "1"}}}}});
        let defaults = json!({"spec": {"replicas": 5, "template": {"spec": {"nodeSelector": {"b": "2"}, "hostNetwork": false}}}});
        merge_under(&mut value, &defaults);
        assert_eq!(
            value,
            json!({"spec": {"replicas": 2, "template": {"spec": {"nodeSelector": {"a": "1", "b": "2"}, "hostNetwork": false}}}})
        );
    }
}
