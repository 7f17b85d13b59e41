//! A Kinesis implementation on loopback: kinesis-local (kinesis-mock) from npm, fetched by
//! `scripts/brokers/fetch-kinesis.sh` and run with Node.js, its streams persisted in a folder of
//! the test so that a restart keeps them. The test talks to it with the AWS SDK, as the
//! dispatcher does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use fnhost_conformance::process::Fnhost;
use fnhost_trigger_kinesis::AccessKey;

use super::{cached_tool, eventually, free_port, runtime};

const REGION: &str = "us-east-1";
const SHARD: &str = "shardId-000000000000";
const SECRET: &str = "kinesis-key";

/// A running kinesis-local.
pub struct KinesisLocal {
    process: Option<Fnhost>,
    dir: PathBuf,
    /// Its plain-HTTP port (kept across restarts).
    pub port: u16,
    tls_port: u16,
}

fn key() -> AccessKey {
    AccessKey {
        id: "AKIDFNHOSTTEST".to_owned(),
        secret: "fnhost-test-secret".to_owned(),
    }
}

impl KinesisLocal {
    /// Starts it on free ports with its data in `dir`; returns once it answers ListStreams.
    pub fn start(dir: &Path) -> KinesisLocal {
        std::fs::create_dir_all(dir).expect("kinesis folder");
        let mut server = KinesisLocal {
            process: None,
            dir: dir.to_owned(),
            port: free_port(),
            tls_port: free_port(),
        };
        server.launch();
        server
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn client(&self) -> aws_sdk_kinesis::Client {
        fnhost_trigger_kinesis::client(REGION, &key(), Some(&self.endpoint()))
    }

    /// Stops it. SIGINT first (it ignores SIGTERM); it then waits for open connections (the
    /// dispatcher's polls) to close, so after a fresh complete write of its data file
    /// (`PERSIST_INTERVAL`, every second, written in place) it is killed: a kill in the middle
    /// of a write would leave a file it cannot start from.
    pub fn stop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        let _ = process.signal("INT");
        let file = self.dir.join("persist").join("kinesis-data.json");
        let written_before = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if process.wait_exit(Duration::from_millis(5)).is_some() {
                return;
            }
            let written = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
            let complete = std::fs::read(&file)
                .ok()
                .is_some_and(|data| serde_json::from_slice::<serde_json::Value>(&data).is_ok());
            if written.is_some() && written != written_before && complete {
                break;
            }
        }
        let _ = process.signal("KILL");
        assert!(
            process.wait_exit(Duration::from_secs(10)).is_some(),
            "kinesis-local did not stop\n{}",
            process.transcript()
        );
    }

    fn launch(&mut self) {
        let main = cached_tool(
            "FNHOST_KINESIS_LOCAL",
            ".cache/fnhost-brokers/kinesis-local-0.6.2/node_modules/kinesis-local/main.js",
            "scripts/brokers/fetch-kinesis.sh",
        );
        let package = main.parent().expect("the package folder").to_owned();
        let env: BTreeMap<String, String> = [
            ("KINESIS_MOCK_PLAIN_PORT", self.port.to_string()),
            ("KINESIS_MOCK_TLS_PORT", self.tls_port.to_string()),
            ("CREATE_STREAM_DURATION", "0ms".to_owned()),
            ("LOG_LEVEL", "WARN".to_owned()),
            ("SHOULD_PERSIST_DATA", "true".to_owned()),
            (
                "PERSIST_PATH",
                self.dir.join("persist").display().to_string(),
            ),
            ("PERSIST_INTERVAL", "1s".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        // It reads server.json from its working folder.
        let process =
            Fnhost::spawn_program(Path::new("node"), &["main.js".to_owned()], &env, &package)
                .expect("start kinesis-local");
        self.process = Some(process);
        let client = self.client();
        eventually(
            "kinesis-local to answer ListStreams",
            Duration::from_secs(60),
            || {
                runtime()
                    .block_on(client.list_streams().send())
                    .ok()
                    .map(|_| ())
            },
            || {
                self.process
                    .as_ref()
                    .map(Fnhost::transcript)
                    .unwrap_or_default()
            },
        );
    }
}

impl Drop for KinesisLocal {
    fn drop(&mut self) {
        self.stop();
    }
}

impl super::scenarios::TestBroker for KinesisLocal {
    fn name(&self) -> &'static str {
        "kinesis"
    }

    fn dispatcher_env(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn kind(&self) -> &'static str {
        "KinesisTrigger"
    }

    fn trigger_topic(&self, base: &str) -> String {
        base.to_owned()
    }

    fn create(&self, base: &str) {
        let client = self.client();
        runtime().block_on(async {
            client
                .create_stream()
                .stream_name(base)
                .shard_count(1)
                .send()
                .await
                .expect("create the stream");
        });
        eventually(
            "the stream to be active",
            Duration::from_secs(30),
            || {
                let summary = runtime()
                    .block_on(client.describe_stream_summary().stream_name(base).send())
                    .ok()?;
                let status = summary
                    .stream_description_summary()?
                    .stream_status()
                    .clone();
                (status == aws_sdk_kinesis::types::StreamStatus::Active).then_some(())
            },
            String::new,
        );
    }

    fn publish(&self, base: &str, messages: &[(String, Vec<u8>)]) {
        let client = self.client();
        runtime().block_on(async {
            for batch in messages.chunks(500) {
                let entries: Vec<PutRecordsRequestEntry> = batch
                    .iter()
                    .map(|(key, payload)| {
                        PutRecordsRequestEntry::builder()
                            .partition_key(key)
                            .data(Blob::new(payload.clone()))
                            .build()
                            .expect("a record")
                    })
                    .collect();
                let answer = client
                    .put_records()
                    .stream_name(base)
                    .set_records(Some(entries))
                    .send()
                    .await
                    .expect("PutRecords");
                assert_eq!(answer.failed_record_count(), Some(0), "every record stored");
            }
        });
    }

    fn dead_letters(&self, destination: &str, count: usize) -> Vec<(u64, Option<String>)> {
        let client = self.client();
        runtime().block_on(async {
            let mut shard_iterator = client
                .get_shard_iterator()
                .stream_name(destination)
                .shard_id(SHARD)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .expect("GetShardIterator")
                .shard_iterator()
                .expect("an iterator")
                .to_owned();
            let mut out = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while out.len() < count {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the dead letters arrive in time: {out:?}"
                );
                let answer = client
                    .get_records()
                    .shard_iterator(&shard_iterator)
                    .send()
                    .await
                    .expect("GetRecords");
                for record in answer.records() {
                    let data: serde_json::Value =
                        serde_json::from_slice(record.data().as_ref()).expect("JSON");
                    out.push((data["n"].as_u64().expect("n"), None));
                }
                shard_iterator = answer.next_shard_iterator().expect("open shard").to_owned();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            out
        })
    }

    fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn restart_gap(&self) -> Option<&'static str> {
        Some(
            "kinesis-local persists its streams only every second, in place, and waits for open \
             connections before it stops; a restart under the dispatcher's polls lost records it \
             had acknowledged (the dispatcher then reads from TRIM_HORIZON) or left a store it \
             failed to start from, in some runs, so the result says more about the emulator than \
             about the dispatcher",
        )
    }

    fn id_prefix(&self, _base: &str) -> String {
        String::new()
    }

    /// One trigger per function: a KinesisTrigger names its function.
    fn triggers(
        &self,
        name: &str,
        base: &str,
        _label: &str,
        functions: &[&str],
        annotations: &str,
    ) -> String {
        functions
            .iter()
            .map(|function| {
                format!(
                    "  - apiVersion: kubeless.io/v1beta1\n    kind: KinesisTrigger\n    metadata: {{name: {name}-{function}, namespace: default, annotations: {{{annotations}}}}}\n    spec: {{function-name: {function}, stream: {base}, shard: {SHARD}, aws-region: {REGION}, secret: {SECRET}, endpoint: \"{}\"}}\n",
                    self.endpoint()
                )
            })
            .collect()
    }

    fn routes_extra(&self) -> String {
        let key = key();
        format!(
            "secrets:\n  - {{name: {SECRET}, namespace: default, aws_access_key_id: {}, aws_secret_access_key: {}}}\n",
            key.id, key.secret
        )
    }
}
