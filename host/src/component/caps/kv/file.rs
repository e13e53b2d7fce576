//! `backend = "file"`: an embedded database file (redb: pure Rust, ACID, crash-safe, one
//! B-tree per store), the local default. Every write commits durably (fsync) before the
//! guest's call returns; writes from the server's tasks are serialized by redb's single
//! writer, reads run beside them on snapshots. One process holds the file: a second one
//! opening it gets a clear error at start-up.
//!
//! Each entry is the value behind an 8-byte version (little-endian), taken from a counter
//! kept in the same file and never reused, for compare-and-swap.

use super::backend::{Budget, Failure, Outcome, PAGE, Version, incremented};
use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition, TableError};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The table of versions: one counter per store.
const VERSIONS: TableDefinition<'_, &str, u64> = TableDefinition::new("lamina:versions");

/// One store in a database file (several stores may share a file: each is its own table).
pub(crate) struct File {
    db: Arc<Database>,
    table: String,
}

/// Opens (creating it if needed) the database at `path`, in a directory that exists.
///
/// # Errors
///
/// When the file cannot be created, is not a redb database or is damaged, or another
/// process has it open.
pub(crate) fn open_database(path: &Path) -> anyhow::Result<Database> {
    Database::create(path).map_err(|error| match error {
        redb::DatabaseError::DatabaseAlreadyOpen => anyhow::anyhow!(
            "{} is open in another process (a second `lamina` on the same store file?)",
            path.display()
        ),
        other => anyhow::anyhow!(
            "{} cannot be opened as a key-value store file: {other}",
            path.display()
        ),
    })
}

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure::Other(format!("the store file failed: {error}"))
}

fn split(stored: &[u8]) -> (u64, Vec<u8>) {
    let (version, value) = stored.split_at(8.min(stored.len()));
    let mut bytes = [0; 8];
    bytes[..version.len()].copy_from_slice(version);
    (u64::from_le_bytes(bytes), value.to_vec())
}

impl File {
    pub(crate) fn new(db: Arc<Database>, table: String) -> Self {
        Self { db, table }
    }

