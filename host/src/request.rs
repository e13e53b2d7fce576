//! The normalized request every event source decodes into.

use bytes::Bytes;
use http::Method;

/// An ordered multi-map: order as delivered, repeated names kept.
pub type Fields = Vec<(String, String)>;

/// Which front door delivered a request. Mirrors the WIT `source` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// API Gateway REST API (v1 proxy integration).
    ApigwRest,
    /// API Gateway HTTP API, payload format 1.0.
    ApigwHttpV1,
    /// API Gateway HTTP API, payload format 2.0.
    ApigwHttpV2,
    /// A Lambda function URL.
    FunctionUrl,
    /// An Application Load Balancer.
    Alb,
    /// VPC Lattice, event version 1.
    VpcLatticeV1,
    /// VPC Lattice, event version 2.
    VpcLatticeV2,
    /// `lamina serve` or a test.
    Local,
    /// A payload that is not an HTTP event, given to the `[direct]` component.
    Direct,
}

impl Source {
    /// The name used in logs and by the WIT enum (`apigw-rest`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApigwRest => "apigw-rest",
            Self::ApigwHttpV1 => "apigw-http-v1",
            Self::ApigwHttpV2 => "apigw-http-v2",
            Self::FunctionUrl => "function-url",
            Self::Alb => "alb",
            Self::VpcLatticeV1 => "vpc-lattice-v1",
            Self::VpcLatticeV2 => "vpc-lattice-v2",
            Self::Local => "local",
            Self::Direct => "direct",
        }
    }
}

/// Facts about the invocation that are not part of the HTTP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The event source.
    pub source: Source,
    /// The Lambda request id (or one the host generated for a local request).
    pub request_id: String,
    /// The API Gateway stage, if any.
    pub stage: Option<String>,
    /// The client IP as the source reports it.
    pub source_ip: Option<String>,
    /// The client user agent as the source reports it.
    pub user_agent: Option<String>,
    /// The authorizer output as JSON text, exactly as delivered.
    pub authorizer: Option<String>,
    /// When the source received the request (ms since the Unix epoch).
    pub time_epoch_ms: u64,
    /// Values middleware attached for later stages (the verified subject, say); empty from
    /// every event source.
    pub attributes: Fields,
    /// When the Lambda invocation times out, if known: component timeouts are shortened to
    /// fit. Host-only; guests do not see it.
    pub deadline: Option<std::time::SystemTime>,
    /// The invocation's X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`), when it has
    /// one. Host-only.
    pub trace_header: Option<String>,
}

impl Context {
    /// A context with only a source and request id; the time is now.
    #[must_use]
    pub fn new(source: Source, request_id: impl Into<String>) -> Self {
        Self {
            source,
            request_id: request_id.into(),
            stage: None,
            source_ip: None,
            user_agent: None,
            authorizer: None,
            time_epoch_ms: now_epoch_ms(),
            attributes: Vec::new(),
            deadline: None,
            trace_header: None,
        }
    }
}

/// What a front door knows about one invocation besides its payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The Lambda request id (or one the front door made up).
    pub request_id: String,
    /// When the invocation times out, if known.
    pub deadline: Option<std::time::SystemTime>,
    /// The X-Ray trace header (`Lambda-Runtime-Trace-Id`, or an `X-Amzn-Trace-Id` a local
    /// client sent), if any.
    pub trace_header: Option<String>,
}

impl Invocation {
    /// An invocation with only a request id.
    #[must_use]
    pub fn new(request_id: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            ..Self::default()
        }
    }

    /// The trace id of its trace header (`1-5759e988-bd862e3fe1be46a994272793`), as
    /// Powertools logs it (`xray_trace_id`).
    #[must_use]
    pub fn trace_root(&self) -> Option<&str> {
        trace_root(self.trace_header.as_deref()?)
    }
}

/// The `Root=` of an X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`).
#[must_use]
pub fn trace_root(header: &str) -> Option<&str> {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .filter(|root| !root.is_empty())
}

/// Milliseconds since the Unix epoch, per the host clock.
#[must_use]
pub fn now_epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// An HTTP request, normalized from whichever source delivered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The percent-decoded path (stage removed): what handlers see.
    pub path: String,
    /// The path routing matches: percent-decoded except for encoded slashes and percent
    /// signs (`%2F`, `%25`), so `/files/reports%2F2024.csv` is one segment and matches
    /// `/files/{name}`; parameters are decoded after matching. Sources that deliver the path
    /// already decoded (HTTP APIs) cannot carry an encoded slash.
    pub route_path: String,
    /// The path as sent.
    pub raw_path: String,
    /// Query parameters, decoded once, in order.
    pub query: Fields,
    /// The query string as sent, without `?`.
    pub raw_query: String,
    /// Headers with lowercase names, in order.
    pub headers: Fields,
    /// Cookies from the `Cookie` header(s) or the source's cookie list.
    pub cookies: Fields,
    /// The decoded body.
    pub body: Bytes,
    /// Invocation facts.
    pub context: Context,
}

