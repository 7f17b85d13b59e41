//! The broker tests' scenarios, written once and run against every broker (`nats.rs`,
//! `kafka.rs`): each starts the broker, functions served by fnhost that record their attempts,
//! and the dispatcher, publishes, and counts. The counts are printed and appended to
//! `~/.cache/fnhost/triggers/<broker>.txt`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::{Dispatcher, Recorder, eventually, write_routes};

/// How long a scenario waits for deliveries.
pub const WAIT: Duration = Duration::from_secs(300);

/// A real broker as the scenarios drive it. A message has a base name and a key: NATS
/// publishes to the subject `<base>.<key>` and its trigger listens on `<base>.>`; Kafka
/// publishes to the topic `<base>` with the message key `<key>`.
pub trait TestBroker {
    /// `nats` or `kafka`.
    fn name(&self) -> &'static str;
    /// The dispatcher's environment that points it at this broker.
    fn dispatcher_env(&self) -> Vec<(String, String)>;
    /// The trigger kind.
    fn kind(&self) -> &'static str;
    /// The trigger's `spec.topic` for messages published under `base`.
    fn trigger_topic(&self, base: &str) -> String;
    /// Makes `base` ready to publish to (Kafka: creates the topic).
    fn create(&self, base: &str);
    /// Publishes `(key, payload)` messages under `base` and waits until the broker has them.
    fn publish(&self, base: &str, messages: &[(String, Vec<u8>)]);
    /// Reads `count` dead letters from `destination`: each message's `n` and its
    /// `fnhost-attempts` header (`None` where the broker has no headers: Kinesis).
    fn dead_letters(&self, destination: &str, count: usize) -> Vec<(u64, Option<String>)>;
    /// Stops the broker and starts it again with its data.
    fn restart(&mut self);
    /// Why a restart of this broker cannot be tested, if it cannot.
    fn restart_gap(&self) -> Option<&'static str> {
        None
    }
    /// The start of every `event-id` of messages under `base`.
    fn id_prefix(&self, base: &str) -> String;

    /// The trigger objects (routes-file YAML) that deliver what is published under `base` to
    /// `functions`, which carry the label `topic=<label>`: one trigger selecting them by label.
    fn triggers(
        &self,
        name: &str,
        base: &str,
        label: &str,
        _functions: &[&str],
        annotations: &str,
    ) -> String {
        format!(
            "  - apiVersion: kubeless.io/v1beta1\n    kind: {}\n    metadata: {{name: {name}, namespace: default, annotations: {{{annotations}}}}}\n    spec: {{topic: \"{}\", functionSelector: {{matchLabels: {{topic: {label}}}}}}}\n",
            self.kind(),
            self.trigger_topic(base)
        )
    }

    /// More of the routes file (Kinesis: the Secret with the access key).
    fn routes_extra(&self) -> String {
        String::new()
    }
}

/// `{"n": N<extra>}` messages for `range`, each under the key `key(n)`.
pub fn numbered(
    key: impl Fn(u64) -> String,
    range: std::ops::Range<u64>,
    extra: &str,
) -> Vec<(String, Vec<u8>)> {
    range
        .map(|n| (key(n), format!(r#"{{"n": {n}{extra}}}"#).into_bytes()))
        .collect()
}

/// Waits until every `n` of `range` was delivered to `recorder`; returns the duplicates.
pub fn wait_all_delivered(
    recorder: &Recorder,
    range: std::ops::Range<u64>,
    dispatcher: &Dispatcher,
) -> usize {
    let expected = range.clone().count();
    let by_n: HashMap<u64, usize> = eventually(
        &format!(
            "{expected} messages delivered to the {} function",
            recorder.runtime
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
            let log = dispatcher.process.transcript();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!(
                "{} delivered; first missing: {missing:?}\nthe dispatcher's last lines:\n{}",
                by_n.len(),
                tail.join("\n")
            )
        },
    );
    range.map(|n| by_n[&n] - 1).sum()
}

/// Prints a result line and appends it to `~/.cache/fnhost/triggers/<broker>.txt`.
pub fn report(broker: &dyn TestBroker, line: &str) {
    eprintln!("{}: {line}", broker.name());
    let dir =
        Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/fnhost/triggers");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{}.txt", broker.name()));
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&format!("{} {line}\n", jiff::Timestamp::now()));
    let _ = std::fs::write(path, text);
}

fn dispatcher(broker: &dyn TestBroker, routes: &Path) -> Dispatcher {
    let env = broker.dispatcher_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Dispatcher::start(routes, &env)
}

