//! Lambda HTTP events in, Lambda proxy responses out.
//!
//! [`decode`] recognizes the event source by explicit markers (never by trying each shape in
//! turn), normalizes it into a [`Request`], and returns the [`EventFormat`] that [`encode`] needs
//! to answer in the shape that source expects.
//!
//! | source | marker |
//! | --- | --- |
//! | HTTP API 2.0 | `version: "2.0"` and `requestContext.http` |
//! | Function URL | as HTTP API 2.0, on a `*.lambda-url.*` domain |
//! | HTTP API 1.0 | `version: "1.0"` and `httpMethod` |
//! | REST API | `httpMethod` and `requestContext.resourcePath`/`stage`, no `version` |
//! | ALB | `requestContext.elb` (multi-value mode when `multiValueHeaders` is present) |
//! | VPC Lattice v2 | `requestContext.serviceNetworkArn` |
//! | VPC Lattice v1 | `raw_path` (snake_case), no `requestContext` |

mod alb;
mod apigw_http;
mod apigw_rest;
mod fields;
mod headers;
mod lattice;
mod uri;

pub(crate) use uri::{Paths, decode_param, encode_query, parse_query, route_form, uri_path};

pub use headers::HeaderLimits;
pub(crate) use headers::check_fields as check_headers;

use crate::error::Error;
use crate::limits::DEFAULT_MAX_REQUEST_BODY;
use crate::request::{Request, Source, header_text};
use crate::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Where a request came from: what [`encode`] needs to shape the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventFormat {
    /// API Gateway REST API: reply with `multiValueHeaders`.
    ApigwRest,
    /// API Gateway HTTP API payload 1.0: same reply shape as REST.
    ApigwHttpV1,
    /// API Gateway HTTP API payload 2.0: reply with `headers` and `cookies`.
    ApigwHttpV2,
    /// Function URL: same reply shape as HTTP API 2.0.
    FunctionUrl,
    /// ALB: reply in the header mode the target group used.
    Alb {
        /// Whether the target group has multi-value headers on.
        multi_value: bool,
    },
    /// VPC Lattice, event version 1.
    VpcLatticeV1,
    /// VPC Lattice, event version 2.
    VpcLatticeV2,
}

impl std::fmt::Display for EventFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ApigwRest => "API Gateway REST",
            Self::ApigwHttpV1 => "API Gateway HTTP API (payload 1.0)",
            Self::ApigwHttpV2 => "API Gateway HTTP API (payload 2.0)",
            Self::FunctionUrl => "Function URL",
            Self::Alb { multi_value: true } => "ALB (multi-value headers)",
            Self::Alb { multi_value: false } => "ALB",
            Self::VpcLatticeV1 => "VPC Lattice v1",
            Self::VpcLatticeV2 => "VPC Lattice v2",
        })
    }
}

/// Largest synchronous Lambda response payload (a 6,291,466-byte response was rejected
/// with `Function.ResponseSizeTooLarge` by the Runtime Interface Emulator).
pub const LAMBDA_RESPONSE_LIMIT: usize = 6 << 20;
/// Largest response an ALB accepts from a Lambda target (1 MB).
pub const ALB_RESPONSE_LIMIT: usize = 1_000_000;

impl EventFormat {
    /// The largest encoded response this source accepts.
    #[must_use]
    pub fn response_limit(self) -> usize {
        match self {
            Self::Alb { .. } => ALB_RESPONSE_LIMIT,
            _ => LAMBDA_RESPONSE_LIMIT,
        }
    }

    /// The [`Source`] a handler sees for this format.
    #[must_use]
    pub fn source(self) -> Source {
        match self {
            Self::ApigwRest => Source::ApigwRest,
            Self::ApigwHttpV1 => Source::ApigwHttpV1,
            Self::ApigwHttpV2 => Source::ApigwHttpV2,
            Self::FunctionUrl => Source::FunctionUrl,
            Self::Alb { .. } => Source::Alb,
            Self::VpcLatticeV1 => Source::VpcLatticeV1,
            Self::VpcLatticeV2 => Source::VpcLatticeV2,
        }
    }
}

