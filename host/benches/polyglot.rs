//! Polyglot benchmark: the same `hello` handler and `timing` middleware in Rust, Python
//! (componentize-py), JavaScript on SpiderMonkey (componentize-js) and on QuickJS
//! (componentize-qjs), side by side in one run:
//!
//! - per request, a fresh instance each: p50/p99 of event bytes in → response bytes out,
//!   and the ratio to Rust;
//! - what a `timing` middleware in front of the Rust handler adds, per language;
//! - cold start (process start → first response via the Runtime API) with one `hello`
//!   from `.wasm` with the compile cache off, with a warm cache, and from a pinned `.cwasm`;
//! - `.wasm` and `.cwasm` sizes;
//! - resident memory of `lamina serve` with the Rust examples only and with every example
//!   of `examples/lamina.toml` loaded, after one request to each handler.
//!
//! Run with `cargo xtask bench` (which builds the guests first). Compare within one run.

#[path = "support/measure.rs"]
mod measure;
use measure::{Timings, get_event, guest_dir, mib, minor_faults, ms, proc_status_bytes, us};
#[path = "support/lambda.rs"]
mod lambda;
#[path = "support/serve.rs"]
mod serve;

use lamina::component::EngineTuning;
use lamina::{App, Config, Runtime, event};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Languages by their guest-name prefix (`""` is Rust), with a label.
const LANGS: [(&str, &str); 4] = [
    ("", "Rust"),
    ("py-", "Python"),
    ("js-", "JS (SpiderMonkey)"),
    ("qjs-", "JS (QuickJS)"),
];

/// The first path segment of a language's routes.
fn segment(prefix: &str) -> &str {
    if prefix.is_empty() {
        "rs"
    } else {
        prefix.trim_end_matches('-')
    }
}
const WARMUP: usize = 100;
const ITERATIONS: usize = 2_000;
const COLD_RUNS: usize = 3;

fn guest(name: &str) -> PathBuf {
    guest_dir().join(format!("{name}.wasm"))
}

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() as f64 - 1.0) * q).round() as usize]
}

/// `hello` of every language on `/{segment}/hello/{name}`, and the Rust `hello` behind
/// each language's `timing` on `/{segment}/timed/{name}` (and without one on
/// `/plain/{name}`), each component with `settings`.
fn app_config(settings: &str) -> String {
    let mut text = String::new();
    for (prefix, _) in LANGS {
        text.push_str(&format!(
            "[components.{prefix}hello]\nsource = {:?}\n{settings}",
            guest(&format!("{prefix}hello"))
        ));
        if prefix != "qjs-" {
            text.push_str(&format!(
                "[components.{prefix}timing]\nsource = {:?}\n{settings}",
                guest(&format!("{prefix}timing"))
            ));
        }
    }
    for (prefix, _) in LANGS {
        let seg = segment(prefix);
        text.push_str(&format!(
            "[[routes]]\nmethod = \"GET\"\npath = \"/{seg}/hello/{{name}}\"\ncomponent = \"{prefix}hello\"\n"
        ));
        if prefix != "qjs-" {
            text.push_str(&format!(
                "[[routes]]\nmethod = \"GET\"\npath = \"/{seg}/timed/{{name}}\"\ncomponent = \"hello\"\nmiddleware = [\"{prefix}timing\"]\n"
            ));
        }
    }
    text.push_str(
        "[[routes]]\nmethod = \"GET\"\npath = \"/plain/{name}\"\ncomponent = \"hello\"\n",
    );
    text
}

/// p50 and p99 of `ITERATIONS` requests for `path`, after a warm-up.
fn per_request(rt: &tokio::runtime::Runtime, app: &App, path: &str) -> (Duration, Duration) {
    let payload = get_event(path);
    let once = || {
        let started = Instant::now();
        let (origin, request) = event::decode(&payload, "bench").unwrap();
        let response = rt.block_on(app.handle(request));
        assert_eq!(response.status, 200, "{path}");
        let _ = event::encode(origin, &response);
        started.elapsed()
    };
    for _ in 0..WARMUP {
        once();
    }
    let mut samples: Vec<Duration> = (0..ITERATIONS).map(|_| once()).collect();
    (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    )
}

