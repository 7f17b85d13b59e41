//! Deployment `<name>` (`kubeless-contract.md` §6.4): the user's `spec.deployment` (over the
//! cluster's `deployment` defaults), plus the install volume, the `prepare`/`install`/`compile`
//! init containers from the runtime catalogue, the Kubeless environment, the Prometheus
//! annotations, the liveness and readiness probes, the shutdown delay, and `runAsUser`/`fsGroup` 1000.

use fnhost_runtime_config::catalogue::{Phase, Runtime};
use serde_json::{Map, Value, json};

use super::{
    ClusterConfig, Owner, PlanError, default_liveness, default_readiness, merge_under, object_at,
    split_handler, target_port, timeout_seconds,
};
use crate::content::{
    ContentType, INSTALL_VOLUME, PrepareInput, SOURCE_MOUNT, file_name, install_script,
    prepare_script,
};

/// The Deployment to apply.
pub fn deployment(
    owner: &Owner<'_>,
    runtime: &Runtime,
    config: &ClusterConfig,
) -> Result<Value, PlanError> {
    let spec = &owner.function.spec;
    let mut d = spec.deployment.clone().unwrap_or_else(|| json!({}));
    if !d.is_object() {
        return Err(PlanError::Shape {
            field: "spec.deployment",
            detail: "not an object".to_owned(),
        });
    }
    merge_under(&mut d, &config.deployment_defaults);
    if let Some(map) = d.as_object_mut() {
        // Status is the API server's; the CLI writes an empty one.
        map.remove("status");
    }
    let port = target_port(owner);
    let custom_image = first_container_image(&d).is_some();

    set_metadata(&mut d, owner);
    set_selector_and_strategy(&mut d, owner);
    set_template_metadata(&mut d, owner, port);
    let pod = object_at(&mut d, &["spec", "template", "spec"]);
    pod.entry("securityContext")
        .or_insert_with(|| json!({ "runAsUser": 1000, "fsGroup": 1000 }));
    pod.entry("affinity")
        .or_insert_with(|| anti_affinity(&owner.name));
    add_pull_secrets(pod, &config.image_pull_secrets);
    let main = main_container(pod, &owner.name);
    let user_env = main.get("env").cloned().unwrap_or_else(|| json!([]));
    let user_env_for_phases = user_env.clone();
    let memory_limit = main
        .get("resources")
        .and_then(|r| r.pointer("/limits/memory"))
        .map_or_else(|| "0".to_owned(), quantity_text);
    main.insert("name".to_owned(), json!(owner.name));
    main.entry("image").or_insert_with(|| json!(runtime.image));
    main.insert(
        "env".to_owned(),
        json!(function_env(owner, runtime, port, &memory_limit, user_env)?),
    );
    main.entry("ports")
        .or_insert_with(|| json!([{ "containerPort": port, "protocol": "TCP" }]));
    main.entry("livenessProbe")
        .or_insert_with(|| default_liveness(port));
    main.entry("readinessProbe")
        .or_insert_with(|| default_readiness(port));
    if !custom_image {
        push(
            main,
            "volumeMounts",
            json!({ "name": owner.name, "mountPath": INSTALL_VOLUME }),
        );
        let tmp_mounted = mounts_path(main, "/tmp");
        if !tmp_mounted {
            push(
                main,
                "volumeMounts",
                json!({ "name": TMP_VOLUME, "mountPath": "/tmp" }),
            );
        }
        let init = init_containers(owner, runtime, config, &user_env_for_phases)?;
        let pod = object_at(&mut d, &["spec", "template", "spec"]);
        push(
            pod,
            "volumes",
            json!({ "name": owner.name, "emptyDir": {} }),
        );
        push(
            pod,
            "volumes",
            json!({ "name": format!("{}-deps", owner.name), "configMap": { "name": owner.name } }),
        );
        if !tmp_mounted {
            push(
                pod,
                "volumes",
                json!({ "name": TMP_VOLUME, "emptyDir": {} }),
            );
        }
        for container in init {
            push(pod, "initContainers", container);
        }
    }
    Ok(d)
}

