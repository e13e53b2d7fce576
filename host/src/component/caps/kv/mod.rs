//! Key-value stores: the standard `wasi:keyvalue@0.2.0-draft2` (`store`, `atomics`,
//! `batch`, the draft Spin implements), on an embedded file locally and on DynamoDB in
//! Lambda, with no change to the component.
//!
//! ```toml
//! [key-value.todos]
//! backend = "file"              # or "memory", or "dynamodb" with `table = "..."`
//! path = "data/todos.redb"
//!
//! [components.todos]
//! key-value = ["todos"]         # the stores it may open
//! ```
//!
//! A component opens a store by name (`store::open("todos")`); a name its `key-value`
//! list does not hold gets `access-denied` and a log line, whether or not such a store is
//! declared. The same limits hold on every backend ([`MAX_KEY`], [`MAX_VALUE`]), and every
//! failure reaches the guest as `error::other` with a prefix the SDKs map to a status:
//! `unavailable:` (the backend did not answer within the request's deadline: a 503),
//! `too-large:`, `invalid-key:`. Backend failures are logged with the component, store
//! and operation.

mod backend;
mod dynamodb;
mod file;
mod memory;
mod stores;

pub use backend::{MAX_BATCH_BYTES, MAX_BATCH_KEYS, MAX_KEY, MAX_VALUE};

pub use memory::MAX_MEMORY_STORE;
pub use stores::StoreConfig;
pub(crate) use stores::{StoreSpec, open};

use super::super::state::State;
use super::{Capability, KeyList, Scope, Who};
use anyhow::bail;
use backend::{Backend, Failure, Outcome, Version, check_key, check_value};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

/// Host bindings for the three interfaces Lamina's worlds import.
#[allow(missing_docs, unreachable_pub, clippy::all)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        inline: "
            package lamina:kv-host;
            world imports {
                import wasi:keyvalue/store@0.2.0-draft2;
                import wasi:keyvalue/atomics@0.2.0-draft2;
                import wasi:keyvalue/batch@0.2.0-draft2;
            }
        ",
        world: "lamina:kv-host/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
            "wasi:keyvalue/atomics.cas": super::Cas,
        },
    });
}

/// The generated `wasi:keyvalue` interfaces, which the worlds' bindings reuse.
#[allow(unreachable_pub)]
pub use bindings::wasi::keyvalue as wit;
use wit::atomics::CasError;
use wit::store::{Error as KvError, KeyResponse};

/// The capability.
pub(crate) struct KeyValue;

/// Its key in `[components.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct KeyValueKey {
    /// The stores the component may open.
    key_value: Option<Vec<String>>,
}

impl KeyValueKey {
    /// The store names listed.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.key_value.iter().flatten().map(String::as_str)
    }
}

/// The stores a component may open, by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct KvGrant(Arc<Vec<(Arc<str>, StoreSpec)>>);

impl KvGrant {
    /// The store names granted.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| &**name)
    }
}

/// One instance's state: its grant, and how many opens it was refused.
pub(crate) struct KvInstance {
    grant: KvGrant,
    denied: usize,
    /// Compare-and-swaps refused this request for too many open at once.
    over_budget: usize,
    /// Compare-and-swaps this instance lost, for the backoff before the next attempt.
    lost: u32,
    /// CAS handles the guest holds now (each keeps a value in host memory).
    cas_open: usize,
}

/// CAS handles one instance may hold at once: each holds up to [`MAX_VALUE`] bytes of host
/// memory the guest's own limit does not count.
pub const MAX_CAS_HANDLES: usize = 16;

/// A store the guest opened.
#[allow(unreachable_pub)]
pub struct Bucket {
    name: Arc<str>,
    backend: Arc<Backend>,
}

/// A compare-and-swap in progress: the key, and the value and version read when it began.
#[allow(unreachable_pub)]
pub struct Cas {
    name: Arc<str>,
    backend: Arc<Backend>,
    key: String,
    value: Option<Vec<u8>>,
    version: Version,
}

