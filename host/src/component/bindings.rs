//! Host bindings for the `lamina:http` worlds: the current contract, generated from `wit/`,
//! and each earlier version the host still serves, from its frozen copy in `wit-compat/`.
//!
//! Both worlds import the same interfaces, so the middleware bindings reuse the handler
//! bindings' types and one linker serves both kinds of component.

#![allow(missing_docs, unreachable_pub)]

mod handler {
    wasmtime::component::bindgen!({
        world: "handler",
        path: "wit",
        exports: { default: async },
        with: {
            // wasi:http and what it uses are wasmtime's own (wasmtime-wasi-http links them).
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            // wasi:keyvalue is the key-value capability's (`caps::kv`).
            "wasi:keyvalue": crate::component::caps::kv::wit,
        },
    });
}

mod middleware {
    wasmtime::component::bindgen!({
        world: "middleware",
        path: "wit",
        exports: { default: async },
        with: {
            "lamina:http/types": super::handler::lamina::http::types,
            "lamina:http/log": super::handler::lamina::http::log,
            "lamina:http/config": super::handler::lamina::http::config,
            "lamina:http/metrics": super::handler::lamina::http::metrics,
            "lamina:http/trace": super::handler::lamina::http::trace,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:keyvalue": crate::component::caps::kv::wit,
        },
    });
}

pub use handler::lamina::http::{config, log, metrics, types as wit};
pub use handler::{Handler, HandlerPre};
pub use middleware::exports::lamina::http::request_middleware::Action;
pub use middleware::{Middleware, MiddlewarePre};

/// `lamina:http@0.1.0`, frozen in `host/wit-compat/0.1.0/`: the worlds components built
/// before 0.2.0 export. Its types differ from 0.2.0's only in `source` lacking `direct`;
/// [`super::contract`] converts at the boundary.
pub mod v0_1 {
    mod handler {
        wasmtime::component::bindgen!({
            world: "handler",
            path: "wit-compat/0.1.0",
            exports: { default: async },
        });
    }

    mod middleware {
        wasmtime::component::bindgen!({
            world: "middleware",
            path: "wit-compat/0.1.0",
            exports: { default: async },
            with: {
                "lamina:http/types": super::handler::lamina::http::types,
                "lamina:http/log": super::handler::lamina::http::log,
                "lamina:http/config": super::handler::lamina::http::config,
            },
        });
    }

    pub use handler::lamina::http::{config, types as wit};
    pub use handler::{Handler, HandlerPre};
    pub use middleware::exports::lamina::http::request_middleware::Action;
    pub use middleware::{Middleware, MiddlewarePre};
}
