//! ConfigMap `<name>` (handler, source, dependency file) and Service `<name>`.

use fnhost_runtime_config::catalogue::Runtime;
use serde_json::{Value, json};

use super::{Owner, PlanError, split_handler};
use crate::content::{ContentType, file_name};

/// ConfigMap `<name>`: `handler`, the source under its file name, and the dependency file
/// (possibly empty) when the runtime has one.
pub fn config_map(owner: &Owner<'_>, runtime: &Runtime) -> Result<Value, PlanError> {
    let spec = &owner.function.spec;
    let (module, _) = split_handler(&spec.handler)?;
    let content: ContentType = spec.function_content_type.parse()?;
    let mut data = serde_json::Map::new();
    data.insert("handler".to_owned(), json!(spec.handler));
    data.insert(
        file_name(module, &runtime.suffix, content)?,
        json!(spec.function),
    );
    if !runtime.dep_file.is_empty() {
        data.insert(runtime.dep_file.clone(), json!(spec.deps));
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": owner.child_metadata(&owner.name),
        "data": data,
    }))
}

/// The container port: `spec.service.ports[0].targetPort`, else its `port`, else 8080.
pub fn target_port(owner: &Owner<'_>) -> i64 {
    let first = owner
        .function
        .spec
        .service
        .as_ref()
        .and_then(|s| s.get("ports"))
        .and_then(|p| p.get(0));
    first
        .and_then(|p| {
            p.get("targetPort")
                .and_then(Value::as_i64)
                .or_else(|| p.get("port").and_then(Value::as_i64))
        })
        .unwrap_or(8080)
}

/// Service `<name>`: `spec.service` as given (every port with a `protocol`, which server-side
/// apply on 1.20 needs), or one `http-function-port` TCP port 8080 selecting the function's pods.
pub fn service(owner: &Owner<'_>) -> Result<Value, PlanError> {
    let mut spec = owner
        .function
        .spec
        .service
        .clone()
        .unwrap_or_else(|| json!({}));
    let Some(map) = spec.as_object_mut() else {
        return Err(PlanError::Shape {
            field: "spec.service",
            detail: "not an object".to_owned(),
        });
    };
    let has_ports = map
        .get("ports")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    if !has_ports {
        map.insert(
            "ports".to_owned(),
            json!([{ "name": "http-function-port", "protocol": "TCP", "port": 8080, "targetPort": 8080 }]),
        );
    }
    for port in map
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(port) = port.as_object_mut() {
            port.entry("protocol").or_insert_with(|| json!("TCP"));
        }
    }
    map.entry("selector").or_insert_with(|| json!(owner.labels));
    map.entry("type").or_insert_with(|| json!("ClusterIP"));
    // Fields the API server assigns; applying them would fight it.
    map.remove("clusterIPs");
    if map
        .get("clusterIP")
        .and_then(Value::as_str)
        .is_some_and(|ip| ip != "None")
    {
        map.remove("clusterIP");
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owner.child_metadata(&owner.name),
        "spec": spec,
    }))
}
