//! CORS: which origins may read responses, and the preflight answer.
//!
//! Follows the Fetch standard's CORS protocol (https://fetch.spec.whatwg.org/#http-cors-protocol):
//! a request with an `Origin` the policy allows gets `Access-Control-Allow-Origin` (the
//! origin itself, or `*` when any origin is allowed without credentials), and a preflight
//! (`OPTIONS` with `Access-Control-Request-Method`) to a path that exists gets the methods
//! that path allows. Whenever the answer depends on the origin, `Vary: Origin` says so, so
//! caches do not hand one origin's answer to another.

use anyhow::bail;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use serde::Deserialize;

/// Request headers a browser may send without listing them (Powertools' defaults).
const DEFAULT_ALLOW_HEADERS: [&str; 5] = [
    "authorization",
    "content-type",
    "x-amz-date",
    "x-api-key",
    "x-amz-security-token",
];

/// `[cors]` in the config (and per route, as an override).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CorsConfig {
    /// Allowed origins: exact (`https://app.example.com`), a subdomain pattern
    /// (`https://*.example.com`), or `*`.
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` (not allowed with `*`).
    #[serde(default)]
    pub allow_credentials: bool,
    /// Request headers allowed in addition to the defaults.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Response headers the browser may expose to scripts.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Seconds a preflight answer may be cached.
    pub max_age: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum OriginRule {
    Any,
    Exact(String),
    /// `https://*.example.com`: the scheme and `://`, and `.example.com`.
    Subdomains {
        scheme: String,
        suffix: String,
    },
}

impl OriginRule {
    fn parse(text: &str) -> Result<Self, String> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} is not an origin (scheme://host[:port])"))?;
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "{text:?} is not an origin (scheme://host[:port], no path)"
            ));
        }
        match rest.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') && !suffix[1..].contains('*') => {
                Ok(Self::Subdomains {
                    scheme: format!("{}://", scheme.to_ascii_lowercase()),
                    suffix: suffix.to_ascii_lowercase(),
                })
            }
            Some(_) => Err(format!(
                "{text:?}: a wildcard must be a whole leading label, as in https://*.example.com"
            )),
            None if rest.contains('*') => Err(format!(
                "{text:?}: a wildcard must be a whole leading label"
            )),
            None => Ok(Self::Exact(text.to_ascii_lowercase())),
        }
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => origin.eq_ignore_ascii_case(exact),
            Self::Subdomains { scheme, suffix } => {
                let origin = origin.to_ascii_lowercase();
                origin.strip_prefix(scheme.as_str()).is_some_and(|host| {
                    // At least one label before the suffix: `https://.example.com` is not one.
                    host.len() > suffix.len()
                        && host.ends_with(suffix.as_str())
                        && !host[..host.len() - suffix.len()].ends_with('.')
                })
            }
        }
    }
}

/// A compiled CORS policy: header values built once at load.
#[derive(Clone, Debug)]
pub struct CorsPolicy {
    rules: Vec<OriginRule>,
    credentials: bool,
    allow_headers: HeaderValue,
    expose_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

fn join(values: &[String], setting: &str) -> anyhow::Result<HeaderValue> {
    for value in values {
        if HeaderName::from_bytes(value.as_bytes()).is_err() {
            bail!("{setting}: {value:?} is not a header name");
        }
    }
    Ok(HeaderValue::from_str(&values.join(", "))?)
}

impl CorsPolicy {
    /// Compiles a config section; `at` names it in messages (`cors`, `routes[2].cors`).
    ///
    /// # Errors
    ///
    /// An invalid origin or header name, or credentials with `*` (browsers refuse that
    /// combination; the message names both settings).
    pub fn from_config(config: &CorsConfig, at: &str) -> anyhow::Result<Self> {
        let rules = config
            .allow_origins
            .iter()
            .enumerate()
            .map(|(i, o)| {
                OriginRule::parse(o).map_err(|e| anyhow::anyhow!("{at}.allow-origins[{i}]: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if config.allow_credentials && rules.contains(&OriginRule::Any) {
            bail!(
                "{at}: allow-credentials = true cannot be combined with allow-origins = [\"*\"] \
                 (browsers reject credentialed responses for any origin); list the origins instead"
            );
        }
        let mut allow: Vec<String> = DEFAULT_ALLOW_HEADERS
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        for h in &config.allow_headers {
            let h = h.to_ascii_lowercase();
            if !allow.contains(&h) {
                allow.push(h);
            }
        }
        Ok(Self {
            rules,
            credentials: config.allow_credentials,
            allow_headers: join(&allow, &format!("{at}.allow-headers"))?,
            expose_headers: (!config.expose_headers.is_empty())
                .then(|| join(&config.expose_headers, &format!("{at}.expose-headers")))
                .transpose()?,
            max_age: config.max_age.map(HeaderValue::from),
        })
    }

    /// Whether the answer is the same for every origin (`*` without credentials).
    fn origin_independent(&self) -> bool {
        !self.credentials && self.rules.contains(&OriginRule::Any)
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allow_origin(&self, origin: Option<&str>) -> Option<HeaderValue> {
        if self.origin_independent() {
            return Some(HeaderValue::from_static("*"));
        }
        let origin = origin?;
        self.rules
            .iter()
            .any(|r| r.allows(origin))
            .then(|| HeaderValue::from_str(origin).ok())
            .flatten()
    }

    /// Adds the CORS headers for a request from `origin` to a response.
    pub fn apply(&self, origin: Option<&str>, headers: &mut http::HeaderMap) {
        if !self.origin_independent() {
            append_vary(headers, "origin");
        }
        let Some(allow) = self.allow_origin(origin) else {
            return;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(expose) = &self.expose_headers {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
    }

    /// The answer to a preflight from `origin` for a path that answers `methods`:
    /// `204` with the allowed methods and headers, or `204` without CORS headers when the
    /// origin is not allowed (the browser then blocks the request).
    #[must_use]
    pub fn preflight(&self, origin: Option<&str>, methods: &[Method]) -> crate::Response {
        let mut response = crate::Response::new(StatusCode::NO_CONTENT);
        let headers = &mut response.headers;
        append_vary(headers, "origin");
        append_vary(headers, "access-control-request-method");
        append_vary(headers, "access-control-request-headers");
        let Some(allow) = self.allow_origin(origin) else {
            return response;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        let methods: Vec<&str> = methods.iter().map(Method::as_str).collect();
        if let Ok(methods) = HeaderValue::from_str(&methods.join(", ")) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            self.allow_headers.clone(),
        );
        if let Some(max_age) = &self.max_age {
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, max_age.clone());
        }
        response
    }
}

/// Whether a request is a CORS preflight (Fetch §4.8: `OPTIONS` with
/// `Access-Control-Request-Method`).
#[must_use]
pub fn is_preflight(request: &crate::Request) -> bool {
    request.method == Method::OPTIONS && request.header("access-control-request-method").is_some()
}

/// Adds `name` to `Vary` unless it is already listed.
pub(crate) fn append_vary(headers: &mut http::HeaderMap, name: &'static str) {
    let listed = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|n| n.trim().eq_ignore_ascii_case(name) || n.trim() == "*")
        })
    });
    if !listed {
        headers.append(header::VARY, HeaderValue::from_static(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str], credentials: bool) -> CorsPolicy {
        let config = CorsConfig {
            allow_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            allow_credentials: credentials,
            allow_headers: vec!["X-Custom".into()],
            expose_headers: vec!["x-request-id".into()],
            max_age: Some(600),
        };
        CorsPolicy::from_config(&config, "cors").unwrap()
    }

    fn applied(policy: &CorsPolicy, origin: Option<&str>) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        policy.apply(origin, &mut headers);
        headers
    }

