//! `App`: one immutable snapshot of routes and components, and the request pipeline.

use crate::component::{CallTimings, Handler, RouteInfo, Runtime};
use crate::compress::{self, CompressionConfig};
use crate::config::{Config, RouteCompression, RouteCors};
use crate::cors::{self, CorsPolicy};
use crate::error::{Error, ErrorFormat};
use crate::event::{self, Origin};
use crate::limits::DEFAULT_MAX_REQUEST_BODY;
use crate::request::{Request, strip_segment_prefix};
use crate::response::Response;
use crate::route::{MethodFilter, Miss, Routes};
use crate::validate::Validation;
use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderValue, Method, header};
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// A component, instantiated fresh per request.
    Component(Arc<Handler>),
    /// A native handler.
    Native(Arc<dyn NativeHandler>),
}

/// A route's target and the host policies that wrap it.
struct Route {
    target: Target,
    /// `None` when CORS is off for this route (no global policy, or opted out).
    cors: Option<Arc<CorsPolicy>>,
    /// Added to successful responses that have no `Cache-Control` of their own.
    cache_control: Option<HeaderValue>,
    /// `None` when compression is off for this route.
    compression: Option<Arc<CompressionConfig>>,
    /// Checks before the component runs.
    validation: Option<Validation>,
}

/// Routes and the components behind them: built whole, then served, never mutated.
pub struct App {
    routes: Routes<Route>,
    components: BTreeMap<String, Arc<Handler>>,
    strip_prefixes: Vec<String>,
    cors: Option<Arc<CorsPolicy>>,
    compression: Option<Arc<CompressionConfig>>,
    error_format: ErrorFormat,
    error_cache_control: Option<HeaderValue>,
    max_request_body: usize,
    /// Answers requests no route matches, when configured.
    not_found: Option<Arc<Handler>>,
}

