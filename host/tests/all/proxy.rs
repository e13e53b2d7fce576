//! A standard `wasi:http/proxy` component (`tests/components/proxy`, built from the WASI WIT
//! with no Lamina SDK) bound to routes: real API Gateway events and `lamina serve` reach it
//! with a Lamina middleware in front and CORS and compression around it, and every way its
//! answer can go wrong is reported and survived.

use crate::serve::{send, start_with_args};
use crate::sources::{Kind, event, with_header};
use crate::support::{block_on, guest, runtime, temp_dir};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lamina::{App, Config, event as lambda_event};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The proxy on `/p/...` (and on the paths of two real fixtures) behind the `tagger`
/// middleware `t1`, with CORS and gzip over everything.
fn config_text() -> String {
    format!(
        r#"
cors = {{ allow-origins = ["https://app.example"] }}
compression = {{ encodings = ["gzip"], min-size = 1024 }}

[components.proxy]
source = "{proxy}"
timeout = "500ms"
max-response = "1MiB"

[components.t1]
source = "{tagger}"
config = {{ tag = "t1" }}

[[routes]]
method = "ANY"
path = "/p/{{*rest}}"
component = "proxy"
middleware = ["t1"]

[components.tiny]
source = "{proxy}"
max-response = "4KiB"

# Time enough to hoard gigabytes of host memory, were it not for the cap on resources.
[components.hoarder]
source = "{proxy}"
timeout = "20s"

[[routes]]
method = "GET"
path = "/hoard/{{*rest}}"
component = "hoarder"

[[routes]]
method = "GET"
path = "/tiny/{{*rest}}"
component = "tiny"

[[routes]]
method = "POST"
path = "/hello/world"
component = "proxy"
middleware = ["t1"]

[[routes]]
method = "POST"
path = "/my/path"
component = "proxy"
middleware = ["t1"]
"#,
        proxy = guest("proxy").display(),
        tagger = guest("tagger").display(),
    )
}

fn proxy_app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let config = Config::parse(&config_text(), PathBuf::from("/")).unwrap();
        App::from_config(&config, runtime()).unwrap()
    })
}

/// Decode → handle → encode, as the Lambda front door does; the reply as JSON.
fn invoke(payload: &Value) -> Value {
    let (format, request) =
        lambda_event::decode(payload.to_string().as_bytes(), "proxy-1").unwrap();
    let response = block_on(proxy_app().handle(request));
    serde_json::from_slice(&lambda_event::encode(format, &response)).unwrap()
}

/// A reply header, from `headers` or `multiValueHeaders`, whichever the shape has.
fn reply_header(reply: &Value, name: &str) -> Option<String> {
    if let Some(v) = reply["headers"][name].as_str() {
        return Some(v.to_owned());
    }
    reply["multiValueHeaders"][name][0]
        .as_str()
        .map(str::to_owned)
}