impl Request {
    /// A request with empty query, headers and body, for tests and the local server.
    #[must_use]
    pub fn new(method: Method, path: &str, context: Context) -> Self {
        Self {
            method,
            path: path.to_owned(),
            route_path: crate::event::route_form(path),
            raw_path: path.to_owned(),
            query: Vec::new(),
            raw_query: String::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: Bytes::new(),
            context,
        }
    }

    /// The first value of header `name` (give it in lowercase).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A list-valued header (`Accept-Encoding`, `Cache-Control`, ...) as one list: every
    /// field line of `name` joined with `, `, as RFC 9110 §5.3 defines repeated lines to
    /// mean. Borrowed when there is one line.
    #[must_use]
    pub fn header_list(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        let mut lines = self
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = lines.next()?;
        let Some(second) = lines.next() else {
            return Some(std::borrow::Cow::Borrowed(first));
        };
        let mut joined = format!("{first}, {second}");
        for line in lines {
            joined.push_str(", ");
            joined.push_str(line);
        }
        Some(std::borrow::Cow::Owned(joined))
    }
}

/// A header value as text. Values from events and guests are UTF-8; anything else (obs-text
/// from a raw HTTP client, RFC 9110 §5.5) is read as Latin-1, the charset those bytes were
/// historically in — the one rule for every place a header value becomes a string.
pub(crate) fn header_text(value: &http::HeaderValue) -> String {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(s) => s.to_owned(),
        Err(_) => value.as_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// Checks one request header field as RFC 9110 defines it: the name a non-empty token
/// (§5.1), the value free of CR, LF, NUL and other control characters except tab (§5.5;
/// obs-text, i.e. UTF-8 here, is allowed). Events are checked at decode and the requests a
/// middleware passes on after it, so a handler never sees a header that could not have
/// crossed HTTP (`x-evil\r\nset-cookie`, say).
///
/// # Errors
///
/// A message naming the header (escaped) and what is wrong with it.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!("header name {name:?} is not a valid HTTP token"));
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(format!(
            "header {name:?} has a value with control characters (CR, LF, NUL, ...)"
        ));
    }
    Ok(())
}

/// `path` without `prefix` when the prefix covers whole segments (`/api` strips `/api` and
/// `/api/x`, not `/apix`); an exact match leaves `/`.
pub(crate) fn strip_segment_prefix<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    match path.strip_prefix(prefix)? {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

/// Parses `Cookie` header values (`a=1; b=2`) into pairs, in order.
///
/// A part without `=` becomes a name with an empty value, as Go's `net/http` reads it.
pub(crate) fn parse_cookies<'a>(values: impl IntoIterator<Item = &'a str>) -> Fields {
    let mut out = Vec::new();
    for value in values {
        for part in value.split(';') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            out.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    out
}

/// The cookies in every `cookie` header of `headers` (lowercase names).
pub(crate) fn cookies_from_headers(headers: &Fields) -> Fields {
    parse_cookies(
        headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .map(|(_, v)| v.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_checked_as_rfc_9110_defines_them() {
        let cases = [
            ("x-ok", "plain value", true),
            ("x-tab", "a\tb", true),
            ("x-utf8", "café", true),
            ("x-evil\r\nset-cookie", "v", false),
            ("bad name", "v", false),
            ("", "v", false),
            ("x-nul\0", "v", false),
            ("x-crlf", "a\r\nset-cookie: evil=1", false),
            ("x-lf", "a\nb", false),
            ("x-nul", "a\0b", false),
            ("x-del", "a\u{7f}", false),
        ];
        for (name, value, valid) in cases {
            assert_eq!(
                check_header(name, value).is_ok(),
                valid,
                "{name:?}: {value:?}"
            );
        }
    }

    #[test]
    fn cookies_parse_in_order_across_headers() {
        let out = parse_cookies(["a=1; b=2", "c=x=y;;flag"]);
        let expected: Fields = [("a", "1"), ("b", "2"), ("c", "x=y"), ("flag", "")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(out, expected);
    }
}
