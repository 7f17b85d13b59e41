//! The kubeless workflow on a real node: `kubectl apply -f manifests/install.yaml` installs
//! the reconciler in the cluster, and the original kubeless CLI v1.0.8 deploys, calls,
//! updates, reads the logs of and deletes functions whose pods run fnhost's images under
//! kubelet; `manifests/message-triggers.yaml` installs the dispatcher, which delivers the
//! messages of a NATSTrigger, a KafkaTrigger and a KinesisTrigger to a function's pod. One cluster for the whole run; the cases run in
//! order.

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the suite loudly"
)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fnhost_cluster_e2e::{Cluster, Error, eventually};
use libtest_mimic::{Arguments, Failed, Trial};

#[path = "cluster/autoscale.rs"]
mod autoscale;
#[path = "cluster/cold_start.rs"]
mod cold_start;
#[path = "cluster/no_loss.rs"]
mod no_loss;
#[path = "cluster/prometheus.rs"]
mod prometheus;
#[path = "cluster/python.rs"]
mod python;
#[path = "cluster/runtimes.rs"]
mod runtimes;
#[path = "cluster/triggers.rs"]
mod triggers;

use runtimes::{RUNTIMES, RuntimeCase};

/// The provision image stand-in: upstream's `kubeless/unzip` is pinned by digest, and no
/// registry is reachable here (scripts/images/base-images.sh builds this one).
const PROVISION_IMAGE: &str = "fnhost/unzip:local";
/// Pod creation to Ready, including init containers that install dependencies or compile.
const POD_START: Duration = Duration::from_secs(300);

fn main() {
    let arguments = Arguments::from_args();
    let cluster = match Cluster::start().and_then(|c| install(&c).map(|()| c)) {
        Ok(cluster) => Arc::new(cluster),
        Err(e) => {
            eprintln!("cluster-e2e: the cluster could not be set up:\n{e}");
            std::process::exit(1);
        }
    };
    let mut trials: Vec<Trial> = RUNTIMES
        .iter()
        .map(|case| {
            let cluster = Arc::clone(&cluster);
            Trial::test(format!("{}/lifecycle", case.runtime), move || {
                in_tempdir(|dir| lifecycle(&cluster, dir, case))
            })
        })
        .collect();
    trials.extend(cases().into_iter().map(|(name, case)| {
        let cluster = Arc::clone(&cluster);
        Trial::test(name, move || in_tempdir(|dir| case(&cluster, dir)))
    }));
    let conclusion = libtest_mimic::run(
        &Arguments {
            test_threads: Some(1),
            ..arguments
        },
        trials,
    );
    drop(cluster);
    conclusion.exit();
}

fn in_tempdir(case: impl FnOnce(&Path) -> Result<(), Error>) -> Result<(), Failed> {
    let workdir = tempfile::tempdir().map_err(|e| Failed::from(e.to_string()))?;
    case(workdir.path()).map_err(Failed::from)
}

type Case = fn(&Cluster, &Path) -> Result<(), Error>;

fn cases() -> Vec<(&'static str, Case)> {
    vec![
        (
            "python3.11/dependencies-from-pypi",
            python::dependencies_from_pypi,
        ),
        ("python3.11/zip-archive", python::zip_archive),
        ("python3.11/from-a-url", python::from_a_url),
        (
            "python3.11/cronjob-trigger-fires",
            python::cronjob_trigger_fires,
        ),
        (
            "python3.11/among-other-services",
            python::among_other_services,
        ),
        (
            "python3.11/bad-handler-says-why",
            python::bad_handler_says_why,
        ),
        (
            "python3.11/prometheus-kubernetes-sd",
            prometheus::discovers_and_scrapes_the_pod,
        ),
        (
            "python3.11/http-trigger-ingress",
            python::http_trigger_routes,
        ),
        (
            "python3.11/memory-limit",
            python::memory_limit_reaches_the_function,
        ),
        ("python3.11/autoscale-cpu", autoscale::scales_under_load),
        ("pod-cold-start", cold_start::pod_beside_process),
        (
            "python3.11/nats-trigger-in-pods",
            triggers::nats_trigger_delivers_to_a_pod,
        ),
        (
            "python3.11/kafka-trigger-in-pods",
            triggers::kafka_trigger_delivers_to_a_pod,
        ),
        (
            "python3.11/kinesis-trigger-in-pods",
            triggers::kinesis_trigger_delivers_to_a_pod,
        ),
        (
            "python3.11/no-request-lost",
            no_loss::rolling_update_and_pod_deletion,
        ),
    ]
}

