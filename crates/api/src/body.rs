//! Request bodies: size limit, time limit, encoding, content type, and JSON objects
//! with a key twice, each refused with a JSON error before any side effect.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::{FromRequest, Request};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt as _;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};

use crate::error::ApiError;

/// The largest body accepted: 1 MiB. Larger ones get 413.
pub const MAX_BODY: usize = 1 << 20;

/// Bytes of an oversized body read (and dropped) before answering 413, so that an
/// ordinary client that is still sending sees the answer instead of a reset
/// connection. Beyond this the connection is closed.
const DRAIN_LIMIT: usize = 16 << 20;

/// A request body, buffered up to [`MAX_BODY`], which must arrive within the body
/// timeout ([`crate::limits::Limits::body_timeout`]); else 408, and the connection is
/// closed.
#[derive(Debug)]
pub struct Body(pub Bytes);

impl FromRequest<crate::State> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &crate::State) -> Result<Self, Self::Rejection> {
        let limit = state.limits.body_timeout;
        read(req, MAX_BODY, limit).await.map(Body)
    }
}

/// The body of `req`, at most `max` bytes (else 413), arriving within `limit` (else
/// 408, and the connection is closed). [`Body`] reads with [`MAX_BODY`]; endpoints
/// whose callers send less (Slack's) cap it lower.
pub async fn read(req: Request, max: usize, limit: Duration) -> Result<Bytes, ApiError> {
    tokio::time::timeout(limit, buffer(req, max)).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the request body did not arrive within {limit:?}"),
        )
        .with_header(header::CONNECTION, HeaderValue::from_static("close")))
    })
}

async fn buffer(req: Request, max: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {max} bytes"),
        )
    };
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(too_large());
    }
    let mut body = req.into_body();
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(max));
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request("unreadable_body", format!("could not read the body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        total += data.len();
        if total <= max {
            buf.extend_from_slice(&data);
        } else if total > DRAIN_LIMIT {
            break;
        }
    }
    if total > max { Err(too_large()) } else { Ok(buf.freeze()) }
}

/// Read a body to its end and drop it, keeping nothing: at most [`DRAIN_LIMIT`] bytes,
/// within `limit`. A client that is still sending then reads the answer instead of a
/// reset connection.
pub async fn drain(mut body: axum::body::Body, limit: Duration) {
    let read = async {
        let mut total = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            total += frame.data_ref().map_or(0, Bytes::len);
            if total > DRAIN_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(limit, read).await;
}

/// How a body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `application/json`.
    Json,
    /// `application/yaml` and friends.
    Yaml,
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

/// The syntax of a body from its `Content-Type`; a body without one is JSON when it
/// starts with `{`, otherwise YAML (JSON is YAML as well).
pub fn syntax(headers: &HeaderMap, text: &str) -> Result<Syntax, ApiError> {
    match media_type(headers).as_deref() {
        None => Ok(if text.trim_start().starts_with('{') { Syntax::Json } else { Syntax::Yaml }),
        Some("application/json") => Ok(Syntax::Json),
        Some(t) if t.ends_with("+json") => Ok(Syntax::Json),
        Some("application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" | "text/plain") => {
            Ok(Syntax::Yaml)
        }
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("content type {other:?} is not accepted: send application/json or application/yaml"),
        )),
    }
}

/// The body as UTF-8 text.
pub fn utf8(body: &Bytes) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_encoding",
            format!("the body is not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
        )
    })
}

/// A JSON request document (the small bodies: service updates, rollback, cluster
/// creation). Unknown fields are refused by the target types.
pub fn json<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let text = utf8(body)?;
    if syntax(headers, text)? != Syntax::Json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "this endpoint takes a JSON body (Content-Type: application/json)",
        ));
    }
    check_duplicate_keys(text)?;
    serde_json::from_str(text).map_err(|e| malformed_json(&e))
}

/// 422 for a JSON document with a key twice in one object, with the key's path and
/// position; 400 when it does not parse at all. serde_json would keep the last value,
/// so what the caller meant is ambiguous, and a reviewer who reads the first would be
/// misled.
pub fn check_duplicate_keys(text: &str) -> Result<(), ApiError> {
    let mut walk = KeyWalk::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let walked = (&mut walk).deserialize(&mut de).and_then(|()| de.end());
    match (walked, walk.duplicate) {
        (Ok(()), _) => Ok(()),
        (Err(e), Some(path)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "duplicate_key",
            format!("the JSON body has key `{path}` more than once in one object; nothing was done"),
        )
        .with_details(vec![serde_json::json!({
            "path": path, "line": e.line(), "column": e.column(),
            "message": "duplicate key: JSON objects must not repeat a key",
        })])),
        (Err(e), None) => Err(malformed_json(&e)),
    }
}

/// One segment of a path into a JSON document.
enum Segment {
    Key(String),
    Index(usize),
}