impl App {
    /// An app with no routes; add some with [`App::route`].
    #[must_use]
    pub fn empty() -> Self {
        Self {
            routes: Routes::default(),
            components: BTreeMap::new(),
            strip_prefixes: Vec::new(),
            cors: None,
            compression: None,
            error_format: ErrorFormat::default(),
            error_cache_control: None,
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
            not_found: None,
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
        app.strip_prefixes.clone_from(&config.strip_prefixes);
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
        app.max_request_body = config
            .max_request_body
            .map_or(DEFAULT_MAX_REQUEST_BODY, |b| b.0);
        for (name, component) in &config.components {
            let spec = config.handler_spec(component);
            let handler = Handler::load(runtime, name, &spec)
                .with_context(|| format!("components.{name}: loading {}", spec.path.display()))?;
            tracing::info!(
                component = name.as_str(),
                source = %spec.path.display(),
                sha256 = handler.digest(),
                precompiled = handler.precompiled(),
                "component loaded"
            );
            app.components.insert(name.clone(), Arc::new(handler));
        }
        app.not_found = config
            .not_found
            .as_ref()
            .map(|name| app.components[name].clone());
        for (origin, route) in config.all_routes() {
            let method = MethodFilter::parse(&route.method)
                .map_err(|e| anyhow::anyhow!("{origin}.method: {e}"))?;
            let handler = app.components[&route.component].clone();
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
            let bound = Route {
                target: Target::Component(handler),
                cors,
                cache_control,
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
            cors: self.cors.clone(),
            cache_control: None,
            compression: self.compression.clone(),
            validation: None,
        };
        self.routes.add(method, path, route, &origin)
    }

    /// The loaded components, by name.
    #[must_use]
    pub fn components(&self) -> &BTreeMap<String, Arc<Handler>> {
        &self.components
    }

    /// Runs the pipeline. Never fails: every error becomes a response with the request id.
    pub async fn handle(&self, request: Request) -> Response {
        self.run(request, None).await
    }

    /// [`App::handle`], adding the time each stage of a component call took to `timings`
    /// (for the pipeline benchmark). Native routes add nothing.
    #[doc(hidden)]
    pub async fn handle_timed(&self, request: Request, timings: &mut CallTimings) -> Response {
        self.run(request, Some(timings)).await
    }

    /// The pipeline: what later stages need (origin, HEAD) is read before the request is
    /// consumed; CORS wraps every answer, errors included.
    async fn run(&self, mut request: Request, timings: Option<&mut CallTimings>) -> Response {
        let request_id = request.context.request_id.clone();
        let origin = request.header("origin").map(str::to_owned);
        let accept_encoding = request.header("accept-encoding").map(str::to_owned);
        let head = request.method == Method::HEAD;
        self.strip_prefix(&mut request.path);
        if cors::is_preflight(&request)
            && let Some(response) = self.preflight(&request, origin.as_deref())
        {
            return response;
        }
        let (result, route) = self.dispatch(request, timings).await;
        let mut response = match result {
            Ok(mut response) => {
                if let Some(value) = route.and_then(|r| r.cache_control.as_ref())
                    && response.status.is_success()
                    && !response.headers.contains_key(header::CACHE_CONTROL)
                {
                    response
                        .headers
                        .insert(header::CACHE_CONTROL, value.clone());
                }
                response
            }
            Err(error) => {
                let mut response = error.into_response(&request_id, self.error_format);
                if let Some(value) = &self.error_cache_control {
                    response
                        .headers
                        .insert(header::CACHE_CONTROL, value.clone());
                }
                response
            }
        };
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
        response
    }

    /// Answers a CORS preflight for a path that exists; `None` lets routing answer it
    /// (no such path → 404, CORS off for the route → whatever the route says).
    fn preflight(&self, request: &Request, origin: Option<&str>) -> Option<Response> {
        let asked = request
            .header("access-control-request-method")
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())?;
        let methods = self.routes.methods(&request.path)?;
        let policy = match self.routes.at(&asked, &request.path) {
            Ok(hit) => hit.target.cors.as_ref()?,
            Err(_) => self.cors.as_ref()?,
        };
        Some(policy.preflight(origin, &methods))
    }

    /// Routes the request and calls its target; also returns the matched route.
    async fn dispatch(
        &self,
        request: Request,
        timings: Option<&mut CallTimings>,
    ) -> (Result<Response, Error>, Option<&Route>) {
        if request.body.len() > self.max_request_body {
            let error = Error::PayloadTooLarge {
                size: request.body.len(),
                limit: self.max_request_body,
            };
            return (Err(error), None);
        }
        let hit = match self.routes.at(&request.method, &request.path) {
            Ok(hit) => hit,
            Err(Miss::NotFound) => {
                if let Some(handler) = &self.not_found {
                    // The not-found component sees an empty route template.
                    let info = RouteInfo {
                        template: "",
                        params: Vec::new(),
                    };
                    return (handler.call(request, info, timings).await, None);
                }
                let error = Error::NotFound {
                    path: request.path.clone(),
                };
                return (Err(error), None);
            }
            Err(Miss::MethodNotAllowed { allow }) => {
                let error = Error::MethodNotAllowed {
                    method: request.method.clone(),
                    allow,
                };
                return (Err(error), self.routes.first(&request.path));
            }
        };
        let route = hit.target;
        if let Some(validation) = &route.validation
            && let Err(error) = validation.check(&request, &hit.params)
        {
            return (Err(error), Some(route));
        }
        let template = hit.template.clone();
        let result = match &route.target {
            Target::Component(handler) => {
                let info = RouteInfo {
                    template: &template,
                    params: hit.params,
                };
                handler.call(request, info, timings).await
            }
            Target::Native(native) => native.handle(request, &template, hit.params),
        };
        (result, Some(route))
    }

    /// Removes the first configured prefix that matches whole segments of `path`.
    fn strip_prefix(&self, path: &mut String) {
        if let Some(rest) = self
            .strip_prefixes
            .iter()
            .find_map(|prefix| strip_segment_prefix(path, prefix))
        {
            *path = rest.to_owned();
        }
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

    /// A 400 in this app's error format, for requests rejected before routing (an event
    /// whose body is not the base64 it claims to be, for example).
    #[must_use]
    pub fn reject(&self, message: String, request_id: &str) -> Response {
        Error::BadRequest { message }.into_response(request_id, self.error_format)
    }
}
