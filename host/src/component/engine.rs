//! The one `Engine` and `Linker` a process uses for every component and every version.

use super::bindings::Handler;
use super::state::State;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

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
        let engine = Engine::new(&engine_config())?;
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

/// The engine configuration. `lamina compile` uses the same one, so its `.cwasm` output
/// is loadable by this host exactly when wasmtime's compatibility check says so.
fn engine_config() -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
        // Keep the first pages of each memory and table resident between instances instead
        // of returning them to the kernel: a fresh instance then reuses warm pages, which is
        // most of the cost of a per-request instance (see docs/BENCHMARKS.md).
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(1 << 16)
        .max_unused_warm_slots(16);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}
