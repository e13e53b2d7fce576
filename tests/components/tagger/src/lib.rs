//! `tagger`: a test middleware whose behaviour the request picks, so one component (used
//! under several names, each with its own `tag` config value) can show ordering,
//! short-circuits, failures and per-request data.
//!
//! On the way in it appends its tag to the request header `x-trail` and the attribute
//! `trail`; on the way out it appends its tag to the response header `x-trail-back` and
//! reports the tag it kept from `on-request` in `x-kept-<tag>` (the per-request data).
//! Request headers make it misbehave when they name its tag:
//! `x-respond` (answer 418 itself), `x-refuse` (typed 403 error), `x-trap-in` /
//! `x-trap-out` (panic in on-request / on-response), `x-spin-in` (loop forever),
//! `x-pass` (pass without seeing the response), `x-bad-header` (pass on an invalid header).
//! The config value `pass = "always"` makes it pass every request (the benchmark's
//! request-only middleware).

use lamina_sdk::{Error, Flow, Middleware, Request, Response, Result, config};

struct Tagger {
    tag: String,
    trap_out: bool,
    seen_path: String,
}

fn names(request: &Request, header: &str, tag: &str) -> bool {
    request
        .header(header)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag))
}

impl Middleware for Tagger {
    fn on_request(mut request: Request) -> Result<Flow<Self>> {
        let tag = config::get("tag").unwrap_or_else(|| "?".to_owned());
        if names(&request, "x-trap-in", &tag) {
            panic!("tagger {tag} trapped in on-request");
        }
        if names(&request, "x-spin-in", &tag) {
            #[allow(clippy::empty_loop)]
            loop {}
        }
        if names(&request, "x-refuse", &tag) {
            return Err(Error::forbidden(format!("refused by {tag}")));
        }
        if names(&request, "x-respond", &tag) {
            let body = format!("answered by {tag}");
            return Ok(Flow::Respond(Response::text(body).with_status(418)));
        }
        let trail = match request.header("x-trail") {
            Some(trail) => format!("{trail},{tag}"),
            None => tag.clone(),
        };
        request.set_header("x-trail", &trail);
        request.set_attribute("trail", &trail);
        if names(&request, "x-bad-header", &tag) {
            request.set_header("x-bad", "line\r\nbreak");
        }
        if names(&request, "x-pass", &tag) || config::get("pass").as_deref() == Some("always") {
            return Ok(Flow::Pass(request));
        }
        let state = Self {
            trap_out: names(&request, "x-trap-out", &tag),
            seen_path: request.path().to_owned(),
            tag,
        };
        Ok(Flow::Next(request, state))
    }

    fn on_response(self, mut response: Response) -> Result<Response> {
        if self.trap_out {
            panic!("tagger {} trapped in on-response", self.tag);
        }
        let back = match response.header("x-trail-back") {
            Some(back) => format!("{back},{}", self.tag),
            None => self.tag.clone(),
        };
        response.set_header("x-trail-back", &back);
        response.set_header(&format!("x-kept-{}", self.tag), &self.seen_path);
        Ok(response)
    }
}

lamina_sdk::export_middleware!(Tagger);