/// What the proxy's echo saw, from a reply.
fn seen(reply: &Value) -> Value {
    let body = reply["body"].as_str().unwrap();
    let text = if reply["isBase64Encoded"] == true {
        String::from_utf8(STANDARD.decode(body).unwrap()).unwrap()
    } else {
        body.to_owned()
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn seen_header(seen: &Value, name: &str) -> Option<String> {
    seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == name)
        .map(|h| h[1].as_str().unwrap().to_owned())
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn real_rest_and_http_api_events_reach_a_proxy_component_behind_a_middleware() {
    // API Gateway's own sample events, unchanged.
    for (name, path) in [
        ("01-rest-v1.rust-events.json", "/hello/world"),
        ("03-httpapi-v2.powertools.json", "/my/path"),
    ] {
        let event = fixture(name);
        let reply = invoke(&event);
        assert_eq!(reply["statusCode"], 200, "{name}: {reply}");
        let seen = seen(&reply);
        assert_eq!(seen["method"], "POST", "{name}");
        let path_with_query = seen["path_with_query"].as_str().unwrap();
        assert!(
            path_with_query.starts_with(path),
            "{name}: {path_with_query}"
        );
        // API Gateway only takes HTTPS (the REST fixture's X-Forwarded-Proto says so too).
        assert_eq!(seen["scheme"], "https", "{name}");
        assert_eq!(seen["body"], event["body"], "{name}: the body as sent");
        // The middleware ran first and its change reached the proxy; it saw the way out.
        assert_eq!(
            seen_header(&seen, "x-trail").as_deref(),
            Some("t1"),
            "{name}"
        );
        assert_eq!(reply_header(&reply, "x-trail-back").as_deref(), Some("t1"));
        assert_eq!(
            reply_header(&reply, "x-world").as_deref(),
            Some("wasi:http/proxy")
        );
        assert_eq!(
            reply_header(&reply, "content-type").as_deref(),
            Some("application/json")
        );
    }
    let v2 = seen(&invoke(&fixture("03-httpapi-v2.powertools.json")));
    assert_eq!(
        v2["path_with_query"], "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
        "the raw query string as API Gateway delivered it"
    );
    let rest = fixture("01-rest-v1.rust-events.json");
    let seen_rest = seen(&invoke(&rest));
    assert_eq!(
        seen_rest["authority"].as_str(),
        rest["headers"]["Host"].as_str(),
        "the authority is the Host header"
    );
}

#[test]
fn every_source_gives_the_proxy_the_path_routing_saw_with_the_query_headers_and_body() {
    let body = STANDARD.encode("hi there");
    for kind in [
        Kind::Rest,
        Kind::HttpV1,
        Kind::HttpV2,
        Kind::FunctionUrl,
        Kind::AlbMulti,
        Kind::LatticeV2,
    ] {
        let e = with_header(
            event(kind, "PUT", "/p/files/a%2Fb", "x=1&q=caf%C3%A9", &body),
            "origin",
            "https://app.example",
        );
        let reply = invoke(&e);
        assert_eq!(reply["statusCode"], 200, "{kind:?}: {reply}");
        let seen = seen(&reply);
        assert_eq!(seen["method"], "PUT", "{kind:?}");
        let (path, query) = seen["path_with_query"]
            .as_str()
            .unwrap()
            .split_once('?')
            .unwrap();
        // HTTP APIs decode the path before Lamina sees it; the others keep the encoded
        // slash, and so does the path the proxy gets (REST loses its stage).
        let expected = if matches!(kind, Kind::HttpV1 | Kind::HttpV2) {
            "/p/files/a/b"
        } else {
            "/p/files/a%2Fb"
        };
        assert_eq!(path, expected, "{kind:?}");
        let mut pairs: Vec<&str> = query.split('&').collect();
        pairs.sort_unstable();
        assert_eq!(pairs, ["q=caf%C3%A9", "x=1"], "{kind:?}");
        assert_eq!(seen["body"], "hi there", "{kind:?}");
        assert_eq!(
            seen_header(&seen, "cookie").as_deref(),
            Some("session=abc"),
            "{kind:?}: the cookie header, also where the source lists cookies apart"
        );
        // No X-Forwarded-Proto in these events: API Gateway and Function URLs are HTTPS
        // only; an ALB or Lattice listener may be either, so plain HTTP is assumed.
        let scheme = if matches!(kind, Kind::AlbMulti | Kind::LatticeV2) {
            "http"
        } else {
            "https"
        };
        assert_eq!(seen["scheme"], scheme, "{kind:?}");
        assert_eq!(
            reply_header(&reply, "access-control-allow-origin").as_deref(),
            Some("https://app.example"),
            "{kind:?}: CORS around the proxy"
        );
    }
}

#[test]
fn a_streamed_body_larger_than_the_stream_buffer_is_read_whole_and_compressed() {
    let e = with_header(
        event(Kind::HttpV2, "GET", "/p/stream", "size=300000", ""),
        "accept-encoding",
        "gzip",
    );
    let reply = invoke(&e);
    assert_eq!(reply["statusCode"], 200, "{reply}");
    assert_eq!(
        reply_header(&reply, "content-encoding").as_deref(),
        Some("gzip")
    );
    let gz = STANDARD.decode(reply["body"].as_str().unwrap()).unwrap();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut body).unwrap();
    assert_eq!(body.len(), 300_000);
    assert!(body.iter().all(|&b| b == b'x'));
    assert_eq!(
        reply["cookies"],
        json!(["a=1; Path=/", "b=2; Path=/"]),
        "both Set-Cookie headers, as HTTP API v2 carries them"
    );
}

#[test]
fn every_way_a_proxy_answer_goes_wrong_is_a_500_or_504_and_the_route_keeps_serving() {
    let cases = [
        ("trap", 500),
        ("late-trap", 500),
        ("no-response", 500),
        ("error-code", 500),
        ("unfinished", 500),
        // wasmtime takes any three-digit status; the host only 100..=599.
        ("status?code=700", 500),
        ("spin", 504),
    ];
    for (what, status) in cases {
        let (path, query) = what.split_once('?').unwrap_or((what, ""));
        let started = Instant::now();
        let reply = invoke(&event(
            Kind::HttpV2,
            "GET",
            &format!("/p/{path}"),
            query,
            "",
        ));
        assert_eq!(reply["statusCode"], status, "{what}: {reply}");
        assert!(
            !reply["body"].as_str().unwrap().contains("wasi"),
            "{what}: no internals in the body: {reply}"
        );
        if what == "spin" {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "bounded by the timeout"
            );
        }
        let ok = invoke(&event(Kind::HttpV2, "GET", "/p/echo", "", ""));
        assert_eq!(ok["statusCode"], 200, "after {what}");
    }
    // Past max-response (1 MiB): refused, not truncated.
    let reply = invoke(&event(Kind::HttpV2, "GET", "/p/stream", "size=2000000", ""));
    assert_eq!(reply["statusCode"], 500, "{reply}");
    let reply = invoke(&event(Kind::HttpV2, "GET", "/p/status", "code=204", ""));
    assert_eq!(reply["statusCode"], 204, "{reply}");
}

