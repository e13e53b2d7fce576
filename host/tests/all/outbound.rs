//! Outbound HTTP from a real guest (`tests/components/outbound`) through `lamina serve`, to a
//! real HTTP server the test runs on loopback: the allow-list, the limits, redirects, and
//! connections reused across calls and requests.

use crate::lambda_loop::rss_bytes;
use crate::serve::{Server, send, start_with_args};
use crate::support::{guest, temp_dir, tokio_runtime};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One request the loopback server received: method, path, headers, body.
pub(crate) type Received = (String, String, Vec<(String, String)>, Bytes);

/// What the loopback server saw.
#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) connections: AtomicUsize,
    pub(crate) requests: Mutex<Vec<Received>>,
}

/// A plain HTTP/1.1 server on 127.0.0.1 in its own thread: `/echo` answers 200 with a
/// header, `/slow` after 5 s, `/big` with 10 MiB, `/redirect` with a 302 to `/echo`.
pub(crate) fn upstream() -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let seen = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let method = req.method().to_string();
                            let path = req.uri().path().to_owned();
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                                .collect();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            seen.requests.lock().unwrap().push((
                                method,
                                path.clone(),
                                headers,
                                body,
                            ));
                            let full = |bytes: Bytes| Full::new(bytes).boxed();
                            let response = match path.as_str() {
                                "/slow" => {
                                    tokio::time::sleep(Duration::from_secs(5)).await;
                                    hyper::Response::new(full(Bytes::from_static(b"late")))
                                }
                                "/big" => {
                                    hyper::Response::new(full(Bytes::from(vec![b'x'; 10 << 20])))
                                }
                                // No Content-Length: the size shows only while streaming.
                                "/stream" => hyper::Response::new(Chunks(160).boxed()),
                                "/redirect" => hyper::Response::builder()
                                    .status(302)
                                    .header("location", "/echo")
                                    .body(full(Bytes::new()))
                                    .unwrap(),
                                _ => hyper::Response::builder()
                                    .header("x-upstream", "yes")
                                    .body(full(Bytes::from_static(b"hello from upstream")))
                                    .unwrap(),
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    (addr, seen)
}

/// A body of this many 64 KiB chunks whose size is not announced (sent chunked).
struct Chunks(usize);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(None);
        }
        self.0 -= 1;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from(
            vec![b'y'; 64 << 10],
        )))))
    }
}

/// `lamina serve` with the `outbound` guest allowed to reach `allowed`, with `outbound`
/// limits and a component `timeout`; its log in the returned path.
fn serve(
    name: &str,
    allowed: &[String],
    outbound: &str,
    timeout: &str,
) -> (Server, std::path::PathBuf) {
    let dir = temp_dir(name);
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        format!(
            "[components.outbound]\nsource = {:?}\ntimeout = {timeout:?}\nallowed-outbound-hosts = {allowed:?}\n{outbound}\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/call\"\ncomponent = \"outbound\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/many\"\ncomponent = \"outbound\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/loop\"\ncomponent = \"outbound\"\n",
            guest("outbound"),
        ),
    )
    .unwrap();
    let log = dir.join("serve.log");
    (start_with_args(&config, &[], Some(&log)), log)
}

fn encoded(url: &str) -> String {
    url.replace(':', "%3A")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('&', "%26")
}

