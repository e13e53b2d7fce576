//! Calling a middleware component: `on-request` on the way in, `on-response` on the same
//! instance on the way out.

use super::bindings::{self, Action, MiddlewarePre, v0_1, wit};
use super::contract::MiddlewareWorld;
use super::convert::{Kept, RouteInfo, request_to_wit, response_to_wit};
use super::session::Session;
use super::state::State;
use super::{Middleware, MiddlewareEntry};
use crate::error::Error;
use crate::request::Request;
use crate::response::Response;

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
    held: Held<'c>,
}

/// The session of an [`Entered`] middleware, in the version of the world it exports.
enum Held<'c> {
    Lamina(Session<'c, bindings::Middleware>, &'c MiddlewarePre<State>),
    LaminaV0_1(
        Session<'c, v0_1::Middleware>,
        &'c v0_1::MiddlewarePre<State>,
    ),
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
        let kept = Kept::of(&request);
        let (action, held) = match &self.entry {
            MiddlewareEntry::Lamina(pre) => {
                let (action, session) = self
                    .enter::<bindings::Middleware>(pre, request, route)
                    .await?;
                (action, Held::Lamina(session, pre))
            }
            MiddlewareEntry::LaminaV0_1(pre) => {
                let (action, session) = self.enter::<v0_1::Middleware>(pre, request, route).await?;
                (action, Held::LaminaV0_1(session, pre))
            }
        };
        let guest = &self.guest;
        let mut held = held;
        // What the host refuses of what the guest returned ends the instance's service
        // (with `instances = "reuse"`): it is not handed another request.
        let mut refused = |error: Error| {
            held.discard();
            error
        };
        match action {
            Ok(Action::Next(request)) => match guest.request_from_wit(request, kept) {
                Ok(request) => {
                    // Dropped without `on-response` (the request abandoned half-way), the
                    // instance ran half a request: it is not reused.
                    held.expect_call();
                    Ok(Flow::Next(
                        request,
                        Some(Entered {
                            middleware: self,
                            held,
                        }),
                    ))
                }
                Err(error) => Err(refused(error)),
            },
            Ok(Action::Pass(request)) => guest
                .request_from_wit(request, kept)
                .map(|request| Flow::Next(request, None))
                .map_err(refused),
            Ok(Action::Respond(response)) => guest
                .response_from_wit(response)
                .map(Flow::Respond)
                .map_err(refused),
            Err(error) => Err(guest.typed_error(error)),
        }
    }

    /// `on-request` in a fresh session of a `lamina:http` middleware of any version.
    async fn enter<'c, W: MiddlewareWorld>(
        &'c self,
        pre: &W::Pre,
        request: Request,
        route: RouteInfo<'_>,
    ) -> Result<(Result<Action, wit::Error>, Session<'c, W>), Error> {
        let mut session = Session::<W>::new(&self.guest, &request.context)?;
        let request = request_to_wit(request, route);
        let action = session
            .call(pre, move |middleware, store| {
                middleware.on_request(store, request)
            })
            .await?;
        Ok((action, session))
    }
}

impl Entered<'_> {
    /// The middleware's component name.
    pub(crate) fn name(&self) -> &str {
        self.middleware.guest.name()
    }

    /// Calls `on-response` on the instance that saw the request.
    ///
    /// # Errors
    ///
    /// As [`Handler::handle`](super::Handler).
    pub(crate) async fn on_response(mut self, response: Response) -> Result<Response, Error> {
        let response = response_to_wit(response);
        let output = match &mut self.held {
            Held::Lamina(session, pre) => respond(session, pre, response).await?,
            Held::LaminaV0_1(session, pre) => respond(session, pre, response).await?,
        };
        let guest = &self.middleware.guest;
        match output {
            Ok(response) => guest.response_from_wit(response).inspect_err(|_| {
                self.held.discard();
            }),
            Err(error) => Err(guest.typed_error(error)),
        }
    }
}

impl Held<'_> {
    /// See [`Session::discard`].
    fn discard(&mut self) {
        match self {
            Self::Lamina(session, _) => session.discard(),
            Self::LaminaV0_1(session, _) => session.discard(),
        }
    }

    /// See [`Session::expect_call`].
    fn expect_call(&mut self) {
        match self {
            Self::Lamina(session, _) => session.expect_call(),
            Self::LaminaV0_1(session, _) => session.expect_call(),
        }
    }
}

/// `on-response` in `session`, whatever the version of the middleware's world.
async fn respond<W: MiddlewareWorld>(
    session: &mut Session<'_, W>,
    pre: &W::Pre,
    response: wit::Response,
) -> Result<Result<wit::Response, wit::Error>, Error> {
    session
        .call(pre, move |middleware, store| {
            middleware.on_response(store, response)
        })
        .await
}
