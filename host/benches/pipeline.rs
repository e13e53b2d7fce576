//! Pipeline benchmark: Lambda event bytes in → response bytes out, for the `hello`
//! component (a fresh instance per request) and for the same pipeline with a native Rust
//! handler. Prints p50/p99/mean per path, their ratio, and where the wasm path's time goes.
//!
//! Run with `cargo xtask bench` (which builds the guests first). Not run by CI: timings on a
//! shared machine are only comparable within one run, so read the ratios.

#[path = "support/lambda.rs"]
mod lambda;
#[path = "support/measure.rs"]
mod measure;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use lamina::component::EngineTuning;
use lamina::{App, Config, Error, NativeHandler, Request, Response, Runtime, Target, event};
use measure::{Timings, guest_dir, stats, us};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::PoolingAllocationConfig;

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

/// Runs event → response bytes `ITERATIONS` times after the warm-up; returns per-request
/// durations. `timings`, when given, is reset after the warm-up.
async fn measure(app: &App, payload: &[u8], timings: Option<&Timings>) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(ITERATIONS);
    for i in 0..WARMUP + ITERATIONS {
        if i == WARMUP
            && let Some(timings) = timings
        {
            timings.reset();
        }
        let start = Instant::now();
        let (origin, request) = event::decode(payload, "bench").expect("bench event decodes");
        let response = app.handle(request).await;
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

    let config_text = format!(
        "[components.hello]\nsource = {:?}\n[[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n",
        hello.display().to_string()
    );
    let config = Config::parse(&config_text, PathBuf::from("/"))?;
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

    println!(
        "pipeline: HTTP API 2.0 event bytes -> response bytes, GET /hello/{{name}}, \
         {ITERATIONS} requests after {WARMUP} warm-up"
    );
    println!(
        "{:<44} {:>8} {:>8} {:>8} {:>7} | {:>6} {:>6} {:>6} {:>6}",
        "path", "p50 µs", "p99 µs", "mean µs", "x nat", "store", "inst", "call", "drop"
    );
    let n = stats(rt.block_on(measure(&native, &payload, None)));
    println!(
        "{:<44} {:>8.1} {:>8.1} {:>8.1} {:>7}",
        "native handler",
        us(n.p50),
        us(n.p99),
        us(n.mean),
        "1.0"
    );
    match std::env::var("LAMINA_BENCH_ONLY").as_deref() {
        // For profiling one part: `LAMINA_BENCH_ONLY=middleware`.
        Ok("middleware") => return middleware_rows(&rt, &payload, &hello, n.p50),
        Ok("observability") => {
            observability_rows(&rt, &payload, &hello)?;
            return lambda_observability_rows(&rt, &payload, &hello);
        }
        _ => {}
    }
    let default = EngineTuning::default();
    let pagemap = PoolingAllocationConfig::is_pagemap_scan_available();
    println!("PAGEMAP_SCAN available: {pagemap}; lamina default: {default:?}");
    let tuned = |keep_resident: usize, pagemap_scan: bool| EngineTuning {
        keep_resident,
        pagemap_scan,
        ..default.clone()
    };
    let mut variants = vec![
        ("wasm, lamina default", default.clone()),
        ("wasm, wasmtime defaults (madvise all)", tuned(0, false)),
        ("wasm, keep 64 KiB (memset)", tuned(64 << 10, false)),
        ("wasm, keep 256 KiB (memset)", tuned(256 << 10, false)),
        ("wasm, keep 1 MiB (memset)", tuned(1 << 20, false)),
    ];
    if pagemap {
        variants.extend([
            ("wasm, keep 256 KiB + pagemap_scan", tuned(256 << 10, true)),
            ("wasm, keep 1 MiB + pagemap_scan", tuned(1 << 20, true)),
            ("wasm, keep 4 MiB + pagemap_scan", tuned(4 << 20, true)),
            (
                "wasm, 1 MiB + pagemap + decommit batch 8",
                EngineTuning {
                    decommit_batch: 8,
                    ..tuned(1 << 20, true)
                },
            ),
        ]);
    }
    variants.push((
        "wasm, default without epoch interruption",
        EngineTuning {
            epoch_interruption: false,
            ..default.clone()
        },
    ));
    variants.push(("wasm, lamina default (again)", default.clone()));
    let compression_table = compression();
    for (label, tuning) in variants {
        let timings = Arc::new(Timings::default());
        let runtime = Runtime::with_tuning(&tuning)?.observe(timings.clone());
        let wasm = App::from_config(&config, &runtime)?;
        let w = stats(rt.block_on(measure(&wasm, &payload, Some(&timings))));
        println!(
            "{:<44} {:>8.1} {:>8.1} {:>8.1} {:>7.1} | {:>6.1} {:>6.1} {:>6.1} {:>6.1}",
            label,
            us(w.p50),
            us(w.p99),
            us(w.mean),
            w.p50.as_secs_f64() / n.p50.as_secs_f64(),
            timings.per_request(0, ITERATIONS),
            timings.per_request(1, ITERATIONS),
            timings.per_request(2, ITERATIONS),
            timings.per_request(3, ITERATIONS)
        );
    }
    // The same component with `instances = "reuse"`: one instance serves every request.
    let reuse_text = config_text.replacen("[[routes]]", "instances = \"reuse\"\n[[routes]]", 1);
    let timings = Arc::new(Timings::default());
    let runtime = Runtime::new()?.observe(timings.clone());
    let reused = App::from_config(&Config::parse(&reuse_text, PathBuf::from("/"))?, &runtime)?;
    let r = stats(rt.block_on(measure(&reused, &payload, Some(&timings))));
    println!(
        "{:<44} {:>8.1} {:>8.1} {:>8.1} {:>7.1} | {:>6.1} {:>6.1} {:>6.1} {:>6.1}",
        "wasm, instances = reuse",
        us(r.p50),
        us(r.p99),
        us(r.mean),
        r.p50.as_secs_f64() / n.p50.as_secs_f64(),
        timings.per_request(0, ITERATIONS),
        timings.per_request(1, ITERATIONS),
        timings.per_request(2, ITERATIONS),
        timings.per_request(3, ITERATIONS)
    );
    middleware_rows(&rt, &payload, &hello, n.p50)?;
    observability_rows(&rt, &payload, &hello)?;
    lambda_observability_rows(&rt, &payload, &hello)?;
    println!("{compression_table}");
    println!("{}", header_scaling());
    Ok(())
}

