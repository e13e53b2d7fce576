//! Cold start and memory with every example bundled, next to Powertools in the same run.
//!
//! `lamina bundle examples/lamina.toml` precompiles and pins every example (Rust, Python
//! and JavaScript handlers and middleware), as a deployment ships them. Then:
//!
//! - **cold start**: the release `lamina` in Lambda mode on the bundled config, process
//!   start → first response through a Runtime API in this process, for the Rust, Python
//!   and JS `hello`, with the bundle's `.cwasm` files mapped (read-only, as bundled and as
//!   a Lambda layer is) and copied into memory (made writable); beside it a Python
//!   process importing Powertools' event handler and resolving the same event (interpreter
//!   start, import, first `resolve`), which is the cold start of a Powertools Lambda;
//! - **memory**: `lamina serve` on the bundled config, resident memory after one request to
//!   each handler, after 10,000 requests spread over them, its peak, and after a swap to a
//!   new version of the config.
//!
//! Run with `cargo xtask bench` (which installs Powertools into `target/bench-venv` and
//! passes its interpreter as `LAMINA_POWERTOOLS_PYTHON`). Compare within one run.

#[path = "support/measure.rs"]
mod measure;
use measure::{get_event, mib, ms, proc_status_bytes};
#[path = "support/lambda.rs"]
mod lambda;
#[path = "support/serve.rs"]
mod serve;

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COLD_RUNS: usize = 5;
const REQUESTS: usize = 10_000;

