//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask guests` builds every guest component (examples and test guests, in Rust,
//!   Python and JavaScript/TypeScript) into `target/guests/wasm32-wasip2/release/`.
//! - `cargo xtask demo` builds the guests and the host, invokes each example event, and
//!   serves `examples/lamina.toml` on http://127.0.0.1:3000 (`--no-serve` to stop after
//!   the invokes).
//! - `cargo xtask test` builds the guests and runs the whole test suite: the Python and
//!   JavaScript SDKs' own tests, then every Rust test.
//! - `cargo xtask bench` builds the guests and runs the pipeline benchmark.
//! - `cargo xtask package [--arch aarch64]` builds `target/lambda/bootstrap.zip` for
//!   `provided.al2023` (`target/lambda-aarch64/` for Graviton, cross-built and run once under
//!   qemu-user).
//!
//! Guests build with the rustup `wasm32-wasip2` target when it is installed; otherwise
//! with Debian's `rustc-web` and its std source (`-Zbuild-std`), installing those packages
//! when running as root (see docs/TOOLCHAIN.md). Nothing here downloads a toolchain.
//! Python and JavaScript guests build with componentize-py and componentize-js, pinned and
//! installed from PyPI and npm into `target/` (see `polyglot.rs`).

mod polyglot;
mod python;
mod release;
mod toolchain;

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest workspaces, relative to the repository root.
const GUEST_WORKSPACES: [&str; 2] = ["examples", "tests/components"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

/// Where built guests land.
fn guest_dir() -> PathBuf {
    root().join("target/guests/wasm32-wasip2/release")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("guests") => build_guests().map(drop),
        Some("demo") => build_guests().and_then(|_| demo(!args.iter().any(|a| a == "--no-serve"))),
        Some("test") => build_guests().and_then(|tools| test(&tools, &args[1..])),
        Some("bench") => build_guests().and_then(|_| bench()),
        Some("package") => package(&args[1..]),
        Some("licenses") => release::licenses(&root()),
        Some("release-check") => build_guests().and_then(|tools| release_check(&tools)),
        _ => {
            eprintln!(
                "usage: cargo xtask <guests|demo [--no-serve]|test [cargo test args]|bench|package [--arch x86_64|aarch64]|licenses|release-check>"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Builds every guest; returns the Python and JavaScript tools it installed.
fn build_guests() -> anyhow::Result<polyglot::Tools> {
    let toolchain = toolchain::Toolchain::find()?;
    let target_dir = root().join("target/guests");
    for workspace in GUEST_WORKSPACES {
        let mut cmd = toolchain.cargo_build(&root().join(workspace), &target_dir);
        run(&mut cmd).with_context(|| format!("building the guests in {workspace}/"))?;
    }
    let tools = polyglot::Tools::install(&root())?;
    polyglot::build(&root(), &tools, &guest_dir())?;
    eprintln!("xtask: guests are in {}", guest_dir().display());
    Ok(tools)
}

/// The host's cargo, with the guest directory exported for tests and benches.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.current_dir(root()).env("LAMINA_GUEST_DIR", guest_dir());
    cmd
}

fn test(tools: &polyglot::Tools, extra: &[String]) -> anyhow::Result<()> {
    polyglot::test_sdks(&root(), tools)?;
    // The S3 tests run against a real S3-compatible server on loopback.
    let moto = python::moto_server(&root())?;
    // The Lambda tier runs the real `lamina` binary under AWS's own emulator. Without a
    // registry to fetch it from, that tier is skipped, loudly; the Runtime API tests
    // still run the real loop.
    let rie = match python::lambda_rie(&root()) {
        Ok(rie) => rie.into_os_string(),
        Err(e) => {
            eprintln!(
                "xtask: WARNING: no Lambda Runtime Interface Emulator ({e:#}); its test tier is skipped"
            );
            "skip".into()
        }
    };
    // The AWS signing tests check signatures with botocore, AWS's own implementation.
    let python = python::botocore_python(&root())?;
    // Generated OpenAPI documents and the deployment template are checked by independent
    // linters from PyPI.
    let lint = python::lint_python(&root())?;
    run(cargo()
        .args(["test", "--workspace"])
        .args(extra)
        .env("LAMINA_MOTO_SERVER", moto)
        .env("LAMINA_RIE", rie)
        .env("LAMINA_PYTHON", python)
        .env("LAMINA_LINT_PYTHON", lint))?;
    release_check(tools)
}

/// Release readiness: the dependency tree's licences, both crates packaged and built from
/// their `.crate` files, and the Python and JavaScript SDKs installed offline from their
/// wheel and tarball and used to build a component.
fn release_check(tools: &polyglot::Tools) -> anyhow::Result<()> {
    release::licenses(&root())?;
    release::third_party_notices(&root(), &root().join("target/THIRD-PARTY-LICENSES.txt"))?;
    release::package_crates(&root())?;
    run(cargo().args(["build", "--bin", "lamina"]))?;
    polyglot::test_sdk_packages(&root(), tools, &root().join("target/debug/lamina"))
}

fn bench() -> anyhow::Result<()> {
    // The key-value rows on DynamoDB run against moto on loopback.
    let moto = python::moto_server(&root())?;
    // Powertools for AWS Lambda (Python), for comparison in the same run: its cold start in
    // the footprint bench, its per-request time below.
    let python = python::venv(&root(), "bench-venv", &["aws-lambda-powertools"])
        .context("installing aws-lambda-powertools from PyPI for the comparison")?
        .join("bin/python");
    run(cargo()
        .env("LAMINA_MOTO_SERVER", moto)
        .env("LAMINA_POWERTOOLS_PYTHON", &python)
        .args([
            "bench",
            "-p",
            "lamina",
            "--bench",
            "pipeline",
            "--bench",
            "coldstart",
            "--bench",
            "serve_load",
            "--bench",
            "outbound",
            "--bench",
            "polyglot",
            "--bench",
            "kv",
            "--bench",
            "footprint",
        ]))?;
    run(Command::new(&python)
        .arg(root().join("host/benches/powertools_hello.py"))
        .arg(root().join("examples/events/hello-http-api.json")))
}

/// An HS256 token for `sub = demo-user`, `scope = todos:write`, signed with the demo secret
/// in `examples/lamina.toml` (the same one `examples/events/todos-create-rest.json` carries).
const DEMO_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZW1vLXVzZXIiLCJzY29wZSI6InRvZG9zOndyaXRlIn0.iesR2ScpZIyEbURkTL5mQudl4DXzqH9SnWeZD96XPHA";

fn demo(serve: bool) -> anyhow::Result<()> {
    run(cargo().args(["build", "--release", "-p", "lamina"]))?;
    let lamina = root().join("target/release/lamina");
    let config = root().join("examples/lamina.toml");
    run(Command::new(&lamina).arg("check").arg(&config))?;
    let mut events: Vec<PathBuf> = std::fs::read_dir(root().join("examples/events"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    events.sort();
    for event in &events {
        println!(
            "\n== lamina invoke {}",
            event.strip_prefix(root()).unwrap_or(event).display()
        );
        run(Command::new(&lamina)
            .arg("invoke")
            .arg("--config")
            .arg(&config)
            .arg(event))?;
    }
    if !serve {
        return Ok(());
    }
    println!(
        "\n== lamina serve: try these in another terminal (Ctrl-C stops the server)\n\
         curl -i http://127.0.0.1:3000/hello\n\
         curl -i http://127.0.0.1:3000/hello/Ada\n\
         curl -i http://127.0.0.1:3000/py/hello/Ada     # the same handler in Python\n\
         curl -i http://127.0.0.1:3000/js/hello/Ada     # and in TypeScript\n\
         curl -i 'http://127.0.0.1:3000/echo/some/path?a=1&a=2' -H 'Cookie: session=abc'\n\
         curl -i 'http://127.0.0.1:3000/py/echo/some/path?a=1&a=2' -H 'Cookie: session=abc'\n\
         curl -i http://127.0.0.1:3000/todos/99\n\
         curl -i http://127.0.0.1:3000/py/todos/2       # Python and TypeScript todos: a read-only seed list\n\
         curl -i http://127.0.0.1:3000/js/todos?done=false\n\
         curl -i -X POST http://127.0.0.1:3000/js/todos -H 'content-type: application/json' -H 'authorization: Bearer {DEMO_TOKEN}' -d '{{\"title\":\"\"}}'   # 422 from TypeScript, after the Rust auth\n\
         curl -i -X POST http://127.0.0.1:3000/todos -H 'content-type: application/json' -d '{{\"title\":\"try lamina\"}}'   # 401: the auth middleware\n\
         curl -i -X POST http://127.0.0.1:3000/todos -H 'content-type: application/json' -H 'authorization: Bearer {DEMO_TOKEN}' -d '{{\"title\":\"try lamina\"}}'   # 201, Location: /todos/N\n\
         curl -i http://127.0.0.1:3000/todos            # the todos so far: kept in target/demo-data/todos.redb, across requests and restarts\n\
         curl -i http://127.0.0.1:3000/todos/1          # the first one (the demo's invoke of todos-create-rest.json made it)\n\
         curl -i -X DELETE http://127.0.0.1:3000/hello\n"
    );
    run(Command::new(&lamina)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .args(["--port", "3000"]))
}

fn package(args: &[String]) -> anyhow::Result<()> {
    let arch = args
        .iter()
        .position(|a| a == "--arch")
        .map(|i| args.get(i + 1).map_or("", String::as_str));
    let want = match arch {
        None => std::env::consts::ARCH,
        Some("x86_64") => "x86_64",
        Some("aarch64" | "arm64") => "aarch64",
        Some(other) => bail!("--arch {other}: x86_64 or aarch64"),
    };
    let cross = want != std::env::consts::ARCH;
    if cross && want != "aarch64" {
        bail!("cross-building is from x86_64 to aarch64 only");
    }
    let (binary, out) = if cross {
        let target_dir = root().join("target/cross");
        run(&mut toolchain::aarch64_host_build(&root(), &target_dir)?)
            .context("cross-building the host for aarch64")?;
        let binary = target_dir.join("aarch64-unknown-linux-gnu/release/lamina");
        // Run it once, under qemu-user, before calling it a bootstrap.
        let version = Command::new("qemu-aarch64")
            .args(["-L", "/usr/aarch64-linux-gnu"])
            .arg(&binary)
            .arg("--version")
            .output()
            .context("running the aarch64 host under qemu-aarch64")?;
        if !version.status.success() {
            bail!(
                "the aarch64 host does not run under qemu: {}",
                String::from_utf8_lossy(&version.stderr)
            );
        }
        eprintln!(
            "xtask: the aarch64 host runs: {}",
            String::from_utf8_lossy(&version.stdout)
                .lines()
                .next()
                .unwrap_or("")
        );
        (binary, root().join("target/lambda-aarch64"))
    } else {
        run(cargo().args(["build", "--release", "-p", "lamina"]))?;
        (
            root().join("target/release/lamina"),
            root().join("target/lambda"),
        )
    };
    std::fs::create_dir_all(&out)?;
    let bootstrap = out.join("bootstrap");
    std::fs::copy(&binary, &bootstrap)?;
    // The licence texts of every crate compiled in travel with the binary.
    release::third_party_notices(&root(), &out.join("THIRD-PARTY-LICENSES.txt"))?;
    for file in ["LICENSE", "NOTICE"] {
        std::fs::copy(root().join(file), out.join(file))?;
    }
    let zip = out.join("bootstrap.zip");
    // Python's zipfile keeps the executable bit, which `provided.al2023` needs.
    run(Command::new("python3").current_dir(&out).args([
        "-m",
        "zipfile",
        "-c",
        "bootstrap.zip",
        "bootstrap",
        "LICENSE",
        "NOTICE",
        "THIRD-PARTY-LICENSES.txt",
    ]))?;
    println!("{}", zip.display());
    Ok(())
}
