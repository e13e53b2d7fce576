//! Pipeline benchmark: Lambda event bytes in → response bytes out, for the `hello`
//! component (a fresh instance per request) and for the same pipeline with a native Rust
//! handler. Prints p50/p99/mean per path, their ratio, and where the wasm path's time goes.
//!
//! Run with `cargo xtask bench` (which builds the guests first). Not run by CI: timings on a
//! shared machine are only comparable within one run, so read the ratios.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use lamina::component::CallTimings;
use lamina::{App, Config, Error, NativeHandler, Request, Response, Runtime, Target, event};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WARMUP: usize = 2_000;
const ITERATIONS: usize = 20_000;

/// The native twin of the `hello` guest's `/hello/{name}` route.
struct NativeHello;

impl NativeHandler for NativeHello {
    fn handle(
        &self,
        _request: Request,
        _template: &str,
        params: Vec<(String, String)>,
    ) -> Result<Response, Error> {
        let name = params
            .into_iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v)
            .unwrap_or_default();
        let body = serde_json::json!({ "message": format!("Hello, {name}!"), "name": name });
        let mut res = Response::new(StatusCode::OK);
        res.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res.body = Bytes::from(body.to_string());
        Ok(res)
    }
}

fn guest_dir() -> PathBuf {
    std::env::var_os("LAMINA_GUEST_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/wasm32-wasip2/release"),
        PathBuf::from,
    )
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let total: Duration = samples.iter().sum();
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        mean: total / u32::try_from(samples.len()).unwrap_or(u32::MAX),
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs event → response bytes `ITERATIONS` times; returns per-request durations.
async fn measure(app: &App, payload: &[u8], timings: &mut CallTimings) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(ITERATIONS);
    for i in 0..WARMUP + ITERATIONS {
        let start = Instant::now();
        let (origin, request) = event::decode(payload, "bench").expect("bench event decodes");
        let response = if i >= WARMUP {
            app.handle_timed(request, timings).await
        } else {
            app.handle(request).await
        };
        let bytes = event::encode(origin, &response);
        let elapsed = start.elapsed();
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&bytes));
        std::hint::black_box(bytes);
        if i >= WARMUP {
            samples.push(elapsed);
        }
    }
    samples
}

fn main() -> anyhow::Result<()> {
    let payload = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events/hello-http-api.json"),
    )?;
    let hello = guest_dir().join("hello.wasm");
    anyhow::ensure!(
        hello.exists(),
        "{} is missing: run `cargo xtask bench`",
        hello.display()
    );

    let runtime = Runtime::new()?;
    let config = Config::parse(
        &format!(
            "[components.hello]\nsource = {:?}\n[[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n",
            hello.display().to_string()
        ),
        PathBuf::from("/"),
    )?;
    let wasm = App::from_config(&config, &runtime)?;
    let mut native = App::empty();
    native
        .route(
            "GET",
            "/hello/{name}",
            Target::Native(Arc::new(NativeHello)),
        )
        .map_err(anyhow::Error::msg)?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut wasm_timings = CallTimings::default();
    let mut unused = CallTimings::default();
    let (wasm_samples, native_samples) = rt.block_on(async {
        let native_samples = measure(&native, &payload, &mut unused).await;
        let wasm_samples = measure(&wasm, &payload, &mut wasm_timings).await;
        (wasm_samples, native_samples)
    });
    let (w, n) = (stats(wasm_samples), stats(native_samples));
    println!(
        "pipeline: HTTP API 2.0 event bytes -> response bytes, GET /hello/{{name}}, {ITERATIONS} requests after {WARMUP} warm-up"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "path", "p50 µs", "p99 µs", "mean µs"
    );
    println!(
        "{:<28} {:>10.1} {:>10.1} {:>10.1}",
        "native handler",
        us(n.p50),
        us(n.p99),
        us(n.mean)
    );
    println!(
        "{:<28} {:>10.1} {:>10.1} {:>10.1}",
        "wasm, fresh instance",
        us(w.p50),
        us(w.p99),
        us(w.mean)
    );
    println!(
        "ratio wasm/native: p50 {:.1}x, mean {:.1}x",
        w.p50.as_secs_f64() / n.p50.as_secs_f64(),
        w.mean.as_secs_f64() / n.mean.as_secs_f64()
    );
    let per = |d: Duration| us(d) / ITERATIONS as f64;
    println!(
        "wasm split (mean µs/request): store {:.1}, instantiate {:.1}, call {:.1}, drop {:.1}",
        per(wasm_timings.store),
        per(wasm_timings.instantiate),
        per(wasm_timings.call),
        per(wasm_timings.drop)
    );
    Ok(())
}
