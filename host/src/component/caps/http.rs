//! Outbound HTTP: the standard `wasi:http/outgoing-handler`, to the hosts the config
//! allows and nowhere else, within per-request limits, over connections pooled across
//! requests.
//!
//! ```toml
//! [components.orders]
//! allowed-outbound-hosts = ["https://api.example.com", "https://*.example.com", "http://127.0.0.1:8080"]
//! outbound = { max-requests = 32, connect-timeout = "5s", first-byte-timeout = "10s", max-response-body = "6MiB" }
//! ```
//!
//! A pattern is Spin's: `scheme://host[:port]`, the scheme `http`, `https` or `*`, the host
//! exact, `*.suffix` (any subdomain) or `*`, the port a number, `*`, or left out for the
//! scheme's default. Nothing is allowed by default. A request to anything else gets
//! `HTTP-request-denied` — an error the guest handles, not a trap — and a log line naming
//! the component, method and `scheme://host:port` (never the path or query).
//!
//! Every call is bounded by the component's remaining deadline, whatever its own timeouts
//! say; the response body the guest can read is capped; redirects are not followed (the
//! guest sees the `3xx`). Connections are pooled per origin for the life of the process,
//! so a warm Lambda sandbox does not pay a TCP and TLS handshake per request
//! (wasmtime-wasi-http's own sender opens one connection per request).

use super::super::state::State;
use super::aws::AwsGrant;
use super::{Capability, KeyList, Scope, Who};
use crate::limits::{ByteSize, Timeout};
use crate::observe::xray::{Subsegment, TraceHeader};
use anyhow::bail;
use bytes::Bytes;
use http::uri::Scheme;
use http_body_util::{BodyExt as _, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::component::Linker;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

/// Outbound calls one component may make per request unless configured.
pub const DEFAULT_MAX_REQUESTS: usize = 32;
/// Time to connect unless configured (always cut to the remaining deadline).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time from sending to the response's headers unless configured.
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);
/// Response body bytes a guest may read per call unless configured.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 6 << 20;

/// The host memory one `fields` resource (a header set) a guest builds may take: as large
/// as the largest request headers any front door delivers (`event::HeaderLimits`).
const MAX_FIELDS_SIZE: usize = 64 << 10;

/// The largest write to an outgoing body's stream; the host buffers at most two of them
/// per body (wasmtime-wasi-http's default is 1 MiB, i.e. 2 MiB of host memory per body a
/// guest opens). A guest writes in `check-write`-sized pieces, so this only changes how
/// many writes a large body takes.
const MAX_BODY_WRITE: usize = 16 << 10;

/// The capability.
pub(crate) struct Http;

/// Its keys in `[components.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct HttpConfig {
    /// Where the component may send requests.
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    /// Limits on what it sends and reads.
    #[serde(default)]
    outbound: OutboundConfig,
}

/// `outbound = { ... }`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct OutboundConfig {
    max_requests: Option<usize>,
    connect_timeout: Option<Timeout>,
    first_byte_timeout: Option<Timeout>,
    max_response_body: Option<ByteSize>,
}

/// Which schemes a pattern allows.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SchemeMatch {
    Http,
    Https,
    Any,
}

/// Which hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum HostMatch {
    Exact(String),
    /// `*.example.com`: `.example.com`, matching any name that ends with it.
    Subdomains(String),
    Any,
}

/// Which ports.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PortMatch {
    Exact(u16),
    /// The scheme's own (80, 443).
    Default,
    Any,
}

/// One `allowed-outbound-hosts` entry, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostPattern {
    text: String,
    scheme: SchemeMatch,
    host: HostMatch,
    port: PortMatch,
}

