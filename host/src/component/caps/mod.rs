//! Capabilities: what a component may reach beyond its own request, one module each.
//!
//! Each capability owns everything about itself:
//!
//! - the keys it reads from `[components.NAME]` ([`Capability::Config`], flattened into the
//!   component's section, so the file format stays one flat table);
//! - what that config grants, checked and compiled once at load ([`Capability::grant`]),
//!   with errors that name the key;
//! - its imports in the process's one linker ([`Capability::link`]);
//! - the state one instance keeps in its `Store` ([`Capability::instance`]), and what it
//!   reports when the instance is dropped ([`Capability::finish`]);
//! - the line `lamina check` prints for it ([`Capability::describe`]), never a secret.
//!
//! They are listed once, in the `capabilities!` invocation below; the macro builds the
//! component section's keys, [`Grants`], the per-instance state and the linking from that
//! list. Adding a capability is a new module and one line there. (Spin's factors have the
//! same three steps; Lamina needs no generic framework around them.)

mod aws;
mod http;
pub(crate) mod kv;
mod log;
mod metrics;
mod trace;
mod values;
mod wasi;

pub use http::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_FIRST_BYTE_TIMEOUT, DEFAULT_MAX_REQUESTS,
    DEFAULT_MAX_RESPONSE_BODY,
};
pub use kv::{
    MAX_BATCH_BYTES, MAX_BATCH_KEYS, MAX_CAS_HANDLES, MAX_KEY, MAX_MEMORY_STORE, MAX_VALUE,
    StoreConfig,
};
pub(crate) use log::write_output;
pub use log::{MAX_BYTES, MAX_FIELD_KEY, MAX_FIELD_VALUE, MAX_FIELDS, MAX_LINES, MAX_MESSAGE};
pub use metrics::{MAX_VALUES, MAX_VALUES_PER_METRIC};
pub use values::Secrets;

use super::state::State;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::Path;
use wasmtime::component::Linker;

/// Where a component's config is being granted: for messages and relative paths.
pub(crate) struct Scope<'a> {
    /// The component's name (`components.NAME`).
    pub(crate) component: &'a str,
    /// What relative paths resolve against: the config file's directory.
    pub(crate) base_dir: &'a Path,
    /// The key-value stores the config declares (`[key-value.NAME]`).
    pub(crate) stores: &'a BTreeMap<String, StoreConfig>,
    /// The component's `secrets` (the `config` capability's key), which capabilities that
    /// write what the component says redact.
    pub(crate) secrets: &'a Secrets,
    /// `[metrics]`, where the component's own metrics go, when the config has it.
    pub(crate) metrics: Option<&'a crate::observe::MetricsConfig>,
}

/// Which instance is finishing: for the lines a capability writes then.
pub(crate) struct Who<'a> {
    pub(crate) component: &'a str,
    pub(crate) request_id: &'a str,
    /// The component's secrets, redacted from whatever it wrote.
    pub(crate) redact: &'a log::Redact,
}

/// One capability. See the module docs for what each part is for.
pub(crate) trait Capability {
    /// The name `lamina check` lists it under.
    const NAME: &'static str;
    /// The keys of `[components.NAME]` it reads.
    type Config: Clone + std::fmt::Debug + Default + DeserializeOwned;
    /// What the config grants, compiled at load. The default grants nothing.
    type Grant: Default + Send + Sync + 'static;
    /// What one instance keeps in its `Store`.
    type Instance: Send + 'static;

