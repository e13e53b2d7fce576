//! The `lamina:http/config` import: read-only values declared for one component, secrets
//! among them.
//!
//! ```toml
//! [components.orders]
//! config = { page-size = "20" }      # read with config::get
//! secrets = { api-key = "…" }        # the same to the guest; the value never logged or shown
//! ```
//!
//! A component sees only its own values. `lamina check` lists the keys, secrets marked
//! `(secret)`, never a secret's value; `Debug` of the config shows secret keys only.

use super::super::bindings::{config, v0_1};
use super::super::state::State;
use super::{Capability, KeyList, Scope};
use anyhow::bail;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

/// The capability.
pub(crate) struct Values;

/// Its keys in `[components.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ValuesConfig {
    /// Read-only values the guest reads through the `config` import.
    #[serde(default)]
    config: BTreeMap<String, String>,
    /// Like `config`, but the values are never logged or shown: `lamina check` lists each
    /// key marked `(secret)`, and config errors redact the values.
    #[serde(default)]
    secrets: Secrets,
}

impl ValuesConfig {
    /// The `secrets` table.
    pub(crate) fn secrets(&self) -> &Secrets {
        &self.secrets
    }
}

/// Config values whose text must never appear in logs or listings: `Debug` shows the keys
/// only.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secrets(BTreeMap<String, String>);

impl Secrets {
    /// The secret values (for redacting them from what a component logs).
    pub(crate) fn values(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(String::as_str)
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

/// The values, secrets merged in, and which keys are secret (for listings).
#[derive(Default)]
pub(crate) struct ValuesGrant {
    values: Arc<BTreeMap<String, String>>,
    secret_keys: Vec<String>,
}

/// One instance's view of the values.
pub(crate) struct ValuesInstance(Arc<BTreeMap<String, String>>);

impl KeyList for Values {
    const KEYS: &'static [&'static str] = &["config", "secrets"];
}

impl Capability for Values {
    const NAME: &'static str = "config";
    type Config = ValuesConfig;
    type Grant = ValuesGrant;
    type Instance = ValuesInstance;

    fn grant(config: &ValuesConfig, scope: &Scope<'_>) -> anyhow::Result<ValuesGrant> {
        if let Some(dup) = config
            .secrets
            .0
            .keys()
            .find(|k| config.config.contains_key(*k))
        {
            bail!(
                "components.{}: {dup:?} is in both config and secrets",
                scope.component
            );
        }
        let mut values = config.config.clone();
        values.extend(config.secrets.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(ValuesGrant {
            values: Arc::new(values),
            secret_keys: config.secrets.0.keys().cloned().collect(),
        })
    }

    fn link(
        linker: &mut Linker<State>,
        get: fn(&mut State) -> &mut ValuesInstance,
    ) -> wasmtime::Result<()> {
        config::add_to_linker::<State, HasSelf<ValuesInstance>>(linker, get)?;
        v0_1::config::add_to_linker::<State, HasSelf<ValuesInstance>>(linker, get)
    }

    fn instance(grant: &ValuesGrant) -> anyhow::Result<ValuesInstance> {
        Ok(ValuesInstance(grant.values.clone()))
    }

    fn describe(grant: &ValuesGrant) -> Option<String> {
        let keys: Vec<String> = grant
            .values
            .keys()
            .map(|k| {
                if grant.secret_keys.contains(k) {
                    format!("{k} (secret)")
                } else {
                    k.clone()
                }
            })
            .collect();
        Some(format!("[{}]", keys.join(", ")))
    }
}

impl config::Host for ValuesInstance {
    fn get(&mut self, key: String) -> Option<String> {
        self.0.get(&key).cloned()
    }

    fn get_all(&mut self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// `lamina:http/config@0.1.0` is the same interface: components built against it get the
/// same values.
impl v0_1::config::Host for ValuesInstance {
    fn get(&mut self, key: String) -> Option<String> {
        config::Host::get(self, key)
    }

    fn get_all(&mut self) -> Vec<(String, String)> {
        config::Host::get_all(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::Host as _;

    fn grant(text: &str) -> anyhow::Result<ValuesGrant> {
        let config: ValuesConfig = toml::from_str(text).unwrap();
        let scope = Scope {
            component: "c",
            base_dir: std::path::Path::new("/"),
            stores: &Default::default(),
            secrets: &Default::default(),
            metrics: None,
        };
        Values::grant(&config, &scope)
    }

    #[test]
    fn grants_values_and_secrets_and_lists_only_keys() {
        let granted = grant("config = { a = \"1\" }\nsecrets = { token = \"s3cr3t\" }").unwrap();
        let mut instance = Values::instance(&granted).unwrap();
        assert_eq!(instance.get("token".into()).as_deref(), Some("s3cr3t"));
        assert_eq!(instance.get_all().len(), 2);
        let described = Values::describe(&granted).unwrap();
        assert_eq!(described, "[a, token (secret)]");
        let config: ValuesConfig = toml::from_str("secrets = { token = \"s3cr3t\" }").unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }

    #[test]
    fn denies_a_key_in_both_and_unknown_keys_read_nothing() {
        let error = grant("config = { k = \"1\" }\nsecrets = { k = \"2\" }")
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .contains("components.c: \"k\" is in both config and secrets")
        );
        let mut nothing = Values::instance(&ValuesGrant::default()).unwrap();
        assert_eq!(nothing.get("anything".into()), None);
    }

    #[test]
    fn links_once() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<State>::new(&engine);
        Values::link(&mut linker, |s| &mut s.caps.config).unwrap();
        assert!(Values::link(&mut linker, |s| &mut s.caps.config).is_err());
    }
}
