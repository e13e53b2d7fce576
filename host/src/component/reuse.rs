//! Opt-in instance reuse: `instances = "reuse"` in `[components.NAME]` keeps an instance
//! after a request it served well and gives it the next request of that component,
//! skipping the store, the instantiation and the guest's own start-up (an interpreter's
//! heap, a Rust guest's lazy statics).
//!
//! ```toml
//! [components.hello]
//! source = "hello.wasm"
//! instances = "reuse"     # default "fresh": a new instance per request
//! max-requests = 1000     # requests one instance serves before it is replaced
//! ```
//!
//! What it trades: within that component, what one request leaves in the guest's memory
//! (globals, caches, a leaked secret) is there for the next. Nothing crosses components
//! (each has its own instances), and an instance serves one request at a time: it is
//! taken out of the idle list for the request and put back after. An instance is put back
//! only when every call of the request returned (no trap, timeout, memory or resource
//! limit hit, cancelled call, response the host refused, or middleware left without its
//! `on-response`) and no capability saw it go over a budget or refused it something
//! ([`Capability::reusable`](super::caps)); otherwise it is dropped and the next request
//! gets a fresh one. What the capabilities count per request (log lines, outbound calls,
//! metrics, stdout) starts again for each request; what the guest holds handles to in the
//! store's resource table (an unread outbound response) stays, as its memory does.
//!
//! Idle instances hold slots of the engine's instance pool, so the runtime keeps at most a
//! quarter of the slots idle ([`IdleSlots`]); an instance returned past that is dropped.
//! In Lambda (one request at a time) each reusing component keeps one instance; in
//! `lamina serve`, as many as were busy at once.

use serde::Deserialize;
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Requests one instance serves before it is replaced, unless `max-requests` says.
pub const DEFAULT_REUSE_REQUESTS: u32 = 1000;

/// `instances` in `[components.NAME]`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum InstancesKey {
    /// A fresh instance per request.
    #[default]
    Fresh,
    /// Instances serve many requests, one at a time.
    Reuse,
}

/// How a component's instances serve requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InstancePolicy {
    /// A fresh instance per request (the default): nothing one request leaves in the
    /// guest's memory reaches another.
    #[default]
    Fresh,
    /// One instance serves up to `max_requests` requests, one at a time, and is replaced
    /// after any failure.
    Reuse {
        /// Requests before the instance is replaced (at least 1).
        max_requests: u32,
    },
}

impl InstancePolicy {
    /// The policy `instances` and `max-requests` of `[components.NAME]` ask for.
    ///
    /// # Errors
    ///
    /// `max-requests` without `instances = "reuse"`, or 0.
    pub(crate) fn from_keys(
        component: &str,
        instances: Option<InstancesKey>,
        max_requests: Option<u32>,
    ) -> anyhow::Result<Self> {
        match (instances.unwrap_or_default(), max_requests) {
            (InstancesKey::Fresh, None) => Ok(Self::Fresh),
            (InstancesKey::Fresh, Some(_)) => anyhow::bail!(
                "components.{component}.max-requests: only for reused instances; add \
                 instances = \"reuse\" (a fresh instance serves one request)"
            ),
            (InstancesKey::Reuse, Some(0)) => anyhow::bail!(
                "components.{component}.max-requests: 0; an instance serves at least 1 request"
            ),
            (InstancesKey::Reuse, max) => Ok(Self::Reuse {
                max_requests: max.unwrap_or(DEFAULT_REUSE_REQUESTS),
            }),
        }
    }
}

/// The idle instances a runtime may keep, over all its components: a quarter of the
/// pool's slots, so requests in flight always find slots for fresh instances.
pub(crate) struct IdleSlots {
    held: AtomicUsize,
    limit: usize,
}

impl IdleSlots {
    pub(crate) fn new(pool_slots: usize) -> Arc<Self> {
        Arc::new(Self {
            held: AtomicUsize::new(0),
            limit: pool_slots / 4,
        })
    }

    /// How many instances may be idle at once.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    fn reserve(&self) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.limit).then_some(held + 1)
            })
            .is_ok()
    }

    fn release(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::AcqRel);
    }
}

/// One component's idle instances. What they are is the session's business (a store and
/// the bound instance of the component's world); here they are kept and handed out.
pub(crate) struct Idle {
    instances: Mutex<Vec<Box<dyn Any + Send>>>,
    slots: Arc<IdleSlots>,
}

impl Idle {
    pub(crate) fn new(slots: Arc<IdleSlots>) -> Self {
        Self {
            instances: Mutex::new(Vec::new()),
            slots,
        }
    }

    /// An idle instance, if there is one of type `T`.
    pub(crate) fn take<T: Any + Send>(&self) -> Option<T> {
        let taken = self.lock().pop()?;
        self.slots.release(1);
        taken.downcast::<T>().ok().map(|boxed| *boxed)
    }

    /// Keeps `instance` for a later request, unless the runtime has as many idle as it
    /// may keep (then it is dropped).
    pub(crate) fn put<T: Any + Send>(&self, instance: T) {
        if self.slots.reserve() {
            self.lock().push(Box::new(instance));
        }
    }

    /// How many are idle now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Box<dyn Any + Send>>> {
        // A panic while the list was held left it whole (push and pop do not unwind
        // half-way), so a poisoned lock is still a usable list.
        self.instances
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Idle {
    fn drop(&mut self) {
        let held = self.lock().len();
        self.slots.release(held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_make_a_policy_or_name_the_mistake() {
        assert_eq!(
            InstancePolicy::from_keys("c", None, None).unwrap(),
            InstancePolicy::Fresh
        );
        assert_eq!(
            InstancePolicy::from_keys("c", Some(InstancesKey::Reuse), None).unwrap(),
            InstancePolicy::Reuse {
                max_requests: DEFAULT_REUSE_REQUESTS
            }
        );
        assert_eq!(
            InstancePolicy::from_keys("c", Some(InstancesKey::Reuse), Some(3)).unwrap(),
            InstancePolicy::Reuse { max_requests: 3 }
        );
        let fresh = InstancePolicy::from_keys("c", None, Some(3)).unwrap_err();
        assert!(
            fresh.to_string().contains("components.c.max-requests"),
            "{fresh}"
        );
        let zero = InstancePolicy::from_keys("c", Some(InstancesKey::Reuse), Some(0)).unwrap_err();
        assert!(zero.to_string().contains("at least 1"), "{zero}");
    }

    #[test]
    fn idle_instances_are_bounded_over_the_runtime_and_released_when_dropped() {
        let slots = IdleSlots::new(8);
        assert_eq!(slots.limit(), 2);
        let a = Idle::new(slots.clone());
        let b = Idle::new(slots.clone());
        a.put(1_u32);
        b.put(2_u32);
        b.put(3_u32);
        assert_eq!((a.len(), b.len()), (1, 1), "the third is over the limit");
        assert_eq!(b.take::<u32>(), Some(2));
        assert_eq!(b.take::<u32>(), None);
        b.put(4_u32);
        drop(a);
        b.put(5_u32);
        assert_eq!(b.len(), 2, "a's slot was released when it was dropped");
        assert_eq!(b.take::<String>(), None, "another type is not handed out");
    }
}
