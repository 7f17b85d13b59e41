//! The watch loop: every change of a Function (or of an object it owns) reconciles it by
//! server-side applying the objects of [`crate::objects`], and reports the outcome in the
//! Function's `Ready` condition. The `kubeless.io/function` finalizer deletes the children
//! when the Function goes (owner references would too, given a garbage collector; the
//! finalizer makes it immediate and visible).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, Event as FinalizerEvent};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};

pub use crate::apply::{Context, MANAGER, ReconcileError};
use crate::apply::{apply_object, backoff_key, resource, retry_after_error};
use crate::crd::Function;
use crate::objects::{self, HpaVersion, Owner, PlanError};

/// The finalizer name, upstream's, so Functions created under Kubeless keep working.
pub const FINALIZER: &str = "kubeless.io/function";
/// How often a healthy Function is looked at again, to undo drift.
const RESYNC: Duration = Duration::from_secs(300);

/// Finds the HPA API version to write: `autoscaling/v2`, else `v2beta2`, else none.
pub async fn discover_hpa_version(client: &Client) -> Result<Option<HpaVersion>, kube::Error> {
    let group = kube::discovery::group(client, "autoscaling").await?;
    let versions: Vec<&str> = group.versions().collect();
    Ok(if versions.contains(&"v2") {
        Some(HpaVersion::V2)
    } else if versions.contains(&"v2beta2") {
        Some(HpaVersion::V2beta2)
    } else {
        None
    })
}

/// Finds the ServiceMonitor version the server offers (`monitoring.coreos.com`), if any.
pub async fn discover_service_monitor_version(client: &Client) -> Option<String> {
    let group = kube::discovery::group(client, "monitoring.coreos.com")
        .await
        .ok()?;
    group
        .versions()
        .find(|v| {
            group
                .versioned_resources(v)
                .iter()
                .any(|(ar, _)| ar.kind == "ServiceMonitor")
        })
        .map(str::to_owned)
}

/// Runs the Function loop and the trigger loops until `shutdown` resolves.
pub async fn run(context: Context, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let context = Arc::new(context);
    futures::join!(
        run_functions(context.clone(), shutdown.clone()),
        crate::triggers::run(context, shutdown)
    );
}

async fn run_functions(
    context: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = context.client.clone();
    let config = watcher::Config::default();
    Controller::new(Api::<Function>::all(client.clone()), config.clone())
        .owns(Api::<Deployment>::all(client.clone()), config.clone())
        .owns(Api::<Service>::all(client.clone()), config.clone())
        .owns(Api::<ConfigMap>::all(client), config)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(|outcome| async move {
            match outcome {
                Ok((object, _)) => tracing::debug!(function = %object, "reconciled"),
                Err(e) => tracing::warn!("reconcile failed: {e}"),
            }
        })
        .await;
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "the signature Controller::run expects"
)]
fn error_policy(function: Arc<Function>, error: &ReconcileError, context: Arc<Context>) -> Action {
    retry_after_error("Function", function.as_ref(), error, &context)
}

async fn reconcile(
    function: Arc<Function>,
    context: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = function.namespace().unwrap_or_else(|| "default".to_owned());
    let api: Api<Function> = Api::namespaced(context.client.clone(), &namespace);
    finalizer::finalizer(&api, FINALIZER, function, |event| async {
        match event {
            FinalizerEvent::Apply(function) => {
                let action = apply(&function, &context).await?;
                context
                    .backoff
                    .succeeded(&backoff_key("Function", function.as_ref()));
                Ok(action)
            }
            FinalizerEvent::Cleanup(function) => cleanup(&function, &context).await,
        }
    })
    .await
    .map_err(|e| ReconcileError::Finalizer(e.to_string()))
}

/// The objects a Function becomes, or why it cannot become any.
fn plan(function: &Function, context: &Context) -> Result<(Vec<Value>, bool), PlanError> {
    let runtime = context
        .catalogue
        .get(&function.spec.runtime)
        .ok_or_else(|| PlanError::Shape {
            field: "spec.runtime",
            detail: format!(
                "runtime {:?} is not in the catalogue (available: {})",
                function.spec.runtime,
                context.catalogue.ids().join(", ")
            ),
        })?;
    let owner = Owner::new(function);
    let mut out = vec![
        objects::config_map(&owner, runtime)?,
        objects::deployment(&owner, runtime, &context.config)?,
        objects::service(&owner)?,
    ];
    let wants_hpa = match context.hpa_version {
        Some(version) => match objects::horizontal_pod_autoscaler(&owner, version)? {
            Some(hpa) => {
                out.push(hpa);
                true
            }
            None => false,
        },
        None if objects::horizontal_pod_autoscaler(&owner, HpaVersion::V2)?.is_some() => {
            return Err(PlanError::Shape {
                field: "spec.horizontalPodAutoscaler",
                detail: "the API server offers neither autoscaling/v2 nor autoscaling/v2beta2"
                    .to_owned(),
            });
        }
        None => false,
    };
    if let Some(version) = &context.service_monitor_version
        && objects::wants_call_rate(&owner)
    {
        out.push(objects::service_monitor(&owner, version));
    }
    Ok((out, wants_hpa))
}

