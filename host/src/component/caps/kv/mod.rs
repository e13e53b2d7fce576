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

pub use backend::{MAX_KEY, MAX_VALUE};
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
        path: "../wit",
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
    /// Compare-and-swaps this instance lost, for the backoff before the next attempt.
    lost: u32,
}

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
            lost: 0,
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
                request_id = who.request_id,
                denied = instance.denied,
                "key-value stores denied during this request (the first is logged above)"
            );
        }
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
            request_id = view.request_id,
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
                    request_id = self.request_id,
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
        let taken = self.table.delete(cas)?;
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
        let read = match check_key(&key) {
            Ok(()) => backend.read(&key, self.deadline).await,
            Err(failure) => Err(failure),
        };
        match read {
            Ok((value, version)) => Ok(Ok(self.table.push(Cas {
                name,
                backend,
                key,
                value,
                version,
            })?)),
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