#[test]
fn head_is_asked_as_get_and_answered_without_a_body() {
    for path in ["/p/echo", "/p/stream"] {
        let reply = invoke(&event(Kind::HttpV2, "HEAD", path, "size=5000", ""));
        assert_eq!(reply["statusCode"], 200, "{path}: {reply}");
        assert_eq!(reply["body"], "", "{path}");
    }
    let reply = invoke(&event(Kind::HttpV2, "HEAD", "/p/echo", "", ""));
    assert_eq!(reply_header(&reply, "x-method").as_deref(), Some("GET"));
}

#[test]
fn headers_alone_over_max_response_are_refused() {
    let reply = invoke(&event(
        Kind::HttpV2,
        "GET",
        "/tiny/big-headers",
        "size=100",
        "",
    ));
    assert_eq!(reply["statusCode"], 200, "{reply}");
    let reply = invoke(&event(
        Kind::HttpV2,
        "GET",
        "/tiny/big-headers",
        "size=8000",
        "",
    ));
    assert_eq!(
        reply["statusCode"], 500,
        "an empty body under 8 KB of headers: {reply}"
    );
}

#[test]
fn the_authority_and_query_the_proxy_gets_are_always_a_valid_uri() {
    // A Host header that is not an authority: the component gets localhost.
    let e = with_header(
        event(Kind::AlbMulti, "GET", "/p/echo", "", ""),
        "host",
        "bad host!",
    );
    let got = seen_of(&e);
    assert_eq!(got["authority"], "localhost");
    assert_eq!(
        seen_header(&got, "host"),
        None,
        "host is a forbidden header in wasi:http"
    );
    // A raw query with a `#` in it would lose everything after it: rebuilt from the pairs.
    let seen = seen(&invoke(&event(
        Kind::HttpV2,
        "GET",
        "/p/echo",
        "q=a#b&x=1",
        "",
    )));
    assert_eq!(seen["path_with_query"], "/p/echo?q=a%23b&x=1");
    // Behind an ALB, X-Forwarded-Proto says the scheme; behind API Gateway it is HTTPS.
    let e = with_header(
        event(Kind::AlbMulti, "GET", "/p/echo", "", ""),
        "x-forwarded-proto",
        "https",
    );
    assert_eq!(seen_of(&e)["scheme"], "https");
    let e = with_header(
        event(Kind::HttpV2, "GET", "/p/echo", "", ""),
        "x-forwarded-proto",
        "http",
    );
    assert_eq!(seen_of(&e)["scheme"], "https");
}

