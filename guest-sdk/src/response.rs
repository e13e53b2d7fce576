use crate::__private::bindings::lamina::http::types as wit;
use serde::Serialize;

/// An HTTP response built by a handler.
///
/// ```
/// use lamina_sdk::Response;
/// let res = Response::text("created")
///     .with_status(201)
///     .with_header("location", "/todos/4")
///     .with_header("set-cookie", "a=1")
///     .with_header("set-cookie", "b=2");
/// assert_eq!(res.status(), 201);
/// assert_eq!(res.headers().len(), 4); // content-type, location and both cookies
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    #[must_use]
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    #[must_use]
    pub fn text(body: impl Into<String>) -> Self {
        Self::bytes("text/plain; charset=utf-8", body.into().into_bytes())
    }

    /// 200 with an `text/html; charset=utf-8` body.
    #[must_use]
    pub fn html(body: impl Into<String>) -> Self {
        Self::bytes("text/html; charset=utf-8", body.into().into_bytes())
    }

    /// 200 with `value` serialized as an `application/json` body.
    ///
    /// A value that cannot be serialized (a map with non-string keys, say) yields a 500
    /// with an `internal` error body instead of a panic.
    #[must_use]
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self::bytes("application/json", body),
            Err(e) => {
                crate::log::error(&format!("response body could not be serialized: {e}"));
                Self::bytes(
                    "application/json",
                    br#"{"error":{"code":"internal","message":"internal error"}}"#.to_vec(),
                )
                .with_status(500)
            }
        }
    }

    /// 200 with raw bytes and the given content type.
    #[must_use]
    pub fn bytes(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    /// 302 Found to `location`. Use [`Response::with_status`] for 301, 303, 307 or 308.
    #[must_use]
    pub fn redirect(location: &str) -> Self {
        Self::new(302).with_header("location", location)
    }

    /// 204 No Content.
    #[must_use]
    pub fn no_content() -> Self {
        Self::new(204)
    }

    /// Replaces the status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Appends a header; repeated names (such as `set-cookie`) are all sent.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Replaces the status.
    pub fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    /// Replaces every value of header `name` with `value`.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// Removes every value of header `name` (case-insensitive).
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Replaces the body (and nothing else: set `content-type` if it changes).
    pub fn set_body(&mut self, body: impl Into<Vec<u8>>) {
        self.body = body.into();
    }

    /// Takes the body out, leaving it empty (to rewrite it without a copy).
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers, in order.
    #[must_use]
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub(crate) fn from_wit(response: wit::Response) -> Self {
        Self {
            status: response.status,
            headers: response.headers,
            body: response.body,
        }
    }

    pub(crate) fn into_wit(self) -> wit::Response {
        wit::Response {
            status: self.status,
            headers: self.headers,
            body: self.body,
        }
    }
}