impl KeyList for KeyValue {
    const KEYS: &'static [&'static str] = &["key-value"];
}

impl Capability for KeyValue {
    const NAME: &'static str = "key-value";
    type Config = KeyValueKey;
    type Grant = KvGrant;
    type Instance = KvInstance;

    fn grant(config: &KeyValueKey, scope: &Scope<'_>) -> anyhow::Result<KvGrant> {
        let Some(names) = &config.key_value else {
            return Ok(KvGrant::default());
        };
        let at = format!("components.{}.key-value", scope.component);
        let mut granted: Vec<(Arc<str>, StoreSpec)> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let Some(store) = scope.stores.get(name) else {
                let declared: Vec<&str> = scope.stores.keys().map(String::as_str).collect();
                bail!(
                    "{at}[{i}]: no store named {name:?} (declared: {}); declare it as [key-value.{name}]",
                    if declared.is_empty() {
                        "none".to_owned()
                    } else {
                        declared.join(", ")
                    }
                );
            };
            if granted.iter().any(|(n, _)| &**n == name) {
                bail!("{at}[{i}]: {name:?} is listed twice");
            }
            granted.push((
                Arc::from(name.as_str()),
                StoreSpec::compile(name, store, scope.base_dir)?,
            ));
        }
        Ok(KvGrant(Arc::new(granted)))
    }

    fn link(
        linker: &mut Linker<State>,
        _get: fn(&mut State) -> &mut KvInstance,
    ) -> wasmtime::Result<()> {
        // The view needs the resource table and the deadline beside the instance state.
        fn view(state: &mut State) -> KvView<'_> {
            KvView {
                table: &mut state.table,
                kv: &mut state.caps.key_value,
                deadline: state.deadline,
                component: &state.component,
                request_id: &state.request_id,
            }
        }
        wit::store::add_to_linker::<State, KvData>(linker, view)?;
        wit::atomics::add_to_linker::<State, KvData>(linker, view)?;
        wit::batch::add_to_linker::<State, KvData>(linker, view)
    }

    fn instance(grant: &KvGrant) -> anyhow::Result<KvInstance> {
        Ok(KvInstance {
            grant: grant.clone(),
            denied: 0,
            over_budget: 0,
            lost: 0,
            cas_open: 0,
        })
    }

    fn describe(grant: &KvGrant) -> Option<String> {
        if grant.0.is_empty() {
            return None;
        }
        let stores: Vec<String> = grant
            .0
            .iter()
            .map(|(name, spec)| format!("{name} ({})", spec.describe()))
            .collect();
        Some(stores.join(", "))
    }

    fn finish(instance: &KvInstance, who: &Who<'_>) {
        if instance.denied > 1 {
            tracing::warn!(
                component = who.component,
                requestId = who.request_id,
                denied = instance.denied,
                "key-value stores denied during this request (the first is logged above)"
            );
        }
    }

    /// Compare-and-swap handles the guest still holds stay counted (they are in the
    /// store's table); the rest is per request.
    fn recycle(instance: &mut KvInstance, _grant: &KvGrant) -> anyhow::Result<()> {
        instance.denied = 0;
        instance.over_budget = 0;
        instance.lost = 0;
        Ok(())
    }

    fn reusable(instance: &KvInstance) -> bool {
        instance.denied == 0 && instance.over_budget == 0
    }
}

/// What the key-value imports see of a `Store`.
pub(crate) struct KvView<'a> {
    table: &'a mut ResourceTable,
    kv: &'a mut KvInstance,
    deadline: Instant,
    component: &'a str,
    request_id: &'a str,
}

struct KvData;

impl HasData for KvData {
    type Data<'a> = KvView<'a>;
}

/// The guest's side of a failure, logged when it is the backend's and not the guest's.
fn report(view: &KvView<'_>, store: &str, operation: &str, failure: &Failure) -> KvError {
    if matches!(failure, Failure::Unavailable(_) | Failure::Other(_)) {
        tracing::warn!(
            component = view.component,
            requestId = view.request_id,
            store,
            operation,
            error = %failure,
            "key-value operation failed"
        );
    }
    KvError::Other(failure.to_string())
}