/// Decoding a REST event whose `headers` and `multiValueHeaders` each hold `n` different
/// names (what made the merge quadratic): time per decode, which ends in a 431 above the
/// source's limit. Linear means the µs per name stays flat as `n` grows.
fn header_scaling() -> String {
    let mut out = format!(
        "header merge: REST event with n single-value + n multi-value names, median of 5\n{:<10} {:>12} {:>14}\n",
        "n", "ms", "ns per name"
    );
    for n in [1_000usize, 10_000, 50_000, 100_000] {
        let single: serde_json::Map<String, serde_json::Value> = (0..n)
            .map(|i| (format!("s-{i}"), serde_json::json!("v")))
            .collect();
        let multi: serde_json::Map<String, serde_json::Value> = (0..n)
            .map(|i| (format!("m-{i}"), serde_json::json!(["v"])))
            .collect();
        let payload = serde_json::json!({
            "httpMethod": "GET", "path": "/x", "requestContext": {"stage": "prod"},
            "headers": single, "multiValueHeaders": multi,
        })
        .to_string();
        let mut times: Vec<Duration> = (0..5)
            .map(|_| {
                let start = Instant::now();
                let _ = std::hint::black_box(event::decode(payload.as_bytes(), "bench"));
                start.elapsed()
            })
            .collect();
        times.sort_unstable();
        let median = times[2];
        out.push_str(&format!(
            "{:<10} {:>12.1} {:>14.0}\n",
            n,
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e9 / (2 * n) as f64
        ));
    }
    out
}

/// The same route behind 0, 1 and 3 middleware components (the `tagger` test middleware:
/// it changes a request header and an attribute on the way in and a response header on the
/// way out), with the default engine: each component in a fresh instance per request, then
/// every component with `instances = "reuse"`.
fn middleware_rows(
    rt: &tokio::runtime::Runtime,
    payload: &[u8],
    hello: &Path,
    native_p50: Duration,
) -> anyhow::Result<()> {
    for (policy, settings) in [("fresh", ""), ("reuse", "instances = \"reuse\"\n")] {
        middleware_table(rt, payload, hello, native_p50, policy, settings)?;
    }
    Ok(())
}

