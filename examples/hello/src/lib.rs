//! `hello`: the smallest useful handler — a text greeting and a JSON greeting with a path
//! parameter. The greeting word comes from the component's config (`greeting`), if set.

use lamina_sdk::{Error, Request, Response, Result};

fn greeting() -> String {
    lamina_sdk::config::get("greeting").unwrap_or_else(|| "Hello".to_owned())
}

/// Bound to a route with a `{name}` parameter it greets by name in JSON; bound to one
/// without, it greets the world in text. (It looks at the parameter, not the template, so
/// it works under any prefix or group.)
fn handle(req: Request) -> Result<Response> {
    match req.param("name") {
        None => Ok(Response::text(format!("{}, world!\n", greeting()))),
        Some("") => Err(Error::bad_request("name must not be empty")),
        Some(name) => Ok(Response::json(&serde_json::json!({
            "message": format!("{}, {name}!", greeting()),
            "name": name,
        }))),
    }
}

lamina_sdk::export_handler!(handle);
