//! Middleware components: chain order both ways, short-circuits, failures at every point,
//! per-request data, isolation, and the example middleware (auth, timing, envelope),
//! through the local source and real Lambda event shapes.

use crate::sources::{Kind, event, with_header};
use crate::support::{JWT_SECRET, app, block_on, guest, jwt, request, runtime};
use lamina::{App, Config, Request, Response, event as lambda_event};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;

/// `tagger` under five names: `g1`, `g2` global, `p1` on a group, `r1`, `r2` on routes.
fn tagger_config(global: &[&str]) -> String {
    let tagger = guest("tagger");
    let mut text = format!(
        "middleware = {global:?}\ncors = {{ allow-origins = [\"https://app.example\"] }}\n"
    );
    for tag in ["g1", "g2", "p1", "r1", "r2"] {
        text.push_str(&format!(
            "[components.{tag}]\nsource = \"{}\"\nconfig = {{ tag = \"{tag}\" }}\ntimeout = \"300ms\"\n",
            tagger.display()
        ));
    }
    text.push_str(&format!(
        r#"
[components.echo]
source = "{echo}"

[components.hello]
source = "{hello}"

[[routes]]
method = "ANY"
path = "/chain/{{*rest}}"
component = "echo"
middleware = ["r1", "r2"]

[[routes]]
method = "GET"
path = "/bare"
component = "echo"

[[routes]]
method = "POST"
path = "/only-post"
component = "echo"
middleware = ["r1"]

[[groups]]
prefix = "/grp"
middleware = ["p1"]

[[groups.routes]]
method = "GET"
path = "/x/{{id}}"
component = "echo"
middleware = ["r1"]
"#,
        echo = guest("echo").display(),
        hello = guest("hello").display(),
    ));
    text
}

fn tagger_app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let config = Config::parse(&tagger_config(&["g1", "g2"]), PathBuf::from("/")).unwrap();
        App::from_config(&config, runtime()).unwrap()
    })
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request {
    let mut req = request("GET", path);
    for (k, v) in headers {
        req.headers.push(((*k).to_owned(), (*v).to_owned()));
    }
    req
}

fn header<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers.get(name).map(|v| v.to_str().unwrap())
}

fn body_json(res: &Response) -> Value {
    serde_json::from_slice(&res.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&res.body)))
}

/// The request header the handler (echo) saw.
fn seen_header(seen: &Value, name: &str) -> Option<String> {
    seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == name)
        .map(|p| p[1].as_str().unwrap().to_owned())
}

#[test]
fn requests_go_global_then_group_then_route_and_responses_unwind_in_reverse() {
    let res = block_on(tagger_app().handle(get("/grp/x/7", &[])));
    assert_eq!(res.status, 200);
    let seen = body_json(&res);
    assert_eq!(
        seen_header(&seen, "x-trail").as_deref(),
        Some("g1,g2,p1,r1")
    );
    assert_eq!(
        seen["context"]["attributes"],
        json!([["trail", "g1,g2,p1,r1"]])
    );
    assert_eq!(
        seen["params"],
        json!([["id", "7"]]),
        "routing is the host's"
    );
    assert_eq!(header(&res, "x-trail-back"), Some("r1,p1,g2,g1"));
    // Per-request data: each instance reports the path its own on-request saw.
    for tag in ["g1", "g2", "p1", "r1"] {
        assert_eq!(
            header(&res, &format!("x-kept-{tag}")),
            Some("/grp/x/7"),
            "{tag}"
        );
    }
}

#[test]
fn a_short_circuit_skips_the_rest_of_the_chain_but_keeps_cors() {
    let res = block_on(tagger_app().handle(get(
        "/chain/a",
        &[("x-respond", "r1"), ("origin", "https://app.example")],
    )));
    assert_eq!(res.status, 418);
    assert_eq!(&res.body[..], b"answered by r1");
    // r1 answered, so neither r1 (it never entered) nor r2 nor echo ran; g2 and g1 saw it.
    assert_eq!(header(&res, "x-trail-back"), Some("g2,g1"));
    assert_eq!(header(&res, "x-kept-r2"), None);
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some("https://app.example")
    );
}

#[test]
fn a_typed_error_from_middleware_is_rendered_and_unwinds() {
    let res = block_on(tagger_app().handle(get("/chain/a", &[("x-refuse", "g2")])));
    assert_eq!(res.status, 403);
    let body = body_json(&res);
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(body["error"]["message"], "refused by g2");
    assert_eq!(body["error"]["request-id"], "test-request-id");
    assert_eq!(header(&res, "x-trail-back"), Some("g1"));
}