impl HostPattern {
    /// Parses `scheme://host[:port]`.
    fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} needs a scheme: \"https://{text}\""))?;
        let scheme = match scheme {
            "http" => SchemeMatch::Http,
            "https" => SchemeMatch::Https,
            "*" => SchemeMatch::Any,
            other => {
                return Err(format!(
                    "{text:?}: scheme {other:?} is not http, https or *"
                ));
            }
        };
        if rest.contains('/') || rest.contains('?') {
            return Err(format!("{text:?}: a pattern names an origin, not a path"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            // An IPv6 literal keeps its colons inside brackets.
            Some((host, port)) if !port.contains(']') => {
                let port =
                    match port {
                        "*" => PortMatch::Any,
                        number => PortMatch::Exact(number.parse().map_err(|_| {
                            format!("{text:?}: port {number:?} is not a number or *")
                        })?),
                    };
                (host, port)
            }
            _ => (rest, PortMatch::Default),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostMatch::Subdomains(format!(".{suffix}"))
        } else if host.is_empty() || host.contains('*') {
            return Err(format!("{text:?}: a host is a name, \"*.name\" or \"*\""));
        } else {
            HostMatch::Exact(host)
        };
        if scheme == SchemeMatch::Any && port == PortMatch::Default {
            return Err(format!("{text:?}: with scheme *, give a port (or :*)"));
        }
        Ok(Self {
            text: text.to_owned(),
            scheme,
            host,
            port,
        })
    }

    /// Whether a request to `scheme://host:port` matches.
    fn allows(&self, scheme: &Scheme, host: &str, port: u16) -> bool {
        let scheme_ok = match self.scheme {
            SchemeMatch::Http => *scheme == Scheme::HTTP,
            SchemeMatch::Https => *scheme == Scheme::HTTPS,
            SchemeMatch::Any => true,
        };
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostMatch::Exact(exact) => host == *exact,
            HostMatch::Subdomains(suffix) => {
                host.ends_with(suffix.as_str()) && host.len() > suffix.len()
            }
            HostMatch::Any => true,
        };
        let port_ok = match self.port {
            PortMatch::Exact(p) => p == port,
            PortMatch::Default => port == default_port(scheme),
            PortMatch::Any => true,
        };
        scheme_ok && host_ok && port_ok
    }
}

fn default_port(scheme: &Scheme) -> u16 {
    if *scheme == Scheme::HTTPS { 443 } else { 80 }
}

/// What is granted.
#[derive(Clone, Debug, Default)]
pub(crate) struct HttpGrant {
    allowed: Arc<Vec<HostPattern>>,
    limits: OutboundLimits,
}

/// The limits on one component's outbound calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OutboundLimits {
    max_requests: usize,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
    max_response_body: usize,
}

impl Default for OutboundLimits {
    fn default() -> Self {
        Self {
            max_requests: DEFAULT_MAX_REQUESTS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            first_byte_timeout: DEFAULT_FIRST_BYTE_TIMEOUT,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
        }
    }
}

/// One instance's wasi:http context and its hooks.
pub(crate) struct HttpInstance {
    ctx: WasiHttpCtx,
    hooks: Hooks,
}

/// Where an instance's requests go: the allow-list check, the budget, the deadline, the
/// pooled client.
struct Hooks {
    component: Arc<str>,
    request_id: String,
    allowed: Arc<Vec<HostPattern>>,
    limits: OutboundLimits,
    /// Calls made so far by this instance (this request).
    calls: usize,
    /// Calls refused so far, for not being allowed and for being over `max-requests`:
    /// the first of each is logged as it happens, the count when the request is done, so
    /// a guest refused in a loop cannot flood the log.
    denied: usize,
    over_budget: usize,
    /// When the export call running now must end (copied from the store's state).
    deadline: Instant,
    /// The AWS services it may call signed (copied from the `aws` capability).
    aws: Option<AwsGrant>,
    /// The request's trace (copied from the store's state), propagated on every call.
    trace: Option<TraceHeader>,
}

impl KeyList for Http {
    const KEYS: &'static [&'static str] = &["allowed-outbound-hosts", "outbound"];
}

impl Capability for Http {
    const NAME: &'static str = "outbound";
    type Config = HttpConfig;
    type Grant = HttpGrant;
    type Instance = HttpInstance;

