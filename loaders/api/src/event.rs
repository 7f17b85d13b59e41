//! The Kubeless event, decided once for every runtime: what the body is as `event.data`, and
//! the function's `context`. Loaders only turn these decisions into their language's values.

use std::time::Duration;

use http::HeaderMap;

use crate::invocation::is_json_media_type;

/// How a request body becomes the event's `data`, decided once by the proxy
/// ([`decode_data`]) and followed by every loader.
///
/// | kind | when | Python | Node.js, JavaScript | Ruby, C# | Go, Java |
/// |---|---|---|---|---|---|
/// | `Empty` | no body | `b''` (`None` under `application/json`) | `{}` (GET/HEAD) or an empty body | `''` | `""` |
/// | `Json` | `Content-Type: application/json` (any parameters), valid JSON | parsed | parsed | parsed | the text |
/// | `Raw` | any other body | `bytes` | a UTF-8 string | a string | a string |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// The request has no body.
    Empty,
    /// The body is valid JSON and the request says so.
    Json,
    /// Any other body, handed over as it came.
    Raw,
}

impl DataKind {
    /// The name used on the worker protocol and in `runtime.js`: `empty`, `json`, `raw`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataKind::Empty => "empty",
            DataKind::Json => "json",
            DataKind::Raw => "raw",
        }
    }
}

/// A body declared as JSON that is not: the client's mistake, answered 400 for every runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the body is not valid JSON (the request says Content-Type: application/json): {0}")]
pub struct InvalidJson(pub String);

/// The deepest nesting of arrays and objects accepted: Ruby's `JSON.parse` refuses more by
/// default, and the recursive parsers of other runtimes would exhaust their stacks on far more.
pub const MAX_JSON_DEPTH: usize = 100;

/// Decides what the body is. JSON is checked here, once (syntax and nesting in one pass), so
/// no runtime ever sees a body declared JSON that it cannot parse.
pub fn decode_data(headers: &HeaderMap, body: &[u8]) -> Result<DataKind, InvalidJson> {
    if body.is_empty() {
        return Ok(DataKind::Empty);
    }
    let declared_json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json_media_type);
    if !declared_json {
        return Ok(DataKind::Raw);
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    serde::de::DeserializeSeed::deserialize(Nested(0), &mut reader)
        .and_then(|()| reader.end())
        .map(|()| DataKind::Json)
        .map_err(|e| InvalidJson(e.to_string()))
}

/// Walks a JSON value without keeping it, refusing nesting deeper than [`MAX_JSON_DEPTH`].
#[derive(Clone, Copy)]
struct Nested(usize);

impl<'de> serde::de::DeserializeSeed<'de> for Nested {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Nested {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        while map
            .next_key_seed(std::marker::PhantomData::<serde::de::IgnoredAny>)?
            .is_some()
        {
            map.next_value_seed(inner)?;
        }
        Ok(())
    }
}

impl Nested {
    fn deeper<E: serde::de::Error>(self) -> Result<Nested, E> {
        if self.0 >= MAX_JSON_DEPTH {
            return Err(E::custom(format_args!(
                "arrays and objects nested deeper than {MAX_JSON_DEPTH} levels"
            )));
        }
        Ok(Nested(self.0 + 1))
    }
}

/// The function's `context`, the same for every call and every runtime. Built once per
/// function ([`crate::FunctionSpec::context`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// `function-name`: the handler's name (`FUNC_HANDLER`), as upstream Python, Node.js and
    /// Go say it.
    pub function_name: String,
    /// `timeout` (`FUNC_TIMEOUT`).
    pub timeout: Duration,
    /// `runtime` (`FUNC_RUNTIME`).
    pub runtime: String,
    /// `memory-limit` (`FUNC_MEMORY_LIMIT`).
    pub memory_limit: String,
}

impl Context {
    /// The timeout in seconds, e.g. `180.0`.
    pub fn timeout_seconds(&self) -> f64 {
        self.timeout.as_secs_f64()
    }

    /// The timeout as Kubeless writes `FUNC_TIMEOUT`: `180` for whole seconds, `0.5` otherwise.
    pub fn timeout_text(&self) -> String {
        if self.timeout.subsec_nanos() == 0 {
            self.timeout.as_secs().to_string()
        } else {
            self.timeout_seconds().to_string()
        }
    }

    /// The context as the JSON object workers and `runtime.js` read:
    /// `{"function-name": …, "timeout": <seconds>, "runtime": …, "memory-limit": …}`.
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::json!({
            "function-name": self.function_name,
            "timeout": self.timeout_seconds(),
            "runtime": self.runtime,
            "memory-limit": self.memory_limit,
        })
    }

    /// [`Context::to_json_value`] as text (`FNHOST_CONTEXT`).
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn typed(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("valid"),
        );
        headers
    }

    #[test]
    fn data_is_decided_once() {
        let json = typed("application/json; charset=utf-8");
        assert_eq!(decode_data(&json, b""), Ok(DataKind::Empty));
        assert_eq!(decode_data(&json, br#"{"a": [1]}"#), Ok(DataKind::Json));
        assert_eq!(decode_data(&json, b"3"), Ok(DataKind::Json));
        let err = decode_data(&json, br#"{"a": "#).expect_err("invalid");
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        let trailing = decode_data(&json, b"[1] [2]").expect_err("two values");
        assert!(
            trailing.to_string().contains("not valid JSON"),
            "{trailing}"
        );
        let text = typed("text/plain");
        assert_eq!(decode_data(&text, b"{not json"), Ok(DataKind::Raw));
        assert_eq!(decode_data(&text, &[0xff, 0xfe]), Ok(DataKind::Raw));
        assert_eq!(decode_data(&HeaderMap::new(), b"plain"), Ok(DataKind::Raw));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let json = typed("application/json");
        assert!(decode_data(&json, nested(101).as_bytes()).is_err());
        assert_eq!(
            decode_data(&json, nested(100).as_bytes()),
            Ok(DataKind::Json)
        );
        let in_strings = format!(r#"{{"a": "{}", "b": "\"[["}}"#, "[".repeat(500));
        assert_eq!(
            decode_data(&json, in_strings.as_bytes()),
            Ok(DataKind::Json)
        );
    }

    #[test]
    fn context_renders_once_for_everyone() {
        let context = Context {
            function_name: "foo".to_owned(),
            timeout: Duration::from_millis(2500),
            runtime: "python3.11".to_owned(),
            memory_limit: "128Mi".to_owned(),
        };
        assert_eq!(context.timeout_text(), "2.5");
        let json: serde_json::Value = serde_json::from_str(&context.to_json()).expect("json");
        assert_eq!(json["function-name"], "foo");
        assert_eq!(json["timeout"], 2.5);
        assert_eq!(json["memory-limit"], "128Mi");
        let whole = Context {
            timeout: Duration::from_secs(180),
            ..context
        };
        assert_eq!(whole.timeout_text(), "180");
    }
}
