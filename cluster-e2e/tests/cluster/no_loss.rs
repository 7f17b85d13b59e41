//! No request lost: `wrk` calls a function through its Service (from the host, by ClusterIP)
//! while `kubeless function update` rolls its Deployment and, with two replicas, while one of
//! its pods is deleted. Every failed request is counted, and one is a failure of the case.
//! The same sequence runs first on a pod set up as upstream's were (no readiness probe, no
//! shutdown delay), as the baseline of the figure; its losses are recorded, not judged.
//!
//! What makes it hold: the readiness probe (a new pod gets traffic once its function is
//! loaded), `maxUnavailable: 0`, and fnhost serving on for `FNHOST_SHUTDOWN_DELAY` after
//! SIGTERM with `Connection: close` while kube-proxy takes the pod out of the Service, before
//! it drains (`docs/config.md`, Shutdown).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use fnhost_cluster_e2e::load::{Load, LoadReport, http_get};
use fnhost_cluster_e2e::{Cluster, Error, eventually};

use crate::{POD_START, deploy_python, rolled_out, service_address, write};

/// How the function's pods are set up for one run of the sequence.
struct Setup {
    name: &'static str,
    what: &'static str,
    /// Extra `kubeless function deploy` flags.
    deploy_flags: &'static [&'static str],
    /// A JSON patch of the Function after the deploy.
    patch: Option<&'static str>,
}

/// As upstream's pods were: ready as soon as the container starts, stopping at once on SIGTERM.
const AS_UPSTREAM: Setup = Setup {
    name: "steady-bare",
    what: "as upstream (ready at container start, no shutdown delay)",
    deploy_flags: &["--env", "FNHOST_SHUTDOWN_DELAY=0"],
    patch: Some(
        r#"[{"op":"add","path":"/spec/deployment/spec/template/spec/containers/0/readinessProbe","value":{"exec":{"command":["true"]},"periodSeconds":1}}]"#,
    ),
};

/// What the reconciler writes.
const FNHOST: Setup = Setup {
    name: "steady-py",
    what: "fnhost (readiness probe, 5 s shutdown delay, drain)",
    deploy_flags: &[],
    patch: None,
};
/// Keep-alive connections of the load.
const CONNECTIONS: u32 = 8;

/// A function that takes a little time, so that calls are in flight when a pod is told to
/// stop; `VERSION` tells the generations apart.
fn source(version: &str) -> String {
    format!(
        "import time\n\ndef handler(event, context):\n    time.sleep(0.005)\n    return '{version}'\n"
    )
}

pub fn rolling_update_and_pod_deletion(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let baseline = under_load(cluster, dir, &AS_UPSTREAM)?;
    let ours = under_load(cluster, dir, &FNHOST)?;
    record(&[(&AS_UPSTREAM, baseline), (&FNHOST, ours)])?;
    if ours.requests == 0 {
        return Err("wrk made no request at all".to_owned());
    }
    if ours.failed() > 0 {
        return Err(format!(
            "requests were lost while the Deployment rolled and a pod was deleted: {ours}"
        ));
    }
    Ok(())
}

/// Deploys the function as `setup` says, runs the events under load, deletes it; what `wrk`
/// counted.
fn under_load(cluster: &Cluster, dir: &Path, setup: &Setup) -> Result<LoadReport, Error> {
    let name = setup.name;
    write(dir, "steady.py", &source("v1"))?;
    deploy_python(
        cluster,
        dir,
        name,
        "steady.py",
        "steady.handler",
        setup.deploy_flags,
    )?;
    if let Some(patch) = setup.patch {
        cluster.kubectl(&["patch", "function", name, "--type=json", "-p", patch])?;
        eventually("the patched pod template", Duration::from_secs(60), || {
            has_setup(cluster, name)
        })?;
        rolled_out(cluster, name)?;
    }
    // Nothing left terminating from the patch's rollout: kube-proxy could still send wrk's
    // first connection to it.
    settled(cluster, name)?;
    let address = service_address(cluster, name)?;
    answers(address, "v1")?;

    let load = Load::start(&format!("http://{address}/"), CONNECTIONS)?;
    let events = update_then_delete_a_pod(cluster, dir, name, address, setup.patch.is_some());
    let report = load.stop()?;
    // What a person needs when a step timed out: the pods' state and the reconciler's log.
    events.map_err(|e| format!("{e}\n{}", crate::describe(cluster, name)))?;
    if setup.patch.is_some() {
        // The baseline must still be the baseline after `kubeless function update`.
        has_setup(cluster, name)?;
    }
    eprintln!("no-request-lost: {}: {report}", setup.what);
    crate::delete(cluster, dir, name)?;
    Ok(report)
}

