//! `lamina serve` answering a real HTTP client over loopback.

use crate::support::test_config_file;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `host:port` of the server, for raw TCP clients.
    pub(crate) fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn start() -> Server {
    start_with(&test_config_file("serve"))
}

/// `lamina serve --config config --port 0`, once it prints its address.
pub(crate) fn start_with(config: &std::path::Path) -> Server {
    start_with_args(config, &[], None)
}

/// [`start_with`], with more arguments, and the server's log written to `log`.
pub(crate) fn start_with_args(
    config: &std::path::Path,
    args: &[&str],
    log: Option<&std::path::Path>,
) -> Server {
    start_with_env(config, args, &[], log)
}

/// [`start_with_args`] with environment variables set for the server.
pub(crate) fn start_with_env(
    config: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    log: Option<&std::path::Path>,
) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lamina"));
    command.envs(env.iter().copied());
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stdin(Stdio::null());
    if let Some(log) = log {
        command.stderr(std::fs::File::create(log).unwrap());
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Server { child, base }
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

pub(crate) async fn send(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl AsRef<[u8]>,
) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", server.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client
        .request(
            req.body(Full::new(Bytes::copy_from_slice(body.as_ref())))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

#[test]
fn serve_answers_real_http_requests() {
    let server = start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let res = send(&server, "GET", "/hello", &[], "").await;
        assert_eq!((res.status, &res.body[..]), (200, &b"Howdy, world!\n"[..]));

        let res = send(&server, "GET", "/hello/Ada%20Lovelace", &[], "").await;
        assert_eq!(res.json()["message"], "Howdy, Ada Lovelace!");

        let res = send(
            &server,
            "POST",
            "/echo/a%2Fb?x=1&x=2&y=caf%C3%A9",
            &[("x-rep", "one"), ("x-rep", "two"), ("cookie", "a=1; b=2")],
            "payload",
        )
        .await;
        assert_eq!(res.status, 200);
        let seen = res.json();
        assert_eq!(seen["method"], "POST");
        assert_eq!(seen["path"], "/echo/a/b");
        assert_eq!(seen["raw-path"], "/echo/a%2Fb");
        assert_eq!(
            seen["query"],
            json!([["x", "1"], ["x", "2"], ["y", "café"]])
        );
        assert_eq!(seen["cookies"], json!([["a", "1"], ["b", "2"]]));
        assert_eq!(
            seen["body"],
            json!({"encoding": "utf-8", "data": "payload"})
        );
        assert_eq!(seen["context"]["source"], "local");
        assert_eq!(seen["context"]["source-ip"], "127.0.0.1");
        let reps: Vec<&Value> = seen["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0] == "x-rep")
            .map(|h| &h[1])
            .collect();
        assert_eq!(reps, [&json!("one"), &json!("two")]);

        let res = send(
            &server,
            "POST",
            "/todos",
            &[("content-type", "application/json")],
            r#"{"title":"x"}"#,
        )
        .await;
        assert_eq!(res.status, 201);

        let res = send(&server, "GET", "/faults/panic", &[], "").await;
        assert_eq!(res.status, 500);
        assert!(
            res.json()["error"]["request-id"]
                .as_str()
                .unwrap()
                .starts_with("local-")
        );

        let res = send(&server, "GET", "/faults/cookies", &[], "").await;
        let cookies: Vec<_> = res.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2; HttpOnly"]);

        let res = send(&server, "DELETE", "/hello", &[], "").await;
        assert_eq!(res.status, 405);
        assert_eq!(res.headers["allow"], "GET, HEAD");

        let res = send(&server, "HEAD", "/hello", &[], "").await;
        assert_eq!((res.status, res.body.len()), (200, 0));

        let res = send(&server, "GET", "/missing", &[], "").await;
        assert_eq!(res.status, 404);

        // The example middleware over real HTTP.
        let res = send(
            &server,
            "GET",
            "/mw/hello/Ada",
            &[("x-request-id", "trace-7")],
            "",
        )
        .await;
        assert_eq!(res.headers["x-request-id"], "trace-7");
        assert!(res.headers.contains_key("server-timing"));
        assert_eq!(res.json()["data"]["message"], "Howdy, Ada!");
        let res = send(
            &server,
            "GET",
            "/mw/secure/x",
            &[("authorization", "Bearer nope")],
            "",
        )
        .await;
        assert_eq!(res.status, 401);
        assert_eq!(res.json()["error"]["message"], "malformed token");

        let res = send(&server, "GET", "/hello", &[], "").await;
        assert_eq!(res.status, 200, "still serving after faults");
    });
}

#[test]
fn serve_swaps_in_changed_components_and_keeps_serving_through_bad_ones() {
    use crate::support::{guest, hello_app, replace_file};
    let (_dir, component, config) = hello_app("serve-reload", "");
    let server = start_with(&config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let is_echo = |reply: &Reply| reply.status == 200 && reply.json().get("route").is_some();
        let res = send(&server, "GET", "/hello/Ada", &[], "").await;
        assert_eq!(res.json()["message"], "Hello, Ada!");

        // A new version (here: another component) is picked up without a restart.
        replace_file(&component, &std::fs::read(guest("echo")).unwrap());
        let mut swapped = false;
        for _ in 0..100 {
            let res = send(&server, "GET", "/hello/Ada", &[], "").await;
            assert_eq!(res.status, 200, "no request fails during the swap");
            if is_echo(&res) {
                swapped = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(swapped, "the new version was never served");

        // A broken upload is rejected; the previous version keeps serving.
        replace_file(&component, b"not a component");
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        for _ in 0..5 {
            let res = send(&server, "GET", "/hello/Ada", &[], "").await;
            assert!(is_echo(&res), "a bad version must not replace a good one");
        }

        // Fixing it is picked up again.
        replace_file(&component, &std::fs::read(guest("hello")).unwrap());
        let mut recovered = false;
        for _ in 0..100 {
            let res = send(&server, "GET", "/hello/Ada", &[], "").await;
            if res.json().get("message").is_some() {
                recovered = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(recovered, "the fixed version was never served");
    });
}

#[test]
fn a_swap_under_load_fails_no_request_and_never_goes_back() {
    use crate::support::{guest, hello_app, replace_file};
    use std::time::{Duration, Instant};
    let (_dir, component, config) = hello_app("serve-load", "");
    let server = std::sync::Arc::new(start_with(&config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Instant::now();
        // Four clients keep requests in flight; each records when it sent a request, when
        // the answer came, and which version answered.
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let server = server.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    while start.elapsed() < Duration::from_secs(4) {
                        let sent = Instant::now();
                        let res = send(&server, "GET", "/hello/Ada", &[], "").await;
                        let done = Instant::now();
                        assert_eq!(res.status, 200, "no request fails during the swap");
                        let body = String::from_utf8_lossy(&res.body).into_owned();
                        let new = if body.contains("\"route\"") {
                            true
                        } else {
                            assert!(body.contains("Hello, Ada!"), "neither version: {body}");
                            false
                        };
                        seen.push((sent, done, new));
                    }
                    seen
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(800)).await;
        replace_file(&component, &std::fs::read(guest("echo")).unwrap());
        let mut all = Vec::new();
        for client in clients {
            all.extend(client.await.unwrap());
        }
        let old = all.iter().filter(|(_, _, new)| !new).count();
        let new = all.len() - old;
        assert!(old > 0 && new > 0, "{old} old and {new} new responses");
        let first_new = all
            .iter()
            .filter(|(_, _, new)| *new)
            .map(|(_, done, _)| *done)
            .min()
            .unwrap();
        let late_old = all
            .iter()
            .filter(|(sent, _, new)| *sent > first_new && !new)
            .count();
        assert_eq!(
            late_old, 0,
            "requests sent after the new version answered must get the new version"
        );
    });
}