/// Where a fresh instance's time goes for each language's `hello`, with the pool keeping
/// 1 MiB of each linear memory resident between instances (the default) and more: p50, the
/// observer's split of the component call, and minor page faults per request.
fn fresh_instance_split(rt: &tokio::runtime::Runtime, cache: &Path) -> anyhow::Result<()> {
    println!(
        "\nwhere a fresh instance's time goes (µs per request; faults = minor page faults per request)\n{:<20} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "", "resident", "p50", "store", "inst", "call", "drop", "faults"
    );
    let default = EngineTuning::default();
    let mut sizes = vec![default.keep_resident];
    if default.pagemap_scan {
        // Only with PAGEMAP_SCAN: without it every resident byte is reset on every drop.
        sizes.extend([16 << 20, 64 << 20]);
    }
    for keep_resident in sizes {
        let timings = Arc::new(Timings::default());
        let runtime = Runtime::with_tuning(&EngineTuning {
            keep_resident,
            ..default.clone()
        })?
        .with_cache_dir(Some(cache))?
        .observe(timings.clone());
        let app = App::from_config(
            &Config::parse(&app_config(""), PathBuf::from("/"))?,
            &runtime,
        )?;
        for (prefix, label) in LANGS {
            let path = format!("/{}/hello/Ada", segment(prefix));
            per_request(rt, &app, &path);
            timings.reset();
            let faults = minor_faults();
            let (p50, _) = per_request(rt, &app, &path);
            let faults = (minor_faults() - faults) as f64 / (WARMUP + ITERATIONS) as f64;
            let split = |stage| timings.per_request(stage, WARMUP + ITERATIONS);
            println!(
                "{label:<20} {:>5} MiB {:>9.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.0}",
                keep_resident >> 20,
                us(p50),
                split(0),
                split(1),
                split(2),
                split(3),
                faults
            );
        }
    }
    Ok(())
}

fn one_hello_config(source: &Path, pin: Option<&str>) -> String {
    let pin = pin.map_or_else(String::new, |p| format!("sha256 = \"{p}\"\n"));
    format!(
        "[components.hello]\nsource = {source:?}\n{pin}[[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n"
    )
}

