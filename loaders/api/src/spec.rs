//! Everything a loader needs to load one function.

use std::path::PathBuf;
use std::time::Duration;

/// One function to load, resolved from the Kubeless environment or the local runner's flags.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// Module name (`MOD_NAME`), e.g. `hello` for `/kubeless/hello.py`.
    pub module: String,
    /// Handler name (`FUNC_HANDLER`), e.g. `foo`.
    pub handler: String,
    /// Folder holding the function's files (`KUBELESS_INSTALL_VOLUME`, default `/kubeless`).
    pub dir: PathBuf,
    /// Extra import paths, searched before `dir` (installed dependencies).
    pub search_path: Vec<PathBuf>,
    /// Per-call timeout (`FUNC_TIMEOUT`).
    pub timeout: Duration,
    /// Runtime id as given (`FUNC_RUNTIME`), e.g. `python3.11`; passed to the function's context.
    pub runtime: String,
    /// Memory limit as given (`FUNC_MEMORY_LIMIT`), e.g. `128Mi` or `0`.
    pub memory_limit: String,
    /// How many calls may run at once inside the engine (threads, isolates, workers).
    pub concurrency: usize,
    /// The most calls that may run at once in an engine that adds threads while calls block
    /// (Python in process: `FNHOST_MAX_THREADS`); never below `concurrency`.
    pub max_concurrency: usize,
    /// Where calls run, for loaders that offer a choice (`FNHOST_ISOLATION`).
    pub isolation: Isolation,
    /// Worker processes to keep, for calls that run in workers (`FNHOST_WORKERS`).
    pub workers: usize,
    /// Worker processes that share the calls when the in-process engine is saturated (Python
    /// in process: `FNHOST_INTERPRETERS`); `None` for none.
    pub spill: Option<SpillTo>,
}

/// Where calls go when an in-process engine cannot take more work (its GIL is saturated):
/// worker processes, started when first needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillTo {
    /// The program that runs workers (the `fnhost` binary itself).
    pub worker_program: PathBuf,
    /// How many worker processes.
    pub workers: usize,
}

impl FunctionSpec {
    /// `module.handler` in `dir` with the Kubeless defaults: no extra import paths, the
    /// 180 s timeout, no runtime id or memory limit, one call at a time (no growth, no spill), in-process, one
    /// worker. Override fields with struct-update syntax.
    pub fn new(module: &str, handler: &str, dir: impl Into<PathBuf>) -> FunctionSpec {
        FunctionSpec {
            module: module.to_owned(),
            handler: handler.to_owned(),
            dir: dir.into(),
            search_path: Vec::new(),
            timeout: Duration::from_secs(180),
            runtime: String::new(),
            memory_limit: "0".to_owned(),
            concurrency: 1,
            max_concurrency: 1,
            isolation: Isolation::InProcess,
            workers: 1,
            spill: None,
        }
    }
}

impl FunctionSpec {
    /// The function's Kubeless `context`, the one every runtime hands its function.
    pub fn context(&self) -> crate::Context {
        crate::Context {
            function_name: self.handler.clone(),
            timeout: self.timeout,
            runtime: self.runtime.clone(),
            memory_limit: self.memory_limit.clone(),
        }
    }

    /// `memory_limit` in bytes: `128Mi`, `1G`, `500000` (Kubernetes quantities); `None` for `0`,
    /// an empty value, or one that cannot be read.
    pub fn memory_limit_bytes(&self) -> Option<usize> {
        parse_quantity(&self.memory_limit)
    }
}

/// A Kubernetes memory quantity (`128Mi`, `1G`, `1.5Gi`, `500000`) in bytes; `None` below one
/// byte or when the text is not a quantity.
pub fn parse_quantity(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match unit {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * scale;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a positive byte count far below usize::MAX"
    )]
    (bytes >= 1.0).then_some(bytes as usize)
}

/// Where a loader runs calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Isolation {
    /// In the fnhost process: fastest; a crash in the function ends the process.
    #[default]
    InProcess,
    /// In worker processes started from `worker_program` (the `fnhost` binary itself, which
    /// has a hidden `worker` command): a crash or timeout replaces the worker, not fnhost.
    Process {
        /// The program that runs workers.
        worker_program: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::parse_quantity;

    #[test]
    fn quantities_in_bytes() {
        assert_eq!(parse_quantity("128Mi"), Some(128 << 20));
        assert_eq!(parse_quantity("1G"), Some(1_000_000_000));
        assert_eq!(parse_quantity("1.5Ki"), Some(1536));
        assert_eq!(parse_quantity("500000"), Some(500_000));
        assert_eq!(parse_quantity("0"), None);
        assert_eq!(parse_quantity(""), None);
        assert_eq!(parse_quantity("12 parsecs"), None);
    }
}
