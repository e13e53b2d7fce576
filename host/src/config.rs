//! The host config file (TOML): components and the routes bound to them.
//!
//! ```toml
//! [components.todos]
//! source = "todos.wasm"          # relative to this file; .wasm or a .cwasm from `lamina compile`
//! sha256 = "9f2c…"               # optional pin, checked before compiling
//! config = { page-size = "20" }  # read-only values the guest reads with `config::get`
//!
//! [[routes]]
//! method = "GET"                 # or ANY
//! path = "/todos/{id}"           # `{name}` params, `{*rest}` (or `{rest+}`) catch-all
//! component = "todos"
//! ```
//!
//! Unknown keys are errors; so are routes naming missing components and conflicting routes
//! (checked when the route table is built).

use crate::component::caps::StoreConfig;
use crate::component::caps::kv::StoreSpec;
use crate::component::{CapabilityConfig, ComponentSpec, Grants, InstancePolicy};
use crate::compress::CompressionConfig;
use crate::cors::CorsConfig;
use crate::direct::DirectConfig;
use crate::error::ErrorFormat;
use crate::fetch::{Fetcher, Location};
use crate::limits::{ByteSize, Limits, Timeout};
use crate::prefix::{Prefix, PrefixConfig};
use crate::validate::ValidateConfig;
use anyhow::{Context as _, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Components by name.
    #[serde(default)]
    pub(crate) components: BTreeMap<String, ComponentConfig>,
    /// Key-value stores by name (`[key-value.NAME]`), opened by the components whose
    /// `key-value` list names them.
    #[serde(default)]
    pub(crate) key_value: BTreeMap<String, StoreConfig>,
    /// Route bindings, in file order.
    #[serde(default)]
    pub(crate) routes: Vec<RouteConfig>,
    /// Groups of routes under a common prefix, sharing host settings.
    #[serde(default)]
    pub(crate) groups: Vec<GroupConfig>,
    /// A component that answers requests no route matches (instead of the host's 404).
    pub(crate) not_found: Option<String>,
    /// Where payloads that are not HTTP events go (direct invocations, custom
    /// integrations), with errors as Lambda function errors; refused when absent.
    pub(crate) direct: Option<DirectConfig>,
    /// Middleware components in front of every request that reaches routing (matched or
    /// not), in order; each route's own chain runs after these.
    #[serde(default)]
    pub(crate) middleware: Vec<String>,
    /// In Lambda: when an invocation arrives and this long has passed since the last
    /// check, look for changed config or component files and swap in the new version
    /// (in the background). Off when absent. `lamina serve` always watches.
    pub(crate) reload_interval: Option<Timeout>,
    /// Path prefixes removed before routing, e.g. a custom domain's base path mapping
    /// (`/api` makes `/api/todos` route as `/todos`). The first that matches a whole
    /// segment wins; `raw_path` keeps what the client sent.
    #[serde(default)]
    pub(crate) strip_prefixes: Vec<PrefixConfig>,
    /// CORS for every route (routes may override it or opt out); none when absent.
    pub(crate) cors: Option<CorsConfig>,
    /// Response compression for every route (routes may opt out); none when absent.
    pub(crate) compression: Option<CompressionConfig>,
    /// How error responses look.
    #[serde(default)]
    pub(crate) error_format: ErrorFormat,
    /// `Cache-Control` added to error responses (none by default).
    pub(crate) error_cache_control: Option<String>,
    /// Request bodies larger than this get a `413` before any component runs (default
    /// 6 MiB, Lambda's request payload limit).
    pub(crate) max_request_body: Option<ByteSize>,
    /// Answer direct invocations of `{"lamina": {"reload": true}}` (check every source
    /// now and swap in what changed) in the Lambda loop. Off by default: anyone who can
    /// invoke the function could otherwise make it re-read its sources.
    #[serde(default)]
    pub(crate) admin_events: bool,
    /// `[logging]`: the access line, debug sampling, the `service` field.
    #[serde(default)]
    pub(crate) logging: crate::observe::LoggingConfig,
    /// `[metrics]`: CloudWatch EMF metrics on stdout; off when absent.
    pub(crate) metrics: Option<crate::observe::MetricsConfig>,
    /// `[tracing]`: X-Ray subsegments; the trace header is propagated either way.
    #[serde(default)]
    pub(crate) tracing: crate::observe::TracingConfig,
    /// `[openapi]`: the OpenAPI document's `info` and `servers`, and whether the host
    /// serves it (and a Swagger UI page).
    pub(crate) openapi: Option<crate::openapi::OpenApiConfig>,
    /// The directory relative local paths (schemas, granted directories, and component
    /// sources of a local config) resolve against: the config file's directory.
    #[serde(skip)]
    pub(crate) base_dir: PathBuf,
    /// Where the config itself was read from, when it was read from a location (relative
    /// component sources of an S3 config resolve next to it).
    #[serde(skip)]
    pub(crate) location: Option<Location>,
}