fn first_container_image(d: &Value) -> Option<&str> {
    d.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn set_metadata(d: &mut Value, owner: &Owner<'_>) {
    let user_annotations = d.pointer("/metadata/annotations").cloned();
    let mut metadata = owner.child_metadata(&owner.name);
    if let Some(annotations) = user_annotations {
        metadata["annotations"] = annotations;
    }
    d["apiVersion"] = json!("apps/v1");
    d["kind"] = json!("Deployment");
    d["metadata"] = metadata;
}

/// The selector is `function: <name>`, plus `created-by` when the Function has that label
/// (the CLI always writes `created-by: kubeless`); a Function made with `kubectl` without it
/// must still get a selector its pods' labels match.
fn set_selector_and_strategy(d: &mut Value, owner: &Owner<'_>) {
    let mut match_labels = Map::new();
    if let Some(created_by) = owner.labels.get("created-by") {
        match_labels.insert("created-by".to_owned(), json!(created_by));
    }
    match_labels.insert("function".to_owned(), json!(owner.name));
    let spec = object_at(d, &["spec"]);
    spec.insert(
        "selector".to_owned(),
        json!({ "matchLabels": match_labels }),
    );
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if strategy.as_object().is_none_or(Map::is_empty) {
        *strategy = json!({ "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 0 } });
    }
}

fn set_template_metadata(d: &mut Value, owner: &Owner<'_>, port: i64) {
    let labels = object_at(d, &["spec", "template", "metadata", "labels"]);
    for (k, v) in &owner.labels {
        labels.insert(k.clone(), json!(v));
    }
    let annotations = object_at(d, &["spec", "template", "metadata", "annotations"]);
    if let Some(function_annotations) = &owner.function.metadata.annotations {
        for (k, v) in function_annotations {
            if k != "kubectl.kubernetes.io/last-applied-configuration" {
                annotations.insert(k.clone(), json!(v));
            }
        }
    }
    annotations.insert("prometheus.io/scrape".to_owned(), json!("true"));
    annotations.insert("prometheus.io/path".to_owned(), json!("/metrics"));
    annotations.insert("prometheus.io/port".to_owned(), json!(port.to_string()));
}

fn anti_affinity(name: &str) -> Value {
    json!({ "podAntiAffinity": { "preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100,
        "podAffinityTerm": {
            "labelSelector": { "matchLabels": { "created-by": "kubeless", "function": name } },
            "topologyKey": "kubernetes.io/hostname",
        },
    }] } })
}

fn add_pull_secrets(pod: &mut Map<String, Value>, secrets: &[String]) {
    for secret in secrets {
        push(pod, "imagePullSecrets", json!({ "name": secret }));
    }
}

/// Container 0, created if the template has none.
fn main_container<'p>(pod: &'p mut Map<String, Value>, name: &str) -> &'p mut Map<String, Value> {
    let containers = pod.entry("containers").or_insert_with(|| json!([]));
    if !containers.is_array() {
        *containers = json!([]);
    }
    let list = containers
        .as_array_mut()
        .unwrap_or_else(|| unreachable!("made an array above"));
    if list.is_empty() {
        list.push(json!({ "name": name }));
    }
    if !list[0].is_object() {
        list[0] = json!({ "name": name });
    }
    list[0]
        .as_object_mut()
        .unwrap_or_else(|| unreachable!("made an object above"))
}

/// The runtime container's `/tmp`: an emptyDir, so that fnhost's sockets and worker shims and
/// the function's own temporary files have a place when the root filesystem is read-only
/// (`securityContext.readOnlyRootFilesystem`). Not added when the user mounts `/tmp` already.
const TMP_VOLUME: &str = "fnhost-tmp";

fn mounts_path(container: &Map<String, Value>, path: &str) -> bool {
    container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .is_some_and(|mounts| {
            mounts
                .iter()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(path))
        })
}

fn push(map: &mut Map<String, Value>, key: &str, item: Value) {
    let slot = map.entry(key.to_owned()).or_insert_with(|| json!([]));
    if !slot.is_array() {
        *slot = json!([]);
    }
    if let Some(list) = slot.as_array_mut() {
        list.push(item);
    }
}

fn quantity_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// fnhost serves on this long after SIGTERM while the endpoints drop the pod (a user's own
/// value in `spec.deployment` wins); kube-proxy follows an endpoint change within a second or
/// two, and the default `terminationGracePeriodSeconds` of 30 covers this plus
/// `SHUTDOWN_TIMEOUT`.
const SHUTDOWN_DELAY: &str = "FNHOST_SHUTDOWN_DELAY";
const SHUTDOWN_DELAY_SECONDS: &str = "5";

