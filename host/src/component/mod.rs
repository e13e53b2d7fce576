//! Guest components: loading them, and calling one in a fresh instance per request.
//!
//! A [`Guest`] is a loaded component, whatever world it exports; the loader finds out which
//! from its exports. What calls it is typed per world: a [`Handler`] answers requests
//! routed to it (`handler.rs`, or `proxy.rs` for a standard `wasi:http/proxy` component
//! built for Spin or `wasmtime serve`), a [`Middleware`] sits in a chain (`middleware.rs`). Each
//! call runs in a `Session` (`session.rs`): one store and one instance per component per
//! request, with the component's limits, a deadline per call, and every failure mapped to
//! an [`Error`](crate::Error). What a component may reach beyond its request is a set of
//! capabilities, one module each ([`caps`]).

mod bindings;
mod cache;
pub mod caps;
mod contract;
mod convert;
mod engine;
mod handler;
mod loader;
mod middleware;
mod output;
mod proxy;
mod reuse;
mod session;
mod state;

pub use cache::{CACHE_ENV, CompileCache};
pub use caps::{CapabilityConfig, Grants};
pub use contract::{Contract, SERVED as SERVED_CONTRACTS};
pub(crate) use convert::RouteInfo;
pub use engine::{DEFAULT_INSTANCES, EngineTuning, Runtime, compile_engine};
pub use loader::{CodeSource, sha256_hex};
pub(crate) use middleware::{Entered, Flow};
pub use output::DEFAULT_MAX_OUTPUT;
pub use reuse::{DEFAULT_REUSE_REQUESTS, InstancePolicy, InstancesKey};
pub use session::{CallStage, Observer};

use crate::fetch::Location;
use crate::limits::Limits;
use bindings::{HandlerPre, MiddlewarePre, v0_1};
use state::State;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// Everything needed to load one component: where it is, how it is verified, what it may
/// consume and reach. (No `Debug`: the grants hold secrets.)
pub struct ComponentSpec {
    /// Where the `.wasm` or `.cwasm` is: a file or an S3 object.
    pub source: Location,
    /// Expected SHA-256 of the file, hex.
    pub sha256: Option<String>,
    /// Load a `.cwasm` without a pin.
    pub trust_precompiled: bool,
    /// What it may consume per request.
    pub limits: Limits,
    /// What it may reach: each capability's grant.
    pub grants: Grants,
    /// A fresh instance per request, or reused ones.
    pub instances: InstancePolicy,
}

impl ComponentSpec {
    /// A spec for the file at `path` with default limits and no grants.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            source: Location::File(path.into()),
            sha256: None,
            trust_precompiled: false,
            limits: Limits::default(),
            grants: Grants::default(),
            instances: InstancePolicy::Fresh,
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
    /// Exports `wasi:http/incoming-handler` (the standard `wasi:http/proxy` world, as Spin,
    /// `wasmtime serve`, componentize-js and componentize-py build): answers requests
    /// routed to it, as a handler does.
    Proxy,
}

impl Kind {
    /// `handler` or `middleware`, as messages and `lamina check` spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handler => "handler",
            Self::Middleware => "middleware",
            Self::Proxy => "proxy",
        }
    }

    /// The interface a component of this kind exports.
    #[must_use]
    pub fn export(self) -> &'static str {
        match self {
            Self::Handler => "lamina:http/request-handler",
            Self::Middleware => "lamina:http/request-middleware",
            Self::Proxy => "wasi:http/incoming-handler",
        }
    }
}

/// The world a guest was pre-instantiated for: the one place a new world, or a new
/// version of one, adds a variant.
enum Exports {
    Handler(HandlerPre<State>),
    HandlerV0_1(v0_1::HandlerPre<State>),
    Middleware(MiddlewarePre<State>),
    MiddlewareV0_1(v0_1::MiddlewarePre<State>),
    Proxy(ProxyPre<State>),
}

