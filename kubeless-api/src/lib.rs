//! `fnhost-kubeless-api`: the `kubeless.io/v1beta1` custom resources, field for field as the
//! kubeless CLI writes them (`kubeless-contract.md` §6.2, §7.1, §7.2, §7.3): the Function and
//! its triggers. Both cluster-side binaries read them: the reconciler (Functions, CronJob and
//! HTTP triggers) and the dispatcher (message triggers). The CRD manifests in
//! `manifests/crds.yaml` are generated from these types (`fnhost-reconciler crds`) and checked
//! by a test.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A function: source, handler, runtime and how to run it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kubeless.io",
    version = "v1beta1",
    kind = "Function",
    plural = "functions",
    namespaced,
    status = "FunctionStatus",
    printcolumn = r#"{"name":"Runtime","type":"string","jsonPath":".spec.runtime"}"#,
    printcolumn = r#"{"name":"Handler","type":"string","jsonPath":".spec.handler"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#
)]
pub struct FunctionSpec {
    /// `<module>.<function>`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub handler: String,
    /// The source: text, base64 or a URL, per `function-content-type`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub function: String,
    /// `text`, `base64` or `url`, optionally `+zip`/`+compressedtar`, optionally `+deps`.
    #[serde(
        default,
        rename = "function-content-type",
        deserialize_with = "null_as_empty"
    )]
    pub function_content_type: String,
    /// `sha256:<hex>` of the content, or empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub checksum: String,
    /// Runtime id, e.g. `python3.11`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub runtime: String,
    /// Seconds, as a string (default `"180"`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub timeout: String,
    /// Content of the dependency file.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub deps: String,
    /// An `apps/v1` Deployment merged into the one the reconciler creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::any_object")]
    pub deployment: Option<serde_json::Value>,
    /// A `core/v1` ServiceSpec for the function's Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::any_object")]
    pub service: Option<serde_json::Value>,
    /// An `autoscaling/v2beta1` HorizontalPodAutoscaler (as `kubeless autoscale` writes it).
    #[serde(
        default,
        rename = "horizontalPodAutoscaler",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::any_object")]
    pub horizontal_pod_autoscaler: Option<serde_json::Value>,
}

/// What the reconciler last did with a Function.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStatus {
    /// `metadata.generation` the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` and friends.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// A status condition, in the shape of `metav1.Condition`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// CamelCase reason.
    pub reason: String,
    /// What happened, for people.
    pub message: String,
    /// RFC 3339 time of the last change of `status`.
    pub last_transition_time: String,
}

/// Exposes a function through an Ingress.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kubeless.io",
    version = "v1beta1",
    kind = "HTTPTrigger",
    plural = "httptriggers",
    namespaced
)]
pub struct HttpTriggerSpec {
    /// The Function to expose.
    #[serde(default, rename = "function-name", deserialize_with = "null_as_empty")]
    pub function_name: String,
    /// Host of the Ingress rule.
    #[serde(default, rename = "host-name", deserialize_with = "null_as_empty")]
    pub host_name: String,
    /// Ask for a certificate through `kubernetes.io/tls-acme`.
    #[serde(default)]
    pub tls: bool,
    /// An existing TLS secret.
    #[serde(default, rename = "tls-secret", deserialize_with = "null_as_empty")]
    pub tls_secret: String,
    /// Path below the host (without the leading `/`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub path: String,
    /// Secret for basic authentication.
    #[serde(
        default,
        rename = "basic-auth-secret",
        deserialize_with = "null_as_empty"
    )]
    pub basic_auth_secret: String,
    /// `nginx`, `traefik` or `kong`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub gateway: String,
    /// Enable CORS.
    #[serde(default, rename = "cors-enable")]
    pub cors_enable: bool,
}

/// Calls a function on a schedule.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kubeless.io",
    version = "v1beta1",
    kind = "CronJobTrigger",
    plural = "cronjobtriggers",
    namespaced
)]
pub struct CronJobTriggerSpec {
    /// Cron schedule.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub schedule: String,
    /// The Function to call.
    #[serde(default, rename = "function-name", deserialize_with = "null_as_empty")]
    pub function_name: String,
    /// JSON body to POST; none means a GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::any_value")]
    pub payload: Option<serde_json::Value>,
}

/// Delivers each message of a Kafka topic to the functions its selector picks
/// (`kubeless trigger kafka create`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kubeless.io",
    version = "v1beta1",
    kind = "KafkaTrigger",
    plural = "kafkatriggers",
    namespaced,
    printcolumn = r#"{"name":"Topic","type":"string","jsonPath":".spec.topic"}"#
)]
pub struct KafkaTriggerSpec {
    /// The topic to consume.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub topic: String,
    /// The functions (in the trigger's namespace) that receive every message.
    #[serde(default, rename = "functionSelector")]
    pub function_selector: LabelSelector,
}

/// Delivers each message of a NATS subject to the functions its selector picks
/// (`kubeless trigger nats create`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kubeless.io",
    version = "v1beta1",
    kind = "NATSTrigger",
    plural = "natstriggers",
    namespaced,
    printcolumn = r#"{"name":"Topic","type":"string","jsonPath":".spec.topic"}"#
)]
pub struct NatsTriggerSpec {
    /// The subject to consume (wildcards allowed).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub topic: String,
    /// The functions (in the trigger's namespace) that receive every message.
    #[serde(default, rename = "functionSelector")]
    pub function_selector: LabelSelector,
}

