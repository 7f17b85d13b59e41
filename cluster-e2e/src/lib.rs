//! The real-cluster end-to-end suite's tools: a single-node Kubernetes cluster started by
//! `scripts/k8s/start-cluster.sh` (kubelet over containerd, CNI, kube-proxy, CoreDNS) and
//! stopped when the [`Cluster`] is dropped, fnhost's images built into it by
//! `scripts/images/build.sh`, and the commands a user types: `kubectl` and the original
//! kubeless CLI v1.0.8. Every failure is an error with the command's output, never a skip.

pub mod load;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// What went wrong, with what a person needs to see.
pub type Error = String;

/// The repository root (the scripts are run from there).
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The cluster; dropping it runs `scripts/k8s/stop-cluster.sh`.
#[derive(Debug)]
pub struct Cluster {
    kubeconfig: PathBuf,
}

impl Cluster {
    /// Starts the cluster (building and installing what it needs, which may take minutes cold).
    /// The stand-ins for the public base images are made first, so that a failure there shows
    /// before the node's minutes of start-up.
    pub fn start() -> Result<Self, Error> {
        eprintln!("cluster-e2e: making the base-image stand-ins (scripts/images/base-images.sh)");
        run_script("scripts/images/base-images.sh", &[])?;
        eprintln!("cluster-e2e: starting the cluster (scripts/k8s/start-cluster.sh)");
        let output = run_script("scripts/k8s/start-cluster.sh", &[])?;
        let kubeconfig = output
            .lines()
            .last()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .ok_or_else(|| format!("start-cluster.sh printed no kubeconfig:\n{output}"))?;
        Ok(Self { kubeconfig })
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The node's address (`start-cluster.sh` writes it beside the kubeconfig): pods reach
    /// the host there.
    pub fn node_ip(&self) -> Result<std::net::IpAddr, Error> {
        let file = self.kubeconfig.with_file_name("node-ip");
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("the node's address ({}): {e}", file.display()))?;
        text.trim()
            .parse()
            .map_err(|e| format!("the node's address {text:?}: {e}"))
    }

    /// Builds the images `names` (folders of `images/`) and loads them into the node.
    pub fn build_images(&self, names: &[&str]) -> Result<(), Error> {
        eprintln!("cluster-e2e: building images {names:?} (scripts/images/build.sh)");
        run_script("scripts/images/build.sh", names).map(drop)
    }

    /// `kubectl ARGS`, which must succeed; its standard output.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, Error> {
        self.run(&kubectl_binary(), args, None)
    }

    /// `kubectl ARGS` with `stdin` as its input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Result<String, Error> {
        self.run(&kubectl_binary(), args, Some(stdin))
    }

    /// The original kubeless CLI, run in `workdir`; it must succeed; stdout and stderr.
    pub fn kubeless(&self, workdir: &Path, args: &[&str]) -> Result<String, Error> {
        let output = Command::new(kubeless_binary())
            .args(args)
            .current_dir(workdir)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .map_err(|e| format!("cannot run the kubeless CLI: {e}"))?;
        checked(&format!("kubeless {}", args.join(" ")), &output, true)
    }

    fn run(&self, program: &Path, args: &[&str], stdin: Option<&str>) -> Result<String, Error> {
        let mut command = Command::new(program);
        command.args(args).env("KUBECONFIG", &self.kubeconfig);
        let output = match stdin {
            None => command.output(),
            Some(text) => output_with_stdin(&mut command, text),
        }
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        checked(
            &format!("{} {}", program.display(), args.join(" ")),
            &output,
            false,
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        eprintln!("cluster-e2e: stopping the cluster (scripts/k8s/stop-cluster.sh)");
        if let Err(e) = run_script("scripts/k8s/stop-cluster.sh", &[]) {
            eprintln!("cluster-e2e: stopping the cluster failed: {e}");
        }
    }
}

fn output_with_stdin(command: &mut Command, text: &str) -> std::io::Result<Output> {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(text.as_bytes())?;
    }
    child.wait_with_output()
}

/// A command's stdout (with stderr appended when `with_stderr`), or an error with both.
fn checked(what: &str, output: &Output, with_stderr: bool) -> Result<String, Error> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "`{what}` failed ({}):\n{stdout}{stderr}",
            output.status
        ));
    }
    Ok(if with_stderr {
        format!("{stdout}{stderr}")
    } else {
        stdout.into_owned()
    })
}

/// Runs a repository script; its stdout, or an error with the tail of both streams. The
/// script's stderr (its progress) goes to this process's stderr as it comes.
fn run_script(script: &str, args: &[&str]) -> Result<String, Error> {
    let output = Command::new(repository_root().join(script))
        .args(args)
        .current_dir(repository_root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    checked(script, &output, false)
}

/// The `kubectl` of the cluster's build (`FNHOST_K8S_BIN`, default `~/.cache/fnhost-k8s/bin`).
pub fn kubectl_binary() -> PathBuf {
    tool_dir("FNHOST_K8S_BIN", ".cache/fnhost-k8s/bin").join("kubectl")
}

/// Where the suite writes a file of measured figures (`benches/RESULTS.md` takes them from
/// there): `$FNHOST_E2E_RESULTS/NAME`, default `~/.cache/fnhost/cluster-e2e/NAME`. The folder
/// is created; a failure to write is the caller's to report.
pub fn results_file(name: &str) -> PathBuf {
    let dir = tool_dir("FNHOST_E2E_RESULTS", ".cache/fnhost/cluster-e2e");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(name)
}

fn kubeless_binary() -> PathBuf {
    tool_dir("FNHOST_KUBELESS_BIN", ".cache/fnhost-k8s/kubeless-bin").join("kubeless")
}

fn tool_dir(variable: &str, under_home: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(
        || Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(under_home),
        PathBuf::from,
    )
}

/// Retries `check` every half second until it returns `Ok`, for at most `timeout`; the last
/// error when time runs out.
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, Error>,
) -> Result<T, Error> {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("{what}: not within {timeout:?}; last: {e}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}