/// A loaded component: compiled and pre-instantiated once, instantiated per request.
pub struct Guest {
    name: Arc<str>,
    source: Location,
    exports: Exports,
    limits: Limits,
    grants: Grants,
    digest: String,
    code: CodeSource,
    mapped: bool,
    /// Keeps the epoch advancing while this component can be called.
    _ticker: Arc<engine::Ticker>,
    /// The size of the instance pool it is instantiated from, for capacity errors.
    pool_instances: usize,
    /// Told how long each stage of each call took, when the runtime has one.
    observer: Option<Arc<dyn Observer>>,
    engine: wasmtime::Engine,
    /// A fresh instance per request, or reused ones.
    policy: InstancePolicy,
    /// Instances kept for the next request (with `instances = "reuse"`).
    idle: reuse::Idle,
}

impl Guest {
    /// Loads the component `spec` describes, under `name`.
    ///
    /// # Errors
    ///
    /// When reading, verifying, compiling or linking fails, or the component exports
    /// none of the worlds; the message says which.
    pub fn load(runtime: &Runtime, name: &str, spec: ComponentSpec) -> anyhow::Result<Self> {
        let loaded = loader::load(
            runtime,
            &spec.source,
            spec.sha256.as_deref(),
            spec.trust_precompiled,
        )?;
        Ok(Self {
            name: Arc::from(name),
            source: spec.source,
            exports: loaded.exports,
            limits: spec.limits,
            grants: spec.grants,
            digest: loaded.digest,
            code: loaded.code,
            mapped: loaded.mapped,
            _ticker: runtime.ticker.clone(),
            pool_instances: runtime.instances(),
            observer: runtime.observer.clone(),
            engine: runtime.engine.clone(),
            policy: spec.instances,
            idle: reuse::Idle::new(runtime.idle.clone()),
        })
    }

