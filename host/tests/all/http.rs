//! Host-native HTTP semantics around real components: CORS (also on errors and
//! preflights), Cache-Control, error formats and request size limits.

use crate::support::{block_on, guest, request, runtime};
use lamina::{App, Config, Request, Response};
use serde_json::Value;
use std::path::PathBuf;

fn app_with(extra: &str) -> App {
    let text = format!(
        r#"
{extra}

[components.hello]
source = "{hello}"

[components.todos]
source = "{todos}"

[components.echo]
source = "{echo}"

[[routes]]
method = "ANY"
path = "/echo/{{*rest}}"
component = "echo"

[[routes]]
method = "GET"
path = "/plain/{{*rest}}"
component = "echo"
compression = false

[[routes]]
method = "GET"
path = "/small/{{*rest}}"
component = "echo"
compression = {{ encodings = ["gzip"], min-size = 1 }}

[[routes]]
method = "GET"
path = "/hello"
component = "hello"
cache-control = "public, max-age=60"

[[routes]]
method = "GET"
path = "/todos/{{id}}"
component = "todos"

[[routes]]
method = "DELETE"
path = "/todos/{{id}}"
component = "todos"

[[routes]]
method = "POST"
path = "/todos"
component = "todos"
cors = {{ allow-origins = ["https://admin.example.net"] }}

[[routes]]
method = "GET"
path = "/hello/{{name}}"
component = "hello"
cors = false
"#,
        hello = guest("hello").display(),
        todos = guest("todos").display(),
        echo = guest("echo").display(),
    );
    let config = Config::parse(&text, PathBuf::from("/")).unwrap();
    App::from_config(&config, runtime()).unwrap()
}

const CORS: &str = r#"
[cors]
allow-origins = ["https://app.example.com", "https://*.example.org"]
allow-credentials = true
expose-headers = ["location"]
max-age = 600
"#;

fn with_origin(mut req: Request, origin: &str) -> Request {
    req.headers.push(("origin".into(), origin.into()));
    req
}

fn preflight(path: &str, origin: &str, method: &str) -> Request {
    let mut req = with_origin(request("OPTIONS", path), origin);
    req.headers
        .push(("access-control-request-method".into(), method.into()));
    req
}

fn header<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers.get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn cors_headers_on_successes_errors_and_guest_errors() {
    let app = app_with(CORS);
    for (path, status) in [
        ("/hello", 200),
        ("/todos/99", 404),
        ("/missing", 404),
        ("/todos/abc", 400),
    ] {
        let res =
            block_on(app.handle(with_origin(request("GET", path), "https://app.example.com")));
        assert_eq!(res.status, status, "{path}");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            Some("https://app.example.com"),
            "{path}"
        );
        assert_eq!(
            header(&res, "access-control-allow-credentials"),
            Some("true"),
            "{path}"
        );
        assert_eq!(header(&res, "vary"), Some("origin"), "{path}");
    }
    let res = block_on(app.handle(with_origin(request("GET", "/hello"), "https://evil.test")));
    assert_eq!(res.status, 200);
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        None,
        "no CORS headers for a disallowed origin"
    );
    assert_eq!(header(&res, "vary"), Some("origin"));
    let res = block_on(app.handle(with_origin(
        request("GET", "/todos/1"),
        "https://a.b.example.org",
    )));
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some("https://a.b.example.org")
    );
}

#[test]
fn preflights_answer_only_for_paths_that_exist_with_their_methods() {
    let app = app_with(CORS);
    let res = block_on(app.handle(preflight("/todos/7", "https://app.example.com", "DELETE")));
    assert_eq!(res.status, 204);
    assert_eq!(
        header(&res, "access-control-allow-methods"),
        Some("GET, DELETE, HEAD")
    );
    assert_eq!(header(&res, "access-control-max-age"), Some("600"));
    assert!(
        header(&res, "access-control-allow-headers")
            .unwrap()
            .starts_with("authorization, content-type")
    );

    // Powertools answers a preflight for any path; here an unknown path is a 404.
    let res = block_on(app.handle(preflight("/nowhere", "https://app.example.com", "GET")));
    assert_eq!(res.status, 404);

    // A route-level policy replaces the global one.
    let res = block_on(app.handle(preflight("/todos", "https://app.example.com", "POST")));
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = block_on(app.handle(preflight("/todos", "https://admin.example.net", "POST")));
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some("https://admin.example.net")
    );

    // A route that opted out is not preflighted: OPTIONS is just a method it lacks.
    let res = block_on(app.handle(preflight("/hello/x", "https://app.example.com", "GET")));
    assert_eq!(res.status, 405);
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = block_on(app.handle(with_origin(
        request("GET", "/hello/x"),
        "https://app.example.com",
    )));
    assert_eq!(
        (
            res.status.as_u16(),
            header(&res, "access-control-allow-origin")
        ),
        (200, None)
    );
}

