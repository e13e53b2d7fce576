//! `App`: one immutable snapshot of routes and components, and the request pipeline.

use crate::component::{CallTimings, Component, Entered, Flow, Kind, RouteInfo, Runtime};
use crate::compress::{self, CompressionConfig};
use crate::config::{Config, RouteCompression, RouteCors};
use crate::cors::{self, CorsPolicy};
use crate::error::{Error, ErrorFormat};
use crate::event::{self, DecodeError, DecodeLimits, Origin};
use crate::limits::DEFAULT_MAX_REQUEST_BODY;
use crate::prefix::Prefix;
use crate::request::Request;
use crate::response::Response;
use crate::route::{MethodFilter, Miss, Routes};
use crate::validate::Validation;
use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderValue, Method, header};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

fn header_value(text: &str, setting: &str) -> anyhow::Result<HeaderValue> {
    HeaderValue::from_str(text)
        .map_err(|_| anyhow::anyhow!("{setting}: {text:?} is not a valid header value"))
}

/// A handler written in Rust and linked into the host, used by benchmarks and tests to
/// measure the pipeline without a component. Receives what a guest would.
pub trait NativeHandler: Send + Sync {
    /// Handles one request.
    ///
    /// # Errors
    ///
    /// Any [`Error`]; it is rendered like a guest's.
    fn handle(
        &self,
        request: Request,
        template: &str,
        params: Vec<(String, String)>,
    ) -> Result<Response, Error>;
}

/// What a route is bound to.
#[derive(Clone)]
pub enum Target {
    /// A handler component, instantiated fresh per request.
    Component(Arc<Component>),
    /// A native handler.
    Native(Arc<dyn NativeHandler>),
}

/// A route's target and the host policies that wrap it.
struct Route {
    target: Target,
    /// The route's middleware chain (group's, then its own), run after the global one.
    middleware: Vec<Arc<Component>>,
    /// `None` when CORS is off for this route (no global policy, or opted out).
    cors: Option<Arc<CorsPolicy>>,
    /// Added to successful responses that have no `Cache-Control` of their own.
    cache_control: Option<HeaderValue>,
    /// `Cache-Control` for this route's errors; `None` uses the global one.
    error_cache_control: Option<HeaderValue>,
    /// `None` when compression is off for this route.
    compression: Option<Arc<CompressionConfig>>,
    /// Checks before the component runs.
    validation: Option<Validation>,
}

/// Routes and the components behind them: built whole, then served, never mutated.
pub struct App {
    routes: Routes<Route>,
    components: BTreeMap<String, Arc<Component>>,
    /// The global middleware chain.
    middleware: Vec<Arc<Component>>,
    strip_prefixes: Vec<Prefix>,
    cors: Option<Arc<CorsPolicy>>,
    compression: Option<Arc<CompressionConfig>>,
    error_format: ErrorFormat,
    error_cache_control: Option<HeaderValue>,
    max_request_body: usize,
    /// Whether the Lambda loop answers admin events.
    admin_events: bool,
    /// Answers requests no route matches, when configured.
    not_found: Option<Arc<Component>>,
    /// The most middleware any route has of its own (group's and route's).
    longest_route_chain: usize,
}

impl App {
    /// An app with no routes; add some with [`App::route`].
    #[must_use]
    pub fn empty() -> Self {
        Self {
            routes: Routes::default(),
            components: BTreeMap::new(),
            middleware: Vec::new(),
            strip_prefixes: Vec::new(),
            cors: None,
            compression: None,
            error_format: ErrorFormat::default(),
            error_cache_control: None,
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
            admin_events: false,
            not_found: None,
            longest_route_chain: 0,
        }
    }

