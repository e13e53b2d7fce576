//! Outbound HTTP from a component, over the standard `wasi:http/outgoing-handler`.
//!
//! The host only lets a request through to the hosts the config lists for this component
//! (`allowed-outbound-hosts`), within its limits (calls per request, timeouts inside the
//! request's deadline, response size). Anything else comes back as an [`HttpError`], never
//! a trap.
//!
//! ```no_run
//! use lamina_sdk::http;
//!
//! # fn demo() -> Result<(), http::HttpError> {
//! let quote: serde_json::Value = http::get("https://api.example.com/quote")?.json()?;
//! let created = http::send(
//!     http::Request::post("https://api.example.com/orders").json(&quote),
//! )?;
//! assert_eq!(created.status(), 201);
//! # Ok(())
//! # }
//! ```

use crate::__private::bindings::wasi::http::outgoing_handler;
use crate::__private::bindings::wasi::http::types::{
    self as wasi, ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::__private::bindings::wasi::io::streams::StreamError;
use std::fmt;
use std::time::Duration;

/// An outbound request: method, URL, headers, body.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
}

impl Request {
    /// A request with `method` (`GET`, `PATCH`, ...) to `url` (`https://host/path?query`).
    #[must_use]
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// `GET url`.
    #[must_use]
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// `POST url`.
    #[must_use]
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// `PUT url`.
    #[must_use]
    pub fn put(url: &str) -> Self {
        Self::new("PUT", url)
    }

    /// `DELETE url`.
    #[must_use]
    pub fn delete(url: &str) -> Self {
        Self::new("DELETE", url)
    }

    /// Adds a header (repeat a name to send it several times).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    #[must_use]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.header("content-type", "application/json").body(body)
    }

    /// Asks for at most this long to connect and to receive the response's headers (the
    /// host still cuts it to what is left of the request's deadline).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// An outbound response, its body read whole.
#[derive(Clone, Debug)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// The status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in order.
    #[must_use]
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body bytes.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text.
    ///
    /// # Errors
    ///
    /// [`HttpError::Body`] when it is not UTF-8.
    pub fn text(&self) -> Result<&str, HttpError> {
        std::str::from_utf8(&self.body).map_err(|e| HttpError::Body(e.to_string()))
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    ///
    /// [`HttpError::Body`] when it is not JSON of that shape.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Body(e.to_string()))
    }
}

/// Why an outbound request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The URL is not `http(s)://host[:port][/path][?query]`.
    InvalidUrl(String),
    /// The host config does not allow this component to reach that origin.
    Denied,
    /// The component has made as many outbound calls as it may for this request.
    Limit,
    /// No connection or no response in time.
    Timeout,
    /// The connection could not be made (refused, DNS, TLS).
    Connection(String),
    /// The response body is larger than the host lets a component read.
    TooLarge,
    /// The body could not be read as asked (not UTF-8, not that JSON).
    Body(String),
    /// Anything else the HTTP layer reported.
    Protocol(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(url) => write!(f, "invalid URL {url:?}"),
            Self::Denied => {
                f.write_str("the host does not allow this origin (allowed-outbound-hosts)")
            }
            Self::Limit => f.write_str("the limit of outbound calls for this request is reached"),
            Self::Timeout => f.write_str("the request timed out"),
            Self::Connection(why) => write!(f, "could not connect: {why}"),
            Self::TooLarge => f.write_str("the response body is larger than allowed"),
            Self::Body(why) => write!(f, "the response body cannot be read as asked: {why}"),
            Self::Protocol(why) => write!(f, "HTTP error: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<ErrorCode> for HttpError {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::HttpRequestDenied => Self::Denied,
            ErrorCode::ConnectionLimitReached => Self::Limit,
            ErrorCode::ConnectionTimeout
            | ErrorCode::HttpResponseTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::DnsTimeout => Self::Timeout,
            ErrorCode::HttpResponseBodySize(_) => Self::TooLarge,
            ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionTerminated
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DnsError(_)
            | ErrorCode::TlsProtocolError
            | ErrorCode::TlsCertificateError
            | ErrorCode::TlsAlertReceived(_) => Self::Connection(format!("{code:?}")),
            other => Self::Protocol(format!("{other:?}")),
        }
    }
}

