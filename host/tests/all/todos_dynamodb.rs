//! The `todos` example keeping its data in DynamoDB — moto's, on loopback — through
//! `lamina_sdk::aws`, served by the real `lamina` binary: every instance is fresh, so what
//! a request sees of an earlier one's writes came from the table.

use crate::moto::{endpoint, free_port, start_moto};
use crate::serve::{Reply, Server, send, start_with_env};
use crate::support::{guest, temp_dir};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const TABLE: &str = "todos";
const SECRET_KEY: &str = "todosSecretKeyForTheTestOnly/0123456789";

/// A DynamoDB call made by the test itself, straight to moto (which does not check
/// signatures; the host's are checked against botocore in `aws.rs`).
async fn dynamodb(port: u16, operation: &str, input: &Value) -> Value {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = hyper::Request::post(format!("{}/", endpoint(port)))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(Full::new(Bytes::from(input.to_string())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(status.is_success(), "{operation}: {status} {body:?}");
    serde_json::from_slice(&body).unwrap()
}

/// `lamina serve` with `todos` bound to its routes and granted DynamoDB, `table` in its
/// config, the endpoint pointed at moto on `port`.
fn serve(name: &str, port: u16, table: &str) -> (Server, std::path::PathBuf) {
    let dir = temp_dir(name);
    let config = dir.join("lamina.toml");
    let mut text = format!(
        "[components.todos]\nsource = {:?}\nconfig = {{ table = {table:?} }}\n\
         aws = {{ services = [\"dynamodb\"], region = \"us-east-1\" }}\n",
        guest("todos"),
    );
    for (method, path) in [
        ("GET", "/todos"),
        ("POST", "/todos"),
        ("GET", "/todos/{id}"),
        ("DELETE", "/todos/{id}"),
    ] {
        text.push_str(&format!(
            "[[routes]]\nmethod = \"{method}\"\npath = \"{path}\"\ncomponent = \"todos\"\n"
        ));
    }
    std::fs::write(&config, text).unwrap();
    let endpoint = endpoint(port);
    let env = [
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIDTODOS"),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let log = dir.join("serve.log");
    (start_with_env(&config, &[], &env, Some(&log)), log)
}

async fn post(server: &Server, title: &str) -> Reply {
    send(
        server,
        "POST",
        "/todos",
        &[("content-type", "application/json")],
        &json!({ "title": title }).to_string(),
    )
    .await
}

#[test]
fn todos_are_created_listed_read_and_deleted_in_dynamodb() {
    let port = free_port();
    let dir = temp_dir("todos-dynamodb");
    let _moto = start_moto(port, &dir.join("moto.log"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        dynamodb(
            port,
            "CreateTable",
            &json!({
                "TableName": TABLE,
                "KeySchema": [{ "AttributeName": "id", "KeyType": "HASH" }],
                "AttributeDefinitions": [{ "AttributeName": "id", "AttributeType": "N" }],
                "BillingMode": "PAY_PER_REQUEST",
            }),
        )
        .await;
    });
    let (server, log) = serve("todos-dynamodb-serve", port, TABLE);
    rt.block_on(async {
        let res = send(&server, "GET", "/todos", &[], "").await;
        assert_eq!((res.status, res.json()), (200, json!([])), "a new table");

        let first = post(&server, "buy tea").await;
        assert_eq!(first.status, 201);
        assert_eq!(
            first.json(),
            json!({ "id": 1, "title": "buy tea", "done": false })
        );
        assert_eq!(first.headers["location"], "/todos/1");
        let second = post(&server, "  brew it  ").await;
        assert_eq!(second.json()["id"], 2, "ids from the table's counter");

        // Each request is a fresh instance: these come from DynamoDB.
        let res = send(&server, "GET", "/todos/2", &[], "").await;
        assert_eq!(
            res.json(),
            json!({ "id": 2, "title": "brew it", "done": false })
        );
        let res = send(&server, "GET", "/todos", &[], "").await;
        let todos = res.json();
        let titles: Vec<&str> = todos
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            titles,
            ["buy tea", "brew it"],
            "sorted by id, no counter item"
        );
        let res = send(&server, "GET", "/todos?done=true", &[], "").await;
        assert_eq!(res.json(), json!([]));
        let third = send(
            &server,
            "POST",
            "/todos",
            &[("content-type", "application/json")],
            r#"{"title": "drink it", "done": true}"#,
        )
        .await;
        assert_eq!(third.status, 201);
        let res = send(&server, "GET", "/todos?done=true", &[], "").await;
        assert_eq!(
            res.json(),
            json!([{ "id": 3, "title": "drink it", "done": true }]),
            "done is stored and filtered on"
        );
        let res = post(&server, &"x".repeat(501)).await;
        assert_eq!(
            res.status, 422,
            "a title DynamoDB would take but the API does not"
        );

        let res = send(&server, "DELETE", "/todos/1", &[], "").await;
        assert_eq!(res.status, 204);
        let res = send(&server, "DELETE", "/todos/1", &[], "").await;
        assert_eq!(res.status, 404, "already gone");
        let res = send(&server, "GET", "/todos/1", &[], "").await;
        assert_eq!(res.status, 404);
        let res = send(&server, "GET", "/todos/0", &[], "").await;
        assert_eq!(res.status, 400, "ids start at 1 (0 is the counter item's)");

        // What the table holds, read by the test itself.
        let scan = dynamodb(port, "Scan", &json!({ "TableName": TABLE })).await;
        let mut ids: Vec<&str> = scan["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"]["N"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, ["0", "2", "3"], "the counter and the todos left");
    });
    drop(server);
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("created todo 2"), "{log}");
    assert!(!log.contains(SECRET_KEY), "the secret key is never logged");
}

#[test]
fn a_missing_table_is_a_503_without_details_and_the_log_says_which() {
    let port = free_port();
    let dir = temp_dir("todos-no-table");
    let _moto = start_moto(port, &dir.join("moto.log"));
    let (server, log) = serve("todos-no-table-serve", port, "no-such-table");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let res = send(&server, "GET", "/todos/1", &[], "").await;
        assert_eq!(res.status, 503);
        let body = String::from_utf8_lossy(&res.body).into_owned();
        assert!(body.contains("storage-unavailable"), "{body}");
        assert!(
            !body.contains("no-such-table"),
            "no internals for the client: {body}"
        );
    });
    drop(server);
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("DynamoDB GetItem on table no-such-table failed: ResourceNotFoundException"),
        "{log}"
    );
}
