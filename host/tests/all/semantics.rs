//! HTTP semantics found by differential testing against Powertools: list headers sent on
//! several lines, each error format's exact host-error bodies, encoded slashes in
//! parameters, pattern prefixes and per-route error caching — through real components and
//! REST, HTTP API and multi-value ALB events.

use crate::serve::start_with_args;
use crate::sources::{Kind, event};
use crate::support::{block_on, guest, temp_dir};
use lamina::{App, Config};
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::path::PathBuf;

fn config_text(extra: &str) -> String {
    format!(
        r#"
{extra}

[components.faults]
source = {faults:?}
timeout = "300ms"
max-response = "1MiB"

[components.echo]
source = {echo:?}

[components.todos]
source = {todos:?}

[[routes]]
method = "GET"
path = "/faults/{{fault}}"
component = "faults"
compression = {{ encodings = ["gzip", "br"], min-size = 16 }}

[[routes]]
method = "GET"
path = "/files/{{name}}"
component = "echo"

[[routes]]
method = "GET"
path = "/todos/{{id}}"
component = "todos"
cache-control = "public, max-age=60"
error-cache-control = "no-cache"

[[routes]]
method = "POST"
path = "/todos"
component = "todos"
validate = {{ json = "required", schema = "new-todo.json" }}

[[groups]]
prefix = "/grp"
error-cache-control = "max-age=5"

[[groups.routes]]
method = "GET"
path = "/todos/{{id}}"
component = "todos"
"#,
        faults = guest("faults").display().to_string(),
        echo = guest("echo").display().to_string(),
        todos = guest("todos").display().to_string(),
    )
}

fn app(extra: &str) -> App {
    let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas");
    let config = Config::parse(&config_text(extra), schemas).unwrap();
    App::from_config(&config, crate::support::runtime()).unwrap()
}

/// `e` with a header on several field lines: `multiValueHeaders` for REST, HTTP API 1.0
/// and multi-value ALB (the single-value `headers` object keeps the first line only, as
/// API Gateway's does).
fn with_lines(mut e: Value, name: &str, lines: &[&str]) -> Value {
    e["multiValueHeaders"][name] = json!(lines);
    if let Some(headers) = e.get_mut("headers").and_then(Value::as_object_mut) {
        headers.insert(name.to_owned(), json!(lines.last().unwrap()));
    }
    e
}

/// The reply [`App::answer`] gives, as JSON.
fn answer(app: &App, e: &Value) -> Value {
    let reply =
        block_on(app.answer(e.to_string().as_bytes(), &lamina::Invocation::new("sem-1"))).unwrap();
    serde_json::from_slice(&reply).unwrap()
}

fn reply_header(reply: &Value, name: &str) -> Option<String> {
    reply["multiValueHeaders"][name][0]
        .as_str()
        .or_else(|| reply["headers"][name].as_str())
        .map(str::to_owned)
}

#[test]
fn list_headers_on_several_lines_are_one_list() {
    let app = app("");
    // (Accept-Encoding lines, expected Content-Encoding) for a route offering gzip and br.
    let cases: &[(&[&str], Option<&str>)] = &[
        (&["br", "gzip"], Some("gzip")),
        (&["identity", "gzip"], Some("gzip")),
        (&["gzip;q=0", "br"], Some("br")),
        (&["identity, gzip"], Some("gzip")),
        (&["identity"], None),
    ];
    for kind in [Kind::Rest, Kind::HttpV1, Kind::AlbMulti] {
        for (lines, expected) in cases {
            let e = with_lines(
                event(
                    kind,
                    "GET",
                    "/faults/big-body",
                    "size=4096&type=text/plain",
                    "",
                ),
                "Accept-Encoding",
                lines,
            );
            let reply = answer(&app, &e);
            assert_eq!(reply["statusCode"], 200, "{kind:?} {lines:?}: {reply}");
            assert_eq!(
                reply_header(&reply, "content-encoding").as_deref(),
                *expected,
                "{kind:?} {lines:?}"
            );
        }
    }
}