/// `GET url`.
///
/// # Errors
///
/// As [`send`].
pub fn get(url: &str) -> Result<Response, HttpError> {
    send(Request::get(url))
}

/// Sends `request` and reads the whole response.
///
/// # Errors
///
/// [`HttpError`]: an invalid URL, an origin the host does not allow, a timeout, a failed
/// connection, a body over the host's limit.
pub fn send(request: Request) -> Result<Response, HttpError> {
    let Request {
        method: method_name,
        url,
        headers,
        body: payload,
        timeout,
    } = request;
    let (scheme, authority, path) = split_url(&url)?;
    let fields = Fields::new();
    for (name, value) in &headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|e| HttpError::Protocol(format!("header {name:?}: {e:?}")))?;
    }
    let outgoing = OutgoingRequest::new(fields);
    let invalid = |what: &str| HttpError::Protocol(format!("invalid {what}"));
    outgoing
        .set_method(&method(&method_name))
        .map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(&path))
        .map_err(|()| invalid("path"))?;
    let body = outgoing.body().map_err(|()| invalid("body"))?;
    let options = timeout.map(|timeout| {
        let options = RequestOptions::new();
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        options
    });
    // Sent first, then the body streamed into it: the host buffers little of a body that
    // nobody is reading yet.
    let future = outgoing_handler::handle(outgoing, options)?;
    // A request the host refused closes its body stream: the refusal itself (denied, over
    // the limit) comes with the response, so a failed write is reported only if the
    // response does not say more.
    let written = write_body(&body, &payload);
    let finished = OutgoingBody::finish(body, None);
    let incoming = loop {
        match future.get() {
            Some(result) => {
                break result
                    .map_err(|()| HttpError::Protocol("response already taken".to_owned()))??;
            }
            None => future.subscribe().block(),
        }
    };
    written?;
    finished?;
    let status = incoming.status();
    let headers = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let body = read_body(&incoming)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn method(text: &str) -> Method {
    match text {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// `https://host:port/path?query` → the scheme, `host:port`, `/path?query`.
fn split_url(url: &str) -> Result<(Scheme, &str, String), HttpError> {
    let invalid = || HttpError::InvalidUrl(url.to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        _ => return Err(invalid()),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() {
        return Err(invalid());
    }
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Ok((scheme, authority, path))
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), HttpError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let stream = body
        .write()
        .map_err(|()| HttpError::Protocol("request body already taken".to_owned()))?;
    // `blocking-write-and-flush` takes at most 4096 bytes a call.
    for chunk in bytes.chunks(4096) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(stream_error)?;
    }
    Ok(())
}

fn read_body(incoming: &wasi::IncomingResponse) -> Result<Vec<u8>, HttpError> {
    let body = incoming
        .consume()
        .map_err(|()| HttpError::Protocol("response body already taken".to_owned()))?;
    let mut out = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|()| HttpError::Protocol("response body stream already taken".to_owned()))?;
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(error) => return Err(stream_error(error)),
            }
        }
    }
    drop(wasi::IncomingBody::finish(body));
    Ok(out)
}

fn stream_error(error: StreamError) -> HttpError {
    match error {
        StreamError::Closed => HttpError::Protocol("stream closed".to_owned()),
        StreamError::LastOperationFailed(error) => match wasi::http_error_code(&error) {
            Some(code) => code.into(),
            // wasmtime reports a body cut off at the host's limit as a plain error, not
            // as `HTTP-response-body-size`; its message says which it is.
            None if error.to_debug_string().contains("body size exceeds limit") => {
                HttpError::TooLarge
            }
            None => HttpError::Protocol(error.to_debug_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let (scheme, authority, path) = split_url("https://api.example.com:8443/a/b?c=1").unwrap();
        assert!(matches!(scheme, Scheme::Https));
        assert_eq!(
            (authority, path.as_str()),
            ("api.example.com:8443", "/a/b?c=1")
        );
        assert_eq!(split_url("http://h").unwrap().2, "/");
        assert_eq!(split_url("http://h?x=1").unwrap().2, "/?x=1");
        for bad in ["h/x", "ftp://h", "https:///x"] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
    }
}