/// Why a payload could not become a request.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The payload is not JSON at all (empty, truncated, a byte order mark, not UTF-8...).
    #[error("the payload is not JSON: {problem}")]
    NotJson {
        /// What is wrong, with line and column.
        problem: String,
    },
    /// The payload is JSON but not an HTTP event this host serves.
    #[error("{detected} is not an HTTP request event this host can serve: {hint}")]
    Unsupported {
        /// What the payload looks like.
        detected: &'static str,
        /// What was missing or would be needed.
        hint: String,
    },
    /// A field the host reads to recognize the source has the wrong type, or a key is
    /// repeated.
    #[error("the event's `{field}` {problem}")]
    InvalidField {
        /// The path of the field (`requestContext.domainName`), or `.` for the top level.
        field: String,
        /// What is wrong, with line and column.
        problem: String,
    },
    /// The payload was recognized but a field is missing or has the wrong type.
    #[error("{format} event is malformed at `{field}`: {problem}")]
    Malformed {
        /// The recognized source.
        format: EventFormat,
        /// The path of the offending field (`requestContext.http.method`), or `.` for the
        /// top level.
        field: String,
        /// What is wrong, with line and column.
        problem: String,
    },
    /// The event is well-formed but the request in it is not (a bad header, a body over
    /// the limit, ...): answered with that error in the source's shape, not an invocation
    /// error.
    #[error("{error}")]
    Rejected {
        /// The recognized source, to shape the answer.
        format: EventFormat,
        /// The 400, 413 or 431 to answer with.
        error: Error,
    },
}

impl DecodeError {
    /// The Lambda `errorType` of an invocation this error fails: `Lamina.InvalidEvent` for
    /// a payload that is not a well-formed event, `Lamina.UnsupportedEvent` for a
    /// well-formed one that is not an HTTP request. (A [`DecodeError::Rejected`] is
    /// answered, never failed; it reports `Lamina.InvalidEvent` if asked.)
    #[must_use]
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Unsupported { .. } => "Lamina.UnsupportedEvent",
            Self::NotJson { .. }
            | Self::InvalidField { .. }
            | Self::Malformed { .. }
            | Self::Rejected { .. } => "Lamina.InvalidEvent",
        }
    }
}

/// What a request in an event may carry before the host answers it without running
/// anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The largest request body, decoded (`max-request-body`). A base64 body is measured
    /// before it is decoded, so an oversized one costs no memory to refuse.
    pub max_body: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_REQUEST_BODY,
        }
    }
}

/// serde's message for `error`, in the event's terms rather than Lamina's: "expected an
/// object", not the name of an internal struct, and "duplicate key" for a repeated one.
fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let (message, position) = match text.rfind(" at line ") {
        Some(at) => text.split_at(at),
        None => (text.as_str(), ""),
    };
    let message = if let Some(key) = message.strip_prefix("duplicate field ") {
        format!("has a duplicate key {key}")
    } else if let Some((got, expected)) = message.split_once(", expected ") {
        let expected = if expected.starts_with("struct ") || expected == "a map" {
            "an object"
        } else if expected == "a sequence" {
            "an array"
        } else if expected.starts_with("u64") || expected.starts_with("u32") {
            "a non-negative integer"
        } else {
            expected
        };
        let got = got.strip_prefix("invalid type: ").unwrap_or(got);
        format!("must be {expected}, not {got}")
    } else if message.contains("untagged enum OneOrMany") {
        "must be a string or a list of strings".to_owned()
    } else if message.contains("untagged enum MicrosEpoch") {
        "must be a string or a number".to_owned()
    } else {
        message.to_owned()
    };
    format!("{message}{position}")
}

/// A `serde_path_to_error` failure as the field it names and what is wrong with it.
fn field_problem(error: &serde_path_to_error::Error<serde_json::Error>) -> (String, String) {
    (error.path().to_string(), describe(error.inner()))
}

/// Why `payload` is not JSON, in words a caller can act on.
fn not_json(payload: &[u8], error: &serde_json::Error) -> DecodeError {
    let problem = if payload.iter().all(u8::is_ascii_whitespace) {
        "it is empty (expected a Lambda HTTP event, a JSON object)".to_owned()
    } else if payload.starts_with(b"\xEF\xBB\xBF") {
        "it starts with a UTF-8 byte order mark, which JSON does not allow".to_owned()
    } else {
        error.to_string()
    };
    DecodeError::NotJson { problem }
}

