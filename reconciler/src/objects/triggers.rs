//! Triggers: a CronJobTrigger becomes a CronJob that calls the function with the Kubeless
//! event headers (`kubeless-contract.md` §7.2); an HTTPTrigger becomes an Ingress (§7.1).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{PlanError, owned_metadata, timeout_seconds};
use crate::crd::{CronJobTrigger, Function, HTTPTrigger};

/// The CronJob API the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronJobVersion {
    /// `batch/v1` (1.21+).
    V1,
    /// `batch/v1beta1` (up to 1.24).
    V1beta1,
}

impl CronJobVersion {
    /// `apiVersion` value.
    pub fn api_version(self) -> &'static str {
        match self {
            CronJobVersion::V1 => "batch/v1",
            CronJobVersion::V1beta1 => "batch/v1beta1",
        }
    }
}

/// The port of the function's Service (`spec.service.ports[0].port`, default 8080).
pub fn service_port(function: &Function) -> i64 {
    function
        .spec
        .service
        .as_ref()
        .and_then(|s| s.pointer("/ports/0/port"))
        .and_then(Value::as_i64)
        .unwrap_or(8080)
}

/// Labels of a trigger's object: the function's, overridden by the trigger's, plus
/// `created-by: kubeless`.
fn merged_labels(
    function: &Function,
    trigger: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut labels = function.metadata.labels.clone().unwrap_or_default();
    labels.extend(trigger.cloned().unwrap_or_default());
    labels.insert("created-by".to_owned(), "kubeless".to_owned());
    labels
}

/// Quotes `text` for `sh` in single quotes.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The shell command of the CronJob's container: upstream's curl with the event headers;
/// a POST of the payload when there is one, else a GET.
pub fn cron_curl(function: &Function, payload: Option<&Value>) -> String {
    let name = function.metadata.name.as_deref().unwrap_or_default();
    let namespace = function.metadata.namespace.as_deref().unwrap_or("default");
    let mut command = format!(
        "curl -Lv -H \"Event-Id: $(POD_UID)\" -H \"Event-Time: $(date --rfc-3339=seconds --utc)\" \
         -H \"Event-Namespace: cronjobtrigger.kubeless.io\" -H \"Event-Type: application/json\" \
         -H \"Content-Type: application/json\" http://{name}.{namespace}.svc.cluster.local:{}",
        service_port(function)
    );
    if let Some(payload) = payload.filter(|p| !p.is_null()) {
        command.push_str(" -d ");
        command.push_str(&shell_quote(&payload.to_string()));
    }
    command
}

/// CronJob `trigger-<function>`.
pub fn cron_job(
    trigger: &CronJobTrigger,
    function: &Function,
    provision_image: &str,
    version: CronJobVersion,
) -> Result<Value, PlanError> {
    let spec = &trigger.spec;
    if spec.schedule.split_whitespace().count() != 5 && !spec.schedule.starts_with('@') {
        return Err(PlanError::Shape {
            field: "spec.schedule",
            detail: format!("{:?} is not a cron schedule", spec.schedule),
        });
    }
    let function_name = function.metadata.name.clone().unwrap_or_default();
    let namespace = trigger
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let trigger_name = trigger.metadata.name.clone().unwrap_or_default();
    let uid = trigger.metadata.uid.clone().unwrap_or_default();
    let labels = merged_labels(function, trigger.metadata.labels.as_ref());
    let deadline: i64 = timeout_seconds(&function.spec.timeout)?
        .parse()
        .unwrap_or(180);
    Ok(json!({
        "apiVersion": version.api_version(),
        "kind": "CronJob",
        "metadata": owned_metadata(&format!("trigger-{function_name}"), &namespace, &labels, ("CronJobTrigger", &trigger_name, &uid)),
        "spec": {
            "schedule": spec.schedule,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": { "spec": {
                "activeDeadlineSeconds": deadline,
                "template": { "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "trigger",
                        "image": provision_image,
                        "env": [{ "name": "POD_UID", "valueFrom": { "fieldRef": { "fieldPath": "metadata.uid" } } }],
                        "resources": {
                            "limits": { "cpu": "100m", "memory": "64Mi" },
                            "requests": { "cpu": "10m", "memory": "16Mi" },
                        },
                        "command": ["/bin/sh", "-c"],
                        "args": [cron_curl(function, spec.payload.as_ref())],
                    }],
                } },
            } },
        },
    }))
}

