//! Components: loading, and calling one in a fresh instance per request.

mod bindings;
mod engine;
mod loader;
mod state;

pub use engine::{EngineTuning, Runtime};
pub use loader::sha256_hex;

use crate::error::Error;
use crate::limits::{Grants, Limits};
use crate::request::{Request, Source};
use crate::response::Response;
use bindings::{HandlerPre, wit};
use bytes::Bytes;
use engine::EPOCH_TICK;
use http::{HeaderName, HeaderValue, StatusCode};
use state::State;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use wasmtime::{Store, Trap};

/// Everything needed to load one component: where it is, how it is verified, what it may
/// read and consume. (No `Debug`: `config` holds secrets.)
#[derive(Clone, Default)]
pub struct HandlerSpec {
    /// The `.wasm` or `.cwasm` file.
    pub path: PathBuf,
    /// Expected SHA-256 of the file, hex.
    pub sha256: Option<String>,
    /// Load a `.cwasm` without a pin.
    pub trust_precompiled: bool,
    /// Values the guest reads with the `config` import (secrets included).
    pub config: BTreeMap<String, String>,
    /// What it may consume per request.
    pub limits: Limits,
    /// What it may access.
    pub grants: Grants,
}

impl HandlerSpec {
    /// A spec for `path` with default limits and no grants.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }
}

/// A loaded handler component: compiled and pre-instantiated once, instantiated per request.
pub struct Handler {
    name: Arc<str>,
    pre: HandlerPre<State>,
    config: Arc<BTreeMap<String, String>>,
    limits: Limits,
    grants: Grants,
    digest: String,
    precompiled: bool,
    /// Keeps the epoch advancing while this handler can be called.
    _ticker: Arc<engine::Ticker>,
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
    /// Loads the component `spec` describes, under `name`.
    ///
    /// # Errors
    ///
    /// When reading, verifying, compiling or linking fails; the message says which.
    pub fn load(runtime: &Runtime, name: &str, spec: &HandlerSpec) -> anyhow::Result<Self> {
        let loaded = loader::load(
            runtime,
            &spec.path,
            spec.sha256.as_deref(),
            spec.trust_precompiled,
        )?;
        Ok(Self {
            name: Arc::from(name),
            pre: loaded.pre,
            config: Arc::new(spec.config.clone()),
            limits: spec.limits.clone(),
            grants: spec.grants.clone(),
            digest: loaded.digest,
            precompiled: loaded.precompiled,
            _ticker: runtime.ticker.clone(),
        })
    }

    /// The limits enforced on each request.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The capabilities granted.
    #[must_use]
    pub fn grants(&self) -> &Grants {
        &self.grants
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
        let timeout = effective_timeout(self.limits.timeout, request.context.deadline);
        let state = State::new(
            self.name.clone(),
            request_id,
            self.config.clone(),
            &self.limits,
            &self.grants,
        )
        .map_err(|e| Error::Guest {
            component: self.name.clone(),
            source: wasmtime::Error::msg(format!("{e:#}")),
        })?;
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        // Compiled code checks the epoch: a guest still running when it passes traps.
        store.set_epoch_deadline(timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()) as u64 + 1);
        let guest_request = to_wit(request, route);
        lap(|t| &mut t.store);
        // A guest blocked in a host call (a WASI sleep, say) never reaches an epoch check,
        // so the whole call is also bounded on the host side.
        let outcome = tokio::time::timeout(timeout + EPOCH_TICK, async {
            let instance = self.pre.instantiate_async(&mut store).await;
            lap(|t| &mut t.instantiate);
            match instance {
                Ok(instance) => {
                    instance
                        .lamina_http_request_handler()
                        .call_handle(&mut store, &guest_request)
                        .await
                }
                Err(e) => Err(e),
            }
        })
        .await;
        lap(|t| &mut t.call);
        self.log_output(&store);
        let refused = store.data().limiter.refused;
        drop(store);
        lap(|t| &mut t.drop);
        let timed_out = || Error::Timeout {
            component: self.name.clone(),
            after: timeout,
        };
        match outcome {
            Err(_elapsed) => Err(timed_out()),
            Ok(Ok(Ok(response))) => self.response_from_wit(response),
            Ok(Ok(Err(error))) => Err(self.guest_error(error)),
            Ok(Err(source)) if source.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => {
                Err(timed_out())
            }
            Ok(Err(source)) => Err(match refused {
                Some(asked) => Error::OutOfMemory {
                    component: self.name.clone(),
                    limit: self.limits.memory,
                    asked,
                    source,
                },
                None => Error::Guest {
                    component: self.name.clone(),
                    source,
                },
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
        if response.body.len() > self.limits.max_response {
            return Err(invalid(format!(
                "body of {} bytes exceeds max-response ({} bytes)",
                response.body.len(),
                self.limits.max_response
            )));
        }
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
            if header == http::header::SET_COOKIE && !is_valid_set_cookie(&value) {
                return Err(invalid(format!(
                    "set-cookie {value:?} does not start with a cookie name and '='"
                )));
            }
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

/// A `Set-Cookie` value starts with `name=`, the name an RFC 6265 token.
fn is_valid_set_cookie(value: &HeaderValue) -> bool {
    let pair = value
        .as_bytes()
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default();
    let Some(eq) = pair.iter().position(|&b| b == b'=') else {
        return false;
    };
    let name = pair[..eq].trim_ascii();
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The component's timeout, shortened to what is left of the Lambda invocation (less a
/// margin to send the 504) when that is less.
fn effective_timeout(limit: Duration, deadline: Option<SystemTime>) -> Duration {
    const MARGIN: Duration = Duration::from_millis(50);
    deadline
        .map(|d| d.duration_since(SystemTime::now()).unwrap_or_default())
        .map_or(limit, |left| {
            limit.min(left.saturating_sub(MARGIN).max(EPOCH_TICK))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_values_need_a_token_name() {
        let cases = [
            ("a=1", true),
            ("session=abc; Path=/; HttpOnly", true),
            ("__Host-x=; Max-Age=0", true),
            ("no-equals-sign", false),
            ("=value", false),
            ("bad name=1", false),
            ("a;b=1", false),
        ];
        for (value, valid) in cases {
            let value = HeaderValue::from_static(value);
            assert_eq!(is_valid_set_cookie(&value), valid, "{value:?}");
        }
    }

    #[test]
    fn timeouts_shrink_to_the_lambda_deadline() {
        let limit = Duration::from_secs(10);
        assert_eq!(effective_timeout(limit, None), limit);
        let soon = SystemTime::now() + Duration::from_secs(1);
        let t = effective_timeout(limit, Some(soon));
        assert!(
            t <= Duration::from_millis(950) && t > Duration::from_millis(800),
            "{t:?}"
        );
        let past = SystemTime::now() - Duration::from_secs(1);
        assert_eq!(
            effective_timeout(limit, Some(past)),
            EPOCH_TICK,
            "no time left: one tick"
        );
        let far = SystemTime::now() + Duration::from_secs(600);
        assert_eq!(effective_timeout(limit, Some(far)), limit);
    }
}
