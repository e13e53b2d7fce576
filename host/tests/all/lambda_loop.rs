//! The real `lamina` binary in Lambda mode against a Runtime API server run by the test
//! (the endpoints and headers of the AWS Lambda Runtime API, on loopback).

use crate::support::{JWT_SECRET, jwt, temp_dir, test_config_file};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

/// What the function reported back.
#[derive(Debug)]
pub(crate) enum Outcome {
    Response { id: String, body: Value },
    Error { id: String, body: Value },
    InitError { error_type: String, body: Value },
}

pub(crate) struct RuntimeApi {
    pub(crate) addr: SocketAddr,
    events: mpsc::UnboundedSender<Invocation>,
    outcomes: mpsc::UnboundedReceiver<(Outcome, Instant)>,
}

/// One invocation waiting for the function's `next`: request id, payload bytes, and how
/// long the function has once it takes it.
struct Invocation {
    id: String,
    payload: Vec<u8>,
    timeout: Duration,
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    outcomes: mpsc::UnboundedSender<(Outcome, Instant)>,
}

const PREFIX: &str = "/2018-06-01/runtime";

/// The X-Ray header every invocation carries: a sampled trace and Lambda's segment.
pub(crate) const TRACE_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

async fn runtime_api(
    req: hyper::Request<Incoming>,
    shared: Arc<Shared>,
) -> hyper::Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let error_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let accepted = || {
        hyper::Response::builder()
            .status(202)
            .body(Full::new(Bytes::from_static(br#"{"status":"OK"}"#)))
            .unwrap()
    };
    let as_json = |bytes: &Bytes| serde_json::from_slice::<Value>(bytes).unwrap_or(Value::Null);
    if method == hyper::Method::GET && path == format!("{PREFIX}/invocation/next") {
        let next = shared.events.lock().await.recv().await;
        let Some(Invocation {
            id,
            payload,
            timeout,
        }) = next
        else {
            // No more events: hold the poll open like Lambda does between invocations.
            return std::future::pending().await;
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + timeout.as_millis();
        return hyper::Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:lamina-test",
            )
            .header("lambda-runtime-trace-id", TRACE_HEADER)
            .body(Full::new(Bytes::from(payload)))
            .unwrap();
    }
    if method == hyper::Method::POST && path == format!("{PREFIX}/init/error") {
        shared
            .outcomes
            .send((
                Outcome::InitError {
                    error_type,
                    body: as_json(&body),
                },
                Instant::now(),
            ))
            .unwrap();
        return accepted();
    }
    if method == hyper::Method::POST
        && let Some(rest) = path.strip_prefix(&format!("{PREFIX}/invocation/"))
    {
        let (id, kind) = rest.split_once('/').unwrap();
        let outcome = match kind {
            "response" => Outcome::Response {
                id: id.to_owned(),
                body: as_json(&body),
            },
            "error" => Outcome::Error {
                id: id.to_owned(),
                body: as_json(&body),
            },
            other => panic!("unexpected runtime API call {other}"),
        };
        shared.outcomes.send((outcome, Instant::now())).unwrap();
        return accepted();
    }

    panic!("unexpected runtime API call {method} {path}");
}

impl RuntimeApi {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (events, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
        });
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(runtime_api(req, shared).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            events,
            outcomes,
        }
    }

    pub(crate) fn invoke(&self, id: &str, payload: &Value) {
        self.invoke_raw(id, payload.to_string().as_bytes(), Duration::from_secs(30));
    }

    /// Queues `payload` as it is (any bytes) with `timeout` for the function to answer.
    pub(crate) fn invoke_raw(&self, id: &str, payload: &[u8], timeout: Duration) {
        self.events
            .send(Invocation {
                id: id.to_owned(),
                payload: payload.to_vec(),
                timeout,
            })
            .unwrap();
    }

    pub(crate) async fn next_outcome(&mut self) -> Outcome {
        self.next_outcome_at().await.0
    }

    /// The next report and when it arrived.
    pub(crate) async fn next_outcome_at(&mut self) -> (Outcome, Instant) {
        tokio::time::timeout(Duration::from_secs(60), self.outcomes.recv())
            .await
            .expect("the function did not report within 60 s")
            .expect("runtime API server stopped")
    }
}

