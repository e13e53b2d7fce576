//! `{{name}}`: a Lamina handler. `lamina build` makes `dist/{{name}}.wasm`; `lamina.toml`
//! binds it to `GET /hello/{name}`.

use lamina_sdk::{Error, Request, Response, Result};

fn handle(req: Request) -> Result<Response> {
    match (req.method(), req.route()) {
        ("GET", "/hello/{name}") => {
            let name = req.param("name").unwrap_or("world");
            let greeting = lamina_sdk::config::get("greeting").unwrap_or_else(|| "Hello".into());
            Ok(Response::json(&greet(&greeting, name)))
        }
        _ => Err(Error::not_found("no such route")),
    }
}

/// The reply's body: plain Rust, so `cargo test` checks it natively.
fn greet(greeting: &str, name: &str) -> serde_json::Value {
    serde_json::json!({ "message": format!("{greeting}, {name}!") })
}

lamina_sdk::export_handler!(handle);

#[cfg(test)]
mod tests {
    #[test]
    fn greets_by_name() {
        assert_eq!(super::greet("Hi", "Ada")["message"], "Hi, Ada!");
    }
}
