//! How error responses look (`error-format`), each format following its own reference, so
//! clients written against Powertools, aws-lambda-api-event-utils or RFC 9457 keep working.
//!
//! | error | `lamina` | `powertools` | `api-event-utils` | `problem` |
//! | --- | --- | --- | --- | --- |
//! | no route (404) | `not-found`, "no route for /x" | "Not found" (Powertools' own) | `PathNotFound`, "Path /x not found." | `title` "Not Found" |
//! | wrong method (405) | `method-not-allowed` | "Method not allowed" | `UnsupportedMethod`, "PUT is not a valid HTTP method. Valid methods are GET HEAD" | "Method Not Allowed" |
//! | validation (400/415/422) | code, message, `details` | `{"statusCode", "detail": [{"loc", "type"}]}` | `InvalidContentType` / `InvalidPayload` / `InvalidRequest` | `detail`, `details` |
//! | body too large (413) | `payload-too-large` | "Request entity too large" | `RequestEntityTooLarge` | "Payload Too Large" |
//! | headers too large (431) | `headers-too-large` | "Request header fields too large" | `RequestHeaderFieldsTooLarge` | "Request Header Fields Too Large" |
//! | guest fault (500) | `internal`, "internal error" | "Internal server error" | `InternalServerError`, "An error occurred." | "Internal Server Error" |
//! | response too large (502) | `response-too-large` | "Response too large" | `BadGateway` | "Bad Gateway" |
//! | capacity (503) | `overloaded` | "Service unavailable" | `ServiceUnavailable` | "Service Unavailable" |
//! | timeout (504) | `timeout` | "Gateway timeout" | `GatewayTimeout` | "Gateway Timeout" |
//! | a guest's typed error | its code, message, details | its message | its code, message | its message as `detail` |
//!
//! Powertools itself answers a wrong method with its 404 and has no 405, 413 (bar an
//! exception class), 431, 502, 503 or 504 answers of its own: those texts are Lamina's, in
//! the sentence case of Powertools' "Not found". aws-lambda-api-event-utils names codes
//! by the status phrase without spaces (`from_status_code`) and messages by Python's
//! `http.HTTPStatus` descriptions; those are used for the statuses it has no class for.

use crate::error::Error;
use crate::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

/// How error responses look: one format for host errors, validation errors and the
/// guest's typed errors alike (`error-format` in the config).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorFormat {
    /// `{"error": {"code", "message", "request-id", "details"?}}`
    #[default]
    Lamina,
    /// Powertools Event Handler's `{"statusCode", "message"}`, and its
    /// `{"statusCode", "detail"}` for validation errors.
    Powertools,
    /// aws-lambda-api-event-utils' `{"Error": {"Code", "Message"}}`.
    ApiEventUtils,
    /// RFC 9457 `application/problem+json`: `type`, `title`, `status`, `detail`, plus
    /// `code`, `request-id` and `details` as extension members.
    Problem,
}

