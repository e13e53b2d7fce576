//! Calling a middleware component: `on-request` on the way in, `on-response` on the same
//! instance on the way out.

use super::Middleware;
use super::bindings::{self, Action, MiddlewarePre};
use super::convert::{Kept, RouteInfo, request_to_wit, response_to_wit};
use super::session::{CallFuture, Session, World};
use super::state::State;
use crate::error::Error;
use crate::request::Request;
use crate::response::Response;
use wasmtime::Store;

impl World for bindings::Middleware {
    type Pre = MiddlewarePre<State>;

    fn instantiate<'a>(pre: &'a Self::Pre, store: &'a mut Store<State>) -> CallFuture<'a, Self> {
        Box::pin(pre.instantiate_async(store))
    }
}

/// What a middleware's `on-request` decided.
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per middleware call and matched at once; boxing would add an allocation per call"
)]
pub(crate) enum Flow<'c> {
    /// Go on with this request. `Some` is the instance waiting to see the response.
    Next(Request, Option<Entered<'c>>),
    /// Answer with this response; the rest of the chain does not run.
    Respond(Response),
}

/// A middleware instance that passed the request on and waits for the response.
pub(crate) struct Entered<'c> {
    middleware: &'c Middleware,
    session: Session<'c, bindings::Middleware>,
}

impl Middleware {
    /// Calls `on-request` in a fresh instance.
    ///
    /// # Errors
    ///
    /// As [`Handler::handle`](super::Handler), plus [`Error::InvalidRequest`] when the
    /// request it passes on is not valid HTTP.
    pub(crate) async fn on_request(
        &self,
        request: Request,
        route: RouteInfo<'_>,
    ) -> Result<Flow<'_>, Error> {
        let mut session = Session::<bindings::Middleware>::new(&self.guest, &request.context)?;
        let kept = Kept::of(&request);
        let request = request_to_wit(request, route);
        let action = session
            .call(&self.pre, move |middleware, store| {
                Box::pin(async move {
                    middleware
                        .lamina_http_request_middleware()
                        .call_on_request(store, &request)
                        .await
                })
            })
            .await?;
        let guest = &self.guest;
        match action {
            Ok(Action::Next(request)) => Ok(Flow::Next(
                guest.request_from_wit(request, kept)?,
                Some(Entered {
                    middleware: self,
                    session,
                }),
            )),
            Ok(Action::Pass(request)) => {
                Ok(Flow::Next(guest.request_from_wit(request, kept)?, None))
            }
            Ok(Action::Respond(response)) => Ok(Flow::Respond(guest.response_from_wit(response)?)),
            Err(error) => Err(guest.typed_error(error)),
        }
    }
}

impl Entered<'_> {
    /// Calls `on-response` on the instance that saw the request.
    ///
    /// # Errors
    ///
    /// As [`Handler::handle`](super::Handler).
    pub(crate) async fn on_response(mut self, response: Response) -> Result<Response, Error> {
        let response = response_to_wit(response);
        let output = self
            .session
            .call(&self.middleware.pre, move |middleware, store| {
                Box::pin(async move {
                    middleware
                        .lamina_http_request_middleware()
                        .call_on_response(store, &response)
                        .await
                })
            })
            .await?;
        let guest = &self.middleware.guest;
        match output {
            Ok(response) => guest.response_from_wit(response),
            Err(error) => Err(guest.typed_error(error)),
        }
    }
}
