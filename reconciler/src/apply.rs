//! What every reconcile loop shares (the Function loop in [`crate::controller`], the trigger
//! loops in [`crate::triggers`]): the [`Context`], the [`ReconcileError`], server-side applying
//! one object, and the retry with backoff after a failure.

use std::sync::Arc;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::controller::Action;
use kube::{Client, Resource, ResourceExt};
use serde_json::Value;

use crate::objects::{ClusterConfig, CronJobVersion, HpaVersion};
use fnhost_runtime_config::catalogue::Catalogue;

/// The field manager of every apply.
pub const MANAGER: &str = "fnhost-reconciler";
/// What the reconciler needs besides the Function.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Runtimes (from `kubeless-config` or built in).
    pub catalogue: Catalogue,
    /// Cluster-wide settings.
    pub config: ClusterConfig,
    /// The HPA API the server offers, if any.
    pub hpa_version: Option<HpaVersion>,
    /// The CronJob API the server offers, if any.
    pub cronjob_version: Option<CronJobVersion>,
    /// The Prometheus Operator's ServiceMonitor version the server offers, if any.
    pub service_monitor_version: Option<String>,
    /// Where Events go.
    pub events: crate::observe::Events,
    /// The reconciler's counters.
    pub metrics: Arc<crate::observe::Metrics>,
    /// Retry delays per object.
    pub backoff: crate::observe::Backoff,
}

/// A reconcile that failed and will be retried.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The API server refused or failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be turned into a request.
    #[error("cannot encode {kind}: {source}")]
    Encode {
        /// Which object.
        kind: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The finalizer machinery failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

/// Counts a failed reconcile of `object` and schedules the next attempt with its backoff.
pub(crate) fn retry_after_error<K: Resource>(
    kind: &str,
    object: &K,
    error: &ReconcileError,
    context: &Context,
) -> Action {
    context.metrics.reconciled(kind, "error");
    let delay = context.backoff.failed(&backoff_key(kind, object));
    tracing::warn!(kind, name = %object.name_any(), "retrying in {delay:?} after an error: {error}");
    Action::requeue(delay)
}

/// The backoff key of an object: `kind/namespace/name`.
pub(crate) fn backoff_key<K: Resource>(kind: &str, object: &K) -> String {
    format!(
        "{kind}/{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

pub(crate) fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn resource_of(object: &Value) -> Option<ApiResource> {
    let (api_version, kind) = (object["apiVersion"].as_str()?, object["kind"].as_str()?);
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "ConfigMap" => "configmaps",
        "Service" => "services",
        "Deployment" => "deployments",
        "HorizontalPodAutoscaler" => "horizontalpodautoscalers",
        "CronJob" => "cronjobs",
        "ServiceMonitor" => "servicemonitors",
        "Ingress" => "ingresses",
        _ => return None,
    };
    Some(resource(group, version, kind, plural))
}

/// Server-side applies one object, taking ownership of the fields it states.
pub(crate) async fn apply_object(
    client: &Client,
    namespace: &str,
    object: &Value,
) -> Result<(), ReconcileError> {
    let kind = object["kind"].as_str().unwrap_or("object").to_owned();
    let ar = resource_of(object).ok_or_else(|| ReconcileError::Encode {
        kind: kind.clone(),
        source: serde::de::Error::custom("unknown kind"),
    })?;
    let dynamic: DynamicObject = serde_json::from_value(object.clone())
        .map_err(|source| ReconcileError::Encode { kind, source })?;
    let name = dynamic.name_any();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&dynamic),
    )
    .await?;
    Ok(())
}