/// Delivers each record of one shard of a Kinesis stream to one function
/// (`kubeless trigger kinesis create`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kubeless.io",
    version = "v1beta1",
    kind = "KinesisTrigger",
    plural = "kinesistriggers",
    namespaced,
    printcolumn = r#"{"name":"Stream","type":"string","jsonPath":".spec.stream"}"#,
    printcolumn = r#"{"name":"Function","type":"string","jsonPath":".spec.function-name"}"#
)]
pub struct KinesisTriggerSpec {
    /// The Function that receives the records.
    #[serde(default, rename = "function-name", deserialize_with = "null_as_empty")]
    pub function_name: String,
    /// The AWS region of the stream.
    #[serde(default, rename = "aws-region", deserialize_with = "null_as_empty")]
    pub aws_region: String,
    /// A Secret with `aws_access_key_id` and `aws_secret_access_key`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub secret: String,
    /// The stream name.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub stream: String,
    /// The shard id, e.g. `shardId-000000000000`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub shard: String,
    /// A Kinesis endpoint URL other than AWS's own (e.g. a local implementation).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub endpoint: String,
}

/// A label selector in the shape of `metav1.LabelSelector`: every `matchLabels` pair and every
/// expression must hold. An empty selector selects everything, as in Kubernetes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be present with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement of a [`LabelSelector`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// The values for `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Whether an object with these labels is selected. An unknown operator selects nothing.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
            && self.match_expressions.iter().all(|requirement| {
                let value = labels.get(&requirement.key);
                match requirement.operator.as_str() {
                    "In" => value.is_some_and(|v| requirement.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !requirement.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

/// Reads `null` as an empty string: kube-apiserver 1.20 stores an empty string in a custom
/// resource as `null` (the CRDs mark string fields `nullable` so it accepts them at all).
fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Option::<String>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// An object whose fields are kept as written (a whole Deployment, a ServiceSpec, ...).
pub fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// Any JSON value, kept as written.
pub fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// The CRD objects, as JSON, adjusted for kube-apiserver 1.20, which reads an empty string in
/// a custom resource as `null`: schema `default`s are removed (`""` would be rejected; fnhost
/// reads absent fields as empty anyway) and string fields are `nullable`.
pub fn crds() -> Result<Vec<serde_json::Value>, serde_json::Error> {
    use kube::CustomResourceExt;
    let mut out = Vec::new();
    for crd in [
        Function::crd(),
        HTTPTrigger::crd(),
        CronJobTrigger::crd(),
        KafkaTrigger::crd(),
        NATSTrigger::crd(),
        KinesisTrigger::crd(),
    ] {
        let mut value = serde_json::to_value(crd)?;
        for version in value
            .pointer_mut("/spec/versions")
            .and_then(serde_json::Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(schema) = version.pointer_mut("/schema/openAPIV3Schema") {
                adjust_schema(schema);
            }
        }
        out.push(value);
    }
    Ok(out)
}

fn adjust_schema(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.contains_key("type") || map.contains_key("x-kubernetes-preserve-unknown-fields")
            {
                map.remove("default");
            }
            if map.get("type").and_then(serde_json::Value::as_str) == Some("string") {
                map.insert("nullable".to_owned(), serde_json::Value::Bool(true));
            }
            map.values_mut().for_each(adjust_schema);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(adjust_schema),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn selectors_match_as_kubernetes_does() {
        let by_labels: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"created-by": "kubeless", "topic": "orders"}
        }))
        .expect("selector");
        assert!(by_labels.matches(&labels(&[
            ("created-by", "kubeless"),
            ("topic", "orders"),
            ("function", "f")
        ])));
        assert!(!by_labels.matches(&labels(&[("created-by", "kubeless")])));
        assert!(
            LabelSelector::default().matches(&labels(&[])),
            "empty selects all"
        );
        let by_expressions: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [
                {"key": "function", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .expect("selector");
        assert!(by_expressions.matches(&labels(&[("function", "a")])));
        assert!(!by_expressions.matches(&labels(&[("function", "c")])));
        assert!(!by_expressions.matches(&labels(&[("function", "a"), ("canary", "1")])));
        let unknown = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Near".into(),
                values: vec![],
            }],
            ..LabelSelector::default()
        };
        assert!(!unknown.matches(&labels(&[("a", "1")])));
    }

    #[test]
    fn the_clis_trigger_objects_parse() {
        let kafka: KafkaTrigger = serde_json::from_value(serde_json::json!({
            "apiVersion": "kubeless.io/v1beta1", "kind": "KafkaTrigger",
            "metadata": {"name": "t", "namespace": "default", "labels": {"created-by": "kubeless"}},
            "spec": {"topic": "s3", "functionSelector": {"matchLabels": {"function": "f"}}}
        }))
        .expect("KafkaTrigger");
        assert_eq!(kafka.spec.topic, "s3");
        let kinesis: KinesisTrigger = serde_json::from_value(serde_json::json!({
            "apiVersion": "kubeless.io/v1beta1", "kind": "KinesisTrigger",
            "metadata": {"name": "k"},
            "spec": {"function-name": "f", "aws-region": "us-west-2", "secret": "ec2",
                     "stream": "s", "shard": "shardId-000000000000", "endpoint": null}
        }))
        .expect("KinesisTrigger");
        assert_eq!(
            (kinesis.spec.shard.as_str(), kinesis.spec.endpoint.as_str()),
            ("shardId-000000000000", "")
        );
    }
}
