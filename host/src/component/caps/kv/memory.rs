//! `backend = "memory"`: a map in the host process. It lives as long as the process (hot
//! swaps keep it), is lost on restart, and is bounded, so a component cannot fill the
//! host's memory through it.

use super::backend::{Budget, Failure, Outcome, PAGE, Version, incremented};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;
use std::time::Instant;

/// Bytes of keys and values one memory store holds at most, counting each entry's own
/// bookkeeping as [`ENTRY_OVERHEAD`] more.
pub const MAX_MEMORY_STORE: usize = 64 << 20;
/// What one entry costs beyond its key and value (the tree node, the version, two vectors).
const ENTRY_OVERHEAD: usize = 96;

/// A sorted map of keys to `(version, value)`, and the bytes it holds.
#[derive(Default)]
pub(crate) struct Memory {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: BTreeMap<String, (u64, Vec<u8>)>,
    bytes: usize,
    /// The version the next write gets: never reused, so a key deleted and set again is
    /// not mistaken for the version a compare-and-swap read.
    next_version: u64,
}

impl Inner {
    fn put(&mut self, key: String, value: Vec<u8>) -> Outcome<()> {
        let size = |key: &str, value: &[u8]| key.len() + value.len() + ENTRY_OVERHEAD;
        let old = self.entries.get(&key).map_or(0, |(_, v)| size(&key, v));
        let total = self.bytes - old + size(&key, &value);
        if total > MAX_MEMORY_STORE {
            // The store's capacity, not the client's mistake: a 500, logged.
            return Err(Failure::Other(format!(
                "the memory store is full ({} MiB)",
                MAX_MEMORY_STORE >> 20
            )));
        }
        self.bytes = total;
        self.next_version += 1;
        self.entries.insert(key, (self.next_version, value));
        Ok(())
    }

    fn remove(&mut self, key: &str) {
        if let Some((_, value)) = self.entries.remove(key) {
            self.bytes -= key.len() + value.len() + ENTRY_OVERHEAD;
        }
    }
}

impl Memory {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-written: every change
        // is one insert or remove.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) async fn read(&self, key: &str, _: Instant) -> Outcome<(Option<Vec<u8>>, Version)> {
        Ok(match self.lock().entries.get(key) {
            Some((version, value)) => (Some(value.clone()), Some(version.to_string())),
            None => (None, None),
        })
    }

    pub(crate) async fn exists(&self, key: &str, _: Instant) -> Outcome<bool> {
        Ok(self.lock().entries.contains_key(key))
    }

    pub(crate) async fn list(
        &self,
        cursor: Option<String>,
        _: Instant,
    ) -> Outcome<(Vec<String>, Option<String>)> {
        let inner = self.lock();
        let start = cursor.map_or(Bound::Unbounded, Bound::Excluded);
        let mut keys: Vec<String> = inner
            .entries
            .range::<String, _>((start, Bound::Unbounded))
            .map(|(k, _)| k.clone())
            .take(PAGE + 1)
            .collect();
        let more = keys.len() > PAGE;
        keys.truncate(PAGE);
        let cursor = if more { keys.last().cloned() } else { None };
        Ok((keys, cursor))
    }

    pub(crate) async fn increment(&self, key: &str, delta: i64, _: Instant) -> Outcome<i64> {
        let mut inner = self.lock();
        let new = incremented(inner.entries.get(key).map(|(_, v)| v.as_slice()), delta)?;
        inner.put(key.to_owned(), new.to_string().into_bytes())?;
        Ok(new)
    }

    pub(crate) async fn swap(
        &self,
        key: &str,
        expected: &Version,
        value: Vec<u8>,
        _: Instant,
    ) -> Outcome<bool> {
        let mut inner = self.lock();
        let current = inner.entries.get(key).map(|(v, _)| v.to_string());
        if &current != expected {
            return Ok(false);
        }
        inner.put(key.to_owned(), value)?;
        Ok(true)
    }

    pub(crate) async fn get_many(
        &self,
        keys: Vec<String>,
        _: Instant,
    ) -> Outcome<Vec<Option<(String, Vec<u8>)>>> {
        let inner = self.lock();
        let mut budget = Budget::default();
        keys.into_iter()
            .map(|k| match inner.entries.get(&k) {
                Some((_, v)) => {
                    budget.take(v)?;
                    Ok(Some((k, v.clone())))
                }
                None => Ok(None),
            })
            .collect()
    }

    pub(crate) async fn set_many(&self, pairs: Vec<(String, Vec<u8>)>, _: Instant) -> Outcome<()> {
        let mut inner = self.lock();
        for (key, value) in pairs {
            inner.put(key, value)?;
        }
        Ok(())
    }

    pub(crate) async fn delete_many(&self, keys: Vec<String>, _: Instant) -> Outcome<()> {
        let mut inner = self.lock();
        for key in &keys {
            inner.remove(key);
        }
        Ok(())
    }
}
