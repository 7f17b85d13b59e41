//! The `kubeless.io/v1beta1` custom resources, field for field as the kubeless CLI writes
//! them (`kubeless-contract.md` §6.2, §7.1, §7.2). The CRD manifests in `manifests/crds.yaml`
//! are generated from these types (`fnhost-reconciler crds`) and checked by a test.

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
    #[schemars(schema_with = "crate::crd::any_object")]
    pub deployment: Option<serde_json::Value>,
    /// A `core/v1` ServiceSpec for the function's Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::any_object")]
    pub service: Option<serde_json::Value>,
    /// An `autoscaling/v2beta1` HorizontalPodAutoscaler (as `kubeless autoscale` writes it).
    #[serde(
        default,
        rename = "horizontalPodAutoscaler",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "crate::crd::any_object")]
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
    #[schemars(schema_with = "crate::crd::any_value")]
    pub payload: Option<serde_json::Value>,
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
    for crd in [Function::crd(), HTTPTrigger::crd(), CronJobTrigger::crd()] {
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
