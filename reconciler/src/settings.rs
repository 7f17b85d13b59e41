//! The `kubeless-config` ConfigMap (`kubeless-contract.md` §5.1): where the reconciler reads
//! its runtimes (`runtime-images`, upstream's JSON shape) and cluster-wide defaults, and the
//! ConfigMap fnhost ships, generated from the Rust catalogue so the two cannot drift.

use std::collections::BTreeMap;

use fnhost_runtime_config::catalogue::Catalogue;
use fnhost_runtime_config::runtime_images;
use serde_json::{Value, json};

use crate::objects::{ClusterConfig, DEFAULT_PROVISION_IMAGE};

/// Default namespace and name of the ConfigMap (overridden by `KUBELESS_NAMESPACE` and
/// `KUBELESS_CONFIG`, as upstream).
pub const DEFAULT_NAMESPACE: &str = "kubeless";
/// See [`DEFAULT_NAMESPACE`].
pub const DEFAULT_NAME: &str = "kubeless-config";

/// A `kubeless-config` that cannot be used; the reconciler refuses to start on it.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `runtime-images` is not the upstream JSON shape.
    #[error("kubeless-config runtime-images: {0}")]
    RuntimeImages(#[from] runtime_images::RuntimeImagesError),
    /// `deployment` is not a YAML or JSON object.
    #[error("kubeless-config deployment: {0}")]
    Deployment(String),
}

/// What the reconciler takes from the ConfigMap.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Runtimes.
    pub catalogue: Catalogue,
    /// Cluster-wide defaults.
    pub config: ClusterConfig,
}

impl Settings {
    /// The built-in catalogue and defaults (no ConfigMap).
    pub fn builtin() -> Settings {
        Settings {
            catalogue: Catalogue::builtin(),
            config: ClusterConfig::default(),
        }
    }

    /// Reads the ConfigMap's `data`. Missing keys take the built-in values.
    pub fn from_data(data: &BTreeMap<String, String>) -> Result<Settings, SettingsError> {
        let catalogue = match data
            .get("runtime-images")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            Some(text) => runtime_images::parse(text)?,
            None => Catalogue::builtin(),
        };
        let deployment_defaults = match data
            .get("deployment")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            Some(text) => {
                let value: Value = serde_yaml::from_str(text)
                    .map_err(|e| SettingsError::Deployment(e.to_string()))?;
                if !value.is_object() {
                    return Err(SettingsError::Deployment("not an object".to_owned()));
                }
                value
            }
            None => json!({}),
        };
        let provision_image = data
            .get("provision-image")
            .filter(|s| !s.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| DEFAULT_PROVISION_IMAGE.to_owned());
        let image_pull_secrets = ["provision-image-secret", "builder-image-secret"]
            .iter()
            .filter_map(|key| data.get(*key))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        Ok(Settings {
            catalogue,
            config: ClusterConfig {
                provision_image,
                deployment_defaults,
                image_pull_secrets,
            },
        })
    }
}

/// The `kubeless-config` ConfigMap fnhost ships: every runtime of the built-in catalogue,
/// pointing at fnhost images, in upstream's `runtime-images` shape (so `kubeless function
/// deploy --runtime python3.11` passes the CLI's own runtime check).
pub fn shipped_config_map(namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": DEFAULT_NAME, "namespace": namespace },
        "data": {
            "runtime-images": runtime_images::render(&Catalogue::builtin()),
            "deployment": "{}",
            "provision-image": DEFAULT_PROVISION_IMAGE,
            "provision-image-secret": "",
            "builder-image-secret": "",
            "enable-build-step": "false",
            "ingress-enabled": "false",
            "service-type": "ClusterIP",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_map_reads_back_as_the_builtin_catalogue() {
        let shipped = shipped_config_map("kubeless");
        let data: BTreeMap<String, String> =
            serde_json::from_value(shipped["data"].clone()).expect("string data");
        let settings = Settings::from_data(&data).expect("valid");
        assert_eq!(settings.catalogue.ids(), Catalogue::builtin().ids());
        assert_eq!(settings.config, ClusterConfig::default());
    }

    #[test]
    fn deployment_defaults_and_secrets_are_read() {
        let data = BTreeMap::from([
            ("deployment".to_owned(), "spec:\n  replicas: 2\n".to_owned()),
            ("provision-image-secret".to_owned(), "regcred".to_owned()),
            ("provision-image".to_owned(), "example/unzip:1".to_owned()),
        ]);
        let settings = Settings::from_data(&data).expect("valid");
        assert_eq!(
            settings.config.deployment_defaults,
            json!({"spec": {"replicas": 2}})
        );
        assert_eq!(settings.config.image_pull_secrets, ["regcred"]);
        assert_eq!(settings.config.provision_image, "example/unzip:1");
    }

    #[test]
    fn broken_values_are_refused_with_the_key_named() {
        let data = BTreeMap::from([("runtime-images".to_owned(), "not json".to_owned())]);
        let err = Settings::from_data(&data).expect_err("refused");
        assert!(err.to_string().contains("runtime-images"), "{err}");
        let data = BTreeMap::from([("deployment".to_owned(), "- a list".to_owned())]);
        assert!(Settings::from_data(&data).is_err());
    }
}
