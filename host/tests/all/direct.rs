//! Direct invocations (`[direct]`): a payload that is not an HTTP event reaches the `rpc`
//! test guest through the real Lambda loop, and its errors come back as Lambda function
//! errors whose `errorMessage` API Gateway's `selectionPattern`s select on.

use crate::lambda_loop::{Outcome, RuntimeApi, expect_response, rest_event, start_function_with};
use crate::support::{guest, temp_dir, tokio_runtime};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A config with `rpc` behind `[direct]` (selected by `action`, the payload checked by a
/// schema) and `hello` on an HTTP route, in `dir`.
pub(crate) fn direct_config(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("rpc.schema.json"),
        json!({
            "type": "object",
            "required": ["action"],
            "properties": {
                "action": { "type": "string" },
                "quantity": { "type": "integer", "minimum": 1 },
            },
        })
        .to_string(),
    )
    .unwrap();
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        format!(
            "[direct]\ncomponent = \"rpc\"\nselect = \"action\"\nvalidate = {{ schema = \"rpc.schema.json\" }}\n\n\
             [components.rpc]\nsource = {:?}\ntimeout = \"5s\"\n\n\
             [components.hello]\nsource = {:?}\n\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello\"\ncomponent = \"hello\"\n\n\
             [[routes]]\nmethod = \"POST\"\npath = \"/rpc/{{action}}\"\ncomponent = \"rpc\"\nfunction-errors = true\n",
            guest("rpc"),
            guest("hello"),
        ),
    )
    .unwrap();
    config
}

/// Whether API Gateway's `selectionPattern` `pattern` selects `error_message`: Java's
/// `Pattern.matches`, the whole message (API Gateway's semantics), which Rust's regex
/// matches once anchored at both ends.
pub(crate) fn selects(pattern: &str, error_message: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .unwrap()
        .is_match(error_message)
}

/// The function error of `outcome` for invocation `id`: its type, and its message parsed.
fn function_error(outcome: Outcome, id: &str) -> (String, String, Value) {
    match outcome {
        Outcome::Error { id: got, body } => {
            assert_eq!(got, id);
            let message = body["errorMessage"].as_str().unwrap().to_owned();
            let parsed = serde_json::from_str(&message)
                .unwrap_or_else(|e| panic!("errorMessage is not JSON ({e}): {message}"));
            (
                body["errorType"].as_str().unwrap().to_owned(),
                message,
                parsed,
            )
        }
        other => panic!("expected a function error for {id}, got {other:?}"),
    }
}