/// One component: where it is, how it is verified, what it may consume, and — in the
/// keys its capabilities own ([`CapabilityConfig`]) — what it may reach.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ComponentConfig {
    /// A `.wasm` component or a `.cwasm` produced by `lamina compile`: a path (relative to
    /// the config) or `s3://bucket/key` (optionally `?versionId=...`).
    pub(crate) source: String,
    /// The expected SHA-256 of the source file's bytes, in hex.
    pub(crate) sha256: Option<String>,
    /// Load a `.cwasm` without a `sha256` pin. Precompiled code is trusted native code:
    /// set this only for artifacts your own pipeline produced with `lamina compile`.
    #[serde(default)]
    pub(crate) trust_precompiled: bool,
    /// Linear memory limit (`"64MiB"`); default [`DEFAULT_MEMORY`](crate::limits::DEFAULT_MEMORY).
    pub(crate) memory: Option<ByteSize>,
    /// Wall-clock limit per request (`"3s"`); default
    /// [`DEFAULT_TIMEOUT`](crate::limits::DEFAULT_TIMEOUT).
    pub(crate) timeout: Option<Timeout>,
    /// Response size limit (status line, headers and body); default
    /// [`DEFAULT_MAX_RESPONSE`](crate::limits::DEFAULT_MAX_RESPONSE).
    pub(crate) max_response: Option<ByteSize>,
    /// `"fresh"` (default: a new instance per request) or `"reuse"`
    /// ([`InstancePolicy`](crate::component::InstancePolicy)).
    pub(crate) instances: Option<crate::component::InstancesKey>,
    /// Requests a reused instance serves before it is replaced; default
    /// [`DEFAULT_REUSE_REQUESTS`](crate::component::DEFAULT_REUSE_REQUESTS).
    pub(crate) max_requests: Option<u32>,
    /// The keys each capability reads (`env`, `files`, `config`, `secrets`, ...).
    #[serde(flatten)]
    pub(crate) capabilities: CapabilityConfig,
    /// The keys the struct itself did not read (serde cannot deny unknown keys of a struct
    /// with flattened parts): validation refuses any that no capability reads either.
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

/// The keys of `[components.NAME]` besides the capabilities'.
const COMPONENT_KEYS: [&str; 8] = [
    "source",
    "sha256",
    "trust-precompiled",
    "memory",
    "timeout",
    "max-response",
    "instances",
    "max-requests",
];

impl ComponentConfig {
    /// The enforced limits, defaults filled in.
    #[must_use]
    pub fn limits(&self) -> Limits {
        let default = Limits::default();
        Limits {
            memory: self.memory.map_or(default.memory, |m| m.0),
            timeout: self.timeout.map_or(default.timeout, |t| t.0),
            max_response: self.max_response.map_or(default.max_response, |m| m.0),
        }
    }
}

