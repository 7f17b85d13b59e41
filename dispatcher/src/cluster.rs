//! Cluster mode: the triggers and Functions come from the Kubernetes API. One watch per kind
//! (KafkaTrigger, NATSTrigger, KinesisTrigger, Function, all namespaces) keeps a local copy;
//! after any change (and once a minute, for Secrets, which are read rather than watched) the
//! pairs are planned again from the copies and handed to the [`Supervisor`], which leaves
//! unchanged pairs running.
//!
//! A function's URL is its Service, which the reconciler names after it:
//! `http://<name>.<namespace>.svc.cluster.local:<port>/`, the port being the first of the
//! Function's `spec.service.ports` (8080 without one), as upstream's trigger controllers did.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use fnhost_kubeless_api::{Function, KafkaTrigger, KinesisTrigger, NATSTrigger};
use fnhost_trigger_kinesis::AccessKey;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::plan::{self, FunctionTarget, Problem, Triggers};
use crate::supervisor::{Board, Env, Supervisor};

/// Changes that arrive together are planned once.
const SETTLE: Duration = Duration::from_millis(300);
/// Secrets are read again this often (a Kinesis trigger may name one created later).
const REREAD: Duration = Duration::from_secs(60);
/// The keys of a KinesisTrigger's Secret, as upstream's controller read them.
const ACCESS_KEY_ID: &str = "aws_access_key_id";
const SECRET_ACCESS_KEY: &str = "aws_secret_access_key";
/// What `/readyz` waits for until every watch has listed its kind once.
const FIRST_LIST: &str = "cluster: the first list of triggers and Functions";

/// The watched kinds' local copies.
struct Copies {
    kafka: Store<KafkaTrigger>,
    nats: Store<NATSTrigger>,
    kinesis: Store<KinesisTrigger>,
    functions: Store<Function>,
}

/// Watches the cluster and keeps the supervisor's pairs planned from it; returns only if the
/// watches end, which they do not while the process runs.
pub async fn run(client: Client, mut supervisor: Supervisor, env: Arc<Env>, board: Board) {
    board.wait_for(FIRST_LIST);
    let changed = Arc::new(Notify::new());
    let copies = Copies {
        kafka: watch(Api::all(client.clone()), &changed),
        nats: watch(Api::all(client.clone()), &changed),
        kinesis: watch(Api::all(client.clone()), &changed),
        functions: watch(Api::all(client.clone()), &changed),
    };
    tracing::info!("watching KafkaTriggers, NATSTriggers, KinesisTriggers and Functions");
    if copies.wait_until_listed().await.is_err() {
        return;
    }
    board.done(FIRST_LIST);
    let mut reported = BTreeSet::new();
    loop {
        let triggers = copies.triggers();
        env.set_secrets(access_keys(&client, &triggers).await);
        let functions = targets(&copies.functions.state());
        let (pairs, problems) = plan::pairs(&triggers, &functions);
        reported = report(&problems, &reported);
        tracing::debug!(pairs = pairs.len(), "planned from the cluster");
        supervisor.apply(pairs);
        tokio::select! {
            () = changed.notified() => tokio::time::sleep(SETTLE).await,
            () = tokio::time::sleep(REREAD) => {}
        }
    }
}

impl Copies {
    async fn wait_until_listed(&self) -> Result<(), reflector::store::WriterDropped> {
        self.kafka.wait_until_ready().await?;
        self.nats.wait_until_ready().await?;
        self.kinesis.wait_until_ready().await?;
        self.functions.wait_until_ready().await
    }

    fn triggers(&self) -> Triggers {
        fn owned<K>(store: &Store<K>) -> Vec<K>
        where
            K: kube::runtime::reflector::Lookup + Clone,
            K::DynamicType: Eq + std::hash::Hash + Clone,
        {
            store.state().iter().map(|k| (**k).clone()).collect()
        }
        Triggers {
            kafka: owned(&self.kafka),
            nats: owned(&self.nats),
            kinesis: owned(&self.kinesis),
        }
    }
}

/// A local copy of one kind, kept by a task that watches it (retrying with backoff) and
/// notifies `changed` after every event.
fn watch<K>(api: Api<K>, changed: &Arc<Notify>) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let changed = changed.clone();
    let kind = K::kind(&()).into_owned();
    tokio::spawn(async move {
        let events = reflector::reflector(
            writer,
            watcher(api, watcher::Config::default()).default_backoff(),
        );
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            match event {
                Ok(_) => changed.notify_one(),
                Err(e) => tracing::warn!(%kind, "watching {kind}s failed (retrying): {e}"),
            }
        }
    });
    reader
}