#[test]
fn allowed_calls_round_trip_and_everything_else_is_denied_to_the_guest() {
    let (addr, seen) = upstream();
    let allowed = vec![format!("http://127.0.0.1:{}", addr.port())];
    let (server, log) = serve(
        "outbound-allow",
        &allowed,
        "outbound = { max-response-body = \"1MiB\", max-requests = 5 }",
        "2s",
    );
    let base = format!("http://127.0.0.1:{}", addr.port());
    tokio_runtime().block_on(async {
        let url = encoded(&format!("{base}/echo"));
        let res = send(
            &server,
            "GET",
            &format!("/call?url={url}&method=POST&header=x-test:1&body=hello"),
            &[],
            "",
        )
        .await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        let reply = res.json();
        assert_eq!(reply["status"], 200);
        assert_eq!(reply["body"], "hello from upstream");
        assert!(
            reply["headers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h[0] == "x-upstream" && h[1] == "yes")
        );
        {
            let requests = seen.requests.lock().unwrap();
            let (method, path, headers, body) = requests.last().unwrap();
            assert_eq!(
                (method.as_str(), path.as_str(), &body[..]),
                ("POST", "/echo", &b"hello"[..])
            );
            assert!(
                headers.iter().any(|(k, v)| k == "x-test" && v == "1"),
                "{headers:?}"
            );
        }

        // Another host, another port, another scheme: each denied, and the guest knows why.
        let port = addr.port();
        for url in [
            format!("http://localhost:{port}/echo?token=hush"),
            format!("http://127.0.0.1:{}/echo", port + 1),
            format!("https://127.0.0.1:{port}/echo"),
        ] {
            let res = send(
                &server,
                "GET",
                &format!("/call?url={}", encoded(&url)),
                &[],
                "",
            )
            .await;
            assert_eq!(
                res.status,
                403,
                "{url}: {}",
                String::from_utf8_lossy(&res.body)
            );
            assert_eq!(res.json()["error"]["code"], "denied");
        }

        // Redirects reach the guest as they are.
        let res = send(
            &server,
            "GET",
            &format!("/call?url={}", encoded(&format!("{base}/redirect"))),
            &[],
            "",
        )
        .await;
        assert_eq!(res.json()["status"], 302);

        // A body over max-response-body is an error the guest handles, whether its size was
        // declared or shows while streaming.
        for path in ["/big", "/stream"] {
            let res = send(
                &server,
                "GET",
                &format!("/call?url={}", encoded(&format!("{base}{path}"))),
                &[],
                "",
            )
            .await;
            assert_eq!(
                res.status,
                502,
                "{path}: {}",
                String::from_utf8_lossy(&res.body)
            );
            assert_eq!(res.json()["error"]["code"], "too-large", "{path}");
        }

        // A slow upstream: the call ends inside the component's 2 s, not the upstream's 5 s.
        let started = Instant::now();
        let res = send(
            &server,
            "GET",
            &format!("/call?url={}", encoded(&format!("{base}/slow"))),
            &[],
            "",
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(res.status, 504, "{}", String::from_utf8_lossy(&res.body));

        // Six calls where five are allowed per request.
        let res = send(
            &server,
            "GET",
            &format!("/many?url={}&n=6", encoded(&format!("{base}/echo"))),
            &[],
            "",
        )
        .await;
        assert_eq!(res.status, 429, "{}", String::from_utf8_lossy(&res.body));
        let res = send(
            &server,
            "GET",
            &format!("/many?url={}&n=5", encoded(&format!("{base}/echo"))),
            &[],
            "",
        )
        .await;
        assert_eq!(&res.body[..], b"5", "the budget is per request");
    });
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    let denied: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("outbound request denied"))
        .collect();
    assert_eq!(denied.len(), 3, "{log}");
    assert!(
        denied[0].contains("component=\"outbound\"")
            && denied[0].contains(&format!("http://localhost:{}", addr.port())),
        "{}",
        denied[0]
    );
    assert!(!log.contains("hush"), "the query never reaches the log");
}

#[test]
fn connections_are_reused_across_calls_and_requests() {
    let (addr, seen) = upstream();
    let allowed = vec![format!("http://127.0.0.1:{}", addr.port())];
    let (server, _log) = serve(
        "outbound-pool",
        &allowed,
        "outbound = { max-requests = 100 }",
        "10s",
    );
    let url = encoded(&format!("http://127.0.0.1:{}/echo", addr.port()));
    tokio_runtime().block_on(async {
        let res = send(&server, "GET", &format!("/many?url={url}&n=50"), &[], "").await;
        assert_eq!(
            &res.body[..],
            b"50",
            "{}",
            String::from_utf8_lossy(&res.body)
        );
        for _ in 0..10 {
            let res = send(&server, "GET", &format!("/many?url={url}&n=1"), &[], "").await;
            assert_eq!(&res.body[..], b"1");
        }
    });
    assert_eq!(seen.requests.lock().unwrap().len(), 60);
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        1,
        "60 sequential calls from 11 requests share one pooled connection"
    );
}