/// The fields that identify an event source.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    version: Option<String>,
    http_method: Option<IgnoredAny>,
    request_context: Option<ProbeContext>,
    #[serde(rename = "type")]
    kind: Option<String>,
    method_arn: Option<IgnoredAny>,
    route_arn: Option<IgnoredAny>,
    #[serde(rename = "Records")]
    records: Option<IgnoredAny>,
    raw_path: Option<IgnoredAny>,
    #[serde(rename = "raw_path")]
    raw_path_snake: Option<IgnoredAny>,
    multi_value_headers: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProbeContext {
    http: Option<IgnoredAny>,
    elb: Option<IgnoredAny>,
    domain_name: Option<String>,
    event_type: Option<IgnoredAny>,
    connection_id: Option<IgnoredAny>,
    service_network_arn: Option<IgnoredAny>,
    resource_path: Option<IgnoredAny>,
    stage: Option<IgnoredAny>,
}

fn detect(payload: &[u8]) -> Result<EventFormat, DecodeError> {
    // JSON is UTF-8 (RFC 8259 §8.1). Checked up front (a fast pass) because serde does not
    // look inside the fields detection skips.
    if let Err(e) = std::str::from_utf8(payload) {
        return Err(DecodeError::NotJson {
            problem: format!(
                "it is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        });
    }
    // serde would read a JSON array into the probe's fields by position.
    let kind = json_kind(payload);
    if kind != "an object" && serde_json::from_slice::<IgnoredAny>(payload).is_ok() {
        return Err(DecodeError::Unsupported {
            detected: "a JSON value that is not an object",
            hint: format!("expected a Lambda HTTP event object, got {kind}"),
        });
    }
    let probe: Probe = serde_json::from_slice(payload).map_err(|e| {
        if !e.is_data() {
            return not_json(payload, &e);
        }
        // The cold path: read again with path tracking to name the field.
        let mut de = serde_json::Deserializer::from_slice(payload);
        match serde_path_to_error::deserialize::<_, Probe>(&mut de) {
            Err(e) if e.path().to_string() != "." => {
                let (field, problem) = field_problem(&e);
                DecodeError::InvalidField { field, problem }
            }
            // A repeated top-level key: name it rather than the object.
            Err(e) if e.inner().to_string().starts_with("duplicate field") => {
                let text = e.inner().to_string();
                let key = text.split('`').nth(1).unwrap_or_default().to_owned();
                DecodeError::InvalidField {
                    field: key,
                    problem: "appears more than once".to_owned(),
                }
            }
            _ => DecodeError::Unsupported {
                detected: "a JSON value that is not an object",
                hint: format!(
                    "expected a Lambda HTTP event object, got {}",
                    json_kind(payload)
                ),
            },
        }
    })?;
    let unsupported = |detected, hint: &str| {
        Err(DecodeError::Unsupported {
            detected,
            hint: hint.to_owned(),
        })
    };
    if probe.records.is_some() {
        return unsupported(
            "an event-source batch (`Records`: S3, SQS, SNS, DynamoDB, ...)",
            "route HTTP traffic through API Gateway, an ALB, a Function URL or VPC Lattice",
        );
    }
    if probe.method_arn.is_some() || probe.route_arn.is_some() {
        return unsupported(
            "an API Gateway authorizer event (`methodArn`/`routeArn`)",
            "authorizers must answer with a policy, not an HTTP response",
        );
    }
    let Some(rc) = probe.request_context else {
        if probe.raw_path_snake.is_some() {
            return Ok(EventFormat::VpcLatticeV1);
        }
        let hint = if probe.http_method.is_some() || probe.raw_path.is_some() {
            "it has HTTP fields but no `requestContext`, which every Lambda HTTP event carries"
        } else {
            "no `requestContext`: this looks like a direct invocation; send an HTTP event \
             (API Gateway REST/HTTP API, ALB, Function URL, VPC Lattice)"
        };
        return unsupported("a JSON object without `requestContext`", hint);
    };
    if rc.event_type.is_some() || rc.connection_id.is_some() {
        return unsupported(
            "an API Gateway WebSocket event (`requestContext.eventType`/`connectionId`)",
            "WebSocket routes are not HTTP requests",
        );
    }
    if rc.elb.is_some() {
        return Ok(EventFormat::Alb {
            multi_value: probe.multi_value_headers.is_some(),
        });
    }
    if rc.service_network_arn.is_some() {
        return Ok(EventFormat::VpcLatticeV2);
    }
    if probe.kind.is_some() && probe.http_method.is_none() && rc.http.is_none() {
        return unsupported(
            "an API Gateway authorizer event (`type`)",
            "authorizers must answer with a policy, not an HTTP response",
        );
    }
    match probe.version.as_deref() {
        Some("2.0") if rc.http.is_some() => {
            let url = rc
                .domain_name
                .as_deref()
                .is_some_and(|d| d.contains(".lambda-url."));
            Ok(if url {
                EventFormat::FunctionUrl
            } else {
                EventFormat::ApigwHttpV2
            })
        }
        Some("2.0") => unsupported(
            "a payload 2.0 event without `requestContext.http`",
            "`requestContext.http.method` and `.path` are required",
        ),
        Some("1.0") if probe.http_method.is_some() => Ok(EventFormat::ApigwHttpV1),
        None if probe.http_method.is_some()
            && (rc.resource_path.is_some() || rc.stage.is_some()) =>
        {
            Ok(EventFormat::ApigwRest)
        }
        Some(other) => Err(DecodeError::Unsupported {
            detected: "an event with an unknown payload `version`",
            hint: format!("version {other:?} with these fields is not an HTTP event format"),
        }),
        None => unsupported(
            "an object with `requestContext` but no HTTP markers",
            "expected `httpMethod` (REST, HTTP API 1.0) or `version: \"2.0\"` with \
             `requestContext.http` (HTTP API 2.0, Function URL)",
        ),
    }
}

/// What kind of JSON value `payload` holds, for messages ("an array", "a string", ...).
fn json_kind(payload: &[u8]) -> &'static str {
    match payload.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'{') => "an object",
        _ => "a number",
    }
}

