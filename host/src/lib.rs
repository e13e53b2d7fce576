//! Lamina: an AWS Lambda host that answers HTTP events with sandboxed WebAssembly
//! components.
//!
//! One request, in order:
//!
//! 1. [`event::decode`] recognizes the event source by its markers (API Gateway REST,
//!    HTTP API 1.0/2.0, Function URL, ALB, VPC Lattice v1/v2) and normalizes the payload
//!    into a [`Request`], keeping the [`EventFormat`] the reply needs; headers that are not
//!    valid HTTP, too many headers and an oversized body are answered (400 / 431 / 413) in
//!    the source's shape; anything that is not an event is an invocation error that says
//!    what was detected.
//! 2. [`App::handle`] runs the host's stages in the order [`policy::STAGES`] lists:
//!    strip prefixes, answer CORS preflights ([`cors`]) for paths that exist, route
//!    ([`route::Routes`], `matchit`; 404, 405 with `Allow`, `HEAD` via `GET`), refuse an
//!    oversized body, then the middleware chain: global, group and route middleware
//!    components, each `on-request` in order (changing the request, or answering it), the
//!    route's [`validate`] checks (415/400/422), and its handler component (the Lamina
//!    world, or a standard `wasi:http/proxy` component given an HTTP request built from
//!    the normalized one).
//! 3. Each component runs in a fresh instance from its pre-instantiated [`Guest`] (one
//!    `Engine`, pooling allocator, one `Store` per component per request) within its
//!    [`limits`] — memory (all its memories together), wall-clock deadline, response size —
//!    and with only what its capabilities grant ([`component::caps`]: WASI with its env and
//!    files grants, log, config values, outbound HTTP to allowed hosts, AWS calls the host
//!    signs). A trap, panic or timeout becomes a 500/504 with
//!    the request id; the host keeps serving. Responses unwind through each middleware's
//!    `on-response` in reverse order, errors already rendered.
//! 4. On the way out: `Cache-Control`, CORS headers (errors included), [`compress`]ion per
//!    `Accept-Encoding`, no body for `HEAD`. Errors of every kind render in one
//!    [`error::ErrorFormat`].
//! 5. [`App::encode`] shapes the [`Response`] for the source (`multiValueHeaders`,
//!    `cookies`, `statusDescription`, base64 for binary bodies) and keeps it under the
//!    source's payload limit.
//!
//! Every front door builds its app the one way ([`App::load`]) and runs an invocation the
//! one way ([`App::answer`]: decode, handle, encode): the Lambda runtime loop
//! ([`lambda::run`]), `lamina invoke` (an event file in, the response JSON out); `lamina
//! serve` ([`dev::serve`], plain HTTP on loopback) calls [`App::handle`] with requests it
//! builds from HTTP.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use lamina::fetch::Location;
//! use lamina::{App, Runtime};
//!
//! let runtime = Runtime::new()?;
//! let (_config, app) = App::load(&Location::File("examples/lamina.toml".into()), &runtime)?;
//!
//! let payload = std::fs::read("examples/events/hello-http-api.json")?;
//! let reply = app.answer(&payload, &lamina::Invocation::new("request-1")).await?;
//! println!("{}", String::from_utf8_lossy(&reply));
//! # Ok(())
//! # }
//! ```

mod app;
pub mod builder;
pub mod bundle;
pub mod component;
pub mod compress;
pub mod config;
pub mod cors;
pub mod dev;
pub mod direct;
pub mod error;
mod error_format;
pub mod event;
pub mod fetch;
pub mod lambda;
pub mod limits;
pub mod observe;
pub mod openapi;
pub mod policy;
pub mod prefix;
pub mod publish;
mod redact;
pub mod request;
pub mod response;
pub mod route;
pub mod scaffold;
pub mod swap;
pub mod validate;

pub use app::{App, NativeHandler, Target};
pub use component::{Guest, Handler, Middleware, Runtime};
pub use config::Config;
pub use direct::FunctionError;
pub use error::Error;
pub use event::EventFormat;
pub use request::{Context, Invocation, Request, Source};
pub use response::Response;

/// Sets up logging to stderr in the environment's format and level ([`observe::init`]).
pub fn init_logging() {
    observe::init(None);
}
