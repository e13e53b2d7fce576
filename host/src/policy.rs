//! Route policies: the host's own stages around a route's middleware chain, compiled once
//! per route and run in one order, declared here.
//!
//! The whole request, in order ([`STAGES`]; the README's pipeline lists the same):
//!
//! 1. `strip-prefixes` — configured base paths come off the path;
//! 2. `cors-preflight` — an `OPTIONS` preflight for a path that exists is answered;
//! 3. `route` — `404` / `405` with `Allow` / the route;
//! 4. `max-request-body` — a larger body is a `413`;
//! 5. `middleware on-request` — global, group, route;
//! 6. `validate` — JSON body, JSON Schemas: `415` / `400` / `422` ([`Policies::check`]);
//! 7. `handler`;
//! 8. `middleware on-response` — in reverse;
//! 9. `cache-control`, `cors`, `compression`, `head` — on the way out, on whatever came
//!    back, errors and short-circuits included ([`Policies::finish`]).
//!
//! A new policy is a field of [`Policies`], built in [`Policies::compile`], run in `check`
//! or `finish` at its place, and named in [`STAGES`]; nothing else in the pipeline changes.

use crate::compress::{self, CompressionConfig};
use crate::config::{RouteCompression, RouteConfig, RouteCors};
use crate::cors::CorsPolicy;
use crate::error::Error;
use crate::request::{Fields, Request};
use crate::response::Response;
use crate::validate::Validation;
use bytes::Bytes;
use http::{HeaderValue, header};
use std::path::Path;
use std::sync::Arc;

/// The stages of one request, in the order they run.
pub const STAGES: [&str; 12] = [
    "strip-prefixes",
    "cors-preflight",
    "route",
    "max-request-body",
    "middleware on-request",
    "validate",
    "handler",
    "middleware on-response",
    "cache-control",
    "cors",
    "compression",
    "head",
];

/// What the stages on the way out need from the request, read before it is consumed.
pub(crate) struct Seen {
    /// The `Origin` header.
    pub(crate) origin: Option<String>,
    /// Every `Accept-Encoding` line as one list (RFC 9110 §5.3).
    pub(crate) accept_encoding: Option<String>,
    /// Whether the method was `HEAD` (answered by the `GET` route, without the body).
    pub(crate) head: bool,
}

impl Seen {
    pub(crate) fn of(request: &Request) -> Self {
        Self {
            origin: request.header("origin").map(str::to_owned),
            accept_encoding: request
                .header_list("accept-encoding")
                .map(std::borrow::Cow::into_owned),
            head: request.method == http::Method::HEAD,
        }
    }
}

/// The policies of one route (or, for requests no route matches, the global ones).
#[derive(Clone, Default)]
pub(crate) struct Policies {
    /// Checks before the handler.
    pub(crate) validation: Option<Arc<Validation>>,
    /// Added to successful responses that have no `Cache-Control` of their own.
    pub(crate) cache_control: Option<HeaderValue>,
    /// `Cache-Control` for this route's errors; `None` uses the global one.
    pub(crate) error_cache_control: Option<HeaderValue>,
    /// `None` when CORS is off.
    pub(crate) cors: Option<Arc<CorsPolicy>>,
    /// `None` when compression is off.
    pub(crate) compression: Option<Arc<CompressionConfig>>,
}

/// The global settings a route's own override or inherit.
pub(crate) struct Defaults<'a> {
    pub(crate) cors: Option<&'a Arc<CorsPolicy>>,
    pub(crate) compression: Option<&'a Arc<CompressionConfig>>,
    pub(crate) base_dir: &'a Path,
}

fn header_value(text: &str, setting: &str) -> anyhow::Result<HeaderValue> {
    HeaderValue::from_str(text)
        .map_err(|_| anyhow::anyhow!("{setting}: {text:?} is not a valid header value"))
}

impl Policies {
    /// The global policies, for requests no route matches (and routes built in code).
    pub(crate) fn global(defaults: &Defaults<'_>) -> Self {
        Self {
            cors: defaults.cors.cloned(),
            compression: defaults.compression.cloned(),
            ..Self::default()
        }
    }

    /// Compiles `route`'s policies (`at` names it in messages: `routes[3]`).
    ///
    /// # Errors
    ///
    /// A setting that is not valid (a header value, a CORS policy, a schema), naming it.
    pub(crate) fn compile(
        route: &RouteConfig,
        defaults: &Defaults<'_>,
        at: &str,
    ) -> anyhow::Result<Self> {
        let cors = match &route.cors {
            None | Some(RouteCors::Enabled(true)) => defaults.cors.cloned(),
            Some(RouteCors::Enabled(false)) => None,
            Some(RouteCors::Policy(policy)) => Some(Arc::new(CorsPolicy::from_config(
                policy,
                &format!("{at}.cors"),
            )?)),
        };
        let compression = match &route.compression {
            Some(RouteCompression::Enabled(false)) => None,
            None | Some(RouteCompression::Enabled(true)) => defaults.compression.cloned(),
            Some(RouteCompression::Settings(settings)) => Some(Arc::new(settings.clone())),
        };
        Ok(Self {
            validation: route
                .validate
                .as_ref()
                .map(|v| Validation::compile(v, defaults.base_dir, at).map(Arc::new))
                .transpose()?,
            cache_control: route
                .cache_control
                .as_deref()
                .map(|v| header_value(v, &format!("{at}.cache-control")))
                .transpose()?,
            error_cache_control: route
                .error_cache_control
                .as_deref()
                .map(|v| header_value(v, &format!("{at}.error-cache-control")))
                .transpose()?,
            cors,
            compression,
        })
    }

    /// Stage 6: what runs on the request the handler will receive.
    ///
    /// # Errors
    ///
    /// The validation error (`415`, `400`, `422`).
    pub(crate) fn check(&self, request: &Request, params: &Fields) -> Result<(), Error> {
        match &self.validation {
            Some(validation) => validation.check(request, params),
            None => Ok(()),
        }
    }

    /// Stages 9 to 12, in this order: `Cache-Control` on a success that set none, CORS
    /// headers, compression (last, once every header is in place), and no body for `HEAD`.
    pub(crate) fn finish(&self, seen: &Seen, response: &mut Response) {
        if let Some(value) = &self.cache_control
            && response.status.is_success()
            && !response.headers.contains_key(header::CACHE_CONTROL)
        {
            response
                .headers
                .insert(header::CACHE_CONTROL, value.clone());
        }
        if let Some(policy) = &self.cors {
            policy.apply(seen.origin.as_deref(), &mut response.headers);
        }
        if let Some(config) = &self.compression {
            compress::compress(response, seen.accept_encoding.as_deref(), config);
        }
        if seen.head {
            response.body = Bytes::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::STAGES;

    #[test]
    fn the_readme_lists_the_stages_in_the_order_the_code_runs_them() {
        let readme = include_str!("../../README.md");
        let pipeline = readme
            .split("```")
            .nth(1)
            .expect("the README opens with the pipeline");
        let mut from = 0;
        for stage in STAGES {
            let at = pipeline[from..].find(stage).unwrap_or_else(|| {
                panic!("the README's pipeline does not list {stage:?} after the stages before it")
            });
            from += at + stage.len();
        }
    }
}
