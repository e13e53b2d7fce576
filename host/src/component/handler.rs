//! Calling a handler component: `handle` in a fresh instance, once per request.

use super::bindings::{self, v0_1};
use super::contract::HandlerWorld;
use super::convert::{RouteInfo, request_to_wit};
use super::session::Session;
use super::{Entry, Handler};
use crate::error::Error;
use crate::request::Request;
use crate::response::Response;

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
        match &self.entry {
            Entry::Lamina(pre) => self.call::<bindings::Handler>(pre, request, route).await,
            Entry::LaminaV0_1(pre) => self.call::<v0_1::Handler>(pre, request, route).await,
            Entry::Proxy(pre) => super::proxy::handle(&self.guest, pre, request).await,
        }
    }

    /// [`Handler::handle`] for a `lamina:http` handler of any version.
    async fn call<W: HandlerWorld>(
        &self,
        pre: &W::Pre,
        request: Request,
        route: RouteInfo<'_>,
    ) -> Result<Response, Error> {
        let mut session = Session::<W>::new(&self.guest, &request.context)?;
        let request = request_to_wit(request, route);
        let output = session
            .call(pre, move |handler, store| handler.handle(store, request))
            .await?;
        match output {
            Ok(response) => {
                let response = self.guest.response_from_wit(response);
                if response.is_err() {
                    // A response the host refused: the instance serves no more requests.
                    session.discard();
                }
                response
            }
            // The guest's own answer: the instance is fine.
            Err(error) => Err(self.guest.typed_error(error)),
        }
    }
}