    /// Loads every component of `specs`, on up to as many threads as the machine has
    /// cores (at most 4), and returns the results in the order of `specs`. After a load
    /// fails, components not yet started are not loaded (their result says so): the error
    /// that matters is the first in `specs`' order, and jobs start in that order.
    ///
    /// Loading is reading, hashing (SHA-256 of every byte: 35 MB for a Python `.cwasm`) and
    /// deserializing or compiling, each independent of the others; a function with several
    /// interpreter components spends most of its cold start here, and the work splits across
    /// the cores `std::thread::available_parallelism` reports (it counts a CPU quota, so a
    /// fraction of a core is one thread).
    pub fn load_all(
        runtime: &Runtime,
        specs: Vec<(String, ComponentSpec)>,
    ) -> Vec<(String, anyhow::Result<Self>)> {
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, 4)
            .min(specs.len());
        let names: Vec<String> = specs.iter().map(|(name, _)| name.clone()).collect();
        // Workers take the next component as they finish one: an interpreter takes a
        // hundred times longer than a small Rust component.
        let jobs = Mutex::new(specs.into_iter().enumerate());
        let results: Vec<Mutex<Option<anyhow::Result<Self>>>> =
            names.iter().map(|_| Mutex::new(None)).collect();
        let failed = AtomicBool::new(false);
        let work = || {
            loop {
                let next = jobs.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some((i, (name, spec))) = next else { break };
                let guest = if failed.load(Ordering::Relaxed) {
                    Err(anyhow::anyhow!(
                        "not loaded: an earlier component failed to load"
                    ))
                } else {
                    Self::load(runtime, &name, spec)
                };
                if guest.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                *results[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(guest);
            }
        };
        if threads <= 1 {
            work();
        } else {
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(work);
                }
            });
        }
        names
            .into_iter()
            .zip(results)
            .map(|(name, result)| {
                let result = result
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner)
                    .unwrap_or_else(|| Err(anyhow::anyhow!("loading it did not finish")));
                (name, result)
            })
            .collect()
    }

    fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// Which world it exports.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self.exports {
            Exports::Handler(_) | Exports::HandlerV0_1(_) => Kind::Handler,
            Exports::Middleware(_) | Exports::MiddlewareV0_1(_) => Kind::Middleware,
            Exports::Proxy(_) => Kind::Proxy,
        }
    }

    /// The contract it was built against.
    #[must_use]
    pub fn contract(&self) -> Contract {
        match self.exports {
            Exports::Handler(_) | Exports::Middleware(_) => Contract::V0_2,
            Exports::HandlerV0_1(_) | Exports::MiddlewareV0_1(_) => Contract::V0_1,
            Exports::Proxy(_) => Contract::WasiHttp,
        }
    }

    /// This guest as a handler, when it exports `request-handler` or
    /// `wasi:http/incoming-handler`.
    #[must_use]
    pub fn as_handler(self: &Arc<Self>) -> Option<Handler> {
        let entry = match &self.exports {
            Exports::Handler(pre) => Entry::Lamina(pre.clone()),
            Exports::HandlerV0_1(pre) => Entry::LaminaV0_1(pre.clone()),
            Exports::Proxy(pre) => Entry::Proxy(pre.clone()),
            Exports::Middleware(_) | Exports::MiddlewareV0_1(_) => return None,
        };
        Some(Handler {
            guest: self.clone(),
            entry,
        })
    }

    /// This guest as a middleware, when it exports `request-middleware`.
    #[must_use]
    pub fn as_middleware(self: &Arc<Self>) -> Option<Middleware> {
        let entry = match &self.exports {
            Exports::Middleware(pre) => MiddlewareEntry::Lamina(pre.clone()),
            Exports::MiddlewareV0_1(pre) => MiddlewareEntry::LaminaV0_1(pre.clone()),
            Exports::Handler(_) | Exports::HandlerV0_1(_) | Exports::Proxy(_) => return None,
        };
        Some(Middleware {
            guest: self.clone(),
            entry,
        })
    }

    /// Whether it gets a fresh instance per request or reuses them.
    #[must_use]
    pub fn instance_policy(&self) -> InstancePolicy {
        self.policy
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

    /// Where its native code came from: a `.cwasm` source, the compile cache, or Cranelift.
    #[must_use]
    pub fn code_source(&self) -> CodeSource {
        self.code
    }

    /// Whether its native code is mapped from a file, paged in as it runs, rather than
    /// copied into the process's memory: a compile-cache entry, or a local `.cwasm` that
    /// cannot change (on a read-only file system, such as a Lambda layer, or with no write
    /// permission). A `.cwasm` from S3 or a writable file is read and copied.
    #[must_use]
    pub fn code_is_mapped(&self) -> bool {
        self.mapped
    }
}

/// A guest that answers requests: what a route is bound to. Only [`Guest::as_handler`]
/// makes one, so a middleware can never be called as a handler.
#[derive(Clone)]
pub struct Handler {
    guest: Arc<Guest>,
    entry: Entry,
}

/// How a handler is called: the world it exports.
#[derive(Clone)]
enum Entry {
    /// `lamina:http/request-handler`: the normalized request in, a response out.
    Lamina(HandlerPre<State>),
    /// The same, built against `lamina:http@0.1.0`.
    LaminaV0_1(v0_1::HandlerPre<State>),
    /// `wasi:http/incoming-handler`: a standard HTTP request in, a streamed response out.
    Proxy(ProxyPre<State>),
}

/// A guest that exports `lamina:http/request-middleware`: what a chain holds. Only
/// [`Guest::as_middleware`] makes one.
#[derive(Clone)]
pub struct Middleware {
    guest: Arc<Guest>,
    entry: MiddlewareEntry,
}

/// How a middleware is called: the version of the world it exports.
#[derive(Clone)]
enum MiddlewareEntry {
    Lamina(MiddlewarePre<State>),
    LaminaV0_1(v0_1::MiddlewarePre<State>),
}

impl Handler {
    /// The loaded guest.
    #[must_use]
    pub fn guest(&self) -> &Guest {
        &self.guest
    }
}

impl Middleware {
    /// The loaded guest.
    #[must_use]
    pub fn guest(&self) -> &Guest {
        &self.guest
    }
}
