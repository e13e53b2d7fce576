//! Key-value stores through a real guest (`tests/components/kv`, every `lamina_sdk::kv`
//! call behind a route) and the real `lamina serve`: one contract, run against `memory`,
//! `file` and `dynamodb` (moto on loopback); atomics under contention; faults.

use crate::moto::{endpoint, free_port, start_moto, start_moto_serial};
use crate::serve::{Reply, Server, send, start_with_env};
use crate::support::{guest, lamina_check, temp_dir, tokio_runtime};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SECRET_KEY: &str = "kvSecretKeyForTheTestOnly/0123456789";

/// The routes of the `kv` test guest.
const OPS: [&str; 11] = [
    "get",
    "set",
    "delete",
    "exists",
    "keys",
    "count",
    "incr",
    "append",
    "fill",
    "get-many",
    "delete-many",
];

/// A config binding the `kv` guest's routes, granted store `main` (declared by `store`,
/// the lines of its `[key-value.main]`); store `other` exists but belongs to another
/// component.
pub(crate) fn kv_config(dir: &Path, store: &str, extra: &str) -> PathBuf {
    let mut text = format!(
        "[key-value.main]\n{store}\n\n[key-value.other]\nbackend = \"memory\"\n\n\
         [components.kv]\nsource = {:?}\nkey-value = [\"main\"]\n{extra}\n\n\
         [components.owner]\nsource = {:?}\nkey-value = [\"other\"]\n\n",
        guest("kv"),
        guest("kv"),
    );
    for op in OPS {
        text.push_str(&format!(
            "[[routes]]\nmethod = \"ANY\"\npath = \"/{op}\"\ncomponent = \"kv\"\n\n"
        ));
    }
    text.push_str("[[routes]]\nmethod = \"ANY\"\npath = \"/owner/get\"\ncomponent = \"owner\"\n");
    let config = dir.join("lamina.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// A DynamoDB call made by the test itself, straight to moto.
pub(crate) async fn dynamodb(port: u16, operation: &str, input: &Value) -> Value {
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

/// Creates the table a `dynamodb` store needs: partition key `k`, a string.
pub(crate) async fn create_table(port: u16, table: &str) {
    dynamodb(
        port,
        "CreateTable",
        &json!({
            "TableName": table,
            "KeySchema": [{ "AttributeName": "k", "KeyType": "HASH" }],
            "AttributeDefinitions": [{ "AttributeName": "k", "AttributeType": "S" }],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    )
    .await;
}

/// What a `lamina` process needs to reach moto on `port` as DynamoDB.
pub(crate) fn moto_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint(port)),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDKVTEST".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
    ]
}

fn serve(config: &Path, env: &[(&str, String)], log: &Path) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start_with_env(config, &[], &env, Some(log))
}

async fn call(server: &Server, method: &str, path: &str, body: impl AsRef<[u8]>) -> Reply {
    send(server, method, path, &[], body).await
}

/// The store contract, on whatever backend `server`'s store `main` has.
async fn contract(server: &Server, backend: &str) {
    let at = |what: &str| format!("{backend}: {what}");
    let res = call(server, "GET", "/get?store=main&key=a", "").await;
    assert_eq!(res.status, 404, "{}", at("absent"));
    let res = call(server, "GET", "/exists?store=main&key=a", "").await;
    assert_eq!(res.json(), json!({ "exists": false }));

    assert_eq!(
        call(server, "PUT", "/set?store=main&key=a", "hello")
            .await
            .status,
        204
    );
    let res = call(server, "GET", "/get?store=main&key=a", "").await;
    assert_eq!(
        (res.status, &res.body[..]),
        (200, &b"hello"[..]),
        "{}",
        at("read back")
    );
    let res = call(server, "GET", "/exists?store=main&key=a", "").await;
    assert_eq!(res.json(), json!({ "exists": true }));
    assert_eq!(
        call(server, "PUT", "/set?store=main&key=a", "again")
            .await
            .status,
        204
    );
    let res = call(server, "GET", "/get?store=main&key=a", "").await;
    assert_eq!(&res.body[..], b"again", "{}", at("overwritten"));

    let binary: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    assert_eq!(
        call(server, "PUT", "/set?store=main&key=bin", &binary)
            .await
            .status,
        204
    );
    let res = call(server, "GET", "/get?store=main&key=bin", "").await;
    assert_eq!(res.body.to_vec(), binary, "{}", at("binary"));
    assert_eq!(
        call(server, "PUT", "/set?store=main&key=empty", "")
            .await
            .status,
        204
    );
    let res = call(server, "GET", "/get?store=main&key=empty", "").await;
    assert_eq!(
        (res.status, res.body.len()),
        (200, 0),
        "{}",
        at("an empty value is a value")
    );

    assert_eq!(
        call(server, "POST", "/delete?store=main&key=a", "")
            .await
            .status,
        204
    );
    assert_eq!(
        call(server, "GET", "/get?store=main&key=a", "")
            .await
            .status,
        404
    );
    assert_eq!(
        call(server, "POST", "/delete?store=main&key=a", "")
            .await
            .status,
        204,
        "{}",
        at("deleting an absent key")
    );

    // Limits, the same on every backend.
    let largest = vec![b'x'; 400_000];
    assert_eq!(
        call(server, "PUT", "/set?store=main&key=big", &largest)
            .await
            .status,
        204
    );
    let res = call(server, "GET", "/get?store=main&key=big", "").await;
    assert_eq!(res.body.len(), 400_000, "{}", at("the largest value"));
    let res = call(
        server,
        "PUT",
        "/set?store=main&key=big",
        vec![b'x'; 400_001],
    )
    .await;
    assert_eq!(res.status, 413, "{}", at("oversized"));
    assert!(
        String::from_utf8_lossy(&res.body).contains("over the store's limit of 400000 bytes"),
        "{:?}",
        res.body
    );
    let res = call(server, "GET", "/get?store=main&key=big", "").await;
    assert_eq!(res.body.len(), 400_000, "the refused write changed nothing");
    let long = "k".repeat(2049);
    let res = call(server, "PUT", &format!("/set?store=main&key={long}"), "v").await;
    assert_eq!(res.status, 413, "{}", at("a key over 2048 bytes"));
    let res = call(server, "PUT", "/set?store=main&key=", "v").await;
    assert_eq!(res.status, 400, "{}", at("an empty key"));

    // 2,500 keys, listed page by page with the cursor.
    let res = call(
        server,
        "POST",
        "/fill?store=main",
        json!({ "prefix": "p", "count": 2500 }).to_string(),
    )
    .await;
    assert_eq!(res.status, 204, "{}: {:?}", at("set-many"), res.body);
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/keys?store=main&cursor={c}"),
            None => "/keys?store=main".to_owned(),
        };
        let page = call(server, "GET", &path, "").await.json();
        pages += 1;
        for key in page["keys"].as_array().unwrap() {
            assert!(
                seen.insert(key.as_str().unwrap().to_owned()),
                "{}: {key} twice",
                at("list")
            );
        }
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 100, "{}", at("the cursor ends"));
    }
    assert!(
        pages >= 3,
        "{}: 2,500 keys in pages of at most 1,000, got {pages}",
        at("pages")
    );
    let filled = seen.iter().filter(|k| k.starts_with('p')).count();
    assert_eq!(filled, 2500, "{}", at("every key listed once"));
    let count = call(server, "GET", "/count?store=main", "").await.json();
    assert_eq!(
        count["count"].as_u64().unwrap() as usize,
        seen.len(),
        "{}",
        at("the SDK's iterator")
    );

    // Batches.
    let res = call(
        server,
        "POST",
        "/get-many?store=main",
        r#"["p00001","nope","p02499","p00001"]"#,
    )
    .await;
    assert_eq!(
        res.json(),
        json!(["p00001", null, "p02499", "p00001"]),
        "{}",
        at("get-many")
    );
    let some: Vec<String> = (0..30).map(|i| format!("p{i:05}")).collect();
    let res = call(
        server,
        "POST",
        "/delete-many?store=main",
        json!(some).to_string(),
    )
    .await;
    assert_eq!(res.status, 204);
    let res = call(
        server,
        "POST",
        "/get-many?store=main",
        json!(["p00000", "p00029", "p00030"]).to_string(),
    )
    .await;
    assert_eq!(
        res.json(),
        json!([null, null, "p00030"]),
        "{}",
        at("delete-many")
    );

    // Counters.
    let res = call(server, "POST", "/incr?store=main&key=c&delta=5", "").await;
    assert_eq!(res.json(), json!({ "value": 5 }), "{}", at("a new counter"));
    let res = call(server, "POST", "/incr?store=main&key=c&delta=-2", "").await;
    assert_eq!(res.json(), json!({ "value": 3 }));
    let res = call(server, "GET", "/get?store=main&key=c", "").await;
    assert_eq!(
        &res.body[..],
        b"3",
        "{}",
        at("a counter reads as decimal text")
    );
    call(server, "PUT", "/set?store=main&key=n", "41").await;
    let res = call(server, "POST", "/incr?store=main&key=n", "").await;
    assert_eq!(
        res.json(),
        json!({ "value": 42 }),
        "{}",
        at("a number set as text")
    );
    let res = call(server, "POST", "/incr?store=main&key=bin", "").await;
    assert_eq!(res.status, 500, "{}", at("not a number"));
    let res = call(server, "POST", "/append?store=main&key=list&item=x", "").await;
    assert_eq!(res.json(), json!({ "len": 1 }));
    let res = call(server, "POST", "/append?store=main&key=list&item=y", "").await;
    assert_eq!(
        res.json(),
        json!({ "len": 2 }),
        "{}",
        at("compare-and-swap")
    );

    // Stores the component is not granted, declared or not.
    for store in ["other", "nope"] {
        let res = call(server, "GET", &format!("/get?store={store}&key=a"), "").await;
        assert_eq!(res.status, 403, "{}", at(store));
    }
    let res = send(server, "GET", "/owner/get?store=other&key=a", &[], "").await;
    assert_eq!(res.status, 404, "its owner may open it");
}