/// The `lamina` process, killed when the test ends.
pub(crate) struct Function(pub(crate) Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_function(api: SocketAddr, config: &Path) -> Function {
    start_function_logging(api, config, "warn")
}

/// `log` is the `LAMINA_LOG` filter: the fault suite turns it off so 350 expected faults do
/// not bury the test output.
pub(crate) fn start_function_logging(api: SocketAddr, config: &Path, log: &str) -> Function {
    Function(
        function_command(api, &config.display().to_string(), log)
            .spawn()
            .unwrap(),
    )
}

/// The `lamina` binary in Lambda mode with `LAMINA_CONFIG=config` (a path or an `s3://`
/// URL), extra environment, info logging, and its log written to `log`.
pub(crate) fn start_function_with(
    api: SocketAddr,
    config: &str,
    env: &[(&str, String)],
    log: &Path,
) -> Function {
    let mut command = function_command(api, config, "info");
    command.stderr(std::fs::File::create(log).unwrap());
    for (k, v) in env {
        command.env(k, v);
    }
    Function(command.spawn().unwrap())
}

/// `lamina` with the variables the Lambda runtime sets, pointed at `api`.
pub(crate) fn function_command(api: SocketAddr, config: &str, log_filter: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lamina"));
    command
        .env("LAMINA_LOG", log_filter)
        // Text, as the tests that read the log match it (JSON is Lambda's default:
        // `observe` tests it).
        .env("LAMINA_LOG_FORMAT", "text")
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "lamina-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("LAMINA_CONFIG", config)
        .stdin(Stdio::null());
    command
}

pub(crate) fn rest_event(method: &str, path: &str, body: Option<&str>) -> Value {
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "requestContext": {"resourcePath": "/{proxy+}", "stage": "prod", "path": format!("/prod{path}")},
        "body": body,
        "isBase64Encoded": false,
    })
}

pub(crate) fn http_event(method: &str, raw_path: &str, query: &str) -> Value {
    json!({
        "version": "2.0",
        "rawPath": raw_path,
        "rawQueryString": query,
        "cookies": ["session=s1"],
        "headers": {"x-test": "yes"},
        "requestContext": {
            "http": {"method": method, "path": raw_path, "sourceIp": "203.0.113.9", "userAgent": "test"},
            "domainName": "api.example.com",
            "stage": "$default",
        },
        "isBase64Encoded": false,
    })
}

pub(crate) fn expect_response(outcome: Outcome, want_id: &str) -> Value {
    match outcome {
        Outcome::Response { id, body } => {
            assert_eq!(id, want_id);
            body
        }
        other => panic!("expected a response for {want_id}, got {other:?}"),
    }
}

