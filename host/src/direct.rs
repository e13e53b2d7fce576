//! Direct invocations: a payload that is not an HTTP event (an SDK `Invoke`, Step
//! Functions, EventBridge Pipes, or an API Gateway REST API's custom integration, whatever
//! its mapping template produces) handed to one component, with its errors as Lambda
//! function errors an integration response can select on.
//!
//! ```toml
//! [direct]
//! component = "orders-rpc"
//! select = "action"                          # optional: {"action": "create", ...} → POST /create
//! middleware = ["audit"]                     # optional: after the global middleware
//! validate = { schema = "schemas/rpc.json" } # optional: JSON Schema on the payload
//! ```
//!
//! The component gets a `POST` with the payload as a JSON body (`source = direct`), path
//! `/` or `/{value of the select field}` (route template `/{select}`, the value as that
//! parameter), through the global middleware, the section's own, its validation, and the
//! component's limits. What it answers becomes the invocation's result:
//!
//! - a success (1xx–3xx): the body, as JSON (a body that is not JSON is sent as a JSON
//!   string, an empty one as `null`);
//! - an error: a function error (`/runtime/invocation/{id}/error`) with `errorType` the
//!   error's code (`not-found`) — or a stable `Lamina.*` type for the host's own errors
//!   (`Lamina.Timeout`, `Lamina.Fault`, ...) — and `errorMessage` one line of JSON,
//!   `{"status":404,"code":"not-found","message":"...","details":...,"request-id":"..."}`,
//!   keys in that order, no internals, so a `selectionPattern` such as `.*"status":404.*`
//!   picks the integration response.
//!
//! Without a `[direct]` section such payloads are refused as before
//! (`Lamina.UnsupportedEvent`, saying what the payload looks like).

use crate::error::Error;
use crate::request::{Context, Request, Source};
use crate::response::Response;
use crate::validate::ValidateConfig;
use bytes::Bytes;
use http::{HeaderValue, Method};
use serde::{Deserialize, Serialize};

/// `[direct]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DirectConfig {
    /// The handler component.
    pub(crate) component: String,
    /// A top-level string field of the payload whose value becomes the path.
    pub(crate) select: Option<String>,
    /// Middleware for direct invocations, after the global ones.
    #[serde(default)]
    pub(crate) middleware: Vec<String>,
    /// Checks on the payload (a JSON body by definition).
    pub(crate) validate: Option<ValidateConfig>,
}

/// The header the host sets on the error responses it renders for a direct invocation,
/// naming the function error type (removed before the result is sent).
pub(crate) const ERROR_TYPE: &str = "lamina-function-error-type";

/// How a direct payload becomes a request (the route it runs is the app's).
pub(crate) struct Selector {
    /// The payload field naming the path.
    pub(crate) select: Option<String>,
    /// The route template the component sees: `/{select}`, or `/`.
    pub(crate) template: std::sync::Arc<str>,
}

/// A Lambda function error: what `/runtime/invocation/{id}/error` receives.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct FunctionError {
    /// `errorType`.
    pub error_type: String,
    /// `errorMessage`.
    pub error_message: String,
    /// Whether a direct invocation's component (or the host running it) answered with it,
    /// rather than the host refusing the payload.
    direct: bool,
}

/// The JSON of an `errorMessage`, keys in the documented order.
#[derive(Serialize)]
struct ErrorMessage<'a> {
    status: u16,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a serde_json::Value>,
    #[serde(rename = "request-id")]
    request_id: &'a str,
}

impl FunctionError {
    /// A payload the host refuses: `error_type` (`Lamina.UnsupportedEvent`, ...) and why.
    pub(crate) fn refused(error_type: &str, message: String) -> Self {
        Self {
            error_type: error_type.to_owned(),
            error_message: message,
            direct: false,
        }
    }

    /// Whether this is a direct invocation's error (its message the JSON document), not a
    /// refused payload.
    #[must_use]
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// A function error of `error_type` with the standard message document.
    pub(crate) fn new(
        error_type: &str,
        status: u16,
        code: &str,
        message: &str,
        details: Option<&serde_json::Value>,
        request_id: &str,
    ) -> Self {
        let document = ErrorMessage {
            status,
            code,
            message,
            details,
            request_id,
        };
        Self {
            direct: true,
            error_type: error_type.to_owned(),
            // Serializing these types cannot fail; the fallback keeps the contract's shape.
            error_message: serde_json::to_string(&document).unwrap_or_else(|_| {
                format!(
                    "{{\"status\":{status},\"code\":{code:?},\"message\":\"\",\"request-id\":{request_id:?}}}"
                )
            }),
        }
    }
}

