//! fnhost's worker protocol, version 2 (`docs/worker-protocol.md` is the spec).
//!
//! Frames on one byte stream (a Unix socket the worker finds as file descriptor 3), never the
//! worker's stdout or stderr, which go to the container log unchanged:
//!
//! ```text
//! frame   = length:u32le kind:u8 id:u64le header_len:u32le header body
//! length  = 1 + 8 + 4 + header_len + body_len      (bytes after the length field)
//! header  = UTF-8 JSON object
//! body    = raw bytes (the HTTP body)
//! ```
//!
//! Kinds: `1` READY (worker → host, id 0, once, after the function loaded), `2` CALL (host →
//! worker), `3` RESULT (worker → host, same id as the CALL). Calls may be answered out of
//! order; several may be in flight on one worker.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The protocol version a worker announces in READY.
pub const VERSION: u32 = 2;
/// Largest frame either side accepts (the proxy's body limit plus headroom is checked first).
pub const MAX_FRAME: usize = 1 << 30;

/// Frame kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The worker loaded the function and takes calls.
    Ready = 1,
    /// A call, host to worker.
    Call = 2,
    /// A call's result, worker to host.
    Result = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Ready),
            2 => Some(Kind::Call),
            3 => Some(Kind::Result),
            _ => None,
        }
    }
}

/// One frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Kind.
    pub kind: Kind,
    /// Call id (0 for READY).
    pub id: u64,
    /// JSON header.
    pub header: Vec<u8>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// A malformed frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than the fixed fields, or lengths that do not add up.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    /// Over [`MAX_FRAME`].
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
    /// Unknown kind byte.
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
}

impl Frame {
    /// The bytes of this frame, length prefix included.
    pub fn encode(&self) -> Vec<u8> {
        encode_frame(self.kind, self.id, &self.header, &self.body)
    }

    /// Decodes the bytes after the length prefix, keeping them: header and body are split
    /// off `payload` without copying the body.
    pub fn decode(mut payload: Vec<u8>) -> Result<Frame, FrameError> {
        if payload.len() < 13 {
            return Err(FrameError::Malformed(
                "shorter than kind, id and header length",
            ));
        }
        let kind = Kind::from_byte(payload[0]).ok_or(FrameError::UnknownKind(payload[0]))?;
        let id = u64::from_le_bytes(
            payload[1..9]
                .try_into()
                .map_err(|_| FrameError::Malformed("id"))?,
        );
        let header_len = u32::from_le_bytes(
            payload[9..13]
                .try_into()
                .map_err(|_| FrameError::Malformed("header length"))?,
        );
        let header_end = 13usize
            .checked_add(
                usize::try_from(header_len).map_err(|_| FrameError::Malformed("header length"))?,
            )
            .filter(|end| *end <= payload.len())
            .ok_or(FrameError::Malformed("header longer than the frame"))?;
        let body = payload.split_off(header_end);
        payload.drain(..13);
        Ok(Frame {
            kind,
            id,
            header: payload,
            body,
        })
    }

    /// Checks a length prefix.
    pub fn check_length(length: u32) -> Result<usize, FrameError> {
        let length = usize::try_from(length).map_err(|_| FrameError::TooLarge(usize::MAX))?;
        if length > MAX_FRAME {
            Err(FrameError::TooLarge(length))
        } else {
            Ok(length)
        }
    }
}

