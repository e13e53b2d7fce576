//! Components: loading, and calling one in a fresh instance per request.

mod bindings;
mod engine;
mod loader;
mod state;

pub use engine::{PoolTuning, Runtime};
pub use loader::sha256_hex;

use crate::error::Error;
use crate::request::{Request, Source};
use crate::response::Response;
use bindings::{HandlerPre, wit};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use state::State;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::Store;

/// A loaded handler component: compiled and pre-instantiated once, instantiated per request.
pub struct Handler {
    name: Arc<str>,
    pre: HandlerPre<State>,
    config: Arc<BTreeMap<String, String>>,
    digest: String,
    precompiled: bool,
}

/// Time spent in each stage of component calls, summed (for the pipeline benchmark).
#[derive(Clone, Copy, Debug, Default)]
pub struct CallTimings {
    /// Building the `Store` (WASI context, resource table) and the guest's request record.
    pub store: Duration,
    /// Instantiating from the `InstancePre` (pool slot, memory image).
    pub instantiate: Duration,
    /// Lowering the request, running the guest, lifting the response.
    pub call: Duration,
    /// Dropping the store (returning the slot, resetting its memory).
    pub drop: Duration,
}

/// What the route gives the handler besides the request.
pub(crate) struct RouteInfo<'a> {
    pub(crate) template: &'a str,
    pub(crate) params: Vec<(String, String)>,
}

impl Handler {
    /// Loads a component file (see [`Runtime`]) under `name`, with its config values.
    ///
    /// # Errors
    ///
    /// When reading, verifying, compiling or linking fails; the message says which.
    pub fn load(
        runtime: &Runtime,
        name: &str,
        path: &Path,
        pin: Option<&str>,
        trust_precompiled: bool,
        config: BTreeMap<String, String>,
    ) -> anyhow::Result<Self> {
        let loaded = loader::load(runtime, path, pin, trust_precompiled)?;
        Ok(Self {
            name: Arc::from(name),
            pre: loaded.pre,
            config: Arc::new(config),
            digest: loaded.digest,
            precompiled: loaded.precompiled,
        })
    }

    /// The component's name in the config.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the loaded file, hex.
    #[must_use]
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether it was loaded from a precompiled `.cwasm`.
    #[must_use]
    pub fn precompiled(&self) -> bool {
        self.precompiled
    }

    /// Calls the component with `request` in a fresh instance.
    ///
    /// # Errors
    ///
    /// [`Error::Guest`] when the guest traps or cannot be instantiated,
    /// [`Error::InvalidResponse`] when its response is not valid HTTP, and
    /// [`Error::GuestError`] when it returns its own typed error.
    /// `timings`, when given, gets the time each stage took added to it.
    pub(crate) async fn call(
        &self,
        request: Request,
        route: RouteInfo<'_>,
        mut timings: Option<&mut CallTimings>,
    ) -> Result<Response, Error> {
        let mut clock = timings.is_some().then(Instant::now);
        let mut lap = |slot: fn(&mut CallTimings) -> &mut Duration| {
            if let (Some(t), Some(start)) = (timings.as_deref_mut(), clock.as_mut()) {
                let now = Instant::now();
                *slot(t) += now - *start;
                *start = now;
            }
        };
        let request_id = request.context.request_id.clone();
        let state = State::new(self.name.clone(), request_id, self.config.clone());
        let mut store = Store::new(self.pre.engine(), state);
        let guest_request = to_wit(request, route);
        lap(|t| &mut t.store);
        let instance = self.pre.instantiate_async(&mut store).await;
        lap(|t| &mut t.instantiate);
        let result = match instance {
            Ok(instance) => {
                instance
                    .lamina_http_request_handler()
                    .call_handle(&mut store, &guest_request)
                    .await
            }
            Err(e) => Err(e),
        };
        lap(|t| &mut t.call);
        self.log_output(&store);
        drop(store);
        lap(|t| &mut t.drop);
        match result {
            Ok(Ok(response)) => self.response_from_wit(response),
            Ok(Err(error)) => Err(self.guest_error(error)),
            Err(source) => Err(Error::Guest {
                component: self.name.clone(),
                source,
            }),
        }
    }

    /// Logs what the guest wrote to stdout/stderr (a panic message, for example).
    fn log_output(&self, store: &Store<State>) {
        let output = store.data().output.contents();
        if !output.is_empty() {
            tracing::warn!(
                component = &*self.name,
                output = %String::from_utf8_lossy(&output).trim_end(),
                "guest wrote to stdout/stderr"
            );
        }
    }

    fn response_from_wit(&self, response: wit::Response) -> Result<Response, Error> {
        let invalid = |problem: String| Error::InvalidResponse {
            component: self.name.clone(),
            problem,
        };
        let status = StatusCode::from_u16(response.status)
            .ok()
            .filter(|s| (100..=599).contains(&s.as_u16()))
            .ok_or_else(|| invalid(format!("status {} is not in 100..=599", response.status)))?;
        let mut out = Response::new(status);
        out.headers.reserve(response.headers.len());
        for (name, value) in response.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("header name {name:?} is not a valid HTTP token")))?;
            let value = HeaderValue::from_str(&value).map_err(|_| {
                invalid(format!(
                    "header {name:?} has a value with control characters (CR, LF, NUL, ...)"
                ))
            })?;
            out.headers.append(header, value);
        }
        out.body = Bytes::from(response.body);
        Ok(out)
    }

    fn guest_error(&self, error: wit::Error) -> Error {
        let status = StatusCode::from_u16(error.status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or_else(|| {
                tracing::warn!(
                    component = &*self.name,
                    status = error.status,
                    "guest error status is not 4xx/5xx; sending 500"
                );
                StatusCode::INTERNAL_SERVER_ERROR
            });
        let details = error.details.and_then(|text| match serde_json::from_str(&text) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(component = &*self.name, error = %e, "guest error details are not JSON; dropped");
                None
            }
        });
        Error::GuestError {
            status,
            code: error.code,
            message: error.message,
            details,
        }
    }
}

fn to_wit(request: Request, route: RouteInfo<'_>) -> wit::Request {
    let c = request.context;
    wit::Request {
        method: request.method.as_str().to_owned(),
        path: request.path,
        raw_path: request.raw_path,
        query: request.query,
        raw_query: request.raw_query,
        headers: request.headers,
        cookies: request.cookies,
        body: Vec::from(request.body),
        params: route.params,
        route: route.template.to_owned(),
        context: wit::Context {
            source: match c.source {
                Source::ApigwRest => wit::Source::ApigwRest,
                Source::ApigwHttpV1 => wit::Source::ApigwHttpV1,
                Source::ApigwHttpV2 => wit::Source::ApigwHttpV2,
                Source::FunctionUrl => wit::Source::FunctionUrl,
                Source::Alb => wit::Source::Alb,
                Source::VpcLatticeV1 => wit::Source::VpcLatticeV1,
                Source::VpcLatticeV2 => wit::Source::VpcLatticeV2,
                Source::Local => wit::Source::Local,
            },
            request_id: c.request_id,
            stage: c.stage,
            source_ip: c.source_ip,
            user_agent: c.user_agent,
            authorizer: c.authorizer,
            time_epoch_ms: c.time_epoch_ms,
        },
    }
}
