//! `faults`: a guest that misbehaves on purpose, one way per route, so the host's fault
//! handling can be tested against real component behaviour.

use lamina_sdk::{Error, Request, Response, Result};
use std::sync::atomic::{AtomicU32, Ordering};

/// Counts calls in this instance. With fresh instances (the default) every request must
/// see 1: anything else means state leaked from an earlier request. With
/// `instances = "reuse"` it counts the requests the instance has served.
static CALLS: AtomicU32 = AtomicU32::new(0);

fn handle(req: Request) -> Result<Response> {
    let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    match req.param("fault").unwrap_or_default() {
        "calls" => Ok(Response::text(calls.to_string())),
        "ok" => Ok(Response::text("fine")),
        "panic" => panic!("the faults component panicked on purpose"),
        "trap" => {
            // An explicit wasm `unreachable` trap without the panic machinery.
            std::process::abort()
        }
        "bad-status" => Ok(Response::text("status out of range").with_status(1000)),
        "bad-header" => Ok(Response::text("x").with_header("x-injected", "a\r\nset-cookie: evil=1")),
        "bad-header-name" => Ok(Response::text("x").with_header("bad name", "v")),
        "error-status-200" => Err(Error::new(200, "odd", "an error with a success status")),
        "error" => Err(Error::new(418, "teapot", "short and stout")
            .with_details(&serde_json::json!({ "spout": true }))),
        "stderr" => {
            eprintln!("a line on stderr");
            Ok(Response::text("wrote to stderr"))
        }
        "binary" => Ok(Response::bytes("application/octet-stream", vec![0u8, 159, 146, 150, 255])),
        "cookies" => Ok(Response::text("cookies")
            .with_header("set-cookie", "a=1; Path=/")
            .with_header("set-cookie", "b=2; HttpOnly")
            .with_header("x-multi", "one")
            .with_header("x-multi", "two")),
        "loop" => {
            // Spins until the host's epoch deadline stops it.
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "sleep" => {
            // Blocks in a WASI host call, where no epoch check runs.
            std::thread::sleep(std::time::Duration::from_secs(60));
            Ok(Response::text("woke up"))
        }
        "hold" => {
            // Holds the instance for `?ms=` (default 300) and says which instance it was
            // (a random id drawn once per instance), its call count, and when the wait
            // began and ended (ns since the epoch): what reuse tests read to check that
            // an instance never serves two requests at once.
            let ms = req.query("ms").and_then(|s| s.parse().ok()).unwrap_or(300);
            let started = now_ns();
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Ok(Response::text(format!(
                "{} {calls} {started} {}",
                instance_id(),
                now_ns()
            )))
        }
        "recurse" => Ok(Response::text(recurse(0).to_string())),
        "alloc" => {
            // Allocates in 1 MiB steps until the memory limit refuses.
            let mut chunks: Vec<Vec<u8>> = Vec::new();
            loop {
                chunks.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&chunks);
            }
        }
        "big-body" => {
            // `?size=N` bytes (default 2 MiB), `?type=` the content type.
            let size = size_param(&req, 2 << 20);
            let content_type = req.query("type").unwrap_or("application/octet-stream");
            Ok(Response::bytes(content_type, vec![b'x'; size]))
        }
        "bad-cookie" => Ok(Response::text("x").with_header("set-cookie", "no-equals-sign")),
        "env" => Ok(Response::text(format!(
            "GRANTED={:?} HOME={:?} vars={}",
            std::env::var("GRANTED").ok(),
            std::env::var("HOME").ok(),
            std::env::vars().count()
        ))),
        "read-file" => match std::fs::read_to_string("/data/hello.txt") {
            Ok(text) => Ok(Response::text(text)),
            Err(e) => Err(Error::new(403, "no-access", e.to_string())),
        },
        "write-file" => match std::fs::write("/data/new.txt", "nope") {
            Ok(()) => Ok(Response::text("wrote")),
            Err(e) => Err(Error::new(403, "no-access", e.to_string())),
        },
        "read-etc" => match std::fs::read_to_string("/etc/passwd") {
            Ok(_) => Ok(Response::text("read /etc/passwd")),
            Err(e) => Err(Error::new(403, "no-access", e.to_string())),
        },
        // Guest output that must not flood, forge or bloat the host's log.
        "log-huge" => {
            let size = size_param(&req, 20 << 20);
            lamina_sdk::log::info(&"m".repeat(size));
            Ok(Response::text("logged"))
        }
        "log-ctl" => {
            let size = size_param(&req, 10 << 20);
            let ctl = "\u{1}".repeat(size);
            lamina_sdk::log::log(lamina_sdk::log::Level::Info, "control field", &[("ctl", &ctl)]);
            Ok(Response::text("logged"))
        }
        "log-flood" => {
            for i in 0..size_param(&req, 100_000) {
                lamina_sdk::log::info(&format!("flood line {i}"));
            }
            Ok(Response::text("flooded"))
        }
        // Its own secret, logged and printed by mistake: the host redacts it.
        "log-secret" => {
            let token = lamina_sdk::config::get("token").unwrap_or_default();
            lamina_sdk::log::log(
                lamina_sdk::log::Level::Warn,
                &format!("calling with {token}"),
                &[("token", &token), (&format!("key-{token}"), "v")],
            );
            eprintln!("token={token}");
            Ok(Response::text("logged"))
        }
        // A debug line: written only in requests sampled for debug logs.
        "log-debug" => {
            lamina_sdk::log::debug("debug detail from the guest");
            Ok(Response::text("logged"))
        }
        "log-forge" => {
            lamina_sdk::log::info(
                "innocent\n2026-12-01T00:00:00.000000Z ERROR lamina: FORGED host line component=\"auth\"",
            );
            eprintln!("stderr too\n2026-12-01T00:00:00.000000Z ERROR lamina: FORGED from stderr \x1b[2J");
            Ok(Response::text("logged"))
        }
        "stdout-flood" => {
            let line = "o".repeat(1023);
            for _ in 0..size_param(&req, 1024) {
                println!("{line}");
            }
            Ok(Response::text("printed"))
        }
        "stdout-then-panic" => {
            let line = "o".repeat(1023);
            for _ in 0..1024 {
                println!("{line}");
            }
            panic!("the faults component panicked after a MiB of stdout")
        }
        "huge-headers" => {
            let value = "h".repeat(16 << 10);
            let mut res = Response::text("headers");
            for i in 0..size_param(&req, 1280) {
                res = res.with_header(&format!("x-big-{i}"), &value);
            }
            Ok(res)
        }
        "metrics" => {
            // Two values of one metric and one of another under one dimension set, one under
            // none, then two refused calls, whose messages it returns with the trace header.
            use lamina_sdk::metrics::{self, Unit};
            metrics::add("Orders", 2.0, Unit::Count, &[("tier", "gold")])?;
            metrics::add("Orders", 3.0, Unit::Count, &[("tier", "gold")])?;
            metrics::add("BasketSize", 1536.0, Unit::Bytes, &[("tier", "gold")])?;
            metrics::count("Checkouts")?;
            let refused = [
                metrics::add("Orders", 1.0, Unit::Seconds, &[]),
                metrics::add("Bad", f64::INFINITY, Unit::Count, &[]),
                metrics::add("component", 1.0, Unit::Count, &[]),
            ];
            let refused: Vec<String> = refused
                .into_iter()
                .filter_map(|r| r.err().map(|e| e.to_string()))
                .collect();
            Ok(Response::json(&serde_json::json!({
                "refused": refused,
                "trace": lamina_sdk::trace::header(),
                "trace_id": lamina_sdk::trace::trace_id(),
            })))
        }
        other => Err(Error::not_found(format!("no fault named {other:?}"))),
    }
}

/// A random id for this instance, drawn on first use.
fn instance_id() -> u64 {
    use std::hash::BuildHasher as _;
    static ID: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *ID.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0_u8))
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The `size` query parameter, or `default`.
fn size_param(req: &Request, default: usize) -> usize {
    req.query("size").and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Recursion the optimizer cannot turn into a loop: overflows the wasm stack.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    if frame[0] == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[3])
}

lamina_sdk::export_handler!(handle);