impl KvView<'_> {
    /// The store behind `bucket`.
    fn bucket(&self, bucket: &Resource<Bucket>) -> wasmtime::Result<(Arc<str>, Arc<Backend>)> {
        let bucket = self.table.get(bucket)?;
        Ok((bucket.name.clone(), bucket.backend.clone()))
    }

    /// Runs `operation` on `bucket`'s store, its failure reported.
    async fn on<T>(
        &mut self,
        bucket: &Resource<Bucket>,
        name: &str,
        run: impl AsyncFnOnce(Arc<Backend>, Instant) -> Outcome<T>,
    ) -> wasmtime::Result<Result<T, KvError>> {
        let (store, backend) = self.bucket(bucket)?;
        Ok(run(backend, self.deadline)
            .await
            .map_err(|failure| report(self, &store, name, &failure)))
    }
}

/// A random pause of up to 2^`lost` ms (at most 64 ms) before retrying a lost
/// compare-and-swap.
fn backoff(lost: u32) -> std::time::Duration {
    use std::hash::{BuildHasher as _, RandomState};
    let ceiling_us = 1000u64 << lost.min(6);
    let random = RandomState::new().hash_one(lost);
    std::time::Duration::from_micros(random % ceiling_us)
}

fn checked_pairs(pairs: &[(String, Vec<u8>)]) -> Outcome<()> {
    pairs.iter().try_for_each(|(k, v)| {
        check_key(k)?;
        check_value(v)
    })
}

impl wit::store::Host for KvView<'_> {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<Bucket>, KvError>> {
        let granted = self
            .kv
            .grant
            .0
            .iter()
            .find(|(name, _)| **name == *identifier)
            .cloned();
        let Some((name, spec)) = granted else {
            self.kv.denied += 1;
            if self.kv.denied == 1 {
                let granted: Vec<&str> = self.kv.grant.names().collect();
                tracing::warn!(
                    component = self.component,
                    requestId = self.request_id,
                    store = identifier,
                    granted = granted.join(", "),
                    "key-value store denied: not in the component's key-value list"
                );
            }
            return Ok(Err(KvError::AccessDenied));
        };
        match open(&spec) {
            Ok(backend) => Ok(Ok(self.table.push(Bucket { name, backend })?)),
            Err(error) => Ok(Err(report(
                self,
                &name,
                "open",
                &Failure::Other(format!("the store cannot be opened: {error:#}")),
            ))),
        }
    }
}