/// A walk over a JSON document that keeps the path it is at, and stops at the first
/// object that repeats a key, with that key's path in `duplicate`.
#[derive(Default)]
struct KeyWalk {
    path: Vec<Segment>,
    duplicate: Option<String>,
}

impl KeyWalk {
    /// The path as the stackfile's diagnostics write it: `services[0].web.image`.
    fn path_text(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Segment::Key(k) if out.is_empty() => out.push_str(k),
                Segment::Key(k) => {
                    let _ = write!(out, ".{k}");
                }
                Segment::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }
}

impl<'de> DeserializeSeed<'de> for &mut KeyWalk {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut KeyWalk {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
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

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for i in 0.. {
            self.path.push(Segment::Index(i));
            let item = seq.next_element_seed(&mut *self)?;
            self.path.pop();
            if item.is_none() {
                break;
            }
        }
        Ok(())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let fresh = seen.insert(key.clone());
            self.path.push(Segment::Key(key));
            if !fresh {
                self.duplicate = Some(self.path_text());
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(&mut *self)?;
            self.path.pop();
        }
        Ok(())
    }
}

/// 400 for JSON that does not parse, with its position.
pub fn malformed_json(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request("malformed_body", format!("the body is not valid JSON for this endpoint: {e}"))
        .with_details(vec![serde_json::json!({ "line": e.line(), "column": e.column(), "message": e.to_string() })])
}

/// A stackfile body as YAML text to validate and store. A JSON body becomes block
/// YAML with the same keys in the same order; `{"config": {...}}` (nysa's envelope) is
/// unwrapped.
pub fn stackfile(headers: &HeaderMap, body: &Bytes) -> Result<String, ApiError> {
    let text = utf8(body)?;
    match syntax(headers, text)? {
        Syntax::Yaml => Ok(text.to_owned()),
        Syntax::Json => {
            check_duplicate_keys(text)?;
            let value: serde_json::Value = serde_json::from_str(text).map_err(|e| malformed_json(&e))?;
            match value {
                serde_json::Value::Object(mut m) if m.len() == 1 && m.contains_key("config") => {
                    config_value(m.remove("config").expect("checked above"))
                }
                serde_json::Value::Object(_) => yaml_of(text),
                _ => Err(ApiError::bad_request("malformed_body", "the stackfile must be a JSON object")),
            }
        }
    }
}

/// A stackfile given as a JSON value: a YAML string, or an object.
pub fn config_value(config: serde_json::Value) -> Result<String, ApiError> {
    match config {
        serde_json::Value::String(s) => Ok(s),
        v @ serde_json::Value::Object(_) => yaml_of(&v.to_string()),
        _ => Err(ApiError::bad_request(
            "malformed_body",
            "`config` must be the stackfile: a JSON object or a YAML string",
        )),
    }
}

fn yaml_of(json: &str) -> Result<String, ApiError> {
    bosun_stackfile::document::json_to_yaml(json).map_err(|d| {
        ApiError::bad_request("malformed_body", d.0.first().map(|d| d.message.clone()).unwrap_or_default())
            .with_details(
                d.0.iter()
                    .map(|d| serde_json::json!({ "line": d.line, "column": d.column, "message": d.message }))
                    .collect(),
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ct: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        }
        h
    }

    #[test]
    fn syntax_follows_content_type() {
        assert_eq!(syntax(&headers(Some("application/json; charset=utf-8")), "x").unwrap(), Syntax::Json);
        assert_eq!(syntax(&headers(Some("application/yaml")), "{}").unwrap(), Syntax::Yaml);
        assert_eq!(syntax(&headers(None), "  {\"a\": 1}").unwrap(), Syntax::Json);
        assert_eq!(syntax(&headers(None), "a: 1").unwrap(), Syntax::Yaml);
        assert_eq!(syntax(&headers(Some("application/xml")), "x").unwrap_err().status, 415);
    }

    #[test]
    fn stackfile_bodies() {
        let h = headers(Some("application/json"));
        let yaml = stackfile(&h, &Bytes::from_static(br#"{"config": {"services": []}}"#)).unwrap();
        assert_eq!(yaml, "services: []\n");
        let yaml = stackfile(&h, &Bytes::from_static(br#"{"services": [{"web": {"image": "nginx:1"}}]}"#)).unwrap();
        assert_eq!(yaml, "services:\n  - web:\n      image: nginx:1\n");
        assert_eq!(stackfile(&h, &Bytes::from_static(b"{\"services\": ")).unwrap_err().code, "malformed_body");
        assert_eq!(stackfile(&h, &Bytes::from_static(b"[]")).unwrap_err().status, 400);
        assert_eq!(stackfile(&h, &Bytes::from_static(b"{\"a\": \"\xff\"}")).unwrap_err().code, "invalid_encoding");
    }
}
