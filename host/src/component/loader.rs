//! Loading a component: fetch, digest check, then native code from the first place that
//! has it — the source itself (a pinned or trusted `.cwasm`: mapped from a local file that
//! cannot change, otherwise read and copied), the compile cache, or Cranelift — then
//! pre-instantiation against the host's linker.

use super::Exports;
use super::bindings::{HandlerPre, MiddlewarePre, v0_1};
use super::contract;
use super::engine::Runtime;
use super::state::State;
use crate::fetch::Location;
use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
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
    /// Whether that code is mapped from a file (a compile-cache entry, a `.cwasm` that
    /// cannot change) rather than copied into the process's memory.
    pub(crate) mapped: bool,
}

/// Hex SHA-256 of `bytes`, as `sha256` pins in the config spell it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(2 * digest.len());
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
    let (component, digest, code, mapped) = if let Location::File(path) = location
        && let Some(open) = mappable_precompiled(path)
    {
        let (component, digest) = map_precompiled(runtime, path, open, pin, trust_precompiled)?;
        (component, digest, CodeSource::Precompiled, true)
    } else {
        from_bytes(runtime, location, pin, trust_precompiled)?
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
        mapped,
    })
}

/// Fetches the source whole, checks its digest, and gets native code from the bytes (a
/// `.cwasm`), the compile cache or Cranelift.
fn from_bytes(
    runtime: &Runtime,
    location: &Location,
    pin: Option<&str>,
    trust_precompiled: bool,
) -> anyhow::Result<(Component, String, CodeSource, bool)> {
    let bytes = runtime.fetcher.read(location)?.bytes;
    let digest = sha256_hex(&bytes);
    check_pin(pin, &digest)?;
    match wasmtime::Engine::detect_precompiled(&bytes) {
        Some(Precompiled::Module) => bail!("this is a precompiled core module, not a component"),
        Some(Precompiled::Component) => {
            refuse_untrusted(pin, trust_precompiled, &digest)?;
            // SAFETY: `Component::deserialize` trusts that the bytes are a wasmtime artifact
            // that has not been tampered with. They are either pinned by digest (checked
            // above) or explicitly trusted by the operator in the config; wasmtime still
            // checks the version and engine-configuration header and rejects a foreign
            // artifact.
            #[allow(unsafe_code)]
            let component = anyhow_err(unsafe { Component::deserialize(&runtime.engine, &bytes) })
                .context(PRECOMPILED_CONTEXT)?;
            Ok((component, digest, CodeSource::Precompiled, false))
        }
        None => match runtime
            .cache
            .as_ref()
            .and_then(|cache| cache.get(&runtime.engine, &digest))
        {
            Some(component) => Ok((component, digest, CodeSource::Cache, true)),
            None => {
                let (component, mapped) = compile(runtime, &bytes, &digest)?;
                Ok((component, digest, CodeSource::Compiled, mapped))
            }
        },
    }
}

const PRECOMPILED_CONTEXT: &str =
    "loading precompiled component (rebuild it with this host's `lamina compile`)";

fn check_pin(pin: Option<&str>, digest: &str) -> anyhow::Result<()> {
    if let Some(pin) = pin
        && !pin.eq_ignore_ascii_case(digest)
    {
        bail!("sha256 mismatch: the config pins {pin}, the source has {digest}");
    }
    Ok(())
}

fn refuse_untrusted(
    pin: Option<&str>,
    trust_precompiled: bool,
    digest: &str,
) -> anyhow::Result<()> {
    if pin.is_none() && !trust_precompiled {
        bail!(
            "refusing to load a precompiled .cwasm without a sha256 pin: precompiled code \
             runs as trusted native code (pin its digest {digest} or set trust-precompiled = true)"
        );
    }
    Ok(())
}

/// A local precompiled component opened once, and the name of that open file in
/// `/proc/self/fd`: every later step (the checks, hashing, mapping) uses this descriptor, so
/// a file renamed over the path in between is never the one mapped.
struct OpenPrecompiled {
    file: File,
    by_descriptor: PathBuf,
}

