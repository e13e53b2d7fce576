//! Per-component sandbox limits, as configured and as enforced. (What a component may
//! reach — environment, files, config values — is its capabilities' business:
//! [`crate::component::caps`].)
//!
//! ```toml
//! [components.orders]
//! memory = "64MiB"          # linear memory, all of the component's memories together
//! timeout = "3s"            # wall clock per call (also bounded by Lambda's deadline) → 504
//! max-response = "1MiB"     # response bytes (status line, headers, body) → 500 when exceeded
//! ```

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Linear memory a component may use unless its config says otherwise.
pub const DEFAULT_MEMORY: usize = 128 << 20;
/// Wall-clock time a request may take in a component unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Response body size a component may return unless configured: Lambda's limit for a
/// synchronous response payload.
pub const DEFAULT_MAX_RESPONSE: usize = 6 << 20;

/// Request bodies larger than this get a 413 unless `max-request-body` says otherwise:
/// Lambda's limit for a synchronous request payload.
pub const DEFAULT_MAX_REQUEST_BODY: usize = 6 << 20;

/// What one component may consume per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of linear memory.
    pub memory: usize,
    /// Wall-clock time per request.
    pub timeout: Duration,
    /// Bytes of response: status line, headers and body, as HTTP/1.1 would carry them.
    pub max_response: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: DEFAULT_MEMORY,
            timeout: DEFAULT_TIMEOUT,
            max_response: DEFAULT_MAX_RESPONSE,
        }
    }
}

/// A byte size written as `"64MiB"`, `"512KiB"`, `"1GiB"`, `"1000B"`, or a bare integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub usize);

/// A duration written as `"3s"`, `"250ms"`, `"2m"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout(pub Duration);

fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().map_err(|_| {
        format!("invalid size {text:?}: expected a number and a unit such as \"64MiB\"")
    })?;
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size {text:?}: unknown unit {other:?} (use B, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("invalid size {text:?}: too large"))
}

/// Parses a duration written as `"3s"`, `"250ms"`, `"2m"`.
///
/// # Errors
///
/// A message naming the text when it has no number, an unknown unit, or is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        format!("invalid duration {text:?}: expected a number and a unit such as \"3s\"")
    })?;
    let duration = match unit.trim() {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        other => {
            return Err(format!(
                "invalid duration {text:?}: unknown unit {other:?} (use ms, s or m)"
            ));
        }
    };
    if duration.is_zero() {
        return Err(format!("invalid duration {text:?}: must be more than zero"));
    }
    Ok(duration)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrNumber {
    Text(String),
    Number(u64),
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match TextOrNumber::deserialize(d)? {
            TextOrNumber::Text(text) => parse_size(&text).map(ByteSize),
            TextOrNumber::Number(n) => usize::try_from(n)
                .map(ByteSize)
                .map_err(|_| format!("invalid size {n}: too large")),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(Timeout)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_with_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(
            parse_size("64XB")
                .unwrap_err()
                .contains("unknown unit \"XB\"")
        );
        assert!(parse_size("MiB").unwrap_err().contains("expected a number"));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(
            parse_duration("3h")
                .unwrap_err()
                .contains("unknown unit \"h\"")
        );
    }
}
