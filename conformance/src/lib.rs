//! The fnhost conformance suite: one harness, cases as data, every runtime.
//!
//! A **case** (`cases/<name>/case.toml`, see [`case`]) describes a function fixture, how to
//! start fnhost, and a list of steps with expectations. A **fixture**
//! (`fixtures/<runtime>/<name>/`, with a `fixture.toml` naming the handler) is the same
//! function written for one runtime. Each case runs once per runtime folder; a runtime with
//! no fixture for a case fails, unless `expected_failures.toml` lists the pair with its
//! reason (and then the case must still fail: an unexpected pass is an error too).
//!
//! The harness treats fnhost as a black box: it boots the real binary (`FNHOST_BIN`, or the
//! one in the target folder) with the Kubeless environment on an ephemeral port, waits for
//! the readiness line, and speaks HTTP to it.
//!
//! # Layout
//!
//! - [`case`]: the case file format.
//! - [`fixture`]: fixture lookup and the function folder fnhost is started on.
//! - [`process`]: starting fnhost and watching its output.
//! - [`http`]: the minimal HTTP client.
//! - [`run`]: executing one case against one runtime.

pub mod case;
pub mod fixture;
pub mod http;
pub mod process;
pub mod run;

use std::path::{Path, PathBuf};

/// The conformance crate folder.
pub fn root() -> PathBuf {
    // Cargo's run-time value first: a binary built in another clone (the build folder is
    // shared) must still read the cases and fixtures of the clone it runs for.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// Folder names below `dir`, sorted.
pub fn subdirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
