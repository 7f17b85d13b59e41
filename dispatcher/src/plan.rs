//! Which (trigger, function) pairs exist: a Kafka or NATS trigger pairs with every function of
//! its namespace its selector picks, a Kinesis trigger with the one function it names. Pure:
//! the cluster watch and the routes file both feed it.

use std::collections::BTreeMap;

use fnhost_delivery::event::Source;
use fnhost_delivery::metrics::PairId;
use fnhost_kubeless_api::{KafkaTrigger, KinesisTrigger, LabelSelector, NATSTrigger};
use http::Uri;
use kube::core::ObjectMeta;
use kube::{Resource, ResourceExt};

use crate::options::{self, Options};

/// A function a trigger can deliver to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionTarget {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its labels (what selectors match).
    pub labels: BTreeMap<String, String>,
    /// Where its Service answers: `http://<name>.<namespace>.svc.cluster.local:<port>/` in a
    /// cluster.
    pub url: Uri,
}

/// Where a pair's messages come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Broker {
    /// A NATS subject (through JetStream).
    Nats {
        /// The subject.
        subject: String,
    },
    /// A Kafka topic.
    Kafka {
        /// The topic.
        topic: String,
    },
    /// One shard of a Kinesis stream.
    Kinesis {
        /// The stream.
        stream: String,
        /// The shard id.
        shard: String,
        /// The AWS region.
        region: String,
        /// The endpoint URL, if not AWS's.
        endpoint: Option<String>,
        /// The Secret with the credentials.
        secret: String,
    },
}

/// One pair to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairSpec {
    /// Trigger and function.
    pub id: PairId,
    /// The function's URL.
    pub target: Uri,
    /// The trigger's options.
    pub options: Options,
    /// The source of its messages.
    pub broker: Broker,
}

/// The message triggers, by kind.
#[derive(Clone, Debug, Default)]
pub struct Triggers {
    /// KafkaTriggers.
    pub kafka: Vec<KafkaTrigger>,
    /// NATSTriggers.
    pub nats: Vec<NATSTrigger>,
    /// KinesisTriggers.
    pub kinesis: Vec<KinesisTrigger>,
}

/// A trigger that cannot run as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The trigger kind.
    pub source: Source,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub trigger: String,
    /// What is wrong, for people.
    pub detail: String,
}

/// The pairs the triggers make with the functions, and the triggers that make none because
/// they are malformed. A trigger selecting no function is not a problem: it waits for one.
pub fn pairs(triggers: &Triggers, functions: &[FunctionTarget]) -> (Vec<PairSpec>, Vec<Problem>) {
    let mut out = (Vec::new(), Vec::new());
    let by_selector = triggers
        .kafka
        .iter()
        .map(|t| {
            (
                Source::Kafka,
                t.meta(),
                &t.spec.function_selector,
                Broker::Kafka {
                    topic: t.spec.topic.clone(),
                },
            )
        })
        .chain(triggers.nats.iter().map(|t| {
            (
                Source::Nats,
                t.meta(),
                &t.spec.function_selector,
                Broker::Nats {
                    subject: t.spec.topic.clone(),
                },
            )
        }));
    for (source, meta, selector, broker) in by_selector {
        selected(source, meta, selector, &broker, functions, &mut out);
    }
    for trigger in &triggers.kinesis {
        kinesis(trigger, functions, &mut out);
    }
    out
}

fn selected(
    source: Source,
    trigger: &ObjectMeta,
    selector: &LabelSelector,
    broker: &Broker,
    functions: &[FunctionTarget],
    (pairs, problems): &mut (Vec<PairSpec>, Vec<Problem>),
) {
    let namespace = trigger
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let name = trigger.name.clone().unwrap_or_default();
    let problem = |detail: String| Problem {
        source,
        namespace: namespace.clone(),
        trigger: name.clone(),
        detail,
    };
    let topic = match broker {
        Broker::Nats { subject: topic } | Broker::Kafka { topic } => topic.as_str(),
        Broker::Kinesis { stream, .. } => stream.as_str(),
    };
    if topic.trim().is_empty() {
        problems.push(problem("spec.topic is empty".to_owned()));
        return;
    }
    let annotations = trigger.annotations.clone().unwrap_or_default();
    let options = match options::read(source, &annotations) {
        Ok(options) => options,
        Err(e) => return problems.push(problem(e.to_string())),
    };
    for function in functions
        .iter()
        .filter(|f| f.namespace == namespace && selector.matches(&f.labels))
    {
        pairs.push(PairSpec {
            id: PairId {
                source,
                namespace: namespace.clone(),
                trigger: name.clone(),
                function: function.name.clone(),
            },
            target: function.url.clone(),
            options: options.clone(),
            broker: broker.clone(),
        });
    }
}

fn kinesis(
    trigger: &KinesisTrigger,
    functions: &[FunctionTarget],
    (pairs, problems): &mut (Vec<PairSpec>, Vec<Problem>),
) {
    let namespace = trigger.namespace().unwrap_or_else(|| "default".to_owned());
    let spec = &trigger.spec;
    let missing: Vec<&str> = [
        ("function-name", &spec.function_name),
        ("stream", &spec.stream),
        ("shard", &spec.shard),
        ("aws-region", &spec.aws_region),
        ("secret", &spec.secret),
    ]
    .into_iter()
    .filter(|(_, value)| value.trim().is_empty())
    .map(|(field, _)| field)
    .collect();
    let options = options::read(Source::Kinesis, trigger.annotations());
    let detail = match (&options, missing.is_empty()) {
        (Err(e), _) => Some(e.to_string()),
        (Ok(_), false) => Some(format!("spec.{} is empty", missing.join(", spec."))),
        (Ok(_), true) => None,
    };
    if let Some(detail) = detail {
        problems.push(Problem {
            source: Source::Kinesis,
            namespace,
            trigger: trigger.name_any(),
            detail,
        });
        return;
    }
    let Ok(options) = options else { return };
    let Some(function) = functions
        .iter()
        .find(|f| f.namespace == namespace && f.name == spec.function_name)
    else {
        return;
    };
    pairs.push(PairSpec {
        id: pair_id(Source::Kinesis, &namespace, trigger, function),
        target: function.url.clone(),
        options,
        broker: Broker::Kinesis {
            stream: spec.stream.clone(),
            shard: spec.shard.clone(),
            region: spec.aws_region.clone(),
            endpoint: Some(spec.endpoint.clone()).filter(|e| !e.trim().is_empty()),
            secret: spec.secret.clone(),
        },
    });
}

fn pair_id<K: ResourceExt>(
    source: Source,
    namespace: &str,
    trigger: &K,
    function: &FunctionTarget,
) -> PairId {
    PairId {
        source,
        namespace: namespace.to_owned(),
        trigger: trigger.name_any(),
        function: function.name.clone(),
    }
}