impl wit::store::HostBucket for KvView<'_> {
    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, KvError>> {
        self.on(&bucket, "get", async |b, deadline| {
            check_key(&key)?;
            b.get(&key, deadline).await
        })
        .await
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), KvError>> {
        self.on(&bucket, "set", async |b, deadline| {
            check_key(&key)?;
            check_value(&value)?;
            b.set(&key, value, deadline).await
        })
        .await
    }

    async fn delete(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), KvError>> {
        self.on(&bucket, "delete", async |b, deadline| {
            check_key(&key)?;
            b.delete(&key, deadline).await
        })
        .await
    }

    async fn exists(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, KvError>> {
        self.on(&bucket, "exists", async |b, deadline| {
            check_key(&key)?;
            b.exists(&key, deadline).await
        })
        .await
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<KeyResponse, KvError>> {
        // An empty cursor is no cursor (DynamoDB refuses an empty key).
        let cursor = cursor.filter(|c| !c.is_empty());
        self.on(&bucket, "list-keys", async |b, deadline| {
            let (keys, cursor) = b.list(cursor, deadline).await?;
            Ok(KeyResponse { keys, cursor })
        })
        .await
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl wit::atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, KvError>> {
        self.on(&bucket, "increment", async |b, deadline| {
            check_key(&key)?;
            b.increment(&key, delta, deadline).await
        })
        .await
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), CasError>> {
        // `swap` consumes the handle; a lost swap hands out a fresh one in its place.
        let taken = self.table.delete(cas)?;
        self.kv.cas_open = self.kv.cas_open.saturating_sub(1);
        if let Err(failure) = check_value(&value) {
            return Ok(Err(CasError::StoreError(report(
                self,
                &taken.name,
                "swap",
                &failure,
            ))));
        }
        let swapped = taken
            .backend
            .swap(&taken.key, &taken.version, value, self.deadline)
            .await;
        match swapped {
            Ok(true) => Ok(Ok(())),
            Ok(false) => {
                // The value changed since the CAS began: after a pause that grows with each
                // loss and is random (so contenders spread out instead of colliding again),
                // a fresh CAS, read now, to retry with.
                self.kv.lost += 1;
                let pause = backoff(self.kv.lost)
                    .min(self.deadline.saturating_duration_since(Instant::now()) / 4);
                tokio::time::sleep(pause).await;
                match taken.backend.read(&taken.key, self.deadline).await {
                    Ok((value, version)) => {
                        let fresh = self.table.push(Cas {
                            value,
                            version,
                            ..taken
                        })?;
                        self.kv.cas_open += 1;
                        Ok(Err(CasError::CasFailed(fresh)))
                    }
                    Err(failure) => Ok(Err(CasError::StoreError(report(
                        self,
                        &taken.name,
                        "swap",
                        &failure,
                    )))),
                }
            }
            Err(failure) => Ok(Err(CasError::StoreError(report(
                self,
                &taken.name,
                "swap",
                &failure,
            )))),
        }
    }
}

impl wit::atomics::HostCas for KvView<'_> {
    async fn new(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, KvError>> {
        let (name, backend) = self.bucket(&bucket)?;
        let read = if self.kv.cas_open >= MAX_CAS_HANDLES {
            // Over a budget: with reuse, the instance is not handed another request.
            self.kv.over_budget += 1;
            Err(Failure::Other(format!(
                "at most {MAX_CAS_HANDLES} compare-and-swaps may be open at once; drop or swap one first"
            )))
        } else {
            match check_key(&key) {
                Ok(()) => backend.read(&key, self.deadline).await,
                Err(failure) => Err(failure),
            }
        };
        match read {
            Ok((value, version)) => {
                let cas = self.table.push(Cas {
                    name,
                    backend,
                    key,
                    value,
                    version,
                })?;
                self.kv.cas_open += 1;
                Ok(Ok(cas))
            }
            Err(failure) => Ok(Err(report(self, &name, "cas", &failure))),
        }
    }

    async fn current(
        &mut self,
        cas: Resource<Cas>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, KvError>> {
        Ok(Ok(self.table.get(&cas)?.value.clone()))
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        self.kv.cas_open = self.kv.cas_open.saturating_sub(1);
        Ok(())
    }
}

impl wit::batch::Host for KvView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Option<(String, Vec<u8>)>>, KvError>> {
        self.on(&bucket, "get-many", async |b, deadline| {
            if keys.len() > MAX_BATCH_KEYS {
                return Err(Failure::TooLarge(format!(
                    "a get-many of {} keys is over the limit of {MAX_BATCH_KEYS}",
                    keys.len()
                )));
            }
            keys.iter().try_for_each(|k| check_key(k))?;
            b.get_many(keys, deadline).await
        })
        .await
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        pairs: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), KvError>> {
        self.on(&bucket, "set-many", async |b, deadline| {
            checked_pairs(&pairs)?;
            b.set_many(pairs, deadline).await
        })
        .await
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), KvError>> {
        self.on(&bucket, "delete-many", async |b, deadline| {
            keys.iter().try_for_each(|k| check_key(k))?;
            b.delete_many(keys, deadline).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A memory store and a file store in a fresh temporary file.
    fn backends(name: &str) -> Vec<(&'static str, Backend)> {
        let dir =
            std::env::temp_dir().join(format!("lamina-kv-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = Arc::new(file::open_database(&dir.join("unit.redb")).unwrap());
        vec![
            ("memory", Backend::Memory(memory::Memory::default())),
            (
                "file",
                Backend::File(file::File::new(db, "unit".to_owned())),
            ),
        ]
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn a_swap_fails_after_any_write_even_one_that_restores_the_value() {
        for (name, b) in backends("aba") {
            block_on(async {
                b.set("k", b"a".to_vec(), soon()).await.unwrap();
                let (_, version) = b.read("k", soon()).await.unwrap();
                b.delete("k", soon()).await.unwrap();
                b.set("k", b"a".to_vec(), soon()).await.unwrap();
                assert!(
                    !b.swap("k", &version, b"b".to_vec(), soon()).await.unwrap(),
                    "{name}: deleted and set again is a change"
                );
                let (_, version) = b.read("k", soon()).await.unwrap();
                assert!(
                    b.swap("k", &version, b"b".to_vec(), soon()).await.unwrap(),
                    "{name}"
                );
                let (absent, none) = b.read("new", soon()).await.unwrap();
                assert_eq!((absent, &none), (None, &None));
                b.set("new", b"x".to_vec(), soon()).await.unwrap();
                assert!(
                    !b.swap("new", &none, b"y".to_vec(), soon()).await.unwrap(),
                    "{name}: created since the read"
                );
                b.delete("k", soon()).await.unwrap();
                let (_, version) = b.read("new", soon()).await.unwrap();
                b.delete("new", soon()).await.unwrap();
                assert!(
                    !b.swap("new", &version, b"z".to_vec(), soon())
                        .await
                        .unwrap(),
                    "{name}: deleted since the read"
                );
            });
        }
    }

    #[test]
    fn counters_refuse_overflow_without_writing() {
        for (name, b) in backends("overflow") {
            block_on(async {
                b.set("c", i64::MAX.to_string().into_bytes(), soon())
                    .await
                    .unwrap();
                assert!(b.increment("c", 1, soon()).await.is_err(), "{name}");
                assert_eq!(
                    b.get("c", soon()).await.unwrap(),
                    Some(i64::MAX.to_string().into_bytes()),
                    "{name}: unchanged"
                );
                assert_eq!(b.increment("c", -1, soon()).await.unwrap(), i64::MAX - 1);
            });
        }
    }

    #[test]
    fn get_many_is_bounded_in_the_bytes_it_returns() {
        for (name, b) in backends("budget") {
            block_on(async {
                b.set("big", vec![0; MAX_VALUE], soon()).await.unwrap();
                let fits = MAX_BATCH_BYTES / MAX_VALUE;
                let ok = b
                    .get_many(vec!["big".to_owned(); fits], soon())
                    .await
                    .unwrap();
                assert_eq!(ok.len(), fits, "{name}");
                let error = b
                    .get_many(vec!["big".to_owned(); fits + 1], soon())
                    .await
                    .unwrap_err();
                assert!(matches!(error, Failure::TooLarge(_)), "{name}: {error}");
            });
        }
    }

    #[test]
    fn pages_end_and_resume_after_the_cursor() {
        for (name, b) in backends("pages") {
            block_on(async {
                let pairs: Vec<(String, Vec<u8>)> = (0..1500)
                    .map(|i| (format!("k{i:04}"), Vec::new()))
                    .collect();
                b.set_many(pairs, soon()).await.unwrap();
                let (first, cursor) = b.list(None, soon()).await.unwrap();
                assert_eq!(first.len(), backend::PAGE, "{name}");
                let (second, end) = b.list(cursor, soon()).await.unwrap();
                assert_eq!((second.len(), end), (500, None), "{name}");
                assert!(
                    first
                        .iter()
                        .chain(&second)
                        .collect::<std::collections::BTreeSet<_>>()
                        .len()
                        == 1500
                );
            });
        }
    }
}