#[test]
fn serves_rest_and_http_api_invocations_through_the_runtime_api() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let _function = start_function(api.addr, &test_config_file("lambda-loop"));

        api.invoke("req-1", &rest_event("GET", "/hello", None));
        let reply = expect_response(api.next_outcome().await, "req-1");
        assert_eq!(reply["statusCode"], 200);
        assert_eq!(reply["body"], "Howdy, world!\n");
        assert_eq!(
            reply["multiValueHeaders"]["content-type"],
            json!(["text/plain; charset=utf-8"])
        );

        api.invoke(
            "req-2",
            &http_event(
                "GET",
                "/echo/x y",
                "a=1&a=2&set-cookie=k%3Dv&set-cookie=m%3Dn",
            ),
        );
        let reply = expect_response(api.next_outcome().await, "req-2");
        assert_eq!(reply["statusCode"], 200);
        assert_eq!(reply["cookies"], json!(["k=v", "m=n"]));
        let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(seen["path"], "/echo/x y");
        assert_eq!(
            seen["query"],
            json!([
                ["a", "1"],
                ["a", "2"],
                ["set-cookie", "k=v"],
                ["set-cookie", "m=n"]
            ])
        );
        assert_eq!(seen["cookies"], json!([["session", "s1"]]));
        assert_eq!(
            seen["context"]["request-id"], "req-2",
            "the Lambda request id reaches the guest"
        );
        assert_eq!(seen["context"]["source"], "apigw-http-v2");

        api.invoke(
            "req-3",
            &rest_event("POST", "/todos", Some(r#"{"title": "from lambda"}"#)),
        );
        let reply = expect_response(api.next_outcome().await, "req-3");
        assert_eq!(reply["statusCode"], 201);
        assert_eq!(reply["multiValueHeaders"]["location"], json!(["/todos/4"]));

        api.invoke("req-4", &http_event("GET", "/faults/panic", ""));
        let reply = expect_response(api.next_outcome().await, "req-4");
        assert_eq!(reply["statusCode"], 500);
        let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["request-id"], "req-4");

        api.invoke("req-5", &http_event("GET", "/todos/2", ""));
        let reply = expect_response(api.next_outcome().await, "req-5");
        assert_eq!(
            reply["statusCode"], 200,
            "the host keeps serving after a guest panic"
        );

        let mut bad_base64 = http_event("POST", "/echo/x", "");
        bad_base64["body"] = json!("%%%");
        bad_base64["isBase64Encoded"] = json!(true);
        api.invoke("req-6", &bad_base64);
        let reply = expect_response(api.next_outcome().await, "req-6");
        assert_eq!(reply["statusCode"], 400);

        api.invoke(
            "req-7",
            &json!({"requestContext": {"eventType": "CONNECT", "connectionId": "abc"}}),
        );
        match api.next_outcome().await {
            Outcome::Error { id, body, .. } => {
                assert_eq!(id, "req-7");
                // lambda_runtime sends `unhandled` in the header; the type is in the body.
                assert_eq!(body["errorType"], "Lamina.UnsupportedEvent");
                let message = body["errorMessage"].as_str().unwrap();
                assert!(message.contains("WebSocket"), "{message}");
            }
            other => panic!("expected an invocation error, got {other:?}"),
        }

        api.invoke("req-8", &rest_event("GET", "/hello/Grace", None));
        let reply = expect_response(api.next_outcome().await, "req-8");
        assert_eq!(reply["statusCode"], 200);

        // The example middleware through the loop: timing + envelope around hello, and
        // auth (refusing, then admitting) around echo.
        api.invoke("req-9", &http_event("GET", "/mw/hello/Grace", ""));
        let reply = expect_response(api.next_outcome().await, "req-9");
        assert_eq!(reply["headers"]["x-request-id"], "req-9");
        assert!(
            reply["headers"]["server-timing"]
                .as_str()
                .unwrap()
                .starts_with("lamina;dur=")
        );
        let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["data"]["message"], "Howdy, Grace!");
        assert_eq!(body["meta"]["request-id"], "req-9");

        api.invoke("req-10", &rest_event("POST", "/mw/secure/x", Some("{}")));
        let reply = expect_response(api.next_outcome().await, "req-10");
        assert_eq!(reply["statusCode"], 401);
        assert_eq!(
            reply["multiValueHeaders"]["www-authenticate"],
            json!(["Bearer realm=\"lamina\""])
        );

        let claims =
            json!({"sub": "lambda-user", "iss": "https://issuer.example", "scope": "todos:write"});
        let mut event = rest_event("POST", "/mw/secure/x", Some("{}"));
        event["multiValueHeaders"]["Authorization"] =
            json!([format!("Bearer {}", jwt(&claims, JWT_SECRET))]);
        api.invoke("req-11", &event);
        let reply = expect_response(api.next_outcome().await, "req-11");
        assert_eq!(reply["statusCode"], 200, "{reply}");
        let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            seen["context"]["attributes"],
            json!([["subject", "lambda-user"]])
        );
    });
}

#[test]
fn a_bad_config_is_reported_as_an_init_error_and_the_process_exits() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let config = temp_dir("lambda-bad-config").join("lamina.toml");
        std::fs::write(
            &config,
            "[components.a]\nsource = \"a.wasm\"\nmemroy = \"64MiB\"\n",
        )
        .unwrap();
        let mut function = start_function(api.addr, &config);
        match api.next_outcome().await {
            Outcome::InitError { error_type, body } => {
                assert_eq!(error_type, "Lamina.InitError");
                let message = body["errorMessage"].as_str().unwrap();
                assert!(message.contains("unknown field `memroy`"), "{message}");
            }
            other => panic!("expected an init error, got {other:?}"),
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = function.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "lamina kept running after an init error"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(!status.success());
    });
}

#[test]
fn lambda_mode_outside_lambda_says_what_is_missing() {
    let out = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("lambda")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AWS_LAMBDA_RUNTIME_API is not set"),
        "{stderr}"
    );
}

