//! What each request's `Store` holds, and the host side of the `log` and `config` imports.

use super::bindings::lamina::http::{config, log, types};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of guest stdout/stderr kept per request (a panic message fits many times over).
const OUTPUT_CAPACITY: usize = 64 * 1024;

/// The data of one request's `Store`: created fresh, dropped with the instance.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Guest stdout and stderr (panic messages land here), logged after the call.
    pub(crate) output: MemoryOutputPipe,
    component: Arc<str>,
    request_id: String,
    config: Arc<BTreeMap<String, String>>,
}

impl State {
    /// A store for one request to `component`: WASI with no preopens, no environment, no
    /// network, no stdin; stdout/stderr captured.
    pub(crate) fn new(
        component: Arc<str>,
        request_id: String,
        config: Arc<BTreeMap<String, String>>,
    ) -> Self {
        let output = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        // The builder's defaults already deny every socket address, name lookups, the
        // environment and preopens; turning TCP and UDP off says so explicitly.
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            output,
            component,
            request_id,
            config,
        }
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

impl log::Host for State {
    fn log(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        let component = &*self.component;
        let request_id = &self.request_id;
        let fields = (!fields.is_empty()).then(|| {
            fields
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        });
        let fields = fields.as_deref();
        match level {
            log::Level::Trace => {
                tracing::trace!(target: "guest", component, request_id, fields, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "guest", component, request_id, fields, "{message}")
            }
            log::Level::Info => {
                tracing::info!(target: "guest", component, request_id, fields, "{message}")
            }
            log::Level::Warn => {
                tracing::warn!(target: "guest", component, request_id, fields, "{message}")
            }
            log::Level::Error => {
                tracing::error!(target: "guest", component, request_id, fields, "{message}")
            }
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
