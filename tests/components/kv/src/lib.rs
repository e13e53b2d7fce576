//! `kv`: each `lamina_sdk::kv` call behind a route, so the store contract can be tested
//! through a real guest on every backend. `store` and `key` are query parameters; the
//! route's last segment names the call.
//!
//! - `GET /get` → the value's bytes (200, possibly empty) or 404.
//! - `PUT /set` (the body is the value) → 204.
//! - `POST /delete` → 204. `GET /exists` → `{"exists": bool}`.
//! - `GET /keys[?cursor=C]` → one page: `{"keys": [...], "cursor": C|null}`.
//! - `GET /count` → `{"count": n}`, every key through the SDK's paging iterator.
//! - `POST /incr?delta=N` → `{"value": n}`.
//! - `POST /append?item=I` → appends `I` to the JSON list at `key` with compare-and-swap
//!   → `{"len": n}`.
//! - `POST /fill` with `{"prefix": P, "count": N}` → sets `P00000`.. with `set-many`, each
//!   key's value its own name.
//! - `POST /get-many`, `/delete-many` with a JSON list of keys → values as text or null;
//!   204.
//!
//! Errors: access denied 403 (`access-denied`); the rest as the SDK maps them (503
//! unavailable, 413 too large, 400 invalid key, 500 otherwise).

use lamina_sdk::kv::{self, KvError};
use lamina_sdk::{Error, Request, Response, Result};
use serde_json::json;

fn fail(error: KvError) -> Error {
    match error {
        KvError::AccessDenied(store) => Error::new(
            403,
            "access-denied",
            format!("may not open the store {store:?}"),
        ),
        other => other.into(),
    }
}

fn keys_in(req: &Request) -> Result<Vec<String>> {
    req.json::<Vec<String>>()
}

fn handle(req: Request) -> Result<Response> {
    let store = kv::open(req.query("store").unwrap_or_default()).map_err(fail)?;
    let key = req.query("key").unwrap_or_default().to_owned();
    // The last segment of the route names the call, so a config may mount it anywhere.
    match req.route().rsplit('/').next().unwrap_or_default() {
        "get" => match store.get(&key).map_err(fail)? {
            Some(value) => Ok(Response::bytes("application/octet-stream", value)),
            None => Err(Error::not_found(format!("no value at {key:?}"))),
        },
        "set" => {
            store.set(&key, req.body()).map_err(fail)?;
            Ok(Response::no_content())
        }
        "delete" => {
            store.delete(&key).map_err(fail)?;
            Ok(Response::no_content())
        }
        "exists" => Ok(Response::json(
            &json!({ "exists": store.exists(&key).map_err(fail)? }),
        )),
        "keys" => {
            let (keys, cursor) = store.list_page(req.query("cursor")).map_err(fail)?;
            Ok(Response::json(&json!({ "keys": keys, "cursor": cursor })))
        }
        "count" => {
            let mut count = 0;
            for k in store.list() {
                k.map_err(fail)?;
                count += 1;
            }
            Ok(Response::json(&json!({ "count": count })))
        }
        "incr" => {
            let delta: i64 = req
                .query("delta")
                .and_then(|d| d.parse().ok())
                .unwrap_or(1);
            let value = store.increment(&key, delta).map_err(fail)?;
            Ok(Response::json(&json!({ "value": value })))
        }
        "append" => {
            let item = req.query("item").unwrap_or_default().to_owned();
            let list = store
                .swap_json(&key, |list: Option<Vec<String>>| {
                    let mut list = list.unwrap_or_default();
                    list.push(item.clone());
                    list
                })
                .map_err(fail)?;
            Ok(Response::json(&json!({ "len": list.len() })))
        }
        "fill" => {
            let spec: serde_json::Value = req.json()?;
            let prefix = spec["prefix"].as_str().unwrap_or_default();
            let count = spec["count"].as_u64().unwrap_or(0);
            let keys: Vec<String> = (0..count).map(|i| format!("{prefix}{i:05}")).collect();
            let pairs: Vec<(&str, &[u8])> =
                keys.iter().map(|k| (k.as_str(), k.as_bytes())).collect();
            store.set_many(&pairs).map_err(fail)?;
            Ok(Response::no_content())
        }
        "get-many" => {
            let keys = keys_in(&req)?;
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let values: Vec<Option<String>> = store
                .get_many(&keys)
                .map_err(fail)?
                .into_iter()
                .map(|v| v.map(|v| String::from_utf8_lossy(&v).into_owned()))
                .collect();
            Ok(Response::json(&values))
        }
        "delete-many" => {
            let keys = keys_in(&req)?;
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            store.delete_many(&keys).map_err(fail)?;
            Ok(Response::no_content())
        }
        other => Err(Error::not_found(format!("no route {other}"))),
    }
}

lamina_sdk::export_handler!(handle);
