//! fnhost's options of a message trigger. They are annotations, not spec fields: the kubeless
//! CLI's `trigger ... update` reads a trigger into its Go type and writes it back, which drops
//! spec fields it does not know but keeps metadata.

use std::collections::BTreeMap;

use fnhost_delivery::event::Source;
use fnhost_delivery::lanes::Order;

/// Where messages go that used up their attempts: a topic, subject or stream of the trigger's
/// own broker. Without it a message is retried until delivered.
pub const DEAD_LETTER: &str = "fnhost.io/dead-letter";
/// Failed attempts before a message goes to dead letter (default 5).
pub const MAX_ATTEMPTS: &str = "fnhost.io/max-attempts";
/// Messages in flight at once per pair, in order per key (default 1 for Kafka and Kinesis,
/// 64 for NATS).
pub const MAX_IN_FLIGHT: &str = "fnhost.io/max-in-flight";
/// What stays in order: `key` (the default: one message at a time per NATS subject, Kafka
/// partition and key, Kinesis partition key) or `none` (up to `max-in-flight` at once whatever
/// their keys).
pub const ORDER: &str = "fnhost.io/order";

/// A trigger's options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// [`DEAD_LETTER`].
    pub dead_letter: Option<String>,
    /// [`MAX_ATTEMPTS`].
    pub max_attempts: u32,
    /// [`MAX_IN_FLIGHT`].
    pub max_in_flight: usize,
    /// [`ORDER`].
    pub order: Order,
}

/// An annotation with a value fnhost cannot use; the trigger is not run with a guess.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("annotation {key}={value:?}: {expected}")]
pub struct OptionError {
    /// The annotation.
    pub key: &'static str,
    /// Its value.
    pub value: String,
    /// What it must be.
    pub expected: &'static str,
}

/// Reads the options of a trigger of `source` from its annotations.
pub fn read(
    source: Source,
    annotations: &BTreeMap<String, String>,
) -> Result<Options, OptionError> {
    let dead_letter = match annotations.get(DEAD_LETTER).map(|v| v.trim()) {
        None => None,
        Some("") => {
            return Err(OptionError {
                key: DEAD_LETTER,
                value: String::new(),
                expected: "a topic, subject or stream name",
            });
        }
        Some(name) => Some(name.to_owned()),
    };
    let max_attempts = number(annotations, MAX_ATTEMPTS, 5, 1..=1000)?;
    let default_in_flight = match source {
        Source::Nats => 64,
        Source::Kafka | Source::Kinesis => 1,
    };
    let max_in_flight = number(annotations, MAX_IN_FLIGHT, default_in_flight, 1..=1024)?;
    let order = match annotations.get(ORDER).map(|v| v.trim()) {
        None | Some("key") => Order::PerKey,
        Some("none") => Order::None,
        Some(other) => {
            return Err(OptionError {
                key: ORDER,
                value: other.to_owned(),
                expected: "key or none",
            });
        }
    };
    Ok(Options {
        dead_letter,
        max_attempts,
        max_in_flight: max_in_flight as usize,
        order,
    })
}

fn number(
    annotations: &BTreeMap<String, String>,
    key: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, OptionError> {
    let Some(value) = annotations.get(key) else {
        return Ok(default);
    };
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| OptionError {
            key,
            value: value.clone(),
            expected: if key == MAX_ATTEMPTS {
                "a whole number from 1 to 1000"
            } else {
                "a whole number from 1 to 1024"
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_per_broker() {
        let none = annotations(&[]);
        assert_eq!(read(Source::Nats, &none).expect("ok").max_in_flight, 64);
        let kafka = read(Source::Kafka, &none).expect("ok");
        assert_eq!(
            kafka,
            Options {
                dead_letter: None,
                max_attempts: 5,
                max_in_flight: 1,
                order: Order::PerKey,
            }
        );
    }

    #[test]
    fn values_are_read_and_bad_ones_refused() {
        let set = annotations(&[
            (DEAD_LETTER, "orders-dlq"),
            (MAX_ATTEMPTS, "3"),
            (MAX_IN_FLIGHT, "8"),
        ]);
        let options = read(Source::Kafka, &set).expect("ok");
        assert_eq!(options.dead_letter.as_deref(), Some("orders-dlq"));
        assert_eq!((options.max_attempts, options.max_in_flight), (3, 8));
        let unordered = read(Source::Nats, &annotations(&[(ORDER, "none")])).expect("ok");
        assert_eq!(unordered.order, Order::None);
        for (key, value) in [
            (MAX_ATTEMPTS, "0"),
            (MAX_ATTEMPTS, "many"),
            (MAX_IN_FLIGHT, "2000"),
            (DEAD_LETTER, " "),
            (ORDER, "random"),
        ] {
            let error = read(Source::Nats, &annotations(&[(key, value)])).expect_err(value);
            assert_eq!(error.key, key);
        }
    }
}
