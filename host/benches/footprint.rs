//! Cold start and memory with every example bundled, next to Powertools in the same run.
//!
//! `lamina bundle examples/lamina.toml` precompiles and pins every example (Rust, Python
//! and JavaScript handlers and middleware), as a deployment ships them. Then:
//!
//! - **cold start**: the release `lamina` in Lambda mode, process start → first response
//!   through a Runtime API in this process, for the Rust, Python and JS `hello`, with all
//!   14 bundled components and with only the three `hello`s, the `.cwasm` files mapped
//!   (read-only, as bundled and as a Lambda layer is) and copied into memory (made
//!   writable); beside it a Python process importing Powertools' event handler and
//!   resolving the same event (interpreter start, import, first `resolve`), which is the
//!   cold start of a Powertools Lambda;
//! - **memory**: `lamina serve` on the bundled config, resident memory (and the part of it
//!   that is not reclaimable file pages) after one request to each handler, after 10,000
//!   requests spread over them, its peak, and after a swap to a new version of the config;
//!   then the same inside a memory cgroup limited to 128 MiB, the smallest Lambda, where
//!   the machine lets this process create one (root, cgroup v1 or v2).
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

/// The bundled config at `bundled` cut down to one `hello` per language (Rust, Python,
/// JS) on `/hello`, `/py/hello` and `/js/hello`, pins and sources as bundled.
fn one_hello_per_language(bundled: &Path) -> anyhow::Result<String> {
    let all: toml::Table = std::fs::read_to_string(bundled)?.parse()?;
    let mut components = toml::Table::new();
    let mut routes = Vec::new();
    for (name, path) in [
        ("hello", "/hello"),
        ("py-hello", "/py/hello"),
        ("js-hello", "/js/hello"),
    ] {
        let component = all["components"]
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("the bundle has no {name}"))?;
        components.insert(name.to_owned(), component.clone());
        let mut route = toml::Table::new();
        route.insert("method".into(), "GET".into());
        route.insert("path".into(), path.into());
        route.insert("component".into(), name.into());
        routes.push(toml::Value::Table(route));
    }
    let mut config = toml::Table::new();
    config.insert("components".into(), toml::Value::Table(components));
    config.insert("routes".into(), toml::Value::Array(routes));
    Ok(toml::to_string(&config)?)
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

/// The smallest memory a Lambda function can have.
const LAMBDA_MEMORY: u64 = 128 << 20;

