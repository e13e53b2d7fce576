//! Write [Lamina](https://example.invalid/lamina) HTTP handlers as WebAssembly components.
//!
//! The Lamina host turns every AWS Lambda HTTP event (API Gateway REST and HTTP API, ALB,
//! Function URL, VPC Lattice) into one normalized [`Request`], routes it, and calls the
//! component bound to the route. A handler is a plain function from [`Request`] to
//! [`Result<Response>`](Result); [`export_handler!`] exports it as the component's
//! `lamina:http/request-handler` interface.
//!
//! 1. The host routes the request and calls your function in a fresh instance.
//! 2. Read what you need: [`Request::param`], [`Request::query`], [`Request::header`],
//!    [`Request::json`], [`Request::context`], and [`config::get`] for values the host
//!    config declares for this component.
//! 3. Return a [`Response`] (`text`, `json`, `bytes`, `redirect`, ...) or an [`Error`]:
//!    the host renders errors as JSON with the request id. `?` works on any
//!    [`std::error::Error`], which becomes a 500 with no internals in the body.
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the result in
//! `target/wasm32-wasip2/release/*.wasm` is a component the host loads directly.
//!
//! # Example
//!
//! ```no_run
//! use lamina_sdk::{Error, Request, Response, Result};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct NewOrder {
//!     item: String,
//!     quantity: u32,
//! }
//!
//! fn handle(req: Request) -> Result<Response> {
//!     match (req.method(), req.route()) {
//!         ("GET", "/orders/{id}") => {
//!             let id: u64 = req
//!                 .param("id")
//!                 .and_then(|id| id.parse().ok())
//!                 .ok_or_else(|| Error::bad_request("order id must be a number"))?;
//!             Ok(Response::json(&serde_json::json!({ "id": id, "status": "shipped" })))
//!         }
//!         ("POST", "/orders") => {
//!             let order: NewOrder = req.json()?;
//!             if order.quantity == 0 {
//!                 return Err(Error::unprocessable("quantity must be at least 1"));
//!             }
//!             lamina_sdk::log::info(&format!("new order for {}", order.item));
//!             Ok(Response::json(&serde_json::json!({ "item": order.item })).with_status(201))
//!         }
//!         _ => Err(Error::not_found("no such order route")),
//!     }
//! }
//!
//! lamina_sdk::export_handler!(handle);
//! ```

extern crate self as lamina_sdk;

pub mod aws;
mod error;
pub mod http;
pub mod kv;
pub mod metrics;
pub mod middleware;
mod request;
mod response;

pub use error::{Error, Result};
pub use middleware::{Flow, Middleware};
pub use request::{Context, Request, Source};
pub use response::Response;

/// Generated bindings and glue used by [`export_handler!`]. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    /// Bindings for the `lamina:http/handler` world.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod bindings {
        wit_bindgen::generate!({
            world: "handler",
            path: "wit",
            // wasi:http and the WASI interfaces it uses are generated here too.
            generate_all,
            pub_export_macro: true,
            export_macro_name: "export_handler_world",
            default_bindings_module: "::lamina_sdk::__private::bindings",
            runtime_path: "::lamina_sdk::__private::wit_bindgen::rt",
        });
    }

    /// Bindings for the `lamina:http/middleware` world, sharing the handler bindings'
    /// types and imports.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod middleware_bindings {
        wit_bindgen::generate!({
            world: "middleware",
            path: "wit",
            pub_export_macro: true,
            export_macro_name: "export_middleware_world",
            default_bindings_module: "::lamina_sdk::__private::middleware_bindings",
            runtime_path: "::lamina_sdk::__private::wit_bindgen::rt",
            with: {
                "lamina:http/types@0.2.0": super::bindings::lamina::http::types,
                "lamina:http/log@0.2.0": super::bindings::lamina::http::log,
                "lamina:http/config@0.2.0": super::bindings::lamina::http::config,
                "lamina:http/metrics@0.2.0": super::bindings::lamina::http::metrics,
                "lamina:http/trace@0.2.0": super::bindings::lamina::http::trace,
                "wasi:http/types@0.2.12": super::bindings::wasi::http::types,
                "wasi:http/outgoing-handler@0.2.12": super::bindings::wasi::http::outgoing_handler,
                "wasi:io/error@0.2.12": super::bindings::wasi::io::error,
                "wasi:io/poll@0.2.12": super::bindings::wasi::io::poll,
                "wasi:io/streams@0.2.12": super::bindings::wasi::io::streams,
                "wasi:clocks/monotonic-clock@0.2.12": super::bindings::wasi::clocks::monotonic_clock,
                "wasi:keyvalue/store@0.2.0-draft2": super::bindings::wasi::keyvalue::store,
                "wasi:keyvalue/atomics@0.2.0-draft2": super::bindings::wasi::keyvalue::atomics,
                "wasi:keyvalue/batch@0.2.0-draft2": super::bindings::wasi::keyvalue::batch,
            },
        });
    }

    pub use crate::middleware::{on_request, on_response};
    pub use bindings::exports::lamina::http::request_handler::Guest;
    use bindings::lamina::http::types as wit;
    pub use middleware_bindings::exports::lamina::http::request_middleware::{
        Action as WitAction, Guest as MiddlewareGuest,
    };

    /// Runs a user handler on a WIT request and converts its result back to WIT.
    pub fn dispatch(
        request: wit::Request,
        handler: fn(crate::Request) -> crate::Result<crate::Response>,
    ) -> Result<wit::Response, wit::Error> {
        match handler(crate::Request::from_wit(request)) {
            Ok(response) => Ok(response.into_wit()),
            Err(error) => Err(error.into_wit()),
        }
    }

    /// The WIT request type, named in the code [`export_handler!`] expands to.
    pub type WitRequest = wit::Request;
    /// The WIT response type, named in the code [`export_handler!`] expands to.
    pub type WitResponse = wit::Response;
    /// The WIT error type, named in the code [`export_handler!`] expands to.
    pub type WitError = wit::Error;
}