#[test]
fn direct_payloads_reach_the_component_and_errors_are_function_errors() {
    let dir = temp_dir("direct-loop");
    let config = direct_config(&dir);
    let rt = tokio_runtime();
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let _function = start_function_with(
            api.addr,
            &config.display().to_string(),
            &[],
            &dir.join("function.log"),
        );

        api.invoke(
            "d-1",
            &json!({ "action": "create", "item": "tea", "quantity": 2 }),
        );
        let reply = expect_response(api.next_outcome().await, "d-1");
        assert_eq!(
            reply,
            json!({ "id": 42, "item": "tea", "quantity": 2 }),
            "the body as the result"
        );

        api.invoke("d-2", &json!({ "action": "echo", "n": [1, 2] }));
        let seen = expect_response(api.next_outcome().await, "d-2");
        assert_eq!(seen["source"], "direct");
        assert_eq!(
            (seen["method"].as_str(), seen["path"].as_str()),
            (Some("POST"), Some("/echo"))
        );
        assert_eq!(seen["route"], "/{action}");
        assert_eq!(seen["content-type"], "application/json");
        assert_eq!(seen["payload"], json!({ "action": "echo", "n": [1, 2] }));

        api.invoke("d-3", &json!({ "action": "text" }));
        assert_eq!(
            expect_response(api.next_outcome().await, "d-3"),
            json!("plain words")
        );
        api.invoke("d-4", &json!({ "action": "empty" }));
        assert_eq!(
            expect_response(api.next_outcome().await, "d-4"),
            Value::Null
        );

        // Typed errors: the code is the type; the message selects the integration response.
        let patterns = [
            (400, r#".*"status":400.*"#),
            (404, r#".*"status":404.*"#),
            (409, r#".*"status":409.*"#),
            (500, r#".*"status":500.*"#),
        ];
        for (id, action, status, code) in [
            ("e-1", "missing", 404, "not-found"),
            ("e-2", "conflict", 409, "conflict"),
            ("e-3", "invalid", 400, "bad-request"),
            ("e-4", "fail", 500, "internal"),
        ] {
            api.invoke(id, &json!({ "action": action }));
            let (error_type, message, parsed) = function_error(api.next_outcome().await, id);
            assert_eq!(error_type, code, "{action}");
            assert_eq!(parsed["status"], status);
            assert_eq!(parsed["code"], code);
            assert_eq!(parsed["request-id"], id);
            assert!(!message.contains('\n'), "one line: {message}");
            let keys: Vec<&str> = ["\"status\"", "\"code\"", "\"message\"", "\"request-id\""]
                .into_iter()
                .filter(|k| message.contains(k))
                .collect();
            assert_eq!(keys.len(), 4, "{message}");
            assert!(
                message.starts_with(r#"{"status":"#),
                "status first: {message}"
            );
            for (pattern_status, pattern) in patterns {
                assert_eq!(
                    selects(pattern, &message),
                    pattern_status == status,
                    "{pattern} on {message}"
                );
            }
            assert!(
                selects(&format!(r#".*"code":"{code}".*"#), &message),
                "{message}"
            );
        }
        api.invoke("e-5", &json!({ "action": "invalid" }));
        let (_, _, parsed) = function_error(api.next_outcome().await, "e-5");
        assert_eq!(
            parsed["details"],
            json!([{ "field": "quantity", "problem": "not positive" }])
        );

        // Host errors: a stable Lamina.* type and no internals.
        api.invoke("h-1", &json!({ "action": "panic" }));
        let (error_type, message, parsed) = function_error(api.next_outcome().await, "h-1");
        assert_eq!(error_type, "Lamina.ComponentFailed");
        assert_eq!(
            (parsed["status"].as_u64(), parsed["message"].as_str()),
            (Some(500), Some("internal error"))
        );
        assert!(
            !message.contains("secret-token") && !message.contains("boom"),
            "{message}"
        );
        api.invoke("h-2", &json!({ "action": "create", "quantity": 0 }));
        let (error_type, _, parsed) = function_error(api.next_outcome().await, "h-2");
        assert_eq!(error_type, "Lamina.InvalidPayload", "the schema: {parsed}");
        let status = parsed["status"].as_u64().unwrap();
        assert!((400..500).contains(&status), "{parsed}");
        api.invoke("h-3", &json!({ "order": 7 }));
        let (error_type, _, parsed) = function_error(api.next_outcome().await, "h-3");
        assert_eq!(
            error_type, "Lamina.BadRequest",
            "no action to select: {parsed}"
        );
        assert_eq!(parsed["status"], 400);
        api.invoke("h-4", &json!(["not", "an", "object"]));
        let (error_type, _, parsed) = function_error(api.next_outcome().await, "h-4");
        assert!(error_type.starts_with("Lamina."), "{error_type}");
        assert_eq!(parsed["status"], 400, "{parsed}");

        // HTTP events still take the routes, and answer as before.
        api.invoke("http-1", &rest_event("GET", "/hello", None));
        let reply = expect_response(api.next_outcome().await, "http-1");
        assert_eq!(reply["statusCode"], 200, "{reply}");
        // A route with `function-errors`: a success is the proxy response, an error fails
        // the invocation.
        api.invoke(
            "http-2",
            &rest_event("POST", "/rpc/create", Some(r#"{"item":"x","quantity":1}"#)),
        );
        let reply = expect_response(api.next_outcome().await, "http-2");
        assert_eq!(reply["statusCode"], 201, "{reply}");
        api.invoke("http-3", &rest_event("POST", "/rpc/missing", Some("{}")));
        let (error_type, _, parsed) = function_error(api.next_outcome().await, "http-3");
        assert_eq!(
            (error_type.as_str(), parsed["status"].as_u64()),
            ("not-found", Some(404))
        );
    });
}

#[test]
fn lamina_invoke_prints_a_direct_result_or_its_function_error() {
    let dir = temp_dir("direct-invoke");
    let config = direct_config(&dir);
    let invoke = |payload: &Value| {
        let event = dir.join("payload.json");
        std::fs::write(&event, payload.to_string()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_lamina"))
            .args(["invoke", "--config"])
            .arg(&config)
            .arg(&event)
            .env("LAMINA_LOG", "off")
            .output()
            .unwrap();
        let printed: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.success(), printed)
    };
    let (ok, printed) = invoke(&json!({ "action": "create", "item": "x", "quantity": 1 }));
    assert!(ok);
    assert_eq!(printed["id"], 42);
    let (ok, printed) = invoke(&json!({ "action": "missing" }));
    assert!(!ok, "a function error fails the command");
    assert_eq!(printed["errorType"], "not-found");
    let message: Value = serde_json::from_str(printed["errorMessage"].as_str().unwrap()).unwrap();
    assert_eq!(message["status"], 404);
}

#[test]
fn without_a_direct_section_a_direct_payload_is_refused_as_before() {
    let dir = temp_dir("direct-none");
    let event = dir.join("payload.json");
    std::fs::write(&event, r#"{"action": "create"}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(["invoke", "--config"])
        .arg(crate::support::test_config_file("direct-none"))
        .arg(&event)
        .env("LAMINA_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a JSON object without `requestContext` is not an HTTP request event")
            && stderr.contains("this looks like a direct invocation"),
        "{stderr}"
    );
}
