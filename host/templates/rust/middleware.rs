//! `{{name}}`: a Lamina middleware. `lamina build` makes `dist/{{name}}.wasm`; list it in a
//! config's `middleware = [...]` to run it in front of handlers.
//!
//! It answers `401` when the request has no `x-api-key` header, and adds
//! `x-{{name}}: <milliseconds>` to every response it passes through.

use lamina_sdk::{Flow, Middleware, Request, Response, Result};
use std::time::Instant;

struct Timed {
    start: Instant,
}

impl Middleware for Timed {
    fn on_request(request: Request) -> Result<Flow<Self>> {
        if !has_key(request.header("x-api-key")) {
            // Short-circuit: the handler and later middleware do not run.
            return Ok(Flow::Respond(Response::text("missing x-api-key\n").with_status(401)));
        }
        Ok(Flow::Next(request, Self { start: Instant::now() }))
    }

    fn on_response(self, response: Response) -> Result<Response> {
        let ms = self.start.elapsed().as_secs_f64() * 1000.0;
        Ok(response.with_header("x-{{name}}", &format!("{ms:.3}")))
    }
}

/// Whether a request may pass: plain Rust, so `cargo test` checks it natively.
fn has_key(key: Option<&str>) -> bool {
    key.is_some_and(|k| !k.trim().is_empty())
}

lamina_sdk::export_middleware!(Timed);

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_is_needed() {
        assert!(super::has_key(Some("k")));
        assert!(!super::has_key(Some(" ")));
        assert!(!super::has_key(None));
    }
}
