//! Key-value stores the host config lets this component open: an embedded file locally,
//! DynamoDB in Lambda, the same calls either way.
//!
//! ```toml
//! [key-value.todos]
//! backend = "file"          # or "memory", or "dynamodb" with table = "..."
//! path = "data/todos.redb"
//!
//! [components.todos]
//! key-value = ["todos"]
//! ```
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Todo { title: String, done: bool }
//!
//! # fn demo() -> lamina_sdk::Result<()> {
//! let store = lamina_sdk::kv::open("todos")?;
//! let id = store.increment("next-id", 1)?;
//! store.set_json(&format!("todo:{id}"), &Todo { title: "try lamina".into(), done: false })?;
//! let todo: Option<Todo> = store.get_json(&format!("todo:{id}"))?;
//! // Read-modify-write that loses no concurrent update:
//! let views: u64 = store.swap_json("views", |n: Option<u64>| n.unwrap_or(0) + 1)?;
//! # Ok(())
//! # }
//! ```
//!
//! `?` on a [`KvError`] in a handler answers 503 when the store is unavailable (the host
//! retried within the request's deadline), 413 for a value over [`MAX_VALUE`], and a 500
//! without internals otherwise, the cause logged.

use crate::__private::bindings::wasi::keyvalue::{atomics, batch, store};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;

/// Longest key, in bytes, on every backend.
pub const MAX_KEY: usize = 2048;
/// Largest value, in bytes, on every backend (DynamoDB's 400 KB item, less the key).
pub const MAX_VALUE: usize = 400_000;
/// Compare-and-swap attempts [`Store::swap`] makes before giving up on a contended key.
pub const MAX_SWAP_ATTEMPTS: usize = 64;

/// Why a key-value call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvError {
    /// The host config does not let this component open the store (or there is none of
    /// that name).
    AccessDenied(String),
    /// The store's backend did not answer in time or refused for load: try again later.
    Unavailable(String),
    /// A key or value over the limits ([`MAX_KEY`], [`MAX_VALUE`]).
    TooLarge(String),
    /// An empty key.
    InvalidKey(String),
    /// A stored value is not the JSON the caller asked for.
    Decode(String),
    /// A compare-and-swap lost to other writers [`MAX_SWAP_ATTEMPTS`] times in a row.
    Contended(String),
    /// Anything else the store reported.
    Other(String),
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AccessDenied(store) => {
                write!(f, "access to the key-value store {store:?} is denied")
            }
            Self::Unavailable(m) => write!(f, "the key-value store is unavailable: {m}"),
            Self::TooLarge(m)
            | Self::InvalidKey(m)
            | Self::Decode(m)
            | Self::Contended(m)
            | Self::Other(m) => {
                write!(f, "{m}")
            }
        }
    }
}

impl KvError {
    fn from_wit(error: store::Error, store_name: &str) -> Self {
        match error {
            store::Error::NoSuchStore | store::Error::AccessDenied => {
                Self::AccessDenied(store_name.to_owned())
            }
            store::Error::Other(message) => {
                let kind = |prefix: &str| message.strip_prefix(prefix).map(str::to_owned);
                if let Some(m) = kind("unavailable: ") {
                    Self::Unavailable(m)
                } else if let Some(m) = kind("too-large: ") {
                    Self::TooLarge(m)
                } else if let Some(m) = kind("invalid-key: ") {
                    Self::InvalidKey(m)
                } else {
                    Self::Other(message)
                }
            }
        }
    }
}

/// `?` in a handler: a 503 for an unavailable store, a 413 for a value too large, a 400 for
/// an invalid key, else a 500 with no internals; the cause is logged.
impl From<KvError> for crate::Error {
    fn from(error: KvError) -> Self {
        crate::log::log(
            crate::log::Level::Error,
            "key-value store call failed",
            &[("cause", &error.to_string())],
        );
        match error {
            KvError::Unavailable(_) => Self::new(
                503,
                "store-unavailable",
                "the data store is unavailable; try again",
            ),
            KvError::TooLarge(m) => Self::new(413, "too-large", m),
            KvError::InvalidKey(m) => Self::bad_request(m),
            KvError::Contended(_) => {
                Self::new(409, "conflict", "too many concurrent updates; try again")
            }
            _ => Self::internal("internal error"),
        }
    }
}

/// An open store.
pub struct Store {
    name: String,
    bucket: store::Bucket,
}