    /// Runs `read` on a snapshot of the store's table (`None` before its first write).
    async fn reading<T: Send + 'static>(
        &self,
        read: impl FnOnce(Option<redb::ReadOnlyTable<&'static str, &'static [u8]>>) -> Outcome<T>
        + Send
        + 'static,
    ) -> Outcome<T> {
        let db = self.db.clone();
        let table = self.table.clone();
        blocking(move || {
            let txn = db.begin_read().map_err(failed)?;
            let definition: TableDefinition<'_, &str, &[u8]> = TableDefinition::new(&table);
            match txn.open_table(definition) {
                Ok(t) => read(Some(t)),
                Err(TableError::TableDoesNotExist(_)) => read(None),
                Err(e) => Err(failed(e)),
            }
        })
        .await
    }

    /// Runs `write` in one durable write transaction with the store's table and a function
    /// that hands out new versions; commits when it returns `Ok`.
    async fn writing<T: Send + 'static>(
        &self,
        write: impl FnOnce(&mut redb::Table<&str, &[u8]>, &mut dyn FnMut() -> u64) -> Outcome<T>
        + Send
        + 'static,
    ) -> Outcome<T> {
        let db = self.db.clone();
        let table = self.table.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(failed)?;
            let result = {
                let definition: TableDefinition<'_, &str, &[u8]> = TableDefinition::new(&table);
                let mut entries = txn.open_table(definition).map_err(failed)?;
                let mut versions = txn.open_table(VERSIONS).map_err(failed)?;
                let mut next = versions
                    .get(table.as_str())
                    .map_err(failed)?
                    .map_or(0, |v| v.value());
                let result = write(&mut entries, &mut || {
                    next += 1;
                    next
                })?;
                versions.insert(table.as_str(), next).map_err(failed)?;
                result
            };
            txn.commit().map_err(failed)?;
            Ok(result)
        })
        .await
    }

    pub(crate) async fn read(&self, key: &str, _: Instant) -> Outcome<(Option<Vec<u8>>, Version)> {
        let key = key.to_owned();
        self.reading(move |table| {
            let Some(table) = table else {
                return Ok((None, None));
            };
            Ok(match table.get(key.as_str()).map_err(failed)? {
                Some(stored) => {
                    let (version, value) = split(stored.value());
                    (Some(value), Some(version.to_string()))
                }
                None => (None, None),
            })
        })
        .await
    }

    pub(crate) async fn exists(&self, key: &str, _: Instant) -> Outcome<bool> {
        let key = key.to_owned();
        self.reading(move |table| match table {
            Some(table) => Ok(table.get(key.as_str()).map_err(failed)?.is_some()),
            None => Ok(false),
        })
        .await
    }

    pub(crate) async fn list(
        &self,
        cursor: Option<String>,
        _: Instant,
    ) -> Outcome<(Vec<String>, Option<String>)> {
        self.reading(move |table| {
            let Some(table) = table else {
                return Ok((Vec::new(), None));
            };
            let start = cursor.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let mut keys = Vec::new();
            for entry in table
                .range::<&str>((start, Bound::Unbounded))
                .map_err(failed)?
            {
                let (key, _) = entry.map_err(failed)?;
                keys.push(key.value().to_owned());
                if keys.len() > PAGE {
                    break;
                }
            }
            let more = keys.len() > PAGE;
            keys.truncate(PAGE);
            let cursor = if more { keys.last().cloned() } else { None };
            Ok((keys, cursor))
        })
        .await
    }

    pub(crate) async fn increment(&self, key: &str, delta: i64, _: Instant) -> Outcome<i64> {
        let key = key.to_owned();
        self.writing(move |table, version| {
            let current = table
                .get(key.as_str())
                .map_err(failed)?
                .map(|s| split(s.value()).1);
            let new = incremented(current.as_deref(), delta)?;
            let stored = entry(version(), new.to_string().as_bytes());
            table
                .insert(key.as_str(), stored.as_slice())
                .map_err(failed)?;
            Ok(new)
        })
        .await
    }

    pub(crate) async fn swap(
        &self,
        key: &str,
        expected: &Version,
        value: Vec<u8>,
        _: Instant,
    ) -> Outcome<bool> {
        let key = key.to_owned();
        let expected = expected.clone();
        self.writing(move |table, version| {
            let current = table
                .get(key.as_str())
                .map_err(failed)?
                .map(|s| split(s.value()).0.to_string());
            if current != expected {
                return Ok(false);
            }
            let stored = entry(version(), &value);
            table
                .insert(key.as_str(), stored.as_slice())
                .map_err(failed)?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn get_many(
        &self,
        keys: Vec<String>,
        _: Instant,
    ) -> Outcome<Vec<Option<(String, Vec<u8>)>>> {
        self.reading(move |table| {
            let Some(table) = table else {
                return Ok(keys.iter().map(|_| None).collect());
            };
            let mut budget = Budget::default();
            keys.into_iter()
                .map(|key| {
                    let Some(found) = table.get(key.as_str()).map_err(failed)? else {
                        return Ok(None);
                    };
                    let (_, value) = split(found.value());
                    budget.take(&value)?;
                    Ok(Some((key, value)))
                })
                .collect()
        })
        .await
    }

    pub(crate) async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>, _: Instant) -> Outcome<()> {
        self.writing(move |table, version| {
            for (key, value) in &pairs {
                let stored = entry(version(), value);
                table
                    .insert(key.as_str(), stored.as_slice())
                    .map_err(failed)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn delete_many(&self, keys: Vec<String>, _: Instant) -> Outcome<()> {
        self.writing(move |table, _| {
            for key in &keys {
                table.remove(key.as_str()).map_err(failed)?;
            }
            Ok(())
        })
        .await
    }
}

/// What is stored for `value` at `version`.
fn entry(version: u64, value: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(8 + value.len());
    stored.extend_from_slice(&version.to_le_bytes());
    stored.extend_from_slice(value);
    stored
}

/// Runs `work` (file I/O, an fsync) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Outcome<T> + Send + 'static,
) -> Outcome<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Failure::Other(format!("the store file's worker failed: {e}")))?
}
