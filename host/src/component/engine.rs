//! The one `Engine` and `Linker` a process uses for every component and every version.

use super::cache::CompileCache;
use super::state::State;
use crate::fetch::Fetcher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Component instances the pool keeps slots for unless tuned: requests are served one at a
/// time in Lambda and a handful at a time in `lamina serve`, so this bounds concurrency,
/// not component count (`lamina serve --instances` changes it).
pub const DEFAULT_INSTANCES: u32 = 128;

/// An engine plus a linker with WASI and Lamina's imports: built once per process and
/// shared by every [`App`](crate::App) version, so a hot swap never recompiles the host side.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<State>,
    pub(crate) ticker: Arc<Ticker>,
    /// Reads sources: files, and S3 objects (conditionally, keeping what it fetched).
    pub(crate) fetcher: Arc<Fetcher>,
    /// Where compiled components are kept; `None` when off.
    pub(crate) cache: Option<Arc<CompileCache>>,
    /// Component instance slots in the pool.
    pub(crate) instances: u32,
    /// How many instances reusing components may keep idle, over all of them.
    pub(crate) idle: Arc<super::reuse::IdleSlots>,
    /// Told how long each stage of each component call took, when set.
    pub(crate) observer: Option<Arc<dyn super::Observer>>,
}

/// How often the engine's epoch advances: how often a running guest checks its deadline
/// and yields to the executor. 1 ms rather than 5: beside two spinning guests on two
/// workers, `/hello` in `lamina serve` went from 1,071 to 4,794 req/s (p50 5.0 → 1.0 ms),
/// at no cost measurable in the pipeline benchmark.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Advances the engine's epoch every [`EPOCH_TICK`] on a background thread, so compiled
/// code that runs past its store's deadline traps (a guest in an endless loop never
/// returns to the host otherwise). Every [`Component`](super::Component) holds it too, so it
/// runs as long as anything can call a component, and stops when the last holder is
/// dropped. In
/// Lambda the thread is frozen with the sandbox between invocations, which is harmless:
/// deadlines are set when a request starts.
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: Engine) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("lamina-epoch".to_owned())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(Self { stop })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Builds the engine (Cranelift, pooling allocator, copy-on-write memory images), links
    /// WASI p2 and the `lamina:http` imports, and opens the compile cache
    /// (`$LAMINA_CACHE_DIR`, default `lamina-cache` in the temp directory, `off` for none).
    ///
    /// # Errors
    ///
    /// When the engine cannot be created (for example, virtual memory for the pool cannot be
    /// reserved).
    pub fn new() -> anyhow::Result<Self> {
        Self::with_tuning(&EngineTuning::default())
    }

    /// [`Runtime::new`] with other pooling-allocator settings (the pipeline benchmark
    /// compares them in one run).
    ///
    /// # Errors
    ///
    /// As [`Runtime::new`].
    pub fn with_tuning(tuning: &EngineTuning) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(tuning))?;
        let mut linker = Linker::new(&engine);
        // The contract's types (each version served), then every capability's imports (WASI among them).
        super::bindings::wit::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;
        super::bindings::v0_1::wit::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| {
            state
        })?;
        super::caps::link(&mut linker)?;
        let ticker = Arc::new(Ticker::start(engine.clone())?);
        let cache = CompileCache::from_env(&engine).map(Arc::new);
        Ok(Self {
            engine,
            linker,
            ticker,
            fetcher: Arc::new(Fetcher::default()),
            cache,
            instances: tuning.instances,
            idle: super::reuse::IdleSlots::new(tuning.instances as usize),
            observer: None,
        })
    }

    /// This runtime with the compile cache in `dir` (`None`: no cache), for tests and
    /// benchmarks that need a known cache state.
    ///
    /// # Errors
    ///
    /// As [`CompileCache::open`].
    pub fn with_cache_dir(mut self, dir: Option<&std::path::Path>) -> anyhow::Result<Self> {
        self.cache = dir
            .map(|dir| CompileCache::open(dir, &self.engine).map(Arc::new))
            .transpose()?;
        Ok(self)
    }

    /// The compile cache, when on.
    #[must_use]
    pub fn cache(&self) -> Option<&CompileCache> {
        self.cache.as_deref()
    }

    /// The fetcher that reads sources.
    #[must_use]
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// This runtime with `observer` told the time of each stage of each call of the
    /// components loaded through it from now on.
    #[must_use]
    pub fn observe(mut self, observer: Arc<dyn super::Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// How many component instances can exist at once (the pool's slots).
    #[must_use]
    pub fn instances(&self) -> usize {
        self.instances as usize
    }

    /// How many of those components with `instances = "reuse"` may keep idle between
    /// requests, over all of them: a quarter.
    #[must_use]
    pub fn idle_instances(&self) -> usize {
        self.idle.limit()
    }

    /// The wasmtime engine, e.g. for `Component::serialize` compatibility checks.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// An engine that only compiles, for `target` (a target triple such as
/// `aarch64-unknown-linux-gnu`; `None` for this machine), with the host's own settings: a
/// `.cwasm` it writes loads in a host of the same version built for that target, which
/// wasmtime checks when it loads it. `lamina bundle` cross-compiles with it.
///
/// # Errors
///
/// A target Cranelift was not built for, or the engine cannot be created.
pub fn compile_engine(target: Option<&str>) -> anyhow::Result<Engine> {
    let mut config = engine_config(&EngineTuning::default());
    if let Some(target) = target {
        config.target(target)?;
    }
    Ok(Engine::new(&config)?)
}

/// How the engine compiles guests and the pooling allocator recycles instance slots. The defaults are what
/// docs/BENCHMARKS.md measured fastest for a fresh instance per request.
#[derive(Clone, Debug)]
pub struct EngineTuning {
    /// Bytes of each linear memory reset in place (instead of `madvise`d away) when an
    /// instance is dropped, so the next instance finds them resident.
    pub keep_resident: usize,
    /// Use Linux's `PAGEMAP_SCAN` (6.7+) to reset only the pages an instance touched; falls
    /// back to plain resets on older kernels.
    pub pagemap_scan: bool,
    /// Decommits batched per flush (1 = none).
    pub decommit_batch: usize,
    /// Compile epoch checks into guest code, which is what lets a request timeout stop a
    /// guest in a loop. Off only to measure what it costs.
    pub epoch_interruption: bool,
    /// Component instances the pool has slots for ([`DEFAULT_INSTANCES`]).
    pub instances: u32,
}

impl Default for EngineTuning {
    /// With `PAGEMAP_SCAN` (Linux 6.7+), keep 1 MiB resident and reset only touched pages;
    /// without it, `memset`ting a large resident region costs more than it saves, so fall
    /// back to a small one (docs/BENCHMARKS.md has the measurements behind both).
    fn default() -> Self {
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            Self {
                keep_resident: 1 << 20,
                pagemap_scan: true,
                decommit_batch: 1,
                epoch_interruption: true,
                instances: DEFAULT_INSTANCES,
            }
        } else {
            Self {
                keep_resident: 64 << 10,
                pagemap_scan: false,
                decommit_batch: 1,
                epoch_interruption: true,
                instances: DEFAULT_INSTANCES,
            }
        }
    }
}

/// The engine configuration. `lamina compile` uses the same one, so its `.cwasm` output
/// is loadable by this host exactly when wasmtime's compatibility check says so.
fn engine_config(tuning: &EngineTuning) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    let instances = tuning.instances.max(1);
    pool.total_component_instances(instances)
        .total_core_instances(instances * 4)
        .total_memories(instances * 2)
        .total_tables(instances * 4)
        .total_stacks(instances)
        .linear_memory_keep_resident(tuning.keep_resident)
        .table_keep_resident(tuning.keep_resident.min(1 << 16))
        .decommit_batch_size(tuning.decommit_batch)
        .pagemap_scan(if tuning.pagemap_scan {
            Enabled::Auto
        } else {
            Enabled::No
        });
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(tuning.epoch_interruption)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}
