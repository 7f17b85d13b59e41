//! Checkpoints: the last sequence number delivered per (trigger, shard), one small file each
//! in a folder, replaced atomically (write, then rename).

use std::path::PathBuf;

use crate::KinesisError;

/// A folder of checkpoints.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    dir: PathBuf,
}

impl Checkpoints {
    /// Checkpoints kept in `dir` (created when the first one is saved).
    pub fn new(dir: PathBuf) -> Self {
        Checkpoints { dir }
    }

    /// The sequence number saved under `key`, if any.
    pub async fn load(&self, key: &str) -> Result<Option<String>, KinesisError> {
        match tokio::fs::read_to_string(self.path(key)).await {
            Ok(text) => Ok(Some(text.trim().to_owned()).filter(|s| !s.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KinesisError::Checkpoint {
                key: key.to_owned(),
                source,
            }),
        }
    }

    /// Saves `sequence` under `key`.
    pub async fn save(&self, key: &str, sequence: &str) -> Result<(), KinesisError> {
        let fail = |source| KinesisError::Checkpoint {
            key: key.to_owned(),
            source,
        };
        tokio::fs::create_dir_all(&self.dir).await.map_err(fail)?;
        let path = self.path(key);
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, sequence).await.map_err(fail)?;
        tokio::fs::rename(&partial, &path).await.map_err(fail)
    }

    fn path(&self, key: &str) -> PathBuf {
        let name: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{name}.seq"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checkpoints_survive_and_are_per_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let checkpoints = Checkpoints::new(dir.path().join("state"));
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
        let again = Checkpoints::new(dir.path().join("state"));
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
