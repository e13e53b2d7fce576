//! Everything that can go wrong on the request path, and how each becomes a response.

use crate::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use std::sync::Arc;

/// A request-path failure. Each variant maps to one status; the response body never
/// carries `source` or other internals (they go to the log with the request id).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No route matches the path.
    #[error("no route for {path}")]
    NotFound {
        /// The routed path.
        path: String,
    },
    /// The path exists, the method does not.
    #[error("method {method} not allowed")]
    MethodNotAllowed {
        /// The request method.
        method: Method,
        /// Methods the path answers.
        allow: Vec<Method>,
    },
    /// The request is malformed (bad base64 body, invalid path encoding, ...).
    #[error("bad request: {message}")]
    BadRequest {
        /// What is wrong; safe to show the client.
        message: String,
    },
    /// The guest trapped, panicked, or could not be instantiated.
    #[error("component {component} failed: {source:#}")]
    Guest {
        /// The component's name.
        component: Arc<str>,
        /// The trap or instantiation error.
        source: wasmtime::Error,
    },
    /// The guest did not answer within its timeout (or the Lambda invocation's deadline).
    #[error("component {component} did not answer within {after:?}")]
    Timeout {
        /// The component's name.
        component: Arc<str>,
        /// The time it was given.
        after: std::time::Duration,
    },
    /// The guest needed more memory than its limit and trapped.
    #[error(
        "component {component} ran out of memory: asked for {asked} bytes, limit {limit}: {source:#}"
    )]
    OutOfMemory {
        /// The component's name.
        component: Arc<str>,
        /// The configured limit in bytes.
        limit: usize,
        /// The memory size it asked for.
        asked: usize,
        /// The trap that followed.
        source: wasmtime::Error,
    },
    /// The guest returned a response that is not valid HTTP.
    #[error("component {component} returned an invalid response: {problem}")]
    InvalidResponse {
        /// The component's name.
        component: Arc<str>,
        /// What is invalid.
        problem: String,
    },
    /// The guest returned its own typed error.
    #[error("{status} {code}: {message}")]
    GuestError {
        /// The status the guest chose (4xx/5xx).
        status: StatusCode,
        /// The guest's machine-readable code.
        code: String,
        /// The guest's message, sent as written.
        message: String,
        /// Optional structured details, sent as written.
        details: Option<serde_json::Value>,
    },
}

impl Error {
    /// The HTTP status this error answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Guest { .. } | Self::InvalidResponse { .. } | Self::OutOfMemory { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::GuestError { status, .. } => *status,
        }
    }

    /// The machine-readable code in the error body.
    fn code(&self) -> &str {
        match self {
            Self::NotFound { .. } => "not-found",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::BadRequest { .. } => "bad-request",
            Self::Guest { .. } | Self::InvalidResponse { .. } | Self::OutOfMemory { .. } => {
                "internal"
            }
            Self::Timeout { .. } => "timeout",
            Self::GuestError { code, .. } => code,
        }
    }

    /// The message the client sees: no internals.
    fn public_message(&self) -> String {
        match self {
            Self::NotFound { path } => format!("no route for {path}"),
            Self::MethodNotAllowed { method, .. } => format!("method {method} is not allowed here"),
            Self::BadRequest { message } | Self::GuestError { message, .. } => message.clone(),
            Self::Guest { .. } | Self::InvalidResponse { .. } | Self::OutOfMemory { .. } => {
                "internal error".to_owned()
            }
            Self::Timeout { .. } => "the handler did not answer in time".to_owned(),
        }
    }

    /// Logs the error (with internals) and renders it as a JSON response:
    /// `{"error": {"code", "message", "request-id", "details"?}}`.
    #[must_use]
    pub fn into_response(self, request_id: &str) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(request_id, status = status.as_u16(), error = %self, "request failed");
        } else {
            tracing::info!(request_id, status = status.as_u16(), error = %self, "request rejected");
        }
        let mut body = serde_json::json!({
            "error": {
                "code": self.code(),
                "message": self.public_message(),
                "request-id": request_id,
            }
        });
        if let Self::GuestError {
            details: Some(details),
            ..
        } = &self
        {
            body["error"]["details"] = details.clone();
        }
        let mut response = Response::json(status, &body);
        if let Self::MethodNotAllowed { allow, .. } = &self {
            let allow: Vec<&str> = allow.iter().map(Method::as_str).collect();
            if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                response.headers.insert(header::ALLOW, value);
            }
        }
        response
    }
}
