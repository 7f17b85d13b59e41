//! `kubeless autoscale create --metric cpu`: the reconciler writes the HorizontalPodAutoscaler,
//! metrics-server (started with the node) serves the pods' CPU through the aggregation layer,
//! and under load from `wrk` the HPA controller really scales the function's Deployment.

use std::path::Path;
use std::time::Duration;

use fnhost_cluster_e2e::load::Load;
use fnhost_cluster_e2e::{Cluster, Error, eventually};

use crate::{deploy_python, service_address, write};

const NAME: &str = "busy-py";

pub fn scales_under_load(cluster: &Cluster, dir: &Path) -> Result<(), Error> {
    write(
        dir,
        "busy.py",
        "def handler(event, context):\n    total = 0\n    for i in range(20000):\n        total += i\n    return str(total)\n",
    )?;
    deploy_python(
        cluster,
        dir,
        NAME,
        "busy.py",
        "busy.handler",
        &["--cpu", "200m"],
    )?;
    cluster.kubeless(
        dir,
        &[
            "autoscale",
            "create",
            NAME,
            "--min",
            "1",
            "--max",
            "3",
            "--metric",
            "cpu",
            "--value",
            "20",
        ],
    )?;
    let address = service_address(cluster, NAME)?;
    let load = Load::start(&format!("http://{address}/"), 4)?;
    let scaled = eventually(
        "the HPA scales the Deployment past one replica",
        Duration::from_secs(300),
        || {
            let replicas = cluster.kubectl(&[
                "get",
                "deployment",
                NAME,
                "-o",
                "jsonpath={.status.replicas}",
            ])?;
            match replicas.trim().parse::<u32>() {
                Ok(n) if n > 1 => Ok(n),
                _ => Err(format!("replicas: {replicas:?}")),
            }
        },
    );
    let report = load.stop()?;
    let hpa = cluster
        .kubectl(&["describe", "hpa", NAME])
        .unwrap_or_else(|e| e);
    cluster.kubeless(dir, &["autoscale", "delete", NAME])?;
    crate::delete(cluster, dir, NAME)?;
    let replicas = scaled.map_err(|e| format!("{e}\nhpa:\n{hpa}"))?;
    eprintln!("autoscale: {replicas} replicas under load ({report})");
    Ok(())
}