    fn grant(config: &HttpConfig, scope: &Scope<'_>) -> anyhow::Result<HttpGrant> {
        let mut allowed = Vec::new();
        for (i, text) in config.allowed_outbound_hosts.iter().enumerate() {
            match HostPattern::parse(text) {
                Ok(pattern) => allowed.push(pattern),
                Err(problem) => bail!(
                    "components.{}.allowed-outbound-hosts[{i}]: {problem}",
                    scope.component
                ),
            }
        }
        let o = &config.outbound;
        let limits = OutboundLimits {
            max_requests: o.max_requests.unwrap_or(DEFAULT_MAX_REQUESTS),
            connect_timeout: o.connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, |t| t.0),
            first_byte_timeout: o
                .first_byte_timeout
                .map_or(DEFAULT_FIRST_BYTE_TIMEOUT, |t| t.0),
            max_response_body: o
                .max_response_body
                .map_or(DEFAULT_MAX_RESPONSE_BODY, |b| b.0),
        };
        Ok(HttpGrant {
            allowed: Arc::new(allowed),
            limits,
        })
    }

    fn link(
        linker: &mut Linker<State>,
        _get: fn(&mut State) -> &mut HttpInstance,
    ) -> wasmtime::Result<()> {
        // Through `WasiHttpView for State` below, which wasmtime-wasi-http's linking takes.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
    }

    fn instance(grant: &HttpGrant) -> anyhow::Result<HttpInstance> {
        let mut ctx = WasiHttpCtx::new();
        ctx.set_field_size_limit(MAX_FIELDS_SIZE);
        Ok(HttpInstance {
            ctx,
            hooks: Hooks {
                component: Arc::from(""),
                request_id: String::new(),
                allowed: grant.allowed.clone(),
                limits: grant.limits,
                calls: 0,
                denied: 0,
                over_budget: 0,
                deadline: Instant::now(),
                aws: None,
                trace: None,
            },
        })
    }

    fn finish(instance: &HttpInstance, who: &Who<'_>) {
        let hooks = &instance.hooks;
        if hooks.denied > 1 {
            tracing::warn!(
                component = who.component,
                requestId = who.request_id,
                denied = hooks.denied,
                "outbound requests denied during this request (the first is logged above)"
            );
        }
        if hooks.over_budget > 1 {
            tracing::warn!(
                component = who.component,
                requestId = who.request_id,
                refused = hooks.over_budget,
                limit = hooks.limits.max_requests,
                "outbound requests refused over max-requests during this request (the first is logged above)"
            );
        }
    }

    fn reusable(instance: &HttpInstance) -> bool {
        instance.hooks.denied == 0 && instance.hooks.over_budget == 0
    }

    fn describe(grant: &HttpGrant) -> Option<String> {
        let hosts: Vec<&str> = grant.allowed.iter().map(|p| p.text.as_str()).collect();
        let l = grant.limits;
        Some(if hosts.is_empty() {
            "none allowed".to_owned()
        } else {
            format!(
                "[{}], at most {} calls per request, connect {:?}, first byte {:?}, {} KiB per response body",
                hosts.join(", "),
                l.max_requests,
                l.connect_timeout,
                l.first_byte_timeout,
                l.max_response_body >> 10
            )
        })
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let http = &mut self.caps.http;
        // The hooks need what only the store knows: whose instance, and the current call's
        // deadline.
        http.hooks.deadline = self.deadline;
        if http.hooks.component.is_empty() {
            http.hooks.component = self.component.clone();
            http.hooks.request_id.clone_from(&self.request_id);
            http.hooks.trace = self.trace_header.as_deref().and_then(TraceHeader::parse);
        }
        if http.hooks.aws.is_none() {
            http.hooks.aws = Some(self.caps.aws.clone());
        }
        WasiHttpCtxView {
            ctx: &mut http.ctx,
            table: &mut self.table,
            hooks: &mut http.hooks,
        }
    }
}

/// The connector and client every outbound call shares: connections are pooled per
/// origin for the life of the process. Built on first use.
fn client() -> &'static Client<hyper_rustls::HttpsConnector<HttpConnector>, WasiBody> {
    static CLIENT: OnceLock<Client<hyper_rustls::HttpsConnector<HttpConnector>, WasiBody>> =
        OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map(|b| {
                b.https_or_http()
                    .enable_http1()
                    .wrap_connector(http.clone())
            })
            // Only fails for a provider without the default TLS versions, which ring has.
            .unwrap_or_else(|_| {
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_webpki_roots()
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(http)
            });
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https)
    })
}

/// Sends a request the host itself makes for a component (a key-value store's DynamoDB
/// call) on the same pooled connections as the component's own outbound calls.
pub(crate) fn send(request: http::Request<Bytes>) -> hyper_util::client::legacy::ResponseFuture {
    client().request(request.map(|bytes| {
        http_body_util::Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync()
    }))
}

