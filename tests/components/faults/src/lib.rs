//! `faults`: a guest that misbehaves on purpose, one way per route, so the host's fault
//! handling can be tested against real component behaviour.

use lamina_sdk::{Error, Request, Response, Result};
use std::sync::atomic::{AtomicU32, Ordering};

/// Counts calls in this instance. The host instantiates per request, so every request
/// must see 1: anything else means state leaked from an earlier request.
static CALLS: AtomicU32 = AtomicU32::new(0);

fn handle(req: Request) -> Result<Response> {
    let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    match req.param("fault").unwrap_or_default() {
        "calls" => Ok(Response::text(calls.to_string())),
        "ok" => Ok(Response::text("fine")),
        "panic" => panic!("the faults component panicked on purpose"),
        "trap" => {
            // An explicit wasm `unreachable` trap without the panic machinery.
            std::process::abort()
        }
        "bad-status" => Ok(Response::text("status out of range").with_status(1000)),
        "bad-header" => Ok(Response::text("x").with_header("x-injected", "a\r\nset-cookie: evil=1")),
        "bad-header-name" => Ok(Response::text("x").with_header("bad name", "v")),
        "error-status-200" => Err(Error::new(200, "odd", "an error with a success status")),
        "error" => Err(Error::new(418, "teapot", "short and stout")
            .with_details(&serde_json::json!({ "spout": true }))),
        "stderr" => {
            eprintln!("a line on stderr");
            Ok(Response::text("wrote to stderr"))
        }
        "binary" => Ok(Response::bytes("application/octet-stream", vec![0u8, 159, 146, 150, 255])),
        "cookies" => Ok(Response::text("cookies")
            .with_header("set-cookie", "a=1; Path=/")
            .with_header("set-cookie", "b=2; HttpOnly")
            .with_header("x-multi", "one")
            .with_header("x-multi", "two")),
        other => Err(Error::not_found(format!("no fault named {other:?}"))),
    }
}

lamina_sdk::export_handler!(handle);