/// One table of [`middleware_rows`]: every component with `settings`.
fn middleware_table(
    rt: &tokio::runtime::Runtime,
    payload: &[u8],
    hello: &Path,
    native_p50: Duration,
    policy: &str,
    settings: &str,
) -> anyhow::Result<()> {
    let tagger = guest_dir().join("tagger.wasm");
    anyhow::ensure!(
        tagger.exists(),
        "{} is missing: run `cargo xtask bench`",
        tagger.display()
    );
    let runtime = Runtime::new()?;
    println!(
        "\nmiddleware, {policy} instances: same route, lamina default engine; `next` = both hooks, `pass` = on-request only"
    );
    let rows: [(&str, &[(&str, bool)]); 5] = [
        ("wasm, 0 middleware", &[]),
        ("wasm, 1 middleware (next)", &[("m1", false)]),
        ("wasm, 1 middleware (pass)", &[("m1", true)]),
        (
            "wasm, 3 middleware (next)",
            &[("m1", false), ("m2", false), ("m3", false)],
        ),
        ("wasm, 0 middleware (again)", &[]),
    ];
    let mut base = None;
    for (label, chain) in rows {
        let mut text = format!(
            "[components.hello]\nsource = {:?}\n{settings}",
            hello.display().to_string()
        );
        for (name, pass) in chain {
            let pass = if *pass { ", pass = \"always\"" } else { "" };
            text.push_str(&format!(
                "[components.{name}]\nsource = {:?}\nconfig = {{ tag = \"{name}\"{pass} }}\n{settings}",
                tagger.display().to_string()
            ));
        }
        let names: Vec<&str> = chain.iter().map(|(name, _)| *name).collect();
        text.push_str(&format!(
            "[[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\nmiddleware = {names:?}\n"
        ));
        let app = App::from_config(&Config::parse(&text, PathBuf::from("/"))?, &runtime)?;
        let s = stats(rt.block_on(measure(&app, payload, None)));
        let base_p50 = *base.get_or_insert(s.p50);
        println!(
            "{:<44} {:>8.1} {:>8.1} {:>8.1} {:>7.1} | x 0 mw {:>4.2}",
            format!("{label}, {policy}"),
            us(s.p50),
            us(s.p99),
            us(s.mean),
            s.p50.as_secs_f64() / native_p50.as_secs_f64(),
            s.p50.as_secs_f64() / base_p50.as_secs_f64(),
        );
    }
    Ok(())
}

/// What the access line and EMF metrics cost: the native and the wasm path with no log
/// subscriber, then with the host's JSON log layer writing to `/dev/null` (a real write
/// per line, as Lambda's pipe is) with the access line off, on, and on with `[metrics]`
/// (EMF documents to `/dev/null` too). Ratios are to the first row of the same path.
fn observability_rows(
    rt: &tokio::runtime::Runtime,
    payload: &[u8],
    hello: &Path,
) -> anyhow::Result<()> {
    use lamina::observe::metrics::{Sink, set_sink};
    set_sink(Sink::Null);
    let runtime = Runtime::new()?;
    println!(
        "
observability: JSON lines and EMF documents written to /dev/null"
    );
    let rows: [(&str, bool, &str); 4] = [
        ("no subscriber", false, ""),
        (
            "JSON log, access line off",
            true,
            "[logging]\naccess-log = false\n",
        ),
        ("JSON log + access line", true, ""),
        (
            "JSON log + access line + EMF metrics",
            true,
            "[metrics]\nnamespace = \"Lamina/bench\"\ndimensions = { environment = \"bench\" }\n",
        ),
    ];
    for native in [true, false] {
        let mut base = None;
        for (label, subscribed, section) in rows {
            // The native app binds the component on another path (a config must serve
            // something) and its native handler on the measured one.
            let path = if native { "/unused" } else { "/hello/{name}" };
            let text = format!(
                "{section}[components.hello]\nsource = {:?}\n[[routes]]\nmethod = \"GET\"\npath = \"{path}\"\ncomponent = \"hello\"\n",
                hello.display().to_string()
            );
            let mut app = App::from_config(&Config::parse(&text, PathBuf::from("/"))?, &runtime)?;
            if native {
                app.route(
                    "GET",
                    "/hello/{name}",
                    Target::Native(Arc::new(NativeHello)),
                )
                .map_err(anyhow::Error::msg)?;
            }
            let samples = if subscribed {
                let sink = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
                let subscriber = lamina::observe::lines::subscriber(
                    lamina::observe::LogFormat::Json,
                    "info",
                    std::sync::Mutex::new(sink),
                )
                .map_err(anyhow::Error::msg)?;
                tracing::subscriber::with_default(subscriber, || {
                    rt.block_on(measure(&app, payload, None))
                })
            } else {
                rt.block_on(measure(&app, payload, None))
            };
            let s = stats(samples);
            let base_p50 = *base.get_or_insert(s.p50);
            println!(
                "{:<44} {:>8.1} {:>8.1} {:>8.1} | x off {:>5.3}",
                format!("{}, {label}", if native { "native" } else { "wasm" }),
                us(s.p50),
                us(s.p99),
                us(s.mean),
                s.p50.as_secs_f64() / base_p50.as_secs_f64(),
            );
        }
    }
    Ok(())
}