/// Ingress `<trigger>` routing `host-name`/`path` to the function's Service.
pub fn ingress(trigger: &HTTPTrigger, function: &Function) -> Result<Value, PlanError> {
    let spec = &trigger.spec;
    let shape = |detail: &str| PlanError::Shape {
        field: "HTTPTrigger spec",
        detail: detail.to_owned(),
    };
    if spec.host_name.is_empty() {
        return Err(shape("host-name is required"));
    }
    if spec.tls && !spec.tls_secret.is_empty() {
        return Err(shape("tls (ACME) and tls-secret cannot both be set"));
    }
    let gateway = if spec.gateway.is_empty() {
        "nginx"
    } else {
        spec.gateway.as_str()
    };
    let mut annotations: BTreeMap<String, String> =
        trigger.metadata.annotations.clone().unwrap_or_default();
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    let nginx = gateway == "nginx";
    match gateway {
        "nginx" => {
            annotations.insert(
                "nginx.ingress.kubernetes.io/rewrite-target".to_owned(),
                "/".to_owned(),
            );
            annotations.insert("kubernetes.io/ingress.class".to_owned(), "nginx".to_owned());
        }
        "traefik" | "kong" => {
            annotations.insert("kubernetes.io/ingress.class".to_owned(), gateway.to_owned());
        }
        other => {
            return Err(shape(&format!(
                "unknown gateway {other:?} (nginx, traefik or kong)"
            )));
        }
    }
    if spec.cors_enable {
        let key = if nginx {
            "nginx.ingress.kubernetes.io/enable-cors"
        } else {
            "ingress.kubernetes.io/enable-cors"
        };
        annotations.insert(key.to_owned(), "true".to_owned());
    }
    if !spec.basic_auth_secret.is_empty() {
        let prefix = match gateway {
            "nginx" => "nginx.ingress.kubernetes.io",
            "traefik" => "ingress.kubernetes.io",
            _ => {
                return Err(shape(
                    "basic authentication is not supported with the kong gateway",
                ));
            }
        };
        annotations.insert(
            format!("{prefix}/auth-secret"),
            spec.basic_auth_secret.clone(),
        );
        annotations.insert(format!("{prefix}/auth-type"), "basic".to_owned());
    }
    let trigger_name = trigger.metadata.name.clone().unwrap_or_default();
    let mut tls = Vec::new();
    if spec.tls {
        annotations.insert("kubernetes.io/tls-acme".to_owned(), "true".to_owned());
        annotations.insert(
            "nginx.ingress.kubernetes.io/ssl-redirect".to_owned(),
            "true".to_owned(),
        );
        tls.push(json!({ "hosts": [spec.host_name], "secretName": format!("{trigger_name}-tls") }));
    } else if !spec.tls_secret.is_empty() {
        tls.push(json!({ "hosts": [spec.host_name], "secretName": spec.tls_secret }));
    }
    let namespace = trigger
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let uid = trigger.metadata.uid.clone().unwrap_or_default();
    let mut metadata = owned_metadata(
        &trigger_name,
        &namespace,
        &merged_labels(function, trigger.metadata.labels.as_ref()),
        ("HTTPTrigger", &trigger_name, &uid),
    );
    metadata["annotations"] = json!(annotations);
    let mut ingress_spec = json!({ "rules": [{
        "host": spec.host_name,
        "http": { "paths": [{
            "path": format!("/{}", spec.path.trim_start_matches('/')),
            "pathType": "Prefix",
            "backend": { "service": {
                "name": function.metadata.name.clone().unwrap_or_default(),
                "port": { "number": service_port(function) },
            } },
        }] },
    }] });
    if !tls.is_empty() {
        ingress_spec["tls"] = json!(tls);
    }
    Ok(
        json!({ "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": ingress_spec }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{CronJobTriggerSpec, FunctionSpec, HttpTriggerSpec};

    fn function() -> Function {
        let mut f = Function::new(
            "get-python",
            FunctionSpec {
                timeout: "60".to_owned(),
                ..FunctionSpec::default()
            },
        );
        f.metadata.namespace = Some("ns1".to_owned());
        f.metadata.labels = Some(BTreeMap::from([(
            "function".to_owned(),
            "get-python".to_owned(),
        )]));
        f
    }

    #[test]
    fn cron_jobs_curl_the_function_with_the_event_headers() {
        let mut trigger = CronJobTrigger::new(
            "get-python",
            CronJobTriggerSpec {
                schedule: "* * * * *".to_owned(),
                function_name: "get-python".to_owned(),
                payload: None,
            },
        );
        trigger.metadata.namespace = Some("ns1".to_owned());
        let job = cron_job(&trigger, &function(), "img", CronJobVersion::V1beta1).expect("valid");
        assert_eq!(job["apiVersion"], "batch/v1beta1");
        assert_eq!(job["metadata"]["name"], "trigger-get-python");
        assert_eq!(
            job["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"],
            60
        );
        let args = job
            .pointer("/spec/jobTemplate/spec/template/spec/containers/0/args/0")
            .and_then(Value::as_str)
            .expect("args");
        assert!(
            args.starts_with("curl -Lv -H \"Event-Id: $(POD_UID)\""),
            "{args}"
        );
        assert!(
            args.ends_with("http://get-python.ns1.svc.cluster.local:8080"),
            "{args}"
        );

        trigger.spec.payload = Some(json!({"it's": "alive"}));
        let job = cron_job(&trigger, &function(), "img", CronJobVersion::V1).expect("valid");
        let args = job
            .pointer("/spec/jobTemplate/spec/template/spec/containers/0/args/0")
            .and_then(Value::as_str)
            .expect("args");
        assert!(args.ends_with(r#" -d '{"it'\''s":"alive"}'"#), "{args}");

        trigger.spec.schedule = "every minute".to_owned();
        assert!(cron_job(&trigger, &function(), "img", CronJobVersion::V1).is_err());
    }

    #[test]
    fn ingresses_route_the_host_and_path_with_gateway_annotations() {
        let mut trigger = HTTPTrigger::new(
            "ing-get-python",
            HttpTriggerSpec {
                function_name: "get-python".to_owned(),
                host_name: "test.domain".to_owned(),
                path: "get-python".to_owned(),
                basic_auth_secret: "basic-auth".to_owned(),
                tls_secret: "foo-secret".to_owned(),
                cors_enable: true,
                ..HttpTriggerSpec::default()
            },
        );
        trigger.metadata.namespace = Some("ns1".to_owned());
        let ing = ingress(&trigger, &function()).expect("valid");
        let annotations = &ing["metadata"]["annotations"];
        assert_eq!(annotations["kubernetes.io/ingress.class"], "nginx");
        assert_eq!(
            annotations["nginx.ingress.kubernetes.io/auth-secret"],
            "basic-auth"
        );
        assert_eq!(
            annotations["nginx.ingress.kubernetes.io/enable-cors"],
            "true"
        );
        let path = &ing["spec"]["rules"][0]["http"]["paths"][0];
        assert_eq!(path["path"], "/get-python");
        assert_eq!(
            path["backend"]["service"],
            json!({"name": "get-python", "port": {"number": 8080}})
        );
        assert_eq!(
            ing["spec"]["tls"],
            json!([{"hosts": ["test.domain"], "secretName": "foo-secret"}])
        );

        trigger.spec.tls = true;
        assert!(
            ingress(&trigger, &function()).is_err(),
            "tls and tls-secret together"
        );
        trigger.spec.tls_secret.clear();
        trigger.spec.gateway = "kong".to_owned();
        assert!(
            ingress(&trigger, &function()).is_err(),
            "kong has no basic auth"
        );
    }
}