/// The images this run builds and loads into the node: the reconciler's, the dispatcher's and
/// every runtime's.
fn images() -> Vec<&'static str> {
    let mut images = vec!["reconciler", "dispatcher"];
    images.extend(RUNTIMES.iter().map(|case| case.runtime));
    images
}

/// Builds the images, installs the manifests as a user would (the reconciler's and the
/// dispatcher's), points the provision image at the local stand-in and waits for the
/// reconciler's pod.
fn install(cluster: &Cluster) -> Result<(), Error> {
    cluster.build_images(&images())?;
    let manifests = fnhost_cluster_e2e::repository_root().join("manifests");
    cluster.kubectl(&[
        "apply",
        "-f",
        &manifests.join("install.yaml").display().to_string(),
        "-f",
        &manifests
            .join("message-triggers.yaml")
            .display()
            .to_string(),
    ])?;
    cluster.kubectl(&[
        "-n",
        "kubeless",
        "patch",
        "configmap",
        "kubeless-config",
        "--type=merge",
        "-p",
        &format!(r#"{{"data":{{"provision-image":"{PROVISION_IMAGE}"}}}}"#),
    ])?;
    cluster.kubectl(&[
        "-n",
        "kubeless",
        "rollout",
        "restart",
        "deployment/fnhost-reconciler",
    ])?;
    rolled_out_in_kubeless(cluster, "deployment/fnhost-reconciler")
}

/// Waits until `deployment` of the `kubeless` namespace has rolled out.
fn rolled_out_in_kubeless(cluster: &Cluster, deployment: &str) -> Result<(), Error> {
    cluster
        .kubectl(&[
            "-n",
            "kubeless",
            "rollout",
            "status",
            deployment,
            "--timeout=180s",
        ])
        .map(drop)
}

/// Waits until the reconciler has written the function's Deployment and it has rolled out.
fn rolled_out(cluster: &Cluster, name: &str) -> Result<(), Error> {
    eventually(
        &format!("the reconciler writes Deployment {name}"),
        Duration::from_secs(60),
        || cluster.kubectl(&["get", "deployment", name, "-o", "name"]),
    )?;
    cluster
        .kubectl(&[
            "rollout",
            "status",
            &format!("deployment/{name}"),
            &format!("--timeout={}s", POD_START.as_secs()),
        ])
        .map(drop)
        .map_err(|e| format!("{e}\n{}", describe(cluster, name)))
}

/// What a person would look at when a function's pod does not start.
fn describe(cluster: &Cluster, name: &str) -> String {
    let pods = cluster
        .kubectl(&["describe", "pods", "-l", &format!("function={name}")])
        .unwrap_or_else(|e| e);
    let reconciler = cluster
        .kubectl(&[
            "-n",
            "kubeless",
            "logs",
            "deployment/fnhost-reconciler",
            "--tail=30",
        ])
        .unwrap_or_else(|e| e);
    format!("pods:\n{pods}\nreconciler:\n{reconciler}")
}

fn expect_contains(what: &str, text: &str, wanted: &str) -> Result<(), Error> {
    if text.contains(wanted) {
        Ok(())
    } else {
        Err(format!("{what}: expected {wanted:?} in:\n{text}"))
    }
}

/// Calls the function with the CLI (`extra`: e.g. `--data`) until it answers `wanted` (a new
/// pod may still be replacing the old one, or compiling the function).
fn call_until(
    cluster: &Cluster,
    dir: &Path,
    name: &str,
    extra: &[&str],
    wanted: &str,
) -> Result<(), Error> {
    let mut args = vec!["function", "call", name];
    args.extend_from_slice(extra);
    eventually(&format!("{name} answers {wanted:?}"), POD_START, || {
        let answer = cluster.kubeless(dir, &args)?;
        expect_contains("function call", &answer, wanted)
    })
}

/// The lifecycle every runtime goes through: deploy upstream's `helloget`, GET it, read its
/// logs, update it to `hellowithdata`, POST to it with `--data`, delete it.
fn lifecycle(cluster: &Cluster, dir: &Path, case: &RuntimeCase) -> Result<(), Error> {
    let name = format!("hello-{}", case.runtime.replace('.', "-"));
    case.make_file(&case.get, dir)?;
    deploy(
        cluster,
        dir,
        &DeployArgs {
            name: &name,
            runtime: case.runtime,
            file: case.get.file,
            handler: case.get.handler,
        },
        &[],
    )?;
    call_until(cluster, dir, &name, &[], "hello world")?;
    let logs = cluster.kubeless(dir, &["function", "logs", &name])?;
    expect_contains("function logs", &logs, "GET /")?;
    top_counts_calls(cluster, dir, &name)?;

    case.make_file(&case.data, dir)?;
    cluster.kubeless(
        dir,
        &[
            "function",
            "update",
            &name,
            "--from-file",
            case.data.file,
            "--handler",
            case.data.handler,
            // The CLI's default for update is Always, and no registry is reachable here.
            "--image-pull-policy",
            "IfNotPresent",
        ],
    )?;
    call_until(
        cluster,
        dir,
        &name,
        &["--data", r#"{"it-s": "alive"}"#],
        "alive",
    )?;
    read_only_root(cluster, dir, &name)?;
    delete(cluster, dir, &name)
}

/// The function's container made as locked down as a cluster policy may ask: a read-only root
/// filesystem, user 1000 (the reconciler's default) enforced as non-root, no privilege
/// escalation. The user edits the Function (the CLI has no flag for it); the new pod must
/// still serve, as user 1000, on a root filesystem mounted read-only.
fn read_only_root(cluster: &Cluster, dir: &Path, name: &str) -> Result<(), Error> {
    merge_into_function(
        cluster,
        name,
        r#"{"spec":{"deployment":{"spec":{"template":{"spec":{"containers":[{"name":"","imagePullPolicy":"IfNotPresent","securityContext":{"readOnlyRootFilesystem":true,"runAsNonRoot":true,"allowPrivilegeEscalation":false}}]}}}}}}"#,
    )?;
    eventually(
        "the reconciler writes the locked-down pod template",
        Duration::from_secs(60),
        || {
            let read_only = cluster.kubectl(&[
                "get",
                "deployment",
                name,
                "-o",
                "jsonpath={.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem}",
            ])?;
            expect_contains("the Deployment", &read_only, "true")
        },
    )?;
    rolled_out(cluster, name)?;
    call_until(
        cluster,
        dir,
        name,
        &["--data", r#"{"it-s": "alive"}"#],
        "alive",
    )?;
    // The old pods drain for a few seconds after the rollout: look only at the one left.
    let pod = eventually("one pod left after the rollout", POD_START, || {
        let pods = cluster.kubectl(&[
            "get",
            "pods",
            "-l",
            &format!("function={name}"),
            "-o",
            "name",
        ])?;
        match pods
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()[..]
        {
            [only] => Ok(only.trim().to_owned()),
            ref many => Err(format!("pods: {many:?}")),
        }
    })?;
    let exec = |command: &[&str]| {
        let mut args = vec!["exec", "-c", name, pod.as_str(), "--"];
        args.extend_from_slice(command);
        cluster.kubectl(&args)
    };
    let user = exec(&["id", "-u"])?;
    if user.trim() != "1000" {
        return Err(format!("the function runs as user {user:?}, not 1000"));
    }
    // The root filesystem's mount options, as the container sees them (a write as user 1000
    // would fail on `/` anyway, so a refused `touch` would prove nothing).
    let mounts = exec(&["cat", "/proc/self/mounts"])?;
    let root_options = mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&"/")).then(|| fields.get(3).copied().unwrap_or_default())
        })
        .next_back()
        .ok_or_else(|| format!("no mount of / in:\n{mounts}"))?;
    if root_options.split(',').any(|option| option == "ro") {
        Ok(())
    } else {
        Err(format!(
            "the root filesystem is mounted {root_options}, not read-only"
        ))
    }
}

