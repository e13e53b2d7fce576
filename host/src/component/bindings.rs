//! Host bindings for the `lamina:http/handler` world, generated from `wit/`.

#![allow(missing_docs, unreachable_pub)]

wasmtime::component::bindgen!({
    world: "handler",
    path: "../wit",
    exports: { default: async },
});

pub use self::lamina::http::types as wit;