#[test]
fn the_store_contract_holds_on_memory_and_file() {
    let rt = tokio_runtime();
    for (backend, lines) in [
        ("memory", "backend = \"memory\"".to_owned()),
        (
            "file",
            "backend = \"file\"\npath = \"data/main.redb\"".to_owned(),
        ),
    ] {
        let dir = temp_dir(&format!("kv-contract-{backend}"));
        let _ = std::fs::remove_dir_all(dir.join("data"));
        let config = kv_config(&dir, &lines, "");
        let log = dir.join("serve.log");
        let server = serve(&config, &[], &log);
        rt.block_on(contract(&server, backend));
        drop(server);
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(
            log.contains("key-value store denied: not in the component's key-value list"),
            "{backend}: {log}"
        );
    }
}

#[test]
fn the_store_contract_holds_on_dynamodb() {
    let port = free_port();
    let dir = temp_dir("kv-contract-dynamodb");
    let _moto = start_moto(port, &dir.join("moto.log"));
    let rt = tokio_runtime();
    rt.block_on(create_table(port, "kv-main"));
    let config = kv_config(&dir, "backend = \"dynamodb\"\ntable = \"kv-main\"", "");
    let log = dir.join("serve.log");
    let server = serve(&config, &moto_env(port), &log);
    rt.block_on(async {
        contract(&server, "dynamodb").await;
        // The layout the docs promise, read by the test's own client.
        let item = dynamodb(
            port,
            "GetItem",
            &json!({ "TableName": "kv-main", "Key": { "k": { "S": "bin" } } }),
        )
        .await;
        assert!(item["Item"]["v"]["B"].is_string(), "{item}");
        assert!(item["Item"]["ver"]["S"].is_string(), "{item}");
        let counter = dynamodb(
            port,
            "GetItem",
            &json!({ "TableName": "kv-main", "Key": { "k": { "S": "c" } } }),
        )
        .await;
        assert_eq!(counter["Item"]["n"]["N"], "3", "{counter}");
    });
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains(SECRET_KEY), "the secret key is never logged");
}

