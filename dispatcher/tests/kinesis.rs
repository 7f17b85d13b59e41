//! KinesisTriggers against a real Kinesis implementation (`support/kinesis.rs`, kinesis-local from npm),
//! functions served by fnhost and the real dispatcher binary, through the shared scenarios
//! (`support/scenarios.rs`).

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

use support::kinesis::KinesisLocal;
use support::scenarios;

fn broker(dir: &tempfile::TempDir) -> KinesisLocal {
    KinesisLocal::start(&dir.path().join("kinesis"))
}

#[test]
fn every_message_reaches_the_python_and_nodejs_functions_with_upstreams_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    scenarios::every_message_arrives(&broker(&dir), dir.path());
}

#[test]
fn failures_are_retried_then_dead_lettered_and_throttling_slows_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    scenarios::failures_retries_dead_letters_and_throttling(&broker(&dir), dir.path());
}

#[test]
fn a_killed_dispatcher_and_a_restarted_broker_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    scenarios::killed_dispatcher_and_restarted_broker(&mut broker(&dir), dir.path());
}

#[test]
fn a_timed_out_call_is_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    scenarios::timed_out_calls_are_retried(&broker(&dir), dir.path());
}
