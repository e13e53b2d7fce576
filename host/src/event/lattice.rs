//! Amazon VPC Lattice targets, event versions 1 and 2.
//!
//! v1 (snake_case): `method`, `raw_path` (may carry `?query`), `headers`,
//! `query_string_parameters`, `body`, `is_base64_encoded`; no request context.
//! v2 (camelCase, `version: "2.0"`): `method`, `path`, `headers` and
//! `queryStringParameters` (values a string or a list of strings), `body`,
//! `isBase64Encoded`, `requestContext` (`identity` becomes the authorizer JSON,
//! `timeEpoch` is in microseconds, as a string).
//!
//! Response (both versions): `statusCode`, `statusDescription`, `headers` (one value per
//! name: repeats comma-joined, only the first `Set-Cookie`, the rest logged as dropped),
//! `body`, `isBase64Encoded`.

use super::fields::{FlexPairs, Text, lowercase_headers};
use super::{
    DecodeError, DecodeLimits, EventFormat, bad_request, decode_body, encode_body,
    forwarded_client, parse, single_value_headers_with_one_cookie, status_description, uri,
};
use crate::request::{Context, Request, cookies_from_headers};
use crate::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct EventV1<'a> {
    method: String,
    raw_path: Option<String>,
    headers: Option<FlexPairs>,
    query_string_parameters: Option<FlexPairs>,
    #[serde(borrow)]
    body: Option<Text<'a>>,
    is_base64_encoded: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventV2<'a> {
    method: String,
    path: Option<String>,
    headers: Option<FlexPairs>,
    query_string_parameters: Option<FlexPairs>,
    #[serde(borrow)]
    body: Option<Text<'a>>,
    is_base64_encoded: Option<bool>,
    #[serde(borrow)]
    request_context: Option<ContextV2<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextV2<'a> {
    #[serde(borrow)]
    identity: Option<&'a RawValue>,
    time_epoch: Option<MicrosEpoch>,
}

/// Lattice sends `timeEpoch` in microseconds, as a string in AWS's samples.
#[derive(Deserialize)]
#[serde(untagged)]
enum MicrosEpoch {
    Text(String),
    Number(u64),
}

impl MicrosEpoch {
    fn millis(&self) -> Option<u64> {
        match self {
            Self::Text(text) => text.parse::<u64>().ok(),
            Self::Number(n) => Some(*n),
        }
        .map(|micros| micros / 1000)
    }
}

/// The common fields of both versions, before normalization.
struct Parts<'a> {
    method: String,
    raw_path: String,
    headers: Vec<(String, String)>,
    query: Option<FlexPairs>,
    body: Option<Cow<'a, str>>,
    base64: bool,
}

pub(super) fn decode(
    payload: &[u8],
    format: EventFormat,
    request_id: &str,
    limits: &DecodeLimits,
) -> Result<Request, DecodeError> {
    let mut context = Context::new(format.source(), request_id);
    let parts = if format == EventFormat::VpcLatticeV1 {
        let event: EventV1<'_> = parse(payload, format)?;
        Parts {
            method: event.method,
            raw_path: event.raw_path.unwrap_or_else(|| "/".to_owned()),
            headers: event.headers.map(|h| h.0).unwrap_or_default(),
            query: event.query_string_parameters,
            body: event.body.map(|b| b.0),
            base64: event.is_base64_encoded.unwrap_or(false),
        }
    } else {
        let event: EventV2<'_> = parse(payload, format)?;
        if let Some(rc) = event.request_context {
            context.authorizer = rc.identity.map(|raw| raw.get().to_owned());
            if let Some(ms) = rc.time_epoch.as_ref().and_then(MicrosEpoch::millis) {
                context.time_epoch_ms = ms;
            }
        }
        Parts {
            method: event.method,
            raw_path: event.path.unwrap_or_else(|| "/".to_owned()),
            headers: event.headers.map(|h| h.0).unwrap_or_default(),
            query: event.query_string_parameters,
            body: event.body.map(|b| b.0),
            base64: event.is_base64_encoded.unwrap_or(false),
        }
    };
    let bad = |message: String| bad_request(format, message);
    let method = http::Method::from_bytes(parts.method.as_bytes())
        .map_err(|_| bad(format!("invalid HTTP method {:?}", parts.method)))?;
    // A query string in the path is the raw one; otherwise rebuild it from the pairs.
    let (raw_path, in_path_query) = match parts.raw_path.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (parts.raw_path, None),
    };
    let paths = uri::Paths::from_encoded(&raw_path).map_err(bad)?;
    let (query, raw_query) = match in_path_query {
        Some(raw) => (uri::parse_query(&raw), raw),
        None => {
            let query = parts.query.map(|q| q.0).unwrap_or_default();
            let raw = uri::encode_query(&query);
            (query, raw)
        }
    };
    let headers = lowercase_headers(parts.headers);
    let cookies = cookies_from_headers(&headers);
    let body = decode_body(parts.body, parts.base64, format, limits)?;
    forwarded_client(&mut context, &headers);
    Ok(Request {
        method,
        path: paths.path,
        route_path: paths.route_path,
        raw_path,
        query,
        raw_query,
        headers,
        cookies,
        body,
        context,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    status_code: u16,
    status_description: String,
    headers: BTreeMap<String, String>,
    body: String,
    is_base64_encoded: bool,
}

pub(super) fn encode(response: &Response, format: EventFormat) -> Vec<u8> {
    let (body, is_base64_encoded) = encode_body(response);
    let reply = Reply {
        status_code: response.status.as_u16(),
        status_description: status_description(response.status),
        headers: single_value_headers_with_one_cookie(response, format),
        body,
        is_base64_encoded,
    };
    serde_json::to_vec(&reply).expect("a map of strings always serializes")
}
