//! One component's store and instance for one request, whatever world it exports: the
//! deadline of each call, and every way a call can fail mapped to an [`Error`].

use super::Guest;
use super::engine::EPOCH_TICK;
use super::reuse::InstancePolicy;
use super::state::State;
use crate::error::Error;
use crate::request::Context;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};
use wasmtime::{PoolConcurrencyLimitError, Store, Trap, UpdateDeadline};

/// A future borrowing the store (and the instance) for one export call.
pub(crate) type CallFuture<'a, T> = Pin<Box<dyn Future<Output = wasmtime::Result<T>> + Send + 'a>>;

/// A world's instance type: how one is made from its pre-instantiated component.
pub(crate) trait World: Sized + Send + Sync + 'static {
    /// The pre-instantiated component for this world.
    type Pre: Send + Sync;

    /// Instantiates `pre` in `store`.
    fn instantiate<'a>(pre: &'a Self::Pre, store: &'a mut Store<State>) -> CallFuture<'a, Self>;
}

/// A stage of one component call, as an [`Observer`] is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallStage {
    /// Building the `Store` (capability state, limiter).
    Store,
    /// Instantiating from the pre-instantiated component (pool slot, memory image).
    Instantiate,
    /// One export call: lowering its arguments, the guest's work, lifting its result.
    Call,
    /// Dropping the store (returning the slot, resetting its memory).
    Drop,
}

/// Told how long each stage of each component call took: the pipeline benchmark sums
/// them; access logs and metrics can use the same hook. Set one with
/// [`Runtime::observe`](super::Runtime::observe).
pub trait Observer: Send + Sync {
    /// `component`, serving `request_id`, spent `took` in `stage`.
    fn stage(&self, component: &str, request_id: &str, stage: CallStage, took: Duration);
}

/// One store and instance for one request. The instance is made by the first call; a
/// middleware's second call (`on-response`) runs on the same one. After a call fails the
/// session must not be called again (the guest may be mid-call).
///
/// With `instances = "reuse"` the store and instance come from the component's idle list
/// when it has one, and go back to it when the session ends well (`reuse.rs`).
pub(crate) struct Session<'g, W: World> {
    guest: &'g Guest,
    /// Always `Some` until the session is dropped, which may hand the store on.
    store: Option<Store<State>>,
    bound: Option<W>,
    /// Requests the instance served before this one (0 for a fresh one).
    served: u32,
    /// Whether every call so far returned, and nothing the host did with what it returned
    /// failed: only then may the instance serve again.
    clean: bool,
    /// Whether the guest waits for a call it was promised (a middleware's `on-response`
    /// after its `on-request` said `next`): an instance dropped before it came ran half a
    /// request, and is not reused.
    awaiting: bool,
    /// When the Lambda invocation times out, if known: every call's time is cut to fit.
    lambda_deadline: Option<SystemTime>,
}

/// An idle instance of world `W`: its store, the instance, and how many requests it has
/// served.
struct Pooled<W> {
    store: Store<State>,
    bound: W,
    served: u32,
}

impl<'g, W: World> Session<'g, W> {
    /// A store for `guest` serving the request `context` describes.
    ///
    /// # Errors
    ///
    /// [`Error::Fault`] when a capability cannot make its state.
    pub(crate) fn new(guest: &'g Guest, context: &Context) -> Result<Self, Error> {
        let started = Instant::now();
        let fault = |e: anyhow::Error| Error::Fault {
            component: guest.name.clone(),
            source: wasmtime::Error::msg(format!("{e:#}")),
        };
        let pooled = match guest.policy {
            InstancePolicy::Reuse { .. } => guest.idle.take::<Pooled<W>>(),
            InstancePolicy::Fresh => None,
        };
        let (store, bound, served) = if let Some(mut pooled) = pooled {
            pooled
                .store
                .data_mut()
                .recycle(
                    context.request_id.clone(),
                    context.trace_header.clone(),
                    &guest.grants,
                )
                .map_err(fault)?;
            (pooled.store, Some(pooled.bound), pooled.served)
        } else {
            let state = State::new(
                guest.name.clone(),
                context.request_id.clone(),
                context.trace_header.clone(),
                &guest.limits,
                &guest.grants,
            )
            .map_err(fault)?;
            (fresh_store(guest, state), None, 0)
        };
        let session = Self {
            guest,
            store: Some(store),
            bound,
            served,
            clean: true,
            awaiting: false,
            lambda_deadline: context.deadline,
        };
        session.observe(CallStage::Store, started);
        Ok(session)
    }

