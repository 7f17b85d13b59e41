//! A real Prometheus (3.x from the Go module proxy, built by `scripts/k8s/build-prometheus.sh`
//! with its Kubernetes discovery; it runs on the host) finds the function's pod through the
//! Kubernetes API (`kubernetes_sd_configs`, role `pod`), keeps it by the
//! `prometheus.io/scrape` annotation the reconciler writes, scrapes `/metrics` on the pod's IP
//! and the annotated port, and has the call that was made.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fnhost_cluster_e2e::load::http_get;
use fnhost_cluster_e2e::{Cluster, Error, eventually};

use crate::{call_until, deploy_python, write};

const NAME: &str = "scraped-py";

/// The scrape configuration a cluster's Prometheus would have for Kubeless functions.
fn config(kubeconfig: &Path) -> String {
    format!(
        r#"global:
  scrape_interval: 2s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kubeless-functions
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: {kubeconfig}
        namespaces:
          names: [default]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        action: keep
        regex: "true"
      - source_labels: [__meta_kubernetes_pod_container_init]
        action: drop
        regex: "true"
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        target_label: __metrics_path__
        regex: (.+)
      - source_labels: [__meta_kubernetes_pod_ip, __meta_kubernetes_pod_annotation_prometheus_io_port]
        regex: (.+);(.+)
        replacement: $1:$2
        target_label: __address__
      - source_labels: [__meta_kubernetes_pod_label_function]
        target_label: kubeless_function
"#,
        kubeconfig = kubeconfig.display()
    )
}

/// The Prometheus server; killed when dropped.
struct Prometheus {
    child: Child,
    address: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &Path, kubeconfig: &Path) -> Result<Self, Error> {
        let config_file = dir.join("prometheus.yml");
        write(dir, "prometheus.yml", &config(kubeconfig))?;
        let address = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("an ephemeral port for Prometheus: {e}"))?;
        let log = std::fs::File::create(dir.join("prometheus.log"))
            .map_err(|e| format!("prometheus.log: {e}"))?;
        let child = Command::new(binary()?)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start prometheus: {e}"))?;
        let server = Self { child, address };
        eventually(
            "Prometheus is ready",
            Duration::from_secs(60),
            || match http_get(server.address, "/-/ready")? {
                (200, _) => Ok(()),
                (status, body) => Err(format!("{status} {body}")),
            },
        )
        .map_err(|e| format!("{e}\nprometheus log (tail):\n{}", log_tail(dir)))?;
        Ok(server)
    }

    /// The sum of the results of an instant query, or an error when there are none.
    fn query_sum(&self, query: &str) -> Result<f64, Error> {
        let (status, body) = http_get(
            self.address,
            &format!("/api/v1/query?query={}", percent_encode(query)),
        )?;
        if status != 200 {
            return Err(format!("query {query}: {status} {body}"));
        }
        // The body may be chunked; the JSON object is between the first `{` and the last `}`.
        let json = body
            .find('{')
            .zip(body.rfind('}'))
            .map(|(start, end)| &body[start..=end])
            .ok_or_else(|| format!("query {query}: no JSON in {body:?}"))?;
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("query {query}: {e}: {json}"))?;
        let results = value["data"]["result"]
            .as_array()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| format!("query {query}: no series yet: {json}"))?;
        Ok(results
            .iter()
            .filter_map(|r| r["value"][1].as_str()?.parse::<f64>().ok())
            .sum())
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn discovers_and_scrapes_the_pod(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    write(
        dir,
        "scraped.py",
        "def foo(event, context):\n    return 'scraped'\n",
    )?;
    deploy_python(cluster, dir, NAME, "scraped.py", "scraped.foo", &[])?;
    call_until(cluster, dir, NAME, &[], "scraped")?;
    let prometheus = Prometheus::start(dir, cluster.kubeconfig())?;
    let query = format!(r#"sum(function_calls_total{{kubeless_function="{NAME}",method="GET"}})"#);
    let scraped = eventually(
        "Prometheus has the function's calls",
        Duration::from_secs(90),
        || match prometheus.query_sum(&query)? {
            calls if calls >= 1.0 => Ok(calls),
            calls => Err(format!("{calls} calls")),
        },
    );
    drop(prometheus);
    scraped.map_err(|e| format!("{e}\nprometheus log (tail):\n{}", log_tail(dir)))?;
    crate::delete(cluster, dir, NAME)
}

/// The last lines of the server's log.
fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The Prometheus binary (built once, cached; the script prints its path).
fn binary() -> Result<String, Error> {
    let script = fnhost_cluster_e2e::repository_root().join("scripts/k8s/build-prometheus.sh");
    let output = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !path.is_empty() {
        Ok(path)
    } else {
        Err(format!("{} failed ({})", script.display(), output.status))
    }
}
