//! The one `Engine` and `Linker` a process uses for every component and every version.

use super::bindings::Handler;
use super::state::State;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Instances the pool keeps slots for: requests are served one at a time in Lambda and a
/// handful at a time in `lamina serve`, so this bounds concurrency, not component count.
const POOL_INSTANCES: u32 = 128;

/// An engine plus a linker with WASI and Lamina's imports: built once per process and
/// shared by every [`App`](crate::App) version, so a hot swap never recompiles the host side.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<State>,
}

impl Runtime {
    /// Builds the engine (Cranelift, pooling allocator, copy-on-write memory images) and
    /// links WASI p2 and the `lamina:http` imports.
    ///
    /// # Errors
    ///
    /// When the engine cannot be created (for example, virtual memory for the pool cannot be
    /// reserved).
    pub fn new() -> anyhow::Result<Self> {
        Self::with_tuning(&PoolTuning::default())
    }

    /// [`Runtime::new`] with other pooling-allocator settings (the pipeline benchmark
    /// compares them in one run).
    ///
    /// # Errors
    ///
    /// As [`Runtime::new`].
    pub fn with_tuning(tuning: &PoolTuning) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(tuning))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        Handler::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;
        Ok(Self { engine, linker })
    }

    /// The wasmtime engine, e.g. for `Component::serialize` compatibility checks.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// How the pooling allocator recycles instance slots. The defaults are what
/// docs/BENCHMARKS.md measured fastest for a fresh instance per request.
#[derive(Clone, Debug)]
pub struct PoolTuning {
    /// Bytes of each linear memory reset in place (instead of `madvise`d away) when an
    /// instance is dropped, so the next instance finds them resident.
    pub keep_resident: usize,
    /// Use Linux's `PAGEMAP_SCAN` (6.7+) to reset only the pages an instance touched; falls
    /// back to plain resets on older kernels.
    pub pagemap_scan: bool,
    /// Decommits batched per flush (1 = none).
    pub decommit_batch: usize,
}

impl Default for PoolTuning {
    /// With `PAGEMAP_SCAN` (Linux 6.7+), keep 1 MiB resident and reset only touched pages;
    /// without it, `memset`ting a large resident region costs more than it saves, so fall
    /// back to a small one (docs/BENCHMARKS.md has the measurements behind both).
    fn default() -> Self {
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            Self {
                keep_resident: 1 << 20,
                pagemap_scan: true,
                decommit_batch: 1,
            }
        } else {
            Self {
                keep_resident: 64 << 10,
                pagemap_scan: false,
                decommit_batch: 1,
            }
        }
    }
}

/// The engine configuration. `lamina compile` uses the same one, so its `.cwasm` output
/// is loadable by this host exactly when wasmtime's compatibility check says so.
fn engine_config(tuning: &PoolTuning) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
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
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}
