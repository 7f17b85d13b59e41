//! `fnhost-reconciler`: the cluster side of fnhost. It watches `kubeless.io/v1beta1` Function
//! objects (as `kubeless function deploy` writes them) and keeps a ConfigMap, a Deployment on
//! the fnhost runtime image, a Service and an autoscaler in sync with each
//! (`kubeless-contract.md` §6).
//!
//! # Layout
//!
//! - [`crd`]: the custom resource types; the CRD manifests are generated from them.
//! - [`content`]: content types and the shell steps of the `prepare`/`install` init containers.
//! - [`objects`]: pure functions from a Function to the JSON of its child objects.
//! - [`controller`]: the watch loop that applies them and reports status.
//! - [`triggers`]: the CronJobTrigger and HTTPTrigger loops.

pub mod content;
pub mod controller;
pub mod crd;
pub mod objects;
pub mod triggers;

use fnhost_runtime_config::catalogue::Catalogue;
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

/// The reconciler's context: the built-in catalogue, default cluster settings, and the HPA
/// API version the server offers.
pub async fn context(client: Client) -> Result<controller::Context, ConnectError> {
    let hpa_version = controller::discover_hpa_version(&client).await?;
    let cronjob_version = triggers::discover_cronjob_version(&client).await?;
    Ok(controller::Context {
        client,
        catalogue: Catalogue::builtin(),
        config: objects::ClusterConfig::default(),
        hpa_version,
        cronjob_version,
    })
}
