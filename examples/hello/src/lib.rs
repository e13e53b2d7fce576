//! `hello`: the smallest useful handler — a text greeting and a JSON greeting with a path
//! parameter. The greeting word comes from the component's config (`greeting`), if set.

use lamina_sdk::{Error, Request, Response, Result};

fn greeting() -> String {
    lamina_sdk::config::get("greeting").unwrap_or_else(|| "Hello".to_owned())
}

fn handle(req: Request) -> Result<Response> {
    match req.route() {
        "/hello" => Ok(Response::text(format!("{}, world!\n", greeting()))),
        "/hello/{name}" => {
            let name = req.param("name").unwrap_or_default();
            if name.is_empty() {
                return Err(Error::bad_request("name must not be empty"));
            }
            Ok(Response::json(&serde_json::json!({
                "message": format!("{}, {name}!", greeting()),
                "name": name,
            })))
        }
        other => Err(Error::not_found(format!("hello does not serve {other}"))),
    }
}

lamina_sdk::export_handler!(handle);