#[test]
fn cache_control_applies_to_successes_of_its_route_only() {
    let app = app_with("error-cache-control = \"no-store\"");
    let res = block_on(app.handle(request("GET", "/hello")));
    assert_eq!(header(&res, "cache-control"), Some("public, max-age=60"));
    let res = block_on(app.handle(request("GET", "/todos/1")));
    assert_eq!(header(&res, "cache-control"), None);
    let res = block_on(app.handle(request("GET", "/todos/99")));
    assert_eq!(header(&res, "cache-control"), Some("no-store"));
}

#[test]
fn error_format_and_request_size_limit_are_configurable() {
    let app = app_with("error-format = \"problem\"\nmax-request-body = \"16B\"");
    let res = block_on(app.handle(request("GET", "/todos/99")));
    assert_eq!(res.status, 404);
    assert_eq!(
        header(&res, "content-type"),
        Some("application/problem+json")
    );
    let body: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(
        (body["status"].as_u64(), body["detail"].as_str()),
        (Some(404), Some("no todo with id 99"))
    );

    let mut req = request("POST", "/todos");
    req.body = bytes::Bytes::from_static(br#"{"title": "a title that is too long"}"#);
    let res = block_on(app.handle(req));
    assert_eq!(res.status, 413);
    let body: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(body["code"], "payload-too-large");

    let powertools = app_with("error-format = \"powertools\"");
    let res = block_on(powertools.handle(request("PUT", "/hello")));
    let body: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"statusCode": 405, "message": "Method not allowed"})
    );
}

