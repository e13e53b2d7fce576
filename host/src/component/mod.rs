//! Components: loading, and calling one in a fresh instance per request.
//!
//! A component is either a handler (`lamina:http/handler` world) or a middleware
//! (`lamina:http/middleware`); the loader finds out which from its exports. Both run in a
//! [`Session`]: one store and one instance for one request, with the component's limits,
//! a deadline per call, and every failure mapped to an [`Error`].

mod bindings;
mod cache;
mod convert;
mod engine;
mod loader;
pub mod log;
mod middleware;
mod output;
mod state;

pub use cache::{CACHE_ENV, CompileCache};
pub(crate) use convert::RouteInfo;
pub use engine::{DEFAULT_INSTANCES, EngineTuning, Runtime};
pub use loader::{CodeSource, sha256_hex};
pub(crate) use middleware::{Entered, Flow};
pub use output::DEFAULT_MAX_OUTPUT;

use crate::error::Error;
use crate::fetch::Location;
use crate::limits::{Grants, Limits};
use crate::request::{Context, Request};
use crate::response::Response;
use bindings::{Action, HandlerPre, MiddlewarePre, wit};
use convert::request_to_wit;
use engine::EPOCH_TICK;
use state::State;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use wasmtime::{PoolConcurrencyLimitError, Store, Trap, UpdateDeadline};

/// Everything needed to load one component: where it is, how it is verified, what it may
/// read and consume. (No `Debug`: `config` holds secrets.)
#[derive(Clone)]
pub struct ComponentSpec {
    /// Where the `.wasm` or `.cwasm` is: a file or an S3 object.
    pub source: Location,
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

impl ComponentSpec {
    /// A spec for the file at `path` with default limits and no grants.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            source: Location::File(path.into()),
            sha256: None,
            trust_precompiled: false,
            config: BTreeMap::new(),
            limits: Limits::default(),
            grants: Grants::default(),
        }
    }
}

/// Which world a component implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Exports `lamina:http/request-handler`: answers requests routed to it.
    Handler,
    /// Exports `lamina:http/request-middleware`: sits in front of handlers.
    Middleware,
}

impl Kind {
    /// `handler` or `middleware`, as messages and `lamina check` spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handler => "handler",
            Self::Middleware => "middleware",
        }
    }
}

/// A component pre-instantiated for one of the two worlds.
enum Pre {
    Handler(HandlerPre<State>),
    Middleware(MiddlewarePre<State>),
}

/// A loaded component: compiled and pre-instantiated once, instantiated per request.
pub struct Component {
    name: Arc<str>,
    source: Location,
    pre: Pre,
    config: Arc<BTreeMap<String, String>>,
    limits: Limits,
    grants: Grants,
    digest: String,
    code: CodeSource,
    /// Keeps the epoch advancing while this component can be called.
    _ticker: Arc<engine::Ticker>,
    /// The size of the instance pool it is instantiated from, for capacity errors.
    pool_instances: usize,
}

/// Time spent in each stage of handler calls, summed (for the pipeline benchmark).
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

impl Component {
    /// Loads the component `spec` describes, under `name`.
    ///
    /// # Errors
    ///
    /// When reading, verifying, compiling or linking fails, or the component exports
    /// neither world; the message says which.
    pub fn load(runtime: &Runtime, name: &str, spec: &ComponentSpec) -> anyhow::Result<Self> {
        let loaded = loader::load(
            runtime,
            &spec.source,
            spec.sha256.as_deref(),
            spec.trust_precompiled,
        )?;
        Ok(Self {
            name: Arc::from(name),
            source: spec.source.clone(),
            pre: loaded.pre,
            config: Arc::new(spec.config.clone()),
            limits: spec.limits.clone(),
            grants: spec.grants.clone(),
            digest: loaded.digest,
            code: loaded.code,
            _ticker: runtime.ticker.clone(),
            pool_instances: runtime.instances(),
        })
    }

