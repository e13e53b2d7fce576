//! What each request's `Store` holds, and the host side of the `log` and `config` imports.

use super::bindings::{config, wit as types};
use super::log::Budget;
use super::output::GuestOutput;
use crate::limits::{Grants, Limits};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

/// Enforces a component's memory limit (per linear memory; a Rust guest has one) and
/// remembers whether the guest hit it, so a
/// trap that follows (Rust's allocator aborts on failure) is reported as out-of-memory.
pub(crate) struct Limiter {
    memory: usize,
    /// The size the guest asked for when it was refused, if it was.
    pub(crate) refused: Option<usize>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory && maximum.is_none_or(|max| desired <= max);
        if !allowed {
            self.refused = Some(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// Per-store caps on what a component can create: generous for real components (a Rust
/// guest has a handful of core instances, tables and one memory), small enough that a
/// hostile one cannot exhaust the pool.
const MAX_INSTANCES: usize = 32;
const MAX_TABLES: usize = 32;
const MAX_MEMORIES: usize = 4;
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The data of one request's `Store`: created fresh, dropped with the instance.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Guest stdout and stderr (panic messages land here), logged after the call.
    pub(crate) output: GuestOutput,
    /// What the guest has logged this request, against the per-request caps.
    pub(crate) log_budget: Budget,
    pub(crate) component: Arc<str>,
    pub(crate) request_id: String,
    config: Arc<BTreeMap<String, String>>,
    pub(crate) limiter: Limiter,
    /// When the export call running now must end: checked against the clock at every
    /// epoch tick (see [`Session::call`](super::Session)).
    pub(crate) deadline: Instant,
}

impl State {
    /// A store for one request to `component`: WASI with no preopens, no environment, no
    /// network, no stdin; stdout/stderr captured; then whatever `grants` allows.
    ///
    /// # Errors
    ///
    /// When a granted directory cannot be opened.
    pub(crate) fn new(
        component: Arc<str>,
        request_id: String,
        config: Arc<BTreeMap<String, String>>,
        limits: &Limits,
        grants: &Grants,
    ) -> anyhow::Result<Self> {
        let output = GuestOutput::new(limits.max_output);
        // The builder's defaults already deny every socket address, name lookups, the
        // environment and preopens; turning TCP and UDP off says so explicitly.
        let mut builder = WasiCtx::builder();
        builder
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .envs(&grants.env);
        if let Some((host, guest)) = &grants.files {
            builder
                .preopened_dir(host, guest, FsPerms::ReadOnly)
                .map_err(|e| {
                    anyhow::anyhow!("opening granted directory {}: {e}", host.display())
                })?;
        }
        Ok(Self {
            wasi: builder.build(),
            table: ResourceTable::new(),
            output,
            log_budget: Budget::default(),
            component,
            request_id,
            config,
            limiter: Limiter {
                memory: limits.memory,
                refused: None,
            },
            deadline: Instant::now(),
        })
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for State {}

impl config::Host for State {
    fn get(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    fn get_all(&mut self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