    /// Loads every component in `config` and builds the route table.
    ///
    /// # Errors
    ///
    /// When a component fails to load (the message names it and the stage that failed) or
    /// a route is invalid or conflicts with another (naming both).
    pub fn from_config(config: &Config, runtime: &Runtime) -> anyhow::Result<Self> {
        let mut app = Self::empty();
        app.strip_prefixes = config
            .strip_prefixes
            .iter()
            .enumerate()
            .map(|(i, p)| Prefix::compile(p, i))
            .collect::<anyhow::Result<_>>()?;
        app.cors = config
            .cors
            .as_ref()
            .map(|c| CorsPolicy::from_config(c, "cors").map(Arc::new))
            .transpose()?;
        app.compression = config.compression.clone().map(Arc::new);
        app.error_format = config.error_format;
        app.error_cache_control = config
            .error_cache_control
            .as_deref()
            .map(|v| header_value(v, "error-cache-control"))
            .transpose()?;
        app.admin_events = config.admin_events;
        app.max_request_body = config
            .max_request_body
            .map_or(DEFAULT_MAX_REQUEST_BODY, |b| b.0);
        for (name, component) in &config.components {
            let spec = config.component_spec(component);
            let component = Component::load(runtime, name, &spec)
                .with_context(|| format!("components.{name}: loading {}", spec.source))?;
            tracing::info!(
                component = name.as_str(),
                kind = component.kind().as_str(),
                source = %spec.source,
                sha256 = component.digest(),
                code = component.code_source().as_str(),
                "component loaded"
            );
            app.components.insert(name.clone(), Arc::new(component));
        }
        app.not_found = config
            .not_found
            .as_ref()
            .map(|name| app.component(name, Kind::Handler, "not-found"))
            .transpose()?;
        app.middleware = config
            .middleware
            .iter()
            .enumerate()
            .map(|(i, name)| app.component(name, Kind::Middleware, &format!("middleware[{i}]")))
            .collect::<anyhow::Result<_>>()?;
        for (origin, route) in config.all_routes() {
            let method = MethodFilter::parse(&route.method)
                .map_err(|e| anyhow::anyhow!("{origin}.method: {e}"))?;
            let handler = app.component(
                &route.component,
                Kind::Handler,
                &format!("{origin}.component"),
            )?;
            let middleware: Vec<Arc<Component>> = route
                .middleware
                .iter()
                .map(|name| app.component(name, Kind::Middleware, &format!("{origin}.middleware")))
                .collect::<anyhow::Result<_>>()?;
            let cors = match &route.cors {
                None | Some(RouteCors::Enabled(true)) => app.cors.clone(),
                Some(RouteCors::Enabled(false)) => None,
                Some(RouteCors::Policy(policy)) => Some(Arc::new(CorsPolicy::from_config(
                    policy,
                    &format!("{origin}.cors"),
                )?)),
            };
            let cache_control = route
                .cache_control
                .as_deref()
                .map(|v| header_value(v, &format!("{origin}.cache-control")))
                .transpose()?;
            let error_cache_control = route
                .error_cache_control
                .as_deref()
                .map(|v| header_value(v, &format!("{origin}.error-cache-control")))
                .transpose()?;
            let compression = match &route.compression {
                Some(RouteCompression::Enabled(false)) => None,
                None | Some(RouteCompression::Enabled(true)) => app.compression.clone(),
                Some(RouteCompression::Settings(settings)) => Some(Arc::new(settings.clone())),
            };
            let validation = route
                .validate
                .as_ref()
                .map(|v| Validation::compile(v, &config.base_dir, &origin))
                .transpose()?;
            app.longest_route_chain = app.longest_route_chain.max(middleware.len());
            let bound = Route {
                target: Target::Component(handler),
                middleware,
                cors,
                cache_control,
                error_cache_control,
                compression,
                validation,
            };
            app.routes
                .add(method, &route.path, bound, &origin)
                .map_err(anyhow::Error::msg)?;
        }
        Ok(app)
    }

    /// Binds `method` and `path` to `target` (for apps built in code).
    ///
    /// # Errors
    ///
    /// As [`Routes::add`].
    pub fn route(&mut self, method: &str, path: &str, target: Target) -> Result<(), String> {
        let method = MethodFilter::parse(method)?;
        let origin = format!("{method:?} {path}");
        let route = Route {
            target,
            middleware: Vec::new(),
            cors: self.cors.clone(),
            cache_control: None,
            error_cache_control: None,
            compression: self.compression.clone(),
            validation: None,
        };
        self.routes.add(method, path, route, &origin)
    }

    /// Whether the config enables admin events (`admin-events = true`).
    #[must_use]
    pub fn admin_events(&self) -> bool {
        self.admin_events
    }

    /// The most component instances one request can hold at once: the global middleware,
    /// the longest route chain, and the handler (middleware that pass a request on with
    /// `next` keep their instance until the response comes back).
    #[must_use]
    pub fn longest_chain(&self) -> usize {
        self.middleware.len() + self.longest_route_chain + 1
    }

    /// The loaded components, by name.
    #[must_use]
    pub fn components(&self) -> &BTreeMap<String, Arc<Component>> {
        &self.components
    }

