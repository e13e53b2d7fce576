//! API Gateway REST API (v1 proxy) and HTTP API payload 1.0: one shape, both directions.
//!
//! Request: `httpMethod`, `path`, `headers` + `multiValueHeaders`, `queryStringParameters` +
//! `multiValueQueryStringParameters`, `body` + `isBase64Encoded`, `requestContext`.
//! REST APIs deliver `path` percent-encoded (decoded here), HTTP API 1.0 already decoded;
//! both decode the query values. There is no raw query string in this shape, so
//! `raw_query` is rebuilt from the decoded pairs.
//!
//! Response: `statusCode`, `multiValueHeaders` (so several `Set-Cookie` survive),
//! `body`, `isBase64Encoded`.

use super::fields::{MultiPairs, Pairs, Text, merge_headers};
use super::{
    DecodeError, DecodeLimits, EventFormat, bad_request, decode_body, encode_body,
    multi_value_headers, parse, uri,
};
use crate::request::{Context, Request, cookies_from_headers, now_epoch_ms};
use crate::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    http_method: String,
    path: Option<String>,
    headers: Option<Pairs>,
    multi_value_headers: Option<MultiPairs>,
    query_string_parameters: Option<Pairs>,
    multi_value_query_string_parameters: Option<MultiPairs>,
    #[serde(borrow)]
    body: Option<Text<'a>>,
    is_base64_encoded: Option<bool>,
    #[serde(borrow)]
    request_context: RequestContext<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    path: Option<String>,
    stage: Option<String>,
    identity: Option<Identity>,
    #[serde(borrow)]
    authorizer: Option<&'a RawValue>,
    request_time_epoch: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    source_ip: Option<String>,
    user_agent: Option<String>,
}

pub(super) fn decode(
    payload: &[u8],
    format: EventFormat,
    request_id: &str,
    limits: &DecodeLimits,
) -> Result<Request, DecodeError> {
    let event: Event<'_> = parse(payload, format)?;
    let bad = |message: String| bad_request(format, message);

    let method = http::Method::from_bytes(event.http_method.as_bytes())
        .map_err(|_| bad(format!("invalid HTTP method {:?}", event.http_method)))?;
    let rc = event.request_context;
    // `path` excludes the stage. REST APIs deliver it still percent-encoded, HTTP APIs
    // (payload 1.0 too) already decoded: decode exactly once. The context's path is what
    // the client sent, stage included.
    let event_path = event.path.unwrap_or_else(|| "/".to_owned());
    let paths = if format == EventFormat::ApigwRest {
        uri::Paths::from_encoded(&event_path).map_err(bad)?
    } else {
        uri::Paths::from_decoded(event_path.clone())
    };
    let raw_path = rc.path.unwrap_or(event_path);

    let query: Vec<(String, String)> = match event.multi_value_query_string_parameters {
        Some(multi) => multi
            .0
            .into_iter()
            .flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v)))
            .collect(),
        None => event
            .query_string_parameters
            .map(|p| p.0)
            .unwrap_or_default(),
    };
    let raw_query = uri::encode_query(&query);
    let headers = merge_headers(event.headers, event.multi_value_headers);
    let cookies = cookies_from_headers(&headers);
    let body = decode_body(
        event.body.map(|b| b.0),
        event.is_base64_encoded.unwrap_or(false),
        format,
        limits,
    )?;

    let identity = rc.identity;
    let context = Context {
        source: format.source(),
        request_id: request_id.to_owned(),
        stage: rc.stage,
        source_ip: identity.as_ref().and_then(|i| i.source_ip.clone()),
        user_agent: identity.and_then(|i| i.user_agent),
        authorizer: rc.authorizer.map(|raw| raw.get().to_owned()),
        time_epoch_ms: rc.request_time_epoch.unwrap_or_else(now_epoch_ms),
        attributes: Vec::new(),
        deadline: None,
        trace_header: None,
    };
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
    multi_value_headers: BTreeMap<String, Vec<String>>,
    body: String,
    is_base64_encoded: bool,
}

pub(super) fn encode(response: &Response) -> Vec<u8> {
    let multi_value_headers = multi_value_headers(response);
    let (body, is_base64_encoded) = encode_body(response);
    let reply = Reply {
        status_code: response.status.as_u16(),
        multi_value_headers,
        body,
        is_base64_encoded,
    };
    serde_json::to_vec(&reply).expect("a map of strings always serializes")
}
