//! `trigger-load`: message triggers end to end. Per broker, messages are published as fast as
//! the broker takes them and delivered through `fnhost-dispatcher` to a Python hello function
//! served by fnhost (publish → dispatcher → function → acknowledge or commit); the broker's own
//! consumer reading the same number of messages in the same run is the ceiling. Rounds are
//! interleaved (ceiling, then fnhost) so machine noise hits both alike.
//!
//! Figures per row: messages per second from the first publish to the last delivery (median and
//! range of the rounds), latency from publishing to the call (p50, p99), and CPU time per
//! message of the dispatcher and fnhost, and of the broker.
//!
//! `benches/triggers.sh` builds everything and runs it; the options are in [`USAGE`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use fnhost_benches::probe;
use fnhost_benches::procfs::tree_cpu_seconds;
use fnhost_benches::report::median;
use fnhost_benches::target::{Running, TargetSpec};
use fnhost_local_brokers::{self as brokers, Process};

#[path = "trigger_load/kafka.rs"]
mod kafka;
#[path = "trigger_load/nats.rs"]
mod nats;

const USAGE: &str = "usage: trigger-load --fnhost BIN --dispatcher BIN --functions DIR \
[--nats-server BIN] [--kafka-libs DIR] [--brokers nats,kafka] [--rounds 3] [--messages 20000]";

/// What one measured run of one row gave.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Messages delivered.
    pub messages: usize,
    /// First publish to last delivery.
    pub seconds: f64,
    /// Publish → call (or → the ceiling's consumer), microseconds.
    pub p50_us: f64,
    /// The same, 99th percentile.
    pub p99_us: f64,
    /// CPU of the dispatcher and fnhost per message (none for the ceiling).
    pub fnhost_cpu_us: Option<f64>,
    /// CPU of the broker per message.
    pub broker_cpu_us: f64,
}

impl Sample {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
}

/// Publish-to-receive latencies in nanoseconds → (p50, p99) in microseconds.
pub fn percentiles(mut nanos: Vec<u64>) -> (f64, f64) {
    if nanos.is_empty() {
        return (0.0, 0.0);
    }
    nanos.sort_unstable();
    let at = |q: f64| nanos[((q * nanos.len() as f64) as usize).min(nanos.len() - 1)] as f64;
    (at(0.5) / 1000.0, at(0.99) / 1000.0)
}

/// Nanoseconds since the epoch: what publishers put in a message as `{"t": ...}`.
pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One message's payload.
pub fn payload() -> String {
    format!("{{\"t\":{}}}", now_nanos())
}

/// `t` of a payload.
pub fn sent_at(payload: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    value["t"].as_u64()
}

/// A fnhost row: its trigger in the routes file and its name in the report.
pub struct Route {
    /// The trigger's name (its delivered counter is selected by it).
    pub trigger: &'static str,
    /// The row's name.
    pub row: &'static str,
    /// The trigger as YAML (one list item of `triggers:`).
    pub yaml: String,
    /// Where its messages are published (subject or topic).
    pub destination: String,
}

/// One trigger of `kind` on `topic` selecting the benchmark's function, with `annotations`
/// (`""`, or `, annotations: {...}`), as a list item of the routes file's `triggers:`.
pub fn trigger_yaml(kind: &str, name: &str, topic: &str, annotations: &str) -> String {
    format!(
        "  - {{apiVersion: kubeless.io/v1beta1, kind: {kind}, \
         metadata: {{name: {name}, namespace: default{annotations}}}, \
         spec: {{topic: {topic}, functionSelector: {{matchLabels: {{bench: \"yes\"}}}}}}}}\n"
    )
}

/// Options, read from the command line.
struct Options {
    fnhost: PathBuf,
    dispatcher: PathBuf,
    functions: PathBuf,
    nats_server: Option<PathBuf>,
    kafka_libs: Option<PathBuf>,
    brokers: Vec<String>,
    rounds: usize,
    messages: usize,
}