/// Exports a function `fn(Request) -> Result<Response>` as this component's handler.
///
/// Use it once per component, at the crate root:
///
/// ```no_run
/// fn handle(_req: lamina_sdk::Request) -> lamina_sdk::Result<lamina_sdk::Response> {
///     Ok(lamina_sdk::Response::text("hello"))
/// }
/// lamina_sdk::export_handler!(handle);
/// ```
#[macro_export]
macro_rules! export_handler {
    ($handler:path) => {
        const _: () = {
            struct LaminaHandler;
            impl $crate::__private::Guest for LaminaHandler {
                fn handle(
                    request: $crate::__private::WitRequest,
                ) -> ::core::result::Result<
                    $crate::__private::WitResponse,
                    $crate::__private::WitError,
                > {
                    $crate::__private::dispatch(request, $handler)
                }
            }
            $crate::__private::bindings::export_handler_world!(LaminaHandler);
        };
    };
}

/// Structured logging into the host's log, tagged with the component and request id.
pub mod log {
    use crate::__private::bindings::lamina::http::log as wit;

    /// Severity of a log line.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Level {
        /// Very detailed tracing.
        Trace,
        /// Debugging detail.
        Debug,
        /// Normal operation.
        Info,
        /// Something unexpected that was handled.
        Warn,
        /// A failure.
        Error,
    }

    /// Writes a log line at `level` with key/value `fields`.
    pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
        let level = match level {
            Level::Trace => wit::Level::Trace,
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        };
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        wit::log(level, message, &fields);
    }

    /// Writes an info line.
    pub fn info(message: &str) {
        log(Level::Info, message, &[]);
    }

    /// Writes a warning line.
    pub fn warn(message: &str) {
        log(Level::Warn, message, &[]);
    }

    /// Writes an error line.
    pub fn error(message: &str) {
        log(Level::Error, message, &[]);
    }

    /// Writes a debug line.
    pub fn debug(message: &str) {
        log(Level::Debug, message, &[]);
    }
}

/// The X-Ray trace this call is part of.
pub mod trace {
    /// The `X-Amzn-Trace-Id` header of this component call (`Root=...;Parent=...;
    /// Sampled=...`), the one the host adds to this component's outbound HTTP calls;
    /// `None` when the invocation carries no trace.
    #[must_use]
    pub fn header() -> Option<String> {
        crate::__private::bindings::lamina::http::trace::header()
    }

    /// The `Root=` of [`header`]: the trace id to put in a log line or an error report.
    #[must_use]
    pub fn trace_id() -> Option<String> {
        root(&header()?).map(str::to_owned)
    }

    /// The `Root=` value of an `X-Amzn-Trace-Id` header.
    pub(crate) fn root(header: &str) -> Option<&str> {
        header
            .split(';')
            .find_map(|pair| pair.trim().strip_prefix("Root="))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn finds_the_root() {
            assert_eq!(
                super::root(
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                ),
                Some("1-5759e988-bd862e3fe1be46a994272793")
            );
            assert_eq!(super::root("Parent=1; Root=1-a-b"), Some("1-a-b"));
            assert_eq!(super::root("Sampled=0"), None);
        }
    }
}

/// Read-only configuration values declared for this component in the host config.
pub mod config {
    use crate::__private::bindings::lamina::http::config as wit;

    /// The value of `key` from `[components.NAME.config]`, if declared.
    #[must_use]
    pub fn get(key: &str) -> Option<String> {
        wit::get(key)
    }

    /// Every declared key and value, sorted by key.
    #[must_use]
    pub fn all() -> Vec<(String, String)> {
        wit::get_all()
    }
}
