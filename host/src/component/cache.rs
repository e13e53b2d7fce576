//! The compile cache: components compiled by this host, kept as `.cwasm` files named by the
//! source's SHA-256 and the engine's compatibility hash, and loaded back by `mmap`.
//!
//! A cold start that finds its components here skips Cranelift entirely: loading is a
//! `mmap` and a header check. Entries are written to a temporary file and renamed into
//! place, so a reader (another process sharing `/tmp`, or a crash mid-write) never sees half
//! an artifact, and an entry is never rewritten in place.
//!
//! Hand-written rather than wasmtime's own `cache` feature: that cache stores entries
//! zstd-compressed (so they cannot be mapped, and every load decompresses the whole
//! artifact) and needs its own TOML config file; here an entry is the plain artifact
//! `lamina compile` also produces.
//!
//! Deserializing trusts the bytes, so the directory must be private: it is created with
//! mode 0700, and an existing directory that another user owns, or that others can write
//! to, is refused (with a warning) and the cache is off.

use anyhow::{Context as _, bail};
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Environment variable naming the cache directory; `off` turns the cache off.
pub const CACHE_ENV: &str = "LAMINA_CACHE_DIR";

/// A private directory of compiled components for one engine configuration.
#[derive(Debug)]
pub struct CompileCache {
    dir: PathBuf,
    /// The engine's compatibility hash, hex: artifacts of other configurations have other
    /// names.
    engine_key: String,
}

impl CompileCache {
    /// The cache `$LAMINA_CACHE_DIR` names, else `lamina-cache` under the temp directory
    /// (`/tmp` in Lambda, the only writable place there). `None` when it is off or unusable
    /// (logged).
    #[must_use]
    pub fn from_env(engine: &Engine) -> Option<Self> {
        let dir = match std::env::var_os(CACHE_ENV) {
            Some(v) if v == "off" || v.is_empty() => return None,
            Some(v) => PathBuf::from(v),
            None => std::env::temp_dir().join("lamina-cache"),
        };
        match Self::open(&dir, engine) {
            Ok(cache) => Some(cache),
            Err(error) => {
                tracing::warn!(dir = %dir.display(), error = %format!("{error:#}"), "compile cache off");
                None
            }
        }
    }

    /// Opens (creating if needed) the cache in `dir`.
    ///
    /// # Errors
    ///
    /// When the directory cannot be created, or is not private to this user.
    pub fn open(dir: &Path, engine: &Engine) -> anyhow::Result<Self> {
        create_private_dir(dir)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        Ok(Self {
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact for a source with SHA-256 `digest` lives.
    #[must_use]
    pub fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The cached component for `digest`, mapped from its file; `None` on a miss. An entry
    /// that does not load (another wasmtime version, a damaged file) is removed and logged,
    /// and counts as a miss.
    pub(crate) fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest);
        if !path.exists() {
            return None;
        }
        // SAFETY: entries are written only by `put` below, into a directory checked to be
        // private to this user, under a name that binds them to the source's digest and
        // this engine's configuration; wasmtime still checks its version and config header.
        #[allow(unsafe_code)]
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(
                    entry = %path.display(),
                    error = %format!("{error:#}"),
                    "compile cache entry does not load; recompiling"
                );
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores `compiled` (from `Engine::precompile_component`) for `digest`: written to a
    /// temporary file, then renamed over the entry's name. Returns the entry's path.
    ///
    /// # Errors
    ///
    /// When the file cannot be written or renamed.
    pub(crate) fn put(&self, digest: &str, compiled: &[u8]) -> anyhow::Result<PathBuf> {
        let path = self.path(digest);
        crate::fetch::write_atomically(&path, compiled)?;
        Ok(path)
    }
}

/// Creates `dir` with mode 0700, or checks that the existing one belongs to this user and
/// that nobody else can write to it.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
        match std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
        {
            Ok(()) => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
        let meta = std::fs::metadata(dir)?;
        // This process's uid, as the owner of its own /proc entry (Linux).
        let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        if let Some(me) = me
            && meta.uid() != me
        {
            bail!(
                "{} belongs to uid {}, not to this process (uid {me})",
                dir.display(),
                meta.uid()
            );
        }
        if meta.mode() & 0o022 != 0 {
            bail!(
                "{} can be written by other users (mode {:o}); it must be private",
                dir.display(),
                meta.mode() & 0o777
            );
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(())
}
