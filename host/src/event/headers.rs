//! What an event's request headers may be: valid HTTP (RFC 9110), and no more than the
//! event source itself lets through.
//!
//! A real source never delivers more than its own limits, so an event over them was made
//! by hand (a direct invocation, a test, an attacker with `lambda:InvokeFunction`), and
//! the host answers `431` in the source's shape before spending anything on it. The
//! limits are those AWS documents for each front door, with room for the headers the
//! source adds itself (API Gateway's `X-Forwarded-*`, `X-Amzn-Trace-Id`, CloudFront's
//! `CloudFront-*` on edge-optimized APIs): generous enough that no request the source
//! accepted is refused.

use super::EventFormat;
use crate::error::Error;
use crate::request::{Fields, check_header};

/// How many request header field lines, and how many bytes of them, a source delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderLimits {
    /// Bytes of all field lines together, each counted as `name: value\r\n`.
    pub total_bytes: usize,
    /// Bytes of one field line.
    pub line_bytes: usize,
    /// Field lines (a repeated name counts once per value).
    pub lines: usize,
}

impl HeaderLimits {
    /// The limits for requests from `format`.
    ///
    /// - API Gateway REST and HTTP APIs accept 10,240 bytes of request line and headers
    ///   from the client; the bound here is 16 KiB, leaving room for what the gateway adds.
    /// - ALB accepts 64 KiB of headers and 16 KiB per header line.
    /// - Function URLs and VPC Lattice: bounded like ALB, the largest AWS front door.
    ///
    /// Every source: at most 1,000 field lines (a 10 KiB header block holds far fewer real
    /// ones; the bound keeps per-request work proportional to what a real request costs).
    #[must_use]
    pub fn for_origin(format: EventFormat) -> Self {
        match format {
            EventFormat::ApigwRest | EventFormat::ApigwHttpV1 | EventFormat::ApigwHttpV2 => Self {
                total_bytes: 16 << 10,
                line_bytes: 16 << 10,
                lines: MAX_LINES,
            },
            EventFormat::FunctionUrl
            | EventFormat::Alb { .. }
            | EventFormat::VpcLatticeV1
            | EventFormat::VpcLatticeV2 => Self::LOCAL,
        }
    }

    /// The limits `lamina serve` applies, the same as the largest Lambda source's.
    pub const LOCAL: Self = Self {
        total_bytes: 64 << 10,
        line_bytes: 16 << 10,
        lines: MAX_LINES,
    };
}

const MAX_LINES: usize = 1000;

/// Checks `headers` (lowercase names) against `limits` and RFC 9110.
///
/// # Errors
///
/// [`Error::HeadersTooLarge`] (431) naming the limit exceeded, or [`Error::BadRequest`]
/// (400) naming the first header that is not valid HTTP.
pub(crate) fn check_fields(headers: &Fields, limits: HeaderLimits) -> Result<(), Error> {
    if headers.len() > limits.lines {
        return Err(Error::HeadersTooLarge {
            message: format!(
                "the request has {} header lines; at most {} are accepted",
                headers.len(),
                limits.lines
            ),
        });
    }
    let mut total = 0usize;
    for (name, value) in headers {
        let line = name.len() + value.len() + 4;
        if line > limits.line_bytes {
            return Err(Error::HeadersTooLarge {
                message: format!(
                    "header {name:?} is {line} bytes; at most {} are accepted per header",
                    limits.line_bytes
                ),
            });
        }
        total += line;
        check_header(name, value).map_err(|message| Error::BadRequest { message })?;
    }
    if total > limits.total_bytes {
        return Err(Error::HeadersTooLarge {
            message: format!(
                "the request headers are {total} bytes; at most {} are accepted",
                limits.total_bytes
            ),
        });
    }
    Ok(())
}

/// [`check_fields`] with the limits of `format`.
pub(super) fn check(format: EventFormat, headers: &Fields) -> Result<(), Error> {
    check_fields(headers, HeaderLimits::for_origin(format))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn headers_over_the_source_limits_are_431_and_invalid_ones_400() {
        let rest = EventFormat::ApigwRest;
        let big = "x".repeat(17 << 10);
        let many: Fields = (0..1001)
            .map(|i| (format!("x-{i}"), "v".to_owned()))
            .collect();
        let spread: Fields = (0..20)
            .map(|i| (format!("x-{i}"), "v".repeat(900)))
            .collect();
        let cases: Vec<(Fields, EventFormat, Option<u16>, &str)> = vec![
            (fields(&[("accept", "*/*")]), rest, None, ""),
            (fields(&[("x-big", &big)]), rest, Some(431), "per header"),
            (
                fields(&[("x-big", &big)]),
                EventFormat::Alb { multi_value: true },
                Some(431),
                "per header",
            ),
            (many, rest, Some(431), "1001 header lines"),
            (spread.clone(), rest, Some(431), "headers are"),
            (spread, EventFormat::Alb { multi_value: false }, None, ""),
            (
                fields(&[("x-evil\r\nset-cookie", "v")]),
                rest,
                Some(400),
                "not a valid HTTP token",
            ),
            (
                fields(&[("x-ok", "a\r\nb")]),
                rest,
                Some(400),
                "control characters",
            ),
        ];
        for (headers, format, status, message) in cases {
            let result = check(format, &headers);
            assert_eq!(
                result.as_ref().err().map(|e| e.status().as_u16()),
                status,
                "{format} {message}"
            );
            if let Err(e) = result {
                assert!(e.to_string().contains(message), "{e}");
            }
        }
    }
}
