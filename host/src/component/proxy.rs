//! Calling a standard `wasi:http/proxy` component as a handler: the component Spin,
//! `wasmtime serve`, componentize-js and componentize-py build runs unchanged.
//!
//! The host makes a `wasi:http` incoming request from the normalized [`Request`] (method,
//! the path as routing saw it with its query, headers, body; the scheme from
//! `X-Forwarded-Proto` or the front door, the authority from `Host`) and calls `handle` with a response
//! outparam. The guest sets the response and streams its body, during `handle` or before it
//! returns; the host reads the body while the call runs (a guest writing more than the
//! stream buffers would otherwise wait forever) and stops reading at `max-response`. What
//! comes back is checked like a Lamina handler's response and goes through the same
//! middleware, CORS, compression and error rendering.

use super::Guest;
use super::convert::head_size;
use super::session::{CallFuture, Session, World};
use super::state::State;
use crate::error::Error;
use crate::request::{Request, Source};
use crate::response::Response;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};
use http_body_util::combinators::MapErr;
use http_body_util::{BodyExt as _, Full};
use std::convert::Infallible;
use std::pin::{Pin, pin};
use tokio::sync::oneshot;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{Error as HttpError, WasiHttpView as _};

impl World for Proxy {
    type Pre = ProxyPre<State>;

    fn instantiate<'a>(pre: &'a Self::Pre, store: &'a mut Store<State>) -> CallFuture<'a, Self> {
        Box::pin(pre.instantiate_async(store))
    }
}

/// What the guest put in its response outparam.
type Answer = Result<http::Response<HyperOutgoingBody>, ErrorCode>;

/// Calls `handle` on a fresh instance of `guest` with `request`.
///
/// # Errors
///
/// As a Lamina handler's call (`Handler::handle`); [`Error::InvalidResponse`] also when
/// the guest sets an error code instead of a response, returns without setting one, ends
/// its body with an error or before finishing it, or writes more than `max-response`.
pub(super) async fn handle(
    guest: &Guest,
    pre: &ProxyPre<State>,
    request: Request,
) -> Result<Response, Error> {
    let mut session = Session::<Proxy>::new(guest, &request.context)?;
    let answered = answer(guest, pre, request, &mut session).await;
    if answered.is_err() {
        // Whatever went wrong, the instance is not handed another request.
        session.discard();
    }
    answered
}

/// The call of [`handle`] in `session`, and the response read from what the guest sets.
async fn answer(
    guest: &Guest,
    pre: &ProxyPre<State>,
    request: Request,
    session: &mut Session<'_, Proxy>,
) -> Result<Response, Error> {
    let (scheme, incoming) = incoming_request(request);
    let (outparam, mut answer) = oneshot::channel::<Answer>();
    let mut call = pin!(session.call(pre, move |proxy, store| {
        Box::pin(async move {
            let mut http = store.data_mut().http();
            let request = http.new_incoming_request(scheme, incoming)?;
            let outparam = http.new_response_outparam(outparam)?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(store, request, outparam)
                .await
        })
    }));

    // The response head arrives while the call runs, or the call ends without one.
    let (head, ended) = tokio::select! {
        biased;
        head = &mut answer => (head.ok(), None),
        ended = &mut call => (answer.try_recv().ok(), Some(ended)),
    };
    let ended = match ended {
        Some(Err(error)) => return Err(error),
        Some(Ok(())) => true,
        None => false,
    };
    let Some(head) = head else {
        // The guest dropped the outparam unset; if the call then fails, that says more.
        if !ended {
            call.await?;
        }
        return Err(guest.invalid_response(
            "it returned from wasi:http/incoming-handler.handle without setting a response"
                .to_owned(),
        ));
    };
    let response = head.map_err(|code| {
        guest.invalid_response(format!("it set the error {code:?} instead of a response"))
    })?;
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    remove_hop_by_hop(&mut headers);
    let head_bytes = head_size(&headers);
    let limit = guest.limits.max_response;
    let too_large = |seen: usize| {
        guest.invalid_response(format!(
            "response of at least {} bytes (status line, {} headers, body) exceeds \
             max-response ({limit} bytes)",
            head_bytes + seen,
            headers.len(),
        ))
    };
    if head_bytes > limit {
        return Err(too_large(0));
    }
    let mut read = pin!(read_body(body, limit - head_bytes));
    let body = if ended {
        written_so_far(guest, read.as_mut()).await?
    } else {
        tokio::select! {
            biased;
            body = &mut read => {
                // The body is complete; the call must still end well (it may log, or trap).
                if body.is_ok() {
                    call.await?;
                }
                body
            }
            ended = &mut call => {
                ended?;
                written_so_far(guest, read.as_mut()).await?
            }
        }
    };
    let body = body.map_err(|problem| match problem {
        BodyProblem::TooLarge(seen) => too_large(seen),
        BodyProblem::Failed(error) => {
            guest.invalid_response(format!("its response body ended with an error: {error}"))
        }
    })?;
    guest.checked_response(parts.status.as_u16(), headers, body)
}

