//! Loading a component: fetch, digest check, then native code from the first place that
//! has it — the source itself (a pinned or trusted `.cwasm`), the compile cache, or
//! Cranelift — then pre-instantiation against the host's linker.

use super::Exports;
use super::bindings::{HandlerPre, MiddlewarePre, v0_1};
use super::contract;
use super::engine::Runtime;
use super::state::State;
use crate::fetch::Location;
use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use wasmtime::Precompiled;
use wasmtime::component::Component;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// Where a component's native code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeSource {
    /// The source was a precompiled `.cwasm` (pinned or trusted).
    Precompiled,
    /// The compile cache had it: mapped from disk, no compilation.
    Cache,
    /// Compiled by Cranelift now (and stored in the cache when it is on).
    Compiled,
}

impl CodeSource {
    /// `precompiled`, `cache` or `compiled`, as logs and `lamina check` spell it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Precompiled => "precompiled",
            Self::Cache => "cache",
            Self::Compiled => "compiled",
        }
    }
}

/// A component ready to instantiate, and what was loaded.
pub(crate) struct Loaded {
    pub(crate) exports: Exports,
    /// SHA-256 of the source's bytes, hex.
    pub(crate) digest: String,
    /// Where the native code came from.
    pub(crate) code: CodeSource,
}

/// Hex SHA-256 of `bytes`, as `sha256` pins in the config spell it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// wasmtime's error type does not implement `std::error::Error`; anyhow's context needs it.
fn anyhow_err<T>(result: wasmtime::Result<T>) -> anyhow::Result<T> {
    result.map_err(anyhow::Error::from)
}

/// Loads the component at `location`.
///
/// `pin` is the expected SHA-256 (hex); `trust_precompiled` allows a `.cwasm` without one.
///
/// # Errors
///
/// Unreadable source (missing file, S3 error); digest mismatch (naming both digests); an
/// unpinned, untrusted `.cwasm`; a `.cwasm` from another wasmtime version or engine
/// configuration; bytes that are not a component; a component that imports something the
/// host does not provide or exports none of `lamina:http/request-handler`,
/// `lamina:http/request-middleware` and `wasi:http/incoming-handler`.
pub(crate) fn load(
    runtime: &Runtime,
    location: &Location,
    pin: Option<&str>,
    trust_precompiled: bool,
) -> anyhow::Result<Loaded> {
    let bytes = runtime.fetcher.read(location)?.bytes;
    let digest = sha256_hex(&bytes);
    if let Some(pin) = pin
        && !pin.eq_ignore_ascii_case(&digest)
    {
        bail!("sha256 mismatch: the config pins {pin}, the source has {digest}");
    }
    let (component, code) = match wasmtime::Engine::detect_precompiled(&bytes) {
        Some(Precompiled::Module) => bail!("this is a precompiled core module, not a component"),
        Some(Precompiled::Component) => {
            if pin.is_none() && !trust_precompiled {
                bail!(
                    "refusing to load a precompiled .cwasm without a sha256 pin: precompiled code \
                     runs as trusted native code (pin its digest {digest} or set trust-precompiled = true)"
                );
            }
            // SAFETY: `Component::deserialize` trusts that the bytes are a wasmtime artifact
            // that has not been tampered with. They are either pinned by digest (checked
            // above) or explicitly trusted by the operator in the config; wasmtime still
            // checks the version and engine-configuration header and rejects a foreign
            // artifact.
            #[allow(unsafe_code)]
            let component = anyhow_err(unsafe { Component::deserialize(&runtime.engine, &bytes) })
                .context(
                    "loading precompiled component (rebuild it with this host's `lamina compile`)",
                )?;
            (component, CodeSource::Precompiled)
        }
        None => match runtime
            .cache
            .as_ref()
            .and_then(|cache| cache.get(&runtime.engine, &digest))
        {
            Some(component) => (component, CodeSource::Cache),
            None => (compile(runtime, &bytes, &digest)?, CodeSource::Compiled),
        },
    };
    let instance_pre = anyhow_err(runtime.linker.instantiate_pre(&component))
        .context("linking component (it imports something this host does not provide)")?;
    // The exports decide the kind: whether it may be bound to a route or put in a chain is
    // checked where the app is built, against the config.
    let exports = exports(&instance_pre)?;
    Ok(Loaded {
        exports,
        digest,
        code,
    })
}

/// Which world, and which version of it, the component exports: the first that matches,
/// newest first.
fn exports(instance_pre: &wasmtime::component::InstancePre<State>) -> anyhow::Result<Exports> {
    let mut tried = Vec::new();
    macro_rules! try_world {
        ($pre:ty, $variant:ident, $export:literal $(, $contract:expr, $func:literal)?) => {
            match <$pre>::new(instance_pre.clone()) {
                Ok(pre) => {
                    $(contract::check_types(instance_pre.component(), $contract, $export, $func)?;)?
                    return Ok(Exports::$variant(pre));
                }
                Err(error) => tried.push(format!("{} ({error})", $export)),
            }
        };
    }
    use contract::Contract::{V0_1, V0_2};
    try_world!(
        HandlerPre<State>,
        Handler,
        "lamina:http/request-handler@0.2.0",
        V0_2,
        "handle"
    );
    try_world!(
        MiddlewarePre<State>,
        Middleware,
        "lamina:http/request-middleware@0.2.0",
        V0_2,
        "on-request"
    );
    try_world!(
        v0_1::HandlerPre<State>,
        HandlerV0_1,
        "lamina:http/request-handler@0.1.0",
        V0_1,
        "handle"
    );
    try_world!(
        v0_1::MiddlewarePre<State>,
        MiddlewareV0_1,
        "lamina:http/request-middleware@0.1.0",
        V0_1,
        "on-request"
    );
    try_world!(ProxyPre<State>, Proxy, "wasi:http/incoming-handler@0.2");
    bail!(
        "component exports none of the worlds this host serves: {}; build it with lamina-sdk's \
         export_handler! or export_middleware!, or for the wasi:http/proxy world",
        tried.join(", ")
    )
}

/// Compiles `bytes` with Cranelift. With the cache on, the artifact is stored and loaded
/// back from its file (so its code is file-backed, like a cache hit); a cache that cannot be
/// written is logged and skipped.
fn compile(runtime: &Runtime, bytes: &[u8], digest: &str) -> anyhow::Result<Component> {
    let Some(cache) = &runtime.cache else {
        return anyhow_err(Component::new(&runtime.engine, bytes)).context("compiling component");
    };
    let compiled =
        anyhow_err(runtime.engine.precompile_component(bytes)).context("compiling component")?;
    match cache.put(digest, &compiled) {
        Ok(_) => {
            if let Some(component) = cache.get(&runtime.engine, digest) {
                return Ok(component);
            }
        }
        Err(error) => tracing::warn!(
            dir = %cache.dir().display(),
            error = %format!("{error:#}"),
            "could not write the compile cache"
        ),
    }
    // SAFETY: `compiled` was produced by this engine a moment ago.
    #[allow(unsafe_code)]
    anyhow_err(unsafe { Component::deserialize(&runtime.engine, &compiled) })
        .context("loading the compiled component")
}
