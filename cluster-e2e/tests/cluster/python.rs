//! The Kubeless workflow beyond one runtime's lifecycle, on the Python runtime: dependencies
//! from PyPI, zip and URL content, the CronJob and HTTP triggers, a namespace full of service
//! links, a handler that does not exist.

use std::path::Path;
use std::time::Duration;

use fnhost_cluster_e2e::load::http_get_host;
use fnhost_cluster_e2e::{Cluster, Error, eventually};

use crate::{POD_START, call_until, delete, deploy_python, expect_contains, write};

/// A requirements.txt installed by the pod's install init container, from PyPI.
pub fn dependencies_from_pypi(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "deps-py";
    write(
        dir,
        "withdeps.py",
        "import six\n\ndef foo(event, context):\n    return 'six ' + six.__version__\n",
    )?;
    write(dir, "requirements.txt", "six==1.16.0\n")?;
    deploy_python(
        cluster,
        dir,
        name,
        "withdeps.py",
        "withdeps.foo",
        &["--dependencies", "requirements.txt"],
    )?;
    call_until(cluster, dir, name, &[], "six 1.16.0")?;
    delete(cluster, dir, name)
}

/// A zip archive (content type base64+zip), unpacked by the provision init container.
pub fn zip_archive(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
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
    deploy_python(cluster, dir, name, "inzip.zip", "inzip.foo", &[])?;
    content_type_is(cluster, name, "base64+zip")?;
    call_until(cluster, dir, name, &[], "from the zip")?;
    delete(cluster, dir, name)
}

/// `kubeless trigger cronjob create` every minute: the CronJob's Job (curl in the provision
/// image) resolves the function's Service through the cluster DNS and its call arrives, with
/// the trigger's event namespace.
pub fn cronjob_trigger_fires(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "cron-py";
    write(
        dir,
        "cron.py",
        "def handler(event, context):\n    print('called by', event['event-namespace'], flush=True)\n    return 'ok'\n",
    )?;
    deploy_python(cluster, dir, name, "cron.py", "cron.handler", &[])?;
    let trigger = "cron-py-every-minute";
    cluster.kubeless(
        dir,
        &[
            "trigger",
            "cronjob",
            "create",
            trigger,
            "--function",
            name,
            "--schedule",
            "* * * * *",
        ],
    )?;
    let fired = eventually(
        "the CronJob's call reaches the function",
        Duration::from_secs(180),
        || {
            let logs = cluster.kubeless(dir, &["function", "logs", name])?;
            expect_contains(
                "function logs",
                &logs,
                "called by cronjobtrigger.kubeless.io",
            )
        },
    );
    let jobs = cluster
        .kubectl(&["describe", "jobs", "-l", &format!("function={name}")])
        .unwrap_or_else(|e| e);
    cluster.kubeless(dir, &["trigger", "cronjob", "delete", trigger])?;
    fired.map_err(|e| format!("{e}\njobs:\n{jobs}"))?;
    delete(cluster, dir, name)
}

/// A namespace whose Services make kubelet write service-link variables that look like
/// fnhost's and Kubeless's own (`func` → `FUNC_PORT=tcp://...`, `fnhost` → `FNHOST_PORT`,
/// `fnhost-threads` → `FNHOST_THREADS_SERVICE_HOST`): the function still starts and answers.
pub fn among_other_services(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let namespace = "e2e-links";
    let name = "linked-py";
    let services: String = ["func", "fnhost", "fnhost-threads"]
        .iter()
        .map(|service| {
            format!(
                "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {service}, namespace: {namespace}}}\nspec: {{selector: {{app: none}}, ports: [{{port: 8080}}]}}\n"
            )
        })
        .collect();
    cluster.kubectl(&["create", "namespace", namespace])?;
    let result = (|| {
        cluster.kubectl_stdin(&["apply", "-f", "-"], &services)?;
        write(
            dir,
            "linked.py",
            "def foo(event, context):\n    return 'linked'\n",
        )?;
        cluster.kubeless(
            dir,
            &[
                "function",
                "deploy",
                name,
                "--namespace",
                namespace,
                "--runtime",
                "python3.11",
                "--from-file",
                "linked.py",
                "--handler",
                "linked.foo",
                "--image-pull-policy",
                "IfNotPresent",
            ],
        )?;
        let env = eventually("the pod's environment", POD_START, || {
            cluster.kubectl(&[
                "-n",
                namespace,
                "exec",
                &format!("deployment/{name}"),
                "--",
                "env",
            ])
        })?;
        expect_contains(
            "service links in the pod",
            &env,
            "FNHOST_THREADS_SERVICE_HOST=",
        )?;
        expect_contains("FUNC_PORT (the reconciler's wins)", &env, "FUNC_PORT=8080")?;
        call_until(cluster, dir, name, &["--namespace", namespace], "linked")
    })();
    cluster.kubectl(&["delete", "namespace", namespace, "--wait=false"])?;
    result
}

