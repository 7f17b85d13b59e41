//! NATSTriggers against a real nats-server with JetStream (`support/nats.rs`), functions
//! served by fnhost and the real dispatcher binary, through the shared scenarios
//! (`support/scenarios.rs`).

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

broker_tests!(|dir: &std::path::Path| support::nats::NatsServer::start(&dir.join("nats")));
