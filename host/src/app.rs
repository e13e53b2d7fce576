//! `App`: one immutable snapshot of routes and components, and the request pipeline.

use crate::component::{Entered, Flow, Guest, Handler, Kind, Middleware, RouteInfo, Runtime};
use crate::config::{Config, RouteConfig};
use crate::cors::{self, CorsPolicy};
use crate::direct::FunctionError;
use crate::error::{Error, ErrorFormat};
use crate::event::{self, DecodeError, DecodeLimits, EventFormat};
use crate::fetch::Location;
use crate::limits::DEFAULT_MAX_REQUEST_BODY;
use crate::observe::{Observe, RequestRecord};
use crate::policy::{Defaults, Policies, Seen};
use crate::prefix::Prefix;
use crate::request::{Invocation, Request};
use crate::response::Response;
use crate::route::{MethodFilter, Miss, Routes};
use anyhow::Context as _;
use http::{HeaderValue, Method, header};
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::Instrument as _;

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

    /// What `lamina check` shows as the route's target.
    fn describe(&self) -> &str {
        "(native)"
    }
}

/// What a route is bound to.
#[derive(Clone)]
pub enum Target {
    /// A handler component, instantiated fresh per request.
    Component(Handler),
    /// A native handler.
    Native(Arc<dyn NativeHandler>),
}

/// A route's target and the host policies that wrap it.
struct Route {
    target: Target,
    /// The route's middleware chain (group's, then its own), run after the global one.
    middleware: Vec<Middleware>,
    /// Its host stages: validation, Cache-Control, CORS, compression.
    policies: Policies,
    /// Its errors become Lambda function errors (direct invocations): rendered in
    /// Lamina's format and marked with their function error type.
    function_errors: bool,
}

/// `[direct]`: the route non-HTTP payloads take, and how they become requests.
struct DirectRoute {
    route: Route,
    selector: crate::direct::Selector,
}