/// A handler the module does not have: the pod does not become ready, and the container's
/// termination message (what `kubectl describe pod` shows under Last State) names the module
/// and the handler.
pub fn bad_handler_says_why(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "bad-handler-py";
    write(
        dir,
        "bad.py",
        "def foo(event, context):\n    return 'foo'\n",
    )?;
    cluster.kubeless(
        dir,
        &[
            "function",
            "deploy",
            name,
            "--runtime",
            "python3.11",
            "--from-file",
            "bad.py",
            "--handler",
            "bad.nothere",
            "--image-pull-policy",
            "IfNotPresent",
        ],
    )?;
    let message = eventually("the container's termination message", POD_START, || {
        let message = cluster.kubectl(&[
            "get",
            "pods",
            "-l",
            &format!("function={name}"),
            "-o",
            "jsonpath={.items[0].status.containerStatuses[0].lastState.terminated.message}",
        ])?;
        if message.trim().is_empty() {
            Err("no termination message yet".to_owned())
        } else {
            Ok(message)
        }
    })?;
    expect_contains("termination message", &message, "nothere")?;
    expect_contains("termination message", &message, "bad")?;
    let described = cluster.kubectl(&["describe", "pods", "-l", &format!("function={name}")])?;
    expect_contains("kubectl describe pod", &described, "nothere")?;
    delete(cluster, dir, name)
}

/// `--from-file http://...`: the CLI downloads the file for its checksum (from the host) and
/// writes content type `url`; the prepare init container downloads it again (pod to pod).
/// The file is served by a pod of the test's own (Python's `http.server` on the runtime
/// image), since tests reach only loopback and what they create.
pub fn from_a_url(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "url-py";
    let server = "e2e-file-server";
    let image = python_image()?;
    let manifest = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: {server}}}
data:
  remote.py: |
    def foo(event, context):
        return 'from a url'
---
apiVersion: v1
kind: Pod
metadata: {{name: {server}}}
spec:
  containers:
    - name: http
      image: {image}
      imagePullPolicy: IfNotPresent
      command: [python3, -m, http.server, "8000", --directory, /srv]
      volumeMounts: [{{name: files, mountPath: /srv}}]
  volumes: [{{name: files, configMap: {{name: {server}}}}}]
"#
    );
    cluster.kubectl_stdin(&["apply", "-f", "-"], &manifest)?;
    let result = (|| {
        cluster.kubectl(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{server}"),
            &format!("--timeout={}s", POD_START.as_secs()),
        ])?;
        let ip = cluster.kubectl(&["get", "pod", server, "-o", "jsonpath={.status.podIP}"])?;
        let url = format!("http://{}:8000/remote.py", ip.trim());
        deploy_python(cluster, dir, name, &url, "remote.foo", &[])?;
        content_type_is(cluster, name, "url")?;
        call_until(cluster, dir, name, &[], "from a url")?;
        delete(cluster, dir, name)
    })();
    cluster.kubectl(&["delete", "pod,configmap", server, "--wait=false"])?;
    result
}

