//! One contract, every language: the Rust, Python, JavaScript (SpiderMonkey) and QuickJS
//! builds of the same components, built from `examples/` and `tests/components/` with the
//! repo's SDKs, answer the same events with the same bytes; fail the same way; and chain
//! with each other.

use crate::serve::{send, start_with};
use crate::sources::{Kind, event, with_header};
use crate::support::{block_on, guest, runtime, temp_dir};
use lamina::event::{decode, encode};
use lamina::{App, Config};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The languages, by the prefix their components and routes carry (`rs` is Rust).
const LANGS: [&str; 4] = ["rs", "py", "js", "qjs"];

/// Rust guests have no prefix in the guest directory.
fn component(lang: &str, name: &str) -> PathBuf {
    if lang == "rs" {
        guest(name)
    } else {
        guest(&format!("{lang}-{name}"))
    }
}

/// Per language: `echo` on `ANY /{lang}/echo/{*rest}`, `faults` on
/// `GET /{lang}/faults/{fault}`, and the Rust echo behind that language's `tagger` (tag
/// `t`) on `ANY /{lang}/mw/{*rest}`. Plus `/chain/{*rest}`: a Python tagger, then a
/// JavaScript one, in front of the JavaScript echo, with no Rust in the request.
fn config_text() -> String {
    let mut text = String::new();
    for lang in LANGS {
        text.push_str(&format!(
            "[components.{lang}-echo]\nsource = {echo:?}\n\
             [components.{lang}-faults]\nsource = {faults:?}\ntimeout = \"2s\"\nmemory = \"128MiB\"\n",
            echo = component(lang, "echo"),
            faults = component(lang, "faults"),
        ));
        text.push_str(&format!(
            "[components.{lang}-tagger]\nsource = {tagger:?}\nconfig = {{ tag = \"t\" }}\n",
            tagger = component(lang, "tagger"),
        ));
    }
    text.push_str(&format!(
        "[components.py-first]\nsource = {py:?}\nconfig = {{ tag = \"py\" }}\n\
         [components.js-second]\nsource = {js:?}\nconfig = {{ tag = \"js\" }}\n",
        py = component("py", "tagger"),
        js = component("js", "tagger"),
    ));
    for lang in LANGS {
        text.push_str(&format!(
            "[[routes]]\nmethod = \"ANY\"\npath = \"/{lang}/echo/{{*rest}}\"\ncomponent = \"{lang}-echo\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/{lang}/faults/{{fault}}\"\ncomponent = \"{lang}-faults\"\n"
        ));
        text.push_str(&format!(
            "[[routes]]\nmethod = \"ANY\"\npath = \"/{lang}/mw/{{*rest}}\"\ncomponent = \"rs-echo\"\n\
             middleware = [\"{lang}-tagger\"]\n"
        ));
    }
    text.push_str(
        "[[routes]]\nmethod = \"ANY\"\npath = \"/chain/{*rest}\"\ncomponent = \"js-echo\"\n\
         middleware = [\"py-first\", \"js-second\"]\n",
    );
    text
}

fn polyglot_app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let config = Config::parse(&config_text(), PathBuf::from("/")).unwrap();
        App::from_config(&config, runtime()).unwrap()
    })
}

/// Decode → handle → encode, as the Lambda front door does, with request id `rt-1`.
fn round_trip(payload: &Value) -> Vec<u8> {
    let (origin, request) = decode(payload.to_string().as_bytes(), "rt-1").unwrap();
    let response = block_on(polyglot_app().handle(request));
    encode(origin, &response)
}

