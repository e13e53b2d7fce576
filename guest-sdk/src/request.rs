use crate::__private::bindings::lamina::http::types as wit;
use crate::Error;
use serde::de::DeserializeOwned;

/// An HTTP request as the host normalized it, whatever the event source.
#[derive(Debug)]
pub struct Request {
    inner: wit::Request,
    context: Context,
}

/// The event source that delivered a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// API Gateway REST API.
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
    /// A payload that is not an HTTP event, routed by the host's `[direct]` section.
    Direct,
}

impl Source {
    /// The source's name as the host's logs spell it (`apigw-rest`, `alb`, ...).
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
    /// The Lambda request id, also in every host log line and error body.
    pub request_id: String,
    /// The API Gateway stage, when the source has one.
    pub stage: Option<String>,
    /// The client's IP address as the source reports it.
    pub source_ip: Option<String>,
    /// The client's user agent as the source reports it.
    pub user_agent: Option<String>,
    /// The authorizer's output (JWT claims, IAM identity, Lambda authorizer context) as
    /// JSON text.
    pub authorizer: Option<String>,
    /// When the source received the request, in milliseconds since the Unix epoch.
    pub time_epoch_ms: u64,
    /// Values middleware earlier in the chain attached (see [`Request::attribute`]).
    pub attributes: Vec<(String, String)>,
}