/// One route binding.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RouteConfig {
    /// `GET`, `POST`, ... or `ANY`. `HEAD` is served by the `GET` route when not bound.
    pub(crate) method: String,
    /// The path template: `/todos/{id}`, `/files/{*rest}` or API Gateway's `/{proxy+}`.
    pub(crate) path: String,
    /// The name of the component that handles it.
    pub(crate) component: String,
    /// `false` turns CORS off for this route; a table replaces the global `[cors]` for it.
    pub(crate) cors: Option<RouteCors>,
    /// `Cache-Control` added to this route's successful responses unless the handler set
    /// its own, e.g. `"public, max-age=60"`.
    pub(crate) cache_control: Option<String>,
    /// `Cache-Control` on this route's error responses (instead of the global
    /// `error-cache-control`), e.g. `"no-store"`.
    pub(crate) error_cache_control: Option<String>,
    /// `false` turns compression off for this route; a `[compression]`-shaped table
    /// replaces the global settings for it.
    pub(crate) compression: Option<RouteCompression>,
    /// Checks run on the request the handler will receive (after the middleware chain):
    /// JSON body, JSON Schemas.
    pub(crate) validate: Option<ValidateConfig>,
    /// Middleware components for this route, in order, after the global and group ones.
    #[serde(default)]
    pub(crate) middleware: Vec<String>,
    /// In Lambda, this route's errors fail the invocation as function errors (as a
    /// `[direct]` invocation's do) instead of answering an HTTP error response.
    #[serde(default)]
    pub(crate) function_errors: bool,
    /// How the route appears in the OpenAPI document: `summary`, `description`, `tags`,
    /// `operation-id`, `deprecated`, `hidden`.
    pub(crate) openapi: Option<crate::openapi::OperationDocs>,
}

/// Routes under one prefix (`/api/v1`), with settings each route inherits unless it sets
/// its own.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GroupConfig {
    /// Prepended to every route path in the group.
    pub(crate) prefix: String,
    /// The routes' CORS setting unless they set their own.
    pub(crate) cors: Option<RouteCors>,
    /// The routes' `Cache-Control` unless they set their own.
    pub(crate) cache_control: Option<String>,
    /// The routes' `error-cache-control` unless they set their own.
    pub(crate) error_cache_control: Option<String>,
    /// The routes' compression setting unless they set their own.
    pub(crate) compression: Option<RouteCompression>,
    /// Middleware for every route in the group, run before each route's own.
    #[serde(default)]
    pub(crate) middleware: Vec<String>,
    /// `openapi = { tags = [...] }`: tags every route of the group carries first.
    pub(crate) openapi: Option<crate::openapi::GroupDocs>,
    /// The routes, with paths relative to `prefix`.
    #[serde(default)]
    pub(crate) routes: Vec<RouteConfig>,
}

/// A route's compression setting.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RouteCompression {
    /// `compression = false` opts the route out (`true` keeps the global settings).
    Enabled(bool),
    /// Settings for this route only (also turns compression on when there is no global).
    Settings(CompressionConfig),
}

