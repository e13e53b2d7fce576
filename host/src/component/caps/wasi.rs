//! WASI: what a `wasm32-wasip2` guest's standard library needs, and the grants on it.
//!
//! ```toml
//! [components.orders]
//! env = { REGION = "eu-west-1" }              # environment variables (none by default)
//! files = { host = "data", guest = "/data" }  # one directory, read-only (none by default)
//! max-output = "64KiB"                        # stdout/stderr kept per request
//! ```
//!
//! Clocks and random numbers are always there; sockets, name lookups, stdin, the host's
//! environment and filesystem never are. Stdout and stderr go to a per-request capture
//! (`output.rs`) and are logged, escaped, when the instance is dropped.

use super::super::output::{DEFAULT_MAX_OUTPUT, GuestOutput};
use super::super::state::State;
use super::{Capability, KeyList, Scope, Who};
use crate::limits::ByteSize;
use anyhow::bail;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wasmtime::component::Linker;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

/// The capability.
pub(crate) struct Wasi;

/// Its keys in `[components.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct WasiConfig {
    /// Environment variables the guest sees.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// One host directory the guest may read.
    files: Option<FilesGrant>,
    /// Bytes of stdout/stderr kept per request.
    max_output: Option<ByteSize>,
}

/// A read-only directory grant.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct FilesGrant {
    /// The host directory (relative paths resolve against the config file).
    pub(crate) host: String,
    /// Where the guest sees it, e.g. `/data`.
    pub(crate) guest: String,
}

/// What is granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WasiGrant {
    env: Vec<(String, String)>,
    /// The host directory, resolved, and where it appears in the guest.
    files: Option<(PathBuf, String)>,
    max_output: usize,
}

impl Default for WasiGrant {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            files: None,
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }
}

/// One instance's WASI context and its captured output.
pub(crate) struct WasiInstance {
    ctx: WasiCtx,
    output: GuestOutput,
}

impl KeyList for Wasi {
    const KEYS: &'static [&'static str] = &["env", "files", "max-output"];
}

impl Capability for Wasi {
    const NAME: &'static str = "wasi";
    type Config = WasiConfig;
    type Grant = WasiGrant;
    type Instance = WasiInstance;

    fn grant(config: &WasiConfig, scope: &Scope<'_>) -> anyhow::Result<WasiGrant> {
        let files = match &config.files {
            None => None,
            Some(files) if !files.guest.starts_with('/') => bail!(
                "components.{}.files.guest: {:?} must be an absolute path such as \"/data\"",
                scope.component,
                files.guest
            ),
            Some(files) => Some((scope.base_dir.join(&files.host), files.guest.clone())),
        };
        Ok(WasiGrant {
            env: config
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            files,
            max_output: config.max_output.map_or(DEFAULT_MAX_OUTPUT, |b| b.0),
        })
    }

    fn link(
        linker: &mut Linker<State>,
        _get: fn(&mut State) -> &mut WasiInstance,
    ) -> wasmtime::Result<()> {
        // Reached through `WasiView for State` below: wasmtime-wasi's linking takes a view
        // trait rather than a getter.
        wasmtime_wasi::p2::add_to_linker_async(linker)
    }

    fn instance(grant: &WasiGrant) -> anyhow::Result<WasiInstance> {
        let output = GuestOutput::new(grant.max_output);
        // The builder's defaults already deny every socket address, name lookups, the
        // environment and preopens; turning TCP and UDP off says so explicitly.
        let mut builder = WasiCtx::builder();
        builder
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .envs(&grant.env);
        if let Some((host, guest)) = &grant.files {
            builder
                .preopened_dir(host, guest, FsPerms::ReadOnly)
                .map_err(|e| {
                    anyhow::anyhow!("opening granted directory {}: {e}", host.display())
                })?;
        }
        Ok(WasiInstance {
            ctx: builder.build(),
            output,
        })
    }

    fn describe(grant: &WasiGrant) -> Option<String> {
        let env: Vec<&str> = grant.env.iter().map(|(k, _)| k.as_str()).collect();
        let files = grant.files.as_ref().map_or_else(
            || "none".to_owned(),
            |(host, guest)| format!("{} -> {guest} (read-only)", host.display()),
        );
        Some(format!(
            "env [{}], files {files}, stdout/stderr {} KiB kept per request",
            env.join(", "),
            grant.max_output >> 10
        ))
    }

    fn finish(instance: &WasiInstance, who: &Who<'_>) {
        super::write_output(who, &instance.output.contents());
    }

    /// The context stays: the guest's stdout and stderr streams (in the store's table)
    /// write to its capture, which starts empty for the next request.
    fn recycle(instance: &mut WasiInstance, _grant: &WasiGrant) -> anyhow::Result<()> {
        instance.output.clear();
        Ok(())
    }

    /// Output past `max-output` is a budget exceeded, as log lines past theirs are.
    fn reusable(instance: &WasiInstance) -> bool {
        !instance.output.overflowed()
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.caps.wasi.ctx,
            table: &mut self.table,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> WasiConfig {
        toml::from_str(text).unwrap()
    }

    fn scope() -> Scope<'static> {
        static NO_STORES: std::collections::BTreeMap<String, super::super::StoreConfig> =
            std::collections::BTreeMap::new();
        Scope {
            component: "c",
            base_dir: Path::new("/cfg"),
            stores: &NO_STORES,
            secrets: Box::leak(Box::default()),
            metrics: None,
        }
    }

    #[test]
    fn grants_nothing_by_default_and_what_the_config_says() {
        let none = Wasi::grant(&WasiConfig::default(), &scope()).unwrap();
        assert_eq!(none, WasiGrant::default());
        let some = Wasi::grant(
            &config("env = { A = \"1\" }\nfiles = { host = \"data\", guest = \"/data\" }\nmax-output = \"1KiB\""),
            &scope(),
        )
        .unwrap();
        assert_eq!(some.env, [("A".to_owned(), "1".to_owned())]);
        assert_eq!(
            some.files,
            Some((PathBuf::from("/cfg/data"), "/data".to_owned()))
        );
        assert_eq!(some.max_output, 1024);
        assert!(
            Wasi::describe(&some)
                .unwrap()
                .contains("env [A], files /cfg/data -> /data")
        );
    }

    #[test]
    fn denies_a_relative_guest_path_naming_the_key() {
        let error = Wasi::grant(
            &config("files = { host = \"d\", guest = \"data\" }"),
            &scope(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("components.c.files.guest: \"data\" must be an absolute path"),
            "{error}"
        );
        // A directory that is gone by the time an instance is made is an error, not a panic.
        let gone = Wasi::grant(
            &config("files = { host = \"/nonexistent-lamina\", guest = \"/d\" }"),
            &scope(),
        )
        .unwrap();
        assert!(Wasi::instance(&gone).is_err());
    }

    #[test]
    fn links_once() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<State>::new(&engine);
        Wasi::link(&mut linker, |s| &mut s.caps.wasi).unwrap();
        assert!(
            Wasi::link(&mut linker, |s| &mut s.caps.wasi).is_err(),
            "the imports are defined"
        );
    }
}