    fn store(&self) -> &Store<State> {
        self.store
            .as_ref()
            .expect("a session holds its store until it is dropped")
    }

    fn store_mut(&mut self) -> &mut Store<State> {
        self.store
            .as_mut()
            .expect("a session holds its store until it is dropped")
    }

    fn observe(&self, stage: CallStage, since: Instant) {
        if let Some(observer) = &self.guest.observer {
            let state = self.store().data();
            observer.stage(&state.component, &state.request_id, stage, since.elapsed());
        }
    }

    /// Marks the instance as not to be served again: the host refused what it returned.
    pub(crate) fn discard(&mut self) {
        self.clean = false;
    }

    /// Says the guest expects another call in this session: until one returns, the
    /// instance is not reused.
    pub(crate) fn expect_call(&mut self) {
        self.awaiting = true;
    }

    /// Makes one export call within the component's timeout (instantiating first if this
    /// is the session's first call) and maps every failure to an [`Error`]. `call` gets the
    /// instance and the store and returns the export's future; anything it needs it owns.
    pub(crate) async fn call<T>(
        &mut self,
        pre: &W::Pre,
        call: impl for<'a> FnOnce(&'a W, &'a mut Store<State>) -> CallFuture<'a, T> + Send,
    ) -> Result<T, Error> {
        // Each call gets the component's timeout, cut to what is left of the invocation
        // (a middleware's `on-response` runs after the rest of the chain has used some).
        let timeout = effective_timeout(self.guest.limits.timeout, self.lambda_deadline);
        self.store_mut().data_mut().deadline = Instant::now() + timeout;
        self.store_mut().set_epoch_deadline(1);
        // Until the call returns: a call cancelled half-way leaves the guest mid-call.
        let was_clean = std::mem::replace(&mut self.clean, false);
        let observer = self.guest.observer.is_some();
        let store = self
            .store
            .as_mut()
            .expect("a session holds its store until it is dropped");
        let bound = &mut self.bound;
        let mut instantiated = None;
        // A guest blocked in a host call (a WASI sleep, say) never reaches an epoch check,
        // so the whole call is also bounded on the host side.
        let outcome = tokio::time::timeout(timeout + EPOCH_TICK, async {
            let bound = match bound {
                Some(bound) => bound,
                None => {
                    let started = Instant::now();
                    let instance = W::instantiate(pre, &mut *store).await?;
                    if observer {
                        instantiated = Some(started.elapsed());
                    }
                    bound.insert(instance)
                }
            };
            let started = Instant::now();
            let result = call(bound, &mut *store).await;
            Ok::<_, wasmtime::Error>((result?, started))
        })
        .await;
        if let Some(took) = instantiated
            && let Some(observer) = &self.guest.observer
        {
            let state = self.store().data();
            observer.stage(
                &state.component,
                &state.request_id,
                CallStage::Instantiate,
                took,
            );
        }
        let name = &self.guest.name;
        let timed_out = || Error::Timeout {
            component: name.clone(),
            after: timeout,
        };
        match outcome {
            Err(_elapsed) => Err(timed_out()),
            Ok(Ok((output, started))) => {
                self.observe(CallStage::Call, started);
                self.clean = was_clean;
                self.awaiting = false;
                Ok(output)
            }
            Ok(Err(source)) if source.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => {
                Err(timed_out())
            }
            Ok(Err(source)) if source.downcast_ref::<PoolConcurrencyLimitError>().is_some() => {
                Err(Error::PoolExhausted {
                    instances: self.guest.pool_instances,
                })
            }
            Ok(Err(source)) => Err(match self.store().data().limiter.refused {
                Some(asked) => Error::OutOfMemory {
                    component: name.clone(),
                    limit: self.guest.limits.memory,
                    asked,
                    source,
                },
                None => Error::Fault {
                    component: name.clone(),
                    source,
                },
            }),
        }
    }
}

