//! Cold start and swap benchmarks.
//!
//! Cold start: process start → first response posted to the Runtime API, for the real
//! `lamina` binary in Lambda mode with three components (hello, echo, todos) loaded from
//! `.wasm` with the compile cache off, from `.wasm` with a warm compile cache, and from
//! pinned `.cwasm` files. A minimal Runtime API server in this process hands out one
//! event and times the response.
//!
//! Swap: the time `Reloader::reload_if_changed` takes to notice a replaced component, load
//! the new version and swap it in, with the compile cache warm and off.
//!
//! Run with `cargo xtask bench`. Medians of several runs; compare within one run.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lamina::fetch::Location;
use lamina::swap::{Outcome, Reloader, Swap};
use lamina::{App, Config, Runtime};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const RUNS: usize = 7;
const COMPONENTS: [&str; 3] = ["hello", "echo", "todos"];

fn guest_dir() -> PathBuf {
    std::env::var_os("LAMINA_GUEST_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/wasm32-wasip2/release"),
        PathBuf::from,
    )
}

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
async fn cold_start(config: &Path, cache: &str, event: &[u8]) -> Duration {
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

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn config_text(sources: &[(String, Option<String>)]) -> String {
    let mut text = String::new();
    for (name, (source, pin)) in COMPONENTS.iter().zip(sources) {
        text.push_str(&format!("[components.{name}]\nsource = {source:?}\n"));
        if let Some(pin) = pin {
            text.push_str(&format!("sha256 = \"{pin}\"\n"));
        }
    }
    text.push_str(
        "[[routes]]\nmethod = \"GET\"\npath = \"/hello/{name}\"\ncomponent = \"hello\"\n\
         [[routes]]\nmethod = \"ANY\"\npath = \"/echo/{*rest}\"\ncomponent = \"echo\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/todos\"\ncomponent = \"todos\"\n",
    );
    text
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("lamina-coldstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let event = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events/hello-http-api.json"),
    )?;
    let wasm: Vec<(String, Option<String>)> = COMPONENTS
        .iter()
        .map(|name| {
            (
                guest_dir()
                    .join(format!("{name}.wasm"))
                    .display()
                    .to_string(),
                None,
            )
        })
        .collect();
    let mut cwasm = Vec::new();
    for name in COMPONENTS {
        let out = dir.join(format!("{name}.cwasm"));
        let status = Command::new(env!("CARGO_BIN_EXE_lamina"))
            .arg("compile")
            .arg(guest_dir().join(format!("{name}.wasm")))
            .arg("-o")
            .arg(&out)
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "lamina compile {name} failed");
        let pin = lamina::component::sha256_hex(&std::fs::read(&out)?);
        cwasm.push((out.display().to_string(), Some(pin)));
    }
    let wasm_config = dir.join("wasm.toml");
    std::fs::write(&wasm_config, config_text(&wasm))?;
    let cwasm_config = dir.join("cwasm.toml");
    std::fs::write(&cwasm_config, config_text(&cwasm))?;
    let cache = dir.join("cache");
    let cache = cache.display().to_string();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "cold start: process start -> first response via the Runtime API, 3 components \
         (hello, echo, todos), median of {RUNS}"
    );
    let modes: [(&str, &Path, &str); 3] = [
        (".wasm, compile cache off", &wasm_config, "off"),
        (".wasm, warm compile cache", &wasm_config, &cache),
        ("pinned .cwasm, cache off", &cwasm_config, "off"),
    ];
    // Warm the cache once; the measured runs all hit it.
    rt.block_on(cold_start(&wasm_config, &cache, &event));
    for (label, config, cache) in modes {
        let samples: Vec<Duration> = (0..RUNS)
            .map(|_| rt.block_on(cold_start(config, cache, &event)))
            .collect();
        let min = *samples.iter().min().unwrap();
        println!(
            "{label:<32} {:>8.1} ms  (min {:>6.1})",
            ms(median(samples)),
            ms(min)
        );
    }

    println!(
        "\nswap: a replaced component noticed, loaded and swapped in (Reloader), median of {RUNS}"
    );
    for (label, cache_dir) in [
        ("compile cache warm", Some(dir.join("swap-cache"))),
        ("compile cache off", None),
    ] {
        let runtime = Runtime::new()?.with_cache_dir(cache_dir.as_deref())?;
        let app_dir = dir.join(format!("swap-{}", cache_dir.is_some()));
        std::fs::create_dir_all(&app_dir)?;
        let component = app_dir.join("app.wasm");
        std::fs::copy(guest_dir().join("hello.wasm"), &component)?;
        let config = app_dir.join("lamina.toml");
        std::fs::write(
            &config,
            "[components.app]\nsource = \"app.wasm\"\n[[routes]]\nmethod = \"GET\"\npath = \"/hello/{name}\"\ncomponent = \"app\"\n",
        )?;
        let app = App::from_config(&Config::load(&config)?, &runtime)?;
        let swap = Arc::new(Swap::new(app));
        let reloader = Reloader::new(Location::File(config.clone()), runtime, swap, Duration::MAX);
        let mut samples = Vec::new();
        // Alternate between two components so every round is a real change; with the cache
        // on, both are in it after the first round.
        for round in 0..=RUNS {
            let next = if round % 2 == 0 { "echo" } else { "hello" };
            let tmp = app_dir.join("app.upload");
            std::fs::copy(guest_dir().join(format!("{next}.wasm")), &tmp)?;
            std::fs::rename(&tmp, &component)?;
            let started = Instant::now();
            let outcome = reloader.reload_if_changed();
            let took = started.elapsed();
            anyhow::ensure!(outcome == Outcome::Swapped, "round {round}: {outcome:?}");
            if round > 0 {
                samples.push(took);
            }
        }
        println!("{label:<32} {:>8.1} ms", ms(median(samples)));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