impl ErrorFormat {
    /// The format's name, as `error-format` spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lamina => "lamina",
            Self::Powertools => "powertools",
            Self::ApiEventUtils => "api-event-utils",
            Self::Problem => "problem",
        }
    }

    /// Builds the response body for an error from its parts, as a guest's typed error is
    /// rendered.
    #[must_use]
    pub fn render(
        self,
        status: StatusCode,
        code: &str,
        message: &str,
        request_id: &str,
        details: Option<&Value>,
    ) -> Response {
        let mut body = match self {
            Self::Lamina => json!({
                "error": {"code": code, "message": message, "request-id": request_id}
            }),
            Self::Powertools => json!({"statusCode": status.as_u16(), "message": message}),
            Self::ApiEventUtils => json!({"Error": {"Code": code, "Message": message}}),
            Self::Problem => json!({
                "type": "about:blank",
                "title": status.canonical_reason().unwrap_or("Error"),
                "status": status.as_u16(),
                "detail": message,
                "code": code,
                "request-id": request_id,
            }),
        };
        if let Some(details) = details {
            match self {
                Self::Lamina => body["error"]["details"] = details.clone(),
                Self::Problem => body["details"] = details.clone(),
                Self::Powertools | Self::ApiEventUtils => {}
            }
        }
        let mut response = Response::json(status, &body);
        if self == Self::Problem {
            response.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
        }
        response
    }

    /// `error` as this format's reference renders that kind of error.
    pub(crate) fn render_error(self, error: &Error, request_id: &str) -> Response {
        let status = error.status();
        match self {
            Self::Lamina | Self::Problem => self.render(
                status,
                error.code(),
                &error.public_message(),
                request_id,
                error.details(),
            ),
            Self::Powertools => match error {
                Error::Invalid { code, details, .. } => Response::json(
                    status,
                    &json!({"statusCode": status.as_u16(), "detail": powertools_detail(code, details.as_ref())}),
                ),
                _ => self.render(status, "", &powertools_message(error), request_id, None),
            },
            Self::ApiEventUtils => {
                let (code, message) = api_event_utils(error);
                self.render(status, &code, &message, request_id, None)
            }
        }
    }
}

/// The `message` Powertools would send, or Lamina's choice where Powertools has none.
fn powertools_message(error: &Error) -> String {
    match error {
        Error::NotFound { .. } => "Not found".to_owned(),
        Error::MethodNotAllowed { .. } => "Method not allowed".to_owned(),
        Error::PayloadTooLarge { .. } => "Request entity too large".to_owned(),
        Error::HeadersTooLarge { .. } => "Request header fields too large".to_owned(),
        Error::RequestTimeout { .. } => "Request timeout".to_owned(),
        Error::ResponseTooLarge { .. } => "Response too large".to_owned(),
        Error::Fault { .. }
        | Error::InvalidResponse { .. }
        | Error::InvalidRequest { .. }
        | Error::OutOfMemory { .. } => "Internal server error".to_owned(),
        Error::Overloaded { .. } | Error::PoolExhausted { .. } => "Service unavailable".to_owned(),
        Error::Timeout { .. } => "Gateway timeout".to_owned(),
        // As `BadRequestError(msg)` and a raised `ServiceError`: the message as written.
        Error::BadRequest { message } | Error::Typed { message, .. } => message.clone(),
        Error::Invalid { message, .. } => message.clone(),
    }
}

/// Powertools' validation `detail`: one `{"loc", "type"}` per problem, `loc` starting with
/// where it is (`body`, `query`, `path`), `type` the JSON Schema keyword that failed (or
/// Powertools' own type for a body that is missing, not JSON, or of the wrong type).
fn powertools_detail(code: &str, details: Option<&Value>) -> Value {
    let root = match code {
        "invalid-query" => "query",
        "invalid-params" => "path",
        _ => "body",
    };
    let simple = |kind: &str| json!([{"loc": [root], "type": kind}]);
    match code {
        "missing-body" => simple("missing"),
        "unsupported-media-type" => simple("unsupported_content_type"),
        "invalid-json" => simple("json_invalid"),
        _ => {
            let items: Vec<Value> = details
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|item| {
                            let mut loc = vec![json!(root)];
                            loc.extend(pointer_segments(item["path"].as_str().unwrap_or("")));
                            if let Some(property) = item.get("property") {
                                loc.push(property.clone());
                            }
                            json!({"loc": loc, "type": item["keyword"].as_str().unwrap_or("invalid")})
                        })
                        .collect()
                })
                .unwrap_or_default();
            Value::Array(items)
        }
    }
}

/// The segments of a JSON Pointer (`/items/0/name`), array indexes as numbers.
fn pointer_segments(pointer: &str) -> impl Iterator<Item = Value> + '_ {
    pointer.split('/').skip(1).map(|segment| {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        segment
            .parse::<u64>()
            .map_or_else(|_| Value::String(segment), Value::from)
    })
}