/// The file at `path`, opened, when it is a precompiled component that is not expected to
/// change under the host: on a read-only file system (a Lambda layer in `/opt`) or with no
/// write permission for anyone (how `lamina bundle` writes them). Such a file is mapped
/// instead of read: its pages come from the page cache when an instance first touches them,
/// so neither a copy of a 30+ MB interpreter image in the process's memory nor the copy of
/// its data segments into a `memfd` is made.
///
/// Permission bits are the operator's statement that the file is replaced by rename, never
/// rewritten in place; they do not stop root or the owner from writing it (README,
/// "Mapped `.cwasm` files"). A file that can be written stays on the read-and-copy path,
/// as does every file where `/proc/self/fd` is missing (wasmtime maps by path, and a path
/// would have to be trusted to name the file that was hashed).
fn mappable_precompiled(path: &Path) -> Option<OpenPrecompiled> {
    // Anything that fails here is left to the read path, which names the problem.
    let file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    let unwritable = meta.permissions().mode() & 0o222 == 0 || on_read_only_fs(&file);
    if !unwritable || !meta.is_file() {
        return None;
    }
    let by_descriptor = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    matches!(
        wasmtime::Engine::detect_precompiled_file(&by_descriptor),
        Ok(Some(Precompiled::Component))
    )
    .then_some(OpenPrecompiled {
        file,
        by_descriptor,
    })
}

/// `fstatvfs` says the file's file system is mounted read-only.
fn on_read_only_fs(file: &File) -> bool {
    let mut vfs = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `fstatvfs` fills the buffer for an open descriptor and reports failure
    // otherwise; the buffer is read only when it succeeded.
    #[allow(unsafe_code)]
    unsafe {
        libc::fstatvfs(file.as_raw_fd(), vfs.as_mut_ptr()) == 0
            && vfs.assume_init().f_flag & libc::ST_RDONLY != 0
    }
}

/// Maps the precompiled component `open` (the file at `path`) after checking the digest
/// of that open file: it is hashed by reading it (through the page cache, not into the
/// process's memory), then wasmtime maps the same descriptor through `/proc/self/fd`.
fn map_precompiled(
    runtime: &Runtime,
    path: &Path,
    open: OpenPrecompiled,
    pin: Option<&str>,
    trust_precompiled: bool,
) -> anyhow::Result<(Component, String)> {
    let OpenPrecompiled {
        mut file,
        by_descriptor,
    } = open;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    let digest = hex(&hasher.finalize());
    check_pin(pin, &digest)?;
    refuse_untrusted(pin, trust_precompiled, &digest)?;
    // SAFETY: as for `Component::deserialize` in `from_bytes`: the bytes of this open file
    // are pinned by digest (checked just now) or trusted by the operator, and the file is
    // one the operator does not rewrite in place (`mappable_precompiled`), so the mapping
    // keeps the bytes that were checked. wasmtime still checks the version and
    // engine-configuration header.
    #[allow(unsafe_code)]
    let component =
        anyhow_err(unsafe { Component::deserialize_file(&runtime.engine, &by_descriptor) })
            .with_context(|| format!("mapping {}", path.display()))
            .context(PRECOMPILED_CONTEXT)?;
    // The descriptor is closed only now, after wasmtime has opened and mapped it.
    drop(file);
    Ok((component, digest))
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
/// written is logged and skipped. Returns whether the code is mapped from the cache.
fn compile(runtime: &Runtime, bytes: &[u8], digest: &str) -> anyhow::Result<(Component, bool)> {
    let Some(cache) = &runtime.cache else {
        return anyhow_err(Component::new(&runtime.engine, bytes))
            .context("compiling component")
            .map(|c| (c, false));
    };
    let compiled =
        anyhow_err(runtime.engine.precompile_component(bytes)).context("compiling component")?;
    match cache.put(digest, &compiled) {
        Ok(_) => {
            if let Some(component) = cache.get(&runtime.engine, digest) {
                return Ok((component, true));
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
        .map(|c| (c, false))
}
