//! The dispatcher's command line and environment, read once, here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How the dispatcher learns its triggers and functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// From a routes file (`run --routes FILE`).
    Routes(PathBuf),
    /// From the Kubernetes API (`run [--kubeconfig PATH]`).
    Cluster {
        /// A kubeconfig; none means in-cluster or the default one.
        kubeconfig: Option<PathBuf>,
    },
}

/// Everything the dispatcher is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Where triggers come from.
    pub mode: Mode,
    /// `/metrics`, `/healthz`, `/readyz` (`FNHOST_DISPATCHER_LISTEN`, default `0.0.0.0:8082`).
    pub listen: SocketAddr,
    /// The NATS server (`NATS_URL`, upstream's variable and default).
    pub nats_url: String,
    /// Kafka's bootstrap servers (`KAFKA_BROKERS`, upstream's variable and default).
    pub kafka_brokers: String,
    /// Where the dispatcher keeps state (Kinesis checkpoints): `FNHOST_DISPATCHER_STATE`,
    /// default `.fnhost-dispatcher` beside the routes file, or `/var/lib/fnhost-dispatcher` in
    /// a cluster.
    pub state_dir: PathBuf,
    /// How long one delivery attempt may take (`FNHOST_DISPATCH_ATTEMPT_TIMEOUT`, seconds,
    /// default 600: longer than any function timeout, which answers 408 itself).
    pub attempt_timeout: Duration,
}

/// A setting that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// The usage line.
pub const USAGE: &str = "usage: fnhost-dispatcher run [--kubeconfig PATH] | fnhost-dispatcher run --routes FILE | fnhost-dispatcher manifest";

/// Reads the arguments (without the program name) and the environment.
pub fn read(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings, SettingsError> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mode = match args.as_slice() {
        ["run", "--routes", file] => Mode::Routes(PathBuf::from(file)),
        ["run", "--kubeconfig", file] => Mode::Cluster {
            kubeconfig: Some(PathBuf::from(file)),
        },
        ["run"] => Mode::Cluster { kubeconfig: None },
        _ => return Err(SettingsError(USAGE.to_owned())),
    };
    let listen = env("FNHOST_DISPATCHER_LISTEN").unwrap_or_else(|| "0.0.0.0:8082".to_owned());
    let listen = listen.parse().map_err(|_| {
        SettingsError(format!(
            "FNHOST_DISPATCHER_LISTEN={listen:?} is not an address like 0.0.0.0:8082"
        ))
    })?;
    let attempt_timeout = match env("FNHOST_DISPATCH_ATTEMPT_TIMEOUT") {
        None => Duration::from_secs(600),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                SettingsError(format!(
                    "FNHOST_DISPATCH_ATTEMPT_TIMEOUT={value:?} is not a whole number of seconds above 0"
                ))
            })?,
    };
    let state_dir = env("FNHOST_DISPATCHER_STATE").map_or_else(
        || match &mode {
            Mode::Routes(file) => file
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(".fnhost-dispatcher"),
            Mode::Cluster { .. } => PathBuf::from("/var/lib/fnhost-dispatcher"),
        },
        PathBuf::from,
    );
    Ok(Settings {
        mode,
        state_dir,
        listen,
        nats_url: env("NATS_URL")
            .unwrap_or_else(|| "nats://nats.nats-io.svc.cluster.local:4222".to_owned()),
        kafka_brokers: env("KAFKA_BROKERS").unwrap_or_else(|| "kafka.kubeless:9092".to_owned()),
        attempt_timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_are_upstreams() {
        let settings = read(&args(&["run"]), |_| None).expect("ok");
        assert_eq!(settings.mode, Mode::Cluster { kubeconfig: None });
        assert_eq!(
            settings.nats_url,
            "nats://nats.nats-io.svc.cluster.local:4222"
        );
        assert_eq!(settings.kafka_brokers, "kafka.kubeless:9092");
        assert_eq!(settings.attempt_timeout, Duration::from_secs(600));
    }

    #[test]
    fn bad_input_is_refused_with_the_reason() {
        assert!(read(&args(&["serve"]), |_| None).is_err());
        let bad = |key: &'static str, value: &'static str| {
            move |k: &str| (k == key).then(|| value.to_owned())
        };
        let error =
            read(&args(&["run"]), bad("FNHOST_DISPATCHER_LISTEN", "8082")).expect_err("addr");
        assert!(error.0.contains("FNHOST_DISPATCHER_LISTEN"), "{error}");
        let error = read(&args(&["run"]), bad("FNHOST_DISPATCH_ATTEMPT_TIMEOUT", "0"))
            .expect_err("timeout");
        assert!(
            error.0.contains("FNHOST_DISPATCH_ATTEMPT_TIMEOUT"),
            "{error}"
        );
    }
}