#[test]
fn a_trapping_middleware_is_a_500_with_the_request_id_and_the_next_request_is_fine() {
    for (fault, back) in [("x-trap-in", Some("g1")), ("x-trap-out", Some("g1"))] {
        let res = block_on(tagger_app().handle(get("/chain/a", &[(fault, "g2")])));
        assert_eq!(res.status, 500, "{fault}");
        let body = body_json(&res);
        assert_eq!(body["error"]["code"], "internal", "{fault}");
        assert_eq!(body["error"]["request-id"], "test-request-id", "{fault}");
        assert_eq!(header(&res, "x-trail-back"), back, "{fault}");
    }
    let res = block_on(tagger_app().handle(get("/chain/a", &[])));
    assert_eq!(res.status, 200);
    assert_eq!(header(&res, "x-trail-back"), Some("r2,r1,g2,g1"));
}

#[test]
fn a_middleware_in_an_endless_loop_times_out_with_504() {
    let res = block_on(tagger_app().handle(get("/chain/a", &[("x-spin-in", "r2")])));
    assert_eq!(res.status, 504);
    assert_eq!(body_json(&res)["error"]["code"], "timeout");
    assert_eq!(header(&res, "x-trail-back"), Some("r1,g2,g1"));
}

#[test]
fn pass_skips_on_response_and_invalid_requests_are_refused() {
    let res = block_on(tagger_app().handle(get("/chain/a", &[("x-pass", "g2")])));
    assert_eq!(res.status, 200);
    assert_eq!(
        seen_header(&body_json(&res), "x-trail").as_deref(),
        Some("g1,g2,r1,r2")
    );
    assert_eq!(header(&res, "x-trail-back"), Some("r2,r1,g1"));
    assert_eq!(header(&res, "x-kept-g2"), None);

    let res = block_on(tagger_app().handle(get("/chain/a", &[("x-bad-header", "r1")])));
    assert_eq!(res.status, 500);
    assert_eq!(header(&res, "x-trail-back"), Some("g2,g1"));
}

#[test]
fn global_middleware_see_unmatched_requests_and_route_middleware_only_their_route() {
    let res = block_on(tagger_app().handle(get("/nowhere", &[])));
    assert_eq!(res.status, 404);
    assert_eq!(header(&res, "x-trail-back"), Some("g2,g1"));
    let res = block_on(tagger_app().handle(get("/only-post", &[])));
    assert_eq!(res.status, 405);
    assert_eq!(header(&res, "x-trail-back"), Some("g2,g1"));
    let res = block_on(tagger_app().handle(get("/bare", &[])));
    assert_eq!(res.status, 200);
    assert_eq!(header(&res, "x-trail-back"), Some("g2,g1"));
}

#[test]
fn a_route_without_middleware_is_unaffected() {
    let config = Config::parse(&tagger_config(&[]), PathBuf::from("/")).unwrap();
    let app = App::from_config(&config, runtime()).unwrap();
    let res = block_on(app.handle(get("/bare", &[])));
    assert_eq!(res.status, 200);
    assert_eq!(header(&res, "x-trail-back"), None);
    assert_eq!(seen_header(&body_json(&res), "x-trail"), None);
    let res = block_on(app.handle(get("/chain/a", &[])));
    assert_eq!(header(&res, "x-trail-back"), Some("r2,r1"));
}

#[test]
fn components_of_the_wrong_kind_are_refused_at_load() {
    let text = tagger_config(&["echo"]);
    let config = Config::parse(&text, PathBuf::from("/")).unwrap();
    let error = format!("{:#}", App::from_config(&config, runtime()).err().unwrap());
    assert!(
        error.contains("middleware[0]: \"echo\" is a handler component, not a middleware"),
        "{error}"
    );
    let text = tagger_config(&[]).replace(
        "path = \"/bare\"\ncomponent = \"echo\"",
        "path = \"/bare\"\ncomponent = \"r1\"",
    );
    let config = Config::parse(&text, PathBuf::from("/")).unwrap();
    let error = format!("{:#}", App::from_config(&config, runtime()).err().unwrap());
    assert!(
        error.contains("routes[1].component: \"r1\" is a middleware component, not a handler"),
        "{error}"
    );
    let error = Config::parse(&tagger_config(&["nope"]), PathBuf::from("/"))
        .err()
        .unwrap();
    assert!(
        format!("{error:#}").contains("middleware[0]: no component named \"nope\""),
        "{error:#}"
    );
}

/// The reply's header `name`, whichever way the source's shape carries it.
fn reply_header(reply: &Value, name: &str) -> Option<String> {
    reply["multiValueHeaders"][name][0]
        .as_str()
        .or_else(|| reply["headers"][name].as_str())
        .map(str::to_owned)
}

