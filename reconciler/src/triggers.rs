//! The trigger loops: a CronJobTrigger keeps a CronJob `trigger-<function>`, an HTTPTrigger
//! keeps an Ingress `<trigger>`, both owned by the trigger (so Kubernetes deletes them with it)
//! and rebuilt from the function they point at.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::apply::{Context, ReconcileError, apply_object, backoff_key, retry_after_error};
use crate::crd::{CronJobTrigger, Function, HTTPTrigger};
use crate::objects::{self, CronJobVersion};

/// How soon a trigger whose function does not exist (yet) is looked at again.
const MISSING_FUNCTION_RETRY: Duration = Duration::from_secs(15);

/// Finds the CronJob API version to write: `batch/v1` if it serves CronJobs, else `v1beta1`.
pub async fn discover_cronjob_version(
    client: &Client,
) -> Result<Option<CronJobVersion>, kube::Error> {
    let group = kube::discovery::group(client, "batch").await?;
    let serves = |version: &str| {
        group
            .versioned_resources(version)
            .iter()
            .any(|(ar, _)| ar.kind == "CronJob")
    };
    Ok(if serves("v1") {
        Some(CronJobVersion::V1)
    } else if serves("v1beta1") {
        Some(CronJobVersion::V1beta1)
    } else {
        None
    })
}

/// Runs both trigger loops until `shutdown` resolves.
pub async fn run(
    context: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let client = context.client.clone();
    let cron = Controller::new(
        Api::<CronJobTrigger>::all(client.clone()),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(shutdown.clone())
    .run(reconcile_cron, retry_soon, context.clone())
    .for_each(|outcome| async move {
        log_outcome("CronJobTrigger", outcome.map(|(o, _)| o.to_string()))
    });
    let http = Controller::new(Api::<HTTPTrigger>::all(client), watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile_http, retry_soon, context)
        .for_each(|outcome| async move {
            log_outcome("HTTPTrigger", outcome.map(|(o, _)| o.to_string()))
        });
    futures::join!(cron, http);
}

fn log_outcome<E: std::fmt::Display>(kind: &str, outcome: Result<String, E>) {
    match outcome {
        Ok(name) => tracing::debug!(kind, trigger = %name, "reconciled"),
        Err(e) => tracing::warn!(kind, "reconcile failed: {e}"),
    }
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "the signature Controller::run expects"
)]
fn retry_soon<K: kube::Resource>(
    trigger: Arc<K>,
    error: &ReconcileError,
    context: Arc<Context>,
) -> Action {
    retry_after_error("Trigger", trigger.as_ref(), error, &context)
}

/// The trigger's namespace and the function it points at; `None` (logged) when the function
/// does not exist (yet).
async fn target_function<K: kube::Resource>(
    context: &Context,
    trigger: &K,
    function: &str,
) -> Result<Option<(String, Function)>, ReconcileError> {
    let namespace = trigger.namespace().unwrap_or_else(|| "default".to_owned());
    let api: Api<Function> = Api::namespaced(context.client.clone(), &namespace);
    let found = api.get_opt(function).await?;
    if found.is_none() {
        context.metrics.reconciled("Trigger", "waiting");
        let trigger = trigger.name_any();
        tracing::warn!(
            trigger,
            function,
            "the trigger's function does not exist; retrying"
        );
    }
    Ok(found.map(|f| (namespace, f)))
}

async fn reconcile_cron(
    trigger: Arc<CronJobTrigger>,
    context: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let target = target_function(&context, trigger.as_ref(), &trigger.spec.function_name).await?;
    let Some((namespace, function)) = target else {
        return Ok(Action::requeue(MISSING_FUNCTION_RETRY));
    };
    let Some(version) = context.cronjob_version else {
        tracing::warn!(trigger = %trigger.name_any(), "the API server serves no CronJob API");
        return Ok(Action::await_change());
    };
    let planned = objects::cron_job(
        &trigger,
        &function,
        &context.config.provision_image,
        version,
    );
    apply_planned(&context, &namespace, trigger.as_ref(), planned).await
}

async fn reconcile_http(
    trigger: Arc<HTTPTrigger>,
    context: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let target = target_function(&context, trigger.as_ref(), &trigger.spec.function_name).await?;
    let Some((namespace, function)) = target else {
        return Ok(Action::requeue(MISSING_FUNCTION_RETRY));
    };
    let planned = objects::ingress(&trigger, &function);
    apply_planned(&context, &namespace, trigger.as_ref(), planned).await
}

async fn apply_planned<K: kube::Resource>(
    context: &Context,
    namespace: &str,
    trigger: &K,
    planned: Result<Value, objects::PlanError>,
) -> Result<Action, ReconcileError> {
    match planned {
        Ok(object) => {
            apply_object(&context.client, namespace, &object).await?;
            context.metrics.reconciled("Trigger", "applied");
            context.backoff.succeeded(&backoff_key("Trigger", trigger));
            Ok(Action::requeue(Duration::from_secs(300)))
        }
        Err(problem) => {
            tracing::warn!(trigger = %trigger.name_any(), "cannot apply the trigger: {problem}");
            context.metrics.reconciled("Trigger", "invalid");
            Ok(Action::await_change())
        }
    }
}