/// The handlers of `examples/lamina.toml` that answer a plain `GET`.
const PATHS: [&str; 9] = [
    "/hello",
    "/echo/x",
    "/todos",
    "/py/hello",
    "/py/echo/x",
    "/py/todos",
    "/js/hello",
    "/js/echo/x",
    "/js/todos",
];

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Every `.cwasm` of the bundle made read-only (as `lamina bundle` writes them, so the host
/// maps them) or writable (so it reads and copies them).
fn set_components_writable(layer: &Path, writable: bool) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(layer.join("components"))? {
        let path = entry?.path();
        let mode = if writable { 0o644 } else { 0o444 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// A Powertools cold start: a new interpreter imports the event handler, resolves `event`
/// once and prints its peak RSS. Process start → that line, and the peak.
fn powertools_cold_start(python: &Path, event: &[u8]) -> anyhow::Result<(Duration, u64)> {
    const SCRIPT: &str = r#"
import json, resource, sys
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
app = APIGatewayHttpResolver()
@app.get("/hello/<name>")
def hello(name):
    return {"message": f"Hello, {name}!", "name": name}
class Context:
    aws_request_id = "bench"
    function_name = "bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
reply = app.resolve(json.loads(sys.stdin.read()), Context())
json.dumps(reply)
assert reply["statusCode"] == 200, reply
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
"#;
    let started = Instant::now();
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child.stdin.take().unwrap().write_all(event)?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    let took = started.elapsed();
    anyhow::ensure!(child.wait()?.success(), "the Powertools script failed");
    let kib: u64 = line.trim().parse()?;
    Ok((took, kib * 1024))
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("lamina-footprint-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/lamina.toml");
    let bundle = dir.join("bundle");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("bundle")
        .arg(&examples)
        .arg("-o")
        .arg(&bundle)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "lamina bundle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let layer = bundle.join("layer/lamina");
    let config: PathBuf = layer.join("lamina.toml");
    let components = std::fs::read_dir(layer.join("components"))?.count();
    println!(
        "every example bundled ({components} components) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "\ncold start with every example loaded: process start -> first response via the \
         Runtime API, median of {COLD_RUNS} (peak RSS of the median run's process)"
    );
    let cold = |path: &str| -> (Duration, u64) {
        let event = get_event(path);
        let mut runs: Vec<(Duration, u64)> = (0..COLD_RUNS)
            .map(|_| rt.block_on(lambda::cold_start_with_peak(&config, "off", &event)))
            .collect();
        runs.sort_unstable();
        runs[runs.len() / 2]
    };
    for (label, writable) in [(".cwasm mapped", false), (".cwasm copied", true)] {
        set_components_writable(&layer, writable)?;
        for (lang, path) in [
            ("Rust", "/hello"),
            ("Python", "/py/hello"),
            ("JS", "/js/hello"),
        ] {
            let (took, peak) = cold(path);
            println!(
                "{label:<16} first request {lang:<7} {:>8.1} ms  peak {:>6.1} MiB",
                ms(took),
                mib(peak)
            );
        }
    }
    set_components_writable(&layer, false)?;
    match std::env::var_os("LAMINA_POWERTOOLS_PYTHON") {
        Some(python) => {
            let event = std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../examples/events/hello-http-api.json"),
            )?;
            let runs = (0..COLD_RUNS)
                .map(|_| powertools_cold_start(Path::new(&python), &event))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let peak = runs.iter().map(|r| r.1).max().unwrap_or(0);
            println!(
                "{:<16} first request {:<7} {:>8.1} ms  peak {:>6.1} MiB",
                "Powertools",
                "Python",
                ms(median(runs.into_iter().map(|r| r.0).collect())),
                mib(peak)
            );
        }
        None => println!("(Powertools row skipped: set LAMINA_POWERTOOLS_PYTHON)"),
    }

    println!("\nlamina serve with every example bundled (.cwasm mapped): resident memory");
    let mut server = serve::start(&config, "info", Stdio::piped())?;
    let (pid, addr) = (server.child.id(), server.addr.clone());
    // Its log (an access line per request) is drained, or the pipe would fill and stall
    // it; the swap's line is passed on.
    let (tell, swapped) = std::sync::mpsc::channel();
    let stderr = BufReader::new(server.child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("new version serving") {
                let _ = tell.send(());
            }
        }
    });
    // Resident memory, and the part of it that cannot be reclaimed: anonymous and shared
    // memory (heaps, guests' written pages, memfd images). The rest is file pages mapped
    // from the `.cwasm` files, which the kernel drops under memory pressure and reads back.
    let rss = || {
        (
            proc_status_bytes(pid, "VmRSS:"),
            proc_status_bytes(pid, "RssAnon:") + proc_status_bytes(pid, "RssShmem:"),
        )
    };
    let at_start = rss();
    let mut stream = std::net::TcpStream::connect(&addr)?;
    for path in PATHS {
        serve::get(&mut stream, &addr, path)?;
    }
    let after_one = rss();
    for i in 0..REQUESTS {
        serve::get(&mut stream, &addr, PATHS[i % PATHS.len()])?;
    }
    let steady = rss();
    let peak = (proc_status_bytes(pid, "VmHWM:"), 0);
    // A new version: the same config with a comment, written as a deploy tool would; the
    // host notices it, loads it beside the old one, swaps, and drops the old one.
    let text = std::fs::read_to_string(&config)?;
    let tmp = config.with_extension("upload");
    std::fs::write(&tmp, format!("# version 2\n{text}"))?;
    std::fs::rename(&tmp, &config)?;
    anyhow::ensure!(
        swapped.recv_timeout(Duration::from_secs(120)).is_ok(),
        "serve did not swap to the new version"
    );
    for path in PATHS {
        serve::get(&mut stream, &addr, path)?;
    }
    let after_swap = rss();
    let peak_after_swap = (proc_status_bytes(pid, "VmHWM:"), 0);
    drop(server);
    println!("{:<44} {:>12} {:>12}", "", "RSS", "anon+shmem");
    for (label, (bytes, unreclaimable)) in [
        ("started, before any request", at_start),
        ("after one request to each of 9 handlers", after_one),
        ("after 10,000 more requests (steady)", steady),
        ("peak (VmHWM) by then", peak),
        ("after a swap and one request each", after_swap),
        ("peak (VmHWM) including the swap", peak_after_swap),
    ] {
        let unreclaimable = if unreclaimable == 0 {
            "-".to_owned()
        } else {
            format!("{:.1} MiB", mib(unreclaimable))
        };
        println!("{label:<44} {:>8.1} MiB {unreclaimable:>12}", mib(bytes));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