/// The Python runtime image of the catalogue, as the installed `kubeless-config` names it.
fn python_image() -> Result<String, Error> {
    let dockerfile = fnhost_cluster_e2e::repository_root().join("images/python3.11/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile)
        .map_err(|e| format!("{}: {e}", dockerfile.display()))?;
    text.split_whitespace()
        .skip_while(|word| *word != "-t")
        .nth(1)
        .map(str::to_owned)
        .ok_or_else(|| format!("no `-t TAG` in {}", dockerfile.display()))
}

/// The content type the CLI wrote into the Function.
fn content_type_is(cluster: &Cluster, name: &str, wanted: &str) -> Result<(), Error> {
    let content_type = cluster.kubectl(&[
        "get",
        "function",
        name,
        "-o",
        "jsonpath={.spec.function-content-type}",
    ])?;
    if content_type.trim() == wanted {
        Ok(())
    } else {
        Err(format!(
            "the CLI's content type: {content_type:?}, not {wanted:?}"
        ))
    }
}

/// Where start-cluster.sh's HAProxy Ingress listens for HTTP (127.0.0.1 only).
const INGRESS_HTTP: &str = "127.0.0.1:28080";

/// `kubeless trigger http create`: the reconciler writes an Ingress (class `nginx`, as
/// upstream's default gateway), the node's Ingress controller (HAProxy Ingress) picks it up, and
/// a request with the trigger's host name and path reaches the function.
pub fn http_trigger_routes(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "ingress-py";
    write(
        dir,
        "routed.py",
        "def foo(event, context):\n    return 'hello world through the ingress'\n",
    )?;
    deploy_python(cluster, dir, name, "routed.py", "routed.foo", &[])?;
    let trigger = "ingress-py-route";
    let host = "ingress-py.fnhost.test";
    cluster.kubeless(
        dir,
        &[
            "trigger",
            "http",
            "create",
            trigger,
            "--function-name",
            name,
            "--hostname",
            host,
            "--path",
            "greet",
        ],
    )?;
    let address = INGRESS_HTTP
        .parse()
        .map_err(|e| format!("{INGRESS_HTTP}: {e}"))?;
    let routed = eventually(
        "the Ingress controller routes the trigger's host and path",
        Duration::from_secs(120),
        || match http_get_host(address, host, "/greet")? {
            (200, body) if body.contains("through the ingress") => Ok(()),
            (status, body) => Err(format!("{status} {body:?}")),
        },
    );
    let unrouted = http_get_host(address, "elsewhere.fnhost.test", "/greet");
    let ingress = cluster
        .kubectl(&["get", "ingress", "-o", "yaml"])
        .unwrap_or_else(|e| e);
    cluster.kubeless(dir, &["trigger", "http", "delete", trigger])?;
    routed.map_err(|e| format!("{e}\ningresses:\n{ingress}"))?;
    match unrouted {
        Ok((200, body)) => Err(format!("another host name reached the function: {body:?}")),
        _ => delete(cluster, dir, name),
    }
}

/// `--memory 128Mi`: the container's limit reaches the function as `FUNC_MEMORY_LIMIT`
/// (`context['memory-limit']`), and the pod carries the limit.
pub fn memory_limit_reaches_the_function(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    let name = "memory-py";
    write(
        dir,
        "limits.py",
        "def foo(event, context):\n    return 'limit ' + str(context['memory-limit'])\n",
    )?;
    deploy_python(
        cluster,
        dir,
        name,
        "limits.py",
        "limits.foo",
        &["--memory", "128Mi"],
    )?;
    call_until(cluster, dir, name, &[], "limit 128Mi")?;
    let limit = cluster.kubectl(&[
        "get",
        "deployment",
        name,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].resources.limits.memory}",
    ])?;
    if limit.trim() != "128Mi" {
        return Err(format!(
            "the container's memory limit is {limit:?}, not 128Mi"
        ));
    }
    delete(cluster, dir, name)
}