/// The Service's ClusterIP and port (kube-proxy routes them for the host too).
fn service_address(cluster: &Cluster, name: &str) -> Result<SocketAddr, Error> {
    let text = cluster.kubectl(&[
        "get",
        "service",
        name,
        "-o",
        "jsonpath={.spec.clusterIP}:{.spec.ports[0].port}",
    ])?;
    text.trim()
        .parse()
        .map_err(|e| format!("the Service's address {text:?}: {e}"))
}

/// The name of the first pod of the function `name`.
fn first_pod(cluster: &Cluster, name: &str) -> Result<String, Error> {
    let pod = cluster.kubectl(&[
        "get",
        "pods",
        "-l",
        &format!("function={name}"),
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ])?;
    Ok(pod.trim().to_owned())
}

/// A JSON merge patch of the Function, as a user edits what the CLI has no flag for.
fn merge_into_function(cluster: &Cluster, name: &str, patch: &str) -> Result<(), Error> {
    cluster
        .kubectl(&["patch", "function", name, "--type=merge", "-p", patch])
        .map(drop)
}

/// `kubeless function top` reads fnhost's `/metrics` through the apiserver's service proxy
/// and reports at least the call just made.
fn top_counts_calls(cluster: &Cluster, dir: &Path, name: &str) -> Result<(), Error> {
    let top = cluster.kubeless(
        dir,
        &["function", "top", "--function", name, "--out", "yaml"],
    )?;
    let calls: u64 = top
        .lines()
        .filter_map(|line| line.trim().strip_prefix("total_calls:"))
        .filter_map(|count| count.trim().parse::<u64>().ok())
        .sum();
    if calls == 0 {
        return Err(format!("function top counts no call:\n{top}"));
    }
    Ok(())
}

