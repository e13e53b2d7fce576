//! API Gateway HTTP API payload 2.0 and Lambda Function URLs: one shape, both directions.
//!
//! Request: `rawPath` (includes a named stage; HTTP APIs have percent-decoded it, Function
//! URLs have not), `rawQueryString` (as sent),
//! `headers` (repeated headers arrive comma-joined: the source cannot do better),
//! `cookies` (the `Cookie` header moved out into a list), `body` + `isBase64Encoded`,
//! `requestContext.http.{method,sourceIp,userAgent}`.
//!
//! Response: `statusCode`, `headers` (repeated names comma-joined, as RFC 9110 §5.3 allows),
//! `cookies` (every `Set-Cookie`, which cannot be comma-joined), `body`, `isBase64Encoded`.

use super::fields::{Pairs, Text, push_header};
use super::{
    DecodeError, DecodeLimits, EventFormat, bad_request, decode_body, encode_body, parse,
    single_value_headers, uri,
};
use crate::request::{
    Context, Request, cookies_from_headers, now_epoch_ms, parse_cookies, strip_segment_prefix,
};
use crate::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    raw_path: Option<String>,
    raw_query_string: Option<String>,
    cookies: Option<Vec<String>>,
    headers: Option<Pairs>,
    query_string_parameters: Option<Pairs>,
    #[serde(borrow)]
    body: Option<Text<'a>>,
    is_base64_encoded: Option<bool>,
    #[serde(borrow)]
    request_context: RequestContext<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    http: Http,
    stage: Option<String>,
    #[serde(borrow)]
    authorizer: Option<&'a RawValue>,
    time_epoch: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Http {
    method: String,
    path: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
}

/// Removes a named stage from the front of a path (`/prod/x` → `/x` for stage `prod`).
/// `$default` never appears in paths.
fn strip_stage<'p>(path: &'p str, stage: Option<&str>) -> &'p str {
    match stage {
        Some(stage) if stage != "$default" => {
            strip_segment_prefix(path, &format!("/{stage}")).unwrap_or(path)
        }
        _ => path,
    }
}

pub(super) fn decode(
    payload: &[u8],
    format: EventFormat,
    request_id: &str,
    limits: &DecodeLimits,
) -> Result<Request, DecodeError> {
    let event: Event<'_> = parse(payload, format)?;
    let bad = |message: String| bad_request(format, message);
    let rc = event.request_context;

    let method = http::Method::from_bytes(rc.http.method.as_bytes())
        .map_err(|_| bad(format!("invalid HTTP method {:?}", rc.http.method)))?;
    let raw_path = event
        .raw_path
        .or(rc.http.path)
        .unwrap_or_else(|| "/".to_owned());
    // HTTP APIs deliver `rawPath` already percent-decoded; Function URLs deliver it as the
    // client sent it. Decode exactly once.
    let staged = strip_stage(&raw_path, rc.stage.as_deref());
    let paths = if format == EventFormat::FunctionUrl {
        uri::Paths::from_encoded(staged).map_err(bad)?
    } else {
        uri::Paths::from_decoded(staged.to_owned())
    };

    let (query, raw_query) = match event.raw_query_string {
        Some(raw) => (uri::parse_query(&raw), raw),
        // Without the raw string the decoded map is all there is; repeated names arrive
        // comma-joined and cannot be split back safely.
        None => {
            let query = event
                .query_string_parameters
                .map(|p| p.0)
                .unwrap_or_default();
            let raw = uri::encode_query(&query);
            (query, raw)
        }
    };

    let mut headers = Vec::new();
    for (name, value) in event.headers.map(|h| h.0).unwrap_or_default() {
        push_header(&mut headers, name, value);
    }
    let cookies = match event.cookies {
        Some(list) if !list.is_empty() => {
            // Handlers that read the `Cookie` header see what the client sent.
            if !headers.iter().any(|(k, _)| k == "cookie") {
                headers.push(("cookie".to_owned(), list.join("; ")));
            }
            parse_cookies(list.iter().map(String::as_str))
        }
        _ => cookies_from_headers(&headers),
    };
    let body = decode_body(
        event.body.map(|b| b.0),
        event.is_base64_encoded.unwrap_or(false),
        format,
        limits,
    )?;

    let context = Context {
        source: format.source(),
        request_id: request_id.to_owned(),
        stage: rc.stage,
        source_ip: rc.http.source_ip,
        user_agent: rc.http.user_agent,
        authorizer: rc.authorizer.map(|raw| raw.get().to_owned()),
        time_epoch_ms: rc.time_epoch.unwrap_or_else(now_epoch_ms),
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
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<String>,
    body: String,
    is_base64_encoded: bool,
}

pub(super) fn encode(response: &Response) -> Vec<u8> {
    let (headers, cookies) = single_value_headers(response);
    let (body, is_base64_encoded) = encode_body(response);
    let reply = Reply {
        status_code: response.status.as_u16(),
        headers,
        cookies,
        body,
        is_base64_encoded,
    };
    serde_json::to_vec(&reply).expect("a map of strings always serializes")
}

#[cfg(test)]
mod tests {
    use super::strip_stage;

    #[test]
    fn named_stages_are_stripped_only_as_a_whole_segment() {
        let cases = [
            ("/prod/items", Some("prod"), "/items"),
            ("/prod", Some("prod"), "/"),
            ("/production/items", Some("prod"), "/production/items"),
            ("/items", Some("$default"), "/items"),
            ("/items", None, "/items"),
        ];
        for (path, stage, expected) in cases {
            assert_eq!(strip_stage(path, stage), expected, "{path} {stage:?}");
        }
    }
}
