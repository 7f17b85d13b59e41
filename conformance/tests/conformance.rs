//! The conformance suite's entry point: one trial per (case, runtime), generated from the
//! folder listing (no hand-kept list). Run with `cargo test -p fnhost-conformance --test
//! conformance`; filter like any cargo test, e.g. `-- timeout`.
#![allow(
    clippy::expect_used,
    reason = "a test harness: a broken setup should stop the run loudly"
)]

use std::collections::BTreeMap;
use std::path::Path;

use fnhost_conformance::case::Case;
use fnhost_conformance::fixture::Fixture;
use fnhost_conformance::run::{Suite, run_case};
use fnhost_conformance::{root, subdirs};
use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct ExpectedFailures {
    #[serde(default)]
    expected_failure: Vec<ExpectedFailure>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedFailure {
    case: String,
    runtime: String,
    reason: String,
}

fn main() {
    let args = Arguments::from_args();
    let root = root();
    let cache = tempfile::tempdir().expect("temporary dependency cache");
    let suite = Suite {
        cache_dir: cache.path().to_path_buf(),
    };
    let expected = load_expected_failures(&root.join("expected_failures.toml"));
    let runtimes = subdirs(&root.join("fixtures"));
    let mut trials = Vec::new();
    for case_name in subdirs(&root.join("cases")) {
        let applies_to = case_runtimes(&root, &case_name);
        for runtime in &runtimes {
            if let Some(only) = applies_to.as_ref().filter(|only| !only.contains(runtime)) {
                // Listed, not run: the case is about another runtime's own API.
                let name = format!("{case_name}::{runtime} (only for {})", only.join(", "));
                trials.push(Trial::test(name, || Ok(())).with_ignored_flag(true));
                continue;
            }
            trials.push(trial(
                &root,
                &case_name,
                runtime,
                &suite,
                expected.get(&(case_name.clone(), runtime.clone())),
            ));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(cache);
    conclusion.exit();
}

/// The case's `runtimes` list, if it has one (a broken case file is reported when it runs).
fn case_runtimes(root: &Path, case_name: &str) -> Option<Vec<String>> {
    let text =
        std::fs::read_to_string(root.join("cases").join(case_name).join("case.toml")).ok()?;
    Case::parse(&text).ok()?.runtimes
}

fn load_expected_failures(path: &Path) -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let parsed: ExpectedFailures = toml::from_str(&text).expect("expected_failures.toml is valid");
    parsed
        .expected_failure
        .into_iter()
        .map(|f| ((f.case, f.runtime), f.reason))
        .collect()
}

fn trial(
    root: &Path,
    case_name: &str,
    runtime: &str,
    suite: &Suite,
    expected_failure: Option<&String>,
) -> Trial {
    let name = format!("{case_name}::{runtime}");
    let (root, case_name, runtime, suite) = (
        root.to_path_buf(),
        case_name.to_owned(),
        runtime.to_owned(),
        suite.clone(),
    );
    let reason = expected_failure.cloned();
    Trial::test(name, move || {
        let outcome = run_one(&root, &case_name, &runtime, &suite);
        match (outcome, reason) {
            (Ok(()), None) => Ok(()),
            (Err(e), None) => Err(Failed::from(e)),
            (Err(_), Some(_)) => Ok(()),
            (Ok(()), Some(reason)) => Err(Failed::from(format!(
                "listed as an expected failure ({reason}) but it passed: remove it from expected_failures.toml"
            ))),
        }
    })
}

fn run_one(root: &Path, case_name: &str, runtime: &str, suite: &Suite) -> Result<(), String> {
    let case_file = root.join("cases").join(case_name).join("case.toml");
    let text =
        std::fs::read_to_string(&case_file).map_err(|e| format!("{}: {e}", case_file.display()))?;
    let case = Case::parse(&text).map_err(|e| format!("{}: {e}", case_file.display()))?;
    let fixture =
        Fixture::load(&root.join("fixtures"), runtime, &case.fixture).ok_or_else(|| {
            format!(
                "runtime {runtime} has no fixture {:?} for this case",
                case.fixture
            )
        })??;
    run_case(&case, &fixture, suite)
}
