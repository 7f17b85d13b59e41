//! nats-server with JetStream on loopback (built by `scripts/brokers/build-nats-server.sh`),
//! its data in a folder of the test so that a restart keeps the streams.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fnhost_conformance::process::Fnhost;

use super::{cached_tool, eventually, get, runtime};

/// A running nats-server.
pub struct NatsServer {
    process: Option<Fnhost>,
    dir: PathBuf,
    /// Its client port (kept across restarts).
    pub port: u16,
}

impl NatsServer {
    /// Starts a server storing in `dir`, on a free port, and waits until JetStream is up.
    pub fn start(dir: &Path) -> NatsServer {
        let mut server = NatsServer {
            process: None,
            dir: dir.to_owned(),
            port: 0,
        };
        server.launch(None);
        server
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGTERM: it flushes its store) and waits for it to end.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.signal("TERM");
            assert!(
                process.wait_exit(Duration::from_secs(30)).is_some(),
                "nats-server did not stop\n{}",
                process.transcript()
            );
        }
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&mut self) {
        self.stop();
        self.launch(Some(self.port));
    }

    fn launch(&mut self, port: Option<u16>) {
        let binary = cached_tool(
            "FNHOST_NATS_SERVER",
            ".cache/fnhost-brokers/bin/nats-server",
            "scripts/brokers/build-nats-server.sh",
        );
        let ports_dir = self.dir.join("ports");
        let _ = std::fs::remove_dir_all(&ports_dir);
        std::fs::create_dir_all(&ports_dir).expect("ports folder");
        let port_arg = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
        let args: Vec<String> = [
            "-js",
            "-sd",
            &self.dir.join("store").display().to_string(),
            "-a",
            "127.0.0.1",
            "-p",
            &port_arg,
            "-m",
            "-1",
            "--ports_file_dir",
            &ports_dir.display().to_string(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let process = Fnhost::spawn_program(&binary, &args, &BTreeMap::new(), &self.dir)
            .expect("start nats-server");
        let (client, monitor) = eventually(
            "nats-server's ports file",
            Duration::from_secs(30),
            || read_ports(&ports_dir),
            || process.transcript(),
        );
        eventually(
            "nats-server's JetStream (/healthz?js-enabled-only=true)",
            Duration::from_secs(30),
            || get(monitor, "/healthz?js-enabled-only=true").filter(|(s, _)| *s == 200),
            || process.transcript(),
        );
        self.port = client;
        self.process = Some(process);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The client port and monitoring address from `nats-server_<pid>.ports`
/// (`{"nats":["nats://127.0.0.1:P"],"monitoring":["http://127.0.0.1:M"]}`).
fn read_ports(dir: &Path) -> Option<(u16, SocketAddr)> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().next()?;
    let ports: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(entry.path()).ok()?).ok()?;
    let client = ports["nats"][0]
        .as_str()?
        .rsplit(':')
        .next()?
        .parse()
        .ok()?;
    let monitor = ports["monitoring"][0]
        .as_str()?
        .strip_prefix("http://")?
        .parse()
        .ok()?;
    Some((client, monitor))
}

impl super::scenarios::TestBroker for NatsServer {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn dispatcher_env(&self) -> Vec<(String, String)> {
        vec![("NATS_URL".to_owned(), self.url())]
    }

    fn kind(&self) -> &'static str {
        "NATSTrigger"
    }

    fn trigger_topic(&self, base: &str) -> String {
        format!("{base}.>")
    }

    fn create(&self, _base: &str) {}

    /// Core-NATS publishes (what `kubeless trigger nats publish` does), then a flush.
    fn publish(&self, base: &str, messages: &[(String, Vec<u8>)]) {
        runtime().block_on(async {
            let client = async_nats::connect(self.url())
                .await
                .expect("connect to NATS");
            for (key, payload) in messages {
                client
                    .publish(format!("{base}.{key}"), payload.clone().into())
                    .await
                    .expect("publish");
            }
            client.flush().await.expect("flush");
        });
    }

    fn dead_letters(&self, destination: &str, count: usize) -> Vec<(u64, Option<String>)> {
        runtime().block_on(read_subject(&self.url(), destination, count))
    }

    fn restart(&mut self) {
        NatsServer::restart(self);
    }

    fn id_prefix(&self, _base: &str) -> String {
        "KUBELESS-".to_owned()
    }
}

/// Reads `count` messages of `subject` from the stream that captures it, with their `n` and
/// the `Fnhost-Attempts` header.
async fn read_subject(url: &str, subject: &str, count: usize) -> Vec<(u64, Option<String>)> {
    use async_nats::jetstream::consumer::pull::Config;
    use futures::StreamExt;
    let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
    let name = js
        .stream_by_subject(subject)
        .await
        .expect("a stream captures the dead letters");
    let stream = js.get_stream(name).await.expect("stream");
    let consumer = stream
        .create_consumer(Config {
            filter_subject: subject.to_owned(),
            ..Config::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages").take(count);
    let mut out = Vec::new();
    while let Some(message) = tokio::time::timeout(Duration::from_secs(60), messages.next())
        .await
        .expect("the dead letters arrive in time")
    {
        let message = message.expect("message");
        let data: serde_json::Value = serde_json::from_slice(&message.payload).expect("JSON");
        let attempts = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Fnhost-Attempts"))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        out.push((data["n"].as_u64().expect("n"), Some(attempts)));
        message.ack().await.expect("ack");
    }
    out
}