/// User env first, then the Kubeless variables, then the runtime's own (kubelet expands
/// `$(KUBELESS_INSTALL_VOLUME)` in them).
fn function_env(
    owner: &Owner<'_>,
    runtime: &Runtime,
    port: i64,
    memory_limit: &str,
    user_env: Value,
) -> Result<Vec<Value>, PlanError> {
    let spec = &owner.function.spec;
    let mut env: Vec<Value> = match user_env {
        Value::Array(list) => list,
        _ => Vec::new(),
    };
    let ours = [
        "FUNC_HANDLER",
        "MOD_NAME",
        "FUNC_TIMEOUT",
        "FUNC_RUNTIME",
        "FUNC_MEMORY_LIMIT",
        "FUNC_PORT",
        "KUBELESS_INSTALL_VOLUME",
    ];
    env.retain(|e| {
        !e.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| ours.contains(&n))
    });
    let has_shutdown_delay = env
        .iter()
        .any(|e| e.get("name").and_then(Value::as_str) == Some(SHUTDOWN_DELAY));
    let mut add = |name: &str, value: String| env.push(json!({ "name": name, "value": value }));
    if !spec.handler.is_empty() && !spec.function.is_empty() {
        let (module, function) = split_handler(&spec.handler)?;
        add("FUNC_HANDLER", function.to_owned());
        add("MOD_NAME", module.to_owned());
        add("FUNC_TIMEOUT", timeout_seconds(&spec.timeout)?);
        add("FUNC_RUNTIME", spec.runtime.clone());
        add("FUNC_MEMORY_LIMIT", memory_limit.to_owned());
    }
    add("FUNC_PORT", port.to_string());
    add("KUBELESS_INSTALL_VOLUME", INSTALL_VOLUME.to_owned());
    if !has_shutdown_delay {
        add(SHUTDOWN_DELAY, SHUTDOWN_DELAY_SECONDS.to_owned());
    }
    for (name, value) in &runtime.runtime_env {
        add(name, value.clone());
    }
    Ok(env)
}

fn init_containers(
    owner: &Owner<'_>,
    runtime: &Runtime,
    config: &ClusterConfig,
    user_env: &Value,
) -> Result<Vec<Value>, PlanError> {
    let spec = &owner.function.spec;
    let content: ContentType = spec.function_content_type.parse()?;
    let mut containers = Vec::new();
    let install_mount = json!({ "name": owner.name, "mountPath": INSTALL_VOLUME });
    if !spec.function.is_empty() {
        let (module, _) = split_handler(&spec.handler)?;
        let file = file_name(module, &runtime.suffix, content)?;
        let dep_file = Some(runtime.dep_file.as_str()).filter(|d| !d.is_empty());
        let script = prepare_script(&PrepareInput {
            content,
            file_name: &file,
            function: &spec.function,
            checksum: &spec.checksum,
            dep_file,
        })?;
        containers.push(json!({
            "name": "prepare",
            "image": config.provision_image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c"],
            "args": [script],
            "volumeMounts": [install_mount, { "name": format!("{}-deps", owner.name), "mountPath": SOURCE_MOUNT }],
        }));
    }
    let wants_install = !spec.deps.is_empty() || content.bundled_deps;
    if let Some(phase) = runtime.install.as_ref().filter(|_| wants_install) {
        let script = install_script(&phase.command, &spec.deps, &runtime.dep_file);
        let env = phase_env(
            user_env,
            phase,
            &[(
                "KUBELESS_DEPS_FILE",
                format!("{INSTALL_VOLUME}/{}", runtime.dep_file),
            )],
        );
        containers.push(phase_container(
            "install",
            phase,
            &script,
            &env,
            &install_mount,
        ));
    }
    if let Some(phase) = &runtime.compile {
        let function = split_handler(&spec.handler)
            .map(|(_, f)| f.to_owned())
            .unwrap_or_default();
        let env = phase_env(user_env, phase, &[("KUBELESS_FUNC_NAME", function)]);
        containers.push(phase_container(
            "compile",
            phase,
            &phase.command,
            &env,
            &install_mount,
        ));
    }
    Ok(containers)
}

/// The user's env (as upstream), then the phase's inputs and the phase's own env.
fn phase_env(user_env: &Value, phase: &Phase, extra: &[(&str, String)]) -> Vec<Value> {
    let mut env: Vec<Value> = user_env.as_array().cloned().unwrap_or_default();
    env.push(json!({ "name": "KUBELESS_INSTALL_VOLUME", "value": INSTALL_VOLUME }));
    env.extend(extra.iter().map(|(k, v)| json!({ "name": k, "value": v })));
    env.extend(
        phase
            .env
            .iter()
            .map(|(k, v)| json!({ "name": k, "value": v })),
    );
    env
}

fn phase_container(name: &str, phase: &Phase, script: &str, env: &[Value], mount: &Value) -> Value {
    json!({
        "name": name,
        "image": phase.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c"],
        "args": [script],
        "workingDir": INSTALL_VOLUME,
        "env": env,
        "volumeMounts": [mount],
    })
}