/// `lamina serve`'s memory at each point of a run: resident (`VmRSS`, or `VmHWM` for the
/// peaks) and the part of it that cannot be reclaimed (anonymous and shared memory: heaps,
/// guests' written pages, memfd images; 0 where not taken). The rest is file pages mapped
/// from the `.cwasm` files and the binary, which the kernel drops under memory pressure and
/// reads back when touched.
struct Footprint {
    rows: Vec<(&'static str, (u64, u64))>,
    /// Requests per second over the 10,000.
    rate: f64,
}

/// `lamina serve` on `config` (inside `cgroup` when given): one request to each handler,
/// 10,000 more, then a swap to a new version of the config and one request each.
fn serve_footprint(config: &Path, cgroup: Option<&MemoryCgroup>) -> anyhow::Result<Footprint> {
    let mut server = serve::start_with(config, "info", Stdio::piped(), |command| {
        if let Some(cgroup) = cgroup {
            cgroup.enter_on_exec(command);
        }
    })?;
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
    let rss = || {
        (
            proc_status_bytes(pid, "VmRSS:"),
            proc_status_bytes(pid, "RssAnon:") + proc_status_bytes(pid, "RssShmem:"),
        )
    };
    let mut rows = vec![("started, before any request", rss())];
    let mut stream = std::net::TcpStream::connect(&addr)?;
    for path in serve::EXAMPLE_GET_PATHS {
        serve::get(&mut stream, &addr, path)?;
    }
    rows.push(("after one request to each of 9 handlers", rss()));
    let started = Instant::now();
    for i in 0..REQUESTS {
        serve::get(
            &mut stream,
            &addr,
            serve::EXAMPLE_GET_PATHS[i % serve::EXAMPLE_GET_PATHS.len()],
        )?;
    }
    let rate = REQUESTS as f64 / started.elapsed().as_secs_f64();
    rows.push(("after 10,000 more requests (steady)", rss()));
    rows.push((
        "peak (VmHWM) by then",
        (proc_status_bytes(pid, "VmHWM:"), 0),
    ));
    // A new version: the same config with a comment, written as a deploy tool would; the
    // host notices it, loads it beside the old one, swaps, and drops the old one.
    let text = std::fs::read_to_string(config)?;
    let tmp = config.with_extension("upload");
    std::fs::write(&tmp, format!("# version 2\n{text}"))?;
    std::fs::rename(&tmp, config)?;
    anyhow::ensure!(
        swapped.recv_timeout(Duration::from_secs(120)).is_ok(),
        "serve did not swap to the new version"
    );
    for path in serve::EXAMPLE_GET_PATHS {
        serve::get(&mut stream, &addr, path)?;
    }
    rows.push(("after a swap and one request each", rss()));
    rows.push((
        "peak (VmHWM) including the swap",
        (proc_status_bytes(pid, "VmHWM:"), 0),
    ));
    drop(server);
    // Back to the bundled text for the next run.
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, config)?;
    Ok(Footprint { rows, rate })
}

fn print_footprint(footprint: &Footprint) {
    println!("{:<44} {:>12} {:>12}", "", "RSS", "anon+shmem");
    for (label, (bytes, unreclaimable)) in &footprint.rows {
        let unreclaimable = if *unreclaimable == 0 {
            "-".to_owned()
        } else {
            format!("{:.1} MiB", mib(*unreclaimable))
        };
        println!("{label:<44} {:>8.1} MiB {unreclaimable:>12}", mib(*bytes));
    }
}

/// Drops the cached pages of every file in `dir` (`posix_fadvise(DONTNEED)`; pages that
/// are mapped or dirty stay).
fn evict_from_page_cache(dir: &Path) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd as _;
    for entry in std::fs::read_dir(dir)? {
        let file = std::fs::File::open(entry?.path())?;
        // SAFETY: an advice call on an open descriptor; it reads no memory of ours.
        #[allow(unsafe_code)]
        unsafe {
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
    }
    Ok(())
}

/// A memory cgroup with a limit, as a Lambda sandbox has one, removed when dropped. The
/// v1 memory controller where it is mounted so (as on this machine), else v2.
struct MemoryCgroup {
    dir: PathBuf,
    v1: bool,
}

