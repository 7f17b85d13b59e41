//! The kubeless workflow on a real node: `kubectl apply -f manifests/install.yaml` installs
//! the reconciler in the cluster, and the original kubeless CLI v1.0.8 deploys, calls,
//! updates, reads the logs of and deletes functions whose pods run fnhost's images under
//! kubelet. One cluster for the whole run; the cases run in order.

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the suite loudly"
)]

use std::path::Path;
use std::time::Duration;

use fnhost_cluster_e2e::{Cluster, Error, eventually};
use libtest_mimic::{Arguments, Failed, Trial};

/// The images this run builds and loads into the node.
const IMAGES: &[&str] = &["reconciler", "python3.11"];
/// The provision image stand-in: upstream's `kubeless/unzip` is pinned by digest, and no
/// registry is reachable here (scripts/images/base-images.sh builds this one).
const PROVISION_IMAGE: &str = "fnhost/unzip:local";
const POD_START: Duration = Duration::from_secs(180);

fn main() {
    let arguments = Arguments::from_args();
    let cluster = match Cluster::start().and_then(|c| install(&c).map(|()| c)) {
        Ok(cluster) => std::sync::Arc::new(cluster),
        Err(e) => {
            eprintln!("cluster-e2e: the cluster could not be set up:\n{e}");
            std::process::exit(1);
        }
    };
    let trials = cases()
        .into_iter()
        .map(|(name, case)| {
            let cluster = std::sync::Arc::clone(&cluster);
            Trial::test(name, move || {
                let workdir = tempfile::tempdir().map_err(|e| Failed::from(e.to_string()))?;
                case(&cluster, workdir.path()).map_err(Failed::from)
            })
        })
        .collect();
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

type Case = fn(&Cluster, &Path) -> Result<(), Error>;

fn cases() -> Vec<(&'static str, Case)> {
    vec![
        ("python3.11/deploy-call-update-delete", python_lifecycle),
        ("python3.11/post-data", python_post_data),
        ("python3.11/dependencies-from-pypi", python_dependencies),
        ("python3.11/zip-archive", python_zip),
    ]
}

/// Builds the images, installs the manifest as a user would, points the provision image at
/// the local stand-in and waits for the reconciler's pod.
fn install(cluster: &Cluster) -> Result<(), Error> {
    cluster.build_images(IMAGES)?;
    let manifest = fnhost_cluster_e2e::repository_root().join("manifests/install.yaml");
    cluster.kubectl(&["apply", "-f", &manifest.display().to_string()])?;
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
    cluster
        .kubectl(&[
            "-n",
            "kubeless",
            "rollout",
            "status",
            "deployment/fnhost-reconciler",
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

/// Calls the function with the CLI until it answers `wanted` (a new pod may still be
/// replacing the old one).
fn call_until(cluster: &Cluster, dir: &Path, name: &str, wanted: &str) -> Result<(), Error> {
    eventually(
        &format!("{name} answers {wanted:?}"),
        Duration::from_secs(60),
        || {
            let answer = cluster.kubeless(dir, &["function", "call", name])?;
            expect_contains("function call", &answer, wanted)
        },
    )
}

fn python_lifecycle(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "hello-py";
    let source = dir.join("hello.py");
    std::fs::write(
        &source,
        "def foo(event, context):\n    return 'hello world'\n",
    )
    .map_err(|e| e.to_string())?;
    cluster.kubeless(
        dir,
        &[
            "function",
            "deploy",
            name,
            "--runtime",
            "python3.11",
            "--from-file",
            "hello.py",
            "--handler",
            "hello.foo",
            "--image-pull-policy",
            "IfNotPresent",
        ],
    )?;
    rolled_out(cluster, name)?;
    call_until(cluster, dir, name, "hello world")?;
    let logs = cluster.kubeless(dir, &["function", "logs", name])?;
    expect_contains("function logs", &logs, "GET /")?;

    std::fs::write(
        &source,
        "def foo(event, context):\n    return 'hello again'\n",
    )
    .map_err(|e| e.to_string())?;
    cluster.kubeless(
        dir,
        &[
            "function",
            "update",
            name,
            "--from-file",
            "hello.py",
            // The CLI's default for update is Always, and no registry is reachable here.
            "--image-pull-policy",
            "IfNotPresent",
        ],
    )?;
    rolled_out(cluster, name)?;
    call_until(cluster, dir, name, "hello again")?;

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

/// `kubeless function deploy` with the runtime and the image kept local, plus `extra` flags.
fn deploy(
    cluster: &Cluster,
    dir: &Path,
    name: &str,
    file: &str,
    handler: &str,
    extra: &[&str],
) -> Result<(), Error> {
    let mut args = vec![
        "function",
        "deploy",
        name,
        "--runtime",
        "python3.11",
        "--from-file",
        file,
        "--handler",
        handler,
        "--image-pull-policy",
        "IfNotPresent",
    ];
    args.extend_from_slice(extra);
    cluster.kubeless(dir, &args)?;
    rolled_out(cluster, name)
}

/// A requirements.txt installed by the pod's install init container, from PyPI.
fn python_dependencies(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "deps-py";
    write(
        dir,
        "withdeps.py",
        "import six\n\ndef foo(event, context):\n    return 'six ' + six.__version__\n",
    )?;
    write(dir, "requirements.txt", "six==1.16.0\n")?;
    deploy(
        cluster,
        dir,
        name,
        "withdeps.py",
        "withdeps.foo",
        &["--dependencies", "requirements.txt"],
    )?;
    call_until(cluster, dir, name, "six 1.16.0")?;
    cluster
        .kubeless(dir, &["function", "delete", name])
        .map(drop)
}

/// A zip archive (content type base64+zip), unpacked by the provision init container.
fn python_zip(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "zip-py";
    write(
        dir,
        "inzip.py",
        "def foo(event, context):\n    return 'from the zip'\n",
    )?;
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import zipfile; z = zipfile.ZipFile('inzip.zip', 'w'); z.write('inzip.py'); z.close()",
        ])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("python3 (to make the zip): {e}"))?;
    if !status.success() {
        return Err(format!("making the zip failed: {status}"));
    }
    deploy(cluster, dir, name, "inzip.zip", "inzip.foo", &[])?;
    let content_type = cluster.kubectl(&[
        "get",
        "function",
        name,
        "-o",
        "jsonpath={.spec.function-content-type}",
    ])?;
    expect_contains("the CLI's content type", &content_type, "base64+zip")?;
    call_until(cluster, dir, name, "from the zip")?;
    cluster
        .kubeless(dir, &["function", "delete", name])
        .map(drop)
}

fn write(dir: &Path, file: &str, text: &str) -> Result<(), Error> {
    std::fs::write(dir.join(file), text).map_err(|e| format!("writing {file}: {e}"))
}

fn python_post_data(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "echo-py";
    std::fs::write(
        dir.join("echo.py"),
        "def handler(event, context):\n    return {'got': event['data'], 'type': event['event-type']}\n",
    )
    .map_err(|e| e.to_string())?;
    cluster.kubeless(
        dir,
        &[
            "function",
            "deploy",
            name,
            "--runtime",
            "python3.11",
            "--from-file",
            "echo.py",
            "--handler",
            "echo.handler",
            "--image-pull-policy",
            "IfNotPresent",
        ],
    )?;
    rolled_out(cluster, name)?;
    let answer = eventually("the echo answers", Duration::from_secs(60), || {
        cluster.kubeless(dir, &["function", "call", name, "--data", r#"{"n": 7}"#])
    })?;
    expect_contains("function call --data", &answer, r#""got": {"n": 7}"#)?;
    cluster
        .kubeless(dir, &["function", "delete", name])
        .map(drop)
}