/// What each Function's triggers deliver to.
fn targets(functions: &[Arc<Function>]) -> Vec<FunctionTarget> {
    functions
        .iter()
        .filter_map(|function| {
            let namespace = function.namespace()?;
            let name = function.name_any();
            let url = service_url(&name, &namespace, service_port(function))
                .parse()
                .map_err(|e| tracing::warn!(function = %name, "no URL for the function: {e}"))
                .ok()?;
            Some(FunctionTarget {
                labels: function.labels().clone(),
                namespace,
                name,
                url,
            })
        })
        .collect()
}

/// The first port of the Function's `spec.service`, else fnhost's and Kubeless's 8080.
fn service_port(function: &Function) -> u64 {
    function
        .spec
        .service
        .as_ref()
        .and_then(|service| service["ports"][0]["port"].as_u64())
        .unwrap_or(8080)
}

fn service_url(name: &str, namespace: &str, port: u64) -> String {
    format!("http://{name}.{namespace}.svc.cluster.local:{port}/")
}

/// The AWS keys of the Secrets the Kinesis triggers name; one that cannot be read is left
/// out (its pair fails, says which Secret, and is retried).
async fn access_keys(
    client: &Client,
    triggers: &Triggers,
) -> BTreeMap<(String, String), AccessKey> {
    let mut keys = BTreeMap::new();
    for trigger in &triggers.kinesis {
        let Some(namespace) = trigger.namespace() else {
            continue;
        };
        let name = trigger.spec.secret.clone();
        let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        match api
            .get(&name)
            .await
            .map_err(|e| e.to_string())
            .and_then(|secret| access_key(&secret))
        {
            Ok(key) => {
                keys.insert((namespace, name), key);
            }
            Err(e) => {
                tracing::warn!(secret = %format!("{namespace}/{name}"), "Kinesis credentials not read: {e}")
            }
        }
    }
    keys
}

fn access_key(secret: &Secret) -> Result<AccessKey, String> {
    let field = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|data| data.get(key))
            .map(|value| String::from_utf8_lossy(&value.0).trim().to_owned())
            .ok_or_else(|| format!("it has no {key:?}"))
    };
    Ok(AccessKey {
        id: field(ACCESS_KEY_ID)?,
        secret: field(SECRET_ACCESS_KEY)?,
    })
}

/// Logs the problems not logged at the last planning; what it logged now.
fn report(problems: &[Problem], before: &BTreeSet<String>) -> BTreeSet<String> {
    let now: BTreeSet<String> = problems
        .iter()
        .map(|p| {
            format!(
                "{} {}/{}: {}",
                p.source.kind(),
                p.namespace,
                p.trigger,
                p.detail
            )
        })
        .collect();
    for line in now.difference(before) {
        tracing::error!("trigger not run: {line}");
    }
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(service: Option<serde_json::Value>) -> Arc<Function> {
        let mut function = Function::new("hello", Default::default());
        function.metadata.namespace = Some("shop".to_owned());
        function.metadata.labels = Some([("topic".to_owned(), "orders".to_owned())].into());
        function.spec.service = service;
        Arc::new(function)
    }

    #[test]
    fn functions_are_reached_through_their_service() {
        let found = targets(&[function(None)]);
        assert_eq!(found[0].url, "http://hello.shop.svc.cluster.local:8080/");
        assert_eq!(found[0].labels["topic"], "orders");
        let found = targets(&[function(Some(
            serde_json::json!({"ports": [{"port": 9000}]}),
        ))]);
        assert_eq!(found[0].url, "http://hello.shop.svc.cluster.local:9000/");
    }

    #[test]
    fn a_secret_without_the_keys_says_which_is_missing() {
        let mut secret = Secret {
            data: Some(
                [(
                    ACCESS_KEY_ID.to_owned(),
                    k8s_openapi::ByteString(b"AKID\n".to_vec()),
                )]
                .into(),
            ),
            ..Secret::default()
        };
        let error = access_key(&secret).expect_err("no secret key");
        assert!(error.contains(SECRET_ACCESS_KEY), "{error}");
        secret.data.as_mut().map(|d| {
            d.insert(
                SECRET_ACCESS_KEY.to_owned(),
                k8s_openapi::ByteString(b"KEY".to_vec()),
            )
        });
        let key = access_key(&secret).expect("both keys");
        assert_eq!((key.id.as_str(), key.secret.as_str()), ("AKID", "KEY"));
    }
}
