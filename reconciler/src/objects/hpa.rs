//! HorizontalPodAutoscaler `<name>` from `spec.horizontalPodAutoscaler`, which the kubeless CLI
//! writes in the `autoscaling/v2beta1` shape. It is rewritten for the newest version the
//! server offers: `autoscaling/v2` (1.23+) or `autoscaling/v2beta2` (1.12–1.25), which share
//! one shape.

use serde_json::{Value, json};

use super::{Owner, PlanError};

/// The HPA API versions fnhost can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpaVersion {
    /// `autoscaling/v2`.
    V2,
    /// `autoscaling/v2beta2`.
    V2beta2,
}

impl HpaVersion {
    /// `apiVersion` value.
    pub fn api_version(self) -> &'static str {
        match self {
            HpaVersion::V2 => "autoscaling/v2",
            HpaVersion::V2beta2 => "autoscaling/v2beta2",
        }
    }
}

/// The HPA to apply, or `None` when the Function asks for none (then any HPA `<name>` owned
/// by it is deleted). The kubeless CLI always writes an empty HPA (no target name, 0 replicas):
/// as upstream, only one with a `scaleTargetRef.name` counts.
pub fn horizontal_pod_autoscaler(
    owner: &Owner<'_>,
    version: HpaVersion,
) -> Result<Option<Value>, PlanError> {
    let Some(requested) = owner.function.spec.horizontal_pod_autoscaler.as_ref() else {
        return Ok(None);
    };
    let target = requested
        .pointer("/spec/scaleTargetRef/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if target.is_empty() {
        return Ok(None);
    }
    let spec = requested.get("spec").cloned().unwrap_or_else(|| json!({}));
    let shape = |detail: &str| PlanError::Shape {
        field: "spec.horizontalPodAutoscaler",
        detail: detail.to_owned(),
    };
    let max = spec
        .get("maxReplicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| shape("spec.maxReplicas is required"))?;
    let mut out_spec = json!({
        "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": owner.name },
        "maxReplicas": max,
    });
    if let Some(min) = spec.get("minReplicas").and_then(Value::as_i64) {
        out_spec["minReplicas"] = json!(min);
    }
    let metrics: Vec<Value> = spec
        .get("metrics")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .map(|metric| convert_metric(metric, &owner.name))
                .collect::<Result<_, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    if !metrics.is_empty() {
        out_spec["metrics"] = json!(metrics);
    }
    Ok(Some(json!({
        "apiVersion": version.api_version(),
        "kind": "HorizontalPodAutoscaler",
        "metadata": owner.child_metadata(&owner.name),
        "spec": out_spec,
    })))
}

/// One v2beta1 metric (or one already in the v2 shape) in the v2 shape.
fn convert_metric(metric: &Value, function: &str) -> Result<Value, PlanError> {
    let shape = |detail: String| PlanError::Shape {
        field: "spec.horizontalPodAutoscaler.spec.metrics",
        detail,
    };
    match metric.get("type").and_then(Value::as_str) {
        Some("Resource") => {
            let resource = &metric["resource"];
            if resource.get("target").is_some() {
                return Ok(metric.clone());
            }
            let name = resource.get("name").cloned().unwrap_or(json!("cpu"));
            let target = if let Some(u) = resource.get("targetAverageUtilization") {
                json!({ "type": "Utilization", "averageUtilization": u })
            } else if let Some(v) = resource.get("targetAverageValue") {
                json!({ "type": "AverageValue", "averageValue": v })
            } else {
                return Err(shape(
                    "a Resource metric needs targetAverageUtilization or targetAverageValue"
                        .to_owned(),
                ));
            };
            Ok(json!({ "type": "Resource", "resource": { "name": name, "target": target } }))
        }
        Some("Object") => {
            let object = &metric["object"];
            if object.get("describedObject").is_some() {
                return Ok(metric.clone());
            }
            let metric_name = object
                .get("metricName")
                .cloned()
                .unwrap_or(json!("function_calls"));
            let described = object
                .get("target")
                .cloned()
                .unwrap_or(json!({ "kind": "Service", "name": function }));
            let mut described = described;
            described
                .as_object_mut()
                .map(|d| d.entry("apiVersion").or_insert(json!("v1")));
            let value = object
                .get("targetValue")
                .cloned()
                .ok_or_else(|| shape("an Object metric needs targetValue".to_owned()))?;
            Ok(json!({
                "type": "Object",
                "object": {
                    "metric": { "name": metric_name },
                    "describedObject": described,
                    "target": { "type": "Value", "value": value },
                },
            }))
        }
        other => Err(shape(format!(
            "unsupported metric type {other:?} (Resource and Object are)"
        ))),
    }
}

/// `true` when the Function autoscales on the `function_calls` object metric (upstream's
/// `kubeless autoscale --metric qps`), which needs Prometheus to scrape the function.
pub fn wants_call_rate(owner: &Owner<'_>) -> bool {
    let metrics = owner
        .function
        .spec
        .horizontal_pod_autoscaler
        .as_ref()
        .and_then(|hpa| hpa.pointer("/spec/metrics"))
        .and_then(Value::as_array);
    metrics.into_iter().flatten().any(|m| {
        m["type"] == "Object"
            && (m.pointer("/object/metricName") == Some(&json!("function_calls"))
                || m.pointer("/object/metric/name") == Some(&json!("function_calls")))
    })
}

/// ServiceMonitor `<name>` (Prometheus Operator, `monitoring.coreos.com/<version>`) scraping
/// the function's `http-function-port`, as upstream created for qps autoscaling.
pub fn service_monitor(owner: &Owner<'_>, version: &str) -> Value {
    let mut metadata = owner.child_metadata(&owner.name);
    metadata["labels"]["service-monitor"] = json!("function");
    json!({
        "apiVersion": format!("monitoring.coreos.com/{version}"),
        "kind": "ServiceMonitor",
        "metadata": metadata,
        "spec": {
            "selector": { "matchLabels": { "function": owner.name } },
            "endpoints": [{ "port": "http-function-port", "path": "/metrics" }],
        },
    })
}