fn first<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn all<'a>(fields: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    fields
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Request {
    pub(crate) fn from_wit(mut inner: wit::Request) -> Self {
        let c = &mut inner.context;
        let context = Context {
            source: match c.source {
                wit::Source::ApigwRest => Source::ApigwRest,
                wit::Source::ApigwHttpV1 => Source::ApigwHttpV1,
                wit::Source::ApigwHttpV2 => Source::ApigwHttpV2,
                wit::Source::FunctionUrl => Source::FunctionUrl,
                wit::Source::Alb => Source::Alb,
                wit::Source::VpcLatticeV1 => Source::VpcLatticeV1,
                wit::Source::VpcLatticeV2 => Source::VpcLatticeV2,
                wit::Source::Local => Source::Local,
                wit::Source::Direct => Source::Direct,
            },
            request_id: std::mem::take(&mut c.request_id),
            stage: c.stage.take(),
            source_ip: c.source_ip.take(),
            user_agent: c.user_agent.take(),
            authorizer: c.authorizer.take(),
            time_epoch_ms: c.time_epoch_ms,
            attributes: std::mem::take(&mut c.attributes),
        };
        Self { inner, context }
    }

    /// The request as the host's WIT record (for a middleware passing it on).
    pub(crate) fn into_wit(self) -> wit::Request {
        let Self { mut inner, context } = self;
        inner.context = wit::Context {
            source: match context.source {
                Source::ApigwRest => wit::Source::ApigwRest,
                Source::ApigwHttpV1 => wit::Source::ApigwHttpV1,
                Source::ApigwHttpV2 => wit::Source::ApigwHttpV2,
                Source::FunctionUrl => wit::Source::FunctionUrl,
                Source::Alb => wit::Source::Alb,
                Source::VpcLatticeV1 => wit::Source::VpcLatticeV1,
                Source::VpcLatticeV2 => wit::Source::VpcLatticeV2,
                Source::Local => wit::Source::Local,
                Source::Direct => wit::Source::Direct,
            },
            request_id: context.request_id,
            stage: context.stage,
            source_ip: context.source_ip,
            user_agent: context.user_agent,
            authorizer: context.authorizer,
            time_epoch_ms: context.time_epoch_ms,
            attributes: context.attributes,
        };
        inner
    }

    /// A value a middleware earlier in the chain attached with [`Request::set_attribute`]
    /// (for example the subject an auth middleware verified). Clients cannot set these.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&str> {
        first(&self.context.attributes, name)
    }

    /// Attaches `value` under `name` for the middleware and handler after this one,
    /// replacing an earlier value of that name.
    pub fn set_attribute(&mut self, name: &str, value: &str) {
        let attributes = &mut self.context.attributes;
        attributes.retain(|(k, _)| k != name);
        attributes.push((name.to_owned(), value.to_owned()));
    }

    /// Replaces every value of header `name` with `value` (names are case-insensitive and
    /// stored lowercase).
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.append_header(name, value);
    }

    /// Adds a value for header `name`, keeping the ones already there.
    pub fn append_header(&mut self, name: &str, value: &str) {
        self.inner
            .headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// Removes every value of header `name`.
    pub fn remove_header(&mut self, name: &str) {
        self.inner
            .headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: impl Into<Vec<u8>>) {
        self.inner.body = body.into();
    }

    /// Replaces the method (uppercase, e.g. `POST`).
    pub fn set_method(&mut self, method: &str) {
        method.clone_into(&mut self.inner.method);
    }

    /// Replaces the path the handler sees. The host does not route again: the route and
    /// its parameters stay those of the original path.
    pub fn set_path(&mut self, path: &str) {
        path.clone_into(&mut self.inner.path);
    }

    /// The method, uppercase.
    #[must_use]
    pub fn method(&self) -> &str {
        &self.inner.method
    }

    /// The percent-decoded path used for routing (stage and configured prefixes removed).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The path as the client sent it.
    #[must_use]
    pub fn raw_path(&self) -> &str {
        &self.inner.raw_path
    }

    /// The template of the matched route, for example `/todos/{id}`.
    #[must_use]
    pub fn route(&self) -> &str {
        &self.inner.route
    }

    /// A route parameter, percent-decoded.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        first(&self.inner.params, name)
    }

    /// Every route parameter, in template order.
    #[must_use]
    pub fn params(&self) -> &[(String, String)] {
        &self.inner.params
    }

    /// The first value of query parameter `name`, percent-decoded.
    #[must_use]
    pub fn query(&self, name: &str) -> Option<&str> {
        first(&self.inner.query, name)
    }

    /// Every value of query parameter `name`, in order.
    pub fn query_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        all(&self.inner.query, name)
    }

    /// Every query parameter, in order, repeated names kept.
    #[must_use]
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.inner.query
    }

    /// The query string as sent, without `?`.
    #[must_use]
    pub fn raw_query(&self) -> &str {
        &self.inner.raw_query
    }

    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.inner
            .headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, lowercase names, in order.
    #[must_use]
    pub fn headers(&self) -> &[(String, String)] {
        &self.inner.headers
    }

    /// The value of cookie `name`.
    #[must_use]
    pub fn cookie(&self, name: &str) -> Option<&str> {
        first(&self.inner.cookies, name)
    }

    /// Every cookie, in order.
    #[must_use]
    pub fn cookies(&self) -> &[(String, String)] {
        &self.inner.cookies
    }

    /// The body bytes (already base64-decoded by the host).
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.inner.body
    }

    /// The body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// 400 `bad-request` when the body is not valid UTF-8.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.inner.body).map_err(|e| {
            Error::bad_request(format!(
                "request body is not valid UTF-8 (byte {})",
                e.valid_up_to()
            ))
        })
    }

    /// Parses the body as JSON into `T`.
    ///
    /// # Errors
    ///
    /// 400 `invalid-json` naming the line and column when the body is not JSON or does not
    /// match `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.inner.body)
            .map_err(|e| Error::new(400, "invalid-json", format!("request body: {e}")))
    }

    /// Facts about the invocation.
    #[must_use]
    pub fn context(&self) -> &Context {
        &self.context
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn request(body: &[u8]) -> Request {
        Request::from_wit(wit::Request {
            method: "POST".into(),
            path: "/todos/7".into(),
            raw_path: "/prod/todos/7".into(),
            query: fields(&[("tag", "a"), ("other", "x"), ("tag", "b")]),
            raw_query: "tag=a&other=x&tag=b".into(),
            headers: fields(&[
                ("content-type", "application/json"),
                ("x-rep", "1"),
                ("x-rep", "2"),
            ]),
            cookies: fields(&[("session", "abc")]),
            body: body.to_vec(),
            params: fields(&[("id", "7")]),
            route: "/todos/{id}".into(),
            context: wit::Context {
                source: wit::Source::ApigwRest,
                request_id: "req-1".into(),
                stage: Some("prod".into()),
                source_ip: None,
                user_agent: None,
                authorizer: None,
                time_epoch_ms: 5,
                attributes: fields(&[("subject", "u1")]),
            },
        })
    }

    #[test]
    fn lookups_follow_http_rules() {
        let req = request(b"{}");
        assert_eq!(req.header("Content-Type"), Some("application/json"));
        assert_eq!(req.header_all("X-REP").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(req.query("tag"), Some("a"));
        assert_eq!(req.query_all("tag").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(req.param("id"), Some("7"));
        assert_eq!(req.cookie("session"), Some("abc"));
        assert_eq!(req.cookie("missing"), None);
        assert_eq!(req.context().source, Source::ApigwRest);
        assert_eq!(req.context().request_id, "req-1");
        assert_eq!(req.route(), "/todos/{id}");
    }

    #[test]
    fn changes_survive_the_round_trip_to_wit() {
        let mut req = request(b"{}");
        assert_eq!(req.attribute("subject"), Some("u1"));
        req.set_attribute("subject", "u2");
        req.set_attribute("tenant", "t9");
        req.set_header("X-Rep", "only");
        req.append_header("X-New", "n");
        req.remove_header("content-type");
        req.set_body("changed");
        let wit = req.into_wit();
        assert_eq!(
            wit.context.attributes,
            fields(&[("subject", "u2"), ("tenant", "t9")])
        );
        assert_eq!(wit.headers, fields(&[("x-rep", "only"), ("x-new", "n")]));
        assert_eq!(wit.body, b"changed");
        assert_eq!(wit.context.request_id, "req-1");
        assert_eq!(wit.context.stage.as_deref(), Some("prod"));
        let again = Request::from_wit(wit);
        assert_eq!(again.route(), "/todos/{id}");
        assert_eq!(again.attribute("tenant"), Some("t9"));
    }

    #[test]
    fn json_and_text_errors_are_client_errors() {
        #[derive(serde::Deserialize, Debug)]
        struct Todo {
            #[allow(dead_code)]
            title: String,
        }
        let error = request(b"{\"title\": 5}").json::<Todo>().unwrap_err();
        assert_eq!((error.status(), error.code()), (400, "invalid-json"));
        assert!(error.message().contains("line 1 column"), "{error}");
        let error = request(&[0xff]).text().unwrap_err();
        assert_eq!(error.status(), 400);
        assert_eq!(request(b"hi").text().unwrap(), "hi");
    }
}
