//! `envelope`: a middleware that rewrites successful JSON responses into
//! `{"data": <the handler's JSON>, "meta": {"request-id", "route", "status"}}`.
//!
//! It proves a middleware can change the response body, not only headers. Error
//! responses, non-JSON bodies and bodies that do not parse pass through unchanged.

use lamina_sdk::{Flow, Middleware, Request, Response, Result};
use serde_json::{Value, json};

struct Envelope {
    request_id: String,
    route: String,
}

fn is_json(response: &Response) -> bool {
    response.header("content-type").is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
    })
}

impl Middleware for Envelope {
    fn on_request(request: Request) -> Result<Flow<Self>> {
        let state = Self {
            request_id: request.context().request_id.clone(),
            route: request.route().to_owned(),
        };
        Ok(Flow::Next(request, state))
    }

    fn on_response(self, mut response: Response) -> Result<Response> {
        if !(200..300).contains(&response.status()) || !is_json(&response) {
            return Ok(response);
        }
        let body = response.take_body();
        let Ok(data) = serde_json::from_slice::<Value>(&body) else {
            response.set_body(body);
            return Ok(response);
        };
        let wrapped = json!({
            "data": data,
            "meta": {
                "request-id": self.request_id,
                "route": self.route,
                "status": response.status(),
            },
        });
        response.set_body(wrapped.to_string());
        Ok(response)
    }
}

lamina_sdk::export_middleware!(Envelope);
