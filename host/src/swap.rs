//! Hot swap: the current [`App`] behind an atomic pointer, and the reloader that replaces
//! it when the config or a component changes, wherever they live (files, S3).
//!
//! A new version is fetched, verified, compiled (or taken from the compile cache) and
//! pre-instantiated off the request path (a blocking thread), as a whole new `App`; only
//! then is the pointer swapped. Requests in flight keep the `Arc<App>` they started with. A
//! version that fails any step is logged and the previous one keeps serving; a later change
//! is tried again. A source that cannot be checked (S3 unreachable) skips the check: the
//! current version keeps serving, and the next check tries again.

use crate::App;
use crate::component::Runtime;
use crate::config::Config;
use crate::fetch::{Location, Tag};
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a changed file must stay the same before a reload reads it.
pub const SETTLE: Duration = Duration::from_millis(200);
/// How long a reload waits for changing files to settle before leaving them for later.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(5);

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

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every source is as it was.
    Unchanged,
    /// Something changed and the new version is serving.
    Swapped,
    /// Something changed and the new version failed to load; the previous one serves.
    Rejected,
    /// A source could not be checked; nothing was changed.
    Unreachable,
}

/// Watches a config and its components and swaps in a new [`App`] when they change.
pub struct Reloader {
    config: Location,
    runtime: Runtime,
    swap: Arc<Swap>,
    /// The sources of the version last tried, and the version of each.
    seen: Mutex<Vec<(Location, Tag)>>,
    interval: Duration,
    last_check: Mutex<Instant>,
    checking: AtomicBool,
    /// Whether the last check could not reach a source (so an outage is logged as a
    /// warning once, not at every check).
    unreachable: AtomicBool,
}

impl Reloader {
    /// A reloader for the app `swap` serves, loaded from `config` through `runtime`;
    /// `interval` is how often [`Reloader::maybe_check`] looks at the sources. The versions
    /// the serving app was loaded from are taken from what the fetcher saw, so creating it
    /// costs no S3 requests at cold start.
    #[must_use]
    pub fn new(config: Location, runtime: Runtime, swap: Arc<Swap>, interval: Duration) -> Self {
        let seen = known(&config, &runtime, &swap.current())
            .or_else(|| watched(&config, &runtime).ok().map(|s| s.versions))
            .unwrap_or_default();
        Self {
            config,
            runtime,
            swap,
            seen: Mutex::new(seen),
            interval,
            last_check: Mutex::new(Instant::now()),
            checking: AtomicBool::new(false),
            unreachable: AtomicBool::new(false),
        }
    }

