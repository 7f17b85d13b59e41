//! What Functions, written the way the kubeless CLI writes them, turn into.

#![allow(clippy::expect_used, reason = "tests")]

use std::collections::BTreeMap;

use fnhost_reconciler::crd::{Function, FunctionSpec};
use fnhost_reconciler::objects::{self, ClusterConfig, HpaVersion, Owner, PlanError};
use fnhost_runtime_config::catalogue::Catalogue;
use serde_json::{Value, json};

fn function(name: &str, spec: FunctionSpec) -> Function {
    let mut f = Function::new(name, spec);
    f.metadata.namespace = Some("default".to_owned());
    f.metadata.uid = Some("uid-1".to_owned());
    f.metadata.labels = Some(BTreeMap::from([(
        "created-by".to_owned(),
        "kubeless".to_owned(),
    )]));
    f
}

fn helloget() -> FunctionSpec {
    FunctionSpec {
        handler: "helloget.foo".to_owned(),
        function: "def foo(event, context):\n    return 'hello world'\n".to_owned(),
        function_content_type: "text".to_owned(),
        runtime: "python3.11".to_owned(),
        ..FunctionSpec::default()
    }
}

fn env_of(container: &Value) -> Vec<(String, String)> {
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or("").to_owned(),
                e["value"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn build(f: &Function) -> (Value, Value, Value) {
    let runtime = Catalogue::builtin()
        .get(&f.spec.runtime)
        .cloned()
        .expect("runtime");
    let owner = Owner::new(f);
    let config = ClusterConfig::default();
    (
        objects::config_map(&owner, &runtime).expect("configmap"),
        objects::deployment(&owner, &runtime, &config).expect("deployment"),
        objects::service(&owner).expect("service"),
    )
}

#[test]
fn a_text_python_function_becomes_configmap_deployment_and_service() {
    let f = function("get-python", helloget());
    let (cm, d, svc) = build(&f);
    assert_eq!(cm["data"]["handler"], "helloget.foo");
    assert_eq!(cm["data"]["helloget.py"], json!(f.spec.function));
    assert_eq!(cm["data"]["requirements.txt"], "");
    assert_eq!(cm["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    assert_eq!(cm["metadata"]["labels"]["created-by"], "kubeless");

    assert_eq!(
        d["spec"]["selector"]["matchLabels"],
        json!({"created-by": "kubeless", "function": "get-python"})
    );
    let template = &d["spec"]["template"];
    assert_eq!(template["metadata"]["labels"]["function"], "get-python");
    assert_eq!(
        template["metadata"]["annotations"]["prometheus.io/port"],
        "8080"
    );
    assert_eq!(
        template["spec"]["securityContext"],
        json!({"runAsUser": 1000, "fsGroup": 1000})
    );
    let main = &template["spec"]["containers"][0];
    assert_eq!(main["name"], "get-python");
    assert!(
        main["image"]
            .as_str()
            .expect("image")
            .starts_with("fnhost/runtime:python3.11"),
        "{}",
        main["image"]
    );
    assert_eq!(
        main["livenessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": 8080, "scheme": "HTTP"})
    );
    assert_eq!(
        main["readinessProbe"],
        json!({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 1})
    );
    assert_eq!(
        main["volumeMounts"],
        json!([
            {"name": "get-python", "mountPath": "/kubeless"},
            {"name": "fnhost-tmp", "mountPath": "/tmp"}
        ])
    );
    let env = env_of(main);
    let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "FUNC_HANDLER",
            "MOD_NAME",
            "FUNC_TIMEOUT",
            "FUNC_RUNTIME",
            "FUNC_MEMORY_LIMIT",
            "FUNC_PORT",
            "KUBELESS_INSTALL_VOLUME",
            "FNHOST_SHUTDOWN_DELAY",
            "PYTHONPATH"
        ]
    );
    assert!(env.contains(&("FNHOST_SHUTDOWN_DELAY".to_owned(), "5".to_owned())));
    assert!(env.contains(&("FUNC_TIMEOUT".to_owned(), "180".to_owned())));
    assert!(env.contains(&("FUNC_MEMORY_LIMIT".to_owned(), "0".to_owned())));

    let init = template["spec"]["initContainers"]
        .as_array()
        .expect("init containers");
    assert_eq!(init.len(), 1, "no deps: only prepare");
    assert_eq!(init[0]["name"], "prepare");
    assert_eq!(
        init[0]["args"][0],
        "cp /src/helloget.py /kubeless/helloget.py && \
         if [ -s /src/requirements.txt ]; then cp /src/requirements.txt /kubeless; fi"
    );
    let volumes = &template["spec"]["volumes"];
    assert_eq!(volumes[0], json!({"name": "get-python", "emptyDir": {}}));
    assert_eq!(
        volumes[1],
        json!({"name": "get-python-deps", "configMap": {"name": "get-python"}})
    );
    assert_eq!(volumes[2], json!({"name": "fnhost-tmp", "emptyDir": {}}));

    assert_eq!(
        svc["spec"]["ports"],
        json!([{"name": "http-function-port", "protocol": "TCP", "port": 8080, "targetPort": 8080}])
    );
    assert_eq!(
        svc["spec"]["selector"],
        json!({"created-by": "kubeless", "function": "get-python"})
    );
}

#[test]
fn deps_add_an_install_container_that_checks_the_file_first() {
    let mut spec = helloget();
    spec.deps = "bs4\n".to_owned();
    let (_, d, _) = build(&function("get-python-deps", spec));
    let init = d["spec"]["template"]["spec"]["initContainers"]
        .as_array()
        .expect("init");
    assert_eq!(init.len(), 2);
    let install = &init[1];
    assert_eq!(install["name"], "install");
    let script = install["args"][0].as_str().expect("script");
    assert!(
        script.contains("sha256sum -c /tmp/deps.sha256 && python3.11 -m pip install"),
        "{script}"
    );
    let env = env_of(install);
    assert!(env.contains(&(
        "KUBELESS_DEPS_FILE".to_owned(),
        "/kubeless/requirements.txt".to_owned()
    )));
    assert_eq!(install["workingDir"], "/kubeless");
}

#[test]
fn a_custom_port_reaches_env_probe_annotations_and_service() {
    let mut spec = helloget();
    spec.service = Some(
        json!({"ports": [{"name": "http-function-port", "port": 8081, "targetPort": 8081}], "type": "ClusterIP"}),
    );
    let (_, d, svc) = build(&function("get-python-custom-port", spec));
    let main = &d["spec"]["template"]["spec"]["containers"][0];
    assert!(env_of(main).contains(&("FUNC_PORT".to_owned(), "8081".to_owned())));
    assert_eq!(main["ports"][0]["containerPort"], 8081);
    assert_eq!(main["livenessProbe"]["httpGet"]["port"], 8081);
    assert_eq!(main["readinessProbe"]["httpGet"]["port"], 8081);
    assert_eq!(
        d["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"],
        "8081"
    );
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8081);
    assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP");
}

