//! `lamina invoke` on the shipped example config and events: the README's demo path.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn invoke_with(config: &Path, event: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("invoke")
        .arg("--config")
        .arg(config)
        .arg(event)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        event.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn body(reply: &Value) -> Value {
    serde_json::from_str(reply["body"].as_str().unwrap()).unwrap()
}

#[test]
fn example_events_through_lamina_invoke() {
    let dir = crate::support::temp_dir("invoke-examples");
    let _ = std::fs::remove_file(dir.join("todos.redb"));
    let config = crate::support::example_config(
        &dir,
        crate::support::TodosStore::File(&dir.join("todos.redb")),
    );
    let invoke = |event: &str| invoke_with(&config, &examples().join("events").join(event));
    let reply = invoke("hello-http-api.json");
    assert_eq!(reply["statusCode"], 200);
    assert_eq!(body(&reply)["message"], "Hello, Ada Lovelace!");

    let reply = invoke("hello-rest.json");
    assert_eq!(reply["statusCode"], 200);
    assert_eq!(reply["body"], "Hello, world!\n");
    assert_eq!(reply["isBase64Encoded"], false);
    let headers = &reply["multiValueHeaders"];
    assert_eq!(
        headers["content-type"],
        json!(["text/plain; charset=utf-8"])
    );
    // The global `timing` middleware: the event's request id (none here: invoke's own) and
    // a duration.
    assert_eq!(
        headers["x-request-id"].as_array().unwrap().len(),
        1,
        "{reply}"
    );
    assert!(
        headers["server-timing"][0]
            .as_str()
            .unwrap()
            .starts_with("app;dur="),
        "{reply}"
    );

    // The same handler in Python, and the TypeScript todos, behind the same global chain.
    let reply = invoke("hello-python-http-api.json");
    assert_eq!(reply["statusCode"], 200, "{reply}");
    assert_eq!(body(&reply)["message"], "Hello, Ada Lovelace!");
    let reply = invoke("todos-missing-typescript-http-api.json");
    assert_eq!(reply["statusCode"], 404, "{reply}");
    assert_eq!(body(&reply)["error"]["message"], "no todo with id 99");

    let reply = invoke("echo-http-api.json");
    assert_eq!(reply["cookies"], json!(["theme=dark", "lang=en"]));
    let seen = body(&reply);
    assert_eq!(seen["method"], "PUT");
    assert_eq!(
        seen["body"],
        json!({"encoding": "base64", "data": "AAECA/+AgA=="})
    );
    assert_eq!(
        seen["context"]["authorizer"]["jwt"]["claims"]["sub"],
        "user-42"
    );

    // The todos persist in the config's file store, from one process to the next.
    let reply = invoke("todos-create-rest.json");
    assert_eq!(reply["statusCode"], 201, "{reply}");
    assert_eq!(reply["multiValueHeaders"]["location"], json!(["/todos/1"]));
    let reply = invoke("todos-create-rest.json");
    assert_eq!(reply["multiValueHeaders"]["location"], json!(["/todos/2"]));
    let read = dir.join("read.json");
    let missing = std::fs::read_to_string(examples().join("events/todos-missing-http-api.json"))
        .unwrap()
        .replace("/todos/99", "/todos/2");
    std::fs::write(&read, missing).unwrap();
    let reply = invoke_with(&config, &read);
    assert_eq!(reply["statusCode"], 200, "{reply}");
    assert_eq!(
        body(&reply)["data"]["title"],
        "Try Lamina",
        "the envelope middleware wraps it: {reply}"
    );

    // The same request without the bearer token: the `auth` middleware answers.
    let reply = invoke("todos-create-no-token-rest.json");
    assert_eq!(reply["statusCode"], 401, "{reply}");
    assert_eq!(body(&reply)["error"]["message"], "missing bearer token");
    assert_eq!(
        reply["multiValueHeaders"]["www-authenticate"],
        json!(["Bearer realm=\"lamina\""])
    );

    let reply = invoke("todos-missing-http-api.json");
    assert_eq!(reply["statusCode"], 404);
    assert_eq!(body(&reply)["error"]["code"], "not-found");
}

#[test]
fn invoke_rejects_a_non_http_event_with_its_reason() {
    let dir = crate::support::temp_dir("invoke-bad");
    let event = dir.join("sqs.json");
    std::fs::write(&event, r#"{"Records": [{"eventSource": "aws:sqs"}]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("invoke")
        .arg("--config")
        .arg(crate::support::test_config_file("invoke-bad"))
        .arg(&event)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("an event-source batch (`Records`"),
        "{stderr}"
    );
}