/// Decodes a Lambda payload into the request it carries, with the default
/// [`DecodeLimits`] (an app decodes with its own: [`App::decode`](crate::App::decode)).
///
/// `request_id` is the Lambda invocation's request id; it becomes the request's
/// `context.request_id`.
///
/// # Errors
///
/// As [`decode_with`].
pub fn decode(payload: &[u8], request_id: &str) -> Result<(EventFormat, Request), DecodeError> {
    decode_with(payload, request_id, &DecodeLimits::default())
}

/// Decodes a Lambda payload into the request it carries, within `limits`.
///
/// # Errors
///
/// [`DecodeError::Rejected`] when the event is recognized but its request is invalid or
/// too large (the caller answers with that error in the source's shape: 400 for a header
/// that is not valid HTTP or a body that is not the base64 it claims, 413 for a body over
/// `limits.max_body`, 431 for headers over the source's own limits); any other variant
/// when the payload is not a servable HTTP event (the caller reports an invocation error
/// with this message).
pub fn decode_with(
    payload: &[u8],
    request_id: &str,
    limits: &DecodeLimits,
) -> Result<(EventFormat, Request), DecodeError> {
    let format = detect(payload)?;
    let request = match format {
        EventFormat::ApigwRest | EventFormat::ApigwHttpV1 => {
            apigw_rest::decode(payload, format, request_id, limits)
        }
        EventFormat::ApigwHttpV2 | EventFormat::FunctionUrl => {
            apigw_http::decode(payload, format, request_id, limits)
        }
        EventFormat::Alb { .. } => alb::decode(payload, format, request_id, limits),
        EventFormat::VpcLatticeV1 | EventFormat::VpcLatticeV2 => {
            lattice::decode(payload, format, request_id, limits)
        }
    }?;
    headers::check(format, &request.headers)
        .map_err(|error| DecodeError::Rejected { format, error })?;
    Ok((format, request))
}

/// A 400 for `format`, for the per-source decoders.
fn bad_request(format: EventFormat, message: String) -> DecodeError {
    DecodeError::Rejected {
        format,
        error: Error::BadRequest { message },
    }
}

/// Encodes a response in the proxy-response shape `format` expects.
#[must_use]
pub fn encode(format: EventFormat, response: &Response) -> Vec<u8> {
    match format {
        EventFormat::ApigwRest | EventFormat::ApigwHttpV1 => apigw_rest::encode(response),
        EventFormat::ApigwHttpV2 | EventFormat::FunctionUrl => apigw_http::encode(response),
        EventFormat::Alb { multi_value } => alb::encode(response, multi_value),
        EventFormat::VpcLatticeV1 | EventFormat::VpcLatticeV2 => lattice::encode(response, format),
    }
}

/// Deserializes a recognized event. On failure (the cold path) the payload is read again
/// with path tracking, so the error names the field, e.g. `requestContext.http.method`.
fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8], format: EventFormat) -> Result<T, DecodeError> {
    serde_json::from_slice(payload).map_err(|error| {
        let mut de = serde_json::Deserializer::from_slice(payload);
        let (field, problem) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(e) => field_problem(&e),
            Ok(_) => (".".to_owned(), describe(&error)),
        };
        DecodeError::Malformed {
            format,
            field,
            problem,
        }
    })
}

