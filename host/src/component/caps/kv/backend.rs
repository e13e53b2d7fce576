//! What every store backend does, and the limits that hold whichever one is behind a store,
//! so a component moved from `file` to `dynamodb` meets the same rules.

use super::dynamodb::Dynamo;
use super::file::File;
use super::memory::Memory;
use std::fmt;
use std::time::Instant;

/// Longest key, in bytes (DynamoDB's limit for a partition key).
pub const MAX_KEY: usize = 2048;
/// Largest value, in bytes: DynamoDB's 400 KB item limit, less room for the longest key and
/// the attributes the host keeps beside the value.
pub const MAX_VALUE: usize = 400_000;
/// Keys one `list-keys` call returns at most.
pub(crate) const PAGE: usize = 1000;
/// Keys one `get-many` may ask for.
pub const MAX_BATCH_KEYS: usize = 1000;
/// Value bytes one `get-many` may return together (DynamoDB's `BatchGetItem` limit): one
/// large value asked for under many keys would otherwise make the host copy it each time.
pub const MAX_BATCH_BYTES: usize = 16 << 20;

/// A version token for compare-and-swap: `None` when the key was absent.
pub(crate) type Version = Option<String>;

/// Why an operation failed, as the guest sees it (`error::other` with a kind prefix the
/// SDKs parse: `unavailable: ...` maps to a 503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A key or value over the limits.
    TooLarge(String),
    /// A key the store cannot hold (empty).
    InvalidKey(String),
    /// The backend did not answer in time, or refused for load, or is unreachable.
    Unavailable(String),
    /// Anything else: a counter that is not a number, a missing table, ...
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(m) => write!(f, "too-large: {m}"),
            Self::InvalidKey(m) => write!(f, "invalid-key: {m}"),
            Self::Unavailable(m) => write!(f, "unavailable: {m}"),
            Self::Other(m) => write!(f, "{m}"),
        }
    }
}

pub(crate) type Outcome<T> = Result<T, Failure>;

/// Refuses a key the stores cannot all hold.
pub(crate) fn check_key(key: &str) -> Outcome<()> {
    if key.is_empty() {
        return Err(Failure::InvalidKey("a key is at least one byte".to_owned()));
    }
    if key.len() > MAX_KEY {
        return Err(Failure::TooLarge(format!(
            "a key of {} bytes is over the limit of {MAX_KEY}",
            key.len()
        )));
    }
    Ok(())
}

/// Refuses a value over [`MAX_VALUE`].
pub(crate) fn check_value(value: &[u8]) -> Outcome<()> {
    if value.len() > MAX_VALUE {
        return Err(Failure::TooLarge(format!(
            "a value of {} bytes is over the store's limit of {MAX_VALUE} bytes",
            value.len()
        )));
    }
    Ok(())
}

/// Counts the bytes a `get-many` returns against [`MAX_BATCH_BYTES`].
#[derive(Default)]
pub(crate) struct Budget(usize);

impl Budget {
    /// Counts `value`, or refuses when the batch would return too much.
    pub(crate) fn take(&mut self, value: &[u8]) -> Outcome<()> {
        self.0 += value.len();
        if self.0 > MAX_BATCH_BYTES {
            return Err(Failure::TooLarge(format!(
                "a get-many would return more than {} MiB of values; ask for fewer keys",
                MAX_BATCH_BYTES >> 20
            )));
        }
        Ok(())
    }
}

/// The new value of a counter holding `current` (decimal ASCII, absent = 0) after adding
/// `delta`.
pub(crate) fn incremented(current: Option<&[u8]>, delta: i64) -> Outcome<i64> {
    let old = match current {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .ok_or_else(|| {
                Failure::Other(
                    "the key holds a value that is not a decimal integer, so it cannot be incremented"
                        .to_owned(),
                )
            })?,
    };
    old.checked_add(delta).ok_or_else(|| {
        Failure::Other(format!(
            "incrementing {old} by {delta} overflows a 64-bit counter"
        ))
    })
}

/// One store's backend.
pub(crate) enum Backend {
    Memory(Memory),
    File(File),
    Dynamo(Dynamo),
}

