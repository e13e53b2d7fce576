//! Shared by the benchmarks that time the real `lamina` binary in Lambda mode: a minimal
//! Lambda Runtime API on loopback, one cold start against it, and a run of warm
//! invocations.

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

/// A Runtime API that hands out `event` `times` times and reports when each response
/// arrives.
async fn runtime_api(
    event: Vec<u8>,
    times: usize,
) -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Instant>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (done, done_rx) = mpsc::unbounded_channel();
    let event = Arc::new(std::sync::Mutex::new((Bytes::from(event), times)));
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
                            let next = {
                                let mut left = event.lock().unwrap();
                                if left.1 == 0 {
                                    None
                                } else {
                                    left.1 -= 1;
                                    Some((left.0.clone(), left.1))
                                }
                            };
                            let Some((payload, left)) = next else {
                                return std::future::pending().await;
                            };
                            let deadline = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap()
                                .as_millis()
                                + 30_000;
                            return Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .header("lambda-runtime-aws-request-id", format!("req-{left}"))
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

/// The function in Lambda mode against the Runtime API at `addr`, with `env` added.
fn function(
    config: &Path,
    cache: &str,
    addr: std::net::SocketAddr,
    env: &[(&str, &str)],
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lamina"));
    command
        .env("LAMINA_LOG", "error")
        .env("LAMINA_CONFIG", config)
        .env("LAMINA_CACHE_DIR", cache)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

/// One cold start: spawn the function, wait for its first response.
#[allow(dead_code, reason = "each bench binary uses the helpers it needs")]
pub(crate) async fn cold_start(config: &Path, cache: &str, event: &[u8]) -> Duration {
    cold_start_with_peak(config, cache, event).await.0
}

/// One cold start, and the function's peak resident memory (`VmHWM`, bytes) when it has
/// answered.
#[allow(dead_code, reason = "each bench binary uses the helpers it needs")]
pub(crate) async fn cold_start_with_peak(
    config: &Path,
    cache: &str,
    event: &[u8],
) -> (Duration, u64) {
    let (addr, mut done) = runtime_api(event.to_vec(), 1).await;
    let started = Instant::now();
    let mut child = function(config, cache, addr, &[]).spawn().unwrap();
    let at = tokio::time::timeout(Duration::from_secs(60), done.recv())
        .await
        .expect("no response within 60 s")
        .unwrap();
    let peak = super::measure::proc_status_bytes(child.id(), "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    (at - started, peak)
}

/// `n` warm invocations of one function process (after `warmup` more): the time from
/// one response to the next, each a whole invocation through the Runtime API (`next`,
/// the pipeline, the response `POST`), as Lambda runs them.
#[allow(dead_code, reason = "each bench binary uses the helpers it needs")]
pub(crate) async fn warm_invocations(
    config: &Path,
    env: &[(&str, &str)],
    event: &[u8],
    warmup: usize,
    n: usize,
) -> Vec<Duration> {
    let (addr, mut done) = runtime_api(event.to_vec(), warmup + n + 1).await;
    // What it writes (log lines, EMF documents) goes where Lambda's pipe would take it:
    // written, then dropped.
    let mut child = function(config, "off", addr, env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut last = None;
    let mut samples = Vec::with_capacity(n);
    for i in 0..=warmup + n {
        let at = tokio::time::timeout(Duration::from_secs(60), done.recv())
            .await
            .expect("no response within 60 s")
            .unwrap();
        if i > warmup
            && let Some(last) = last
        {
            samples.push(at - last);
        }
        last = Some(at);
    }
    let _ = child.kill();
    let _ = child.wait();
    samples
}