/// 8 clients × `n` increments and 8 × `m` compare-and-swap appends at once: nothing lost.
async fn contend(server: Arc<Server>, backend: &str, n: usize, m: usize) {
    let mut tasks = Vec::new();
    for client in 0..8 {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                let res = call(&server, "POST", "/incr?store=main&key=hits", "").await;
                assert_eq!(res.status, 200, "{:?}", res.body);
            }
            for i in 0..m {
                let path = format!("/append?store=main&key=log&item={client}-{i}");
                let res = call(&server, "POST", &path, "").await;
                assert_eq!(res.status, 200, "{:?}", res.body);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let server = &*server;
    let res = call(server, "GET", "/get?store=main&key=hits", "").await;
    assert_eq!(
        String::from_utf8_lossy(&res.body),
        (8 * n).to_string(),
        "{backend}: every increment counted"
    );
    let res = call(server, "POST", "/append?store=main&key=log&item=last", "").await;
    assert_eq!(
        res.json(),
        json!({ "len": 8 * m + 1 }),
        "{backend}: no lost update"
    );
}

#[test]
fn atomics_lose_nothing_under_contention() {
    let rt = tokio_runtime();
    for (backend, lines) in [
        ("memory", "backend = \"memory\""),
        ("file", "backend = \"file\"\npath = \"contended.redb\""),
    ] {
        let dir = temp_dir(&format!("kv-contend-{backend}"));
        let _ = std::fs::remove_file(dir.join("contended.redb"));
        let config = kv_config(&dir, lines, "");
        let server = serve(&config, &[], &dir.join("serve.log"));
        rt.block_on(contend(Arc::new(server), backend, 100, 25));
    }
    let port = free_port();
    let dir = temp_dir("kv-contend-dynamodb");
    let _moto = start_moto_serial(port, &dir.join("moto.log"));
    rt.block_on(create_table(port, "kv-contended"));
    let config = kv_config(&dir, "backend = \"dynamodb\"\ntable = \"kv-contended\"", "");
    let server = serve(&config, &moto_env(port), &dir.join("serve.log"));
    rt.block_on(contend(Arc::new(server), "dynamodb", 100, 25));
}

#[test]
fn an_unreachable_table_is_a_503_and_the_host_recovers() {
    let port = free_port();
    let dir = temp_dir("kv-unreachable");
    let moto = start_moto(port, &dir.join("moto.log"));
    let rt = tokio_runtime();
    rt.block_on(create_table(port, "kv-flaky"));
    let config = kv_config(
        &dir,
        "backend = \"dynamodb\"\ntable = \"kv-flaky\"",
        "timeout = \"1s\"",
    );
    let log = dir.join("serve.log");
    let server = serve(&config, &moto_env(port), &log);
    rt.block_on(async {
        assert_eq!(
            call(&server, "PUT", "/set?store=main&key=a", "1")
                .await
                .status,
            204
        );
        drop(moto);
        let res = call(&server, "GET", "/get?store=main&key=a", "").await;
        assert_eq!(res.status, 503, "{:?}", res.body);
        let body = String::from_utf8_lossy(&res.body).into_owned();
        assert!(body.contains("store-unavailable"), "{body}");
        assert!(
            !body.contains("kv-flaky"),
            "no internals for the client: {body}"
        );
        // Other routes keep working meanwhile.
        let res = call(&server, "GET", "/get?store=other&key=a", "").await;
        assert_eq!(res.status, 403);
        let _moto = start_moto(port, &dir.join("moto.log"));
        create_table(port, "kv-flaky").await;
        assert_eq!(
            call(&server, "PUT", "/set?store=main&key=a", "2")
                .await
                .status,
            204
        );
        let res = call(&server, "GET", "/get?store=main&key=a", "").await;
        assert_eq!((res.status, &res.body[..]), (200, &b"2"[..]), "recovered");
    });
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("key-value operation failed") && log.contains("did not answer GetItem"),
        "{log}"
    );
}