    /// Handler or middleware.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self.pre {
            Pre::Handler(_) => Kind::Handler,
            Pre::Middleware(_) => Kind::Middleware,
        }
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

    /// Where it was loaded from.
    #[must_use]
    pub fn source(&self) -> &Location {
        &self.source
    }

    /// SHA-256 of the loaded file, hex.
    #[must_use]
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether it was loaded from a precompiled `.cwasm`.
    #[must_use]
    pub fn precompiled(&self) -> bool {
        self.code == CodeSource::Precompiled
    }

    /// Where its native code came from: a `.cwasm` source, the compile cache, or Cranelift.
    #[must_use]
    pub fn code_source(&self) -> CodeSource {
        self.code
    }

    /// Calls a handler component with `request` in a fresh instance.
    ///
    /// # Errors
    ///
    /// [`Error::Guest`] when the guest traps or cannot be instantiated,
    /// [`Error::Timeout`] and [`Error::OutOfMemory`] when it exceeds its limits,
    /// [`Error::InvalidResponse`] when its response is not valid HTTP, and
    /// [`Error::GuestError`] when it returns its own typed error.
    /// `timings`, when given, gets the time each stage took added to it.
    pub(crate) async fn handle(
        &self,
        request: Request,
        route: RouteInfo<'_>,
        timings: Option<&mut CallTimings>,
    ) -> Result<Response, Error> {
        let mut laps = Laps::start(timings);
        let mut session = Session::new(self, &request.context)?;
        let guest_request = request_to_wit(request, route);
        laps.lap(|t| &mut t.store);
        let output = session.call(Call::Handle(guest_request), &mut laps).await;
        drop(session);
        laps.lap(|t| &mut t.drop);
        match output? {
            Output::Response(Ok(response)) => self.response_from_wit(response),
            Output::Response(Err(error)) => Err(self.guest_error(error)),
            Output::Action(_) => Err(self.wrong_export("request-handler")),
        }
    }

    /// A call that reached an instance of the other world: the loader and the app's
    /// kind checks make this unreachable, but it is an error, not a panic.
    fn wrong_export(&self, wanted: &str) -> Error {
        Error::Guest {
            component: self.name.clone(),
            source: wasmtime::Error::msg(format!(
                "called as a {wanted} but it is a {}",
                self.kind().as_str()
            )),
        }
    }
}

/// Adds the time since the previous lap to a stage of [`CallTimings`], when timing.
struct Laps<'t> {
    timings: Option<(&'t mut CallTimings, Instant)>,
}

impl<'t> Laps<'t> {
    fn start(timings: Option<&'t mut CallTimings>) -> Self {
        Self {
            timings: timings.map(|t| (t, Instant::now())),
        }
    }

    fn none() -> Self {
        Self { timings: None }
    }

    fn lap(&mut self, slot: fn(&mut CallTimings) -> &mut Duration) {
        if let Some((timings, start)) = &mut self.timings {
            let now = Instant::now();
            *slot(timings) += now - *start;
            *start = now;
        }
    }
}

/// An instance of either world.
enum Bound {
    Handler(bindings::Handler),
    Middleware(bindings::Middleware),
}

/// One export call.
enum Call {
    Handle(wit::Request),
    OnRequest(wit::Request),
    OnResponse(wit::Response),
}

/// What an export call returned.
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per export call and matched at once; boxing would add an allocation per call"
)]
enum Output {
    Response(Result<wit::Response, wit::Error>),
    Action(Result<Action, wit::Error>),
}

/// One component's store and instance for one request. The instance is created by the
/// first call; a middleware's second call (`on-response`) runs on the same one. After a
/// call fails the session must not be called again (the guest may be mid-call).
struct Session<'c> {
    component: &'c Component,
    store: Store<State>,
    bound: Option<Bound>,
    /// When the Lambda invocation times out, if known: every call's time is cut to fit.
    lambda_deadline: Option<SystemTime>,
}

