//! Lamina: an AWS Lambda host that answers HTTP events with sandboxed WebAssembly
//! components.
//!
//! One request, in order:
//!
//! 1. [`event::decode`] recognizes the event source by its markers (API Gateway REST,
//!    HTTP API 1.0/2.0, Function URL, ALB, VPC Lattice v1/v2) and normalizes the payload
//!    into a [`Request`], keeping the [`Origin`]; anything else is an invocation error that
//!    says what was detected.
//! 2. [`App::handle`] strips configured prefixes, answers CORS preflights ([`cors`]) for
//!    paths that exist, and routes ([`route::Routes`], `matchit`): no path → 404 (or the
//!    not-found component), wrong method → 405 with `Allow`, `HEAD` → the `GET` route.
//! 3. The middleware chain runs: global, group and route middleware components, each
//!    `on-request` in order (changing the request, or answering it), then the route's
//!    [`validate`] checks (415/400/422), then its handler component in a fresh instance
//!    from the pre-instantiated [`component::Component`] (one `Engine`, pooling allocator,
//!    a new `Store` per request) within its [`limits`]: memory, wall-clock deadline,
//!    response size. A trap, panic or timeout becomes a 500/504 with the request id; the
//!    host keeps serving. Responses unwind through each middleware's `on-response` in
//!    reverse order, errors already rendered.
//! 4. On the way out: `Cache-Control`, CORS headers (errors included), then [`compress`]
//!    per `Accept-Encoding`. Errors of every kind render in one [`error::ErrorFormat`].
//! 5. [`App::encode`] shapes the [`Response`] for the origin (`multiValueHeaders`,
//!    `cookies`, `statusDescription`, base64 for binary bodies) and keeps it under the
//!    source's payload limit.
//!
//! The same `App::handle` serves three front doors: the Lambda runtime loop
//! ([`lambda::run`]), `lamina invoke` (an event file in, the response JSON out) and
//! `lamina serve` ([`dev::serve`], plain HTTP on loopback).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use lamina::{App, Config, Runtime, event};
//!
//! let runtime = Runtime::new()?;
//! let config = Config::load("examples/lamina.toml".as_ref())?;
//! let app = App::from_config(&config, &runtime)?;
//!
//! let payload = std::fs::read("examples/events/hello-http-api.json")?;
//! let (origin, request) = event::decode(&payload, "request-1")?;
//! let response = app.handle(request).await;
//! let reply = app.encode(origin, response, None, "request-1");
//! println!("{}", String::from_utf8_lossy(&reply));
//! # Ok(())
//! # }
//! ```

mod app;
pub mod component;
pub mod compress;
pub mod config;
pub mod cors;
pub mod dev;
pub mod error;
mod error_format;
pub mod event;
pub mod fetch;
pub mod lambda;
pub mod limits;
pub mod prefix;
mod redact;
pub mod request;
pub mod response;
pub mod route;
pub mod swap;
pub mod validate;

pub use app::{App, NativeHandler, Target};
pub use component::{Component, Runtime};
pub use config::Config;
pub use error::Error;
pub use event::Origin;
pub use request::{Context, Request, Source};
pub use response::Response;

/// Sets up logging to stderr: `LAMINA_LOG` filters (default `info`), and
/// `LAMINA_LOG_FORMAT=json` writes one JSON object per line (for CloudWatch queries).
pub fn init_logging() {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _};
    let filter = EnvFilter::try_from_env("LAMINA_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // lambda_runtime logs every error a handler returns, at its `layers::panic` target; the
    // Lambda loop logs a rejected event itself, with the request id, so that line would be
    // a second copy. The runtime's line for a real panic carries an `error` field: kept.
    let not_a_copy = filter_fn(|meta| {
        meta.target() != "lambda_runtime::layers::panic" || meta.fields().field("error").is_some()
    });
    let json = std::env::var("LAMINA_LOG_FORMAT").as_deref() == Ok("json");
    // Guest lines are written by the log capability itself, in the same format.
    component::log::set_format(if json {
        component::log::Format::Json
    } else {
        component::log::Format::Text
    });
    let format = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let format = if json {
        format.json().boxed()
    } else {
        format.with_ansi(false).boxed()
    };
    // A second call (tests) keeps the first subscriber.
    drop(
        tracing_subscriber::registry()
            .with(format.with_filter(filter).with_filter(not_a_copy))
            .try_init(),
    );
}