/// A route's CORS setting.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RouteCors {
    /// `cors = false` opts the route out (`true` keeps the global policy).
    Enabled(bool),
    /// A policy for this route only.
    Policy(CorsConfig),
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    ///
    /// When the file cannot be read, is not valid TOML, has an unknown key (the message
    /// names the key, line and column), or fails validation.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading config {}", path.display()))?;
        Self::from_bytes(&Location::File(path.to_path_buf()), &bytes)
    }

    /// Reads and validates the config at `location`: a file, or an S3 object (whose
    /// relative component sources resolve next to it in the bucket, and whose relative
    /// local paths resolve against `$LAMBDA_TASK_ROOT` or the working directory).
    ///
    /// # Errors
    ///
    /// As [`Config::load`], plus S3 errors.
    pub fn fetch(location: &Location, fetcher: &Fetcher) -> anyhow::Result<Self> {
        if let Location::File(path) = location {
            return Self::load(path);
        }
        let fetched = fetcher.read(location)?;
        Self::from_bytes(location, &fetched.bytes)
    }

    /// Parses and validates config bytes read from `location` (see [`Config::fetch`]):
    /// local relative paths resolve against a file config's directory, or for an S3 config
    /// against `$LAMBDA_TASK_ROOT` or the working directory.
    ///
    /// # Errors
    ///
    /// As [`Config::parse`].
    pub fn from_bytes(location: &Location, bytes: &[u8]) -> anyhow::Result<Self> {
        let text = std::str::from_utf8(bytes)
            .with_context(|| format!("config {location} is not UTF-8"))?;
        let base_dir = match location {
            Location::File(path) => crate::fetch::parent_dir(path),
            Location::S3 { .. } => std::env::var_os("LAMBDA_TASK_ROOT").map_or_else(
                || std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
                PathBuf::from,
            ),
        };
        let mut config =
            Self::deserialize(text).with_context(|| format!("in config {location}"))?;
        config.base_dir = base_dir;
        config.location = Some(location.clone());
        config
            .checked(text)
            .with_context(|| format!("in config {location}"))?;
        Ok(config)
    }

    /// Parses and validates config text; relative sources resolve against `base_dir`.
    ///
    /// # Errors
    ///
    /// As [`Config::load`], without the I/O.
    pub fn parse(text: &str, base_dir: PathBuf) -> anyhow::Result<Self> {
        let mut config = Self::deserialize(text)?;
        config.base_dir = base_dir;
        config.checked(text)?;
        Ok(config)
    }

    /// [`Config::validate`], with any secret value of `text` that a message might quote
    /// redacted (messages name keys, not values, but this holds whatever they say).
    fn checked(&self, text: &str) -> anyhow::Result<()> {
        self.validate(text)
            .map_err(|e| anyhow::Error::msg(crate::redact::scrub(text, &format!("{e:#}"))))
    }

    /// The TOML in `text`, unvalidated. A syntax or type error names the line and column
    /// but never shows a secret ([`crate::redact`]).
    fn deserialize(text: &str) -> anyhow::Result<Self> {
        toml::from_str(text).map_err(|e| crate::redact::toml_error(text, &e))
    }

    /// Every route, top-level ones first, then each group's with its prefix and inherited
    /// settings applied; each with the name messages use (`routes[2]`, `groups[0].routes[1]`).
    #[must_use]
    pub fn all_routes(&self) -> Vec<(String, RouteConfig)> {
        let mut out: Vec<(String, RouteConfig)> = self
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("routes[{i}]"), r.clone()))
            .collect();
        for (g, group) in self.groups.iter().enumerate() {
            for (i, route) in group.routes.iter().enumerate() {
                let mut route = route.clone();
                route.path = format!("{}{}", group.prefix, route.path);
                route.cors = route.cors.or_else(|| group.cors.clone());
                route.cache_control = route.cache_control.or_else(|| group.cache_control.clone());
                route.error_cache_control = route
                    .error_cache_control
                    .or_else(|| group.error_cache_control.clone());
                route.compression = route.compression.or_else(|| group.compression.clone());
                route.openapi =
                    crate::openapi::OperationDocs::inherit(group.openapi.as_ref(), route.openapi);
                route.middleware = group
                    .middleware
                    .iter()
                    .chain(&route.middleware)
                    .cloned()
                    .collect();
                out.push((format!("groups[{g}].routes[{i}]"), route));
            }
        }
        out
    }

    /// Checks what serde cannot: references between sections, value formats, and every
    /// component's grants. `text` is the file, for the line of an unknown key.
    ///
    /// # Errors
    ///
    /// A message naming the setting, e.g. `routes[2].component: no component named "x"`.
    fn validate(&self, text: &str) -> anyhow::Result<()> {
        for name in self.key_value.keys() {
            self.store_spec(name)?;
        }
        for (name, component) in &self.components {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!("components.{name:?}: names use letters, digits, '-' and '_' only");
            }
            // serde hands every key it did not match itself to each flattened part, so the
            // catch-all holds the capabilities' keys too: unknown is what none of them read.
            let mut known: Vec<&str> = COMPONENT_KEYS.to_vec();
            known.extend(crate::component::caps::keys());
            if let Some(key) = component
                .unknown
                .keys()
                .find(|k| !known.contains(&k.as_str()))
            {
                let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                bail!(
                    "{}components.{name}: unknown field `{key}`, expected one of {}",
                    key_position(text, key),
                    expected.join(", ")
                );
            }
            if let Some(pin) = &component.sha256
                && (pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()))
            {
                bail!("components.{name}.sha256: expected 64 hex digits, got {pin:?}");
            }
            self.component_spec(name)?;
        }
        // After the components: a grant naming a store that is not declared says so first.
        for name in self.key_value.keys() {
            if !self
                .components
                .values()
                .any(|c| c.capabilities.key_value.names().any(|n| n == name))
            {
                bail!(
                    "key-value.{name}: no component may open this store; list it in a component's `key-value = [\"{name}\"]`, or remove it"
                );
            }
        }
        for (i, prefix) in self.strip_prefixes.iter().enumerate() {
            Prefix::compile(prefix, i)?;
        }
        for (g, group) in self.groups.iter().enumerate() {
            if !group.prefix.starts_with('/') || group.prefix.ends_with('/') {
                bail!(
                    "groups[{g}].prefix: {:?} must start with '/' and not end with one (e.g. \"/api/v1\")",
                    group.prefix
                );
            }
        }
        let known = || {
            let known: Vec<&str> = self.components.keys().map(String::as_str).collect();
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        };
        if let Some(name) = &self.not_found
            && !self.components.contains_key(name)
        {
            bail!(
                "not-found: no component named {name:?} (defined: {})",
                known()
            );
        }
        for (i, name) in self.middleware.iter().enumerate() {
            if !self.components.contains_key(name) {
                bail!(
                    "middleware[{i}]: no component named {name:?} (defined: {})",
                    known()
                );
            }
        }
        for (g, group) in self.groups.iter().enumerate() {
            if let Some((i, name)) = group
                .middleware
                .iter()
                .enumerate()
                .find(|(_, name)| !self.components.contains_key(*name))
            {
                bail!(
                    "groups[{g}].middleware[{i}]: no component named {name:?} (defined: {})",
                    known()
                );
            }
        }
        for (at, route) in self.all_routes() {
            if let Some(name) = route
                .middleware
                .iter()
                .find(|name| !self.components.contains_key(*name))
            {
                bail!(
                    "{at}.middleware: no component named {name:?} (defined: {})",
                    known()
                );
            }
            if !self.components.contains_key(&route.component) {
                bail!(
                    "{at}.component: no component named {:?} (defined: {})",
                    route.component,
                    known()
                );
            }
            if !route.path.starts_with('/') {
                bail!("{at}.path: {:?} must start with '/'", route.path);
            }
        }
        if let Some(direct) = &self.direct {
            if !self.components.contains_key(&direct.component) {
                bail!(
                    "direct.component: no component named {:?} (defined: {})",
                    direct.component,
                    known()
                );
            }
            if let Some((i, name)) = direct
                .middleware
                .iter()
                .enumerate()
                .find(|(_, name)| !self.components.contains_key(*name))
            {
                bail!(
                    "direct.middleware[{i}]: no component named {name:?} (defined: {})",
                    known()
                );
            }
            if direct.select.as_deref() == Some("") {
                bail!(
                    "direct.select: name the payload field that selects the path, e.g. \"action\""
                );
            }
        }
        // An empty or half-written file parses; serving it would answer 404 to everything.
        if self.not_found.is_none() && self.all_routes().is_empty() && self.direct.is_none() {
            bail!(
                "the config serves nothing: it has no [[routes]] (and no not-found component or [direct]); \
                 an empty or half-written file is refused rather than served"
            );
        }
        Ok(())
    }

    /// Where a component's `source` points: a file (relative to the config's directory) or
    /// an S3 object.
    fn location(&self, name: &str, component: &ComponentConfig) -> anyhow::Result<Location> {
        Location::parse(&component.source, &self.source_base())
            .with_context(|| format!("components.{name}.source"))
    }

    /// What relative component sources resolve against: next to the config (in its S3
    /// bucket, for an S3 config), else `base_dir`.
    fn source_base(&self) -> Location {
        match &self.location {
            Some(location @ Location::S3 { .. }) => location.base(),
            _ => Location::File(self.base_dir.clone()),
        }
    }

    /// Everything needed to load component `name`: its source resolved, limits filled in,
    /// each capability's grant compiled.
    ///
    /// # Errors
    ///
    /// When there is no such component, its source is not a valid location, or a
    /// capability refuses its settings (naming the key).
    pub fn component_spec(&self, name: &str) -> anyhow::Result<ComponentSpec> {
        let component = self
            .components
            .get(name)
            .with_context(|| format!("no component named {name:?}"))?;
        let scope = crate::component::caps::Scope {
            component: name,
            base_dir: &self.base_dir,
            stores: &self.key_value,
            secrets: component.capabilities.config.secrets(),
            metrics: self.metrics.as_ref(),
        };
        Ok(ComponentSpec {
            source: self.location(name, component)?,
            sha256: component.sha256.clone(),
            trust_precompiled: component.trust_precompiled,
            limits: component.limits(),
            grants: Grants::compile(&component.capabilities, &scope)?,
            instances: InstancePolicy::from_keys(
                name,
                component.instances,
                component.max_requests,
            )?,
        })
    }

    /// Store `name` checked and resolved: what opening it needs.
    ///
    /// # Errors
    ///
    /// When there is no such store, or its settings are wrong (naming the key).
    pub(crate) fn store_spec(&self, name: &str) -> anyhow::Result<StoreSpec> {
        let store = self
            .key_value
            .get(name)
            .with_context(|| format!("no key-value store named {name:?}"))?;
        StoreSpec::compile(name, store, &self.base_dir)
    }

    /// Each key-value store's name, where it is, and the components that may open it, for
    /// `lamina check`.
    ///
    /// # Errors
    ///
    /// As [`Config::store_spec`] (never for a config that was loaded).
    pub fn stores(&self) -> anyhow::Result<Vec<(String, String, Vec<String>)>> {
        self.key_value
            .keys()
            .map(|name| {
                let users = self
                    .components
                    .iter()
                    .filter(|(_, c)| c.capabilities.key_value.names().any(|n| n == name))
                    .map(|(component, _)| component.clone())
                    .collect();
                Ok((name.clone(), self.store_spec(name)?.describe(), users))
            })
            .collect()
    }

    /// Every component's name and source, as the config resolves them.
    ///
    /// # Errors
    ///
    /// As [`Config::component_spec`] (never for a config that was loaded: those are
    /// validated).
    pub fn sources(&self) -> anyhow::Result<Vec<(String, Location)>> {
        self.components
            .iter()
            .map(|(name, c)| Ok((name.clone(), self.location(name, c)?)))
            .collect()
    }

    /// The global middleware chain, by component name.
    #[must_use]
    pub fn middleware(&self) -> &[String] {
        &self.middleware
    }

    /// When the Lambda loop looks for new versions (`reload-interval`).
    #[must_use]
    pub fn reload_interval(&self) -> Option<std::time::Duration> {
        self.reload_interval.map(|t| t.0)
    }
}