impl<'c> Session<'c> {
    fn new(component: &'c Component, context: &Context) -> Result<Self, Error> {
        let state = State::new(
            component.name.clone(),
            context.request_id.clone(),
            component.config.clone(),
            &component.limits,
            &component.grants,
        )
        .map_err(|e| Error::Guest {
            component: component.name.clone(),
            source: wasmtime::Error::msg(format!("{e:#}")),
        })?;
        let engine = match &component.pre {
            Pre::Handler(pre) => pre.engine(),
            Pre::Middleware(pre) => pre.engine(),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        // Compiled code checks the engine's epoch; each tick past the store's epoch
        // deadline calls this. The time limit is the wall clock, not a count of ticks: the
        // ticker thread falls behind when the cores are busy, and ticks counted from a
        // late ticker would let a spinning guest outlive the Lambda deadline. Until the
        // deadline the guest yields to the executor once per tick, so a guest in a loop
        // cannot hold an async worker (or, in Lambda, the only thread) to itself. The
        // yield is tokio's own: it puts the task at the back of the run queue, where
        // wasmtime's plain `Yield` wakes it at once into the worker's LIFO slot and the
        // tasks waiting behind it still starve (measured: 18 req/s for `/hello` beside two
        // loopers, docs/BENCHMARKS.md).
        store.epoch_deadline_callback(|store| {
            Ok(if Instant::now() >= store.data().deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))
            })
        });
        Ok(Self {
            component,
            store,
            bound: None,
            lambda_deadline: context.deadline,
        })
    }

    /// Makes one export call within the component's timeout (instantiating first if this
    /// is the session's first call) and maps every failure to an [`Error`].
    async fn call(&mut self, call: Call, laps: &mut Laps<'_>) -> Result<Output, Error> {
        // Each call gets the component's timeout, cut to what is left of the invocation
        // (a middleware's `on-response` runs after the rest of the chain has used some).
        let timeout = effective_timeout(self.component.limits.timeout, self.lambda_deadline);
        self.store.data_mut().deadline = Instant::now() + timeout;
        self.store.set_epoch_deadline(1);
        let (store, bound, pre) = (&mut self.store, &mut self.bound, &self.component.pre);
        // A guest blocked in a host call (a WASI sleep, say) never reaches an epoch check,
        // so the whole call is also bounded on the host side.
        let outcome = tokio::time::timeout(timeout + EPOCH_TICK, async {
            let bound = match bound {
                Some(bound) => bound,
                None => {
                    let instance = match pre {
                        Pre::Handler(pre) => {
                            Bound::Handler(pre.instantiate_async(&mut *store).await?)
                        }
                        Pre::Middleware(pre) => {
                            Bound::Middleware(pre.instantiate_async(&mut *store).await?)
                        }
                    };
                    laps.lap(|t| &mut t.instantiate);
                    bound.insert(instance)
                }
            };
            match (bound, call) {
                (Bound::Handler(h), Call::Handle(request)) => h
                    .lamina_http_request_handler()
                    .call_handle(&mut *store, &request)
                    .await
                    .map(Output::Response),
                (Bound::Middleware(m), Call::OnRequest(request)) => m
                    .lamina_http_request_middleware()
                    .call_on_request(&mut *store, &request)
                    .await
                    .map(Output::Action),
                (Bound::Middleware(m), Call::OnResponse(response)) => m
                    .lamina_http_request_middleware()
                    .call_on_response(&mut *store, &response)
                    .await
                    .map(Output::Response),
                _ => Err(wasmtime::Error::msg(
                    "export called on the wrong kind of component",
                )),
            }
        })
        .await;
        laps.lap(|t| &mut t.call);
        let name = &self.component.name;
        let timed_out = || Error::Timeout {
            component: name.clone(),
            after: timeout,
        };
        match outcome {
            Err(_elapsed) => Err(timed_out()),
            Ok(Ok(output)) => Ok(output),
            Ok(Err(source)) if source.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => {
                Err(timed_out())
            }
            Ok(Err(source)) if source.downcast_ref::<PoolConcurrencyLimitError>().is_some() => {
                Err(Error::PoolExhausted {
                    instances: self.component.pool_instances,
                })
            }
            Ok(Err(source)) => Err(match self.store.data().limiter.refused {
                Some(asked) => Error::OutOfMemory {
                    component: name.clone(),
                    limit: self.component.limits.memory,
                    asked,
                    source,
                },
                None => Error::Guest {
                    component: name.clone(),
                    source,
                },
            }),
        }
    }
}

impl Drop for Session<'_> {
    /// Logs what the guest wrote to stdout/stderr (a panic message, for example), and how
    /// many log lines it lost to the caps.
    fn drop(&mut self) {
        let state = self.store.data();
        log::write_output(
            &state.component,
            &state.request_id,
            &state.output.contents(),
        );
        state
            .log_budget
            .summarize(&state.component, &state.request_id);
    }
}

/// The component's timeout, shortened to what is left of the Lambda invocation (less a
/// margin to send the 504) when that is less.
fn effective_timeout(limit: Duration, deadline: Option<SystemTime>) -> Duration {
    const MARGIN: Duration = Duration::from_millis(100);
    deadline
        .map(|d| d.duration_since(SystemTime::now()).unwrap_or_default())
        .map_or(limit, |left| {
            limit.min(left.saturating_sub(MARGIN).max(EPOCH_TICK))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