/// The function error type of a host error: `Lamina.` and the kind; `None` for a
/// component's typed error (whose type is its code).
pub(crate) fn host_error_type(error: &Error) -> Option<&'static str> {
    Some(match error {
        Error::Typed { .. } => return None,
        Error::Invalid { .. } => "Lamina.InvalidPayload",
        Error::NotFound { .. } => "Lamina.NotFound",
        Error::MethodNotAllowed { .. } => "Lamina.MethodNotAllowed",
        Error::BadRequest { .. } => "Lamina.BadRequest",
        Error::HeadersTooLarge { .. } => "Lamina.HeadersTooLarge",
        Error::RequestTimeout { .. } => "Lamina.RequestTimeout",
        Error::Overloaded { .. } | Error::PoolExhausted { .. } => "Lamina.Overloaded",
        Error::PayloadTooLarge { .. } => "Lamina.PayloadTooLarge",
        Error::ResponseTooLarge { .. } => "Lamina.ResponseTooLarge",
        Error::Fault { .. } | Error::InvalidRequest { .. } | Error::OutOfMemory { .. } => {
            "Lamina.ComponentFailed"
        }
        Error::InvalidResponse { .. } => "Lamina.InvalidResponse",
        Error::Timeout { .. } => "Lamina.Timeout",
    })
}

impl Selector {
    /// Reads `[direct]`'s selector.
    pub(crate) fn new(config: &DirectConfig) -> Self {
        Self {
            select: config.select.clone(),
            template: config
                .select
                .as_ref()
                .map_or_else(|| "/".into(), |field| format!("/{{{field}}}").into()),
        }
    }

    /// The request a direct `payload` becomes, and the route parameters.
    ///
    /// # Errors
    ///
    /// A `400` when `select` is configured and the payload has no such string field, or
    /// its value cannot be a path segment.
    pub(crate) fn request(
        &self,
        payload: &[u8],
        request_id: &str,
    ) -> Result<(Request, Vec<(String, String)>), Error> {
        let mut params = Vec::new();
        let path = match &self.select {
            None => "/".to_owned(),
            Some(field) => {
                let value: Option<String> = serde_json::from_slice::<serde_json::Value>(payload)
                    .ok()
                    .and_then(|v| v.get(field)?.as_str().map(str::to_owned));
                let Some(value) = value else {
                    return Err(Error::BadRequest {
                        message: format!(
                            "a direct invocation needs a string field {field:?} naming what to do"
                        ),
                    });
                };
                if value.is_empty()
                    || !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
                {
                    return Err(Error::BadRequest {
                        message: format!(
                            "{field:?} must be letters, digits, '-', '_', '.' or '~', got {value:?}"
                        ),
                    });
                }
                params.push((field.clone(), value.clone()));
                format!("/{value}")
            }
        };
        let mut request = Request::new(
            Method::POST,
            &path,
            Context::new(Source::Direct, request_id),
        );
        request
            .headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        request.body = Bytes::copy_from_slice(payload);
        Ok((request, params))
    }
}

/// What a direct invocation answers: the body of a success as JSON, or the function
/// error an error response stands for.
///
/// # Errors
///
/// The function error, for a response of 400 or more.
pub(crate) fn result(mut response: Response, request_id: &str) -> Result<Vec<u8>, FunctionError> {
    let marked = response
        .headers
        .remove(ERROR_TYPE)
        .and_then(|v| v.to_str().ok().map(str::to_owned));
    let status = response.status.as_u16();
    if status < 400 {
        return Ok(success_json(&response.body));
    }
    // The host renders direct errors in Lamina's format: `{"error": {code, message, ...}}`.
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let error = &body["error"];
    let code = error["code"].as_str().unwrap_or("error");
    let message = error["message"].as_str().unwrap_or("");
    let details = error.get("details").filter(|d| !d.is_null());
    let error_type = marked.unwrap_or_else(|| code.to_owned());
    Err(FunctionError::new(
        &error_type,
        status,
        code,
        message,
        details,
        request_id,
    ))
}

/// `body` as a JSON value: itself when it is JSON, `null` when empty, else a JSON string
/// of its text (invalid UTF-8 replaced).
fn success_json(body: &[u8]) -> Vec<u8> {
    if body.is_empty() {
        return b"null".to_vec();
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        return body.to_vec();
    }
    serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        .to_string()
        .into_bytes()
}

/// The function error type of `error`: the host's `Lamina.*` type, or a component's code.
pub(crate) fn error_type(error: &Error) -> String {
    host_error_type(error).map_or_else(|| error.code().to_owned(), str::to_owned)
}

/// Marks an error response rendered for a direct invocation with its function error type.
pub(crate) fn mark(response: &mut Response, error_type: &str) {
    if let Ok(value) = HeaderValue::from_str(error_type) {
        response.headers.insert(ERROR_TYPE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_have_the_documented_shape() {
        let error = FunctionError::new(
            "not-found",
            404,
            "not-found",
            "no order \"7\"",
            Some(&serde_json::json!({"id": 7})),
            "req-1",
        );
        assert_eq!(
            error.error_message,
            r#"{"status":404,"code":"not-found","message":"no order \"7\"","details":{"id":7},"request-id":"req-1"}"#
        );
        let bare = FunctionError::new("Lamina.Timeout", 504, "timeout", "late", None, "r");
        assert_eq!(
            bare.error_message,
            r#"{"status":504,"code":"timeout","message":"late","request-id":"r"}"#
        );
    }

    #[test]
    fn success_bodies_become_json() {
        assert_eq!(success_json(b""), b"null");
        assert_eq!(success_json(br#"{"a":1}"#), br#"{"a":1}"#);
        assert_eq!(success_json(b"plain text"), br#""plain text""#);
    }
}