#[test]
fn serves_alb_in_both_modes_and_function_urls_through_the_runtime_api() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let _function = start_function(api.addr, &test_config_file("lambda-alb-furl"));

        let alb_single = json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/t/1"}},
            "httpMethod": "GET",
            "path": "/echo/a%20b",
            "queryStringParameters": {"q": "caf%C3%A9", "set-cookie": "k%3Dv"},
            "headers": {"cookie": "s=1", "x-forwarded-for": "203.0.113.1"},
            "isBase64Encoded": false,
        });
        api.invoke("alb-1", &alb_single);
        let reply = expect_response(api.next_outcome().await, "alb-1");
        assert_eq!(reply["statusCode"], 200);
        assert_eq!(reply["statusDescription"], "200 OK");
        assert_eq!(reply["headers"]["set-cookie"], "k=v");
        assert!(reply.get("multiValueHeaders").is_none(), "single-value mode answers with headers");
        let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(seen["path"], "/echo/a b");
        assert_eq!(seen["context"]["source"], "alb");

        let alb_multi = json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/t/1"}},
            "httpMethod": "GET",
            "path": "/faults/cookies",
            "multiValueQueryStringParameters": {},
            "multiValueHeaders": {"x-forwarded-for": ["203.0.113.1"]},
            "body": "",
            "isBase64Encoded": false,
        });
        api.invoke("alb-2", &alb_multi);
        let reply = expect_response(api.next_outcome().await, "alb-2");
        assert_eq!(reply["multiValueHeaders"]["set-cookie"], json!(["a=1; Path=/", "b=2; HttpOnly"]));
        assert_eq!(reply["multiValueHeaders"]["x-multi"], json!(["one", "two"]));

        let mut furl = http_event("GET", "/faults/cookies", "");
        furl["requestContext"]["domainName"] = json!("abcdef.lambda-url.eu-west-1.on.aws");
        api.invoke("furl-1", &furl);
        let reply = expect_response(api.next_outcome().await, "furl-1");
        assert_eq!(reply["cookies"], json!(["a=1; Path=/", "b=2; HttpOnly"]));
        assert_eq!(reply["headers"]["x-multi"], "one, two");

        let mut furl = http_event("GET", "/echo/caf%C3%A9", "");
        furl["requestContext"]["domainName"] = json!("abcdef.lambda-url.eu-west-1.on.aws");
        api.invoke("furl-2", &furl);
        let reply = expect_response(api.next_outcome().await, "furl-2");
        let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(seen["path"], "/echo/café");
        assert_eq!(seen["context"]["source"], "function-url");
    });
}

/// Resident set size of a process, from /proc.
pub(crate) fn rss_bytes(pid: u32) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn a_mixed_fault_sequence_never_crosses_requests_or_leaks() {
    // (path, REST or HTTP API event, expected status, expected body for good requests)
    let cycle: &[(&str, bool, u16, Option<&str>)] = &[
        ("/faults/ok", true, 200, Some("fine")),
        ("/hello", false, 200, Some("Howdy, world!\n")),
        ("/faults/panic", false, 500, None),
        ("/faults/trap", true, 500, None),
        ("/faults/bad-status", false, 500, None),
        ("/faults/bad-header", true, 500, None),
        ("/faults/recurse", false, 500, None),
        ("/faults/alloc", true, 500, None),
        ("/faults/big-body", false, 500, None),
        ("/faults/bad-cookie", true, 500, None),
        ("/faults/error", false, 418, None),
        ("/faults/calls", true, 200, Some("1")),
        (
            "/hello/Ada",
            true,
            200,
            Some(r#"{"message":"Howdy, Ada!","name":"Ada"}"#),
        ),
    ];
    let slow: &[(&str, bool, u16, Option<&str>)] = &[
        ("/faults/loop", false, 504, None),
        ("/faults/sleep", true, 504, None),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let function = start_function_logging(api.addr, &test_config_file("lambda-faults"), "off");
        let pid = function.0.id();
        let mut sent = 0usize;
        let mut run = |api: &mut RuntimeApi, round: usize| {
            let mut steps: Vec<_> = cycle.to_vec();
            if round.is_multiple_of(5) {
                steps.extend_from_slice(slow);
            }
            let mut expected = Vec::new();
            for (path, rest, status, body) in steps {
                sent += 1;
                let id = format!("fault-{sent}");
                let event = if rest {
                    rest_event("GET", path, None)
                } else {
                    http_event("GET", path, "")
                };
                api.invoke(&id, &event);
                expected.push((id, path, status, body));
            }
            expected
        };
        let check = |reply: Value, path: &str, status: u16, body: Option<&str>| {
            assert_eq!(reply["statusCode"], status, "{path}: {reply}");
            match body {
                Some(body) => assert_eq!(reply["body"], body, "{path}"),
                None => {
                    let error: Value =
                        serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
                    assert!(error["error"]["request-id"].is_string(), "{path}: {error}");
                }
            }
        };
        // Warm-up: every fault once, so the pool and allocator reach their steady state.
        for (id, path, status, body) in run(&mut api, 0) {
            check(
                expect_response(api.next_outcome().await, &id),
                path,
                status,
                body,
            );
        }
        let warm = rss_bytes(pid);
        for round in 1..=25 {
            for (id, path, status, body) in run(&mut api, round) {
                check(
                    expect_response(api.next_outcome().await, &id),
                    path,
                    status,
                    body,
                );
            }
        }
        let after = rss_bytes(pid);
        assert!(sent >= 300, "only {sent} requests");
        let growth = after.saturating_sub(warm);
        eprintln!(
            "fault suite: {sent} requests, RSS {} KiB after warm-up, {} KiB after",
            warm >> 10,
            after >> 10
        );
        assert!(
            growth < 16 << 20,
            "RSS grew by {} KiB over {sent} requests ({} → {} KiB): trapped instances leak",
            growth >> 10,
            warm >> 10,
            after >> 10
        );
    });
}