/// The two events, in order, each awaited to its end.
fn update_then_delete_a_pod(
    cluster: &Cluster,
    dir: &Path,
    name: &str,
    address: SocketAddr,
    baseline: bool,
) -> Result<(), Error> {
    write(dir, "steady.py", &source("v2"))?;
    if baseline {
        // The CLI's update rewrites the container and drops the baseline's probe: the baseline
        // gets the same new source by an edit of the Function that keeps its pod set-up.
        replace_source(cluster, dir, name)?;
    } else {
        cluster.kubeless(
            dir,
            &[
                "function",
                "update",
                name,
                "--from-file",
                "steady.py",
                "--image-pull-policy",
                "IfNotPresent",
            ],
        )?;
    }
    answers(address, "v2")?;
    rolled_out(cluster, name)?;

    crate::merge_into_function(
        cluster,
        name,
        r#"{"spec":{"deployment":{"spec":{"replicas":2}}}}"#,
    )?;
    eventually("two replicas ready", POD_START, || {
        let ready = cluster.kubectl(&[
            "get",
            "deployment",
            name,
            "-o",
            "jsonpath={.status.readyReplicas}",
        ])?;
        if ready.trim() == "2" {
            Ok(())
        } else {
            Err(format!("ready replicas: {ready:?}"))
        }
    })?;
    let pod = crate::first_pod(cluster, name)?;
    // `kubectl delete` waits until the pod is gone: its shutdown delay and drain included.
    cluster.kubectl(&["delete", "pod", &pod])?;
    rolled_out(cluster, name)
}

/// `spec.function` and `spec.checksum` of the Function set to `steady.py` of `dir`, as the
/// CLI's update would set them.
fn replace_source(cluster: &Cluster, dir: &Path, name: &str) -> Result<(), Error> {
    let source = std::fs::read_to_string(dir.join("steady.py")).map_err(|e| e.to_string())?;
    let output = std::process::Command::new("sha256sum")
        .arg(dir.join("steady.py"))
        .output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    let digest = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    if !output.status.success() || digest.len() != 64 {
        return Err(format!("sha256sum failed: {output:?}"));
    }
    let patch = serde_json::json!([
        {"op": "replace", "path": "/spec/function", "value": source},
        {"op": "replace", "path": "/spec/checksum", "value": format!("sha256:{digest}")},
    ]);
    cluster
        .kubectl(&[
            "patch",
            "function",
            name,
            "--type=json",
            "-p",
            &patch.to_string(),
        ])
        .map(drop)
}

/// Whether the Deployment has the baseline's pod set-up (no real readiness probe, no delay).
fn has_setup(cluster: &Cluster, name: &str) -> Result<(), Error> {
    let text = cluster.kubectl(&["get", "deployment", name, "-o", "json"])?;
    let deployment: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("the Deployment's JSON: {e}"))?;
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let probe = &container["readinessProbe"]["exec"]["command"];
    let delay = container["env"].as_array().and_then(|env| {
        env.iter()
            .find(|e| e["name"] == "FNHOST_SHUTDOWN_DELAY")
            .map(|e| e["value"].clone())
    });
    if *probe == serde_json::json!(["true"]) && delay == Some(serde_json::json!("0")) {
        Ok(())
    } else {
        Err(format!(
            "not the baseline's set-up: readiness {probe}, FNHOST_SHUTDOWN_DELAY {delay:?}"
        ))
    }
}

/// Waits until the function has one pod, ready, and none terminating.
fn settled(cluster: &Cluster, name: &str) -> Result<(), Error> {
    eventually("one ready pod and none terminating", POD_START, || {
        let text = cluster.kubectl(&[
            "get",
            "pods",
            "-l",
            &format!("function={name}"),
            "-o",
            "json",
        ])?;
        let pods: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("the pods' JSON: {e}"))?;
        let items = pods["items"].as_array().cloned().unwrap_or_default();
        let ready = items
            .iter()
            .filter(|pod| {
                pod["metadata"]["deletionTimestamp"].is_null()
                    && pod["status"]["conditions"]
                        .as_array()
                        .is_some_and(|conditions| {
                            conditions
                                .iter()
                                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                        })
            })
            .count();
        if items.len() == 1 && ready == 1 {
            Ok(())
        } else {
            Err(format!(
                "{} pods, {ready} ready and not terminating",
                items.len()
            ))
        }
    })
}

/// Waits until a GET through the Service answers `wanted`.
fn answers(address: SocketAddr, wanted: &str) -> Result<(), Error> {
    eventually(
        &format!("{address} answers {wanted:?}"),
        Duration::from_secs(120),
        || {
            let (status, body) = http_get(address, "/")?;
            if status == 200 && body == wanted {
                Ok(())
            } else {
                Err(format!("{status} {body:?}"))
            }
        },
    )
}

/// Writes the figures where `benches/RESULTS.md` takes them from (`no-request-lost.txt` of
/// [`fnhost_cluster_e2e::results_file`]).
fn record(reports: &[(&Setup, LoadReport)]) -> Result<(), Error> {
    let path = fnhost_cluster_e2e::results_file("no-request-lost.txt");
    let lines: String = reports
        .iter()
        .map(|(setup, report)| {
            format!(
                "rolling update (1 replica) then a pod deleted (2 replicas), wrk -t1 -c{CONNECTIONS}, {}: {report}\n",
                setup.what
            )
        })
        .collect();
    std::fs::write(&path, lines).map_err(|e| format!("{}: {e}", path.display()))
}
