//! `FNHOST_INTERPRETERS`: a Python function whose interpreter is saturated gets worker
//! processes with interpreters of their own; one that is not (its calls wait with the GIL
//! free) never does. The function answers with the id of the process that ran it.
#![allow(
    clippy::expect_used,
    reason = "a test harness: a broken setup should stop the run loudly"
)]

use std::collections::{BTreeMap, BTreeSet};

use fnhost_conformance::case::Request;
use fnhost_conformance::fixture::Fixture;
use fnhost_conformance::http;
use fnhost_conformance::root;
use fnhost_conformance::run::{Booted, Suite, boot};

/// Calls sent at once in each wave.
const CALLS: usize = 48;
/// Waves at most; the workers start in the background, after the first saturated wave.
const WAVES: usize = 15;

fn boot_with(env: &[(&str, &str)]) -> (Booted, tempfile::TempDir) {
    let cache = tempfile::tempdir().expect("cache folder");
    let suite = Suite {
        cache_dir: cache.path().to_path_buf(),
    };
    let fixture = Fixture::load(&root().join("fixtures"), "python", "interpreters")
        .expect("the fixture exists")
        .expect("the fixture is valid");
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let booted = boot(&fixture, &env, &suite).expect("fnhost starts");
    (booted, cache)
}

/// Sends waves of calls at once until `enough` processes answered or the waves run out;
/// returns the process ids that answered.
fn processes_answering(booted: &Booted, enough: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..WAVES {
        let answers: Vec<String> = std::thread::scope(|scope| {
            let calls: Vec<_> = (0..CALLS)
                .map(|_| {
                    scope.spawn(|| {
                        let response = http::send(booted.addr, &Request::get("/")).expect("call");
                        let body = String::from_utf8_lossy(&response.body).into_owned();
                        assert_eq!(response.status, 200, "{body}");
                        body
                    })
                })
                .collect();
            calls
                .into_iter()
                .map(|c| c.join().expect("caller"))
                .collect()
        });
        seen.extend(answers);
        if seen.len() >= enough {
            break;
        }
    }
    seen
}

/// One test, three servers in turn: servers running side by side would take each other's CPU.
#[test]
fn worker_interpreters_start_only_for_a_saturated_interpreter() {
    let (booted, _cache) = boot_with(&[("FNHOST_INTERPRETERS", "2"), ("FNHOST_THREADS", "4")]);
    let pids = processes_answering(&booted, 2);
    assert_eq!(
        pids.len(),
        2,
        "CPU-bound calls were answered by {pids:?}: one interpreter in fnhost plus one worker expected\n{}",
        booted.fnhost.transcript()
    );
    drop(booted);

    let (booted, _cache) = boot_with(&[("FNHOST_INTERPRETERS", "1"), ("FNHOST_THREADS", "4")]);
    let pids = processes_answering(&booted, 2);
    assert_eq!(
        pids.len(),
        1,
        "with FNHOST_INTERPRETERS=1, answered by {pids:?}"
    );
    drop(booted);

    let (booted, _cache) = boot_with(&[
        ("FNHOST_INTERPRETERS", "2"),
        ("FNHOST_THREADS", "4"),
        ("FUNC_HANDLER", "wait"),
    ]);
    let pids = processes_answering(&booted, 2);
    assert_eq!(
        pids.len(),
        1,
        "calls that wait with the GIL free were answered by {pids:?}: no worker expected\n{}",
        booted.fnhost.transcript()
    );
}
