//! Calling a middleware component: `on-request` on the way in, `on-response` on the same
//! instance on the way out.

use super::bindings::Action;
use super::convert::{Kept, RouteInfo, request_to_wit, response_to_wit};
use super::{Call, Component, Laps, Output, Session};
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
    session: Session<'c>,
}

impl Component {
    /// Calls a middleware component's `on-request` in a fresh instance.
    ///
    /// # Errors
    ///
    /// As [`Component::handle`], plus [`Error::InvalidRequest`] when the request it passes
    /// on is not valid HTTP.
    pub(crate) async fn on_request(
        &self,
        request: Request,
        route: RouteInfo<'_>,
    ) -> Result<Flow<'_>, Error> {
        let mut session = Session::new(self, &request.context)?;
        let kept = Kept {
            request_id: request.context.request_id.clone(),
            deadline: request.context.deadline,
        };
        let call = Call::OnRequest(request_to_wit(request, route));
        match session.call(call, &mut Laps::none()).await? {
            Output::Action(Ok(Action::Next(request))) => Ok(Flow::Next(
                self.request_from_wit(request, kept)?,
                Some(Entered { session }),
            )),
            Output::Action(Ok(Action::Pass(request))) => {
                Ok(Flow::Next(self.request_from_wit(request, kept)?, None))
            }
            Output::Action(Ok(Action::Respond(response))) => {
                Ok(Flow::Respond(self.response_from_wit(response)?))
            }
            Output::Action(Err(error)) => Err(self.guest_error(error)),
            Output::Response(_) => Err(self.wrong_export("request-middleware")),
        }
    }
}

impl Entered<'_> {
    /// Calls `on-response` on the instance that saw the request.
    ///
    /// # Errors
    ///
    /// As [`Component::handle`].
    pub(crate) async fn on_response(mut self, response: Response) -> Result<Response, Error> {
        let component = self.session.component;
        let call = Call::OnResponse(response_to_wit(response));
        match self.session.call(call, &mut Laps::none()).await? {
            Output::Response(Ok(response)) => component.response_from_wit(response),
            Output::Response(Err(error)) => Err(component.guest_error(error)),
            Output::Action(_) => Err(component.wrong_export("request-middleware")),
        }
    }
}
