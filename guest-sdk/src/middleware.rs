//! Middleware: components that see, change or answer requests before a handler, and see or
//! change the response after it.
//!
//! Implement [`Middleware`] on a type that holds what you need between the two hooks (a
//! start time, a verified subject; use a unit struct when there is nothing) and export it
//! with [`export_middleware!`](crate::export_middleware). The host creates a fresh instance
//! per request and calls both hooks on it, so that value lives exactly one request.
//!
//! ```no_run
//! use lamina_sdk::{Flow, Middleware, Request, Response, Result};
//!
//! /// Adds `x-served-by` to every response and refuses requests without a user agent.
//! struct ServedBy {
//!     route: String,
//! }
//!
//! impl Middleware for ServedBy {
//!     fn on_request(request: Request) -> Result<Flow<Self>> {
//!         if request.header("user-agent").is_none() {
//!             return Ok(Flow::Respond(Response::text("who are you?").with_status(400)));
//!         }
//!         let route = request.route().to_owned();
//!         Ok(Flow::Next(request, Self { route }))
//!     }
//!
//!     fn on_response(self, response: Response) -> Result<Response> {
//!         Ok(response.with_header("x-served-by", &format!("lamina {}", self.route)))
//!     }
//! }
//!
//! lamina_sdk::export_middleware!(ServedBy);
//! ```

use crate::__private::WitAction;
use crate::__private::bindings::lamina::http::types as wit;
use crate::{Error, Request, Response, Result};
use std::any::Any;
use std::cell::RefCell;

/// What [`Middleware::on_request`] decides.
pub enum Flow<S> {
    /// Pass this (possibly changed) request on; [`Middleware::on_response`] is called on
    /// `S` with the response on the way back.
    Next(Request, S),
    /// Pass this (possibly changed) request on without looking at the response (the host
    /// skips `on_response` and releases this instance at once: the cheapest choice for a
    /// check such as auth).
    Pass(Request),
    /// Answer now: the rest of the chain and the handler do not run. Middleware before this
    /// one still see the response, and the host still adds CORS headers and compresses it.
    Respond(Response),
}

/// A middleware component's behaviour. See the [module docs](self).
pub trait Middleware: Sized + 'static {
    /// Called with the request before the handler (and before later middleware).
    ///
    /// # Errors
    ///
    /// An [`Error`] answers the request with that error (rendered by the host), like
    /// [`Flow::Respond`].
    fn on_request(request: Request) -> Result<Flow<Self>>;

    /// Called with the response on the way back, when `on_request` returned
    /// [`Flow::Next`]. The response is the handler's, a later middleware's, or an error the
    /// host rendered. The default passes it through unchanged.
    ///
    /// # Errors
    ///
    /// An [`Error`] replaces the response with that error.
    fn on_response(self, response: Response) -> Result<Response> {
        Ok(response)
    }
}

thread_local! {
    /// The value `on_request` kept for `on_response`. The instance serves one request, so
    /// one slot is enough.
    static KEPT: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `M::on_request` on a WIT request (used by [`export_middleware!`](crate::export_middleware)).
#[doc(hidden)]
pub fn on_request<M: Middleware>(request: wit::Request) -> Result<WitAction, wit::Error> {
    match M::on_request(Request::from_wit(request)) {
        Ok(Flow::Next(request, kept)) => {
            KEPT.with(|slot| *slot.borrow_mut() = Some(Box::new(kept)));
            Ok(WitAction::Next(request.into_wit()))
        }
        Ok(Flow::Pass(request)) => Ok(WitAction::Pass(request.into_wit())),
        Ok(Flow::Respond(response)) => Ok(WitAction::Respond(response.into_wit())),
        Err(error) => Err(error.into_wit()),
    }
}

/// Runs `M::on_response` on a WIT response (used by [`export_middleware!`](crate::export_middleware)).
#[doc(hidden)]
pub fn on_response<M: Middleware>(response: wit::Response) -> Result<wit::Response, wit::Error> {
    let kept = KEPT
        .with(|slot| slot.borrow_mut().take())
        .and_then(|kept| kept.downcast::<M>().ok());
    let Some(kept) = kept else {
        return Err(Error::new(
            500,
            "internal",
            "on-response called without a preceding on-request",
        )
        .into_wit());
    };
    match kept.on_response(Response::from_wit(response)) {
        Ok(response) => Ok(response.into_wit()),
        Err(error) => Err(error.into_wit()),
    }
}

/// Exports a type implementing [`Middleware`] as this component's middleware.
///
/// Use it once per component, at the crate root:
///
/// ```no_run
/// use lamina_sdk::{Flow, Middleware, Request, Result};
/// struct Nothing;
/// impl Middleware for Nothing {
///     fn on_request(request: Request) -> Result<Flow<Self>> {
///         Ok(Flow::Pass(request))
///     }
/// }
/// lamina_sdk::export_middleware!(Nothing);
/// ```
#[macro_export]
macro_rules! export_middleware {
    ($middleware:ty) => {
        const _: () = {
            struct LaminaMiddleware;
            impl $crate::__private::MiddlewareGuest for LaminaMiddleware {
                fn on_request(
                    request: $crate::__private::WitRequest,
                ) -> ::core::result::Result<$crate::__private::WitAction, $crate::__private::WitError>
                {
                    $crate::__private::on_request::<$middleware>(request)
                }
                fn on_response(
                    response: $crate::__private::WitResponse,
                ) -> ::core::result::Result<
                    $crate::__private::WitResponse,
                    $crate::__private::WitError,
                > {
                    $crate::__private::on_response::<$middleware>(response)
                }
            }
            $crate::__private::middleware_bindings::export_middleware_world!(LaminaMiddleware);
        };
    };
}
