//! S3 sources against a real S3-compatible server: `moto_server` on loopback, started and
//! stopped by the test (`cargo xtask test` installs it from PyPI when it is missing and
//! names it in `LAMINA_MOTO_SERVER`). The function is the real `lamina` binary in Lambda
//! mode, reading its config and components from the bucket with the standard AWS
//! environment variables.

use crate::lambda_loop::{RuntimeApi, expect_response, http_event, start_function_with};
use crate::moto::{endpoint, free_port, start_moto};
use crate::support::{guest, temp_dir};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore as _, PutPayload};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) const BUCKET: &str = "lamina-test";

/// What the function needs to reach the bucket: the standard AWS variables.
pub(crate) fn s3_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint(port)),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
    ]
}

/// Creates the bucket (moto accepts an unsigned `PUT /bucket`) and returns a client for
/// uploads.
pub(crate) async fn bucket(port: u16) -> AmazonS3 {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::put(format!("{}/{BUCKET}", endpoint(port)))
        .body(Full::default())
        .unwrap();
    let res = client.request(req).await.unwrap();
    assert_eq!(res.status(), 200, "creating the bucket");
    AmazonS3Builder::new()
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_endpoint(endpoint(port))
        .with_allow_http(true)
        .build()
        .unwrap()
}

async fn put(store: &AmazonS3, key: &str, bytes: Vec<u8>) {
    store
        .put(&ObjectPath::from(key), PutPayload::from(bytes))
        .await
        .unwrap();
}

fn wasm(name: &str) -> Vec<u8> {
    std::fs::read(guest(name)).unwrap()
}

/// The app's config: `greeter` next to it in the bucket, `echo` by absolute URL.
fn config(extra_greeter: &str) -> Vec<u8> {
    format!(
        "reload-interval = \"100ms\"\n\
         [components.greeter]\nsource = \"greeter.wasm\"\n{extra_greeter}\n\
         [components.echo]\nsource = \"s3://{BUCKET}/shared/echo.wasm\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"greeter\"\n\
         [[routes]]\nmethod = \"ANY\"\npath = \"/echo/{{*rest}}\"\ncomponent = \"echo\"\n"
    )
    .into_bytes()
}

/// Invokes `GET /hello/Ada` every 150 ms until `done(body, log)` holds (at most 15 s),
/// checking every reply is a 200 whose body passes `always`.
struct Driver {
    api: RuntimeApi,
    log: PathBuf,
    n: usize,
}

impl Driver {
    async fn hello(&mut self) -> String {
        self.n += 1;
        let id = format!("s3-{}", self.n);
        self.api.invoke(&id, &http_event("GET", "/hello/Ada", ""));
        let reply: Value = expect_response(self.api.next_outcome().await, &id);
        assert_eq!(
            reply["statusCode"], 200,
            "every invocation is served: {reply}"
        );
        reply["body"].as_str().unwrap().to_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn until(
        &mut self,
        what: &str,
        always: impl Fn(&str) -> bool,
        done: impl Fn(&str, &str) -> bool,
    ) {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let body = self.hello().await;
            assert!(always(&body), "{what}: unexpected reply {body}");
            if done(&body, &self.log()) {
                return;
            }
        }
        panic!(
            "{what}: not seen within 15 s; function log:\n{}",
            self.log()
        );
    }
}

fn is_hello(body: &str) -> bool {
    body.contains("Hello, Ada!")
}

fn is_echo(body: &str) -> bool {
    body.contains("\"route\":\"/hello/{name}\"")
}

