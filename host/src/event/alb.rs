//! Application Load Balancer targets, with multi-value headers off or on.
//!
//! Request: `httpMethod`, `path` (as the client sent it, still percent-encoded),
//! `queryStringParameters` / `multiValueQueryStringParameters` (ALB passes names and values
//! **still percent-encoded**, unlike API Gateway, so they are decoded here, once),
//! `headers` / `multiValueHeaders` (which one arrives says which mode the target group
//! uses), `body` + `isBase64Encoded`. There is no request context beyond the target group:
//! the client IP is the last `x-forwarded-for` entry (the one ALB appended).
//!
//! Response: in the mode the request used. Multi-value: `multiValueHeaders`, so every
//! `Set-Cookie` survives. Single-value: `headers`, one value per name: repeats are
//! comma-joined and only the first `Set-Cookie` can be sent (the rest are logged as dropped).
//! Always `statusDescription` and a string `body` (ALB rejects a null body).

use super::fields::{MultiPairs, Pairs, Text, lowercase_headers};
use super::{
    DecodeError, DecodeLimits, EventFormat, bad_request, decode_body, encode_body,
    forwarded_client, multi_value_headers, parse, single_value_headers_with_one_cookie,
    status_description, uri,
};
use crate::request::{Context, Request, cookies_from_headers};
use crate::response::Response;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    http_method: String,
    path: Option<String>,
    query_string_parameters: Option<Pairs>,
    multi_value_query_string_parameters: Option<MultiPairs>,
    headers: Option<Pairs>,
    multi_value_headers: Option<MultiPairs>,
    #[serde(borrow)]
    body: Option<Text<'a>>,
    is_base64_encoded: Option<bool>,
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
    let raw_path = event.path.unwrap_or_else(|| "/".to_owned());
    let paths = uri::Paths::from_encoded(&raw_path).map_err(bad)?;

    let encoded: Vec<(String, String)> = match event.multi_value_query_string_parameters {
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
    let raw_query = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let query = uri::parse_query(&raw_query);

    let headers = match event.multi_value_headers {
        Some(multi) => lowercase_headers(
            multi
                .0
                .into_iter()
                .flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v)))
                .collect(),
        ),
        None => lowercase_headers(event.headers.map(|h| h.0).unwrap_or_default()),
    };
    let cookies = cookies_from_headers(&headers);
    let body = decode_body(
        event.body.map(|b| b.0),
        event.is_base64_encoded.unwrap_or(false),
        format,
        limits,
    )?;

    let mut context = Context::new(format.source(), request_id);
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
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<BTreeMap<String, Vec<String>>>,
    body: String,
    is_base64_encoded: bool,
}

pub(super) fn encode(response: &Response, multi_value: bool) -> Vec<u8> {
    let (headers, multi_value_headers) = if multi_value {
        (None, Some(multi_value_headers(response)))
    } else {
        let format = EventFormat::Alb { multi_value };
        (
            Some(single_value_headers_with_one_cookie(response, format)),
            None,
        )
    };
    let (body, is_base64_encoded) = encode_body(response);
    let reply = Reply {
        status_code: response.status.as_u16(),
        status_description: status_description(response.status),
        headers,
        multi_value_headers,
        body,
        is_base64_encoded,
    };
    serde_json::to_vec(&reply).expect("a map of strings always serializes")
}