#[test]
fn the_lambda_loop_picks_up_a_replaced_component_between_invocations() {
    use crate::support::{guest, hello_app, replace_file};
    let (_dir, component, config) = hello_app("lambda-reload", "reload-interval = \"100ms\"");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let _function = start_function(api.addr, &config);
        api.invoke("r-0", &http_event("GET", "/hello/Ada", ""));
        let reply = expect_response(api.next_outcome().await, "r-0");
        assert!(reply["body"].as_str().unwrap().contains("Hello, Ada!"));

        replace_file(&component, &std::fs::read(guest("echo")).unwrap());
        let mut swapped = false;
        for i in 1..=60 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let id = format!("r-{i}");
            api.invoke(&id, &http_event("GET", "/hello/Ada", ""));
            let reply = expect_response(api.next_outcome().await, &id);
            assert_eq!(
                reply["statusCode"], 200,
                "no invocation fails during the swap"
            );
            if reply["body"].as_str().unwrap().contains("\"route\"") {
                swapped = true;
                break;
            }
        }
        assert!(swapped, "the replaced component was never served");
    });
}

#[test]
fn an_admin_event_forces_a_check_and_is_refused_unless_enabled() {
    use crate::support::{guest, hello_app, replace_file};
    let (dir, component, config) = hello_app("lambda-admin", "admin-events = true");
    // Turns admin events off by rewriting the same config.
    let admin_off = || {
        let text = std::fs::read_to_string(&config).unwrap();
        replace_file(
            &config,
            text.replace("admin-events = true", "admin-events = false")
                .as_bytes(),
        );
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let log = dir.join("function.log");
        let _function = start_function_with(api.addr, &config.display().to_string(), &[], &log);
        let admin = json!({"lamina": {"reload": true}});
        let hello = async |api: &mut RuntimeApi, id: &str| {
            api.invoke(id, &http_event("GET", "/hello/Ada", ""));
            let reply = expect_response(api.next_outcome().await, id);
            reply["body"].as_str().unwrap().to_owned()
        };
        assert!(hello(&mut api, "a-1").await.contains("Hello, Ada!"));

        replace_file(&component, &std::fs::read(guest("echo")).unwrap());
        // No reload-interval: nothing is checked until asked.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(hello(&mut api, "a-2").await.contains("Hello, Ada!"));

        api.invoke("a-3", &admin);
        let reply = expect_response(api.next_outcome().await, "a-3");
        assert_eq!(reply["lamina"]["reload"], "swapped", "{reply}");
        let echo_digest = lamina::component::sha256_hex(&std::fs::read(guest("echo")).unwrap());
        assert_eq!(reply["lamina"]["components"]["app"]["sha256"], echo_digest);
        assert!(hello(&mut api, "a-4").await.contains("\"route\""));
        api.invoke("a-5", &admin);
        let reply = expect_response(api.next_outcome().await, "a-5");
        assert_eq!(reply["lamina"]["reload"], "unchanged", "{reply}");

        // Turning admin events off is itself a change the next admin event applies...
        admin_off();
        api.invoke("a-6", &admin);
        let reply = expect_response(api.next_outcome().await, "a-6");
        assert_eq!(reply["lamina"]["reload"], "swapped", "{reply}");
        // ...after which they are refused, and ordinary invocations carry on.
        api.invoke("a-7", &admin);
        match api.next_outcome().await {
            Outcome::Error { id, body } => {
                assert_eq!(id, "a-7");
                assert_eq!(body["errorType"], "Lamina.AdminDisabled");
                assert!(
                    body["errorMessage"]
                        .as_str()
                        .unwrap()
                        .contains("admin-events = true"),
                    "{body}"
                );
            }
            other => panic!("expected the admin event to be refused, got {other:?}"),
        }
        assert!(hello(&mut api, "a-8").await.contains("\"route\""));
    });
}
