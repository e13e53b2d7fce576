//! The versioned contract: components built against `lamina:http@0.1.0` (checked in, built
//! from f3db97c's SDK; `tests/compat/lamina-http-0.1.0/README.md`) keep loading and
//! answering on this host, beside components built against the current version, through a
//! real Lambda event shape — and are kept out of what they cannot represent.

use crate::sources::{Kind, event, with_header};
use crate::support::{JWT_SECRET, block_on, guest, jwt, lamina_check, runtime, temp_dir};
use lamina::component::Contract;
use lamina::{App, Config};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A component checked in at `tests/compat/lamina-http-0.1.0/`.
fn v0_1(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/compat/lamina-http-0.1.0")
        .join(format!("{name}.wasm"))
}

/// `global` in front of everything (`timing` is 0.1.0's), the 0.1.0 `auth` on one route,
/// the 0.1.0 `echo` and `todos` and today's `hello` as handlers; `extra` goes first.
fn mixed_config(global: &[&str], extra: &str) -> String {
    format!(
        r#"middleware = {global:?}
{extra}
[components.timing]
source = "{timing}"
config = {{ name = "old" }}

[components.auth]
source = "{auth}"
secrets = {{ secret = "{JWT_SECRET}" }}

[components.echo]
source = "{echo}"

[components.todos]
source = "{todos}"

[components.hello]
source = "{hello}"

[[routes]]
method = "ANY"
path = "/todos"
component = "todos"

[[routes]]
method = "ANY"
path = "/todos/{{id}}"
component = "todos"

[[routes]]
method = "ANY"
path = "/echo/{{*rest}}"
component = "echo"

[[routes]]
method = "POST"
path = "/private/{{*rest}}"
component = "echo"
middleware = ["auth"]

[[routes]]
method = "GET"
path = "/hello/{{name}}"
component = "hello"
"#,
        timing = v0_1("timing").display(),
        auth = v0_1("auth").display(),
        echo = v0_1("echo").display(),
        todos = v0_1("todos").display(),
        hello = guest("hello").display(),
    )
}

fn load(text: &str) -> anyhow::Result<App> {
    let config = Config::parse(text, PathBuf::from("/"))?;
    App::from_config(&config, runtime())
}

/// Sends `event` through `app`; the Lambda response's status, headers and body as JSON.
fn answer(app: &App, event: &Value) -> (u16, Value, Value) {
    let reply = block_on(app.answer(
        event.to_string().as_bytes(),
        &lamina::Invocation::new("compat-1"),
    ))
    .unwrap_or_else(|e| panic!("function error: {e}"));
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    let body = reply["body"].as_str().unwrap_or_default();
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::from(body));
    // Payload 1.0 replies carry `multiValueHeaders`; 2.0 ones `headers`.
    let headers = match reply["multiValueHeaders"].as_object() {
        Some(multi) => multi
            .iter()
            .map(|(k, v)| (k.clone(), v[0].clone()))
            .collect(),
        None => reply["headers"].clone(),
    };
    (
        u16::try_from(reply["statusCode"].as_u64().unwrap()).unwrap(),
        headers,
        body,
    )
}

