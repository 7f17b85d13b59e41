//! One round of one target: start it, warm it up, load it, read its CPU and memory.

use std::path::Path;
use std::time::Duration;

use crate::report::Sample;
use crate::target::TargetSpec;
use crate::wrk::{self, Load};
use crate::{probe, procfs};

/// Starts `spec`, runs `wrk` for `warmup` and then for the measured `load` (with `script`,
/// `wrk -s`, when given), and stops it. A target that stops answering fails the round.
pub fn sample(
    spec: &TargetSpec,
    load: Load,
    warmup: Duration,
    script: Option<&Path>,
) -> Result<Sample, String> {
    let server = spec.start()?;
    let idle_rss = procfs::tree_rss_bytes(server.pid());
    if !warmup.is_zero() {
        wrk::run_script(
            server.addr,
            Load {
                duration: warmup,
                ..load
            },
            script,
        )?;
    }
    let cpu_before = procfs::tree_cpu_seconds(server.pid());
    let result = wrk::run_script(server.addr, load, script)?;
    let cpu = procfs::tree_cpu_seconds(server.pid()) - cpu_before;
    let loaded_rss = procfs::tree_rss_bytes(server.pid());
    if probe::get_status(server.addr) != Some(200) {
        return Err(format!("{} stopped answering after the run", spec.name));
    }
    Ok(Sample {
        wrk: result,
        cpu_per_request: cpu / result.requests.max(1) as f64,
        cold_start: server.cold_start.as_secs_f64(),
        idle_rss,
        loaded_rss,
    })
}
