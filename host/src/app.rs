//! `App`: one immutable snapshot of routes and components, and the request pipeline.

use crate::component::{CallTimings, Handler, RouteInfo, Runtime};
use crate::config::Config;
use crate::error::Error;
use crate::request::{Request, strip_segment_prefix};
use crate::response::Response;
use crate::route::{MethodFilter, Miss, Routes};
use anyhow::Context as _;
use bytes::Bytes;
use http::Method;
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// Routes and the components behind them: built whole, then served, never mutated.
pub struct App {
    routes: Routes<Target>,
    components: BTreeMap<String, Arc<Handler>>,
    strip_prefixes: Vec<String>,
}

impl App {
    /// An app with no routes; add some with [`App::route`].
    #[must_use]
    pub fn empty() -> Self {
        Self {
            routes: Routes::default(),
            components: BTreeMap::new(),
            strip_prefixes: Vec::new(),
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
        for (i, route) in config.routes.iter().enumerate() {
            let origin = format!("routes[{i}]");
            let method = MethodFilter::parse(&route.method)
                .map_err(|e| anyhow::anyhow!("{origin}.method: {e}"))?;
            let handler = app.components[&route.component].clone();
            app.routes
                .add(method, &route.path, Target::Component(handler), &origin)
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
        self.routes.add(method, path, target, &origin)
    }

    /// The loaded components, by name.
    #[must_use]
    pub fn components(&self) -> &BTreeMap<String, Arc<Handler>> {
        &self.components
    }

    /// Runs the pipeline. Never fails: every error becomes a response with the request id.
    pub async fn handle(&self, request: Request) -> Response {
        let request_id = request.context.request_id.clone();
        let head = request.method == Method::HEAD;
        let mut response = match self.try_handle(request, None).await {
            Ok(response) => response,
            Err(error) => error.into_response(&request_id),
        };
        if head {
            // HEAD is answered by the GET route; the body goes, the headers stay.
            response.body = Bytes::new();
        }
        response
    }

    /// [`App::handle`], adding the time each stage of a component call took to `timings`
    /// (for the pipeline benchmark). Native routes add nothing.
    #[doc(hidden)]
    pub async fn handle_timed(&self, request: Request, timings: &mut CallTimings) -> Response {
        let request_id = request.context.request_id.clone();
        match self.try_handle(request, Some(timings)).await {
            Ok(response) => response,
            Err(error) => error.into_response(&request_id),
        }
    }

    async fn try_handle(
        &self,
        mut request: Request,
        timings: Option<&mut CallTimings>,
    ) -> Result<Response, Error> {
        self.strip_prefix(&mut request.path);
        let hit = self
            .routes
            .at(&request.method, &request.path)
            .map_err(|miss| match miss {
                Miss::NotFound => Error::NotFound {
                    path: request.path.clone(),
                },
                Miss::MethodNotAllowed { allow } => Error::MethodNotAllowed {
                    method: request.method.clone(),
                    allow,
                },
            })?;
        let template = hit.template.clone();
        match hit.target {
            Target::Component(handler) => {
                let route = RouteInfo {
                    template: &template,
                    params: hit.params,
                };
                handler.call(request, route, timings).await
            }
            Target::Native(native) => native.handle(request, &template, hit.params),
        }
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

    /// A 400 in this app's error format, for requests rejected before routing (an event
    /// whose body is not the base64 it claims to be, for example).
    #[must_use]
    pub fn reject(&self, message: String, request_id: &str) -> Response {
        Error::BadRequest { message }.into_response(request_id)
    }
}