/// Opens the store `name` (`[key-value.NAME]` in the host config, listed in this
/// component's `key-value`).
///
/// # Errors
///
/// [`KvError::AccessDenied`] when the config does not let this component open it.
pub fn open(name: &str) -> Result<Store, KvError> {
    let bucket = store::open(name).map_err(|e| KvError::from_wit(e, name))?;
    Ok(Store {
        name: name.to_owned(),
        bucket,
    })
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, KvError> {
    serde_json::from_slice(bytes).map_err(|e| {
        KvError::Decode(format!(
            "the value at {key:?} is not the expected JSON: {e}"
        ))
    })
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, KvError> {
    serde_json::to_vec(value)
        .map_err(|e| KvError::Other(format!("cannot encode the value as JSON: {e}")))
}

impl Store {
    fn err(&self, error: store::Error) -> KvError {
        KvError::from_wit(error, &self.name)
    }

    /// The store's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value at `key`, if there is one.
    ///
    /// # Errors
    ///
    /// As [`KvError`]: the store is unavailable, the key invalid.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.bucket.get(key).map_err(|e| self.err(e))
    }

    /// The value at `key` decoded from JSON, if there is one.
    ///
    /// # Errors
    ///
    /// As [`Store::get`], and [`KvError::Decode`] when the value is not a `T` in JSON.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, KvError> {
        self.get(key)?.map(|bytes| decode(key, &bytes)).transpose()
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// As [`KvError`]: [`KvError::TooLarge`] over [`MAX_VALUE`].
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.bucket.set(key, value).map_err(|e| self.err(e))
    }

    /// Sets `key` to `value` as JSON.
    ///
    /// # Errors
    ///
    /// As [`Store::set`].
    pub fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), KvError> {
        self.set(key, &encode(value)?)
    }

    /// Removes `key` (nothing happens when it is absent).
    ///
    /// # Errors
    ///
    /// As [`KvError`].
    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        self.bucket.delete(key).map_err(|e| self.err(e))
    }

    /// Whether `key` has a value.
    ///
    /// # Errors
    ///
    /// As [`KvError`].
    pub fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.bucket.exists(key).map_err(|e| self.err(e))
    }

    /// One page of keys after `cursor` (`None`: from the start), and the cursor of the
    /// next page, if there is one. Keys come in no particular order.
    ///
    /// # Errors
    ///
    /// As [`KvError`].
    pub fn list_page(
        &self,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), KvError> {
        let page = self.bucket.list_keys(cursor).map_err(|e| self.err(e))?;
        Ok((page.keys, page.cursor))
    }

    /// Every key, page by page as the iterator advances.
    pub fn list(&self) -> Keys<'_> {
        Keys {
            store: self,
            page: Vec::new().into_iter(),
            cursor: None,
            done: false,
        }
    }

    /// Adds `delta` to the counter at `key` (absent counts as 0) atomically, and returns
    /// the new value. A counter reads back (`get`) as its decimal text.
    ///
    /// # Errors
    ///
    /// As [`KvError`], and [`KvError::Other`] when `key` holds something that is not a
    /// decimal integer.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        atomics::increment(&self.bucket, key, delta).map_err(|e| self.err(e))
    }

    /// Replaces the value at `key` with `update(current)` atomically: if another writer
    /// changes it between the read and the write, `update` runs again on the new value
    /// (up to [`MAX_SWAP_ATTEMPTS`] times). Returns the value written.
    ///
    /// # Errors
    ///
    /// As [`KvError`], and [`KvError::Contended`] when every attempt lost.
    pub fn swap(
        &self,
        key: &str,
        mut update: impl FnMut(Option<&[u8]>) -> Vec<u8>,
    ) -> Result<Vec<u8>, KvError> {
        self.compare_and_swap(key, |current| {
            let new = update(current.as_deref());
            Ok((new.clone(), new))
        })
    }

    /// [`Store::swap`] on JSON values: `update` gets the current `T` (or `None`) and
    /// returns the new one.
    ///
    /// # Errors
    ///
    /// As [`Store::swap`], and [`KvError::Decode`] when the stored value is not a `T`
    /// (nothing is written then).
    pub fn swap_json<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        mut update: impl FnMut(Option<T>) -> T,
    ) -> Result<T, KvError> {
        self.compare_and_swap(key, |current| {
            let current = current.map(|bytes| decode::<T>(key, &bytes)).transpose()?;
            let new = update(current);
            Ok((encode(&new)?, new))
        })
    }

    /// The compare-and-swap loop: `step` turns the current value into the bytes to write
    /// and what to return once they are written.
    fn compare_and_swap<R>(
        &self,
        key: &str,
        mut step: impl FnMut(Option<Vec<u8>>) -> Result<(Vec<u8>, R), KvError>,
    ) -> Result<R, KvError> {
        let mut cas = atomics::Cas::new(&self.bucket, key).map_err(|e| self.err(e))?;
        for _ in 0..MAX_SWAP_ATTEMPTS {
            let current = cas.current().map_err(|e| self.err(e))?;
            let (bytes, result) = step(current)?;
            match atomics::swap(cas, &bytes) {
                Ok(()) => return Ok(result),
                Err(atomics::CasError::CasFailed(fresh)) => cas = fresh,
                Err(atomics::CasError::StoreError(e)) => return Err(self.err(e)),
            }
        }
        Err(KvError::Contended(format!(
            "{key:?} changed under {MAX_SWAP_ATTEMPTS} attempts to update it"
        )))
    }

    /// The values of `keys`, in order (`None` for each absent key).
    ///
    /// # Errors
    ///
    /// As [`KvError`].
    pub fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let found = batch::get_many(&self.bucket, &keys).map_err(|e| self.err(e))?;
        Ok(found.into_iter().map(|pair| pair.map(|(_, v)| v)).collect())
    }

    /// Sets every `(key, value)`; not atomic: on an error, some may be set.
    ///
    /// # Errors
    ///
    /// As [`KvError`].
    pub fn set_many(&self, pairs: &[(&str, &[u8])]) -> Result<(), KvError> {
        let pairs: Vec<(String, Vec<u8>)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect();
        batch::set_many(&self.bucket, &pairs).map_err(|e| self.err(e))
    }

    /// Removes every key in `keys`; not atomic.
    ///
    /// # Errors
    ///
    /// As [`KvError`].
    pub fn delete_many(&self, keys: &[&str]) -> Result<(), KvError> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        batch::delete_many(&self.bucket, &keys).map_err(|e| self.err(e))
    }
}

/// Every key of a store ([`Store::list`]), fetched a page at a time.
pub struct Keys<'s> {
    store: &'s Store,
    page: std::vec::IntoIter<String>,
    cursor: Option<String>,
    done: bool,
}

impl Iterator for Keys<'_> {
    type Item = Result<String, KvError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(key) = self.page.next() {
                return Some(Ok(key));
            }
            if self.done {
                return None;
            }
            match self.store.list_page(self.cursor.as_deref()) {
                Ok((keys, cursor)) => {
                    self.done = cursor.is_none();
                    self.cursor = cursor;
                    self.page = keys.into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
