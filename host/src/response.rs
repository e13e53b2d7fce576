//! The response every handler produces and every event source encodes.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// An HTTP response on its way back to the event source.
///
/// Headers are an [`HeaderMap`]: names and values are valid HTTP by construction, so a guest
/// that returns a header with CR/LF is rejected where its output is converted, not here.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// Headers; repeated names (several `set-cookie`) are kept in order.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Bytes,
}

impl Response {
    /// A response with `status`, no headers and an empty body.
    #[must_use]
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// A `status` response with a JSON body.
    #[must_use]
    pub fn json(status: StatusCode, body: &serde_json::Value) -> Self {
        let mut res = Self::new(status);
        res.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res.body = Bytes::from(body.to_string());
        res
    }

    /// Whether the body must travel base64-encoded in a Lambda response: it is not UTF-8,
    /// or its content type says binary, or it carries a content encoding (gzip, br, ...).
    #[must_use]
    pub fn body_is_binary(&self) -> bool {
        if self.headers.contains_key(header::CONTENT_ENCODING) {
            return true;
        }
        let textual = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(is_text_type);
        !textual || std::str::from_utf8(&self.body).is_err()
    }
}

/// The media type of a `Content-Type` value without parameters, lowercase
/// (`Application/JSON; charset=utf-8` → `application/json`).
pub(crate) fn media_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Content types whose bodies are text. Anything else (images, octet-stream, ...) is
/// sent base64-encoded even when its bytes happen to be valid UTF-8.
fn is_text_type(content_type: &str) -> bool {
    let essence = media_essence(content_type);
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/ecmascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | "application/x-ndjson"
                | "image/svg+xml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_detection_follows_content_type_and_utf8() {
        let cases: &[(Option<&str>, &[u8], bool)] = &[
            (None, b"plain", false),
            (Some("text/plain; charset=utf-8"), b"hi", false),
            (Some("application/json"), b"{}", false),
            (Some("application/problem+json"), b"{}", false),
            (Some("image/svg+xml"), b"<svg/>", false),
            (Some("image/png"), b"PNG", true),
            (Some("application/octet-stream"), b"abc", true),
            (Some("text/plain"), &[0xff, 0xfe], true),
            (None, &[0xc3], true),
        ];
        for (content_type, body, binary) in cases {
            let mut res = Response::new(StatusCode::OK);
            if let Some(ct) = content_type {
                res.headers
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            res.body = Bytes::copy_from_slice(body);
            assert_eq!(res.body_is_binary(), *binary, "{content_type:?} {body:?}");
        }
    }
}