/// aws-lambda-api-event-utils' `Code` and `Message` for `error`.
fn api_event_utils(error: &Error) -> (String, String) {
    let pair = |code: &str, message: &str| (code.to_owned(), message.to_owned());
    match error {
        Error::NotFound { path } => ("PathNotFound".to_owned(), format!("Path {path} not found.")),
        Error::MethodNotAllowed { method, allow } => {
            let allow: Vec<&str> = allow.iter().map(http::Method::as_str).collect();
            (
                "UnsupportedMethod".to_owned(),
                format!(
                    "{method} is not a valid HTTP method. Valid methods are {}",
                    allow.join(" ")
                ),
            )
        }
        Error::Invalid {
            code,
            message,
            details,
            ..
        } => match *code {
            "unsupported-media-type" => pair(
                "InvalidContentType",
                "Content type must be application/json.",
            ),
            "invalid-json" => pair("InvalidPayload", "Request body must be valid JSON."),
            "missing-body" => pair("InvalidPayload", "The request body is invalid."),
            "schema-violation" => {
                let first = details
                    .as_ref()
                    .and_then(|d| d.get(0))
                    .and_then(|d| d["message"].as_str())
                    .unwrap_or(message);
                pair("InvalidPayload", first)
            }
            "invalid-query" => (
                "InvalidRequest".to_owned(),
                format!("Invalid query parameters: {message}."),
            ),
            _ => ("InvalidRequest".to_owned(), message.clone()),
        },
        Error::BadRequest { message } => ("InvalidRequest".to_owned(), message.clone()),
        Error::Typed { code, message, .. } => (code.clone(), message.clone()),
        Error::Fault { .. }
        | Error::InvalidResponse { .. }
        | Error::InvalidRequest { .. }
        | Error::OutOfMemory { .. } => pair("InternalServerError", "An error occurred."),
        // `from_status_code`: the phrase without spaces, Python's `HTTPStatus` description.
        Error::PayloadTooLarge { .. } => pair("RequestEntityTooLarge", "Entity is too large."),
        Error::HeadersTooLarge { .. } => pair(
            "RequestHeaderFieldsTooLarge",
            "The server is unwilling to process the request because its header fields are too large.",
        ),
        Error::RequestTimeout { .. } => pair(
            "RequestTimeout",
            "The server timed out waiting for the request.",
        ),
        Error::ResponseTooLarge { .. } => {
            pair("BadGateway", "Invalid responses from another server/proxy.")
        }
        Error::Overloaded { .. } | Error::PoolExhausted { .. } => pair(
            "ServiceUnavailable",
            "The server cannot process the request due to a high load.",
        ),
        Error::Timeout { .. } => pair(
            "GatewayTimeout",
            "The gateway server did not receive a timely response.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_format_renders_the_same_error() {
        let details = json!([{"field": "title"}]);
        let cases = [
            (
                ErrorFormat::Lamina,
                "application/json",
                json!({"error": {"code": "invalid", "message": "bad title", "request-id": "r1", "details": [{"field": "title"}]}}),
            ),
            (
                ErrorFormat::Powertools,
                "application/json",
                json!({"statusCode": 422, "message": "bad title"}),
            ),
            (
                ErrorFormat::ApiEventUtils,
                "application/json",
                json!({"Error": {"Code": "invalid", "Message": "bad title"}}),
            ),
            (
                ErrorFormat::Problem,
                "application/problem+json",
                json!({"type": "about:blank", "title": "Unprocessable Entity", "status": 422, "detail": "bad title",
                       "code": "invalid", "request-id": "r1", "details": [{"field": "title"}]}),
            ),
        ];
        for (format, content_type, expected) in cases {
            let res = format.render(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "bad title",
                "r1",
                Some(&details),
            );
            assert_eq!(res.status, 422);
            assert_eq!(
                res.headers[header::CONTENT_TYPE],
                content_type,
                "{format:?}"
            );
            let body: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
            assert_eq!(body, expected, "{format:?}");
        }
    }
}
