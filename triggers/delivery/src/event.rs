//! A broker message as the function receives it: the body, and the Kubeless event headers
//! upstream's trigger controllers sent (`kubeless-contract.md` §2.3).

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};

/// Which kind of trigger a message came through; it names the event's namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A KafkaTrigger.
    Kafka,
    /// A NATSTrigger.
    Nats,
    /// A KinesisTrigger.
    Kinesis,
}

impl Source {
    /// The `event-namespace` header: the trigger kind's plural and group.
    pub fn event_namespace(self) -> &'static str {
        match self {
            Source::Kafka => "kafkatriggers.kubeless.io",
            Source::Nats => "natstriggers.kubeless.io",
            Source::Kinesis => "kinesistriggers.kubeless.io",
        }
    }

    /// The short name used in metric labels and logs.
    pub fn kind(self) -> &'static str {
        match self {
            Source::Kafka => "kafka",
            Source::Nats => "nats",
            Source::Kinesis => "kinesis",
        }
    }
}

/// One message to deliver.
#[derive(Clone, Debug)]
pub struct Message {
    /// `event-id`: stable across redeliveries, made from the broker's position of the message
    /// (upstream's was random per POST), so a function can recognise a duplicate.
    pub id: String,
    /// The payload, sent as the request body unchanged.
    pub body: Bytes,
    /// The content type the message carried (a Kafka or NATS header), if any.
    pub content_type: Option<String>,
    /// When the broker received the message.
    pub time: jiff::Timestamp,
    /// Headers a broker adds (Kafka: `event-topic`).
    pub extra_headers: Vec<(HeaderName, HeaderValue)>,
}

/// The request headers of a delivery of `message` from `source`.
///
/// `event-type` and `Content-Type` are the message's own content type if it carried one, else
/// upstream's guess: `application/json` when the body is a JSON object, otherwise
/// `application/x-www-form-urlencoded`. A content type that is not a valid header value falls
/// back to the guess.
pub fn headers(source: Source, message: &Message) -> HeaderMap {
    let content_type = message
        .content_type
        .as_deref()
        .and_then(|value| HeaderValue::from_str(value).ok())
        .unwrap_or_else(|| HeaderValue::from_static(guess_content_type(&message.body)));
    let mut headers = HeaderMap::with_capacity(6 + message.extra_headers.len());
    headers.insert(CONTENT_TYPE, content_type.clone());
    headers.insert(HeaderName::from_static("event-type"), content_type);
    headers.insert(
        HeaderName::from_static("event-namespace"),
        HeaderValue::from_static(source.event_namespace()),
    );
    if let Ok(id) = HeaderValue::from_str(&message.id) {
        headers.insert(HeaderName::from_static("event-id"), id);
    }
    if let Ok(time) = HeaderValue::from_str(&go_time(message.time)) {
        headers.insert(HeaderName::from_static("event-time"), time);
    }
    for (name, value) in &message.extra_headers {
        headers.insert(name.clone(), value.clone());
    }
    headers
}

/// Upstream's content type of a body without one: a JSON object is JSON, anything else
/// (arrays and scalars too) is form data.
pub fn guess_content_type(body: &[u8]) -> &'static str {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(_)) => "application/json",
        _ => "application/x-www-form-urlencoded",
    }
}

/// A time as Go's `time.Time.String()` prints a UTC time, which is what upstream's triggers
/// sent and what functions parse: `2018-05-18 05:40:42.881137473 +0000 UTC`, the fraction
/// without trailing zeros and left out when zero.
pub fn go_time(time: jiff::Timestamp) -> String {
    let utc = time.to_zoned(jiff::tz::TimeZone::UTC);
    let mut out = utc.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = utc.subsec_nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &'static str, content_type: Option<&str>) -> Message {
        Message {
            id: "orders-0-42".into(),
            body: Bytes::from_static(body.as_bytes()),
            content_type: content_type.map(str::to_owned),
            time: jiff::Timestamp::from_nanosecond(1_526_622_042_881_137_473).expect("time"),
            extra_headers: vec![(
                HeaderName::from_static("event-topic"),
                HeaderValue::from_static("orders"),
            )],
        }
    }

    #[test]
    fn headers_are_upstreams() {
        let h = headers(Source::Kafka, &message(r#"{"a":1}"#, None));
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["event-type"], "application/json");
        assert_eq!(h["event-namespace"], "kafkatriggers.kubeless.io");
        assert_eq!(h["event-id"], "orders-0-42");
        assert_eq!(h["event-time"], "2018-05-18 05:40:42.881137473 +0000 UTC");
        assert_eq!(h["event-topic"], "orders");
        let plain = headers(Source::Nats, &message("[1,2]", None));
        assert_eq!(plain["event-type"], "application/x-www-form-urlencoded");
        assert_eq!(plain["event-namespace"], "natstriggers.kubeless.io");
        let kept = headers(Source::Kinesis, &message("a,b", Some("text/csv")));
        assert_eq!(kept["content-type"], "text/csv");
        assert_eq!(kept["event-type"], "text/csv");
    }

    #[test]
    fn go_time_trims_the_fraction_as_go_does() {
        let at = |ns: i128| go_time(jiff::Timestamp::from_nanosecond(ns).expect("time"));
        assert_eq!(
            at(1_257_894_000_000_000_000),
            "2009-11-10 23:00:00 +0000 UTC"
        );
        assert_eq!(
            at(1_257_894_000_120_000_000),
            "2009-11-10 23:00:00.12 +0000 UTC"
        );
    }
}