fn outcome(dispatcher: &Dispatcher, function: &str, outcome: &str) -> f64 {
    dispatcher.metric(
        "fnhost_trigger_messages_total",
        &[("function", function), ("outcome", outcome)],
    )
}

/// 300 JSON messages and one plain-text one, all under one key, reach an upstream-style Python
/// function and a Node.js function, once each, in order, with upstream's event headers.
pub fn every_message_arrives(broker: &dyn TestBroker, dir: &Path) {
    let python = Recorder::start("python", dir, &[]);
    let node = Recorder::start("nodejs", dir, &[]);
    broker.create("orders");
    let routes = write_routes(
        dir,
        &broker.triggers("orders", "orders", "orders", &["py", "js"], ""),
        &[("py", &python, "orders"), ("js", &node, "orders")],
        &broker.routes_extra(),
    );
    let dispatcher = dispatcher(broker, &routes);
    let mut messages = numbered(|_| "created".into(), 0..300, "");
    messages.push(("created".into(), b"plain text".to_vec()));
    broker.publish("orders", &messages);
    let namespace = format!(
        "{}triggers.kubeless.io",
        broker.kind().trim_end_matches("Trigger").to_lowercase()
    );
    for (recorder, function) in [(&python, "py"), (&node, "js")] {
        let duplicates = wait_all_delivered(recorder, 0..300, &dispatcher);
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
        // One key (subject, partition key, Kafka key) for all: delivered in publishing order.
        let order: Vec<u64> = attempts
            .iter()
            .filter_map(|a| a.data["n"].as_u64())
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "messages of one key delivered out of order to the {} function: {order:?}",
            recorder.runtime
        );
        for attempt in &attempts {
            assert_eq!(attempt.namespace, namespace);
            assert!(
                attempt.id.starts_with(&broker.id_prefix("orders")),
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
        assert_eq!(
            outcome(&dispatcher, function, "delivered"),
            301.0,
            "{}",
            recorder.runtime
        );
    }
    report(
        broker,
        "every message: 301 published, 301 delivered to each of 2 functions (Python, Node.js), 0 duplicated, 0 lost",
    );
}

/// Messages failing twice are delivered at the third attempt; messages that always fail go to
/// dead letter after `max-attempts` (3); a function answering 503 twice slows delivery down
/// without failing it.
pub fn failures_retries_dead_letters_and_throttling(broker: &dyn TestBroker, dir: &Path) {
    let python = Recorder::start("python", dir, &[]);
    let node = Recorder::start("nodejs", dir, &[]);
    for base in ["jobs", "busy", "jobs-dead"] {
        broker.create(base);
    }
    let dead_letter = "jobs-dead";
    let annotations = format!(
        "fnhost.io/max-attempts: \"3\", fnhost.io/dead-letter: {dead_letter}, fnhost.io/max-in-flight: \"32\""
    );
    let triggers = format!(
        "{}{}",
        broker.triggers("jobs", "jobs", "jobs", &["py"], &annotations),
        broker.triggers(
            "busy",
            "busy",
            "busy",
            &["js"],
            "fnhost.io/max-in-flight: \"32\""
        )
    );
    let routes = write_routes(
        dir,
        &triggers,
        &[("py", &python, "jobs"), ("js", &node, "busy")],
        &broker.routes_extra(),
    );
    let dispatcher = dispatcher(broker, &routes);
    // One key per message: they are delivered side by side (order is per key).
    let mut jobs = numbered(|n| format!("k{n}"), 0..20, r#", "fail": 2"#);
    jobs.extend(numbered(
        |n| format!("k{n}"),
        100..105,
        r#", "always_fail": true"#,
    ));
    broker.publish("jobs", &jobs);
    broker.publish(
        "busy",
        &numbered(|n| format!("k{n}"), 0..10, r#", "throttle": 2"#),
    );

    assert_eq!(wait_all_delivered(&python, 0..20, &dispatcher), 0);
    wait_all_delivered(&node, 0..10, &dispatcher);
    let dead = broker.dead_letters(dead_letter, 5);
    let mut dead_ns: Vec<u64> = dead.iter().map(|(n, _)| *n).collect();
    dead_ns.sort_unstable();
    assert_eq!(dead_ns, [100, 101, 102, 103, 104], "dead letters");
    assert!(
        dead.iter()
            .all(|(_, attempts)| attempts.as_deref().is_none_or(|a| a == "3")),
        "{dead:?}"
    );
    eventually(
        "the dead-letter counter",
        WAIT,
        || (outcome(&dispatcher, "py", "dead_lettered") == 5.0).then_some(()),
        String::new,
    );
    assert_eq!(outcome(&dispatcher, "py", "delivered"), 20.0);
    assert_eq!(
        outcome(&dispatcher, "py", "retried"),
        20.0 * 2.0 + 5.0 * 3.0,
        "failed attempts"
    );
    let throttled = (
        outcome(&dispatcher, "js", "delivered"),
        outcome(&dispatcher, "js", "throttled"),
        outcome(&dispatcher, "js", "retried"),
    );
    assert_eq!(
        throttled,
        (10.0, 20.0, 0.0),
        "delivered, throttled, retried"
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
        broker,
        "faults: 20 failing twice -> 20 delivered after 40 failed attempts; 5 always failing -> 5 dead-lettered after 3 attempts each; 10 throttled (503) twice -> 10 delivered, 20 throttled, 0 counted as failures; 0 lost",
    );
}

/// A dispatcher killed mid-stream (SIGKILL) and restarted, then a broker restarted mid-stream:
/// every message delivered; duplicates counted.
pub fn killed_dispatcher_and_restarted_broker(broker: &mut dyn TestBroker, dir: &Path) {
    let python = Recorder::start("python", dir, &[]);
    broker.create("stream");
    let routes = write_routes(
        dir,
        &broker.triggers("stream", "stream", "stream", &["py"], ""),
        &[("py", &python, "stream")],
        &broker.routes_extra(),
    );
    let mut first = dispatcher(broker, &routes);
    broker.publish("stream", &numbered(|_| "one".into(), 0..2000, ""));
    eventually(
        "300 delivered before the kill",
        WAIT,
        || (python.delivered_by_n().len() >= 300).then_some(()),
        String::new,
    );
    first.process.signal("KILL").expect("kill the dispatcher");
    first.process.wait_exit(Duration::from_secs(10));
    let at_kill = python.delivered_by_n().len();
    let second = dispatcher(broker, &routes);
    let killed_duplicates = wait_all_delivered(&python, 0..2000, &second);
    report(
        broker,
        &format!(
            "dispatcher SIGKILLed with {at_kill} of 2000 delivered, restarted: 2000 delivered, {killed_duplicates} duplicated, 0 lost"
        ),
    );

    if let Some(gap) = broker.restart_gap() {
        report(
            broker,
            &format!("broker restart NOT TESTED (known gap): {gap}"),
        );
        return;
    }
    broker.publish("stream", &numbered(|_| "one".into(), 2000..3000, ""));
    eventually(
        "2300 delivered before the broker restart",
        WAIT,
        || (python.delivered_by_n().len() >= 2300).then_some(()),
        String::new,
    );
    let at_restart = python.delivered_by_n().len();
    broker.restart();
    broker.publish("stream", &numbered(|_| "one".into(), 3000..4000, ""));
    let duplicates = wait_all_delivered(&python, 0..4000, &second);
    report(
        broker,
        &format!(
            "broker restarted with {at_restart} of 3000 delivered, 1000 more published after it: 4000 delivered in all, {} duplicated since the dispatcher's restart, 0 lost",
            duplicates - killed_duplicates
        ),
    );
}

/// A call that times out (fnhost answers 408) is retried and delivered.
pub fn timed_out_calls_are_retried(broker: &dyn TestBroker, dir: &Path) {
    let python = Recorder::start(
        "python",
        dir,
        &[("FUNC_TIMEOUT", "1"), ("SLOW_SECONDS", "3")],
    );
    broker.create("slow");
    let routes = write_routes(
        dir,
        &broker.triggers(
            "slow",
            "slow",
            "slow",
            &["py"],
            "fnhost.io/max-in-flight: \"8\"",
        ),
        &[("py", &python, "slow")],
        &broker.routes_extra(),
    );
    let dispatcher = dispatcher(broker, &routes);
    broker.publish(
        "slow",
        &numbered(|n| format!("k{n}"), 0..5, r#", "slow": 1"#),
    );
    assert_eq!(wait_all_delivered(&python, 0..5, &dispatcher), 0);
    assert_eq!(
        outcome(&dispatcher, "py", "retried"),
        5.0,
        "one 408 per message"
    );
    report(
        broker,
        "timeouts: 5 messages whose first call timed out (408) -> 5 delivered at the second attempt, 0 lost",
    );
}
