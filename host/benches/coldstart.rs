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

#[path = "support/measure.rs"]
mod measure;
use measure::{guest_dir, ms};
#[path = "support/lambda.rs"]
mod lambda;

use lambda::cold_start;
use lamina::fetch::Location;
use lamina::swap::{Outcome, Reloader, Swap};
use lamina::{App, Config, Runtime};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNS: usize = 7;
const COMPONENTS: [&str; 3] = ["hello", "echo", "todos"];

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
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