impl<W: World> Drop for Session<'_, W> {
    /// Lets each capability report on the instance (what the guest wrote to stdout, log
    /// lines it lost to the caps), tells the observer how long dropping took, and with
    /// `instances = "reuse"` keeps an instance that served well for the next request.
    fn drop(&mut self) {
        let started = Instant::now();
        let Some(store) = self.store.take() else {
            return;
        };
        let state = store.data();
        state.caps.finish(&super::caps::Who {
            component: &state.component,
            request_id: &state.request_id,
            redact: state.caps.log.redact(),
        });
        // Kept for the next request only when the component reuses instances and this
        // one served well: every call returned, nothing refused, no budget exceeded.
        let keep = match self.guest.policy {
            InstancePolicy::Reuse { max_requests } => {
                self.clean
                    && !self.awaiting
                    && self.served + 1 < max_requests
                    && state.limiter.refused.is_none()
                    && state.caps.reusable()
            }
            InstancePolicy::Fresh => false,
        };
        // What is timed is the part that is ours: a store that is not kept is dropped
        // after this, one that is kept is another request's afterwards.
        if let Some(observer) = &self.guest.observer {
            observer.stage(
                &state.component,
                &state.request_id,
                CallStage::Drop,
                started.elapsed(),
            );
        }
        if keep && let Some(bound) = self.bound.take() {
            self.guest.idle.put(Pooled {
                store,
                bound,
                served: self.served + 1,
            });
        }
    }
}

/// A new store for `guest` holding `state`: its limiter, and the epoch callback that
/// enforces each call's deadline.
fn fresh_store(guest: &Guest, state: State) -> Store<State> {
    let mut store = Store::new(guest.engine(), state);
    store.limiter(|state| &mut state.limiter);
    // Compiled code checks the engine's epoch; each tick past the store's epoch
    // deadline calls this. The time limit is the wall clock, not a count of ticks: the
    // ticker thread falls behind when the cores are busy, and ticks counted from a
    // late ticker would let a spinning guest outlive the Lambda deadline. Until the
    // deadline the guest yields to the executor once per tick, so a guest in a loop
    // cannot hold an async worker (or, in Lambda, the only thread) to itself. The
    // yield is tokio's own: it puts the task at the back of the run queue, where
    // wasmtime's plain `Yield` wakes it at once into the worker's LIFO slot and the
    // tasks waiting behind it still starve (measured: 18 req/s for `/hello` beside two
    // loopers, docs/BENCHMARKS.md).
    store.epoch_deadline_callback(|store| {
        Ok(if Instant::now() >= store.data().deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))
        })
    });
    store
}

/// The component's timeout, shortened to what is left of the Lambda invocation (less a
/// margin to send the 504) when that is less.
fn effective_timeout(limit: Duration, deadline: Option<SystemTime>) -> Duration {
    // Sized from measurements under the Lambda RIE with both cores busy: the 504 was posted
    // at most 49 ms after the cut-off with 12 busy threads on 2 vCPUs (docs/SECURITY.md).
    const MARGIN: Duration = Duration::from_millis(100);
    deadline
        .map(|d| d.duration_since(SystemTime::now()).unwrap_or_default())
        .map_or(limit, |left| {
            limit.min(left.saturating_sub(MARGIN).max(EPOCH_TICK))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_shrink_to_the_lambda_deadline() {
        let limit = Duration::from_secs(10);
        assert_eq!(effective_timeout(limit, None), limit);
        let soon = SystemTime::now() + Duration::from_secs(1);
        let t = effective_timeout(limit, Some(soon));
        assert!(
            t <= Duration::from_millis(900) && t > Duration::from_millis(750),
            "{t:?}"
        );
        let past = SystemTime::now() - Duration::from_secs(1);
        assert_eq!(
            effective_timeout(limit, Some(past)),
            EPOCH_TICK,
            "no time left: one tick"
        );
        let far = SystemTime::now() + Duration::from_secs(600);
        assert_eq!(effective_timeout(limit, Some(far)), limit);
    }
}