#[test]
fn lamina_serve_reads_every_accept_encoding_line_too() {
    let dir = temp_dir("serve-lines");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/schemas/new-todo.json"),
        dir.join("new-todo.json"),
    )
    .unwrap();
    let config = dir.join("lamina.toml");
    std::fs::write(&config, config_text("")).unwrap();
    let server = start_with_args(&config, &[], None);
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    write!(
        stream,
        "GET /faults/big-body?size=4096&type=text/plain HTTP/1.1\r\nHost: x\r\n\
         Accept-Encoding: identity\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let head =
        String::from_utf8_lossy(&reply[..reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap()])
            .to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
}

/// The body of `request` (method, path) in `format`, through a REST event.
fn error_body(app: &App, method: &str, path: &str, body: Option<&str>) -> (u64, Value) {
    let mut e = event(Kind::Rest, method, path, "", "");
    if let Some(body) = body {
        e["body"] = json!(body);
        e["isBase64Encoded"] = json!(false);
        e = with_lines(e, "content-type", &["application/json"]);
    }
    let reply = answer(app, &e);
    let body = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    (reply["statusCode"].as_u64().unwrap(), body)
}

#[test]
fn each_error_format_renders_host_errors_as_its_reference_does() {
    let powertools = app("error-format = \"powertools\"");
    let utils = app("error-format = \"api-event-utils\"");
    let problem = app("error-format = \"problem\"");
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        u64,
        Value,
        Value,
    );
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/nope",
            None,
            404,
            json!({"statusCode": 404, "message": "Not found"}),
            json!({"Error": {"Code": "PathNotFound", "Message": "Path /nope not found."}}),
        ),
        (
            "PUT",
            "/todos/1",
            None,
            405,
            json!({"statusCode": 405, "message": "Method not allowed"}),
            json!({"Error": {"Code": "UnsupportedMethod", "Message": "PUT is not a valid HTTP method. Valid methods are GET HEAD"}}),
        ),
        (
            "POST",
            "/todos",
            Some(r#"{"title": ""}"#),
            422,
            json!({"statusCode": 422, "detail": [{"loc": ["body", "title"], "type": "minLength"}]}),
            json!({"Error": {"Code": "InvalidPayload", "Message": "\"\" is shorter than 1 character"}}),
        ),
        (
            "POST",
            "/todos",
            Some(r#"{"done": true}"#),
            422,
            json!({"statusCode": 422, "detail": [{"loc": ["body", "title"], "type": "required"}]}),
            json!({"Error": {"Code": "InvalidPayload", "Message": "\"title\" is a required property"}}),
        ),
        (
            "POST",
            "/todos",
            Some("{not json"),
            400,
            json!({"statusCode": 400, "detail": [{"loc": ["body"], "type": "json_invalid"}]}),
            json!({"Error": {"Code": "InvalidPayload", "Message": "Request body must be valid JSON."}}),
        ),
        (
            "GET",
            "/faults/trap",
            None,
            500,
            json!({"statusCode": 500, "message": "Internal server error"}),
            json!({"Error": {"Code": "InternalServerError", "Message": "An error occurred."}}),
        ),
        (
            "GET",
            "/faults/loop",
            None,
            504,
            json!({"statusCode": 504, "message": "Gateway timeout"}),
            json!({"Error": {"Code": "GatewayTimeout", "Message": "The gateway server did not receive a timely response."}}),
        ),
        (
            "GET",
            "/todos/99",
            None,
            404,
            json!({"statusCode": 404, "message": "no todo with id 99"}),
            json!({"Error": {"Code": "not-found", "Message": "no todo with id 99"}}),
        ),
    ];
    for (method, path, body, status, want_powertools, want_utils) in cases {
        let (got_status, got) = error_body(&powertools, method, path, body);
        assert_eq!(
            (got_status, &got),
            (status, &want_powertools),
            "powertools {method} {path}"
        );
        let (_, got) = error_body(&utils, method, path, body);
        assert_eq!(got, want_utils, "api-event-utils {method} {path}");
        let (_, got) = error_body(&problem, method, path, body);
        let reason = http::StatusCode::from_u16(u16::try_from(status).unwrap())
            .unwrap()
            .canonical_reason()
            .unwrap();
        assert_eq!(
            (
                got["type"].as_str(),
                got["title"].as_str(),
                got["status"].as_u64()
            ),
            (Some("about:blank"), Some(reason), Some(status)),
            "problem {method} {path}: {got}"
        );
    }
    // 415 in Powertools' own shape.
    let mut e = event(Kind::HttpV2, "POST", "/todos", "", "");
    e["body"] = json!("{}");
    e["isBase64Encoded"] = json!(false);
    e["headers"]["content-type"] = json!("text/plain");
    let reply = answer(&powertools, &e);
    assert_eq!(reply["statusCode"], 415);
    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"statusCode": 415, "detail": [{"loc": ["body"], "type": "unsupported_content_type"}]})
    );
}

