//! Kinesis checkpoints in a ConfigMap of the dispatcher's own namespace
//! (`fnhost-dispatcher-kinesis-checkpoints`), so that they outlive its pod: a new pod resumes
//! each shard after the last record delivered, not at the oldest one the stream keeps.
//!
//! Saving is in memory; a task writes the whole map (server-side apply) at most once a
//! second, and once more when the dispatcher stops. What a crash loses is at most the last
//! second of progress: those records are delivered again (at least once, duplicates counted).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fnhost_trigger_kinesis::checkpoint::{Store, StoreFuture, safe_name};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};
use tokio::sync::Mutex;

/// The ConfigMap's name.
pub const CONFIG_MAP: &str = "fnhost-dispatcher-kinesis-checkpoints";
/// How often saved checkpoints are written.
const WRITE_EVERY: Duration = Duration::from_secs(1);

/// The checkpoints, read once from the ConfigMap, written back by [`ConfigMapStore::keep_writing`].
pub struct ConfigMapStore {
    api: Api<ConfigMap>,
    state: Mutex<State>,
    /// Held by the one write in progress, so that an older copy never lands after a newer one.
    writing: Mutex<()>,
}

#[derive(Default)]
struct State {
    /// `None` until the ConfigMap was read.
    data: Option<BTreeMap<String, String>>,
    /// Saves so far.
    saves: u64,
    /// Saves the ConfigMap holds.
    written: u64,
}

impl ConfigMapStore {
    /// The store of the dispatcher running in `namespace`.
    pub fn new(client: kube::Client, namespace: &str) -> Arc<ConfigMapStore> {
        Arc::new(ConfigMapStore {
            api: Api::namespaced(client, namespace),
            state: Mutex::new(State::default()),
            writing: Mutex::new(()),
        })
    }

    /// Writes saved checkpoints every second, forever; a failed write is logged and tried
    /// again the next second.
    pub async fn keep_writing(self: Arc<Self>) {
        loop {
            tokio::time::sleep(WRITE_EVERY).await;
            if let Err(e) = self.write().await {
                tracing::warn!("Kinesis checkpoints not written to ConfigMap {CONFIG_MAP}: {e}");
            }
        }
    }

    /// Writes a copy of the checkpoints if any was saved since the last write; saves go on
    /// meanwhile (the lock is not held across the request to the apiserver).
    async fn write(&self) -> Result<(), kube::Error> {
        let _writing = self.writing.lock().await;
        let (data, saves) = {
            let state = self.state.lock().await;
            match &state.data {
                Some(data) if state.saves > state.written => (data.clone(), state.saves),
                _ => return Ok(()),
            }
        };
        let object = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": CONFIG_MAP },
            "data": data,
        });
        let params = PatchParams::apply("fnhost-dispatcher").force();
        self.api
            .patch(CONFIG_MAP, &params, &Patch::Apply(&object))
            .await?;
        self.state.lock().await.written = saves;
        Ok(())
    }

    /// Reads the ConfigMap once (none yet: no checkpoints).
    async fn data(&self) -> std::io::Result<tokio::sync::MutexGuard<'_, State>> {
        let mut state = self.state.lock().await;
        if state.data.is_none() {
            let found = self.api.get_opt(CONFIG_MAP).await.map_err(|e| {
                std::io::Error::other(format!("reading ConfigMap {CONFIG_MAP}: {e}"))
            })?;
            state.data = Some(found.and_then(|c| c.data).unwrap_or_default());
        }
        Ok(state)
    }
}

impl Store for ConfigMapStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let state = self.data().await?;
            Ok(state
                .data
                .as_ref()
                .and_then(|data| data.get(&safe_name(key)))
                .cloned())
        })
    }

    fn save<'a>(&'a self, key: &'a str, sequence: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut state = self.data().await?;
            if let Some(data) = state.data.as_mut() {
                data.insert(safe_name(key), sequence.to_owned());
            }
            state.saves += 1;
            Ok(())
        })
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.write()
                .await
                .map_err(|e| std::io::Error::other(format!("writing ConfigMap {CONFIG_MAP}: {e}")))
        })
    }
}
