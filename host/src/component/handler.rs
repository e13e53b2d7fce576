//! Calling a handler component: `handle` in a fresh instance, once per request.

use super::bindings::{self, HandlerPre};
use super::convert::{RouteInfo, request_to_wit};
use super::session::{CallFuture, Session, World};
use super::state::State;
use super::{Entry, Handler};
use crate::error::Error;
use crate::request::Request;
use crate::response::Response;
use wasmtime::Store;

impl World for bindings::Handler {
    type Pre = HandlerPre<State>;

    fn instantiate<'a>(pre: &'a Self::Pre, store: &'a mut Store<State>) -> CallFuture<'a, Self> {
        Box::pin(pre.instantiate_async(store))
    }
}

impl Handler {
    /// Calls the handler with `request` in a fresh instance.
    ///
    /// # Errors
    ///
    /// [`Error::Fault`] when the guest traps or cannot be instantiated,
    /// [`Error::Timeout`] and [`Error::OutOfMemory`] when it exceeds its limits,
    /// [`Error::InvalidResponse`] when its response is not valid HTTP, and
    /// [`Error::Typed`] when it returns its own typed error.
    pub(crate) async fn handle(
        &self,
        request: Request,
        route: RouteInfo<'_>,
    ) -> Result<Response, Error> {
        let pre = match &self.entry {
            Entry::Lamina(pre) => pre,
            Entry::Proxy(pre) => return super::proxy::handle(&self.guest, pre, request).await,
        };
        let mut session = Session::<bindings::Handler>::new(&self.guest, &request.context)?;
        let request = request_to_wit(request, route);
        let output = session
            .call(pre, move |handler, store| {
                Box::pin(async move {
                    handler
                        .lamina_http_request_handler()
                        .call_handle(store, &request)
                        .await
                })
            })
            .await?;
        drop(session);
        match output {
            Ok(response) => self.guest.response_from_wit(response),
            Err(error) => Err(self.guest.typed_error(error)),
        }
    }
}
