//! The memory limit of worker processes (`FUNC_MEMORY_LIMIT`).
//!
//! In a pod, the container's cgroup holds fnhost and its workers together, and past the limit
//! the kernel's OOM killer picks a process without a word to anyone; outside a pod nothing
//! stops a leaking worker at all. So the pool watches the resident memory of fnhost and its
//! workers every [`CHECK_EVERY`] and, when together they are over the limit, kills the
//! largest worker itself: its calls fail saying why, and it is replaced.

use std::time::Duration;

/// The memory fnhost and all of a function's workers may use together, in bytes
/// (`FUNC_MEMORY_LIMIT`; none for `0`): what [`crate::WorkerCommand::memory_limit`] holds.
pub fn limit_of(spec: &fnhost_loader_api::FunctionSpec) -> Option<u64> {
    spec.memory_limit_bytes().map(|bytes| bytes as u64)
}

/// How often the workers' memory is read.
pub const CHECK_EVERY: Duration = Duration::from_millis(100);

/// Resident memory of a process (`VmRSS` of `/proc/<pid>/status`, `pid` may be `self`), in
/// bytes; `None` when the process is gone.
pub fn resident_bytes(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The worker to stop, when fnhost (`own` bytes) and the workers (`workers`, bytes each)
/// together are over `limit`: the index of the largest worker and the total.
pub fn over_limit(own: u64, workers: &[u64], limit: u64) -> Option<(usize, u64)> {
    let total = own + workers.iter().sum::<u64>();
    if total <= limit {
        return None;
    }
    let largest = workers
        .iter()
        .enumerate()
        .max_by_key(|(_, bytes)| **bytes)
        .map(|(i, _)| i)?;
    Some((largest, total))
}

/// `300 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_worker_goes_when_all_together_are_over_the_limit() {
        assert_eq!(over_limit(10, &[20, 30], 60), None);
        assert_eq!(over_limit(10, &[20, 40], 60), Some((1, 70)));
        assert_eq!(over_limit(70, &[], 60), None, "no worker to stop");
    }

    #[test]
    fn reads_this_process_resident_memory() {
        let bytes = resident_bytes("self").unwrap_or(0);
        assert!(bytes > 1024 * 1024, "{bytes}");
        assert_eq!(resident_bytes("999999999"), None);
    }
}