    /// Checks the sources now and swaps in a new app if they changed and it loads.
    /// Blocking: call it off the async runtime.
    pub fn reload_if_changed(&self) -> Outcome {
        let now = match watched(&self.config, &self.runtime).and_then(|first| self.settled(first)) {
            Ok(now) => now,
            Err(error) => {
                let error = format!("{error:#}");
                if self.unreachable.swap(true, Ordering::AcqRel) {
                    tracing::debug!(config = %self.config, error, "still cannot check for a new version");
                } else {
                    tracing::warn!(
                        config = %self.config,
                        error,
                        "could not check for a new version; the current one keeps serving"
                    );
                }
                return Outcome::Unreachable;
            }
        };
        if self.unreachable.swap(false, Ordering::AcqRel) {
            tracing::info!(config = %self.config, "sources reachable again");
        }
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if *seen == now.versions {
                return Outcome::Unchanged;
            }
            // Remember this state even if it fails to load, so a broken upload is reported
            // once, not on every poll; the next change is tried again.
            seen.clone_from(&now.versions);
        }
        let started = Instant::now();
        // The config parsed while checking is the one loaded: it is read once per check.
        let loaded = now
            .config
            .and_then(|config| App::from_config(&config, &self.runtime));
        match loaded {
            Ok(app) => {
                let old = self.swap.current();
                for (name, component) in app.components() {
                    let before = old.components().get(name).map(|c| c.digest().to_owned());
                    if before.as_deref() != Some(component.digest()) {
                        tracing::info!(
                            component = name.as_str(),
                            old_sha256 = before.as_deref().unwrap_or("none"),
                            new_sha256 = component.digest(),
                            code = component.code_source().as_str(),
                            "component swapped"
                        );
                    }
                }
                app.observe().count("Swaps");
                self.swap.replace(app);
                tracing::info!(config = %self.config, took = ?started.elapsed(), "new version serving");
                Outcome::Swapped
            }
            Err(error) => {
                tracing::error!(
                    config = %self.config,
                    error = %format!("{error:#}"),
                    "new version rejected; the previous one keeps serving"
                );
                self.swap.current().observe().count("RejectedVersions");
                Outcome::Rejected
            }
        }
    }

    /// `first` once every changed file in it has kept its size and modification time for
    /// [`SETTLE`]: a writer that truncates a file and writes it again in place is given
    /// time to finish, so a half-written config or component is not what gets loaded.
    /// Objects in S3 are replaced whole, so only files wait. A file that is still changing
    /// after [`SETTLE_LIMIT`] is left for the next check (reported as unchanged now).
    fn settled(&self, first: Snapshot) -> anyhow::Result<Snapshot> {
        let mut now = first;
        let started = Instant::now();
        loop {
            let files_changed = {
                let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
                now.versions
                    .iter()
                    .any(|entry| matches!(entry.0, Location::File(_)) && !seen.contains(entry))
            };
            if !files_changed {
                return Ok(now);
            }
            std::thread::sleep(SETTLE);
            let again = watched(&self.config, &self.runtime)?;
            if again.versions == now.versions {
                return Ok(again);
            }
            if started.elapsed() >= SETTLE_LIMIT {
                tracing::info!(config = %self.config, "files are still being written; checking again later");
                let seen = self
                    .seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                return Ok(Snapshot {
                    versions: seen,
                    config: Err(anyhow::anyhow!("still being written")),
                });
            }
            now = again;
        }
    }

    /// The app serving now.
    #[must_use]
    pub fn serving(&self) -> Arc<App> {
        self.swap.current()
    }

    /// If the poll interval has passed since the last check, checks in the background
    /// without delaying the caller. For Lambda, where timers do not fire while the sandbox
    /// is frozen: call it when an invocation arrives.
    pub fn maybe_check(self: &Arc<Self>) {
        {
            let mut last = self
                .last_check
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
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

/// [`watched`] from what the fetcher already knows (the versions the serving app was loaded
/// from); `None` when some version is not known without a request.
fn known(config: &Location, runtime: &Runtime, app: &App) -> Option<Vec<(Location, Tag)>> {
    let fetcher = runtime.fetcher();
    let mut out = vec![(config.clone(), fetcher.known_tag(config)?)];
    for component in app.components().values() {
        let location = component.source().clone();
        let tag = fetcher.known_tag(&location)?;
        out.push((location, tag));
    }
    Some(out)
}

/// What a check saw: the version of every source a config depends on (itself and every
/// component), and the config as parsed then (or why it does not parse).
struct Snapshot {
    versions: Vec<(Location, Tag)>,
    config: anyhow::Result<Config>,
}

/// The sources a config depends on and the version of each, with the config parsed.
///
/// # Errors
///
/// When a source cannot be checked (a missing file, S3 unreachable).
fn watched(config: &Location, runtime: &Runtime) -> anyhow::Result<Snapshot> {
    let fetcher = runtime.fetcher();
    // One request for an S3 config: the conditional GET that checks it also gives the
    // bytes to parse (kept from the last read when it answers 304).
    let (tag, parsed) = match config {
        Location::File(path) => (fetcher.tag(config)?, Config::load(path)),
        Location::S3 { .. } => match fetcher.read_if_present(config)? {
            None => (
                Tag::Missing,
                Err(anyhow::anyhow!("{config} does not exist")),
            ),
            Some(fetched) => (fetched.tag, Config::from_bytes(config, &fetched.bytes)),
        },
    };
    let mut versions = vec![(config.clone(), tag)];
    // A config that does not parse is still watched (itself): fixing it is a change.
    if let Ok(parsed) = &parsed {
        for (_, location) in parsed.sources()? {
            let tag = fetcher.tag(&location)?;
            versions.push((location, tag));
        }
    }
    Ok(Snapshot {
        versions,
        config: parsed,
    })
}