/// `kubeless function delete`, then waits until the Deployment is gone.
fn delete(cluster: &Cluster, dir: &Path, name: &str) -> Result<(), Error> {
    cluster.kubeless(dir, &["function", "delete", name])?;
    eventually("the Deployment is deleted", Duration::from_secs(60), || {
        let left = cluster.kubectl(&[
            "get",
            "deployments",
            "-l",
            &format!("function={name}"),
            "-o",
            "name",
        ])?;
        if left.trim().is_empty() {
            Ok(())
        } else {
            Err(format!("still there: {left}"))
        }
    })
}

/// What `kubeless function deploy` is given.
struct DeployArgs<'a> {
    name: &'a str,
    runtime: &'a str,
    file: &'a str,
    handler: &'a str,
}

/// `kubeless function deploy` with the image kept local, plus `extra` flags; waits for the
/// rollout.
fn deploy(
    cluster: &Cluster,
    dir: &Path,
    function: &DeployArgs<'_>,
    extra: &[&str],
) -> Result<(), Error> {
    let mut args = vec![
        "function",
        "deploy",
        function.name,
        "--runtime",
        function.runtime,
        "--from-file",
        function.file,
        "--handler",
        function.handler,
        "--image-pull-policy",
        "IfNotPresent",
    ];
    args.extend_from_slice(extra);
    cluster.kubeless(dir, &args)?;
    rolled_out(cluster, function.name)
}

/// A Python function deployed, for the cases that are about something else.
fn deploy_python(
    cluster: &Cluster,
    dir: &Path,
    name: &str,
    file: &str,
    handler: &str,
    extra: &[&str],
) -> Result<(), Error> {
    let function = DeployArgs {
        name,
        runtime: "python3.11",
        file,
        handler,
    };
    deploy(cluster, dir, &function, extra)
}

pub(crate) fn write(dir: &Path, file: &str, text: &str) -> Result<(), Error> {
    std::fs::write(dir.join(file), text).map_err(|e| format!("writing {file}: {e}"))
}