/// One frame's bytes, length prefix included, written once from borrowed parts.
pub fn encode_frame(kind: Kind, id: u64, header: &[u8], body: &[u8]) -> Vec<u8> {
    let length = 1 + 8 + 4 + header.len() + body.len();
    let mut out = Vec::with_capacity(4 + length);
    out.extend_from_slice(&u32::try_from(length).unwrap_or(u32::MAX).to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(header.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(header);
    out.extend_from_slice(body);
    out
}

/// The CALL header. Its strings borrow from the request when fnhost writes it (no copies on
/// the request path) and are owned when a worker reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallHeader<'a> {
    /// HTTP method.
    pub method: Cow<'a, str>,
    /// Path.
    pub path: Cow<'a, str>,
    /// Query string without `?`.
    pub query: Cow<'a, str>,
    /// Headers in order, names lower case.
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Kubeless event metadata.
    pub event: EventHeader<'a>,
    /// What the body is as the event's `data` (`empty`, `json`, `raw`), decided by
    /// fnhost, JSON already checked. The context is not sent: the worker has it from
    /// `FNHOST_CONTEXT`.
    pub data: Cow<'a, str>,
    /// Milliseconds the call may still take.
    pub timeout_ms: u64,
}

/// `event-*` metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventHeader<'a> {
    /// `event-id`.
    pub id: Option<Cow<'a, str>>,
    /// `event-type`.
    #[serde(rename = "type")]
    pub event_type: Option<Cow<'a, str>>,
    /// `event-time`.
    pub time: Option<Cow<'a, str>>,
    /// `event-namespace`.
    pub namespace: Option<Cow<'a, str>>,
}

/// The RESULT header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultHeader {
    /// Status code (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// Headers in order; repeated names allowed (`null` reads as none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub headers: Vec<(String, String)>,
    /// Set when the function failed: the message for the log (the client gets 500).
    #[serde(default)]
    pub error: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, String)>, D::Error> {
    Option::<Vec<(String, String)>>::deserialize(d).map(Option::unwrap_or_default)
}

/// The READY header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadyHeader {
    /// Protocol version the worker speaks.
    pub protocol: u32,
    /// Calls the worker takes at once.
    pub concurrency: u32,
    /// What the worker runs, for the startup log.
    #[serde(default)]
    pub description: String,
}

/// HTTP headers as the protocol's `[name, value]` pairs, in order (names lower case; values
/// that are not UTF-8 are decoded lossily).
pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frame = Frame {
            kind: Kind::Call,
            id: 42,
            header: br#"{"a":1}"#.to_vec(),
            body: b"body".to_vec(),
        };
        let bytes = frame.encode();
        let length = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
        assert_eq!(Frame::check_length(length), Ok(bytes.len() - 4));
        assert_eq!(Frame::decode(bytes[4..].to_vec()), Ok(frame));
    }

    #[test]
    fn malformed_frames_are_refused() {
        assert!(matches!(
            Frame::decode(vec![2, 0, 0]),
            Err(FrameError::Malformed(_))
        ));
        let mut bytes = Frame {
            kind: Kind::Result,
            id: 1,
            header: b"{}".to_vec(),
            body: Vec::new(),
        }
        .encode();
        bytes[4] = 9;
        assert_eq!(
            Frame::decode(bytes[4..].to_vec()),
            Err(FrameError::UnknownKind(9))
        );
        let mut lying = Frame {
            kind: Kind::Result,
            id: 1,
            header: b"{}".to_vec(),
            body: Vec::new(),
        }
        .encode();
        lying[13] = 200; // header length beyond the frame
        assert!(matches!(
            Frame::decode(lying[4..].to_vec()),
            Err(FrameError::Malformed(_))
        ));
        assert!(Frame::check_length(u32::MAX).is_err());
    }

    #[test]
    fn headers_have_a_stable_json_shape() {
        let call = CallHeader {
            method: "GET".into(),
            event: EventHeader {
                event_type: Some("t".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let json = serde_json::to_value(&call).expect("json");
        assert_eq!(json["event"]["type"], "t");
        let result: ResultHeader =
            serde_json::from_str(r#"{"status": 201}"#).expect("minimal result");
        assert_eq!(result.status, Some(201));
        assert!(result.headers.is_empty());
        let result: ResultHeader =
            serde_json::from_str(r#"{"headers": null, "error": "x"}"#).expect("null headers");
        assert!(result.headers.is_empty());
        let owned: CallHeader<'static> =
            serde_json::from_value(json).expect("a CALL header reads back owned");
        assert_eq!(owned, call);
    }
}
