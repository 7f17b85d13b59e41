//! Cold start in a pod, beside the process alone, in the same run and interleaved: for
//! Python, Node.js, Go, native and Wasm (their images already on the node),
//!
//! - **pod**: a function's pod is deleted and its ReplicaSet makes a new one; the time from
//!   the new pod's first appearance in a watch (`kubectl get pods --watch`) to the watch event
//!   that says it is Ready (kubelet's readiness probe, `GET /healthz` every second). This
//!   includes the sandbox, the init containers (Go's compiles the function, as upstream's
//!   did), the container start and the first passing probe.
//! - **process**: the same binary, taken out of the same image, started on the host with the
//!   pod's environment; the time from spawn to the first `200` on `/` (as `benches/` measures
//!   cold start).
//!
//! Figures only, no threshold: they go to stderr and to
//! `~/.cache/fnhost/cluster-e2e/pod-cold-start.txt` (`benches/RESULTS.md` has them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use fnhost_cluster_e2e::load::http_get;
use fnhost_cluster_e2e::{Cluster, Error};

use crate::runtimes::{RUNTIMES, RuntimeCase};
use crate::{DeployArgs, POD_START, deploy};

const MEASURED: &[&str] = &["python3.11", "nodejs20", "go1.26", "native1", "wasm1"];
const ROUNDS: usize = 3;

pub fn pod_beside_process(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let cases: Vec<&RuntimeCase> = RUNTIMES
        .iter()
        .filter(|case| MEASURED.contains(&case.runtime))
        .collect();
    let mut prepared = Vec::new();
    for case in &cases {
        prepared.push(prepare(cluster, dir, case)?);
    }
    let mut pod_times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let mut process_times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for _ in 0..ROUNDS {
        for (i, function) in prepared.iter().enumerate() {
            pod_times[i].push(pod_cold_start(cluster, &function.name)?);
            process_times[i].push(process_cold_start(function)?);
        }
    }
    let mut report = String::new();
    for (i, function) in prepared.iter().enumerate() {
        let line = format!(
            "{}: pod created -> Ready median {} ms (rounds {}); process spawn -> first 200 median {} ms (rounds {})\n",
            function.runtime,
            median_ms(&pod_times[i]),
            list_ms(&pod_times[i]),
            median_ms(&process_times[i]),
            list_ms(&process_times[i]),
        );
        eprint!("pod-cold-start: {line}");
        report.push_str(&line);
    }
    record(&report)?;
    for function in &prepared {
        crate::delete(cluster, dir, &function.name)?;
    }
    Ok(())
}

/// One runtime's function, deployed, and its file and binary on the host.
struct Prepared {
    runtime: &'static str,
    name: String,
    /// The function's folder for the process alone (the pod's `/kubeless`).
    folder: PathBuf,
    /// fnhost, copied out of the runtime's image.
    binary: PathBuf,
    module: String,
    handler: String,
}

fn prepare(cluster: &Cluster, dir: &Path, case: &RuntimeCase) -> Result<Prepared, Error> {
    let name = format!("cold-{}", case.runtime.replace('.', "-"));
    let folder = dir.join(&name);
    std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    case.make_file(&case.get, &folder)?;
    deploy(
        cluster,
        &folder,
        &DeployArgs {
            name: &name,
            runtime: case.runtime,
            file: case.get.file,
            handler: case.get.handler,
        },
        &[],
    )?;
    let binary = binary_from_image(case.runtime, &folder)?;
    let (module, handler) = case
        .get
        .handler
        .split_once('.')
        .ok_or_else(|| format!("handler {} is not module.function", case.get.handler))?;
    if case.runtime.starts_with("go") {
        // The pod's compile phase, done once before the process starts (it is part of every
        // pod start, and of none of the process's).
        run(Command::new(&binary)
            .args(["build", "go", "--dir"])
            .arg(&folder)
            .args(["--handler", handler]))?;
    }
    Ok(Prepared {
        runtime: case.runtime,
        name,
        folder,
        binary,
        module: module.to_owned(),
        handler: handler.to_owned(),
    })
}

/// `docker create` + `docker cp` of `/usr/local/bin/fnhost` out of the runtime's image.
fn binary_from_image(runtime: &str, folder: &Path) -> Result<PathBuf, Error> {
    let image = format!("fnhost/runtime:{runtime}-{}", env!("CARGO_PKG_VERSION"));
    let created = run(Command::new("/usr/bin/docker").args(["create", &image]))?;
    let container = created.trim().to_owned();
    let binary = folder.join("fnhost");
    let copied = run(Command::new("/usr/bin/docker")
        .arg("cp")
        .arg(format!("{container}:/usr/local/bin/fnhost"))
        .arg(&binary));
    run(Command::new("/usr/bin/docker").args(["rm", &container]))?;
    copied.map(|_| binary)
}