#[test]
fn the_users_deployment_is_kept_env_first_and_memory_limit_passed_on() {
    let mut spec = helloget();
    spec.deployment = Some(json!({
        "metadata": {"annotations": {"team": "a"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{
            "name": "", "env": [{"name": "foo", "value": "bar"}],
            "resources": {"limits": {"memory": "128Mi"}, "requests": {"memory": "128Mi"}}
        }]}}}
    }));
    let (_, d, _) = build(&function("get-python-metadata", spec));
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["annotations"]["team"], "a");
    let main = &d["spec"]["template"]["spec"]["containers"][0];
    let env = env_of(main);
    assert_eq!(env[0], ("foo".to_owned(), "bar".to_owned()));
    assert!(env.contains(&("FUNC_MEMORY_LIMIT".to_owned(), "128Mi".to_owned())));
    assert_eq!(main["resources"]["limits"]["memory"], "128Mi");
}

#[test]
fn a_function_without_labels_gets_a_selector_its_pods_match() {
    let mut f = function("unlabelled", helloget());
    f.metadata.labels = None;
    let (_, d, _) = build(&f);
    let selector = d["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels");
    assert_eq!(selector.get("function"), Some(&json!("unlabelled")));
    let pod_labels = &d["spec"]["template"]["metadata"]["labels"];
    for (key, value) in selector {
        assert_eq!(&pod_labels[key], value, "selector {key} not on the pods");
    }
}

