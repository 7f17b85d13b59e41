//! Checkpoints: the last sequence number delivered per (trigger, shard), kept by a [`Store`]:
//! a folder of small files replaced atomically (write, then rename) when the dispatcher runs
//! from a routes file, a ConfigMap when it runs in a cluster (the dispatcher's, which knows
//! Kubernetes; this crate does not).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use crate::KinesisError;

/// A future a [`Store`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = std::io::Result<T>> + Send + 'a>>;

/// Where checkpoints are kept.
pub trait Store: Send + Sync + 'static {
    /// The sequence number saved under `key`, if any.
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>>;
    /// Saves `sequence` under `key` (a store may write it a moment later: see `flush`).
    fn save<'a>(&'a self, key: &'a str, sequence: &'a str) -> StoreFuture<'a, ()>;
    /// Writes what `save` has not written yet.
    fn flush(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The checkpoints of every Kinesis pair of a dispatcher.
#[derive(Clone)]
pub struct Checkpoints(Arc<dyn Store>);

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checkpoints")
    }
}

impl Checkpoints {
    /// Checkpoints kept in `dir` (created when the first one is saved).
    pub fn in_folder(dir: PathBuf) -> Self {
        Checkpoints(Arc::new(Folder { dir }))
    }

    /// Checkpoints kept by `store`.
    pub fn with(store: Arc<dyn Store>) -> Self {
        Checkpoints(store)
    }

    /// The sequence number saved under `key`, if any.
    pub async fn load(&self, key: &str) -> Result<Option<String>, KinesisError> {
        self.0
            .load(key)
            .await
            .map_err(|source| KinesisError::Checkpoint {
                key: key.to_owned(),
                source,
            })
    }

    /// Saves `sequence` under `key`.
    pub async fn save(&self, key: &str, sequence: &str) -> Result<(), KinesisError> {
        self.0
            .save(key, sequence)
            .await
            .map_err(|source| KinesisError::Checkpoint {
                key: key.to_owned(),
                source,
            })
    }

    /// Writes what is saved but not written yet (before the dispatcher exits).
    pub async fn flush(&self) -> std::io::Result<()> {
        self.0.flush().await
    }
}

/// A folder, one file per key.
struct Folder {
    dir: PathBuf,
}

impl Store for Folder {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            match tokio::fs::read_to_string(self.path(key)).await {
                Ok(text) => Ok(Some(text.trim().to_owned()).filter(|s| !s.is_empty())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn save<'a>(&'a self, key: &'a str, sequence: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            tokio::fs::create_dir_all(&self.dir).await?;
            let path = self.path(key);
            let partial = path.with_extension("partial");
            tokio::fs::write(&partial, sequence).await?;
            tokio::fs::rename(&partial, &path).await
        })
    }
}

impl Folder {
    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.seq", safe_name(key)))
    }
}

/// `key` with every character but ASCII letters, digits, `-` and `_` replaced by `_`: a file
/// name, or a ConfigMap key.
pub fn safe_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checkpoints_survive_and_are_per_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let checkpoints = Checkpoints::in_folder(dir.path().join("state"));
        assert_eq!(
            checkpoints.load("default/t/shardId-0").await.expect("load"),
            None
        );
        checkpoints
            .save("default/t/shardId-0", "4959")
            .await
            .expect("save");
        checkpoints
            .save("default/t/shardId-0", "4960")
            .await
            .expect("save");
        let again = Checkpoints::in_folder(dir.path().join("state"));
        assert_eq!(
            again
                .load("default/t/shardId-0")
                .await
                .expect("load")
                .as_deref(),
            Some("4960")
        );
        assert_eq!(again.load("default/u/shardId-0").await.expect("load"), None);
    }
}
