//! `fnhost-reconciler`: the cluster side of fnhost. It watches `kubeless.io/v1beta1` Function
//! objects (as `kubeless function deploy` writes them) and keeps a ConfigMap, a Deployment on
//! the fnhost runtime image, a Service and an autoscaler in sync with each
//! (`kubeless-contract.md` §6).
//!
//! # Layout
//!
//! - [`crd`]: the custom resource types (crate `fnhost-kubeless-api`, shared with the
//!   dispatcher); the CRD manifests are generated from them.
//! - [`content`]: content types and the shell steps of the `prepare`/`install` init containers.
//! - [`objects`]: pure functions from a Function to the JSON of its child objects.
//! - [`apply`]: what the loops share: their context, errors, server-side apply, retries.
//! - [`controller`]: the watch loop that applies them and reports status.
//! - [`triggers`]: the CronJobTrigger and HTTPTrigger loops.
//! - [`observe`]: Events, counters, and the `/metrics` and `/healthz` endpoint.
//! - [`settings`]: the `kubeless-config` ConfigMap, read and shipped.
//! - [`manifests`]: the install manifest (CRDs, RBAC, ConfigMap, the reconciler Deployment).

pub mod apply;
pub mod content;
pub mod controller;
pub use fnhost_kubeless_api as crd;
pub mod manifests;
pub mod objects;
pub mod observe;
pub mod settings;
pub mod triggers;

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

/// Connecting to the API server failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The kubeconfig could not be read.
    #[error("cannot read the kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// No configuration could be inferred.
    #[error("no Kubernetes configuration found: {0}")]
    Infer(#[from] kube::config::InferConfigError),
    /// The `kubeless-config` ConfigMap is unusable.
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    /// The metrics registry could not be set up.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The client could not be built or the server not asked.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// A client from `kubeconfig`, or inferred (in-cluster, `KUBECONFIG`, `~/.kube/config`).
pub async fn connect(kubeconfig: Option<&str>) -> Result<Client, ConnectError> {
    let config = match kubeconfig {
        Some(path) => {
            Config::from_custom_kubeconfig(
                Kubeconfig::read_from(path)?,
                &KubeConfigOptions::default(),
            )
            .await?
        }
        None => Config::infer().await?,
    };
    Ok(Client::try_from(config)?)
}

/// The reconciler's context: runtimes and defaults from the `kubeless-config` ConfigMap at
/// `config_map` (`(namespace, name)`; the built-in ones when it does not exist), and the HPA
/// and CronJob API versions the server offers.
pub async fn context(
    client: Client,
    config_map: (&str, &str),
) -> Result<controller::Context, ConnectError> {
    let (namespace, name) = config_map;
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client.clone(), namespace);
    let settings = match api.get_opt(name).await? {
        Some(cm) => settings::Settings::from_data(&cm.data.unwrap_or_default())?,
        None => {
            tracing::warn!(
                namespace,
                name,
                "no kubeless-config ConfigMap; using the built-in runtime catalogue"
            );
            settings::Settings::builtin()
        }
    };
    let hpa_version = controller::discover_hpa_version(&client).await?;
    let cronjob_version = triggers::discover_cronjob_version(&client).await?;
    let client_for_events = client.clone();
    Ok(controller::Context {
        client,
        catalogue: settings.catalogue,
        config: settings.config,
        hpa_version,
        cronjob_version,
        service_monitor_version: controller::discover_service_monitor_version(&client_for_events)
            .await,
        events: observe::Events::new(client_for_events),
        metrics: std::sync::Arc::new(observe::Metrics::new()?),
        backoff: observe::Backoff::default(),
    })
}