    #[test]
    fn origins_match_exactly_or_by_whole_subdomain_labels() {
        let p = policy(&["https://app.example.com", "https://*.example.org"], true);
        let cases = [
            ("https://app.example.com", true),
            ("HTTPS://APP.EXAMPLE.COM", true),
            ("https://app.example.com.evil.com", false),
            ("http://app.example.com", false),
            ("https://a.example.org", true),
            ("https://a.b.example.org", true),
            ("https://example.org", false),
            ("https://evilexample.org", false),
            ("https://.example.org", false),
            ("http://a.example.org", false),
        ];
        for (origin, allowed) in cases {
            let headers = applied(&p, Some(origin));
            assert_eq!(
                headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
                allowed,
                "{origin}"
            );
            assert_eq!(
                headers[header::VARY],
                "origin",
                "{origin}: the answer depends on the origin"
            );
            if allowed {
                assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin);
                assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
                assert_eq!(
                    headers[header::ACCESS_CONTROL_EXPOSE_HEADERS],
                    "x-request-id"
                );
            }
        }
        assert!(!applied(&p, None).contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    }

    #[test]
    fn any_origin_without_credentials_is_a_constant_star() {
        let p = policy(&["*"], false);
        let headers = applied(&p, Some("https://x.test"));
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(
            !headers.contains_key(header::VARY),
            "nothing depends on the origin"
        );
    }

    #[test]
    fn preflight_lists_methods_headers_and_max_age() {
        let p = policy(&["https://app.example.com"], false);
        let res = p.preflight(
            Some("https://app.example.com"),
            &[Method::GET, Method::POST],
        );
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        let h = &res.headers;
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization, content-type, x-amz-date, x-api-key, x-amz-security-token, x-custom"
        );
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
        let denied = p.preflight(Some("https://other.test"), &[Method::GET]);
        assert!(
            !denied
                .headers
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
    }

    #[test]
    fn impossible_configs_are_rejected_naming_the_setting() {
        let cases = [
            (
                vec!["*"],
                true,
                "cors: allow-credentials = true cannot be combined with allow-origins = [\"*\"]",
            ),
            (
                vec!["app.example.com"],
                false,
                "cors.allow-origins[0]: \"app.example.com\" is not an origin",
            ),
            (
                vec!["https://a.*.com"],
                false,
                "cors.allow-origins[0]: \"https://a.*.com\": a wildcard must be a whole leading label",
            ),
            (vec!["https://x.com/path"], false, "no path"),
        ];
        for (origins, credentials, expected) in cases {
            let config = CorsConfig {
                allow_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
                allow_credentials: credentials,
                ..CorsConfig::default()
            };
            let error = format!(
                "{:#}",
                CorsPolicy::from_config(&config, "cors").unwrap_err()
            );
            assert!(error.contains(expected), "{error}");
        }
    }
}
