//! Everything that can go wrong on the request path, and how each becomes a response.

pub use crate::error_format::ErrorFormat;
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
    /// The request body is larger than `max-request-body`.
    #[error("request body {}exceeds the limit of {limit} bytes", size.map(|s| format!("of {s} bytes ")).unwrap_or_default())]
    PayloadTooLarge {
        /// The body size, when known before reading it all (a chunked upload is stopped
        /// at the limit).
        size: Option<usize>,
        /// The configured limit.
        limit: usize,
    },
    /// The request failed the route's validation (415, 400 or 422).
    #[error("{status} {code}: {message}")]
    Invalid {
        /// The status the problem calls for.
        status: StatusCode,
        /// A machine-readable code (`invalid-json`, `schema-violation`, ...).
        code: &'static str,
        /// What is wrong; safe to show the client.
        message: String,
        /// Each violation, with its instance path, for schema failures.
        details: Option<serde_json::Value>,
    },
    /// The encoded response is larger than the event source accepts, even compressed.
    #[error("encoded response of {size} bytes exceeds the source's limit of {limit}")]
    ResponseTooLarge {
        /// The encoded size.
        size: usize,
        /// The source's limit.
        limit: usize,
    },
    /// The request is malformed (bad base64 body, invalid path encoding, ...).
    #[error("bad request: {message}")]
    BadRequest {
        /// What is wrong; safe to show the client.
        message: String,
    },
    /// The request's headers are more, or larger, than the event source itself accepts.
    #[error("request headers too large: {message}")]
    HeadersTooLarge {
        /// Which limit, and by how much; safe to show the client.
        message: String,
    },
    /// The client did not send the whole request in time (`lamina serve`).
    #[error("request timeout: {message}")]
    RequestTimeout {
        /// What was not received in time.
        message: String,
    },
    /// Every instance slot of the engine's pool is in use: the host's capacity, not the
    /// component, is the limit.
    #[error("over capacity: all {instances} instance slots of the pool are in use")]
    PoolExhausted {
        /// The pool's size (`lamina serve --instances`).
        instances: usize,
    },
    /// Every request slot is busy and the queue for them is full (`lamina serve`): the
    /// host's capacity, not a component, is the limit.
    #[error(
        "over capacity: {in_flight} requests in flight (limit {limit}) and {queued} queued (limit {queue})"
    )]
    Overloaded {
        /// Requests being served.
        in_flight: usize,
        /// The concurrency limit.
        limit: usize,
        /// Requests waiting for a slot.
        queued: usize,
        /// The queue's limit.
        queue: usize,
    },
    /// The guest trapped, panicked, or could not be instantiated.
    #[error("component {component} failed: {source:#}")]
    Fault {
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
    /// A middleware passed on a request that is not valid HTTP.
    #[error("middleware {component} passed on an invalid request: {problem}")]
    InvalidRequest {
        /// The middleware's name.
        component: Arc<str>,
        /// What is invalid.
        problem: String,
    },
    /// The guest returned its own typed error.
    #[error("{status} {code}: {message}")]
    Typed {
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
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Overloaded { .. } | Self::PoolExhausted { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ResponseTooLarge { .. } => StatusCode::BAD_GATEWAY,
            Self::Fault { .. }
            | Self::InvalidResponse { .. }
            | Self::InvalidRequest { .. }
            | Self::OutOfMemory { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Typed { status, .. } | Self::Invalid { status, .. } => *status,
        }
    }

    /// The machine-readable code in the error body.
    pub(crate) fn code(&self) -> &str {
        match self {
            Self::NotFound { .. } => "not-found",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::BadRequest { .. } => "bad-request",
            Self::HeadersTooLarge { .. } => "headers-too-large",
            Self::RequestTimeout { .. } => "request-timeout",
            Self::Overloaded { .. } | Self::PoolExhausted { .. } => "overloaded",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::ResponseTooLarge { .. } => "response-too-large",
            Self::Fault { .. }
            | Self::InvalidResponse { .. }
            | Self::InvalidRequest { .. }
            | Self::OutOfMemory { .. } => "internal",
            Self::Timeout { .. } => "timeout",
            Self::Typed { code, .. } => code,
            Self::Invalid { code, .. } => code,
        }
    }

    /// The message the client sees: no internals.
    pub(crate) fn public_message(&self) -> String {
        match self {
            Self::NotFound { path } => format!("no route for {path}"),
            Self::MethodNotAllowed { method, .. } => format!("method {method} is not allowed here"),
            Self::BadRequest { message }
            | Self::HeadersTooLarge { message }
            | Self::RequestTimeout { message }
            | Self::Typed { message, .. }
            | Self::Invalid { message, .. } => message.clone(),
            Self::PayloadTooLarge {
                size: Some(size),
                limit,
            } => format!("the request body is {size} bytes; the limit is {limit}"),
            Self::PayloadTooLarge { size: None, limit } => {
                format!("the request body is larger than the limit of {limit} bytes")
            }
            Self::ResponseTooLarge { size, limit } => format!(
                "the response is {size} bytes once encoded for this source, which accepts at most {limit}"
            ),
            Self::Fault { .. }
            | Self::InvalidResponse { .. }
            | Self::InvalidRequest { .. }
            | Self::OutOfMemory { .. } => "internal error".to_owned(),
            Self::Timeout { .. } => "the handler did not answer in time".to_owned(),
            Self::Overloaded { .. } | Self::PoolExhausted { .. } => {
                "the server is at capacity; retry after the time in Retry-After".to_owned()
            }
        }
    }

    /// Structured details sent with the error (schema violations, a guest's details).
    pub(crate) fn details(&self) -> Option<&serde_json::Value> {
        match self {
            Self::Typed { details, .. } | Self::Invalid { details, .. } => details.as_ref(),
            _ => None,
        }
    }

    /// Logs the error (with internals) and renders it in `format`, with the request id and
    /// without internals.
    #[must_use]
    pub fn into_response(self, request_id: &str, format: ErrorFormat) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(requestId = request_id, status = status.as_u16(), error = %self, "request failed");
        } else {
            tracing::info!(requestId = request_id, status = status.as_u16(), error = %self, "request rejected");
        }
        let mut response = format.render_error(&self, request_id);
        if let Self::MethodNotAllowed { allow, .. } = &self {
            let allow: Vec<&str> = allow.iter().map(Method::as_str).collect();
            if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                response.headers.insert(header::ALLOW, value);
            }
        }
        if let Self::Overloaded { .. } | Self::PoolExhausted { .. } = &self {
            response
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