    /// The loaded component `name`, which `setting` needs to be of `kind`.
    fn component(&self, name: &str, kind: Kind, setting: &str) -> anyhow::Result<Arc<Component>> {
        let component = &self.components[name];
        if component.kind() != kind {
            anyhow::bail!(
                "{setting}: {name:?} is a {} component, not a {} (it exports lamina:http/request-{})",
                component.kind().as_str(),
                kind.as_str(),
                component.kind().as_str(),
            );
        }
        Ok(component.clone())
    }

    /// Puts `middleware` (a middleware component) in front of every request, after the
    /// middleware already there (for apps built in code).
    ///
    /// # Errors
    ///
    /// When `middleware` is a handler component.
    pub fn wrap(&mut self, middleware: Arc<Component>) -> anyhow::Result<()> {
        if middleware.kind() != Kind::Middleware {
            anyhow::bail!(
                "{:?} is a handler component, not a middleware",
                middleware.name()
            );
        }
        self.middleware.push(middleware);
        Ok(())
    }

    /// The limits events are decoded within (`max-request-body`).
    #[must_use]
    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_body: self.max_request_body,
        }
    }

    /// Decodes a Lambda payload within this app's limits.
    ///
    /// # Errors
    ///
    /// As [`event::decode_with`].
    pub fn decode(
        &self,
        payload: &[u8],
        request_id: &str,
    ) -> Result<(Origin, Request), DecodeError> {
        event::decode_with(payload, request_id, &self.decode_limits())
    }

    /// One invocation, start to finish, as the Lambda loop and `lamina invoke` run it:
    /// decode `payload`, run the pipeline (component time cut to fit `deadline`, when the
    /// invocation has one), and encode the reply in the source's shape. A request the host
    /// refuses at decode (a header that is not valid HTTP, a body over the limit) is
    /// answered in the source's shape too.
    ///
    /// # Errors
    ///
    /// When the payload is not a servable HTTP event: the caller fails the invocation with
    /// [`DecodeError::error_type`] and the error's message.
    pub async fn answer(
        &self,
        payload: &[u8],
        request_id: &str,
        deadline: Option<SystemTime>,
    ) -> Result<Vec<u8>, DecodeError> {
        match self.decode(payload, request_id) {
            Ok((origin, mut request)) => {
                request.context.deadline = deadline;
                let (response, accept_encoding) = self.run(request, None).await;
                Ok(self.encode(origin, response, accept_encoding.as_deref(), request_id))
            }
            Err(DecodeError::Rejected { origin, error }) => {
                Ok(event::encode(origin, &self.render(error, request_id, None)))
            }
            Err(error) => Err(error),
        }
    }

    /// Runs the pipeline. Never fails: every error becomes a response with the request id.
    pub async fn handle(&self, request: Request) -> Response {
        self.run(request, None).await.0
    }

    /// [`App::handle`], adding the time each stage of a component call took to `timings`
    /// (for the pipeline benchmark). Native routes add nothing.
    #[doc(hidden)]
    pub async fn handle_timed(&self, request: Request, timings: &mut CallTimings) -> Response {
        self.run(request, Some(timings)).await.0
    }

    /// The pipeline: what later stages need (origin, HEAD) is read before the request is
    /// consumed. Host stages wrap the middleware chain: CORS preflights are answered before
    /// it, and `Cache-Control`, CORS headers and compression are added to whatever comes
    /// out of it, errors and short-circuits included. Returns the response and the
    /// client's `Accept-Encoding`, which encoding for the source may need again.
    async fn run(
        &self,
        mut request: Request,
        timings: Option<&mut CallTimings>,
    ) -> (Response, Option<String>) {
        let request_id = request.context.request_id.clone();
        let origin = request.header("origin").map(str::to_owned);
        // Every `Accept-Encoding` line counts: REST and multi-value ALB events, and clients,
        // may send the list on several lines (RFC 9110 §5.3).
        let accept_encoding = request.header_list("accept-encoding").map(Cow::into_owned);
        let head = request.method == Method::HEAD;
        self.strip_prefix(&mut request);
        if cors::is_preflight(&request)
            && let Some(response) = self.preflight(&request, origin.as_deref())
        {
            return (response, accept_encoding);
        }
        let routed = self.resolve(&request);
        let route = routed.route();
        let mut response = if request.body.len() > self.max_request_body {
            let error = Error::PayloadTooLarge {
                size: Some(request.body.len()),
                limit: self.max_request_body,
            };
            self.render(error, &request_id, route)
        } else {
            self.through_chain(request, routed, timings).await
        };
        if let Some(value) = route.and_then(|r| r.cache_control.as_ref())
            && response.status.is_success()
            && !response.headers.contains_key(header::CACHE_CONTROL)
        {
            response
                .headers
                .insert(header::CACHE_CONTROL, value.clone());
        }
        // The route's policy when one matched, the global one for 404s and the like.
        let cors = route.map_or(self.cors.as_ref(), |r| r.cors.as_ref());
        if let Some(policy) = cors {
            policy.apply(origin.as_deref(), &mut response.headers);
        }
        // Compression comes last on the way out, after every header is in place.
        let compression = route.map_or(self.compression.as_ref(), |r| r.compression.as_ref());
        if let Some(config) = compression {
            compress::compress(&mut response, accept_encoding.as_deref(), config);
        }
        if head {
            // HEAD is answered by the GET route; the body goes, the headers stay.
            response.body = Bytes::new();
        }
        (response, accept_encoding)
    }

    /// Answers a CORS preflight for a path that exists; `None` lets routing answer it
    /// (no such path → 404, CORS off for the route → whatever the route says).
    fn preflight(&self, request: &Request, origin: Option<&str>) -> Option<Response> {
        let asked = request
            .header("access-control-request-method")
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())?;
        let methods = self.routes.methods(&request.route_path)?;
        let policy = match self.routes.at(&asked, &request.route_path) {
            Ok(hit) => hit.target.cors.as_ref()?,
            Err(_) => self.cors.as_ref()?,
        };
        Some(policy.preflight(origin, &methods))
    }

    /// Where the route table sends the request.
    fn resolve(&self, request: &Request) -> Routed<'_> {
        match self.routes.at(&request.method, &request.route_path) {
            Ok(hit) => Routed::Matched {
                route: hit.target,
                template: hit.template,
                params: hit.params,
            },
            Err(Miss::NotFound) => Routed::NotFound,
            Err(Miss::MethodNotAllowed { allow }) => Routed::MethodNotAllowed {
                allow,
                first: self.routes.first(&request.route_path),
            },
        }
    }

    /// Runs the middleware chain around the routed target. Global middleware see every
    /// request that reached routing (with an empty route template when none matched); the
    /// route's own middleware only its requests. On the way back every middleware that
    /// asked to see the response gets it, in reverse order, with errors already rendered:
    /// a short-circuit, a failing middleware or a failing handler all unwind the same way.
    async fn through_chain(
        &self,
        request: Request,
        routed: Routed<'_>,
        timings: Option<&mut CallTimings>,
    ) -> Response {
        let request_id = request.context.request_id.clone();
        let route = routed.route();
        let route_chain = match &routed {
            Routed::Matched { route, .. } => route.middleware.as_slice(),
            _ => &[],
        };
        let mut entered: Vec<Entered<'_>> = Vec::new();
        let result = 'chain: {
            let mut request = request;
            for middleware in self.middleware.iter().chain(route_chain) {
                let info = routed.info();
                match middleware.on_request(request, info).await {
                    Ok(Flow::Next(next, waiting)) => {
                        request = next;
                        entered.extend(waiting);
                    }
                    Ok(Flow::Respond(response)) => break 'chain Ok(response),
                    Err(error) => break 'chain Err(error),
                }
            }
            self.call(request, routed, timings).await
        };
        let mut response = match result {
            Ok(response) => response,
            Err(error) => self.render(error, &request_id, route),
        };
        while let Some(waiting) = entered.pop() {
            // A failed on-response is replaced by its error (rendering logs it).
            response = match waiting.on_response(response).await {
                Ok(response) => response,
                Err(error) => self.render(error, &request_id, route),
            };
        }
        response
    }

    /// Calls what routing found: the route's validation then its target, the not-found
    /// component, or the host's 404/405.
    async fn call(
        &self,
        request: Request,
        routed: Routed<'_>,
        timings: Option<&mut CallTimings>,
    ) -> Result<Response, Error> {
        match routed {
            Routed::Matched {
                route,
                template,
                params,
            } => {
                if let Some(validation) = &route.validation {
                    validation.check(&request, &params)?;
                }
                match &route.target {
                    Target::Component(handler) => {
                        let info = RouteInfo { template, params };
                        handler.handle(request, info, timings).await
                    }
                    Target::Native(native) => native.handle(request, template, params),
                }
            }
            Routed::NotFound => match &self.not_found {
                // The not-found component sees an empty route template.
                Some(handler) => {
                    let info = RouteInfo {
                        template: "",
                        params: Vec::new(),
                    };
                    handler.handle(request, info, timings).await
                }
                None => Err(Error::NotFound { path: request.path }),
            },
            Routed::MethodNotAllowed { allow, .. } => Err(Error::MethodNotAllowed {
                method: request.method,
                allow,
            }),
        }
    }

    /// An error as a response in this app's format, with the `error-cache-control` of
    /// `route` (its own or its group's), else the global one.
    fn render(&self, error: Error, request_id: &str, route: Option<&Route>) -> Response {
        let mut response = error.into_response(request_id, self.error_format);
        let cache_control = route
            .and_then(|r| r.error_cache_control.as_ref())
            .or(self.error_cache_control.as_ref());
        if let Some(value) = cache_control {
            response
                .headers
                .insert(header::CACHE_CONTROL, value.clone());
        }
        response
    }

    /// Removes the first configured prefix that matches whole segments of the path, from
    /// the routing form and from the decoded path alike.
    fn strip_prefix(&self, request: &mut Request) {
        let Some(len) = self
            .strip_prefixes
            .iter()
            .find_map(|prefix| prefix.matched_len(&request.route_path))
        else {
            return;
        };
        // The decoded path is the routing form decoded, so its prefix is the decoded prefix.
        let decoded_len = event::decode_param(&request.route_path[..len]).len();
        let rest = |path: &str, at: usize| match &path[at.min(path.len())..] {
            "" => "/".to_owned(),
            rest => rest.to_owned(),
        };
        request.path = rest(&request.path, decoded_len);
        request.route_path = rest(&request.route_path, len);
    }

    /// Encodes `response` for `origin`, keeping it under the source's payload limit: if
    /// the encoded reply is too large it is compressed with what the client accepts, and if
    /// it still does not fit it becomes a `502` naming the size and the limit, instead of
    /// the Lambda-level failure the client would otherwise get.
    #[must_use]
    pub fn encode(
        &self,
        origin: Origin,
        mut response: Response,
        accept_encoding: Option<&str>,
        request_id: &str,
    ) -> Vec<u8> {
        let limit = origin.response_limit();
        let encoded = event::encode(origin, &response);
        if encoded.len() <= limit {
            return encoded;
        }
        if compress::compress_to_fit(&mut response, accept_encoding) {
            let encoded = event::encode(origin, &response);
            if encoded.len() <= limit {
                return encoded;
            }
        }
        let error = Error::ResponseTooLarge {
            size: encoded.len(),
            limit,
        };
        event::encode(origin, &error.into_response(request_id, self.error_format))
    }

    /// `error` as a response in this app's error format, for requests refused before
    /// routing (a header that is not valid HTTP, a body over the limit, ...).
    #[must_use]
    pub fn reject(&self, error: Error, request_id: &str) -> Response {
        self.render(error, request_id, None)
    }

    /// The largest request body the app accepts (`max-request-body`).
    #[must_use]
    pub fn max_request_body(&self) -> usize {
        self.max_request_body
    }
}

/// What routing found for a request.
enum Routed<'a> {
    /// A route matched.
    Matched {
        route: &'a Route,
        template: &'a Arc<str>,
        params: Vec<(String, String)>,
    },
    /// No route has the path.
    NotFound,
    /// The path exists with other methods; `first` is one of its routes (for CORS).
    MethodNotAllowed {
        allow: Vec<Method>,
        first: Option<&'a Route>,
    },
}

impl<'a> Routed<'a> {
    /// The route whose policies (CORS, compression, `Cache-Control`) apply, if any.
    fn route(&self) -> Option<&'a Route> {
        match self {
            Self::Matched { route, .. } => Some(route),
            Self::MethodNotAllowed { first, .. } => *first,
            Self::NotFound => None,
        }
    }

    /// The route template and parameters a middleware sees (empty when none matched).
    fn info(&self) -> RouteInfo<'a> {
        match self {
            Self::Matched {
                template, params, ..
            } => RouteInfo {
                template,
                params: params.clone(),
            },
            _ => RouteInfo {
                template: "",
                params: Vec::new(),
            },
        }
    }
}
