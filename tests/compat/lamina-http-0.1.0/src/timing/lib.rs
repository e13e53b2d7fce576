//! `timing`: a middleware that gives every response an `x-request-id` and a
//! `server-timing` header, and logs each request's duration.
//!
//! The request id is the client's `x-request-id` when it sent a sane one (so ids flow
//! through a chain of services), otherwise the Lambda request id. It is also passed on to
//! the handler as that header. `server-timing: app;dur=1.234` is the time from this
//! middleware's `on-request` to its `on-response`: everything after it in the chain.
//! Config value `name` replaces `app` in that header.

use lamina_sdk::{Flow, Middleware, Request, Response, Result, config, log};
use std::time::Instant;

struct Timing {
    start: Instant,
    request_id: String,
    method: String,
    route: String,
}

/// An incoming id is reused only when it is short and plain (no header injection into logs).
fn sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

impl Middleware for Timing {
    fn on_request(mut request: Request) -> Result<Flow<Self>> {
        let request_id = request
            .header("x-request-id")
            .filter(|id| sane(id))
            .map_or_else(|| request.context().request_id.clone(), str::to_owned);
        request.set_header("x-request-id", &request_id);
        let state = Self {
            start: Instant::now(),
            request_id,
            method: request.method().to_owned(),
            route: request.route().to_owned(),
        };
        Ok(Flow::Next(request, state))
    }

    fn on_response(self, mut response: Response) -> Result<Response> {
        let elapsed = self.start.elapsed();
        let millis = elapsed.as_secs_f64() * 1000.0;
        let name = config::get("name").unwrap_or_else(|| "app".to_owned());
        response.set_header("x-request-id", &self.request_id);
        response.set_header("server-timing", &format!("{name};dur={millis:.3}"));
        log::log(
            log::Level::Info,
            "request served",
            &[
                ("request-id", &self.request_id),
                ("method", &self.method),
                ("route", &self.route),
                ("status", &response.status().to_string()),
                ("duration-ms", &format!("{millis:.3}")),
            ],
        );
        Ok(response)
    }
}

lamina_sdk::export_middleware!(Timing);