/// `reply` with `/{lang}/` written as `/LANG/` and the digits of each `time-epoch-ms`
/// (the host's receive time, for sources that carry none) as `T`, so replies for each
/// language's route compare byte for byte.
fn neutral(reply: &[u8], lang: &str) -> String {
    let text = String::from_utf8(reply.to_vec())
        .unwrap()
        .replace(&format!("/{lang}/"), "/LANG/");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("time-epoch-ms") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let start = after.find(|c: char| c.is_ascii_digit()).unwrap();
        let end = start + after[start..].find(|c: char| !c.is_ascii_digit()).unwrap();
        out.push_str(&after[..start]);
        out.push('T');
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Every event shape the host decodes.
const SHAPES: [Kind; 8] = crate::sources::ALL;

/// Request parts that exercise JSON escaping and both body encodings: non-ASCII and
/// control characters in the query, a quote, a backslash and a tab in a header, a UTF-8
/// body, a binary one, one that starts with a byte order mark; a status given as `+201`;
/// and, where the source has one, an authorizer whose claims hold strings, integers,
/// booleans, nulls and nested arrays and objects.
fn events(lang: &str) -> Vec<Value> {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let query =
        "x=1&x=2&name=%C3%A9t%C3%A9&ctl=%01%1F%7F&sep=%E2%80%A8&set-cookie=a%3D1&set-cookie=b%3D2";
    let claims = serde_json::json!({
        "sub": "user-42", "exp": 1_795_341_600_u64, "iat": -5, "admin": false, "nick": null,
        "groups": ["a", "b\"c"], "org": {"id": 7, "name": "\u{e9}t\u{e9}", "tags": []},
    });
    let mut out = Vec::new();
    for kind in SHAPES {
        for (method, body, extra) in [
            (
                "POST",
                b64("h\u{e9}llo \u{2713} \"quoted\"\n".as_bytes()),
                "",
            ),
            ("PUT", b64(&[0, 159, 146, 150, 255]), ""),
            ("GET", String::new(), ""),
            (
                "DELETE",
                b64("\u{feff}BOM first".as_bytes()),
                "&status=%2B201",
            ),
        ] {
            let path = format!("/{lang}/echo/a%20b/c");
            let mut e = event(kind, method, &path, &format!("{query}{extra}"), &body);
            match kind {
                Kind::Rest | Kind::HttpV1 => {
                    e["requestContext"]["authorizer"] = serde_json::json!({"claims": claims});
                }
                Kind::HttpV2 => {
                    e["requestContext"]["authorizer"] =
                        serde_json::json!({"jwt": {"claims": claims, "scopes": ["s"]}});
                }
                _ => {}
            }
            out.push(with_header(
                with_header(e, "x-quote", "a\"b\\c\td"),
                "x-unicode-ish",
                "caf%C3%A9",
            ));
        }
    }
    out
}

#[test]
fn echo_answers_byte_for_byte_the_same_in_rust_python_and_javascript_from_every_source() {
    let rust: Vec<String> = events("rs")
        .iter()
        .map(|e| neutral(&round_trip(e), "rs"))
        .collect();
    // The Rust echo saw what the events carry (so equal replies mean something).
    let first: Value = serde_json::from_slice(&round_trip(&events("rs")[0])).unwrap();
    let seen: Value = serde_json::from_str(first["body"].as_str().unwrap()).unwrap();
    assert_eq!(seen["body"]["data"], "h\u{e9}llo \u{2713} \"quoted\"\n");
    assert!(
        rust[1].contains("AJ+Slv8="),
        "binary body as base64: {}",
        rust[1]
    );
    for lang in ["py", "js", "qjs"] {
        for (i, e) in events(lang).iter().enumerate() {
            assert_eq!(
                neutral(&round_trip(e), lang),
                rust[i],
                "{lang} echo differs from Rust's for event {i} ({:?})",
                SHAPES[i / 4]
            );
        }
    }
}

#[test]
fn echo_answers_the_same_through_lamina_serve() {
    let config = temp_dir("polyglot-serve").join("lamina.toml");
    std::fs::write(&config, config_text()).unwrap();
    let server = start_with(&config);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bodies: Vec<String> = LANGS
        .iter()
        .map(|lang| {
            let path = format!("/{lang}/echo/x%2Fy/%C3%A9?q=%E2%9C%93&q=2");
            let res = rt.block_on(send(
                &server,
                "PATCH",
                &path,
                &[("cookie", "a=1; b=2"), ("x-list", "one"), ("x-list", "two")],
                "{\"n\": 1}",
            ));
            assert_eq!(res.status, 200, "{lang}");
            // Local request ids differ per request: the same placeholder for each.
            let seen: Value = res.json();
            let id = seen["context"]["request-id"].as_str().unwrap().to_owned();
            neutral(&res.body, lang).replace(&id, "ID")
        })
        .collect();
    for (lang, body) in LANGS.iter().zip(&bodies).skip(1) {
        assert_eq!(
            body, &bodies[0],
            "{lang} differs from Rust through lamina serve"
        );
    }
    assert!(bodies[0].contains(r#"["x-list","one"],["x-list","two"]"#));
}

/// `GET /{lang}/faults/{fault}` with request id `rt-1`: the status and the reply's body.
fn fault(lang: &str, name: &str) -> (u16, String) {
    let e = event(
        Kind::HttpV2,
        "GET",
        &format!("/{lang}/faults/{name}"),
        "",
        "",
    );
    let reply: Value = serde_json::from_slice(&round_trip(&e)).unwrap();
    (
        u16::try_from(reply["statusCode"].as_u64().unwrap()).unwrap(),
        reply["body"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn typed_errors_exceptions_loops_and_memory_bombs_end_the_same_in_every_language() {
    // What each fault becomes in Rust: the reference.
    let typed = fault("rs", "error");
    assert_eq!(typed.0, 418);
    let panic = fault("rs", "panic");
    assert_eq!(panic.0, 500);
    let bad_status = fault("rs", "bad-status");
    let bad_header = fault("rs", "bad-header");
    for lang in ["py", "js", "qjs"] {
        assert_eq!(fault(lang, "error"), typed, "{lang}: a typed error");
        assert_eq!(fault(lang, "panic"), panic, "{lang}: an uncaught exception");
        assert_eq!(fault(lang, "bad-status"), bad_status, "{lang}: status 1000");
        assert_eq!(
            fault(lang, "bad-header"),
            bad_header,
            "{lang}: CRLF in a header"
        );
        // Fresh instance per request: module state never carries over.
        assert_eq!(fault(lang, "calls"), (200, "1".to_owned()), "{lang}");
        assert_eq!(fault(lang, "calls"), (200, "1".to_owned()), "{lang}");
        let (status, body) = fault(lang, "loop");
        assert_eq!(status, 504, "{lang}: an infinite loop: {body}");
        let (status, body) = fault(lang, "alloc");
        assert_eq!(status, 500, "{lang}: a memory bomb: {body}");
        let (status, body) = fault(lang, "recurse");
        assert_eq!(status, 500, "{lang}: unbounded recursion: {body}");
        // And the component keeps serving.
        assert_eq!(fault(lang, "ok"), (200, "fine".to_owned()), "{lang}");
    }
}

#[test]
fn metrics_and_the_trace_header_work_the_same_in_every_language() {
    // Each `faults` adds the same values and has the same three refused, with the host's
    // messages; without a trace header on the invocation there is none to see.
    let (status, body) = fault("rs", "metrics");
    assert_eq!(status, 200, "{body}");
    let reference: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reference["refused"].as_array().unwrap().len(), 3, "{body}");
    assert!(reference["trace"].is_null() && reference["trace_id"].is_null());
    for lang in ["py", "js", "qjs"] {
        let (status, body) = fault(lang, "metrics");
        assert_eq!(status, 200, "{lang}: {body}");
        let got: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(got, reference, "{lang}");
    }
}

/// `method /{lang}/mw/p` through `lang`'s tagger, with `headers`, request id `rt-1`: the
/// reply (status, headers without timing, body) with the language neutralized.
fn through_tagger(lang: &str, headers: &[(&str, &str)]) -> String {
    let mut e = event(Kind::HttpV2, "GET", &format!("/{lang}/mw/p"), "", "");
    for (k, v) in headers {
        e = with_header(e, k, v);
    }
    neutral(&round_trip(&e), lang)
}

#[test]
fn middleware_passes_answers_refuses_and_fails_the_same_in_every_language() {
    for headers in [
        &[][..],
        &[("x-respond", "t")][..],
        &[("x-refuse", "t")][..],
        &[("x-trap-in", "t")][..],
        &[("x-trap-out", "t")][..],
        &[("x-pass", "t")][..],
    ] {
        let rust = through_tagger("rs", headers);
        for lang in ["py", "js", "qjs"] {
            assert_eq!(
                through_tagger(lang, headers),
                rust,
                "{lang} tagger with {headers:?}"
            );
        }
    }
    // And the reference did what each case says.
    let reply: Value = serde_json::from_str(&through_tagger("rs", &[])).unwrap();
    assert_eq!(reply["headers"]["x-trail-back"], "t");
    assert_eq!(reply["headers"]["x-kept-t"], "/LANG/mw/p");
    let reply: Value = serde_json::from_str(&through_tagger("rs", &[("x-respond", "t")])).unwrap();
    assert_eq!(
        (reply["statusCode"].as_u64(), reply["body"].as_str()),
        (Some(418), Some("answered by t"))
    );
}

#[test]
fn a_python_middleware_in_front_of_a_javascript_handler_with_no_rust_in_the_request() {
    let e = event(Kind::Rest, "POST", "/chain/x", "", "");
    let reply: Value = serde_json::from_slice(&round_trip(&e)).unwrap();
    assert_eq!(reply["statusCode"], 200);
    let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    let header = |name: &str| {
        seen["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
    };
    // In order on the way in (Python, then JavaScript), attributes included ...
    assert_eq!(header("x-trail"), Some("py,js".into()));
    assert_eq!(
        seen["context"]["attributes"],
        serde_json::json!([["trail", "py,js"]])
    );
    // ... and in reverse on the way back, each with what it kept from its on-request.
    let back = &reply["multiValueHeaders"];
    assert_eq!(back["x-trail-back"], serde_json::json!(["js,py"]));
    assert_eq!(back["x-kept-py"], serde_json::json!(["/chain/x"]));
    assert_eq!(back["x-kept-js"], serde_json::json!(["/chain/x"]));
    // A Python short-circuit answers before the JavaScript middleware and handler run.
    let e = with_header(
        event(Kind::Rest, "GET", "/chain/x", "", ""),
        "x-respond",
        "py",
    );
    let reply: Value = serde_json::from_slice(&round_trip(&e)).unwrap();
    assert_eq!(
        (reply["statusCode"].as_u64(), reply["body"].as_str()),
        (Some(418), Some("answered by py"))
    );
}

/// A request: method, path, headers, body.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn the_python_and_typescript_examples_answer_like_the_rust_ones_in_the_demo() {
    // The Rust todos on their seed list, as the Python and TypeScript ones serve theirs.
    let examples = crate::support::example_config(
        &temp_dir("polyglot-demo"),
        crate::support::TodosStore::Seed,
    );
    let server = start_with(&examples);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let token = crate::support::jwt(
        &serde_json::json!({"sub": "demo-user", "scope": "todos:write"}),
        "lamina-demo-secret",
    );
    let auth = format!("Bearer {token}");
    let json = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let cases: [Case<'_>; 12] = [
        ("GET", "/hello", &[], ""),
        ("GET", "/hello/Ada%20Lovelace", &[], ""),
        ("GET", "/todos", &[], ""),
        ("GET", "/todos?done=false", &[], ""),
        ("GET", "/todos?done=maybe", &[], ""),
        ("GET", "/todos/2", &[], ""),
        ("GET", "/todos/99", &[], ""),
        ("GET", "/todos/x", &[], ""),
        ("POST", "/todos", &json, r#"{"title":"  try lamina  "}"#),
        ("POST", "/todos", &json, r#"{"title":""}"#),
        (
            "POST",
            "/todos",
            &[("content-type", "application/json")],
            r#"{"title":"x"}"#,
        ),
        (
            "DELETE",
            "/todos/3",
            &[("authorization", auth.as_str())],
            "",
        ),
    ];
    // Malformed JSON: each language's parser words it, but every one says where.
    for prefix in ["", "/py", "/js"] {
        let res = rt.block_on(send(
            &server,
            "POST",
            &format!("{prefix}/todos"),
            &json,
            "{\"title\":",
        ));
        assert_eq!(res.status, 400, "{prefix}");
        let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains("line 1 column"), "{prefix}: {message}");
    }
    for (method, path, headers, body) in cases {
        let answer = |prefix: &str| {
            let res = rt.block_on(send(
                &server,
                method,
                &format!("{prefix}{path}"),
                headers,
                body,
            ));
            let location = res
                .headers
                .get("location")
                .map(|v| v.to_str().unwrap().trim_start_matches(prefix).to_owned());
            let text = String::from_utf8(res.body.to_vec()).unwrap();
            // Error bodies carry the request id, different for each request.
            let text = match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(mut o)) if o.contains_key("error") => {
                    o["error"].as_object_mut().unwrap().remove("request-id");
                    Value::Object(o).to_string()
                }
                _ => text,
            };
            (res.status, location, text)
        };
        let rust = answer("");
        if path == "/todos/2" {
            // The envelope middleware wraps GET /todos/{id} in Rust's route only.
            let wrapped: Value = serde_json::from_str(&rust.2).unwrap();
            for prefix in ["/py", "/js"] {
                let (status, _, text) = answer(prefix);
                assert_eq!(status, 200);
                assert_eq!(
                    serde_json::from_str::<Value>(&text).unwrap(),
                    wrapped["data"]
                );
            }
            continue;
        }
        for prefix in ["/py", "/js"] {
            assert_eq!(
                answer(prefix),
                rust,
                "{method} {prefix}{path} differs from Rust"
            );
        }
    }
}
