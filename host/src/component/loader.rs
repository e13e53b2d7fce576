//! Loading a component from disk: digest check, then compile (`.wasm`) or deserialize
//! (`.cwasm`), then pre-instantiation against the host's linker.

use super::Pre;
use super::bindings::{HandlerPre, MiddlewarePre};
use super::engine::Runtime;
use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use std::path::Path;
use wasmtime::Precompiled;
use wasmtime::component::Component;

/// A component ready to instantiate, and what was loaded.
pub(crate) struct Loaded {
    pub(crate) pre: Pre,
    /// SHA-256 of the file's bytes, hex.
    pub(crate) digest: String,
    /// Whether the file was a precompiled `.cwasm`.
    pub(crate) precompiled: bool,
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

/// Loads the component at `path`.
///
/// `pin` is the expected SHA-256 (hex); `trust_precompiled` allows a `.cwasm` without one.
///
/// # Errors
///
/// Unreadable file; digest mismatch (naming both digests); an unpinned, untrusted `.cwasm`;
/// a `.cwasm` from another wasmtime version or engine configuration; bytes that are not a
/// component; a component that imports something the host does not provide or exports
/// neither `lamina:http/request-handler` nor `lamina:http/request-middleware`.
pub(crate) fn load(
    runtime: &Runtime,
    path: &Path,
    pin: Option<&str>,
    trust_precompiled: bool,
) -> anyhow::Result<Loaded> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let digest = sha256_hex(&bytes);
    if let Some(pin) = pin
        && !pin.eq_ignore_ascii_case(&digest)
    {
        bail!("sha256 mismatch: the config pins {pin}, the file has {digest}");
    }
    let precompiled = match wasmtime::Engine::detect_precompiled(&bytes) {
        Some(Precompiled::Component) => true,
        Some(Precompiled::Module) => {
            bail!("this is a precompiled core module, not a component")
        }
        None => false,
    };
    let component = if precompiled {
        if pin.is_none() && !trust_precompiled {
            bail!(
                "refusing to load a precompiled .cwasm without a sha256 pin: precompiled code \
                 runs as trusted native code (pin its digest {digest} or set trust-precompiled = true)"
            );
        }
        // SAFETY: `Component::deserialize` trusts that the bytes are a wasmtime artifact
        // that has not been tampered with. They are either pinned by digest (checked above)
        // or explicitly trusted by the operator in the config; wasmtime still checks the
        // version and engine-configuration header and rejects a foreign artifact.
        #[allow(unsafe_code)]
        anyhow_err(unsafe { Component::deserialize(&runtime.engine, &bytes) }).context(
            "loading precompiled component (rebuild it with this host's `lamina compile`)",
        )?
    } else {
        anyhow_err(Component::new(&runtime.engine, &bytes)).context("compiling component")?
    };
    let instance_pre = anyhow_err(runtime.linker.instantiate_pre(&component))
        .context("linking component (it imports something this host does not provide)")?;
    // The exports decide the kind: whether it may be bound to a route or put in a chain is
    // checked where the app is built, against the config.
    let pre = match HandlerPre::new(instance_pre.clone()) {
        Ok(pre) => Pre::Handler(pre),
        Err(as_handler) => match MiddlewarePre::new(instance_pre) {
            Ok(pre) => Pre::Middleware(pre),
            Err(as_middleware) => bail!(
                "component exports neither lamina:http/request-handler@0.1.0 ({as_handler}) nor \
                 lamina:http/request-middleware@0.1.0 ({as_middleware}); build it with \
                 lamina-sdk's export_handler! or export_middleware!"
            ),
        },
    };
    Ok(Loaded {
        pre,
        digest,
        precompiled,
    })
}