#[test]
fn an_encoded_slash_stays_inside_its_parameter() {
    let app = app("");
    // (source, raw path) → the `name` parameter the handler sees.
    let cases: &[(Kind, &str, &str)] = &[
        (Kind::Rest, "/files/reports%2F2024.csv", "reports/2024.csv"),
        (
            Kind::AlbMulti,
            "/files/reports%2F2024.csv",
            "reports/2024.csv",
        ),
        (
            Kind::FunctionUrl,
            "/files/reports%2f2024.csv",
            "reports/2024.csv",
        ),
        (Kind::LatticeV2, "/files/a%2Fb%2Fc", "a/b/c"),
        (Kind::Rest, "/files/100%25", "100%"),
        (Kind::Rest, "/files/caf%C3%A9", "café"),
    ];
    for (kind, raw, name) in cases {
        let reply = answer(&app, &event(*kind, "GET", raw, "", ""));
        assert_eq!(reply["statusCode"], 200, "{kind:?} {raw}: {reply}");
        let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(seen["params"], json!([["name", name]]), "{kind:?} {raw}");
        assert_eq!(seen["route"], "/files/{name}");
        assert_eq!(
            seen["path"],
            format!("/files/{name}"),
            "the handler's path stays decoded"
        );
    }
    // An HTTP API hands the path over decoded: the slash is a real one, so no match.
    let reply = answer(
        &app,
        &event(Kind::HttpV2, "GET", "/files/reports%2F2024.csv", "", ""),
    );
    assert_eq!(reply["statusCode"], 404);
}

#[test]
fn strip_prefixes_take_patterns_at_segment_boundaries() {
    let app = app(r#"strip-prefixes = ["/api", { regex = "/v[0-9]+" }]"#);
    let cases: &[(&str, u64)] = &[
        ("/v1/todos/1", 200),
        ("/v23/todos/1", 200),
        ("/api/todos/1", 200),
        ("/v1x/todos/1", 404),
        ("/todos/1", 200),
        ("/v2/files/a%2Fb", 200),
    ];
    for kind in [Kind::Rest, Kind::HttpV2, Kind::AlbMulti] {
        for (path, status) in cases {
            if matches!(kind, Kind::HttpV2) && path.contains("%2F") {
                continue;
            }
            let reply = answer(&app, &event(kind, "GET", path, "", ""));
            assert_eq!(
                reply["statusCode"].as_u64(),
                Some(*status),
                "{kind:?} {path}: {reply}"
            );
        }
    }
    let reply = answer(&app, &event(Kind::Rest, "GET", "/v2/files/a%2Fb", "", ""));
    let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(seen["path"], "/files/a/b");
    assert_eq!(seen["params"], json!([["name", "a/b"]]));
    // Invalid patterns are refused at load, naming the setting.
    let error = Config::parse(
        &config_text(r#"strip-prefixes = [{ regex = "/v[0-9" }]"#),
        PathBuf::from("/"),
    )
    .err()
    .map(|e| format!("{e:#}"))
    .unwrap();
    assert!(error.contains("strip-prefixes[0].regex"), "{error}");
}

#[test]
fn errors_carry_their_route_or_group_error_cache_control() {
    let app = app("error-cache-control = \"no-store\"");
    // (path, expected Cache-Control) for REST, HTTP API and ALB alike.
    let cases: &[(&str, &str)] = &[
        ("/todos/1", "public, max-age=60"),
        ("/todos/99", "no-cache"),
        ("/grp/todos/99", "max-age=5"),
        ("/nope", "no-store"),
    ];
    for kind in [Kind::Rest, Kind::HttpV2, Kind::AlbMulti] {
        for (path, want) in cases {
            let reply = answer(&app, &event(kind, "GET", path, "", ""));
            assert_eq!(
                reply_header(&reply, "cache-control").as_deref(),
                Some(*want),
                "{kind:?} {path}"
            );
        }
    }
}