/// The same rows as whole Lambda invocations: the release `lamina` binary in Lambda mode
/// against a Runtime API on loopback (`next`, the pipeline, the response `POST`, as Lambda
/// runs them), its stderr and stdout to `/dev/null`; the time from one response to the
/// next, p50 of `LAMBDA_INVOCATIONS` in each of `ROUNDS` interleaved rounds. The first row
/// turns logging off (`LAMINA_LOG=off`).
fn lambda_observability_rows(
    rt: &tokio::runtime::Runtime,
    payload: &[u8],
    hello: &Path,
) -> anyhow::Result<()> {
    const LAMBDA_INVOCATIONS: usize = 5_000;
    println!(
        "\nobservability in the Lambda loop: warm invocations through a loopback Runtime API, \
         p50 of {LAMBDA_INVOCATIONS}"
    );
    let dir = std::env::temp_dir().join(format!("lamina-bench-lambda-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let rows: [(&str, &str, &str); 4] = [
        ("no log lines (LAMINA_LOG=off)", "off", ""),
        (
            "JSON log, access line off",
            "info",
            "[logging]\naccess-log = false\n",
        ),
        ("JSON log + access line", "info", ""),
        (
            "JSON log + access line + EMF metrics",
            "info",
            "[metrics]\nnamespace = \"Lamina/bench\"\ndimensions = { environment = \"bench\" }\n",
        ),
    ];
    // Rounds interleave the rows, so a drift of the machine's speed during the table
    // reaches every row alike; each row's p50 is the median of its rounds' p50s.
    const ROUNDS: usize = 3;
    let mut p50s: Vec<Vec<Duration>> = vec![Vec::new(); rows.len()];
    let mut p99s: Vec<Vec<Duration>> = vec![Vec::new(); rows.len()];
    for _ in 0..ROUNDS {
        for (i, (_, level, section)) in rows.iter().enumerate() {
            let config = dir.join(format!("lamina-{i}.toml"));
            std::fs::write(
                &config,
                format!(
                    "{section}[components.hello]\nsource = {:?}\n[[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n",
                    hello.display().to_string()
                ),
            )?;
            let samples = rt.block_on(lambda::warm_invocations(
                &config,
                &[("LAMINA_LOG", level)],
                payload,
                500,
                LAMBDA_INVOCATIONS,
            ));
            let s = stats(samples);
            p50s[i].push(s.p50);
            p99s[i].push(s.p99);
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let base = median(&mut p50s[0]);
    for (i, (label, _, _)) in rows.iter().enumerate() {
        let p50 = median(&mut p50s[i]);
        println!(
            "{:<44} {:>8.1} {:>8.1} | x off {:>5.3}  (p50 of each round: {})",
            format!("lambda, {label}"),
            us(p50),
            us(median(&mut p99s[i])),
            p50.as_secs_f64() / base.as_secs_f64(),
            p50s[i]
                .iter()
                .map(|d| format!("{:.1}", us(*d)))
                .collect::<Vec<_>>()
                .join(" / "),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A 100 KB JSON document of the kind APIs return: a list of records.
fn json_body() -> Vec<u8> {
    let mut items = Vec::new();
    let mut i = 0u64;
    while serde_json::to_vec(&items).map_or(0, |v| v.len()) < 100_000 {
        items.push(serde_json::json!({
            "id": i,
            "sku": format!("SKU-{:08}", i * 7919 % 100_000_000),
            "title": format!("Item number {i} in the catalogue"),
            "price": (i * 37 % 10_000) as f64 / 100.0,
            "tags": ["lambda", "wasm", if i.is_multiple_of(3) { "sale" } else { "regular" }],
            "in_stock": !i.is_multiple_of(5),
        }));
        i += 1;
    }
    serde_json::to_vec(&items).expect("serializable")
}

/// Time and ratio per codec on a 100 KB JSON body (median of 50 runs each).
fn compression() -> String {
    use lamina::compress::Encoding;
    let body = json_body();
    let mut out = format!(
        "\ncompression: {} byte JSON body, median of 50 runs\n{:<10} {:>12} {:>8} {:>12}\n",
        body.len(),
        "encoding",
        "bytes",
        "ratio",
        "µs"
    );
    for encoding in [
        Encoding::Gzip,
        Encoding::Br,
        Encoding::Zstd,
        Encoding::Deflate,
    ] {
        let mut times = Vec::with_capacity(50);
        let mut size = 0;
        for _ in 0..50 {
            let start = Instant::now();
            let compressed = encoding.compress(&body).expect("in-memory compression");
            times.push(start.elapsed());
            size = compressed.len();
        }
        times.sort_unstable();
        out.push_str(&format!(
            "{:<10} {:>12} {:>8.1} {:>12.0}\n",
            encoding.token(),
            size,
            body.len() as f64 / size as f64,
            us(times[times.len() / 2])
        ));
    }
    out
}