/// Decodes a request body that the event may have base64-encoded, refusing one larger
/// than `limits.max_body` before decoding it (a base64 body's decoded size is known from
/// its length). `body` borrows from the payload when the JSON string has no escapes.
fn decode_body(
    body: Option<Cow<'_, str>>,
    base64: bool,
    format: EventFormat,
    limits: &DecodeLimits,
) -> Result<bytes::Bytes, DecodeError> {
    let Some(body) = body else {
        return Ok(bytes::Bytes::new());
    };
    let too_large = |size: usize| DecodeError::Rejected {
        format,
        error: Error::PayloadTooLarge {
            size: Some(size),
            limit: limits.max_body,
        },
    };
    if !base64 {
        if body.len() > limits.max_body {
            return Err(too_large(body.len()));
        }
        return Ok(bytes::Bytes::from(body.into_owned()));
    }
    let encoded = body.trim();
    // Every 4 base64 characters carry 3 bytes; padding only shortens the last group.
    let decoded_at_least = (encoded.len() / 4 * 3).saturating_sub(2);
    if decoded_at_least > limits.max_body {
        return Err(too_large(encoded.len() / 4 * 3));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| {
            bad_request(
                format,
                format!(
                    "the event says the body is base64 (`isBase64Encoded`), but it is not: {e}"
                ),
            )
        })?;
    if bytes.len() > limits.max_body {
        return Err(too_large(bytes.len()));
    }
    Ok(bytes::Bytes::from(bytes))
}

/// A response body as the proxy response carries it: text, or base64 and a flag.
fn encode_body(response: &Response) -> (String, bool) {
    if response.body_is_binary() {
        (
            base64::engine::general_purpose::STANDARD.encode(&response.body),
            true,
        )
    } else {
        // `body_is_binary` is false only for valid UTF-8.
        (String::from_utf8_lossy(&response.body).into_owned(), false)
    }
}

/// Response headers as a name → values map, every value kept (REST, ALB multi-value).
fn multi_value_headers(response: &Response) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &response.headers {
        out.entry(name.as_str().to_owned())
            .or_default()
            .push(header_text(value));
    }
    out
}

/// Response headers as a name → value map with repeated names comma-joined (RFC 9110
/// §5.3), and every `Set-Cookie` value separately: a cookie cannot be comma-joined.
fn single_value_headers(response: &Response) -> (BTreeMap<String, String>, Vec<String>) {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &response.headers {
        if name == http::header::SET_COOKIE {
            cookies.push(header_text(value));
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&header_text(value));
            })
            .or_insert_with(|| header_text(value));
    }
    (headers, cookies)
}

/// For shapes with one value per header and no cookie list (ALB without multi-value
/// headers, VPC Lattice): the first `Set-Cookie` is sent, the rest are logged as dropped,
/// since the source has no way to carry them.
fn single_value_headers_with_one_cookie(
    response: &Response,
    format: EventFormat,
) -> BTreeMap<String, String> {
    let (mut headers, mut cookies) = single_value_headers(response);
    if cookies.len() > 1 {
        let dropped: Vec<&str> = cookies[1..]
            .iter()
            .map(|c| c.split('=').next().unwrap_or_default())
            .collect();
        tracing::warn!(
            %format,
            dropped = ?dropped,
            "the response sets {} cookies but this source carries one Set-Cookie header; \
             enable multi-value headers on the ALB target group to send them all",
            cookies.len()
        );
    }
    if !cookies.is_empty() {
        headers.insert("set-cookie".to_owned(), cookies.swap_remove(0));
    }
    headers
}

/// `200 OK`: the status line text ALB and VPC Lattice want in `statusDescription`.
fn status_description(status: http::StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_owned()
}

/// For sources without a request context (ALB, VPC Lattice): the client IP is the last
/// `x-forwarded-for` entry (the one the load balancer appended; earlier ones are whatever
/// the client sent), the user agent its header.
fn forwarded_client(context: &mut crate::request::Context, headers: &[(String, String)]) {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    context.source_ip = header("x-forwarded-for")
        .and_then(|xff| xff.rsplit(',').next())
        .map(|ip| ip.trim().to_owned());
    context.user_agent = header("user-agent").map(str::to_owned);
}

#[cfg(test)]
mod tests;