#[test]
fn components_built_against_0_1_0_load_and_answer_beside_current_ones() {
    let app = load(&mixed_config(&["timing"], "")).unwrap();
    let contracts: Vec<(&str, Contract)> = app
        .components()
        .iter()
        .map(|(name, guest)| (name.as_str(), guest.contract()))
        .collect();
    assert_eq!(
        contracts,
        [
            ("auth", Contract::V0_1),
            ("echo", Contract::V0_1),
            ("hello", Contract::V0_2),
            ("timing", Contract::V0_1),
            ("todos", Contract::V0_1),
        ]
    );

    // Every field of the request reaches the old handler as the event has it; the old
    // middleware's headers and its config value come back.
    let e = with_header(
        event(Kind::HttpV2, "POST", "/echo/a%20b", "x=1&x=2", "aGk="),
        "x-request-id",
        "req-7",
    );
    let (status, headers, seen) = answer(&app, &e);
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/echo/a b");
    assert_eq!(seen["raw-path"], "/echo/a b");
    assert_eq!(seen["route"], "/echo/{*rest}");
    assert_eq!(seen["params"], json!([["rest", "a b"]]));
    assert_eq!(seen["query"], json!([["x", "1"], ["x", "2"]]));
    assert_eq!(seen["raw-query"], "x=1&x=2");
    assert_eq!(seen["cookies"], json!([["session", "abc"]]));
    assert_eq!(seen["body"], json!({ "encoding": "utf-8", "data": "hi" }));
    let context = &seen["context"];
    assert_eq!(context["source"], "apigw-http-v2");
    assert_eq!(context["request-id"], "compat-1");
    assert_eq!(context["stage"], e["requestContext"]["stage"]);
    assert_eq!(
        context["source-ip"],
        e["requestContext"]["http"]["sourceIp"]
    );
    assert_eq!(
        context["user-agent"],
        e["requestContext"]["http"]["userAgent"]
    );
    assert!(context["time-epoch-ms"].as_u64().is_some(), "{context}");
    for header in [
        json!(["x-request-id", "req-7"]),
        json!(["x-rep", "one,two"]),
    ] {
        assert!(
            seen["headers"].as_array().unwrap().contains(&header),
            "{header} reached the handler: {seen}"
        );
    }
    assert_eq!(headers["x-request-id"], "req-7");
    let timing = headers["server-timing"].as_str().unwrap();
    assert!(timing.starts_with("old;dur="), "{timing}");

    // Typed errors from an old handler, details included.
    let (status, _, body) = answer(&app, &event(Kind::HttpV2, "GET", "/todos/99", "", ""));
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not-found");
    assert_eq!(body["error"]["message"], "no todo with id 99");
    let e = with_header(
        event(Kind::HttpV2, "POST", "/todos", "", "eyJ0aXRsZSI6ICIgIn0="),
        "content-type",
        "application/json",
    );
    let (status, _, body) = answer(&app, &e);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "unprocessable");
    assert_eq!(
        body["error"]["details"],
        json!([{ "field": "title", "problem": "empty" }])
    );

    // A current handler behind the old global middleware.
    let (status, headers, body) = answer(&app, &event(Kind::HttpV1, "GET", "/hello/ada", "", ""));
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("ada"), "{body}");
    assert!(headers["server-timing"].is_string(), "{headers}");

    // The old auth middleware's refusal, and its pass with a valid token: the handler sees
    // the attribute it set.
    let (status, _, body) = answer(&app, &event(Kind::AlbSingle, "POST", "/private/x", "", ""));
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let token = jwt(
        &json!({ "sub": "ada", "exp": 4_000_000_000u64 }),
        JWT_SECRET,
    );
    let e = with_header(
        event(Kind::FunctionUrl, "POST", "/private/x", "", ""),
        "authorization",
        &format!("Bearer {token}"),
    );
    let (status, _, seen) = answer(&app, &e);
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["context"]["source"], "function-url");
    assert!(
        seen["context"]["attributes"]
            .as_array()
            .unwrap()
            .contains(&json!(["subject", "ada"])),
        "{seen}"
    );
}

#[test]
fn a_0_1_0_component_cannot_be_where_direct_invocations_go() {
    for (global, extra, who) in [
        (&[][..], "[direct]\ncomponent = \"echo\"\n", "echo"),
        (
            &[],
            "[direct]\ncomponent = \"hello\"\nmiddleware = [\"auth\"]\n",
            "auth",
        ),
        // The global middleware sees direct invocations too.
        (&["timing"], "[direct]\ncomponent = \"hello\"\n", "timing"),
    ] {
        let error = format!(
            "{:#}",
            load(&mixed_config(global, extra)).err().expect("refused")
        );
        assert!(
            error.contains(&format!("{who:?} is built against lamina:http@0.1.0"))
                && error.contains("direct"),
            "{error}"
        );
    }
    // On HTTP routes only, 0.1.0 components are fine beside [direct]; a direct invocation
    // reaches the current handler.
    let direct = format!(
        "[direct]\ncomponent = \"echo-now\"\n[components.echo-now]\nsource = {:?}\n",
        guest("echo")
    );
    let app = load(&mixed_config(&[], &direct)).unwrap();
    let reply =
        block_on(app.answer(br#"{"ping": 1}"#, &lamina::Invocation::new("direct-1"))).unwrap();
    let seen: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(seen["context"]["source"], "direct", "{seen}");
    let (status, _, seen) = answer(&app, &event(Kind::HttpV2, "GET", "/echo/x", "", ""));
    assert_eq!(status, 200, "{seen}");
}

#[test]
fn lamina_check_and_version_name_the_contracts() {
    let dir = temp_dir("contract-check");
    let config = dir.join("lamina.toml");
    std::fs::write(&config, mixed_config(&["timing"], "")).unwrap();
    let out = lamina_check(&config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("serving lamina:http@0.2.0, lamina:http@0.1.0, wasi:http/proxy@0.2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("component echo (handler, lamina:http@0.1.0)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("component hello (handler, lamina:http@0.2.0)"),
        "{stdout}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        version.starts_with(concat!("lamina ", env!("CARGO_PKG_VERSION")))
            && version.contains("lamina:http@0.1.0"),
        "{version}"
    );
}

#[test]
fn a_component_built_against_an_unreleased_0_1_0_is_refused_at_load() {
    let unreleased =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/compat/unreleased-0.1.0/hello.wasm");
    let config = format!(
        "[components.hello]\nsource = {unreleased:?}\n[[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n"
    );
    let error = format!("{:#}", load(&config).err().expect("refused"));
    assert!(
        error.contains("exports lamina:http/request-handler@0.1.0")
            && error.contains("direct")
            && error.contains("rebuild it"),
        "{error}"
    );
}