type Sent = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for Hooks {
    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        MAX_BODY_WRITE
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let uri = request.uri();
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTPS);
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri.port_u16().unwrap_or_else(|| default_port(&scheme));
        let method = request.method().clone();
        // A call to a granted AWS service goes to its endpoint, signed by the host.
        let aws = self.aws.as_ref().and_then(|grant| {
            grant
                .service_for(uri)
                .map(|(service, endpoint)| (grant.clone(), service.to_owned(), endpoint.clone()))
        });
        let target = match &aws {
            Some((_, service, endpoint)) => format!("{endpoint} (aws {service})"),
            None => format!("{scheme}://{host}:{port}"),
        };
        if aws.is_none() && !self.allowed.iter().any(|p| p.allows(&scheme, &host, port)) {
            self.denied += 1;
            if self.denied == 1 {
                tracing::warn!(
                    component = &*self.component,
                    requestId = self.request_id,
                    %method,
                    target,
                    "outbound request denied: not in allowed-outbound-hosts"
                );
            }
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        if self.calls >= self.limits.max_requests {
            self.over_budget += 1;
            if self.over_budget == 1 {
                tracing::warn!(
                    component = &*self.component,
                    requestId = self.request_id,
                    %method,
                    target,
                    limit = self.limits.max_requests,
                    "outbound request refused: the component made its limit of calls for this request"
                );
            }
            return Box::new(async { Err(HttpError::ConnectionLimitReached) });
        }
        self.calls += 1;
        // The trace goes with the call (the component's own headers win); with X-Ray on,
        // as the parent of the call's subsegment.
        let trace = self.trace.clone();
        let call_id = trace
            .as_ref()
            .filter(|t| t.records())
            .map(|_| crate::observe::xray::new_id());
        if let Some(trace) = &trace {
            let header = match &call_id {
                Some(id) => trace.with_parent(id),
                None => trace.header(),
            };
            let headers = request.headers_mut();
            if let Ok(value) = http::HeaderValue::from_str(&header) {
                headers.entry("x-amzn-trace-id").or_insert(value);
            }
            if let Some(value) = trace
                .traceparent(call_id.as_deref())
                .and_then(|t| http::HeaderValue::from_str(&t).ok())
            {
                headers.entry("traceparent").or_insert(value);
            }
        }
        let started_at = std::time::SystemTime::now();
        // Whatever the guest asked for, a call never outlives the request.
        let left = self.deadline.saturating_duration_since(Instant::now());
        let options = options.unwrap_or_default();
        let connect = options
            .connect_timeout
            .unwrap_or(self.limits.connect_timeout);
        let first_byte = options
            .first_byte_timeout
            .unwrap_or(self.limits.first_byte_timeout);
        let budget = (connect + first_byte).min(left);
        let max_body = self.limits.max_response_body;
        let component = self.component.clone();
        let namespace = if aws.is_some() { "aws" } else { "remote" };
        let url = match &aws {
            Some((_, _, endpoint)) => endpoint.to_string(),
            None => format!("{scheme}://{host}:{port}"),
        };
        let host_name = host.clone();
        let method_name = method.to_string();
        let call = async move {
            let request = match aws {
                Some((grant, service, endpoint)) => {
                    sign(request, &grant, &service, &endpoint, &component).await?
                }
                None => request,
            };
            let response = match tokio::time::timeout(budget, client().request(request)).await {
                Err(_elapsed) => {
                    tracing::info!(component = &*component, %method, target, after = ?budget, "outbound request timed out");
                    return Err(if budget == left {
                        HttpError::ConnectionTimeout
                    } else {
                        HttpError::HttpResponseTimeout
                    });
                }
                Ok(Err(error)) => {
                    tracing::info!(component = &*component, %method, target, error = %error, "outbound request failed");
                    return Err(if error.is_connect() {
                        HttpError::ConnectionRefused
                    } else {
                        HttpError::HttpProtocolError
                    });
                }
                Ok(Ok(response)) => response,
            };
            // A body declared too large is refused before the guest sees the response: the
            // guest gets `HTTP-response-body-size` from the call itself. One that turns out
            // too large while streaming fails the read instead.
            let declared = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max_body as u64) {
                tracing::info!(component = &*component, %method, target, ?declared, limit = max_body, "outbound response refused: body over max-response-body");
                return Err(HttpError::HttpResponseBodySize(declared));
            }
            let response = response.map(|body| {
                Limited::new(body, max_body)
                    .map_err(move |error| {
                        if error.is::<http_body_util::LengthLimitError>() {
                            HttpError::HttpResponseBodySize(Some(max_body as u64))
                        } else {
                            match error.downcast::<hyper::Error>() {
                                Ok(error) => HttpError::Hyper(*error),
                                Err(_) => HttpError::HttpResponseIncomplete,
                            }
                        }
                    })
                    .map_frame(|frame| frame.map_data(Bytes::from))
                    .boxed_unsync()
            });
            let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, io))
        };
        let call = async move {
            let sent = call.await;
            if let (Some(trace), Some(id)) = (&trace, &call_id) {
                let mut http = serde_json::json!({"request": {"method": method_name, "url": url}});
                let status = sent
                    .as_ref()
                    .ok()
                    .map(|(response, _)| response.status().as_u16());
                if let Some(status) = status {
                    http["response"] = serde_json::json!({"status": status});
                }
                Subsegment {
                    name: &host_name,
                    id,
                    trace,
                    parent_id: trace.parent(),
                    start: started_at,
                    end: std::time::SystemTime::now(),
                    namespace: Some(namespace),
                    annotations: serde_json::Value::Null,
                    http: Some(http),
                    outcome: crate::observe::xray::Outcome::of(status),
                }
                .send();
            }
            sent
        };
        // Its lines belong to the request and component the guest call runs in.
        Box::new(tracing::Instrument::instrument(
            call,
            tracing::Span::current(),
        ))
    }
}