#[test]
fn a_damaged_or_held_store_file_stops_the_start_with_its_name() {
    let dir = temp_dir("kv-damaged");
    let config = kv_config(&dir, "backend = \"file\"\npath = \"damaged.redb\"", "");
    std::fs::write(
        dir.join("damaged.redb"),
        b"not a database, just some bytes".repeat(200),
    )
    .unwrap();
    let out = lamina_check(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("key-value.main"), "{stderr}");
    assert!(
        stderr.contains("cannot be opened as a key-value store file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let dir = temp_dir("kv-held");
    let config = kv_config(&dir, "backend = \"file\"\npath = \"held.redb\"", "");
    let server = serve(&config, &[], &dir.join("serve.log"));
    let out = lamina_check(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("is open in another process"), "{stderr}");
    drop(server);
    let out = lamina_check(&config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("key-value store main: file ") && stdout.contains("opened by kv"),
        "{stdout}"
    );
    assert!(stdout.contains("key-value store other: memory"), "{stdout}");
    assert!(stdout.contains("  key-value: main (file "), "{stdout}");
}

#[test]
fn file_stores_keep_their_data_across_restarts() {
    let dir = temp_dir("kv-restart");
    let _ = std::fs::remove_file(dir.join("kept.redb"));
    let config = kv_config(&dir, "backend = \"file\"\npath = \"kept.redb\"", "");
    let rt = tokio_runtime();
    let server = serve(&config, &[], &dir.join("serve.log"));
    rt.block_on(async {
        assert_eq!(
            call(&server, "PUT", "/set?store=main&key=a", "kept")
                .await
                .status,
            204
        );
    });
    drop(server);
    let server = serve(&config, &[], &dir.join("serve2.log"));
    rt.block_on(async {
        let res = call(&server, "GET", "/get?store=main&key=a", "").await;
        assert_eq!(&res.body[..], b"kept");
    });
}

#[test]
fn store_config_mistakes_name_the_key() {
    let dir = temp_dir("kv-config");
    let cases: [(&str, &str, &str); 6] = [
        ("backend = \"redis\"", "", "unknown variant `redis`"),
        (
            "backend = \"file\"",
            "",
            "key-value.main.path: the file backend needs a path",
        ),
        (
            "backend = \"dynamodb\"",
            "",
            "key-value.main.table: the dynamodb backend needs a table name",
        ),
        (
            "backend = \"memory\"\ntable = \"t\"",
            "",
            "key-value.main.table: only the dynamodb backend reads `table`",
        ),
        (
            "backend = \"memory\"\ncolour = \"red\"",
            "",
            "unknown field `colour`",
        ),
        (
            "backend = \"memory\"",
            "key-value = [\"missing\"]",
            "no store named \"missing\"",
        ),
    ];
    for (store, extra, problem) in cases {
        let config = kv_config(&dir, store, "");
        if !extra.is_empty() {
            let text = std::fs::read_to_string(&config)
                .unwrap()
                .replace("key-value = [\"main\"]", extra);
            std::fs::write(&config, text).unwrap();
        }
        let out = lamina_check(&config);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{store}");
        assert!(stderr.contains(problem), "{store}: {stderr}");
    }
    // A store no component may open.
    let config = kv_config(&dir, "backend = \"memory\"", "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("key-value = [\"other\"]", "");
    std::fs::write(&config, text).unwrap();
    let out = lamina_check(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("key-value.other: no component may open this store"),
        "{stderr}"
    );
}

#[test]
fn todos_in_rust_python_and_typescript_share_one_store() {
    let dir = temp_dir("kv-polyglot-todos");
    let config = crate::support::example_config(&dir, crate::support::TodosStore::Memory);
    let server = crate::serve::start_with_args(&config, &[], Some(&dir.join("serve.log")));
    let token = format!(
        "Bearer {}",
        crate::support::jwt(
            &json!({"sub": "demo-user", "scope": "todos:write"}),
            "lamina-demo-secret"
        )
    );
    let rt = tokio_runtime();
    rt.block_on(async {
        let headers = [
            ("content-type", "application/json"),
            ("authorization", token.as_str()),
        ];
        let post = async |path: &str, body: Value| {
            send(&server, "POST", path, &headers, body.to_string()).await
        };
        let get = async |path: &str| {
            let res = send(&server, "GET", path, &[], "").await;
            (
                res.status,
                if res.body.is_empty() {
                    Value::Null
                } else {
                    res.json()
                },
            )
        };
        let res = post("/todos", json!({ "title": "from rust" })).await;
        assert_eq!(
            (res.status, res.json()["id"].clone()),
            (201, json!(1)),
            "{:?}",
            res.body
        );
        let first = json!({ "id": 1, "title": "from rust", "done": false });
        assert_eq!(
            get("/py/todos/1").await,
            (200, first.clone()),
            "Python reads what Rust wrote"
        );
        assert_eq!(
            get("/js/todos/1").await,
            (200, first.clone()),
            "TypeScript too"
        );
        let res = post("/py/todos", json!({ "title": "from python" })).await;
        assert_eq!(
            (res.status, res.json()["id"].clone()),
            (201, json!(2)),
            "one counter for all"
        );
        let res = post(
            "/js/todos",
            json!({ "title": "from typescript", "done": true }),
        )
        .await;
        assert_eq!(
            (res.status, res.json()["id"].clone()),
            (201, json!(3)),
            "{:?}",
            res.body
        );
        let (_, rust) = get("/todos").await;
        assert_eq!(rust.as_array().map(Vec::len), Some(3), "{rust}");
        assert_eq!(get("/py/todos").await, (200, rust.clone()));
        assert_eq!(get("/js/todos").await, (200, rust.clone()));
        assert_eq!(
            get("/py/todos?done=true").await,
            (
                200,
                json!([{ "id": 3, "title": "from typescript", "done": true }])
            )
        );
        let res = send(&server, "DELETE", "/js/todos/1", &headers, "").await;
        assert_eq!(res.status, 204);
        assert_eq!(get("/py/todos/1").await.0, 404, "gone for Python");
        assert_eq!(get("/todos/1").await.0, 404, "and for Rust");
    });
}

/// A DynamoDB endpoint on loopback that throttles: `GetItem` for key `slow` is refused with
/// `ProvisionedThroughputExceededException` three times and then answered; for key `never`
/// it is always refused. Returns the address and the count of `GetItem` calls per key.
fn throttling_dynamodb() -> (
    std::net::SocketAddr,
    Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
) {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let calls = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = calls.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let input: Value = serde_json::from_slice(&body).unwrap();
                            let key = input["Key"]["k"]["S"].as_str().unwrap_or_default().to_owned();
                            let n = {
                                let mut calls = seen.lock().unwrap();
                                let n = calls.entry(key.clone()).or_insert(0);
                                *n += 1;
                                *n
                            };
                            let (status, answer) = if key == "slow" && n > 3 {
                                (200, json!({ "Item": { "k": { "S": "slow" }, "v": { "B": "b2s=" } } }))
                            } else {
                                (400, json!({
                                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                                    "message": "The level of configured provisioned throughput for the table was exceeded."
                                }))
                            };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/x-amz-json-1.0")
                                    .body(Full::new(Bytes::from(answer.to_string())))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    (addr, calls)
}

#[test]
fn throttling_is_retried_with_backoff_then_answered_as_unavailable() {
    let (addr, calls) = throttling_dynamodb();
    let dir = temp_dir("kv-throttled");
    let config = kv_config(
        &dir,
        "backend = \"dynamodb\"\ntable = \"throttled\"",
        "timeout = \"2s\"",
    );
    let mut env = moto_env(0);
    env[0].1 = format!("http://{addr}");
    let log = dir.join("serve.log");
    let server = serve(&config, &env, &log);
    let rt = tokio_runtime();
    rt.block_on(async {
        let res = call(&server, "GET", "/get?store=main&key=slow", "").await;
        assert_eq!(
            (res.status, &res.body[..]),
            (200, &b"ok"[..]),
            "answered after three refusals"
        );
        assert_eq!(calls.lock().unwrap()["slow"], 4);
        let res = call(&server, "GET", "/get?store=main&key=never", "").await;
        assert_eq!(
            res.status, 503,
            "unavailable, before the 2 s timeout would give a 504: {:?}",
            res.body
        );
        let tries = calls.lock().unwrap()["never"];
        assert!(
            (4..=20).contains(&tries),
            "retried with backoff, not in a tight loop: {tries} calls"
        );
    });
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("did not answer GetItem before the request's deadline (ProvisionedThroughputExceededException"),
        "{log}"
    );
}
