//! Calls to AWS services, signed by the host: the component never holds a credential.
//!
//! The host config grants the services (`aws = { services = ["dynamodb"] }`); the host
//! picks the region and endpoint, adds SigV4 with the function's own credentials, and
//! sends the call. [`call`] speaks the JSON protocol most services use (DynamoDB, SQS,
//! Step Functions, ...).
//!
//! ```no_run
//! use serde_json::json;
//!
//! # fn demo() -> Result<(), lamina_sdk::aws::AwsError> {
//! let item = lamina_sdk::aws::call(
//!     "dynamodb",
//!     "DynamoDB_20120810.GetItem",
//!     &json!({ "TableName": "todos", "Key": { "id": { "S": "42" } } }),
//! )?;
//! # Ok(())
//! # }
//! ```

use crate::http::{self, HttpError};
use std::fmt;

/// Why an AWS call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AwsError {
    /// The service answered with an error: its status, its error type without the
    /// namespace (`ResourceNotFoundException`), and its message.
    Service {
        /// The HTTP status.
        status: u16,
        /// The error type (`__type` after the `#`).
        code: String,
        /// The service's message.
        message: String,
    },
    /// The call did not get an answer (not granted, timed out, no connection...).
    Http(HttpError),
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service {
                status,
                code,
                message,
            } => write!(f, "{code} ({status}): {message}"),
            Self::Http(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for AwsError {}

impl From<HttpError> for AwsError {
    fn from(error: HttpError) -> Self {
        Self::Http(error)
    }
}

/// Calls `target` (`DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessage`, ...) on `service`
/// with the JSON `input`, and returns the JSON output (`null` for an empty answer).
///
/// # Errors
///
/// [`AwsError::Service`] for an error the service returned, [`AwsError::Http`] when the call
/// was not made or not answered (the service is not granted to this component, say).
pub fn call(
    service: &str,
    target: &str,
    input: &serde_json::Value,
) -> Result<serde_json::Value, AwsError> {
    // Region-less: the host sends it to the region and endpoint its config says.
    let url = format!("https://{service}.amazonaws.com/");
    let request = http::Request::post(&url)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", target)
        .body(serde_json::to_vec(input).unwrap_or_default());
    let response = http::send(request)?;
    let body: serde_json::Value = if response.body().is_empty() {
        serde_json::Value::Null
    } else {
        response.json()?
    };
    if (200..300).contains(&response.status()) {
        return Ok(body);
    }
    let text = |key: &str| body.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let code = text("__type").map_or_else(
        || format!("HTTP{}", response.status()),
        |t| t.rsplit('#').next().unwrap_or_default().to_owned(),
    );
    Err(AwsError::Service {
        status: response.status(),
        code,
        message: text("message")
            .or_else(|| text("Message"))
            .unwrap_or_default(),
    })
}