/// Routes and the components behind them: built whole, then served, never mutated.
pub struct App {
    routes: Routes<Route>,
    components: BTreeMap<String, Arc<Guest>>,
    /// The global middleware chain.
    middleware: Vec<Middleware>,
    strip_prefixes: Vec<Prefix>,
    /// The global policies: for requests no route matches, and routes' defaults.
    policies: Policies,
    error_format: ErrorFormat,
    error_cache_control: Option<HeaderValue>,
    max_request_body: usize,
    /// Whether the Lambda loop answers admin events.
    admin_events: bool,
    /// Answers requests no route matches, when configured.
    not_found: Option<Handler>,
    /// The most middleware any route has of its own (group's and route's).
    longest_route_chain: usize,
    /// Where payloads that are not HTTP events go, when configured.
    direct: Option<DirectRoute>,
    /// `[logging]` and `[metrics]`: the access line, debug sampling, EMF metrics.
    observe: Observe,
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
            policies: Policies::default(),
            error_format: ErrorFormat::default(),
            error_cache_control: None,
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
            admin_events: false,
            not_found: None,
            longest_route_chain: 0,
            direct: None,
            observe: Observe::default(),
        }
    }

    /// Reads the config at `location` and builds the app from it: the one way every front
    /// door (the Lambda loop, `lamina serve`, `invoke`, `check`, a reload) makes an app.
    ///
    /// # Errors
    ///
    /// As [`Config::fetch`] and [`App::from_config`].
    pub fn load(location: &Location, runtime: &Runtime) -> anyhow::Result<(Config, Self)> {
        let config = Config::fetch(location, runtime.fetcher())?;
        let app = Self::from_config(&config, runtime)?;
        Ok((config, app))
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
        let cors = config
            .cors
            .as_ref()
            .map(|c| CorsPolicy::from_config(c, "cors").map(Arc::new))
            .transpose()?;
        let compression = config.compression.clone().map(Arc::new);
        let defaults = Defaults {
            cors: cors.as_ref(),
            compression: compression.as_ref(),
            base_dir: &config.base_dir,
        };
        app.policies = Policies::global(&defaults);
        app.error_format = config.error_format;
        app.error_cache_control = config
            .error_cache_control
            .as_deref()
            .map(|v| header_value(v, "error-cache-control"))
            .transpose()?;
        app.admin_events = config.admin_events;
        app.observe =
            Observe::from_config(&config.logging, config.metrics.as_ref(), &config.tracing)?;
        app.max_request_body = config
            .max_request_body
            .map_or(DEFAULT_MAX_REQUEST_BODY, |b| b.0);
        // Stores open before any component can use them, so a damaged or locked store file
        // stops the start-up with its name rather than failing requests later.
        for name in config.key_value.keys() {
            let spec = config.store_spec(name)?;
            crate::component::caps::kv::open(&spec)
                .with_context(|| format!("key-value.{name}: opening {}", spec.describe()))?;
        }
        let specs = config
            .components
            .keys()
            .map(|name| Ok((name.clone(), config.component_spec(name)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let sources: Vec<String> = specs.iter().map(|(_, s)| s.source.to_string()).collect();
        for ((name, guest), source) in Guest::load_all(runtime, specs).into_iter().zip(sources) {
            let guest = guest.with_context(|| format!("components.{name}: loading {source}"))?;
            tracing::info!(
                component = name.as_str(),
                kind = guest.kind().as_str(),
                source = %source,
                sha256 = guest.digest(),
                code = guest.code_source().as_str(),
                "component loaded"
            );
            app.components.insert(name.clone(), Arc::new(guest));
        }
        app.not_found = config
            .not_found
            .as_ref()
            .map(|name| app.handler(name, "not-found"))
            .transpose()?;
        app.middleware = config
            .middleware
            .iter()
            .enumerate()
            .map(|(i, name)| app.middleware_named(name, &format!("middleware[{i}]")))
            .collect::<anyhow::Result<_>>()?;
        for (at, route) in config.all_routes() {
            let method = MethodFilter::parse(&route.method)
                .map_err(|e| anyhow::anyhow!("{at}.method: {e}"))?;
            let handler = app.handler(&route.component, &format!("{at}.component"))?;
            let middleware: Vec<Middleware> = route
                .middleware
                .iter()
                .map(|name| app.middleware_named(name, &format!("{at}.middleware")))
                .collect::<anyhow::Result<_>>()?;
            let policies = Policies::compile(&route, &defaults, &at)?;
            app.longest_route_chain = app.longest_route_chain.max(middleware.len());
            let bound = Route {
                target: Target::Component(handler),
                middleware,
                policies,
                function_errors: route.function_errors,
            };
            app.routes
                .add(method, &route.path, bound, &at)
                .map_err(anyhow::Error::msg)?;
        }
        if let Some(direct) = &config.direct {
            let handler = app.handler(&direct.component, "direct.component")?;
            let middleware = direct
                .middleware
                .iter()
                .enumerate()
                .map(|(i, name)| app.middleware_named(name, &format!("direct.middleware[{i}]")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let chain = app
                .middleware
                .iter()
                .chain(&middleware)
                .map(Middleware::guest);
            if let Some(old) = [handler.guest()]
                .into_iter()
                .chain(chain)
                .find(|guest| !guest.contract().sees_direct())
            {
                anyhow::bail!(
                    "direct: component {:?} is built against {}, which cannot receive a direct \
                     invocation (its `source` has no `direct`); rebuild it with a 0.2 SDK or \
                     keep it out of the global middleware and [direct]",
                    old.name(),
                    old.contract().as_str()
                );
            }
            let as_route = RouteConfig {
                method: "POST".to_owned(),
                path: "/".to_owned(),
                component: direct.component.clone(),
                cors: Some(crate::config::RouteCors::Enabled(false)),
                cache_control: None,
                error_cache_control: None,
                compression: Some(crate::config::RouteCompression::Enabled(false)),
                validate: direct.validate.clone(),
                middleware: Vec::new(),
                function_errors: true,
                openapi: None,
            };
            app.direct = Some(DirectRoute {
                route: Route {
                    target: Target::Component(handler),
                    middleware,
                    policies: Policies::compile(&as_route, &defaults, "direct")?,
                    function_errors: true,
                },
                selector: crate::direct::Selector::new(direct),
            });
        }
        crate::openapi::bind(&mut app, config)?;
        app.observe.serve();
        Ok(app)
    }

    /// Binds `method` and `path` to `target` (for apps built in code).
    ///
    /// # Errors
    ///
    /// As [`Routes::add`].
    pub fn route(&mut self, method: &str, path: &str, target: Target) -> Result<(), String> {
        let method = MethodFilter::parse(method)?;
        let at = format!("{method} {path}");
        let route = Route {
            target,
            middleware: Vec::new(),
            policies: self.policies.clone(),
            function_errors: false,
        };
        self.routes.add(method, path, route, &at)
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
    pub fn components(&self) -> &BTreeMap<String, Arc<Guest>> {
        &self.components
    }

    /// The loaded component `name` as a handler, which `setting` needs it to be.
    fn handler(&self, name: &str, setting: &str) -> anyhow::Result<Handler> {
        let guest = self.guest(name, setting)?;
        guest
            .as_handler()
            .ok_or_else(|| wrong_kind(setting, name, guest.kind(), Kind::Handler))
    }

    /// The loaded component `name` as a middleware, which `setting` needs it to be.
    fn middleware_named(&self, name: &str, setting: &str) -> anyhow::Result<Middleware> {
        let guest = self.guest(name, setting)?;
        guest
            .as_middleware()
            .ok_or_else(|| wrong_kind(setting, name, guest.kind(), Kind::Middleware))
    }

    fn guest(&self, name: &str, setting: &str) -> anyhow::Result<&Arc<Guest>> {
        self.components
            .get(name)
            .with_context(|| format!("{setting}: no component named {name:?}"))
    }

    /// Puts `middleware` in front of every request, after the middleware already there
    /// (for apps built in code). Unlike a config, this does not refuse a `lamina:http@0.1.0`
    /// middleware when the app serves direct invocations: such a request fails in it with
    /// a message saying so.
    pub fn wrap(&mut self, middleware: Middleware) {
        self.middleware.push(middleware);
    }

    /// One line per route, for `lamina check`: `GET /todos/{id} -> auth -> todos`, the
    /// route's own chain (group and route middleware) before its handler; the global
    /// chain is [`App::global_middleware`].
    #[must_use]
    pub fn describe_routes(&self) -> Vec<String> {
        self.routes
            .iter()
            .map(|(method, template, route)| {
                let chain: String = route
                    .middleware
                    .iter()
                    .map(|m| format!("{} -> ", m.guest().name()))
                    .collect();
                let target = match &route.target {
                    Target::Component(handler) => handler.guest().name().to_owned(),
                    Target::Native(native) => native.describe().to_owned(),
                };
                format!("{method} {template} -> {chain}{target}")
            })
            .collect()
    }

    /// The global middleware chain, by component name.
    #[must_use]
    pub fn global_middleware(&self) -> Vec<&str> {
        self.middleware.iter().map(|m| m.guest().name()).collect()
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
    ) -> Result<(EventFormat, Request), DecodeError> {
        event::decode_with(payload, request_id, &self.decode_limits())
    }

    /// One invocation, start to finish, as the Lambda loop and `lamina invoke` run it:
    /// decode `payload`, run the pipeline (component time cut to fit the invocation's
    /// deadline, when it has one), and encode the reply in the source's shape; one access
    /// line at the end ([`crate::observe`]). A request the host
    /// refuses at decode (a header that is not valid HTTP, a body over the limit) is
    /// answered in the source's shape too. A payload that is not an HTTP event goes to the
    /// `[direct]` component when there is one ([`crate::direct`]).
    ///
    /// # Errors
    ///
    /// When the payload is not a servable HTTP event (and there is no `[direct]`), or a
    /// direct invocation ends in an error: the caller fails the invocation with the
    /// error's type and message.
    pub async fn answer(
        &self,
        payload: &[u8],
        invocation: &Invocation,
    ) -> Result<Vec<u8>, FunctionError> {
        let mut record = RequestRecord::start(&self.observe, invocation);
        let span = record.span().clone();
        let result = self
            .answer_recorded(payload, invocation, &mut record)
            .instrument(span)
            .await;
        if let Err(error) = &result {
            record.fail(&error.error_type);
        }
        record.finish();
        result
    }

    /// [`App::answer`], writing what happens in `record`.
    async fn answer_recorded(
        &self,
        payload: &[u8],
        invocation: &Invocation,
        record: &mut RequestRecord,
    ) -> Result<Vec<u8>, FunctionError> {
        let request_id = invocation.request_id.as_str();
        match self.decode(payload, request_id) {
            Ok((format, mut request)) => {
                request.context.deadline = invocation.deadline;
                request
                    .context
                    .trace_header
                    .clone_from(&invocation.trace_header);
                record.request(&request);
                let (mut response, accept_encoding) = self.run(request, record).await;
                record.respond(response.status.as_u16(), response.body.len());
                // A route with `function-errors`: its error fails the invocation.
                if response.status.as_u16() >= 400
                    && response.headers.contains_key(crate::direct::ERROR_TYPE)
                {
                    return crate::direct::result(response, request_id);
                }
                response.headers.remove(crate::direct::ERROR_TYPE);
                Ok(self.encode(format, response, accept_encoding.as_deref(), request_id))
            }
            Err(DecodeError::Rejected { format, error }) => {
                let response = self.render(error, request_id, None);
                record.respond(response.status.as_u16(), response.body.len());
                Ok(event::encode(format, &response))
            }
            // Not an HTTP event (what it is not does not matter): the direct route's.
            Err(DecodeError::Unsupported { .. } | DecodeError::InvalidField { .. })
                if self.direct.is_some() =>
            {
                Ok(self.answer_direct(payload, invocation, record).await?)
            }
            Err(error) => {
                tracing::error!(error = %format!("{}: {error}", error.error_type()), "event rejected");
                Err(FunctionError::refused(
                    error.error_type(),
                    error.to_string(),
                ))
            }
        }
    }

    /// A direct invocation: the payload as a request through the global middleware and
    /// `[direct]`'s route; its result, or the function error its error response stands for.
    async fn answer_direct(
        &self,
        payload: &[u8],
        invocation: &Invocation,
        record: &mut RequestRecord,
    ) -> Result<Vec<u8>, FunctionError> {
        let request_id = invocation.request_id.as_str();
        let Some(direct) = &self.direct else {
            return Err(FunctionError::refused(
                "Lamina.Internal",
                "no [direct] section".to_owned(),
            ));
        };
        let route = &direct.route;
        let response = match direct.selector.request(payload, request_id) {
            Err(error) => self.render(error, request_id, Some(route)),
            Ok((mut request, params)) => {
                request.context.deadline = invocation.deadline;
                request
                    .context
                    .trace_header
                    .clone_from(&invocation.trace_header);
                record.request(&request);
                record.route(&direct.selector.template);
                if request.body.len() > self.max_request_body {
                    let error = Error::PayloadTooLarge {
                        size: Some(request.body.len()),
                        limit: self.max_request_body,
                    };
                    self.render(error, request_id, Some(route))
                } else {
                    let routed = Routed::Matched {
                        route,
                        template: &direct.selector.template,
                        params,
                    };
                    self.through_chain(request, routed, record).await
                }
            }
        };
        record.respond(response.status.as_u16(), response.body.len());
        crate::direct::result(response, request_id)
    }

    /// Runs the pipeline. Never fails: every error becomes a response with the request id
    /// (a `function-errors` route's too: outside Lambda there is no function error).
    pub async fn handle(&self, request: Request) -> Response {
        let invocation = Invocation {
            request_id: request.context.request_id.clone(),
            deadline: request.context.deadline,
            trace_header: request.context.trace_header.clone(),
        };
        let mut record = RequestRecord::start(&self.observe, &invocation);
        record.request(&request);
        let span = record.span().clone();
        let mut response = self.run(request, &mut record).instrument(span).await.0;
        response.headers.remove(crate::direct::ERROR_TYPE);
        record.respond(response.status.as_u16(), response.body.len());
        record.finish();
        response
    }

    /// The pipeline: what later stages need (origin, HEAD) is read before the request is
    /// consumed. Host stages wrap the middleware chain: CORS preflights are answered before
    /// it, and `Cache-Control`, CORS headers and compression are added to whatever comes
    /// out of it, errors and short-circuits included. Returns the response and the
    /// client's `Accept-Encoding`, which encoding for the source may need again.
    async fn run(
        &self,
        mut request: Request,
        record: &mut RequestRecord,
    ) -> (Response, Option<String>) {
        let request_id = request.context.request_id.clone();
        let seen = Seen::of(&request);
        self.strip_prefix(&mut request);
        if cors::is_preflight(&request)
            && let Some(response) = self.preflight(&request, seen.origin.as_deref())
        {
            return (response, seen.accept_encoding);
        }
        let routed = self.resolve(&request);
        if let Routed::Matched { template, .. } = &routed {
            record.route(template);
        }
        let route = routed.route();
        let mut response = if request.body.len() > self.max_request_body {
            let error = Error::PayloadTooLarge {
                size: Some(request.body.len()),
                limit: self.max_request_body,
            };
            self.render(error, &request_id, route)
        } else {
            self.through_chain(request, routed, record).await
        };
        // The route's policies when one matched, the global ones for 404s and the like.
        route
            .map_or(&self.policies, |r| &r.policies)
            .finish(&seen, &mut response);
        (response, seen.accept_encoding)
    }

    /// Answers a CORS preflight for a path that exists; `None` lets routing answer it
    /// (no such path → 404, CORS off for the route → whatever the route says).
    fn preflight(&self, request: &Request, origin: Option<&str>) -> Option<Response> {
        let asked = request
            .header("access-control-request-method")
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())?;
        let methods = self.routes.methods(&request.route_path)?;
        let policy = match self.routes.at(&asked, &request.route_path) {
            Ok(hit) => hit.target.policies.cors.as_ref()?,
            Err(_) => self.policies.cors.as_ref()?,
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
        record: &mut RequestRecord,
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
                let name = middleware.guest().name();
                let (call, trace_header) = record.call();
                request.context.trace_header = trace_header;
                let outcome = record
                    .in_component(name, call, middleware.on_request(request, info))
                    .await;
                match outcome {
                    Ok(Flow::Next(next, waiting)) => {
                        request = next;
                        entered.extend(waiting);
                    }
                    Ok(Flow::Respond(response)) => break 'chain Ok(response),
                    Err(error) => break 'chain Err(error),
                }
            }
            self.call(request, routed, record).await
        };
        let mut response = match result {
            Ok(response) => response,
            Err(error) => {
                record.error(&error);
                self.render(error, &request_id, route)
            }
        };
        while let Some(waiting) = entered.pop() {
            // A failed on-response is replaced by its error (rendering logs it).
            let name = waiting.name().to_owned();
            let (call, _) = record.call();
            let outcome = record
                .in_component(&name, call, waiting.on_response(response))
                .await;
            response = match outcome {
                Ok(response) => response,
                Err(error) => {
                    record.error(&error);
                    self.render(error, &request_id, route)
                }
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
        record: &mut RequestRecord,
    ) -> Result<Response, Error> {
        match routed {
            Routed::Matched {
                route,
                template,
                params,
            } => {
                route.policies.check(&request, &params)?;
                match &route.target {
                    Target::Component(handler) => {
                        let info = RouteInfo { template, params };
                        call_handler(handler, request, info, record).await
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
                    call_handler(handler, request, info, record).await
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
        if route.is_some_and(|r| r.function_errors) {
            // A function error is read back from Lamina's format, whatever the config's.
            let error_type = crate::direct::error_type(&error);
            let mut response = error.into_response(request_id, ErrorFormat::Lamina);
            crate::direct::mark(&mut response, &error_type);
            return response;
        }
        let mut response = error.into_response(request_id, self.error_format);
        let cache_control = route
            .and_then(|r| r.policies.error_cache_control.as_ref())
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

    /// Encodes `response` for `format`, keeping it under the source's payload limit: if
    /// the encoded reply is too large it is compressed with what the client accepts, and if
    /// it still does not fit it becomes a `502` naming the size and the limit, instead of
    /// the Lambda-level failure the client would otherwise get.
    #[must_use]
    pub fn encode(
        &self,
        format: EventFormat,
        mut response: Response,
        accept_encoding: Option<&str>,
        request_id: &str,
    ) -> Vec<u8> {
        let limit = format.response_limit();
        let encoded = event::encode(format, &response);
        if encoded.len() <= limit {
            return encoded;
        }
        if crate::compress::compress_to_fit(&mut response, accept_encoding) {
            let encoded = event::encode(format, &response);
            if encoded.len() <= limit {
                return encoded;
            }
        }
        let error = Error::ResponseTooLarge {
            size: encoded.len(),
            limit,
        };
        event::encode(format, &error.into_response(request_id, self.error_format))
    }

    /// `error` as a response in this app's error format, for requests refused before
    /// routing (a header that is not valid HTTP, a body over the limit, ...).
    #[must_use]
    pub fn reject(&self, error: Error, request_id: &str) -> Response {
        let mut record = RequestRecord::start(&self.observe, &Invocation::new(request_id));
        let response = {
            let _inside = record.span().enter();
            self.render(error, request_id, None)
        };
        record.respond(response.status.as_u16(), response.body.len());
        record.finish();
        response
    }

    /// What the app observes (for the reloader's counts).
    pub(crate) fn observe(&self) -> &Observe {
        &self.observe
    }

    /// The largest request body the app accepts (`max-request-body`).
    #[must_use]
    pub fn max_request_body(&self) -> usize {
        self.max_request_body
    }
}

/// Calls `handler` as one traced, timed component call of the request `record` keeps.
async fn call_handler(
    handler: &Handler,
    mut request: Request,
    info: RouteInfo<'_>,
    record: &mut RequestRecord,
) -> Result<Response, Error> {
    let (call, trace_header) = record.call();
    request.context.trace_header = trace_header;
    record
        .in_component(handler.guest().name(), call, handler.handle(request, info))
        .await
}

/// The error for a component bound where the other kind is needed.
fn wrong_kind(setting: &str, name: &str, is: Kind, needs: Kind) -> anyhow::Error {
    anyhow::anyhow!(
        "{setting}: {name:?} is a {} component, not a {} (it exports {})",
        is.as_str(),
        needs.as_str(),
        is.export(),
    )
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