impl MemoryCgroup {
    fn create(limit: u64) -> anyhow::Result<Self> {
        let name = format!("lamina-footprint-{}", std::process::id());
        let v1 = Path::new("/sys/fs/cgroup/memory");
        let (dir, v1, limit_file) = if v1.join("memory.limit_in_bytes").exists() {
            (v1.join(name), true, "memory.limit_in_bytes")
        } else {
            (Path::new("/sys/fs/cgroup").join(name), false, "memory.max")
        };
        std::fs::create_dir(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let cgroup = Self { dir, v1 };
        std::fs::write(cgroup.dir.join(limit_file), limit.to_string())?;
        // No swap beyond the limit either, as in Lambda.
        let _ = if cgroup.v1 {
            std::fs::write(
                cgroup.dir.join("memory.memsw.limit_in_bytes"),
                limit.to_string(),
            )
        } else {
            std::fs::write(cgroup.dir.join("memory.swap.max"), "0")
        };
        Ok(cgroup)
    }

    /// Makes `command`'s process join this cgroup before it runs the program, so all of
    /// its memory is charged here.
    fn enter_on_exec(&self, command: &mut Command) {
        use std::os::unix::process::CommandExt as _;
        let procs = std::ffi::CString::new(
            self.dir
                .join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        // SAFETY: between fork and exec the closure only makes system calls (open, write,
        // close) on memory prepared before the fork, which is what is allowed there.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written == 1 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }

    /// The most memory charged to it at once.
    fn peak(&self) -> u64 {
        let file = if self.v1 {
            "memory.max_usage_in_bytes"
        } else {
            "memory.peak"
        };
        std::fs::read_to_string(self.dir.join(file))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// How many processes the kernel killed in it for running out of memory.
    fn oom_kills(&self) -> u64 {
        let file = if self.v1 {
            "memory.oom_control"
        } else {
            "memory.events"
        };
        std::fs::read_to_string(self.dir.join(file))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
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
        "\ncold start with every example loaded, and with one hello per language: process \
         start -> first response via the Runtime API, median of {COLD_RUNS} (peak RSS of the \
         median run's process)"
    );
    let cold = |config: &Path, path: &str| -> (Duration, u64) {
        let event = get_event(path);
        let mut runs: Vec<(Duration, u64)> = (0..COLD_RUNS)
            .map(|_| rt.block_on(lambda::cold_start_with_peak(config, "off", &event)))
            .collect();
        runs.sort_unstable();
        runs[runs.len() / 2]
    };
    let hellos = layer.join("hellos.toml");
    std::fs::write(&hellos, one_hello_per_language(&config)?)?;
    for (label, writable) in [(".cwasm mapped", false), (".cwasm copied", true)] {
        set_components_writable(&layer, writable)?;
        for (components, config) in [("all 14", &config), ("3 hellos", &hellos)] {
            for (lang, path) in [
                ("Rust", "/hello"),
                ("Python", "/py/hello"),
                ("JS", "/js/hello"),
            ] {
                let (took, peak) = cold(config, path);
                println!(
                    "{label:<14} {components:<9} first request {lang:<7} {:>8.1} ms  peak {:>6.1} MiB",
                    ms(took),
                    mib(peak)
                );
            }
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
                "{:<24} first request {:<7} {:>8.1} ms  peak {:>6.1} MiB",
                "Powertools",
                "Python",
                ms(median(runs.into_iter().map(|r| r.0).collect())),
                mib(peak)
            );
        }
        None => println!("(Powertools row skipped: set LAMINA_POWERTOOLS_PYTHON)"),
    }

    println!("\nlamina serve with every example bundled (.cwasm mapped): memory");
    let unlimited = serve_footprint(&config, None)?;
    print_footprint(&unlimited);
    match MemoryCgroup::create(LAMBDA_MEMORY) {
        Ok(cgroup) => {
            // Start from an empty page cache for the bundle, so every page the host maps is
            // read in (and charged) inside the limit, as in a new Lambda sandbox.
            evict_from_page_cache(&layer.join("components"))?;
            println!(
                "\nthe same in a memory cgroup limited to {} MiB (the smallest Lambda): the kernel \
                 reclaims mapped .cwasm pages to stay inside it",
                LAMBDA_MEMORY >> 20
            );
            match serve_footprint(&config, Some(&cgroup)) {
                Ok(limited) => {
                    print_footprint(&limited);
                    println!(
                        "cgroup peak usage {:.1} MiB, OOM kills {}, {:.0} req/s against {:.0} req/s unlimited",
                        mib(cgroup.peak()),
                        cgroup.oom_kills(),
                        limited.rate,
                        unlimited.rate
                    );
                }
                Err(e) => println!(
                    "failed inside the limit: {e:#} (cgroup peak {:.1} MiB, OOM kills {})",
                    mib(cgroup.peak()),
                    cgroup.oom_kills()
                ),
            }
        }
        Err(e) => println!("(128 MiB cgroup row skipped: {e:#})"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
