//! Shared by the benchmarks that time cold starts: a minimal Lambda Runtime API on
//! loopback, and one cold start of the real `lamina` binary against it.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A Runtime API that hands out `event` once and reports when its response arrives.
async fn runtime_api(event: Vec<u8>) -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Instant>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (done, done_rx) = mpsc::unbounded_channel();
    let event = Arc::new(std::sync::Mutex::new(Some(Bytes::from(event))));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (event, done) = (event.clone(), done.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (event, done) = (event.clone(), done.clone());
                    async move {
                        let path = req.uri().path().to_owned();
                        let _ = req.into_body().collect().await;
                        if path.ends_with("/invocation/next") {
                            let next = event.lock().unwrap().take();
                            let Some(payload) = next else {
                                return std::future::pending().await;
                            };
                            let deadline = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap()
                                .as_millis()
                                + 30_000;
                            return Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .header("lambda-runtime-aws-request-id", "cold-1")
                                    .header("lambda-runtime-deadline-ms", deadline.to_string())
                                    .header(
                                        "lambda-runtime-invoked-function-arn",
                                        "arn:aws:lambda:eu-west-1:123456789012:function:bench",
                                    )
                                    .body(Full::new(payload))
                                    .unwrap(),
                            );
                        }
                        if path.ends_with("/response") {
                            let _ = done.send(Instant::now());
                        } else {
                            eprintln!("coldstart: unexpected runtime API call {path}");
                        }
                        Ok(hyper::Response::builder()
                            .status(202)
                            .body(Full::new(Bytes::new()))
                            .unwrap())
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, done_rx)
}

/// One cold start: spawn the function, wait for its first response.
pub(crate) async fn cold_start(config: &Path, cache: &str, event: &[u8]) -> Duration {
    let (addr, mut done) = runtime_api(event.to_vec()).await;
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .env("LAMINA_LOG", "error")
        .env("LAMINA_CONFIG", config)
        .env("LAMINA_CACHE_DIR", cache)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let at = tokio::time::timeout(Duration::from_secs(60), done.recv())
        .await
        .expect("no response within 60 s")
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    at - started
}
