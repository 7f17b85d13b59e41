//! Triggers and functions from a file, to run the dispatcher without Kubernetes (locally, and
//! in the broker tests against functions served by fnhost on the host). The triggers are the
//! objects as `kubectl get -o yaml` shows them; each function has a name, a namespace, labels
//! and the URL it answers on:
//!
//! ```yaml
//! triggers:
//!   - apiVersion: kubeless.io/v1beta1
//!     kind: NATSTrigger
//!     metadata: {name: orders, namespace: default}
//!     spec: {topic: orders, functionSelector: {matchLabels: {topic: orders}}}
//! functions:
//!   - {name: hello, namespace: default, labels: {topic: orders}, url: "http://127.0.0.1:8080/"}
//! secrets:   # what a KinesisTrigger's `secret` names
//!   - {name: ec2, namespace: default, aws_access_key_id: AKID, aws_secret_access_key: KEY}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use http::Uri;
use serde::Deserialize;

use fnhost_trigger_kinesis::AccessKey;

use crate::plan::{FunctionTarget, Triggers};

/// A routes file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    /// It cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not the expected YAML.
    #[error("{path}: {detail}")]
    Shape {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    #[serde(default)]
    triggers: Vec<serde_json::Value>,
    #[serde(default)]
    functions: Vec<FunctionEntry>,
    #[serde(default)]
    secrets: Vec<SecretEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretEntry {
    name: String,
    #[serde(default = "default_namespace")]
    namespace: String,
    aws_access_key_id: String,
    aws_secret_access_key: String,
}

/// What a routes file holds.
#[derive(Debug, Default)]
pub struct Routes {
    /// The triggers.
    pub triggers: Triggers,
    /// The functions they may select.
    pub functions: Vec<FunctionTarget>,
    /// AWS access keys by (namespace, Secret name).
    pub secrets: BTreeMap<(String, String), AccessKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionEntry {
    name: String,
    #[serde(default = "default_namespace")]
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    url: String,
}

fn default_namespace() -> String {
    "default".to_owned()
}

/// Reads a routes file.
pub fn read(path: &Path) -> Result<Routes, RoutesError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| RoutesError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text).map_err(|detail| RoutesError::Shape {
        path: shown,
        detail,
    })
}

/// Parses the text of a routes file.
pub fn parse(text: &str) -> Result<Routes, String> {
    let file: RoutesFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let mut triggers = Triggers::default();
    for (i, object) in file.triggers.into_iter().enumerate() {
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let bad = |e: serde_json::Error| format!("triggers[{i}] ({kind}): {e}");
        match kind.as_str() {
            "KafkaTrigger" => triggers
                .kafka
                .push(serde_json::from_value(object).map_err(bad)?),
            "NATSTrigger" => triggers
                .nats
                .push(serde_json::from_value(object).map_err(bad)?),
            "KinesisTrigger" => triggers
                .kinesis
                .push(serde_json::from_value(object).map_err(bad)?),
            other => {
                return Err(format!(
                    "triggers[{i}]: kind {other:?} is not KafkaTrigger, NATSTrigger or KinesisTrigger"
                ));
            }
        }
    }
    let functions = file
        .functions
        .into_iter()
        .map(|f| {
            let url = f
                .url
                .parse::<Uri>()
                .map_err(|e| format!("function {}: url {:?}: {e}", f.name, f.url))?;
            Ok(FunctionTarget {
                namespace: f.namespace,
                name: f.name,
                labels: f.labels,
                url,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let secrets = file
        .secrets
        .into_iter()
        .map(|s| {
            let key = AccessKey {
                id: s.aws_access_key_id,
                secret: s.aws_secret_access_key,
            };
            ((s.namespace, s.name), key)
        })
        .collect();
    Ok(Routes {
        triggers,
        functions,
        secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routes_file_parses_and_bad_ones_say_why() {
        let routes = parse(
            r#"
triggers:
  - apiVersion: kubeless.io/v1beta1
    kind: NATSTrigger
    metadata: {name: orders, namespace: default}
    spec: {topic: orders, functionSelector: {matchLabels: {topic: orders}}}
functions:
  - {name: hello, labels: {topic: orders}, url: "http://127.0.0.1:8080/"}
"#,
        )
        .expect("parses");
        assert_eq!(routes.triggers.nats.len(), 1);
        assert_eq!(routes.functions[0].namespace, "default");
        let error = parse("triggers: [{kind: Function}]").expect_err("not a trigger");
        assert!(error.contains("Function"), "{error}");
        let error = parse("functions: [{name: f, url: 'http://a b'}]").expect_err("bad url");
        assert!(error.contains("function f"), "{error}");
    }
}