#[test]
fn s3_sources_are_checked_conditionally_swapped_rejected_and_recovered() {
    let dir = temp_dir("s3");
    let port = free_port();
    let moto_log = dir.join("moto.log");
    let moto = start_moto(port, &moto_log);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = bucket(port).await;
        put(&store, "app/lamina.toml", config("")).await;
        put(&store, "app/greeter.wasm", wasm("hello")).await;
        put(&store, "shared/echo.wasm", wasm("echo")).await;

        let api = RuntimeApi::start().await;
        let mut env = s3_env(port);
        env.push(("LAMINA_CACHE_DIR", dir.join("cache").display().to_string()));
        let log = dir.join("function.log");
        let _function = start_function_with(
            api.addr,
            &format!("s3://{BUCKET}/app/lamina.toml"),
            &env,
            &log,
        );
        let mut d = Driver { api, log, n: 0 };
        assert!(is_hello(&d.hello().await));
        let started = d.log();
        assert!(
            started.contains(&format!("source=\"s3://{BUCKET}/app/greeter.wasm\""))
                && started.contains("code=\"compiled\""),
            "the start log lists each source and where its code came from:\n{started}"
        );

        // A new version of one component: picked up, and the unchanged objects cost a 304.
        put(&store, "app/greeter.wasm", wasm("echo")).await;
        d.until(
            "the new greeter",
            |b| is_hello(b) || is_echo(b),
            |b, _| is_echo(b),
        )
        .await;
        for _ in 0..3 {
            assert!(is_echo(&d.hello().await), "never back to the old version");
        }
        // (Newer moto colours its log lines, so match the parts, not the line.)
        let requests = std::fs::read_to_string(&moto_log).unwrap();
        assert!(
            requests.lines().any(|line| line
                .contains(&format!("GET /{BUCKET}/shared/echo.wasm HTTP/1.1"))
                && line.trim_end().ends_with("304 -")),
            "unchanged objects are checked with a conditional GET:\n{requests}"
        );
        let swaps = d.log().matches("component swapped").count();
        assert_eq!(swaps, 1, "exactly one component changed:\n{}", d.log());

        // Bad uploads: each rejected with its reason; the echo version keeps serving.
        let bad: [(&str, Vec<u8>, &str); 2] = [
            (
                "invalid bytes",
                b"not a component".to_vec(),
                "compiling component",
            ),
            (
                "the wrong world",
                wasm("tagger"),
                // The log escapes quotes in text values.
                "\\\"greeter\\\" is a middleware component, not a handler",
            ),
        ];
        for (what, bytes, reason) in bad {
            put(&store, "app/greeter.wasm", bytes).await;
            d.until(what, is_echo, |_, log| log.contains(reason)).await;
        }
        let hello_pin = lamina::component::sha256_hex(&wasm("hello"));
        put(
            &store,
            "app/lamina.toml",
            config(&format!("sha256 = \"{hello_pin}\"")),
        )
        .await;
        d.until("a digest mismatch", is_echo, |_, log| {
            log.contains(&format!("sha256 mismatch: the config pins {hello_pin}"))
        })
        .await;
        assert!(
            d.log()
                .contains("new version rejected; the previous one keeps serving"),
            "{}",
            d.log()
        );
        // Fixed: the pinned bytes arrive.
        put(&store, "app/greeter.wasm", wasm("hello")).await;
        d.until(
            "the fixed upload",
            |b| is_echo(b) || is_hello(b),
            |b, _| is_hello(b),
        )
        .await;

        // An outage: the function keeps serving what it has and says why it cannot check.
        drop(moto);
        d.until("the outage", is_hello, |_, log| {
            log.contains("could not check for a new version; the current one keeps serving")
        })
        .await;
        // The store comes back (empty: moto keeps nothing) and a new version is uploaded.
        let _moto = start_moto(port, &moto_log);
        let store = bucket(port).await;
        put(&store, "shared/echo.wasm", wasm("echo")).await;
        put(&store, "app/greeter.wasm", wasm("hello")).await;
        put(
            &store,
            "app/lamina.toml",
            config(&format!(
                "sha256 = \"{hello_pin}\"\nconfig = {{ greeting = \"Hi\" }}"
            )),
        )
        .await;
        d.until(
            "recovery",
            |b| is_hello(b) || b.contains("Hi, Ada!"),
            |b, _| b.contains("Hi, Ada!"),
        )
        .await;
    });
}
