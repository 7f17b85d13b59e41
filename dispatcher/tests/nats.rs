//! NATSTriggers against a real nats-server with JetStream, functions served by fnhost (an
//! upstream-style Python function and a Node.js one), and the real dispatcher binary: every
//! published message arrives with upstream's event headers; failures are retried, then
//! dead-lettered; throttling slows delivery; a killed dispatcher, a restarted broker and a
//! timed-out call lose nothing. The counts are printed and written to
//! `~/.cache/fnhost/triggers/nats.txt`.

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use support::nats::NatsServer;
use support::{Dispatcher, Recorder, eventually, write_routes};

const WAIT: Duration = Duration::from_secs(180);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Core-NATS publishes (what `kubeless trigger nats publish` does), then a flush.
fn publish(url: &str, messages: &[(String, Vec<u8>)]) {
    runtime().block_on(async {
        let client = async_nats::connect(url).await.expect("connect to NATS");
        for (subject, payload) in messages {
            client
                .publish(subject.clone(), payload.clone().into())
                .await
                .expect("publish");
        }
        client.flush().await.expect("flush");
    });
}

fn numbered(
    subject: impl Fn(u64) -> String,
    range: std::ops::Range<u64>,
    extra: &str,
) -> Vec<(String, Vec<u8>)> {
    range
        .map(|n| (subject(n), format!(r#"{{"n": {n}{extra}}}"#).into_bytes()))
        .collect()
}

fn nats_trigger(name: &str, subject: &str, label: &str, annotations: &str) -> String {
    format!(
        "  - apiVersion: kubeless.io/v1beta1\n    kind: NATSTrigger\n    metadata: {{name: {name}, namespace: default, annotations: {{{annotations}}}}}\n    spec: {{topic: \"{subject}\", functionSelector: {{matchLabels: {{topic: {label}}}}}}}\n"
    )
}

/// Waits until every `n` in `range` was delivered to `recorder`; returns how many deliveries
/// were duplicates.
fn wait_all_delivered(recorder: &Recorder, range: std::ops::Range<u64>) -> usize {
    let expected = range.clone().count();
    let by_n: HashMap<u64, usize> = eventually(
        &format!(
            "{} messages delivered to the {} function",
            expected, recorder.runtime
        ),
        WAIT,
        || {
            let by_n = recorder.delivered_by_n();
            range.clone().all(|n| by_n.contains_key(&n)).then_some(by_n)
        },
        || {
            let by_n = recorder.delivered_by_n();
            let missing: Vec<u64> = range
                .clone()
                .filter(|n| !by_n.contains_key(n))
                .take(20)
                .collect();
            format!("{} delivered; first missing: {missing:?}", by_n.len())
        },
    );
    range.map(|n| by_n[&n] - 1).sum()
}

fn report(line: &str) {
    eprintln!("nats: {line}");
    let dir =
        Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/fnhost/triggers");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("nats.txt");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&format!("{} {line}\n", jiff::Timestamp::now()));
    let _ = std::fs::write(path, text);
}

#[test]
fn every_message_reaches_the_python_and_nodejs_functions_with_upstreams_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = NatsServer::start(&dir.path().join("nats"));
    let python = Recorder::start("python", dir.path(), &[]);
    let node = Recorder::start("nodejs", dir.path(), &[]);
    let routes = write_routes(
        dir.path(),
        &nats_trigger("orders", "orders.created", "orders", ""),
        &[("py", &python, "orders"), ("js", &node, "orders")],
    );
    let dispatcher = Dispatcher::start(&routes, &[("NATS_URL", &nats.url())]);

    let mut messages = numbered(|_| "orders.created".into(), 0..300, "");
    messages.push(("orders.created".into(), b"plain text".to_vec()));
    publish(&nats.url(), &messages);

    for recorder in [&python, &node] {
        let duplicates = wait_all_delivered(recorder, 0..300);
        assert_eq!(
            duplicates, 0,
            "no fault, no duplicate ({})",
            recorder.runtime
        );
        let attempts = eventually(
            "the plain-text message",
            WAIT,
            || {
                let attempts = recorder.attempts();
                attempts
                    .iter()
                    .any(|a| a.data == "plain text")
                    .then_some(attempts)
            },
            || format!("{} attempts", recorder.attempts().len()),
        );
        for attempt in &attempts {
            assert_eq!(attempt.namespace, "natstriggers.kubeless.io");
            assert!(
                attempt.id.starts_with("KUBELESS-"),
                "event-id {}",
                attempt.id
            );
            assert!(
                attempt.time.ends_with(" +0000 UTC"),
                "event-time {}",
                attempt.time
            );
            let expected_type = if attempt.data.is_object() {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            };
            assert_eq!(attempt.event_type, expected_type, "{attempt:?}");
        }
        let delivered = dispatcher.metric(
            "fnhost_trigger_messages_total",
            &[
                (
                    "function",
                    if recorder.runtime == "python" {
                        "py"
                    } else {
                        "js"
                    },
                ),
                ("outcome", "delivered"),
            ],
        );
        assert_eq!(delivered, 301.0, "delivered counter ({})", recorder.runtime);
    }
    report(
        "every message: 301 published, 301 delivered to each of 2 functions, 0 duplicated, 0 lost",
    );
}

#[test]
fn failures_are_retried_then_dead_lettered_and_throttling_slows_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = NatsServer::start(&dir.path().join("nats"));
    let python = Recorder::start("python", dir.path(), &[]);
    let node = Recorder::start("nodejs", dir.path(), &[]);
    let annotations = "fnhost.io/max-attempts: \"3\", fnhost.io/dead-letter: jobs-dead";
    let triggers = format!(
        "{}{}",
        nats_trigger("jobs", "jobs.>", "jobs", annotations),
        nats_trigger("busy", "busy.>", "busy", "")
    );
    let routes = write_routes(
        dir.path(),
        &triggers,
        &[("py", &python, "jobs"), ("js", &node, "busy")],
    );
    let dispatcher = Dispatcher::start(&routes, &[("NATS_URL", &nats.url())]);

    // One subject per message: they are delivered side by side (order is per subject).
    let mut messages = numbered(|n| format!("jobs.{n}"), 0..20, r#", "fail": 2"#);
    messages.extend(numbered(
        |n| format!("jobs.{n}"),
        100..105,
        r#", "always_fail": true"#,
    ));
    messages.extend(numbered(
        |n| format!("busy.{n}"),
        0..10,
        r#", "throttle": 2"#,
    ));
    publish(&nats.url(), &messages);

    let duplicates = wait_all_delivered(&python, 0..20);
    assert_eq!(duplicates, 0);
    wait_all_delivered(&node, 0..10);
    let dead = runtime().block_on(read_subject(&nats.url(), "jobs-dead", 5));
    let mut dead_ns: Vec<u64> = dead.iter().map(|(n, _)| *n).collect();
    dead_ns.sort_unstable();
    assert_eq!(dead_ns, [100, 101, 102, 103, 104], "dead letters");
    assert!(dead.iter().all(|(_, attempts)| attempts == "3"), "{dead:?}");
    let py = |outcome| {
        dispatcher.metric(
            "fnhost_trigger_messages_total",
            &[("function", "py"), ("outcome", outcome)],
        )
    };
    let js = |outcome| {
        dispatcher.metric(
            "fnhost_trigger_messages_total",
            &[("function", "js"), ("outcome", outcome)],
        )
    };
    assert_eq!(py("delivered"), 20.0);
    assert_eq!(py("retried"), 20.0 * 2.0 + 5.0 * 3.0, "failed attempts");
    assert_eq!(py("dead_lettered"), 5.0);
    assert_eq!(
        (js("delivered"), js("throttled"), js("retried")),
        (10.0, 20.0, 0.0)
    );
    let always_failed = python
        .attempts()
        .iter()
        .filter(|a| a.data["always_fail"] == true)
        .count();
    assert_eq!(
        always_failed, 15,
        "3 attempts for each of 5 messages, then no more"
    );
    report(
        "faults: 20 failing twice -> 20 delivered after 40 retries; 5 always failing -> 5 dead-lettered after 3 attempts each; 10 throttled twice -> 10 delivered, 20 throttled, 0 counted as failures; 0 lost",
    );
}

/// Reads `count` messages of `subject` from the stream that captures it, with their `n` and
/// the `Fnhost-Attempts` header.
async fn read_subject(url: &str, subject: &str, count: usize) -> Vec<(u64, String)> {
    use async_nats::jetstream::consumer::pull::Config;
    let js = async_nats::jetstream::new(async_nats::connect(url).await.expect("connect"));
    let name = js
        .stream_by_subject(subject)
        .await
        .expect("a stream captures the dead letters");
    let stream = js.get_stream(name).await.expect("stream");
    let consumer = stream
        .create_consumer(Config {
            filter_subject: subject.to_owned(),
            ..Config::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages").take(count);
    let mut out = Vec::new();
    while let Some(message) = tokio::time::timeout(Duration::from_secs(60), messages.next())
        .await
        .expect("the dead letters arrive in time")
    {
        let message = message.expect("message");
        let data: serde_json::Value = serde_json::from_slice(&message.payload).expect("JSON");
        let attempts = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Fnhost-Attempts"))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        out.push((data["n"].as_u64().expect("n"), attempts));
        message.ack().await.expect("ack");
    }
    out
}

#[test]
fn a_killed_dispatcher_and_a_restarted_broker_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nats = NatsServer::start(&dir.path().join("nats"));
    let python = Recorder::start("python", dir.path(), &[]);
    let routes = write_routes(
        dir.path(),
        &nats_trigger("stream", "stream.one", "stream", ""),
        &[("py", &python, "stream")],
    );
    let env = [("NATS_URL", nats.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut dispatcher = Dispatcher::start(&routes, &env);

    publish(&nats.url(), &numbered(|_| "stream.one".into(), 0..2000, ""));
    eventually(
        "300 delivered before the kill",
        WAIT,
        || (python.delivered_by_n().len() >= 300).then_some(()),
        String::new,
    );
    dispatcher
        .process
        .signal("KILL")
        .expect("kill the dispatcher");
    dispatcher.process.wait_exit(Duration::from_secs(10));
    let at_kill = python.delivered_by_n().len();
    let dispatcher = Dispatcher::start(&routes, &env);
    let killed_duplicates = wait_all_delivered(&python, 0..2000);
    report(&format!(
        "dispatcher SIGKILLed after {at_kill} of 2000 delivered, restarted: 2000 delivered, {killed_duplicates} duplicated, 0 lost"
    ));

    publish(
        &nats.url(),
        &numbered(|_| "stream.one".into(), 2000..3000, ""),
    );
    eventually(
        "2300 delivered before the broker restart",
        WAIT,
        || (python.delivered_by_n().len() >= 2300).then_some(()),
        String::new,
    );
    let at_restart = python.delivered_by_n().len();
    nats.restart();
    publish(
        &nats.url(),
        &numbered(|_| "stream.one".into(), 3000..4000, ""),
    );
    let duplicates = wait_all_delivered(&python, 0..4000);
    report(&format!(
        "nats-server restarted with {at_restart} of 3000 delivered, 1000 more published after it: 4000 delivered in all, {} duplicated since the dispatcher kill, 0 lost",
        duplicates - killed_duplicates
    ));
    drop(dispatcher);
}

#[test]
fn a_timed_out_call_is_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nats = NatsServer::start(&dir.path().join("nats"));
    let python = Recorder::start(
        "python",
        dir.path(),
        &[("FUNC_TIMEOUT", "1"), ("SLOW_SECONDS", "3")],
    );
    let routes = write_routes(
        dir.path(),
        &nats_trigger("slow", "slow.>", "slow", ""),
        &[("py", &python, "slow")],
    );
    let dispatcher = Dispatcher::start(&routes, &[("NATS_URL", &nats.url())]);
    publish(
        &nats.url(),
        &numbered(|n| format!("slow.{n}"), 0..5, r#", "slow": 1"#),
    );
    let duplicates = wait_all_delivered(&python, 0..5);
    assert_eq!(duplicates, 0);
    let retried = dispatcher.metric(
        "fnhost_trigger_messages_total",
        &[("function", "py"), ("outcome", "retried")],
    );
    assert_eq!(retried, 5.0, "one 408 per message");
    report(
        "timeouts: 5 messages whose first call timed out (408) -> 5 delivered at the second attempt, 0 lost",
    );
}