/// Dispatches to the backend: each has the same operations, with a deadline for the ones
/// that may wait on a network.
macro_rules! each {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            Backend::Memory($b) => $call,
            Backend::File($b) => $call,
            Backend::Dynamo($b) => $call,
        }
    };
}

impl Backend {
    /// The value of `key`, if set.
    pub(crate) async fn get(&self, key: &str, deadline: Instant) -> Outcome<Option<Vec<u8>>> {
        Ok(self.read(key, deadline).await?.0)
    }

    /// The value of `key` and its version.
    pub(crate) async fn read(
        &self,
        key: &str,
        deadline: Instant,
    ) -> Outcome<(Option<Vec<u8>>, Version)> {
        each!(self, b => b.read(key, deadline).await)
    }

    pub(crate) async fn set(&self, key: &str, value: Vec<u8>, deadline: Instant) -> Outcome<()> {
        each!(self, b => b.set_many(vec![(key.to_owned(), value)], deadline).await)
    }

    pub(crate) async fn delete(&self, key: &str, deadline: Instant) -> Outcome<()> {
        each!(self, b => b.delete_many(vec![key.to_owned()], deadline).await)
    }

    pub(crate) async fn exists(&self, key: &str, deadline: Instant) -> Outcome<bool> {
        each!(self, b => b.exists(key, deadline).await)
    }

    /// Up to [`PAGE`] keys after `cursor`, and the cursor of the next page if there is one.
    pub(crate) async fn list(
        &self,
        cursor: Option<String>,
        deadline: Instant,
    ) -> Outcome<(Vec<String>, Option<String>)> {
        each!(self, b => b.list(cursor, deadline).await)
    }

    /// Adds `delta` to the counter at `key` (absent = 0) atomically; the new value.
    pub(crate) async fn increment(&self, key: &str, delta: i64, deadline: Instant) -> Outcome<i64> {
        each!(self, b => b.increment(key, delta, deadline).await)
    }

    /// Sets `key` to `value` if its version is still `expected`; `false` when it changed.
    pub(crate) async fn swap(
        &self,
        key: &str,
        expected: &Version,
        value: Vec<u8>,
        deadline: Instant,
    ) -> Outcome<bool> {
        each!(self, b => b.swap(key, expected, value, deadline).await)
    }

    /// Each key's value, in the order asked (`None` for an absent key).
    pub(crate) async fn get_many(
        &self,
        keys: Vec<String>,
        deadline: Instant,
    ) -> Outcome<Vec<Option<(String, Vec<u8>)>>> {
        each!(self, b => b.get_many(keys, deadline).await)
    }

    pub(crate) async fn set_many(
        &self,
        pairs: Vec<(String, Vec<u8>)>,
        deadline: Instant,
    ) -> Outcome<()> {
        each!(self, b => b.set_many(pairs, deadline).await)
    }

    pub(crate) async fn delete_many(&self, keys: Vec<String>, deadline: Instant) -> Outcome<()> {
        each!(self, b => b.delete_many(keys, deadline).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_counters() {
        assert!(check_key("a").is_ok());
        assert!(matches!(check_key(""), Err(Failure::InvalidKey(_))));
        assert!(check_key(&"k".repeat(MAX_KEY)).is_ok());
        assert!(matches!(
            check_key(&"k".repeat(MAX_KEY + 1)),
            Err(Failure::TooLarge(_))
        ));
        assert!(check_value(&vec![0; MAX_VALUE]).is_ok());
        let error = check_value(&vec![0; MAX_VALUE + 1]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "too-large: a value of 400001 bytes is over the store's limit of 400000 bytes"
        );
        assert_eq!(incremented(None, 5), Ok(5));
        assert_eq!(incremented(Some(b"41"), 1), Ok(42));
        assert_eq!(incremented(Some(b"-3"), -4), Ok(-7));
        assert!(incremented(Some(b"x"), 1).is_err());
        assert!(incremented(Some(i64::MAX.to_string().as_bytes()), 1).is_err());
    }
}
