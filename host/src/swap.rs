//! Hot swap: the current [`App`] behind an atomic pointer, and the reloader that replaces
//! it when the config or a component file changes.
//!
//! A new version is read, verified, compiled and pre-instantiated off the request path
//! (a blocking thread), as a whole new `App`; only then is the pointer swapped. Requests in
//! flight keep the `Arc<App>` they started with. A version that fails any step is logged
//! and the previous one keeps serving; a later change is tried again.

use crate::App;
use crate::component::Runtime;
use crate::config::Config;
use arc_swap::ArcSwap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The app requests are served from right now.
pub struct Swap {
    current: ArcSwap<App>,
}

impl Swap {
    /// Starts serving `app`.
    #[must_use]
    pub fn new(app: App) -> Self {
        Self {
            current: ArcSwap::from_pointee(app),
        }
    }

    /// A snapshot for one request: later swaps do not affect it.
    #[must_use]
    pub fn current(&self) -> Arc<App> {
        self.current.load_full()
    }

    /// Serves `app` from the next request on.
    pub fn replace(&self, app: App) {
        self.current.store(Arc::new(app));
    }
}

/// What a file looked like when it was last loaded: its size and modification time.
type Fingerprint = Option<(u64, SystemTime)>;

fn fingerprint(path: &Path) -> Fingerprint {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// The files a config depends on: itself and every component source.
fn watched(config_path: &Path) -> Vec<(PathBuf, Fingerprint)> {
    let mut files = vec![config_path.to_path_buf()];
    if let Ok(config) = Config::load(config_path) {
        files.extend(config.components.values().map(|c| config.source_path(c)));
    }
    files
        .into_iter()
        .map(|p| {
            let f = fingerprint(&p);
            (p, f)
        })
        .collect()
}

/// Watches a config and its components and swaps in a new [`App`] when they change.
pub struct Reloader {
    config_path: PathBuf,
    runtime: Runtime,
    swap: Arc<Swap>,
    seen: Mutex<Vec<(PathBuf, Fingerprint)>>,
    interval: Duration,
    last_check: Mutex<Instant>,
    checking: AtomicBool,
}

impl Reloader {
    /// A reloader for the app `swap` serves, loaded from `config_path`; `interval` is how
    /// often [`Reloader::maybe_check`] looks at the files.
    #[must_use]
    pub fn new(
        config_path: PathBuf,
        runtime: Runtime,
        swap: Arc<Swap>,
        interval: Duration,
    ) -> Self {
        let seen = watched(&config_path);
        Self {
            config_path,
            runtime,
            swap,
            seen: Mutex::new(seen),
            interval,
            last_check: Mutex::new(Instant::now()),
            checking: AtomicBool::new(false),
        }
    }

    /// Checks the files now and swaps in a new app if they changed and it loads. Blocking:
    /// call it off the async runtime. Returns whether a new app is now serving.
    pub fn reload_if_changed(&self) -> bool {
        let now = watched(&self.config_path);
        {
            let mut seen = self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *seen == now {
                return false;
            }
            // Remember this state even if it fails to load, so a broken upload is reported
            // once, not on every poll; the next change is tried again.
            *seen = now;
        }
        let started = Instant::now();
        let loaded =
            Config::load(&self.config_path).and_then(|c| App::from_config(&c, &self.runtime));
        match loaded {
            Ok(app) => {
                let old = self.swap.current();
                for (name, handler) in app.components() {
                    let before = old.components().get(name).map(|h| h.digest().to_owned());
                    if before.as_deref() != Some(handler.digest()) {
                        tracing::info!(
                            component = name.as_str(),
                            old_sha256 = before.as_deref().unwrap_or("none"),
                            new_sha256 = handler.digest(),
                            "component swapped"
                        );
                    }
                }
                self.swap.replace(app);
                tracing::info!(config = %self.config_path.display(), took = ?started.elapsed(), "new version serving");
                true
            }
            Err(error) => {
                tracing::error!(
                    config = %self.config_path.display(),
                    error = %format!("{error:#}"),
                    "new version rejected; the previous one keeps serving"
                );
                false
            }
        }
    }

    /// If the poll interval has passed since the last check, checks in the background
    /// without delaying the caller. For Lambda, where timers do not fire while the sandbox
    /// is frozen: call it when an invocation arrives.
    pub fn maybe_check(self: &Arc<Self>) {
        {
            let mut last = self
                .last_check
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.elapsed() < self.interval {
                return;
            }
            *last = Instant::now();
        }
        if self.checking.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.reload_if_changed();
            this.checking.store(false, Ordering::Release);
        });
    }
}
