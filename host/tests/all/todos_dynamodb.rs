//! The `todos` example keeping its data in a `dynamodb` key-value store — moto's table, on
//! loopback — served by the real `lamina` binary, and run by the real Lambda loop: every
//! instance is fresh, so what a request sees of an earlier one's writes came from the
//! table.

use crate::kv::{create_table, dynamodb, moto_env};
use crate::lambda_loop::{RuntimeApi, expect_response, rest_event, start_function_with};
use crate::moto::{free_port, start_moto};
use crate::serve::{Reply, Server, send, start_with_env};
use crate::support::{guest, temp_dir, tokio_runtime};
use serde_json::{Value, json};

const TABLE: &str = "todos";

/// A config with `todos` bound to its routes and granted the store `todos` on the
/// DynamoDB table `table`.
fn todos_config(dir: &std::path::Path, table: &str) -> std::path::PathBuf {
    let config = dir.join("lamina.toml");
    let mut text = format!(
        "[key-value.todos]\nbackend = \"dynamodb\"\ntable = {table:?}\n\n\
         [components.todos]\nsource = {:?}\nkey-value = [\"todos\"]\n",
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
    config
}

/// `lamina serve` on [`todos_config`], DynamoDB pointed at moto on `port`.
fn serve(name: &str, port: u16, table: &str) -> (Server, std::path::PathBuf) {
    let dir = temp_dir(name);
    let config = todos_config(&dir, table);
    let env = moto_env(port);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
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
    rt.block_on(create_table(port, TABLE));
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
        assert_eq!(second.json()["id"], 2, "ids from the store's counter");

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
            "sorted by id, not the counter"
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
            "a title the store would take but the API does not"
        );

        let res = send(&server, "DELETE", "/todos/1", &[], "").await;
        assert_eq!(res.status, 204);
        let res = send(&server, "DELETE", "/todos/1", &[], "").await;
        assert_eq!(res.status, 404, "already gone");
        let res = send(&server, "GET", "/todos/1", &[], "").await;
        assert_eq!(res.status, 404);
        let res = send(&server, "GET", "/todos/0", &[], "").await;
        assert_eq!(res.status, 400, "ids start at 1");

        // What the table holds, read by the test itself.
        let scan = dynamodb(port, "Scan", &json!({ "TableName": TABLE })).await;
        let mut keys: Vec<&str> = scan["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["k"]["S"].as_str().unwrap())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["next-id", "todo:2", "todo:3"],
            "the counter and the todos left"
        );
    });
    drop(server);
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("created todo 2"), "{log}");
    assert!(
        !log.contains("kvSecretKeyForTheTestOnly"),
        "the secret key is never logged"
    );
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
        assert!(body.contains("store-unavailable"), "{body}");
        assert!(
            !body.contains("no-such-table"),
            "no internals for the client: {body}"
        );
    });
    drop(server);
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("the DynamoDB table no-such-table does not exist in us-east-1"),
        "{log}"
    );
}

/// The Python that reads the table back independently: boto3 comes with moto.
fn boto3_python() -> std::path::PathBuf {
    let moto = std::env::var_os("LAMINA_MOTO_SERVER").map_or_else(
        || std::path::PathBuf::from("moto_server"),
        std::path::PathBuf::from,
    );
    moto.parent()
        .map(|bin| bin.join("python"))
        .filter(|python| python.exists())
        .unwrap_or_else(|| "python3".into())
}

#[test]
fn todos_persist_across_lambda_invocations_in_dynamodb() {
    let port = free_port();
    let dir = temp_dir("todos-lambda-dynamodb");
    let _moto = start_moto(port, &dir.join("moto.log"));
    let rt = tokio_runtime();
    rt.block_on(create_table(port, TABLE));
    let config = todos_config(&dir, TABLE);
    let env: Vec<(&str, String)> = moto_env(port);
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let function = start_function_with(
            api.addr,
            &config.display().to_string(),
            &env,
            &dir.join("function.log"),
        );
        api.invoke(
            "create-1",
            &rest_event("POST", "/todos", Some(r#"{"title": "from lambda"}"#)),
        );
        let reply = expect_response(api.next_outcome().await, "create-1");
        assert_eq!(reply["statusCode"], 201, "{reply}");
        api.invoke("read-2", &rest_event("GET", "/todos/1", None));
        let reply = expect_response(api.next_outcome().await, "read-2");
        assert_eq!(reply["statusCode"], 200, "{reply}");
        let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({ "id": 1, "title": "from lambda", "done": false })
        );
        drop(function);
    });
    // The table as another client sees it: boto3, AWS's own SDK.
    let script = format!(
        "import boto3, json\n\
         t = boto3.resource('dynamodb', endpoint_url='http://127.0.0.1:{port}', region_name='us-east-1',\n\
             aws_access_key_id='x', aws_secret_access_key='y').Table('{TABLE}')\n\
         item = t.get_item(Key={{'k': 'todo:1'}}, ConsistentRead=True)['Item']\n\
         print(json.dumps(json.loads(bytes(item['v'].value))))\n"
    );
    let out = std::process::Command::new(boto3_python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let item: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        item,
        json!({ "id": 1, "title": "from lambda", "done": false })
    );
}
