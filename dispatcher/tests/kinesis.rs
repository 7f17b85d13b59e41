//! KinesisTriggers against a real Kinesis implementation (`support/kinesis.rs`, kinesis-local from npm),
//! functions served by fnhost and the real dispatcher binary, through the shared scenarios
//! (`support/scenarios.rs`).

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

broker_tests!(|dir: &std::path::Path| support::kinesis::KinesisLocal::start(&dir.join("kinesis")));