/// Deletes the function's pod and times its replacement from first sight to Ready.
fn pod_cold_start(cluster: &Cluster, name: &str) -> Result<Duration, Error> {
    let old = crate::first_pod(cluster, name)?;
    let (mut watch, events) = watch_pods(cluster, name)?;
    let deleted = cluster.kubectl(&["delete", "pod", &old, "--wait=false"]);
    let timed = deleted.and_then(|_| time_new_pod(&events, &old));
    let _ = watch.kill();
    let _ = watch.wait();
    let elapsed = timed?;
    // The old pod drains for its shutdown delay; wait until it is gone so that rounds do not
    // overlap.
    match cluster.kubectl(&[
        "wait",
        "--for=delete",
        &format!("pod/{old}"),
        "--timeout=120s",
    ]) {
        Err(e) if !e.contains("no matching resources found") && !e.contains("NotFound") => Err(e),
        _ => Ok(elapsed),
    }
}

/// `kubectl get pods --watch` as a stream of (arrival time, event) from a reader thread.
fn watch_pods(
    cluster: &Cluster,
    name: &str,
) -> Result<(Child, Receiver<(Instant, serde_json::Value)>), Error> {
    let mut child = Command::new(fnhost_cluster_e2e::kubectl_binary())
        .args([
            "get",
            "pods",
            "-l",
            &format!("function={name}"),
            "--watch",
            "--output-watch-events",
            "-o",
            "json",
        ])
        .env("KUBECONFIG", cluster.kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("kubectl get pods --watch: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from kubectl")?;
    let (sender, receiver) = channel();
    std::thread::spawn(move || {
        let stream = serde_json::Deserializer::from_reader(BufReader::new(stdout))
            .into_iter::<serde_json::Value>();
        for event in stream.map_while(Result::ok) {
            if sender.send((Instant::now(), event)).is_err() {
                break;
            }
        }
    });
    Ok((child, receiver))
}

/// From the first event of a pod other than `old` to the event that shows it Ready.
fn time_new_pod(
    events: &Receiver<(Instant, serde_json::Value)>,
    old: &str,
) -> Result<Duration, Error> {
    let deadline = Instant::now() + POD_START;
    let mut first_seen: Option<Instant> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, event) = events
            .recv_timeout(left)
            .map_err(|_| "no Ready replacement pod in time".to_owned())?;
        let pod = &event["object"];
        if pod["metadata"]["name"].as_str() == Some(old) {
            continue;
        }
        let seen = *first_seen.get_or_insert(at);
        let ready = pod["status"]["conditions"]
            .as_array()
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
        if ready {
            return Ok(at - seen);
        }
    }
}

/// Starts the binary as the pod would (its environment, `/kubeless` being the function's
/// folder) and times spawn to the first `200`.
fn process_cold_start(function: &Prepared) -> Result<Duration, Error> {
    let started = Instant::now();
    let mut child = Command::new(&function.binary)
        .env("MOD_NAME", &function.module)
        .env("FUNC_HANDLER", &function.handler)
        .env("FUNC_RUNTIME", function.runtime)
        .env("FUNC_TIMEOUT", "180")
        .env("FUNC_PORT", "0")
        .env("FNHOST_LISTEN_ADDR", "127.0.0.1")
        .env("KUBELESS_INSTALL_VOLUME", &function.folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", function.binary.display()))?;
    let answered = first_answer(&mut child, started);
    let _ = child.kill();
    let _ = child.wait();
    answered
}

fn first_answer(child: &mut Child, started: Instant) -> Result<Duration, Error> {
    let stdout = child.stdout.take().ok_or("no stdout from fnhost")?;
    let mut lines = BufReader::new(stdout).lines();
    let address = lines
        .find_map(|line| {
            line.ok()?
                .strip_prefix("fnhost: listening http=")?
                .parse::<std::net::SocketAddr>()
                .ok()
        })
        .ok_or("fnhost ended without announcing its address")?;
    loop {
        if let Ok((200, _)) = http_get(address, "/") {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("{address} did not answer 200 within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn median_ms(times: &[Duration]) -> u128 {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).map_or(0, Duration::as_millis)
}

fn list_ms(times: &[Duration]) -> String {
    times
        .iter()
        .map(|t| t.as_millis().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn run(command: &mut Command) -> Result<String, Error> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn record(report: &str) -> Result<(), Error> {
    let path = fnhost_cluster_e2e::results_file("pod-cold-start.txt");
    std::fs::write(&path, report).map_err(|e| format!("{}: {e}", path.display()))
}
