//! The `lamina:http/trace` import: the X-Ray trace header of the call, so a component can
//! log it, return it, or hand it to a client the host does not see (`X-Amzn-Trace-Id` is
//! already added to its outbound HTTP calls, [`super::http`]).
//!
//! The header is the one the call's `Store` was made with ([`State::trace_header`]):
//! `Root=` and `Sampled=` of the invocation, `Parent=` this call's subsegment when
//! subsegments are sent. No key to grant: it is the component's own request.

use super::super::state::State;
use super::{Capability, KeyList, Scope};
use serde::Deserialize;
use wasmtime::component::Linker;

/// The capability.
pub(crate) struct Trace;

/// Its (no) keys in `[components.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct TraceConfig {}

impl KeyList for Trace {
    const KEYS: &'static [&'static str] = &[];
}

impl Capability for Trace {
    const NAME: &'static str = "trace";
    type Config = TraceConfig;
    type Grant = ();
    type Instance = ();

    fn grant(_config: &TraceConfig, _scope: &Scope<'_>) -> anyhow::Result<()> {
        Ok(())
    }

    fn link(linker: &mut Linker<State>, _get: fn(&mut State) -> &mut ()) -> wasmtime::Result<()> {
        linker.instance("lamina:http/trace@0.2.0")?.func_wrap(
            "header",
            |store: wasmtime::StoreContextMut<'_, State>, (): ()| {
                Ok((store.data().trace_header.clone(),))
            },
        )?;
        Ok(())
    }

    fn instance((): &()) -> anyhow::Result<()> {
        Ok(())
    }

    fn describe((): &()) -> Option<String> {
        None
    }
}