/// `TOML parse error at line L, column C: ` for the first line of `text` that sets `key`,
/// or nothing when it cannot be found (a key in an inline table written oddly).
fn key_position(text: &str, key: &str) -> String {
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(at) = rest.find(key) {
            let before = line[..offset + at].chars().last();
            let after = rest[at + key.len()..].trim_start();
            let boundary =
                before.is_none_or(|c| c.is_whitespace() || c == '{' || c == ',' || c == '.');
            if boundary && after.starts_with('=') {
                return format!(
                    "TOML parse error at line {}, column {}: ",
                    i + 1,
                    offset + at + 1
                );
            }
            offset += at + key.len();
            rest = &rest[at + key.len()..];
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Config> {
        Config::parse(text, PathBuf::from("/base"))
    }

    /// What `lamina check` would list for component `name`'s grants.
    fn described(config: &Config, name: &str) -> String {
        let spec = config.component_spec(name).unwrap();
        spec.grants
            .describe()
            .iter()
            .map(|(cap, line)| format!("{cap}: {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn relative_paths_resolve_next_to_where_the_config_came_from() {
        let text = "[components.a]\nsource = \"a.wasm\"\nfiles = { host = \"data\", guest = \"/data\" }\n\
                    [[routes]]\nmethod = \"GET\"\npath = \"/\"\ncomponent = \"a\"\n";
        let file = Location::File(PathBuf::from("/cfg/lamina.toml"));
        let config = Config::from_bytes(&file, text.as_bytes()).unwrap();
        assert_eq!(
            config.component_spec("a").unwrap().source,
            Location::File(PathBuf::from("/cfg/a.wasm"))
        );
        assert!(described(&config, "a").contains("files /cfg/data -> /data"));

        let s3 = Location::parse("s3://bucket/app/lamina.toml", &file).unwrap();
        let config = Config::from_bytes(&s3, text.as_bytes()).unwrap();
        assert_eq!(
            config.component_spec("a").unwrap().source.to_string(),
            "s3://bucket/app/a.wasm"
        );
        let bad = "[components.a]\nsource = \"s3://bucket\"\n";
        let error = format!("{:#}", Config::from_bytes(&s3, bad.as_bytes()).unwrap_err());
        assert!(error.contains("components.a.source"), "{error}");
    }

    #[test]
    fn valid_config_parses_and_resolves_sources() {
        let config = parse(
            r#"
            [components.hello]
            source = "hello.wasm"
            config = { greeting = "Hi" }

            [components.limited]
            source = "/abs/limited.wasm"
            memory = "32MiB"
            timeout = "250ms"
            max-response = 1024
            env = { REGION = "eu-west-1" }
            files = { host = "data", guest = "/data" }
            secrets = { api-key = "s3cr3t" }

            [[routes]]
            method = "GET"
            path = "/hello/{name}"
            component = "hello"
            "#,
        )
        .unwrap();
        let hello = config.component_spec("hello").unwrap();
        assert_eq!(
            hello.source,
            Location::File(PathBuf::from("/base/hello.wasm"))
        );
        assert_eq!(hello.limits, Limits::default());
        assert_eq!(
            described(&config, "hello"),
            "wasi: env [], files none, stdout/stderr 64 KiB kept per request\n\
             log: 1000 lines and 1024 KiB per request, 8 KiB per message\n\
             config: [greeting]\n\
             outbound: none allowed",
            "nothing is granted by default but the values"
        );
        assert_eq!(config.routes[0].path, "/hello/{name}");
        let limited = config.component_spec("limited").unwrap();
        assert_eq!(
            limited.source,
            Location::File(PathBuf::from("/abs/limited.wasm"))
        );
        assert_eq!(
            limited.limits,
            Limits {
                memory: 32 << 20,
                timeout: std::time::Duration::from_millis(250),
                max_response: 1024,
            }
        );
        let listed = described(&config, "limited");
        assert!(
            listed.contains("env [REGION], files /base/data -> /data"),
            "{listed}"
        );
        assert!(listed.contains("config: [api-key (secret)]"), "{listed}");
        assert!(!listed.contains("s3cr3t"));
    }

    #[test]
    fn bad_configs_name_the_setting() {
        let cases = [
            (
                "[components.a]\nsource = \"a.wasm\"\nsorce = 1\n",
                "unknown field `sorce`",
            ),
            (
                "[[routes]]\nmethod = \"GET\"\npath = \"/\"\ncomponent = \"nope\"\n",
                "routes[0].component: no component named \"nope\" (defined: none)",
            ),
            (
                "[components.a]\nsource = \"a.wasm\"\nsha256 = \"xyz\"\n",
                "components.a.sha256: expected 64 hex digits",
            ),
            (
                "[components.a]\nsource = \"a.wasm\"\n[[routes]]\nmethod = \"GET\"\npath = \"x\"\ncomponent = \"a\"\n",
                "routes[0].path: \"x\" must start with '/'",
            ),
            ("[routes]\n", "invalid type"),
            (
                "not-found = \"ghost\"\n",
                "not-found: no component named \"ghost\"",
            ),
            (
                "[[groups]]\nprefix = \"/v1/\"\n",
                "groups[0].prefix: \"/v1/\" must start with '/' and not end with one",
            ),
            (
                "[components.a]\nsource = \"a.wasm\"\n[[groups]]\nprefix = \"/v1\"\n[[groups.routes]]\nmethod = \"GET\"\npath = \"/x\"\ncomponent = \"b\"\n",
                "groups[0].routes[0].component: no component named \"b\" (defined: a)",
            ),
            (
                "[components.a]\nsource = \"a.wasm\"\nmemory = \"64XB\"\n",
                "unknown unit \"XB\"",
            ),
            (
                "[components.a]\nsource = \"a.wasm\"\ntimeout = \"0s\"\n",
                "must be more than zero",
            ),
            (
                "[components.a]\nsource = \"a.wasm\"\nconfig = { k = \"1\" }\nsecrets = { k = \"2\" }\n",
                "components.a: \"k\" is in both config and secrets",
            ),
            (
                "[components.a]\nsource = \"a.wasm\"\nfiles = { host = \"d\", guest = \"data\" }\n",
                "components.a.files.guest: \"data\" must be an absolute path",
            ),
            (
                "strip-prefixes = [\"api\"]\n",
                "strip-prefixes[0]: \"api\" must start with '/'",
            ),
            (
                "strip-prefixes = [\"/api/\"]\n",
                "strip-prefixes[0]: \"/api/\" must start with '/' and not end",
            ),
        ];
        for (text, expected) in cases {
            let error = format!("{:#}", parse(text).unwrap_err());
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(&".{0,300}", |text| {
                let _ = parse(&text);
                Ok(())
            })
            .unwrap();
        // Config-shaped text: sections, keys and values from the real vocabulary.
        let line = prop_oneof![
            Just("[components.a]".to_owned()),
            Just("[[routes]]".to_owned()),
            "(source|memory|timeout|max-response|method|path|component|sha256) = \"[a-zA-Z0-9/{}*+. ]{0,12}\"",
            "(env|config|secrets|files) = \\{ [a-z]{1,4} = \"[a-z/]{0,5}\" \\}",
            "strip-prefixes = \\[\"[a-z/]{0,6}\"\\]",
        ];
        runner
            .run(&proptest::collection::vec(line, 0..12), |lines| {
                let _ = parse(&lines.join("\n"));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn groups_prefix_their_routes_and_pass_settings_down() {
        let config = parse(
            r#"
            [components.a]
            source = "a.wasm"

            [[routes]]
            method = "GET"
            path = "/health"
            component = "a"

            [[groups]]
            prefix = "/api/v1"
            cache-control = "max-age=5"
            cors = false

            [[groups.routes]]
            method = "GET"
            path = "/todos"
            component = "a"

            [[groups.routes]]
            method = "GET"
            path = "/todos/{id}"
            component = "a"
            cache-control = "no-cache"
            "#,
        )
        .unwrap();
        let routes = config.all_routes();
        let summary: Vec<(&str, &str, Option<&str>, bool)> = routes
            .iter()
            .map(|(at, r)| {
                (
                    at.as_str(),
                    r.path.as_str(),
                    r.cache_control.as_deref(),
                    matches!(r.cors, Some(RouteCors::Enabled(false))),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("routes[0]", "/health", None, false),
                (
                    "groups[0].routes[0]",
                    "/api/v1/todos",
                    Some("max-age=5"),
                    true
                ),
                (
                    "groups[0].routes[1]",
                    "/api/v1/todos/{id}",
                    Some("no-cache"),
                    true
                ),
            ]
        );
    }

    #[test]
    fn toml_errors_carry_the_line() {
        let error = format!("{:#}", parse("[components.a]\nsource = \n").unwrap_err());
        assert!(error.contains("line 2"), "{error}");
    }
}
