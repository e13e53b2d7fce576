use crate::__private::bindings::lamina::http::types as wit;
use std::fmt;

/// A handler result: a value or an [`Error`] the host renders as an HTTP error response.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// An HTTP error returned by a handler.
///
/// The host renders it in its configured error format with the request id, for example
/// `{"error": {"code": "not-found", "message": "no todo 7", "request-id": "..."}}`.
///
/// Any [`std::error::Error`] converts into an `Error` with status 500 and the generic
/// message `internal error`; its text goes to the host's log, never to the client. Use the
/// constructors for errors the client should see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: u16,
    code: String,
    message: String,
    details: Option<String>,
}

impl Error {
    /// An error with any status (400 to 599), a machine-readable `code` and a message.
    #[must_use]
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
        }
    }

    /// 400 Bad Request with code `bad-request`.
    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad-request", message)
    }

    /// 401 Unauthorized with code `unauthorized`.
    #[must_use]
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }

    /// 403 Forbidden with code `forbidden`.
    #[must_use]
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message)
    }

    /// 404 Not Found with code `not-found`.
    #[must_use]
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not-found", message)
    }

    /// 409 Conflict with code `conflict`.
    #[must_use]
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }

    /// 422 Unprocessable Content with code `unprocessable`.
    #[must_use]
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "unprocessable", message)
    }

    /// 500 Internal Server Error with code `internal`.
    #[must_use]
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    /// Attaches structured details (for example the invalid fields) sent to the client.
    #[must_use]
    pub fn with_details(mut self, details: &serde_json::Value) -> Self {
        self.details = Some(details.to_string());
        self
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The machine-readable code.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message sent to the client.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn into_wit(self) -> wit::Error {
        wit::Error {
            status: self.status,
            code: self.code,
            message: self.message,
            details: self.details,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

/// `?` on any error type: the client gets a 500 `internal error`, the log gets the cause.
impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        crate::log::log(
            crate::log::Level::Error,
            "handler failed",
            &[("cause", &error.to_string())],
        );
        Self::internal("internal error")
    }
}