#[test]
fn a_component_without_a_grant_reaches_nothing() {
    let (addr, seen) = upstream();
    let (server, _log) = serve("outbound-none", &[], "", "2s");
    let url = encoded(&format!("http://127.0.0.1:{}/echo", addr.port()));
    let res = tokio_runtime().block_on(send(&server, "GET", &format!("/call?url={url}"), &[], ""));
    assert_eq!(res.status, 403);
    let _: Value = res.json();
    assert_eq!(seen.requests.lock().unwrap().len(), 0);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 0);
}

/// A listener on loopback that accepts connections and never reads or answers: a black
/// hole, for calls that can only time out.
fn blackhole() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}

#[test]
fn guests_looping_on_calls_black_holes_and_denials_leave_the_host_serving_and_flat() {
    let (addr, seen) = upstream();
    let hole = blackhole();
    let allowed = vec![
        format!("http://127.0.0.1:{}", addr.port()),
        format!("http://127.0.0.1:{}", hole.port()),
    ];
    let (server, log) = serve(
        "outbound-faults",
        &allowed,
        "outbound = { max-requests = 32, connect-timeout = \"150ms\", first-byte-timeout = \"150ms\" }",
        "3s",
    );
    let pid = server.pid();
    let upstream_url = encoded(&format!("http://127.0.0.1:{}/echo", addr.port()));
    let hole_url = encoded(&format!("http://127.0.0.1:{}/", hole.port()));
    let denied_url = encoded("https://denied.example.com/");
    let rounds = 8;
    tokio_runtime().block_on(async {
        let round = || async {
            // A loop of calls: the first 32 go out, the rest are refused by the budget.
            let res = send(
                &server,
                "GET",
                &format!("/loop?url={upstream_url}&n=100"),
                &[],
                "",
            )
            .await;
            assert_eq!(res.json(), serde_json::json!({"ok": 32, "limit": 68}));
            // A black hole: each call ends at its timeout, inside the deadline.
            let res = send(
                &server,
                "GET",
                &format!("/loop?url={hole_url}&n=2"),
                &[],
                "",
            )
            .await;
            assert_eq!(res.json(), serde_json::json!({"timeout": 2}));
            // A denied host, over and over.
            let res = send(
                &server,
                "GET",
                &format!("/loop?url={denied_url}&n=500"),
                &[],
                "",
            )
            .await;
            assert_eq!(res.json(), serde_json::json!({"denied": 500}));
            let res = send(
                &server,
                "GET",
                &format!("/call?url={upstream_url}"),
                &[],
                "",
            )
            .await;
            assert_eq!(res.status, 200, "still serving");
        };
        round().await;
        let warm = rss_bytes(pid);
        for _ in 1..rounds {
            round().await;
        }
        let after = rss_bytes(pid);
        eprintln!(
            "outbound faults: {rounds} rounds, RSS {} KiB after the first, {} KiB after",
            warm >> 10,
            after >> 10
        );
        assert!(
            after.saturating_sub(warm) < 16 << 20,
            "RSS grew from {} to {} KiB",
            warm >> 10,
            after >> 10
        );
    });
    assert_eq!(seen.requests.lock().unwrap().len(), rounds * 33);
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    // One line per request for each kind of refusal, then its count: a loop cannot flood
    // the log.
    let lines = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(lines("outbound request denied"), rounds, "{log}");
    assert_eq!(lines("denied=500"), rounds, "{log}");
    assert_eq!(
        lines("outbound request refused: the component made its limit"),
        rounds
    );
    assert_eq!(lines("refused=68"), rounds, "{log}");
    assert_eq!(lines("outbound request timed out"), rounds * 2, "{log}");
}
