//! `echo`: returns, as JSON, everything the handler received, so the host's normalization
//! of every event source can be seen (and tested) from inside a component.

use lamina_sdk::{Request, Response, Result};
use serde_json::{Map, Value, json};

fn pairs(fields: &[(String, String)]) -> Value {
    Value::Array(fields.iter().map(|(k, v)| json!([k, v])).collect())
}

fn body(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => json!({ "encoding": "utf-8", "data": text }),
        Err(_) => json!({ "encoding": "base64", "data": base64(bytes) }),
    }
}

/// Standard base64 with padding; small enough not to need a crate in the guest.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn handle(req: Request) -> Result<Response> {
    let c = req.context();
    let mut context = Map::new();
    context.insert("source".into(), c.source.as_str().into());
    context.insert("request-id".into(), c.request_id.clone().into());
    context.insert("stage".into(), c.stage.clone().into());
    context.insert("source-ip".into(), c.source_ip.clone().into());
    context.insert("user-agent".into(), c.user_agent.clone().into());
    let authorizer = c
        .authorizer
        .as_deref()
        .map(|text| serde_json::from_str(text).unwrap_or_else(|_| Value::from(text)));
    context.insert("authorizer".into(), authorizer.into());
    context.insert("time-epoch-ms".into(), c.time_epoch_ms.into());
    context.insert("attributes".into(), pairs(&c.attributes));

    let seen = json!({
        "method": req.method(),
        "path": req.path(),
        "raw-path": req.raw_path(),
        "route": req.route(),
        "params": pairs(req.params()),
        "query": pairs(req.query_pairs()),
        "raw-query": req.raw_query(),
        "headers": pairs(req.headers()),
        "cookies": pairs(req.cookies()),
        "body": body(req.body()),
        "context": Value::Object(context),
    });
    let mut res = Response::json(&seen);
    // `?set-cookie=a&set-cookie=b` asks echo to set those cookies, so tests can check that
    // several Set-Cookie headers survive every source's response shape.
    for cookie in req.query_all("set-cookie") {
        res = res.with_header("set-cookie", cookie);
    }
    if let Some(status) = req.query("status").and_then(|s| s.parse().ok()) {
        res = res.with_status(status);
    }
    Ok(res)
}

lamina_sdk::export_handler!(handle);