async fn apply(function: &Function, context: &Context) -> Result<Action, ReconcileError> {
    let (objects, wants_hpa) = match plan(function, context) {
        Ok(planned) => planned,
        Err(problem) => {
            tracing::warn!(function = %function.name_any(), "cannot deploy: {problem}");
            set_ready(
                function,
                context,
                false,
                "InvalidFunction",
                &problem.to_string(),
            )
            .await?;
            let reference = function.object_ref(&());
            context
                .events
                .publish(&reference, true, "InvalidFunction", problem.to_string())
                .await;
            context.metrics.reconciled("Function", "invalid");
            return Ok(Action::await_change());
        }
    };
    let namespace = function.namespace().unwrap_or_else(|| "default".to_owned());
    for object in &objects {
        apply_object(&context.client, &namespace, object).await?;
    }
    if !wants_hpa && let Some(version) = context.hpa_version {
        delete_if_present(
            &context.client,
            &namespace,
            &hpa_resource(version),
            &function.name_any(),
        )
        .await?;
    }
    let wants_monitor = objects.iter().any(|o| o["kind"] == "ServiceMonitor");
    if let Some(ar) = service_monitor_resource(context).filter(|_| !wants_monitor) {
        delete_if_present(&context.client, &namespace, &ar, &function.name_any()).await?;
    }
    if context.service_monitor_version.is_none() && objects::wants_call_rate(&Owner::new(function))
    {
        tracing::warn!(
            function = %function.name_any(),
            "autoscaling on function_calls needs Prometheus to scrape the function, but the cluster has no ServiceMonitor API"
        );
    }
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    let message = format!("applied {}", kinds.join(", "));
    let was_ready = function.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    });
    set_ready(function, context, true, "Applied", &message).await?;
    if !was_ready
        || function.status.as_ref().and_then(|s| s.observed_generation)
            != function.metadata.generation
    {
        context
            .events
            .publish(&function.object_ref(&()), false, "Applied", message)
            .await;
    }
    context.metrics.reconciled("Function", "applied");
    Ok(Action::requeue(RESYNC))
}

async fn cleanup(function: &Function, context: &Context) -> Result<Action, ReconcileError> {
    let namespace = function.namespace().unwrap_or_else(|| "default".to_owned());
    let name = function.name_any();
    let mut resources = vec![
        resource("apps", "v1", "Deployment", "deployments"),
        resource("", "v1", "Service", "services"),
        resource("", "v1", "ConfigMap", "configmaps"),
    ];
    if let Some(version) = context.hpa_version {
        resources.push(hpa_resource(version));
    }
    resources.extend(service_monitor_resource(context));
    for ar in &resources {
        delete_if_present(&context.client, &namespace, ar, &name).await?;
    }
    tracing::info!(function = %name, namespace, "deleted the function's objects");
    context.metrics.reconciled("Function", "deleted");
    Ok(Action::await_change())
}

fn hpa_resource(version: HpaVersion) -> ApiResource {
    let v = version.api_version().trim_start_matches("autoscaling/");
    resource(
        "autoscaling",
        v,
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    )
}

fn service_monitor_resource(context: &Context) -> Option<ApiResource> {
    let version = context.service_monitor_version.as_deref()?;
    Some(resource(
        "monitoring.coreos.com",
        version,
        "ServiceMonitor",
        "servicemonitors",
    ))
}

async fn delete_if_present(
    client: &Client,
    namespace: &str,
    ar: &ApiResource,
    name: &str,
) -> Result<(), ReconcileError> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, ar);
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sets the `Ready` condition (and `observedGeneration`), keeping `lastTransitionTime` when
/// the status does not change.
async fn set_ready(
    function: &Function,
    context: &Context,
    ready: bool,
    reason: &str,
    message: &str,
) -> Result<(), ReconcileError> {
    let status = if ready { "True" } else { "False" };
    let previous = function
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .filter(|c| c.status == status)
        .map(|c| c.last_transition_time.clone());
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let patch = json!({
        "apiVersion": Function::api_version(&()),
        "kind": Function::kind(&()),
        "status": {
            "observedGeneration": function.metadata.generation,
            "conditions": [{
                "type": "Ready",
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": previous.unwrap_or(now),
            }],
        },
    });
    let namespace = function.namespace().unwrap_or_else(|| "default".to_owned());
    let api: Api<Function> = Api::namespaced(context.client.clone(), &namespace);
    api.patch_status(
        &function.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;
