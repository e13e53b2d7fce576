//! `rpc`: a handler for direct invocations (`[direct]` with `select = "action"`): the
//! payload's `action` is the route parameter, the payload the JSON body.
//!
//! - `create` → 201 `{"id": 42, "item", "quantity"}`; `echo` → what the host gave it
//!   (source, method, path, route, the payload); `text` → a plain-text body; `empty` → 204.
//! - `missing` 404, `conflict` 409, `invalid` 400 with details, `fail` a typed 500.
//! - `panic` → a trap whose message carries a fake secret (it must not reach the caller).

use lamina_sdk::{Error, Request, Response, Result};
use serde_json::{Value, json};

fn handle(req: Request) -> Result<Response> {
    let payload: Value = req.json()?;
    match req.param("action").unwrap_or("none") {
        "create" => Ok(Response::json(&json!({
            "id": 42,
            "item": payload["item"],
            "quantity": payload["quantity"],
        }))
        .with_status(201)),
        "echo" => Ok(Response::json(&json!({
            "source": req.context().source.as_str(),
            "method": req.method(),
            "path": req.path(),
            "route": req.route(),
            "content-type": req.header("content-type"),
            "payload": payload,
        }))),
        "text" => Ok(Response::text("plain words")),
        "empty" => Ok(Response::no_content()),
        "missing" => Err(Error::not_found("no order 7")),
        "conflict" => Err(Error::conflict("order 7 is already shipped")),
        "invalid" => Err(Error::bad_request("the quantity must be positive")
            .with_details(&json!([{ "field": "quantity", "problem": "not positive" }]))),
        "fail" => Err(Error::internal("the order store is down")),
        "panic" => panic!("boom: secret-token-d1r3ct"),
        other => Err(Error::not_found(format!("no action {other:?}"))),
    }
}

lamina_sdk::export_handler!(handle);