/// After the call has ended, the body as far as it was written: the guest can write no
/// more, so a body it left open (neither finished nor dropped) was cut short.
async fn written_so_far(
    guest: &Guest,
    read: Pin<&mut impl Future<Output = Result<Bytes, BodyProblem>>>,
) -> Result<Result<Bytes, BodyProblem>, Error> {
    // Unconstrained: tokio's cooperative budget (spent by the guest's own waiting, in this
    // task) could otherwise make a channel with data in it look empty.
    tokio::select! {
        biased;
        body = tokio::task::coop::unconstrained(read) => Ok(body),
        () = std::future::ready(()) => Err(guest.invalid_response(
            "it returned from wasi:http/incoming-handler.handle before finishing its response body"
                .to_owned(),
        )),
    }
}

/// Why a response body could not be read whole.
enum BodyProblem {
    /// More than the limit: how many bytes were seen.
    TooLarge(usize),
    /// The guest ended it with an error (dropped without `finish`, wrong length, ...).
    Failed(String),
}

/// Reads `body` to its end, at most `limit` bytes. Trailers are dropped: no Lambda front
/// door carries them.
async fn read_body(mut body: HyperOutgoingBody, limit: usize) -> Result<Bytes, BodyProblem> {
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyProblem::Failed(format!("{e:?}")))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(BodyProblem::TooLarge(out.len() + data.len()));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// Headers that describe a connection, which a Lambda response does not have; the front
/// doors set their own or refuse them.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::TE,
        header::TRAILER,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
}

/// The request body: whole, as the event delivered it.
type IncomingBody = MapErr<Full<Bytes>, fn(Infallible) -> HttpError>;

/// The `wasi:http` request for `request`: the path routing matched (stage and stripped
/// prefixes gone, encoded slashes kept) with its query; `HEAD` asked as `GET`.
fn incoming_request(request: Request) -> (Scheme, http::Request<IncomingBody>) {
    // API Gateway and Function URLs only take HTTPS. Behind an ALB or a Lattice listener
    // (either scheme) the front door's `X-Forwarded-Proto` says which; `lamina serve` is
    // plain HTTP unless a proxy in front of it says otherwise.
    let https = match request.context.source {
        Source::ApigwRest | Source::ApigwHttpV1 | Source::ApigwHttpV2 | Source::FunctionUrl => true,
        Source::Alb
        | Source::VpcLatticeV1
        | Source::VpcLatticeV2
        | Source::Local
        | Source::Direct => request
            .header("x-forwarded-proto")
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https")),
    };
    let scheme = if https { Scheme::Https } else { Scheme::Http };
    let authority = request
        .header("host")
        .and_then(|host| host.parse::<http::uri::Authority>().ok())
        .unwrap_or_else(|| http::uri::Authority::from_static("localhost"));
    let path = crate::event::uri_path(&request.route_path);
    // The query as sent, unless a middleware changed the pairs (which is what it sees) or it
    // holds what a URI cannot (a `#` would cut it short): then rebuilt from the pairs.
    let raw = &request.raw_query;
    let as_sent = !raw.contains('#') && crate::event::parse_query(raw) == request.query;
    let query = if as_sent {
        std::borrow::Cow::Borrowed(raw.as_str())
    } else {
        std::borrow::Cow::Owned(crate::event::encode_query(&request.query))
    };
    let path_and_query = if query.is_empty() {
        path.parse()
    } else {
        format!("{path}?{query}").parse()
    };
    let uri = http::Uri::builder()
        .scheme(if https {
            http::uri::Scheme::HTTPS
        } else {
            http::uri::Scheme::HTTP
        })
        .authority(authority)
        .path_and_query(
            path_and_query
                .or_else(|_| {
                    format!("{path}?{}", crate::event::encode_query(&request.query)).parse()
                })
                .unwrap_or_else(|_| http::uri::PathAndQuery::from_static("/")),
        )
        .build()
        .unwrap_or_default();
    let mut headers = HeaderMap::with_capacity(request.headers.len());
    for (name, value) in &request.headers {
        // Every header was checked when the event was decoded (or a middleware passed it on).
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    // (wasmtime-wasi-http strips `host` and the other forbidden headers before the guest
    // sees them: the authority is where a component reads the host.)
    let body: IncomingBody = Full::new(request.body).map_err(never as fn(_) -> _);
    let mut incoming = http::Request::new(body);
    // A `HEAD` is asked as the `GET` it stands for: the host's `head` stage drops the body
    // (a component that answered `HEAD` itself could not finish a body it declared with
    // `content-length` and wrote nothing of), and a GET-only router in the component
    // still answers it.
    *incoming.method_mut() = if request.method == http::Method::HEAD {
        http::Method::GET
    } else {
        request.method
    };
    *incoming.uri_mut() = uri;
    *incoming.headers_mut() = headers;
    (scheme, incoming)
}

/// `Full` cannot fail; wasmtime-wasi-http wants its own error type all the same.
fn never(never: Infallible) -> HttpError {
    match never {}
}