#[test]
fn impossible_cors_configs_are_rejected_at_load() {
    let text = format!(
        "[cors]\nallow-origins = [\"*\"]\nallow-credentials = true\n[components.hello]\nsource = \"{}\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/\"\ncomponent = \"hello\"\n",
        guest("hello").display()
    );
    let config = Config::parse(&text, PathBuf::from("/")).unwrap();
    let error = match App::from_config(&config, runtime()) {
        Ok(_) => panic!("credentials with * must be rejected"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("allow-credentials = true cannot be combined with allow-origins = [\"*\"]"),
        "{error}"
    );
}

fn with_accept(mut req: Request, accept: &str) -> Request {
    req.headers.push(("accept-encoding".into(), accept.into()));
    req
}

#[test]
fn responses_are_compressed_as_negotiated() {
    use std::io::Read as _;
    let app = app_with("[compression]\nencodings = [\"br\", \"gzip\"]\nmin-size = 64");
    let plain = block_on(app.handle(request("GET", "/echo/some/path")));
    assert!(plain.body.len() > 64);
    assert_eq!(header(&plain, "vary"), Some("accept-encoding"));

    let res = block_on(app.handle(with_accept(
        request("GET", "/echo/some/path"),
        "gzip, br;q=0.9",
    )));
    assert_eq!(
        header(&res, "content-encoding"),
        Some("gzip"),
        "the client's weights win"
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&res.body[..])
        .read_to_string(&mut text)
        .unwrap();
    let seen: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(seen["path"], "/echo/some/path");
    assert!(
        res.body_is_binary(),
        "a compressed body travels base64-encoded"
    );

    let res = block_on(app.handle(with_accept(request("GET", "/echo/x"), "br")));
    assert_eq!(header(&res, "content-encoding"), Some("br"));

    // Powertools matches by substring, so gzip;q=0 still compresses there.
    let res = block_on(app.handle(with_accept(request("GET", "/echo/x"), "gzip;q=0, br;q=0")));
    assert_eq!(header(&res, "content-encoding"), None);

    let res = block_on(app.handle(with_accept(request("GET", "/plain/x"), "gzip")));
    assert_eq!(
        (header(&res, "content-encoding"), header(&res, "vary")),
        (None, None),
        "route opted out"
    );

    let res = block_on(app.handle(with_accept(request("GET", "/hello"), "gzip")));
    assert_eq!(header(&res, "content-encoding"), None, "below min-size");

    // A route's own settings replace the global ones.
    let res = block_on(app.handle(with_accept(request("GET", "/small/x"), "br, gzip;q=0.5")));
    assert_eq!(
        header(&res, "content-encoding"),
        Some("gzip"),
        "this route offers gzip only"
    );
    let no_global = app_with("");
    let res = block_on(no_global.handle(with_accept(request("GET", "/small/x"), "gzip")));
    assert_eq!(
        header(&res, "content-encoding"),
        Some("gzip"),
        "on without a global section"
    );
    let res = block_on(no_global.handle(with_accept(request("GET", "/echo/x"), "gzip")));
    assert_eq!(header(&res, "content-encoding"), None);
}

#[test]
fn responses_over_the_source_limit_are_compressed_to_fit_or_refused_cleanly() {
    let app = app_with("");
    let alb = lamina::EventFormat::Alb { multi_value: true };
    let big = || {
        let mut req = request("POST", "/echo/upload");
        req.body = bytes::Bytes::from(vec![b'a'; 1_200_000]);
        req
    };
    // Without compression configured, an ALB reply over 1 MB is compressed with what the
    // client accepts...
    let res = block_on(app.handle(big()));
    let encoded = app.encode(alb, res, Some("gzip"), "r1");
    let reply: Value = serde_json::from_slice(&encoded).unwrap();
    assert!(encoded.len() <= lamina::event::ALB_RESPONSE_LIMIT);
    assert_eq!(
        (
            reply["statusCode"].as_u64(),
            reply["isBase64Encoded"].as_bool()
        ),
        (Some(200), Some(true))
    );
    assert_eq!(
        reply["multiValueHeaders"]["content-encoding"],
        serde_json::json!(["gzip"])
    );

    // ...and without an acceptable encoding it becomes a clean 502 naming size and limit.
    let res = block_on(app.handle(big()));
    let encoded = app.encode(alb, res, None, "r2");
    let reply: Value = serde_json::from_slice(&encoded).unwrap();
    assert_eq!(reply["statusCode"], 502);
    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "response-too-large");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("which accepts at most 1000000"),
        "{message}"
    );

    // The same response fits a source with Lambda's 6 MB limit as it is.
    let res = block_on(app.handle(big()));
    let encoded = app.encode(lamina::EventFormat::ApigwHttpV2, res, None, "r3");
    let reply: Value = serde_json::from_slice(&encoded).unwrap();
    assert_eq!(
        (
            reply["statusCode"].as_u64(),
            reply["isBase64Encoded"].as_bool()
        ),
        (Some(200), Some(false))
    );
}

#[test]
fn groups_and_a_not_found_component() {
    let app = app_with(
        r#"not-found = "echo"

[[groups]]
prefix = "/v2"
cache-control = "max-age=5"

[[groups.routes]]
method = "GET"
path = "/mirror/{id}"
component = "echo"
"#,
    );
    let res = block_on(app.handle(request("GET", "/v2/mirror/7")));
    assert_eq!(
        (res.status.as_u16(), header(&res, "cache-control")),
        (200, Some("max-age=5"))
    );
    let seen: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(
        seen["route"], "/v2/mirror/{id}",
        "the guest sees the full template"
    );
    let res = block_on(app.handle(request("GET", "/nowhere/at/all")));
    assert_eq!(res.status, 200, "the not-found component answered");
    let seen: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(
        (seen["route"].as_str(), seen["path"].as_str()),
        (Some(""), Some("/nowhere/at/all"))
    );
    // A wrong method on a real path is still a 405, not a not-found.
    let res = block_on(app.handle(request("PUT", "/v2/mirror/7")));
    assert_eq!(res.status, 405);
}

fn validating_app() -> App {
    let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas");
    let text = format!(
        r#"
[components.todos]
source = "{todos}"

[components.echo]
source = "{echo}"

[[routes]]
method = "POST"
path = "/todos"
component = "todos"
validate = {{ json = "required", schema = "new-todo.json" }}

[[routes]]
method = "GET"
path = "/search/{{*rest}}"
component = "echo"
validate = {{ query-schema = "search-query.json" }}

[[routes]]
method = "PUT"
path = "/notes/{{id}}"
component = "echo"
validate = {{ json = "optional" }}
"#,
        todos = guest("todos").display(),
        echo = guest("echo").display(),
    );
    let config = Config::parse(&text, schemas).unwrap();
    App::from_config(&config, runtime()).unwrap()
}