fn seen_of(event: &Value) -> Value {
    seen(&invoke(event))
}

#[test]
fn a_proxy_component_cannot_be_a_middleware() {
    let text = config_text().replace("middleware = [\"t1\"]\n", "middleware = [\"proxy\"]\n");
    let config = Config::parse(&text, PathBuf::from("/")).unwrap();
    let error = format!("{:#}", App::from_config(&config, runtime()).err().unwrap());
    assert!(
        error.contains(
            "\"proxy\" is a proxy component, not a middleware (it exports wasi:http/incoming-handler)"
        ),
        "{error}"
    );
}

#[test]
fn lamina_serve_runs_a_proxy_component_for_a_real_http_client() {
    let dir = temp_dir("proxy-serve");
    let config = dir.join("lamina.toml");
    std::fs::write(&config, config_text()).unwrap();
    let log = dir.join("serve.log");
    let server = start_with_args(&config, &[], Some(&log));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let res = send(
            &server,
            "POST",
            "/p/orders?id=7",
            &[("x-custom", "yes"), ("origin", "https://app.example")],
            "{\"item\":\"tea\"}",
        )
        .await;
        assert_eq!(res.status, 200);
        let seen = res.json();
        assert_eq!(seen["method"], "POST");
        assert_eq!(seen["path_with_query"], "/p/orders?id=7");
        assert_eq!(seen["body"], "{\"item\":\"tea\"}");
        assert_eq!(seen_header(&seen, "x-custom").as_deref(), Some("yes"));
        assert_eq!(seen_header(&seen, "x-trail").as_deref(), Some("t1"));
        assert_eq!(seen["authority"], server.addr());
        assert_eq!(res.headers["x-trail-back"], "t1");
        assert_eq!(
            res.headers["access-control-allow-origin"],
            "https://app.example"
        );

        let res = send(
            &server,
            "GET",
            "/p/stream?size=200000",
            &[("accept-encoding", "gzip")],
            "",
        )
        .await;
        assert_eq!(res.status, 200);
        assert_eq!(res.headers["content-encoding"], "gzip");
        assert_eq!(res.headers.get_all("set-cookie").iter().count(), 2);

        for path in [
            "/p/no-response",
            "/p/unfinished",
            "/p/error-code",
            "/p/stream?size=2000000",
            "/hoard/hoard",
        ] {
            let res = send(&server, "GET", path, &[], "").await;
            assert_eq!(res.status, 500, "{path}");
        }
        let res = send(&server, "GET", "/p/echo", &[], "").await;
        assert_eq!(res.status, 200, "still serving");
    });
    // The guest that hoards header sets was stopped by the host's cap on live resources,
    // not by its timeout with gigabytes of host memory held.
    let rss = crate::lambda_loop::rss_bytes(server.pid());
    assert!(rss < 256 << 20, "lamina serve holds {} MiB", rss >> 20);
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    for reason in [
        "without setting a response",
        "before finishing its response body",
        "instead of a response",
        "exceeds max-response (1048576 bytes)",
        "resource table has no free keys",
    ] {
        assert!(log.contains(reason), "the log says why ({reason}): {log}");
    }
}
