//! What each instance's `Store` holds: who it serves, the limiter, the deadline of the call
//! running now, and each capability's state ([`super::caps`]).

use super::bindings::wit as types;
use super::caps::{Grants, Instances};
use crate::limits::Limits;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;

/// Enforces a component's memory limit over all of its linear memories together (a Rust
/// guest has one; an interpreter may have several), and remembers whether the guest hit
/// it, so a trap that follows (Rust's allocator aborts on failure) is reported as
/// out-of-memory.
pub(crate) struct Limiter {
    memory: usize,
    /// Bytes of linear memory the instance's memories hold now, together.
    used: usize,
    /// The total size the guest asked for when it was refused, if it was.
    pub(crate) refused: Option<usize>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Memories only grow, and a new one starts from zero: the total after this growth
        // is the total now plus what this memory adds.
        let total = self.used - current.min(self.used) + desired;
        let allowed = total <= self.memory && maximum.is_none_or(|max| desired <= max);
        if allowed {
            self.used = total;
        } else {
            self.refused = Some(total);
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

/// Host-side resources (streams, pollables, HTTP fields, requests, bodies) one instance may
/// hold at once. Each holds host memory the guest's `memory` limit does not see (a header
/// set up to 64 KiB, a body's buffer up to 32 KiB, see `caps::http`): with wasmtime's
/// default of a million, a guest could pin gigabytes of the host's memory before its
/// deadline. An interpreter guest holds a few dozen.
pub(crate) const MAX_RESOURCES: usize = 1024;

/// The data of one instance's `Store`: created with the instance, dropped with it (and,
/// when the component reuses instances, readied for each request by [`State::recycle`]).
pub(crate) struct State {
    /// The component's name, for log lines.
    pub(crate) component: Arc<str>,
    /// The request it serves.
    pub(crate) request_id: String,
    /// The request's X-Ray trace header, with this call's subsegment as `Parent=` when
    /// subsegments are sent: what outbound calls propagate.
    pub(crate) trace_header: Option<String>,
    pub(crate) limiter: Limiter,
    /// When the export call running now must end: checked against the clock at every
    /// epoch tick (see `Session::new`).
    pub(crate) deadline: Instant,
    /// Resources the guest holds handles to (streams, pollables, HTTP requests and
    /// bodies): one table shared by the capabilities whose interfaces pass them around.
    pub(crate) table: ResourceTable,
    /// Each capability's state.
    pub(crate) caps: Instances,
}

impl State {
    /// A store for one request to `component`: each capability's state from `grants`.
    ///
    /// # Errors
    ///
    /// When a capability cannot make its state (a granted directory is gone).
    pub(crate) fn new(
        component: Arc<str>,
        request_id: String,
        trace_header: Option<String>,
        limits: &Limits,
        grants: &Grants,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            component,
            request_id,
            trace_header,
            limiter: Limiter {
                memory: limits.memory,
                used: 0,
                refused: None,
            },
            deadline: Instant::now(),
            table: {
                let mut table = ResourceTable::new();
                table.set_max_capacity(MAX_RESOURCES);
                table
            },
            caps: grants.instantiate()?,
        })
    }
}

impl State {
    /// Readies a reused instance's state for the next request (`instances = "reuse"`): its
    /// request id and trace header, and each capability's per-request state started
    /// again. The limiter keeps counting the memory the instance already holds.
    ///
    /// # Errors
    ///
    /// When a capability cannot make its state again (a granted directory is gone).
    pub(crate) fn recycle(
        &mut self,
        request_id: String,
        trace_header: Option<String>,
        grants: &Grants,
    ) -> anyhow::Result<()> {
        self.request_id = request_id;
        self.trace_header = trace_header;
        self.limiter.refused = None;
        self.caps.recycle(grants)
    }
}

impl types::Host for State {}
impl super::bindings::v0_1::wit::Host for State {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_limit_covers_every_memory_together() {
        let mut limiter = Limiter {
            memory: 100,
            used: 0,
            refused: None,
        };
        assert!(limiter.memory_growing(0, 60, None).unwrap(), "first memory");
        assert!(
            !limiter.memory_growing(0, 60, None).unwrap(),
            "a second one past the total"
        );
        assert_eq!(limiter.refused, Some(120));
        assert!(
            limiter.memory_growing(0, 40, None).unwrap(),
            "a second one within it"
        );
        assert!(
            !limiter.memory_growing(60, 61, None).unwrap(),
            "growing the first past it"
        );
        assert!(
            !limiter.memory_growing(0, 10, Some(5)).unwrap(),
            "its own maximum"
        );
    }
}