#[test]
fn a_users_own_tmp_mount_is_kept_and_no_second_one_added() {
    let mut spec = helloget();
    spec.deployment = Some(json!({
        "spec": {"template": {"spec": {
            "containers": [{"name": "", "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}]}],
            "volumes": [{"name": "scratch", "emptyDir": {"medium": "Memory"}}]
        }}}
    }));
    let (_, d, _) = build(&function("own-tmp", spec));
    let pod = &d["spec"]["template"]["spec"];
    let tmp_mounts: Vec<_> = pod["containers"][0]["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .filter(|m| m["mountPath"] == "/tmp")
        .collect();
    assert_eq!(
        tmp_mounts,
        [&json!({"name": "scratch", "mountPath": "/tmp"})]
    );
    let names: Vec<&str> = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(!names.contains(&"fnhost-tmp"), "{names:?}");
}

#[test]
fn a_users_shutdown_delay_and_readiness_probe_win() {
    let mut spec = helloget();
    spec.deployment = Some(json!({
        "spec": {"template": {"spec": {"containers": [{
            "name": "",
            "env": [{"name": "FNHOST_SHUTDOWN_DELAY", "value": "12"}],
            "readinessProbe": {"tcpSocket": {"port": 8080}}
        }]}}}
    }));
    let (_, d, _) = build(&function("get-python-delay", spec));
    let main = &d["spec"]["template"]["spec"]["containers"][0];
    let delays: Vec<_> = env_of(main)
        .into_iter()
        .filter(|(name, _)| name == "FNHOST_SHUTDOWN_DELAY")
        .collect();
    assert_eq!(
        delays,
        [("FNHOST_SHUTDOWN_DELAY".to_owned(), "12".to_owned())]
    );
    assert_eq!(main["readinessProbe"], json!({"tcpSocket": {"port": 8080}}));
}

#[test]
fn a_custom_image_gets_no_init_containers_or_install_volume() {
    let mut spec = helloget();
    spec.deployment = Some(
        json!({"spec": {"template": {"spec": {"containers": [{"image": "example/prebuilt:1"}]}}}}),
    );
    let (_, d, _) = build(&function("custom-get-python", spec));
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["image"], "example/prebuilt:1");
    assert!(pod.get("initContainers").is_none());
    assert!(pod.get("volumes").is_none());
}

#[test]
fn zip_with_bundled_deps_is_unpacked_and_installed() {
    let mut spec = helloget();
    spec.handler = "hellowithdeps.foo".to_owned();
    spec.function = "UEsDBBQAAAAIAA==".to_owned();
    spec.function_content_type = "base64+zip+deps".to_owned();
    let (cm, d, _) = build(&function("get-python-deps-zip", spec));
    assert!(cm["data"].get("hellowithdeps").is_some(), "{cm}");
    let init = d["spec"]["template"]["spec"]["initContainers"]
        .as_array()
        .expect("init");
    assert_eq!(
        init[0]["args"][0],
        "base64 -d < /src/hellowithdeps > /tmp/func.decoded && unzip -o /tmp/func.decoded -d /kubeless"
    );
    assert_eq!(init[1]["name"], "install");
    assert!(
        !init[1]["args"][0]
            .as_str()
            .expect("script")
            .contains("sha256sum")
    );
}

#[test]
fn bad_functions_say_what_is_wrong() {
    let runtime = Catalogue::builtin()
        .get("python3.11")
        .cloned()
        .expect("runtime");
    let mut spec = helloget();
    spec.handler = "nodot".to_owned();
    let f = function("bad", spec);
    let err = objects::config_map(&Owner::new(&f), &runtime).expect_err("bad handler");
    assert!(matches!(err, PlanError::Handler(_)));
    assert!(err.to_string().contains("module_name.handler_name"));

    let mut spec = helloget();
    spec.function_content_type = "base64+rar".to_owned();
    let f = function("bad2", spec);
    let err = objects::deployment(&Owner::new(&f), &runtime, &ClusterConfig::default())
        .expect_err("bad type");
    assert!(err.to_string().contains("base64+rar"), "{err}");
}

#[test]
fn autoscaling_is_rewritten_from_v2beta1_for_the_server() {
    let mut spec = helloget();
    spec.horizontal_pod_autoscaler = Some(json!({
        "metadata": {"name": "get-python"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1beta1", "kind": "Deployment", "name": "get-python"},
            "minReplicas": 3, "maxReplicas": 3,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "targetAverageUtilization": 70}},
                {"type": "Object", "object": {"metricName": "function_calls", "target": {"kind": "Service", "name": "get-python"}, "targetValue": "10"}}
            ]
        }
    }));
    let f = function("get-python", spec);
    let hpa = objects::horizontal_pod_autoscaler(&Owner::new(&f), HpaVersion::V2beta2)
        .expect("valid")
        .expect("present");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2beta2");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "get-python"})
    );
    assert_eq!(hpa["spec"]["minReplicas"], 3);
    assert_eq!(
        hpa["spec"]["metrics"][0],
        json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}})
    );
    assert_eq!(
        hpa["spec"]["metrics"][1],
        json!({"type": "Object", "object": {
            "metric": {"name": "function_calls"},
            "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "get-python"},
            "target": {"type": "Value", "value": "10"}
        }})
    );
    let none = function("plain", helloget());
    assert_eq!(
        objects::horizontal_pod_autoscaler(&Owner::new(&none), HpaVersion::V2).expect("valid"),
        None
    );
}