#[test]
fn the_chain_behaves_the_same_through_lambda_event_sources() {
    for kind in [Kind::Rest, Kind::HttpV2, Kind::AlbMulti, Kind::LatticeV2] {
        let e = event(kind, "GET", "/chain/a%20b", "", "");
        let (origin, request) = lambda_event::decode(e.to_string().as_bytes(), "ev-1").unwrap();
        let response = block_on(tagger_app().handle(request));
        let reply: Value =
            serde_json::from_slice(&lambda_event::encode(origin, &response)).unwrap();
        assert_eq!(reply["statusCode"], 200, "{kind:?}: {reply}");
        assert_eq!(
            reply_header(&reply, "x-trail-back").as_deref(),
            Some("r2,r1,g2,g1"),
            "{kind:?}"
        );
        assert_eq!(
            reply_header(&reply, "x-kept-g1").as_deref(),
            Some("/chain/a b"),
            "{kind:?}"
        );

        let e = with_header(event(kind, "GET", "/chain/x", "", ""), "x-respond", "g2");
        let (origin, request) = lambda_event::decode(e.to_string().as_bytes(), "ev-2").unwrap();
        let response = block_on(tagger_app().handle(request));
        let reply: Value =
            serde_json::from_slice(&lambda_event::encode(origin, &response)).unwrap();
        assert_eq!(reply["statusCode"], 418, "{kind:?}: {reply}");
        assert_eq!(
            reply_header(&reply, "x-trail-back").as_deref(),
            Some("g1"),
            "{kind:?}"
        );
    }
}

fn bearer(claims: &Value, secret: &str) -> String {
    format!("Bearer {}", jwt(claims, secret))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn the_auth_example_admits_valid_tokens_and_passes_the_subject_on() {
    let good = json!({"sub": "user-42", "iss": "https://issuer.example", "exp": now() + 600, "scope": "todos:read todos:write"});
    let res = block_on(app().handle(get(
        "/mw/secure/x",
        &[("authorization", &bearer(&good, JWT_SECRET))],
    )));
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let seen = body_json(&res);
    assert_eq!(
        seen["context"]["attributes"],
        json!([["subject", "user-42"]])
    );
    // Timing runs around auth on this group.
    assert!(
        header(&res, "server-timing")
            .unwrap()
            .starts_with("lamina;dur=")
    );

    let refused = |claims: &Value, secret: &str, status: u16, message: &str| {
        let res = block_on(app().handle(get(
            "/mw/secure/x",
            &[("authorization", &bearer(claims, secret))],
        )));
        assert_eq!(res.status, status, "{message}");
        let body = body_json(&res);
        assert_eq!(body["error"]["message"], message);
        assert_eq!(body["error"]["request-id"], "test-request-id");
        if status == 401 {
            assert_eq!(
                header(&res, "www-authenticate"),
                Some("Bearer realm=\"lamina\"")
            );
        }
        // Refused before the handler: no echo body, but timing still saw the answer.
        assert!(header(&res, "x-request-id").is_some());
    };
    refused(&good, "another-secret", 401, "bad token signature");
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 10);
    refused(&expired, JWT_SECRET, 401, "token expired");
    let mut early = good.clone();
    early["nbf"] = json!(now() + 600);
    refused(&early, JWT_SECRET, 401, "token not valid yet");
    let mut foreign = good.clone();
    foreign["iss"] = json!("https://evil.example");
    refused(&foreign, JWT_SECRET, 401, "token has the wrong issuer");
    let mut reader = good.clone();
    reader["scope"] = json!("todos:read");
    refused(
        &reader,
        JWT_SECRET,
        403,
        "token lacks scope \"todos:write\"",
    );

    let res = block_on(app().handle(get("/mw/secure/x", &[])));
    assert_eq!(res.status, 401);
    assert_eq!(body_json(&res)["error"]["message"], "missing bearer token");
    // `alg: none` with no signature is refused, not trusted.
    let unsigned = format!(
        "Bearer eyJhbGciOiJub25lIn0.{}.",
        base64_url(&good.to_string())
    );
    let res = block_on(app().handle(get("/mw/secure/x", &[("authorization", &unsigned)])));
    assert_eq!(res.status, 401);
    assert_eq!(
        body_json(&res)["error"]["message"],
        "token algorithm must be HS256"
    );
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[test]
fn the_timing_and_envelope_examples_rewrite_the_response() {
    let res = block_on(app().handle(get("/mw/hello/ada", &[("x-request-id", "client-id-1")])));
    assert_eq!(res.status, 200);
    assert_eq!(header(&res, "x-request-id"), Some("client-id-1"));
    let timing = header(&res, "server-timing").unwrap();
    let millis: f64 = timing.strip_prefix("lamina;dur=").unwrap().parse().unwrap();
    assert!(millis >= 0.0, "{timing}");
    let body = body_json(&res);
    assert_eq!(body["meta"]["route"], "/mw/hello/{name}");
    assert_eq!(body["meta"]["request-id"], "test-request-id");
    assert_eq!(body["data"]["message"], "Howdy, ada!", "{body}");
    // An insane incoming id is replaced by the Lambda request id.
    let res = block_on(app().handle(get("/mw/hello/ada", &[("x-request-id", "a b\"c")])));
    assert_eq!(header(&res, "x-request-id"), Some("test-request-id"));
    // Errors are not wrapped.
    let res = block_on(app().handle(get("/mw/nothing-here", &[])));
    assert_eq!(res.status, 404);
    assert!(body_json(&res).get("data").is_none());
}