/// `lamina serve` on `config`, one GET to each of `paths`, then its resident memory.
fn serve_rss(config: &Path, paths: &[&str]) -> anyhow::Result<u64> {
    let server = serve::start(config, "off", Stdio::null())?;
    let mut stream = std::net::TcpStream::connect(&server.addr)?;
    for path in paths {
        serve::get(&mut stream, &server.addr, path)?;
    }
    Ok(proc_status_bytes(server.child.id(), "VmRSS:"))
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("lamina-polyglot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // The per-request part does not measure loading: share the suite's compile cache.
    let cache = std::env::temp_dir().join("lamina-cache");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    let runtime = Runtime::new()?.with_cache_dir(Some(&cache))?;
    for (policy, settings) in [("fresh", ""), ("reused", "instances = \"reuse\"\n")] {
        let app = App::from_config(
            &Config::parse(&app_config(settings), PathBuf::from("/"))?,
            &runtime,
        )?;
        println!(
            "\nper request ({policy} instances), GET /hello/{{name}} from an HTTP API event, {ITERATIONS} requests"
        );
        let mut rust_p50 = Duration::ZERO;
        for (prefix, label) in LANGS {
            let (p50, p99) = per_request(&rt, &app, &format!("/{}/hello/Ada", segment(prefix)));
            if prefix.is_empty() {
                rust_p50 = p50;
            }
            println!(
                "{label:<20} p50 {:>8.1} µs  p99 {:>8.1} µs  ({:.1}× Rust)",
                us(p50),
                us(p99),
                p50.as_secs_f64() / rust_p50.as_secs_f64()
            );
        }
        println!(
            "\ntiming middleware ({policy} instances) in front of the Rust hello: p50 added over no middleware"
        );
        let (plain, _) = per_request(&rt, &app, "/plain/Ada");
        for (prefix, label) in LANGS.iter().filter(|(p, _)| *p != "qjs-") {
            let (p50, p99) = per_request(&rt, &app, &format!("/{}/timed/Ada", segment(prefix)));
            println!(
                "{label:<20} +{:>8.1} µs  (p99 {:>8.1} µs total)",
                us(p50.saturating_sub(plain)),
                us(p99)
            );
        }
    }

    fresh_instance_split(&rt, &cache)?;

    println!(
        "\ncold start: process start -> first response via the Runtime API, one hello, median of {COLD_RUNS}"
    );
    let event = get_event("/hello/Ada");
    println!(
        "{:<20} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "", ".wasm, off", "warm cache", ".cwasm", ".wasm MiB", ".cwasm MiB"
    );
    for (prefix, label) in LANGS {
        let wasm = guest(&format!("{prefix}hello"));
        let cwasm = dir.join(format!("{prefix}hello.cwasm"));
        let status = Command::new(env!("CARGO_BIN_EXE_lamina"))
            .arg("compile")
            .arg(&wasm)
            .arg("-o")
            .arg(&cwasm)
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "lamina compile {} failed", wasm.display());
        let pin = lamina::component::sha256_hex(&std::fs::read(&cwasm)?);
        let wasm_config = dir.join(format!("{prefix}wasm.toml"));
        std::fs::write(&wasm_config, one_hello_config(&wasm, None))?;
        let cwasm_config = dir.join(format!("{prefix}cwasm.toml"));
        std::fs::write(&cwasm_config, one_hello_config(&cwasm, Some(&pin)))?;
        let lang_cache = dir.join(format!("{prefix}cache")).display().to_string();
        let median = |config: &Path, cache: &str| {
            let mut samples: Vec<Duration> = (0..COLD_RUNS)
                .map(|_| rt.block_on(lambda::cold_start(config, cache, &event)))
                .collect();
            percentile(&mut samples, 0.5)
        };
        let off = median(&wasm_config, "off");
        // The first start fills the cache the measured ones map.
        rt.block_on(lambda::cold_start(&wasm_config, &lang_cache, &event));
        let warm = median(&wasm_config, &lang_cache);
        let precompiled = median(&cwasm_config, "off");
        println!(
            "{label:<20} {:>9.0} ms {:>9.0} ms {:>9.0} ms {:>10.1} {:>10.1}",
            ms(off),
            ms(warm),
            ms(precompiled),
            mib(std::fs::metadata(&wasm)?.len()),
            mib(std::fs::metadata(&cwasm)?.len())
        );
    }

    println!("\nlamina serve resident memory, after one request to each handler");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/lamina.toml");
    let text = std::fs::read_to_string(&examples)?;
    // The Rust part of the example config: everything before the Python and TypeScript
    // components.
    let rust_only = dir.join("examples-rust.toml");
    let cut = text
        .find("[components.py-hello]")
        .ok_or_else(|| anyhow::anyhow!("examples/lamina.toml has no py-hello"))?;
    let examples_dir = examples.parent().unwrap().display().to_string();
    std::fs::write(
        &rust_only,
        text[..cut]
            .replace("source = \"../", &format!("source = \"{examples_dir}/../"))
            .as_bytes(),
    )?;
    let rust_paths = ["/hello", "/echo/x", "/todos"];
    let all_paths = serve::EXAMPLE_GET_PATHS;
    println!(
        "{:<44} {:>8.1} MiB",
        "Rust examples (3 handlers, 3 middleware)",
        mib(serve_rss(&rust_only, &rust_paths)?)
    );
    println!(
        "{:<44} {:>8.1} MiB",
        "all examples (+ 6 Python/JS handlers, 2 mw)",
        mib(serve_rss(&examples, &all_paths)?)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
