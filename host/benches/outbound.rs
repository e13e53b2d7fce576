//! Outbound HTTP benchmark: one call from a handler component (`tests/components/outbound`,
//! `lamina_sdk::http::get`) to a keep-alive HTTP/1.1 server on loopback, timed per call by
//! the guest's own monotonic clock (send to the last body byte), over connections the host
//! pools, and with the server closing each connection (a new TCP connection per call, what
//! wasmtime-wasi-http's default sender does). The same calls from a native hyper client in
//! the host process are the baseline.
//!
//! Run with `cargo xtask bench` (which builds the guests first). Not run by CI: read the
//! ratios within one run.

#[path = "support/measure.rs"]
mod measure;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use lamina::{App, Config, Context, Request, Runtime, Source};
use measure::{guest_dir, stats, us};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Calls per request, and requests per mode (after one warm-up request).
const CALLS: usize = 100;
const REQUESTS: usize = 20;

/// The server: `/` answers 200 with 13 bytes and keeps the connection; `/close` answers the
/// same with `Connection: close`.
fn server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service =
                        service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                            let mut response = hyper::Response::new(Full::new(Bytes::from_static(
                                b"hello, bench!",
                            )));
                            if req.uri().path() == "/close" {
                                response.headers_mut().insert(
                                    hyper::header::CONNECTION,
                                    "close".parse().expect("value"),
                                );
                            }
                            Ok::<_, Infallible>(response)
                        });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

/// Per-call durations the guest measured, over `REQUESTS` requests of `CALLS` calls to
/// `url` each (after one warm-up request).
async fn guest_calls(app: &App, url: &str) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(CALLS * REQUESTS);
    for i in 0..=REQUESTS {
        let mut request = Request::new(
            "GET".parse()?,
            "/timed",
            Context::new(Source::Local, format!("bench-{i}")),
        );
        request.query = vec![
            ("url".to_owned(), url.to_owned()),
            ("n".to_owned(), CALLS.to_string()),
        ];
        let response = app.handle(request).await;
        anyhow::ensure!(
            response.status == 200,
            "{}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
        let nanos: Vec<u64> = serde_json::from_slice(&response.body)?;
        if i > 0 {
            samples.extend(nanos.into_iter().map(Duration::from_nanos));
        }
    }
    Ok(samples)
}

/// The same calls from a hyper client in the host: `pooled` keeps connections.
async fn native_calls(url: &str, pooled: bool) -> anyhow::Result<Vec<Duration>> {
    let mut builder = Client::builder(TokioExecutor::new());
    if !pooled {
        builder.pool_max_idle_per_host(0);
    }
    let client = builder.build_http::<Empty<Bytes>>();
    let uri: hyper::Uri = url.parse()?;
    let mut samples = Vec::with_capacity(CALLS * REQUESTS);
    for i in 0..CALLS * (REQUESTS + 1) {
        let started = Instant::now();
        let response = client.get(uri.clone()).await?;
        let body = response.into_body().collect().await?.to_bytes();
        let took = started.elapsed();
        std::hint::black_box(body);
        if i >= CALLS {
            samples.push(took);
        }
    }
    Ok(samples)
}

fn main() -> anyhow::Result<()> {
    let outbound = guest_dir().join("outbound.wasm");
    anyhow::ensure!(
        outbound.exists(),
        "{} is missing: run `cargo xtask bench`",
        outbound.display()
    );
    let addr = server();
    let config = Config::parse(
        &format!(
            "[components.outbound]\nsource = {:?}\nallowed-outbound-hosts = [\"http://127.0.0.1:{}\"]\n\
             outbound = {{ max-requests = {CALLS} }}\ntimeout = \"30s\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/timed\"\ncomponent = \"outbound\"\n",
            outbound.display().to_string(),
            addr.port(),
        ),
        PathBuf::from("/"),
    )?;
    let runtime = Runtime::new()?;
    let app = App::from_config(&config, &runtime)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let keep = format!("http://{addr}/");
    let close = format!("http://{addr}/close");
    println!(
        "outbound: GET to a loopback HTTP/1.1 server, {CALLS} calls per request x {REQUESTS} \
         requests per row, timed per call (send to last body byte)"
    );
    println!(
        "{:<52} {:>8} {:>8} {:>8} {:>8}",
        "path", "p50 µs", "p99 µs", "mean µs", "x native"
    );
    let native = stats(rt.block_on(native_calls(&keep, true))?);
    let rows: [(&str, Samples<'_>); 5] = [
        (
            "native hyper client, pooled",
            Box::pin(native_calls(&keep, true)),
        ),
        (
            "native hyper client, new connection per call",
            Box::pin(native_calls(&keep, false)),
        ),
        (
            "guest, host-pooled connection (lamina)",
            Box::pin(guest_calls(&app, &keep)),
        ),
        (
            "guest, new connection per call (Connection: close)",
            Box::pin(guest_calls(&app, &close)),
        ),
        (
            "guest, host-pooled connection (again)",
            Box::pin(guest_calls(&app, &keep)),
        ),
    ];
    for (label, future) in rows {
        let s = stats(rt.block_on(future)?);
        println!(
            "{:<52} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            label,
            us(s.p50),
            us(s.p99),
            us(s.mean),
            s.p50.as_secs_f64() / native.p50.as_secs_f64()
        );
    }
    Ok(())
}

/// One row's measurement, not yet run.
type Samples<'a> = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<Vec<Duration>>> + 'a>>;