    /// Checks and compiles `config`.
    ///
    /// # Errors
    ///
    /// An impossible or invalid setting, naming `components.NAME.key`.
    fn grant(config: &Self::Config, scope: &Scope<'_>) -> anyhow::Result<Self::Grant>;

    /// Adds its imports to the linker; `get` finds its instance state in a `Store`'s data.
    ///
    /// # Errors
    ///
    /// When the linker already defines them.
    fn link(
        linker: &mut Linker<State>,
        get: fn(&mut State) -> &mut Self::Instance,
    ) -> wasmtime::Result<()>;

    /// The state for one instance.
    ///
    /// # Errors
    ///
    /// When a granted resource cannot be opened (a directory gone since load).
    fn instance(grant: &Self::Grant) -> anyhow::Result<Self::Instance>;

    /// What `lamina check` prints for this grant, or `None` when there is nothing to say.
    fn describe(grant: &Self::Grant) -> Option<String>;

    /// Called when the request is done with the instance (before it is dropped, or kept
    /// for the next request when the component reuses instances).
    fn finish(_instance: &Self::Instance, _who: &Who<'_>) {}

    /// Readies a reused instance's state for its next request: what is counted per
    /// request starts again. The default makes the state anew; a capability whose state
    /// the guest holds handles into (WASI's streams) keeps that part.
    ///
    /// # Errors
    ///
    /// As [`Capability::instance`].
    fn recycle(instance: &mut Self::Instance, grant: &Self::Grant) -> anyhow::Result<()> {
        *instance = Self::instance(grant)?;
        Ok(())
    }

    /// Whether the instance may serve another request: false when the guest went over a
    /// budget of this capability during the request, or was refused something (a reused
    /// instance that misbehaved is replaced, as one that trapped is).
    fn reusable(_instance: &Self::Instance) -> bool {
        true
    }
}

/// Declares the capabilities: each line is `field: Type`, `Type` implementing
/// [`Capability`]; `field` names its grant in [`Grants`] and its state in a `Store`.
macro_rules! capabilities {
    ($($field:ident: $cap:ty),* $(,)?) => {
        /// The keys of `[components.NAME]` that capabilities read, each capability's own.
        #[derive(Clone, Debug, Default, Deserialize)]
        pub struct CapabilityConfig {
            $(
                #[serde(flatten)]
                pub(crate) $field: <$cap as Capability>::Config,
            )*
        }

        /// What a component is granted: each capability's compiled grant.
        #[derive(Default)]
        pub struct Grants {
            $(pub(crate) $field: <$cap as Capability>::Grant,)*
        }

        /// Each capability's state in one instance's `Store`.
        pub(crate) struct Instances {
            $(pub(crate) $field: <$cap as Capability>::Instance,)*
        }

        impl Grants {
            /// Compiles every capability's grant from `config`.
            ///
            /// # Errors
            ///
            /// The first capability that refuses its config, naming the key.
            pub(crate) fn compile(
                config: &CapabilityConfig,
                scope: &Scope<'_>,
            ) -> anyhow::Result<Self> {
                Ok(Self {
                    $($field: <$cap as Capability>::grant(&config.$field, scope)?,)*
                })
            }

            /// One line per capability that has something to say, for `lamina check`:
            /// `(capability, description)`. Never a secret's value.
            #[must_use]
            pub fn describe(&self) -> Vec<(&'static str, String)> {
                let mut out = Vec::new();
                $(
                    if let Some(line) = <$cap as Capability>::describe(&self.$field) {
                        out.push((<$cap as Capability>::NAME, line));
                    }
                )*
                out
            }

            /// The state of one new instance.
            pub(crate) fn instantiate(&self) -> anyhow::Result<Instances> {
                Ok(Instances {
                    $($field: <$cap as Capability>::instance(&self.$field)?,)*
                })
            }
        }

        impl Instances {
            /// Lets each capability report on the instance it served.
            pub(crate) fn finish(&self, who: &Who<'_>) {
                $(<$cap as Capability>::finish(&self.$field, who);)*
            }

            /// Readies each capability's state for the instance's next request.
            pub(crate) fn recycle(&mut self, grants: &Grants) -> anyhow::Result<()> {
                $(<$cap as Capability>::recycle(&mut self.$field, &grants.$field)?;)*
                Ok(())
            }

            /// Whether every capability lets the instance serve again.
            pub(crate) fn reusable(&self) -> bool {
                true $(&& <$cap as Capability>::reusable(&self.$field))*
            }
        }

        /// Links every capability's imports.
        pub(crate) fn link(linker: &mut Linker<State>) -> wasmtime::Result<()> {
            $(<$cap as Capability>::link(linker, |state| &mut state.caps.$field)?;)*
            Ok(())
        }

        /// Every key capabilities read, for "expected one of" in messages.
        pub(crate) fn keys() -> Vec<&'static str> {
            let mut keys = Vec::new();
            $(keys.extend_from_slice(<$cap as KeyList>::KEYS);)*
            keys
        }
    };
}

/// The keys a capability's config reads, as written in TOML (serde cannot list the keys of
/// a flattened struct, and an unknown key must still be reported with the known ones).
pub(crate) trait KeyList {
    const KEYS: &'static [&'static str];
}

capabilities! {
    wasi: wasi::Wasi,
    log: log::Log,
    config: values::Values,
    http: http::Http,
    aws: aws::Aws,
    key_value: kv::KeyValue,
    metrics: metrics::GuestMetrics,
    trace: trace::Trace,
}