fn options() -> Result<Options, String> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let key = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("{flag:?}: {USAGE}"))?;
        let value = args
            .next()
            .ok_or_else(|| format!("--{key} needs a value"))?;
        values.insert(key.to_owned(), value);
    }
    let mut take = |key: &str| values.remove(key);
    let number = |value: Option<String>, default: usize, key: &str| -> Result<usize, String> {
        value.map_or(Ok(default), |v| {
            v.parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("--{key} {v:?} is not a whole number above 0"))
        })
    };
    let options = Options {
        fnhost: take("fnhost").map(PathBuf::from).ok_or(USAGE)?,
        dispatcher: take("dispatcher").map(PathBuf::from).ok_or(USAGE)?,
        functions: take("functions").map(PathBuf::from).ok_or(USAGE)?,
        nats_server: take("nats-server").map(PathBuf::from),
        kafka_libs: take("kafka-libs").map(PathBuf::from),
        brokers: take("brokers")
            .unwrap_or_else(|| "nats,kafka".to_owned())
            .split(',')
            .map(str::to_owned)
            .collect(),
        rounds: number(take("rounds"), 3, "rounds")?,
        messages: number(take("messages"), 20_000, "messages")?,
    };
    if let Some(unknown) = values.keys().next() {
        return Err(format!("unknown option --{unknown}; {USAGE}"));
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("trigger-load: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("trigger-load: no async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut report = String::new();
    for broker in &options.brokers {
        match runtime.block_on(run_broker(&options, broker)) {
            Ok(table) => report.push_str(&table),
            Err(e) => {
                eprintln!("trigger-load: {broker}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    print!("{report}");
    ExitCode::SUCCESS
}

/// What the fnhost rows need running: fnhost serving the function, the dispatcher.
struct Services {
    function: Running,
    dispatcher: Process,
    dispatcher_addr: SocketAddr,
}

async fn run_broker(options: &Options, broker: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    match broker {
        "nats" => {
            let binary = options
                .nats_server
                .as_deref()
                .ok_or("--nats-server is needed")?;
            let bench = nats::NatsBench::start(binary, dir.path()).await?;
            measure(options, dir.path(), &bench).await
        }
        "kafka" => {
            let libs = options
                .kafka_libs
                .as_deref()
                .ok_or("--kafka-libs is needed")?;
            let bench = kafka::KafkaBench::start(libs, dir.path(), options.rounds).await?;
            measure(options, dir.path(), &bench).await
        }
        other => Err(format!("unknown broker {other:?} (nats, kafka)")),
    }
}

/// What the driver needs of a broker.
trait Broker {
    /// The table's title.
    const TITLE: &'static str;
    /// The ceiling's row.
    const CEILING: &'static str;
    /// The broker's process id (its CPU time is measured).
    fn pid(&self) -> u32;
    /// The dispatcher's environment that points at the broker.
    fn env(&self) -> Vec<(&'static str, String)>;
    /// The fnhost rows.
    fn routes(&self) -> Vec<Route>;
    /// Publishes `n` messages to `destination`, each stored by the broker: as fast as it
    /// takes them, or one every `pace`.
    async fn publish(
        &self,
        destination: String,
        n: usize,
        pace: Option<Duration>,
    ) -> Result<(), String>;
    /// Round `round` of the ceiling with `n` messages published as [`Broker::publish`] does.
    async fn ceiling(
        &self,
        round: usize,
        n: usize,
        pace: Option<Duration>,
    ) -> Result<Sample, String>;
}

/// The rounds of one broker, interleaved: the ceiling, then each fnhost row.
async fn measure<B: Broker>(options: &Options, dir: &Path, bench: &B) -> Result<String, String> {
    let (rounds, n) = (options.rounds, options.messages);
    let services = services(options, dir, &bench.routes(), &bench.env())?;
    let mut rows = Rows::default();
    for round in 1..=rounds {
        eprintln!("trigger-load: {} round {round}/{rounds}", B::TITLE);
        rows.push(B::CEILING, bench.ceiling(round, n, None).await?);
        for route in bench.routes() {
            let sample = through_fnhost(&services, &route, n, bench.pid(), |d, n| {
                bench.publish(d, n, None)
            })
            .await?;
            rows.push(route.row, sample);
        }
    }
    // Latency without a burst ahead: a steady PACED_RATE, one more "round" for the ceiling.
    let paced = n.min(PACED_MESSAGES);
    let pace = Some(Duration::from_secs(1) / PACED_RATE);
    eprintln!("trigger-load: {} at {PACED_RATE} messages/s", B::TITLE);
    let mut steady = Rows::default();
    steady.push(B::CEILING, bench.ceiling(rounds + 1, paced, pace).await?);
    for route in bench.routes() {
        let sample = through_fnhost(&services, &route, paced, bench.pid(), |d, n| {
            bench.publish(d, n, pace)
        })
        .await?;
        steady.push(route.row, sample);
    }
    Ok(format!(
        "{}{}",
        table(B::TITLE, n, &rows),
        latency_table(paced, &steady)
    ))
}

/// Messages of the steady phase (fewer if a round has fewer).
const PACED_MESSAGES: usize = 2_000;
/// Their rate, messages per second: well below every row's throughput.
const PACED_RATE: u32 = 500;

/// The steady phase's latencies.
fn latency_table(n: usize, rows: &Rows) -> String {
    let mut out = format!(
        "\nLatency at a steady {PACED_RATE} messages/s ({n} messages, one run):\n\n\
         | row | latency p50 / p99 (ms) |\n|---|---|\n"
    );
    for (row, samples) in &rows.0 {
        for sample in samples {
            let _ = writeln!(
                out,
                "| {row} | {:.2} / {:.2} |",
                sample.p50_us / 1000.0,
                sample.p99_us / 1000.0
            );
        }
    }
    out
}

/// The ceiling's figures: `latencies` of `n` messages read in `seconds`, and the broker's
/// CPU time since `broker_cpu` (seconds).
pub fn ceiling_sample(
    latencies: Vec<u64>,
    seconds: f64,
    broker_pid: u32,
    broker_cpu: f64,
) -> Sample {
    let n = latencies.len();
    let broker_cpu = tree_cpu_seconds(broker_pid) - broker_cpu;
    let (p50_us, p99_us) = percentiles(latencies);
    Sample {
        messages: n,
        seconds,
        p50_us,
        p99_us,
        fnhost_cpu_us: None,
        broker_cpu_us: broker_cpu * 1e6 / n.max(1) as f64,
    }
}

/// Starts fnhost serving `trigger_hello.py` and the dispatcher with `routes` to it.
fn services(
    options: &Options,
    dir: &Path,
    routes: &[Route],
    env: &[(&str, String)],
) -> Result<Services, String> {
    let function = TargetSpec::fnhost_python(
        "fnhost",
        "fnhost serving trigger_hello.handle",
        &options.fnhost,
        &options.functions,
        ("trigger_hello", "handle"),
    )
    .start()?;
    let mut text = String::from("triggers:\n");
    for route in routes {
        text.push_str(&route.yaml);
    }
    let _ = writeln!(
        text,
        "functions:\n  - {{name: hello, namespace: default, labels: {{bench: \"yes\"}}, url: \"http://{}/\"}}",
        function.addr
    );
    let routes_file = dir.join("routes.yaml");
    std::fs::write(&routes_file, text).map_err(|e| format!("routes.yaml: {e}"))?;
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    let dispatcher_addr = SocketAddr::new(loopback, brokers::free_port(loopback)?);
    let mut command = Command::new(&options.dispatcher);
    command
        .args(["run", "--routes"])
        .arg(&routes_file)
        .env("FNHOST_DISPATCHER_LISTEN", dispatcher_addr.to_string())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let dispatcher = Process::spawn("dispatcher", &mut command, dir)?;
    brokers::wait_for(
        "the dispatcher's consumers (/readyz)",
        Duration::from_secs(120),
        || match probe::get_path_status(dispatcher_addr, "/readyz") {
            Some(200) => Ok(()),
            other => Err(format!("/readyz: {other:?}")),
        },
    )
    .map_err(|e| format!("{e}\n{}", dispatcher.log_tail()))?;
    Ok(Services {
        function,
        dispatcher,
        dispatcher_addr,
    })
}

/// Publishes `n` messages to the route's destination and waits until the dispatcher counts
/// them delivered; the function reports their latencies.
async fn through_fnhost<F, Fut>(
    services: &Services,
    route: &Route,
    n: usize,
    broker_pid: u32,
    publish: F,
) -> Result<Sample, String>
where
    F: FnOnce(String, usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let before = delivered(services.dispatcher_addr, route.trigger)?;
    let cpu =
        || tree_cpu_seconds(services.dispatcher.pid()) + tree_cpu_seconds(services.function.pid());
    let (fnhost_cpu, broker_cpu) = (cpu(), tree_cpu_seconds(broker_pid));
    let started = Instant::now();
    publish(route.destination.clone(), n).await?;
    let deadline = started + Duration::from_secs(600);
    loop {
        let count = delivered(services.dispatcher_addr, route.trigger)?;
        if count >= before + n as f64 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{}: {} of {n} delivered in 600 s\n{}",
                route.row,
                count - before,
                services.dispatcher.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let per_message = |seconds: f64| seconds * 1e6 / n as f64;
    let (status, body) = probe::get_body(services.function.addr, "/")
        .ok_or("the function's latencies: no answer")?;
    let latencies: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| format!("the function's latencies ({status}) {body:?}: {e}"))?;
    Ok(Sample {
        messages: n,
        seconds,
        p50_us: latencies["p50_us"].as_f64().unwrap_or_default(),
        p99_us: latencies["p99_us"].as_f64().unwrap_or_default(),
        fnhost_cpu_us: Some(per_message(cpu() - fnhost_cpu)),
        broker_cpu_us: per_message(tree_cpu_seconds(broker_pid) - broker_cpu),
    })
}

/// The dispatcher's count of messages `trigger` delivered.
fn delivered(dispatcher: SocketAddr, trigger: &str) -> Result<f64, String> {
    let (_, text) = probe::get_body(dispatcher, "/metrics").ok_or("the dispatcher's /metrics")?;
    let wanted = format!("trigger=\"{trigger}\"");
    Ok(text
        .lines()
        .filter(|l| l.starts_with("fnhost_trigger_messages_total{"))
        .filter(|l| l.contains("outcome=\"delivered\"") && l.contains(&wanted))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// Each row's samples, rows in the order they first ran.
#[derive(Default)]
struct Rows(Vec<(&'static str, Vec<Sample>)>);

impl Rows {
    fn push(&mut self, row: &'static str, sample: Sample) {
        match self.0.iter_mut().find(|(name, _)| *name == row) {
            Some((_, samples)) => samples.push(sample),
            None => self.0.push((row, vec![sample])),
        }
    }
}

/// The Markdown table of one broker's rows.
fn table(title: &str, n: usize, rows: &Rows) -> String {
    let mut out = format!(
        "\n### {title}, {n} messages a round\n\n\
         | row | messages/s (median) | range of rounds | latency p50 / p99 (ms) | CPU-µs/message: dispatcher + fnhost | broker |\n\
         |---|---|---|---|---|---|\n"
    );
    for (row, samples) in &rows.0 {
        let rates: Vec<f64> = samples.iter().map(Sample::rate).collect();
        let (low, high) = rates
            .iter()
            .fold((f64::MAX, 0.0f64), |(l, h), r| (l.min(*r), h.max(*r)));
        let fnhost_cpu = samples
            .iter()
            .filter_map(|s| s.fnhost_cpu_us)
            .collect::<Vec<_>>();
        let fnhost_cpu = if fnhost_cpu.is_empty() {
            "—".to_owned()
        } else {
            format!("{:.0}", median(fnhost_cpu))
        };
        let _ = writeln!(
            out,
            "| {row} | {:.0} | {low:.0}–{high:.0} | {:.1} / {:.1} | {fnhost_cpu} | {:.0} |",
            median(rates.clone()),
            median(samples.iter().map(|s| s.p50_us / 1000.0).collect()),
            median(samples.iter().map(|s| s.p99_us / 1000.0).collect()),
            median(samples.iter().map(|s| s.broker_cpu_us).collect()),
        );
    }
    out
}
