//! `lamina serve` under tenants that misbehave: `GET /hello/{name}` throughput and latency
//! from 4 keep-alive clients while 0, 1, 2 or 4 requests spin in `faults` (a guest in an
//! endless loop, stopped only by its 4 s timeout). Each row runs on a fresh server.
//!
//! Run with `cargo xtask bench`. Read the rows against the first (no loopers) of the same
//! run: the machine is shared and noisy.

#[path = "support/serve.rs"]
mod serve;

#[path = "support/measure.rs"]
mod measure;
use measure::guest_dir;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MEASURE: Duration = Duration::from_secs(3);
const CLIENTS: usize = 4;

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn main() -> anyhow::Result<()> {
    anyhow::ensure!(
        guest_dir().join("faults.wasm").exists(),
        "run `cargo xtask bench` (it builds the guests)"
    );
    let dir = std::env::temp_dir().join(format!("lamina-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        format!(
            "[components.hello]\nsource = {:?}\n[components.faults]\nsource = {:?}\ntimeout = \"4s\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/faults/{{fault}}\"\ncomponent = \"faults\"\n",
            guest_dir().join("hello.wasm"),
            guest_dir().join("faults.wasm")
        ),
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "serve under spinning guests: GET /hello/{{name}} from {CLIENTS} keep-alive clients for {}s",
        MEASURE.as_secs()
    );
    println!(
        "{:<12} {:>10} {:>9} {:>9}",
        "loopers", "req/s", "p50 ms", "p99 ms"
    );
    for loopers in [0usize, 1, 2, 4] {
        let server = Arc::new(serve::start(&config, "off", Stdio::inherit())?);
        let (rate, p50, p99) = rt.block_on(async {
            let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
            for _ in 0..loopers {
                let client = client.clone();
                let uri: hyper::Uri = format!("{}/faults/loop", server.base()).parse().unwrap();
                tokio::spawn(async move {
                    let _ = client.get(uri).await;
                });
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let started = Instant::now();
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let client = client.clone();
                    let uri: hyper::Uri = format!("{}/hello/bench", server.base()).parse().unwrap();
                    tokio::spawn(async move {
                        let mut latencies = Vec::new();
                        while started.elapsed() < MEASURE {
                            let sent = Instant::now();
                            let res = client.get(uri.clone()).await.expect("hello answers");
                            assert_eq!(res.status(), 200);
                            res.into_body().collect().await.unwrap();
                            latencies.push(sent.elapsed());
                        }
                        latencies
                    })
                })
                .collect();
            let mut all = Vec::new();
            for task in tasks {
                all.extend(task.await.unwrap());
            }
            all.sort_unstable();
            let rate = all.len() as f64 / started.elapsed().as_secs_f64();
            (rate, percentile(&all, 0.5), percentile(&all, 0.99))
        });
        println!(
            "{:<12} {:>10.0} {:>9.2} {:>9.2}",
            loopers,
            rate,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        drop(server);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