/// Largest request body the host buffers to sign (DynamoDB items are at most 400 KB; SQS
/// messages 256 KiB).
const MAX_SIGNED_BODY: usize = 6 << 20;

/// `request` pointed at `endpoint` and signed for `service`: its body read whole (SigV4
/// hashes it), within [`MAX_SIGNED_BODY`].
async fn sign(
    request: http::Request<WasiBody>,
    grant: &AwsGrant,
    service: &str,
    endpoint: &http::Uri,
    component: &str,
) -> Result<http::Request<WasiBody>, HttpError> {
    let (parts, body) = request.into_parts();
    let bytes = Limited::new(body, MAX_SIGNED_BODY)
        .collect()
        .await
        .map_err(|_| HttpError::HttpRequestBodySize(Some(MAX_SIGNED_BODY as u64)))?
        .to_bytes();
    let mut signed = http::Request::from_parts(parts, bytes);
    if let Err(error) = grant.sign(service, endpoint, &mut signed) {
        tracing::error!(component, service, error = %format!("{error:#}"), "cannot sign the AWS request");
        return Err(HttpError::InternalError(Some(
            "the host cannot sign AWS requests".to_owned(),
        )));
    }
    Ok(signed.map(|bytes| {
        http_body_util::Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_allow_what_they_name_and_nothing_else() {
        let https = Scheme::HTTPS;
        let http = Scheme::HTTP;
        let cases: &[(&str, &Scheme, &str, u16, bool)] = &[
            (
                "https://api.example.com",
                &https,
                "api.example.com",
                443,
                true,
            ),
            (
                "https://api.example.com",
                &https,
                "API.Example.com",
                443,
                true,
            ),
            (
                "https://api.example.com",
                &https,
                "api.example.com",
                8443,
                false,
            ),
            (
                "https://api.example.com",
                &http,
                "api.example.com",
                80,
                false,
            ),
            ("https://api.example.com", &https, "evil.com", 443, false),
            (
                "https://*.example.com",
                &https,
                "a.b.example.com",
                443,
                true,
            ),
            ("https://*.example.com", &https, "example.com", 443, false),
            (
                "https://*.example.com",
                &https,
                "notexample.com",
                443,
                false,
            ),
            ("http://127.0.0.1:8080", &http, "127.0.0.1", 8080, true),
            ("http://127.0.0.1:8080", &http, "127.0.0.1", 8081, false),
            ("http://127.0.0.1:*", &http, "127.0.0.1", 9, true),
            ("*://localhost:*", &https, "localhost", 1, true),
        ];
        for (pattern, scheme, host, port, allowed) in cases {
            let parsed = HostPattern::parse(pattern).unwrap();
            assert_eq!(
                parsed.allows(scheme, host, *port),
                *allowed,
                "{pattern} vs {scheme}://{host}:{port}"
            );
        }
    }

    #[test]
    fn bad_patterns_name_the_key() {
        let scope = Scope {
            component: "c",
            base_dir: std::path::Path::new("/"),
            stores: &Default::default(),
            secrets: &Default::default(),
            metrics: None,
        };
        for (pattern, problem) in [
            ("api.example.com", "needs a scheme"),
            ("ftp://x", "not http, https or *"),
            ("https://x/path", "not a path"),
            ("https://x:eighty", "not a number"),
            ("https://a*b.com", "a host is a name"),
            ("*://x", "give a port"),
        ] {
            let config: HttpConfig =
                toml::from_str(&format!("allowed-outbound-hosts = [{pattern:?}]")).unwrap();
            let error = Http::grant(&config, &scope).unwrap_err().to_string();
            assert!(
                error.starts_with("components.c.allowed-outbound-hosts[0]:"),
                "{error}"
            );
            assert!(error.contains(problem), "{pattern}: {error}");
        }
        let none = Http::grant(&HttpConfig::default(), &scope).unwrap();
        assert_eq!(Http::describe(&none).as_deref(), Some("none allowed"));
    }

    #[test]
    fn links_once() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<State>::new(&engine);
        Http::link(&mut linker, |s| &mut s.caps.http).unwrap();
        assert!(Http::link(&mut linker, |s| &mut s.caps.http).is_err());
    }
}