#[test]
fn the_committed_crd_manifests_are_current() {
    let generated = fnhost_reconciler::manifests::crds_yaml().expect("render");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/crds.yaml");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "manifests/crds.yaml is stale: run `cargo run -p fnhost-reconciler -- crds > manifests/crds.yaml`"
    );
}

/// `kubeless function deploy` writes these empty shapes into every Function.
#[test]
fn the_clis_empty_deployment_and_autoscaler_are_harmless() {
    let mut spec = helloget();
    spec.deployment = Some(json!({
        "metadata": {"creationTimestamp": null},
        "spec": {"strategy": {}, "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": [{"name": "", "resources": {}}]}}},
        "status": {}
    }));
    spec.horizontal_pod_autoscaler = Some(json!({
        "metadata": {"creationTimestamp": null},
        "spec": {"maxReplicas": 0, "scaleTargetRef": {"kind": "", "name": ""}},
        "status": {"conditions": null, "currentMetrics": null, "currentReplicas": 0, "desiredReplicas": 0}
    }));
    let f = function("get-python", spec);
    let (_, d, _) = build(&f);
    assert!(d.get("status").is_none());
    assert_eq!(
        d["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}})
    );
    let main = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(main["name"], "get-python");
    assert!(
        main["image"]
            .as_str()
            .expect("image")
            .starts_with("fnhost/runtime:")
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["initContainers"][0]["name"],
        "prepare"
    );
    assert_eq!(
        objects::horizontal_pod_autoscaler(&Owner::new(&f), HpaVersion::V2).expect("valid"),
        None
    );
}

/// kube-apiserver 1.20 hands empty strings back as `null`.
#[test]
fn null_strings_read_as_empty() {
    let spec: FunctionSpec =
        serde_json::from_value(json!({"handler": "a.b", "deps": null, "checksum": null}))
            .expect("parses");
    assert_eq!(spec.deps, "");
    assert_eq!(spec.checksum, "");
}

#[test]
fn the_committed_install_manifest_is_current() {
    let objects = fnhost_reconciler::manifests::install_objects().expect("objects");
    let generated =
        fnhost_reconciler::manifests::to_yaml("install-manifest", &objects).expect("render");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests/install.yaml");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "manifests/install.yaml is stale: run `cargo run -p fnhost-reconciler -- install-manifest > manifests/install.yaml`"
    );
}

/// The reconciler image builds this crate and runs `fnhost-reconciler run` as user 1000, under
/// the name the install manifest uses.
#[test]
fn the_reconciler_image_matches_the_install_manifest() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../images/reconciler/Dockerfile"
    );
    let text = std::fs::read_to_string(path).expect("images/reconciler/Dockerfile");
    assert!(text.contains("cargo build --release --locked -p fnhost-reconciler"));
    assert_eq!(
        text.lines().rev().find(|l| l.starts_with("USER ")),
        Some("USER 1000")
    );
    assert!(
        text.contains(r#"ENTRYPOINT ["fnhost-reconciler"]"#) && text.contains(r#"CMD ["run"]"#)
    );
    assert!(
        text.contains(&format!("-t {} .", fnhost_reconciler::manifests::IMAGE)),
        "the image tag of install.yaml"
    );
    let install = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../manifests/install.yaml"
    ))
    .expect("install.yaml");
    assert!(install.contains(&format!("image: {}", fnhost_reconciler::manifests::IMAGE)));
}

/// `kubeless autoscale create --metric qps` needs Prometheus to scrape the function.
#[test]
fn call_rate_autoscaling_asks_for_a_service_monitor() {
    let mut spec = helloget();
    spec.horizontal_pod_autoscaler = Some(
        json!({"spec": {"scaleTargetRef": {"name": "get-python"}, "maxReplicas": 3,
        "metrics": [{"type": "Object", "object": {"metricName": "function_calls", "target": {"kind": "Service", "name": "get-python"}, "targetValue": "10"}}]}}),
    );
    let f = function("get-python", spec);
    let owner = Owner::new(&f);
    assert!(objects::wants_call_rate(&owner));
    let monitor = objects::service_monitor(&owner, "v1");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["labels"]["service-monitor"], "function");
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"],
        json!({"function": "get-python"})
    );
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        "http-function-port"
    );
    let plain = function("plain", helloget());
    assert!(!objects::wants_call_rate(&Owner::new(&plain)));
}