fn post(path: &str, content_type: Option<&str>, body: &str) -> Request {
    let mut req = request("POST", path);
    if let Some(ct) = content_type {
        req.headers.push(("content-type".into(), ct.into()));
    }
    req.body = bytes::Bytes::from(body.to_owned());
    req
}

#[test]
fn requests_are_validated_before_the_component_runs() {
    let app = validating_app();
    let json = Some("application/json; charset=utf-8");
    let cases: &[(Request, u16, &str)] = &[
        (post("/todos", json, r#"{"title": "ok"}"#), 201, ""),
        (
            post("/todos", Some("text/plain"), r#"{"title": "ok"}"#),
            415,
            "unsupported-media-type",
        ),
        (
            post("/todos", None, r#"{"title": "ok"}"#),
            415,
            "unsupported-media-type",
        ),
        (post("/todos", json, ""), 400, "missing-body"),
        (
            post("/todos", json, "{\"title\": \n  oops}"),
            400,
            "invalid-json",
        ),
        (
            post("/todos", json, r#"{"title": "", "extra": 1}"#),
            422,
            "schema-violation",
        ),
        (
            post(
                "/todos",
                Some("application/merge-patch+json"),
                r#"{"title": "x"}"#,
            ),
            201,
            "",
        ),
    ];
    for (req, status, code) in cases.iter().cloned() {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let res = block_on(app.handle(req));
        assert_eq!(
            res.status,
            status,
            "{body}: {}",
            String::from_utf8_lossy(&res.body)
        );
        if !code.is_empty() {
            let error: Value = serde_json::from_slice(&res.body).unwrap();
            assert_eq!(error["error"]["code"], code, "{body}");
        }
    }
    let res = block_on(app.handle(post("/todos", json, "{\"title\": \n  oops}")));
    let error: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(
        error["error"]["details"],
        serde_json::json!({"line": 2, "column": 3})
    );

    let res = block_on(app.handle(post("/todos", json, r#"{"title": "", "extra": 1}"#)));
    let error: Value = serde_json::from_slice(&res.body).unwrap();
    let details = error["error"]["details"].as_array().unwrap();
    let paths: Vec<&str> = details
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(details.len(), 2, "every violation is listed: {details:?}");
    assert!(
        paths.contains(&"/title") && paths.contains(&""),
        "{paths:?}"
    );

    // Query schema: strings, repeated names become arrays.
    let mut ok = request("GET", "/search/x");
    ok.query = vec![("q".into(), "lamina".into()), ("limit".into(), "10".into())];
    assert_eq!(block_on(app.handle(ok)).status, 200);
    let mut bad = request("GET", "/search/x");
    bad.query = vec![("q".into(), "l".into()), ("limit".into(), "ten".into())];
    let res = block_on(app.handle(bad));
    assert_eq!(res.status, 400);
    let error: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(error["error"]["code"], "invalid-query");
    assert_eq!(error["error"]["details"].as_array().unwrap().len(), 2);

    // Optional JSON: no body is fine, a non-JSON body is not.
    assert_eq!(block_on(app.handle(request("PUT", "/notes/1"))).status, 200);
    let mut req = post("/notes/1", json, "not json");
    req.method = http::Method::PUT;
    assert_eq!(block_on(app.handle(req)).status, 400);
}

#[test]
fn a_schema_that_cannot_load_is_a_clear_load_error() {
    let text = format!(
        "[components.todos]\nsource = \"{}\"\n[[routes]]\nmethod = \"POST\"\npath = \"/t\"\ncomponent = \"todos\"\nvalidate = {{ schema = \"missing.json\" }}\n",
        guest("todos").display()
    );
    let config = Config::parse(&text, PathBuf::from("/nonexistent")).unwrap();
    let error = match App::from_config(&config, runtime()) {
        Ok(_) => panic!("a missing schema must fail the load"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("routes[0].validate.schema: reading /nonexistent/missing.json"),
        "{error}"
    );
}
