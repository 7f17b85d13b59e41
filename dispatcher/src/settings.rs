//! The dispatcher's command line and environment, read once, here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fnhost_trigger_kafka::{Connection, Sasl, Tls};

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
    /// Kafka's bootstrap servers (`KAFKA_BROKERS`, upstream's variable and default), TLS and
    /// SASL (upstream's `KAFKA_ENABLE_TLS`, `KAFKA_CACERTS`, `KAFKA_CERT`, `KAFKA_KEY`,
    /// `KAFKA_INSECURE`, `KAFKA_ENABLE_SASL`, `KAFKA_USERNAME`, `KAFKA_PASSWORD`).
    pub kafka: Connection,
    /// Where the dispatcher keeps Kinesis checkpoints when it runs from a routes file:
    /// `FNHOST_DISPATCHER_STATE`, default `.fnhost-dispatcher` beside the routes file. In a
    /// cluster they are in a ConfigMap of [`Settings::namespace`].
    pub state_dir: PathBuf,
    /// The namespace the dispatcher runs in (`POD_NAMESPACE`, from the downward API; default
    /// `kubeless`).
    pub namespace: String,
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
            Mode::Cluster { .. } => PathBuf::from(".fnhost-dispatcher"),
        },
        PathBuf::from,
    );
    let namespace = env("POD_NAMESPACE")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "kubeless".to_owned());
    Ok(Settings {
        mode,
        state_dir,
        namespace,
        listen,
        nats_url: env("NATS_URL")
            .unwrap_or_else(|| "nats://nats.nats-io.svc.cluster.local:4222".to_owned()),
        kafka: kafka_connection(&env)?,
        attempt_timeout,
    })
}

/// Kafka's brokers and security, from upstream's variables. Upstream ignored a value it could
/// not read; here it stops the start with the reason.
fn kafka_connection(env: &impl Fn(&str) -> Option<String>) -> Result<Connection, SettingsError> {
    let brokers = env("KAFKA_BROKERS").unwrap_or_else(|| "kafka.kubeless:9092".to_owned());
    let file = |key: &str| -> Result<Option<PathBuf>, SettingsError> {
        match env(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(path) if std::path::Path::new(&path).is_file() => Ok(Some(PathBuf::from(path))),
            Some(path) => Err(SettingsError(format!("{key}={path:?}: no such file"))),
        }
    };
    let tls = if flag(env, "KAFKA_ENABLE_TLS")? {
        let client = match (file("KAFKA_CERT")?, file("KAFKA_KEY")?) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(SettingsError(
                    "KAFKA_CERT and KAFKA_KEY name the client's certificate and key: set both or neither".to_owned(),
                ));
            }
        };
        Some(Tls {
            ca_file: file("KAFKA_CACERTS")?,
            client,
            insecure: flag(env, "KAFKA_INSECURE")?,
        })
    } else {
        None
    };
    let sasl = if flag(env, "KAFKA_ENABLE_SASL")? {
        let username = env("KAFKA_USERNAME").unwrap_or_default();
        let password = env("KAFKA_PASSWORD").unwrap_or_default();
        if username.is_empty() || password.is_empty() {
            return Err(SettingsError(
                "KAFKA_ENABLE_SASL needs KAFKA_USERNAME and KAFKA_PASSWORD".to_owned(),
            ));
        }
        Some(Sasl { username, password })
    } else {
        None
    };
    Ok(Connection { brokers, tls, sasl })
}

/// A boolean in the spellings Go's `strconv.ParseBool` reads (upstream's); unset is false.
fn flag(env: &impl Fn(&str) -> Option<String>, key: &str) -> Result<bool, SettingsError> {
    match env(key).as_deref().map(str::trim) {
        None | Some("") => Ok(false),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(SettingsError(format!(
            "{key}={other:?} is not true or false"
        ))),
    }
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
        assert_eq!(
            settings.kafka,
            Connection::plain("kafka.kubeless:9092"),
            "plain text, no credentials"
        );
        assert_eq!(settings.attempt_timeout, Duration::from_secs(600));
    }

    #[test]
    fn kafka_security_follows_upstreams_variables() {
        let ca = tempfile::NamedTempFile::new().expect("a file");
        let ca_path = ca.path().display().to_string();
        let vars = [
            ("KAFKA_BROKERS", "k:9093"),
            ("KAFKA_ENABLE_TLS", "true"),
            ("KAFKA_CACERTS", ca_path.as_str()),
            ("KAFKA_INSECURE", "1"),
            ("KAFKA_ENABLE_SASL", "True"),
            ("KAFKA_USERNAME", "user"),
            ("KAFKA_PASSWORD", "secret"),
        ];
        let env = |k: &str| {
            vars.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        };
        let settings = read(&args(&["run"]), env).expect("ok");
        let tls = settings.kafka.tls.expect("TLS on");
        assert_eq!(tls.ca_file.as_deref(), Some(ca.path()));
        assert!(tls.insecure);
        assert_eq!(tls.client, None);
        assert_eq!(settings.kafka.sasl.expect("SASL on").username, "user");

        let refused = |vars: &'static [(&'static str, &'static str)]| {
            let env = |k: &str| {
                vars.iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| (*v).to_owned())
            };
            read(&args(&["run"]), env).expect_err("refused").0
        };
        let error = refused(&[("KAFKA_ENABLE_SASL", "true"), ("KAFKA_USERNAME", "user")]);
        assert!(error.contains("KAFKA_PASSWORD"), "{error}");
        let error = refused(&[("KAFKA_ENABLE_TLS", "yes")]);
        assert!(error.contains("KAFKA_ENABLE_TLS"), "{error}");
        let error = refused(&[
            ("KAFKA_ENABLE_TLS", "true"),
            ("KAFKA_CACERTS", "/no/such/ca.pem"),
        ]);
        assert!(error.contains("no such file"), "{error}");
        let error = refused(&[
            ("KAFKA_ENABLE_TLS", "true"),
            ("KAFKA_CERT", "/etc/hostname"),
        ]);
        assert!(error.contains("KAFKA_KEY"), "{error}");
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
