//! The stores a config declares (`[key-value.NAME]`), and the process's open stores.
//!
//! ```toml
//! [key-value.todos]
//! backend = "file"                 # "memory" | "file" | "dynamodb"
//! path = "data/todos.redb"         # file: relative to the config; several stores may share one
//!
//! [key-value.sessions]
//! backend = "dynamodb"
//! table = "sessions"               # partition key `k` (S); region and endpoint from the environment
//! ```
//!
//! A store is opened once per process and kept open: a hot swap that keeps a store's name
//! and place keeps its data (a `memory` store too) and never reopens its file.

use super::backend::Backend;
use super::dynamodb::Dynamo;
use super::file::{File, open_database};
use super::memory::Memory;
use anyhow::{Context as _, bail};
use http::Uri;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// `[key-value.NAME]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StoreConfig {
    /// Where the data lives.
    backend: BackendKind,
    /// `file`: the database file, relative to the config.
    path: Option<String>,
    /// `dynamodb`: the table.
    table: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum BackendKind {
    Memory,
    File,
    Dynamodb,
}

/// A store's place, checked: what opening it needs.
#[derive(Clone, Debug)]
pub(crate) enum StoreSpec {
    /// A map in this process, one per config directory and name.
    Memory { identity: String },
    /// A table named after the store in the database file at `path`.
    File { path: PathBuf, table: String },
    /// A DynamoDB table.
    Dynamo {
        table: String,
        region: String,
        endpoint: Uri,
    },
}

impl StoreSpec {
    /// Checks store `name`'s config; relative paths resolve against `base_dir`.
    ///
    /// # Errors
    ///
    /// A key the backend does not read, or one it needs missing, naming
    /// `key-value.NAME.key`.
    pub(crate) fn compile(
        name: &str,
        config: &StoreConfig,
        base_dir: &Path,
    ) -> anyhow::Result<Self> {
        let at = format!("key-value.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!("{at}: store names use letters, digits, '-' and '_' only");
        }
        let only = |key: &str, set: bool, backend: &str| -> anyhow::Result<()> {
            if set {
                bail!("{at}.{key}: only the {backend} backend reads `{key}`");
            }
            Ok(())
        };
        match config.backend {
            BackendKind::Memory => {
                only("path", config.path.is_some(), "file")?;
                only("table", config.table.is_some(), "dynamodb")?;
                Ok(Self::Memory {
                    identity: format!("{}#{name}", base_dir.display()),
                })
            }
            BackendKind::File => {
                only("table", config.table.is_some(), "dynamodb")?;
                let path = config
                    .path
                    .as_deref()
                    .filter(|p| !p.is_empty())
                    .with_context(|| {
                        format!(
                            "{at}.path: the file backend needs a path, e.g. \"data/{name}.redb\""
                        )
                    })?;
                Ok(Self::File {
                    path: base_dir.join(path),
                    table: name.to_owned(),
                })
            }
            BackendKind::Dynamodb => {
                only("path", config.path.is_some(), "file")?;
                let table = config
                    .table
                    .clone()
                    .filter(|t| !t.is_empty())
                    .with_context(|| {
                        format!("{at}.table: the dynamodb backend needs a table name")
                    })?;
                if table.len() < 3
                    || table.len() > 255
                    || !table
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                {
                    bail!(
                        "{at}.table: {table:?} is not a DynamoDB table name (3-255 of a-z, A-Z, 0-9, '_', '-', '.')"
                    );
                }
                let region = std::env::var("AWS_REGION")
                    .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                    .ok()
                    .filter(|r| !r.is_empty())
                    .with_context(|| {
                        format!(
                            "{at}: the dynamodb backend signs for $AWS_REGION, which is not set"
                        )
                    })?;
                let endpoint = super::super::aws::endpoint("dynamodb", &region)
                    .with_context(|| format!("{at}: the DynamoDB endpoint"))?;
                Ok(Self::Dynamo {
                    table,
                    region,
                    endpoint,
                })
            }
        }
    }

    /// The line `lamina check` prints for it.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Memory { .. } => "memory (in this process; lost on restart)".to_owned(),
            Self::File { path, .. } => format!("file {}", path.display()),
            Self::Dynamo {
                table,
                region,
                endpoint,
            } => format!("dynamodb table {table} in {region} at {endpoint}"),
        }
    }

    /// The key the registry keeps it under: one open store per place.
    fn identity(&self) -> String {
        match self {
            Self::Memory { identity } => format!("memory:{identity}"),
            Self::File { path, table } => format!("file:{}#{table}", path.display()),
            Self::Dynamo {
                table,
                region,
                endpoint,
            } => format!("dynamodb:{endpoint}#{region}#{table}"),
        }
    }
}

/// The stores this process has open, by place.
fn registry() -> &'static Mutex<HashMap<String, Arc<Backend>>> {
    static OPEN: OnceLock<Mutex<HashMap<String, Arc<Backend>>>> = OnceLock::new();
    OPEN.get_or_init(Mutex::default)
}

/// The store `spec` names, opened on first use and shared after.
///
/// # Errors
///
/// When a `file` store's database cannot be created or opened (damaged, not a store file,
/// held by another process).
pub(crate) fn open(spec: &StoreSpec) -> anyhow::Result<Arc<Backend>> {
    let mut open = registry()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let identity = spec.identity();
    if let Some(backend) = open.get(&identity) {
        return Ok(backend.clone());
    }
    let backend = Arc::new(match spec {
        StoreSpec::Memory { .. } => Backend::Memory(Memory::default()),
        StoreSpec::File { path, table } => Backend::File(File::new(database(path)?, table.clone())),
        StoreSpec::Dynamo {
            table,
            region,
            endpoint,
        } => Backend::Dynamo(Dynamo::new(table.clone(), region.clone(), endpoint.clone())),
    });
    open.insert(identity, backend.clone());
    Ok(backend)
}

/// The database file at `path`, opened once per process whichever stores share it.
fn database(path: &Path) -> anyhow::Result<Arc<redb::Database>> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Arc<redb::Database>>>> = OnceLock::new();
    let mut files = FILES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let canonical = path
        .parent()
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .zip(path.file_name())
        .map_or_else(|| path.to_path_buf(), |(dir, name)| dir.join(name));
    if let Some(db) = files.get(&canonical) {
        return Ok(db.clone());
    }
    let db = Arc::new(open_database(path)?);
    files.insert(canonical, db.clone());
    Ok(db)
}
