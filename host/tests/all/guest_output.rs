//! What a guest can do to the host's output: huge messages and fields, floods, forged
//! lines, stdout past its buffer, huge headers — and config errors that must not print a
//! secret. Each against the real binary, reading what it wrote.

use crate::serve::{send, start_with_args};
use crate::support::{faults_config, guest, lamina_check, temp_dir};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Room for large guest strings and responses.
const FAULTS_LIMITS: &str = "memory = \"96MiB\"\ntimeout = \"10s\"\nmax-response = \"64MiB\"";

/// Peak and current resident memory of process `pid`, in MiB.
fn memory_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap()
            / 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Lines of `log` that belong to request `id` (`local-<pid>-<n>` in `lamina serve`).
fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn log_calls_are_bounded_in_size_count_and_host_memory() {
    let config = faults_config("log-bounds", FAULTS_LIMITS);
    let log = config.with_file_name("serve.log");
    let server = std::sync::Arc::new(start_with_args(&config, &[], Some(&log)));
    let pid = server.pid();
    let (baseline, _) = memory_mib(pid);
    runtime().block_on(async {
        // A 40 MB message, and a 10 MB field of control characters, four at once.
        let tasks: Vec<_> = [
            "/faults/log-huge?size=40000000",
            "/faults/log-ctl?size=10000000",
            "/faults/log-huge?size=40000000",
            "/faults/log-ctl?size=10000000",
        ]
        .into_iter()
        .map(|path| {
            let server = server.clone();
            tokio::spawn(async move { send(&server, "GET", path, &[], "").await.status })
        })
        .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 200);
        }
        let res = send(&server, "GET", "/faults/log-flood", &[], "").await;
        assert_eq!(res.status, 200);
    });
    let (peak, _) = memory_mib(pid);
    // The guests' own memories hold their 40 MB strings (up to 96 MiB each, two at a time
    // per core); what the host adds for a log call is bounded by the caps (KiB).
    assert!(
        peak < baseline + 2 * 96 + 48,
        "host peak {peak} MiB from a {baseline} MiB baseline"
    );
    std::thread::sleep(Duration::from_millis(200));
    let log = std::fs::read_to_string(&log).unwrap();
    for line in log.lines() {
        assert!(line.len() < 64 << 10, "a {}-byte line", line.len());
    }
    let huge = lines_with(&log, "bytes dropped]");
    assert!(
        huge.iter().any(|l| l.contains("mmmm…[")),
        "a cut message says how much was dropped"
    );
    assert!(
        huge.iter().any(|l| l.contains("\\u{1}\\u{1}")),
        "control characters escaped"
    );
    let flood = lines_with(&log, "flood line");
    assert_eq!(
        flood.len(),
        1000,
        "a component logs at most 1000 lines per request"
    );
    let summary = lines_with(&log, "guest log limit reached");
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert!(summary[0].contains("99000 more lines"), "{}", summary[0]);
}

#[test]
fn guests_cannot_forge_host_lines_in_text_or_json() {
    for json in [false, true] {
        let config = faults_config(
            if json { "forge-json" } else { "forge-text" },
            FAULTS_LIMITS,
        );
        let log = config.with_file_name("serve.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_lamina"));
        command
            .args(["invoke", "--config"])
            .arg(&config)
            .arg("-")
            .env("LAMINA_LOG", "info")
            .stderr(std::fs::File::create(&log).unwrap());
        if json {
            command.env("LAMINA_LOG_FORMAT", "json");
        }
        let out = run_with_stdin(
            command,
            br#"{"version":"2.0","rawPath":"/faults/log-forge","requestContext":{"http":{"method":"GET"}}}"#,
        );
        assert!(out.contains("\"statusCode\":200"), "{out}");
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(log.contains("FORGED host line"), "{log}");
        for line in log.lines() {
            assert!(
                !line.starts_with("2026-12-01T00:00:00.000000Z"),
                "a guest wrote a line of its own: {line}"
            );
            assert!(
                !line.contains('\x1b'),
                "an escape sequence reached the log: {line:?}"
            );
            if json {
                let value: Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if line.contains("FORGED host line") {
                    assert_eq!(value["component"], "faults");
                    assert!(value["message"].as_str().unwrap().contains('\n'));
                }
            }
        }
    }
}

fn run_with_stdin(mut command: Command, input: &[u8]) -> String {
    use std::io::Write as _;
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn stdout_past_its_buffer_is_dropped_not_fatal_and_a_later_panic_still_shows() {
    let config = faults_config("stdout", FAULTS_LIMITS);
    let log = config.with_file_name("serve.log");
    let server = start_with_args(&config, &[], Some(&log));
    runtime().block_on(async {
        let res = send(&server, "GET", "/faults/stdout-flood", &[], "").await;
        assert_eq!(res.status, 200, "a MiB of println! is not an error");
        let res = send(&server, "GET", "/faults/stdout-then-panic", &[], "").await;
        assert_eq!(res.status, 500);
        let res = send(&server, "GET", "/hello/Ada", &[], "").await;
        assert_eq!(res.status, 200);
    });
    std::thread::sleep(Duration::from_millis(200));
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("panicked after a MiB of stdout"),
        "the panic message must reach the log: {}",
        &log[..log.len().min(2000)]
    );
    assert!(log.contains("bytes dropped]"), "the cut is marked");
}

#[test]
fn max_response_counts_headers_in_every_front_door() {
    // 1280 headers of 16 KiB: 20 MB of headers and a tiny body, over a 1 MiB max-response.
    let path = temp_dir("headers").join("lamina.toml");
    std::fs::write(
        &path,
        format!(
            "[components.faults]\nsource = {:?}\nmemory = \"96MiB\"\nmax-response = \"1MiB\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/faults/{{fault}}\"\ncomponent = \"faults\"\n",
            guest("faults")
        ),
    )
    .unwrap();
    let server = start_with_args(&path, &[], None);
    let res = runtime().block_on(send(&server, "GET", "/faults/huge-headers", &[], ""));
    assert_eq!(res.status, 500, "lamina serve");
    let mut command = Command::new(env!("CARGO_BIN_EXE_lamina"));
    command
        .args(["invoke", "--config"])
        .arg(&path)
        .arg("-")
        .env("LAMINA_LOG", "off");
    let out = run_with_stdin(
        command,
        br#"{"version":"2.0","rawPath":"/faults/huge-headers","requestContext":{"http":{"method":"GET"}}}"#,
    );
    assert!(
        out.contains("\"statusCode\":500"),
        "lamina invoke: {}",
        &out[..out.len().min(300)]
    );
    // Under the limit, headers and all: served.
    let small = runtime().block_on(send(&server, "GET", "/faults/huge-headers?size=8", &[], ""));
    assert_eq!(small.status, 200);
}

/// A config whose `secrets` line (or table) has `error` in it, with the secret value
/// `SECRET` somewhere on it.
fn broken_configs() -> Vec<(&'static str, String)> {
    let head = format!(
        "[components.a]\nsource = {:?}\n",
        guest("hello").display().to_string()
    );
    let route = "[[routes]]\nmethod = \"GET\"\npath = \"/\"\ncomponent = \"a\"\n";
    vec![
        (
            "unterminated string",
            format!("{head}secrets = {{ api-key = \"{SECRET} }}\n{route}"),
        ),
        (
            "missing comma",
            format!("{head}secrets = {{ api-key = \"{SECRET}\" other = \"x\" }}\n{route}"),
        ),
        (
            "wrong type",
            format!("{head}secrets = {{ pin = {SECRET_NUMBER} }}\n{route}"),
        ),
        (
            "duplicate key",
            format!("{head}secrets = {{ k = \"a\", k = \"{SECRET}\" }}\n{route}"),
        ),
        (
            "bad escape",
            format!("{head}secrets = {{ k = \"{SECRET}\\q\" }}\n{route}"),
        ),
        (
            "unquoted",
            format!("{head}secrets = {{ k = {SECRET} }}\n{route}"),
        ),
        (
            "table form",
            format!("{head}[components.a.secrets]\nk = \"{SECRET}\n{route}"),
        ),
        ("dotted key", format!("{head}secrets.k = {SECRET}\n{route}")),
        (
            "list value",
            format!("{head}secrets = {{ k = [\"{SECRET}\"] }}\n{route}"),
        ),
        (
            "unknown key after",
            format!("{head}secrets = {{ k = \"{SECRET}\" }}\nsorce = 1\n{route}"),
        ),
    ]
}

const SECRET: &str = "s3cr3t-VALUE-9f2c";
const SECRET_NUMBER: &str = "8675309123";

#[test]
fn config_errors_never_print_a_secret() {
    for (what, text) in broken_configs() {
        let dir = temp_dir(&format!("secret-{}", what.replace(' ', "-")));
        let path = dir.join("lamina.toml");
        std::fs::write(&path, &text).unwrap();
        let out = lamina_check(&path);
        assert!(!out.status.success(), "{what}: accepted");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(printed.contains("line "), "{what}: says where: {printed}");
        for secret in [SECRET, SECRET_NUMBER] {
            assert!(
                !printed.contains(secret),
                "{what}: printed the secret: {printed}"
            );
        }
    }
}

#[test]
fn a_rejected_reload_never_logs_a_secret() {
    let dir = temp_dir("secret-reload");
    let config = dir.join("lamina.toml");
    let good = format!(
        "[components.a]\nsource = {:?}\nsecrets = {{ k = \"{SECRET}\" }}\n[[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"a\"\n",
        guest("hello")
    );
    std::fs::write(&config, &good).unwrap();
    let log = dir.join("serve.log");
    let server = start_with_args(&config, &[], Some(&log));
    for (what, text) in broken_configs() {
        crate::support::replace_file(&config, text.as_bytes());
        wait_for(
            &log,
            1 + broken_configs()
                .iter()
                .position(|(w, _)| *w == what)
                .unwrap(),
        );
    }
    let res = runtime().block_on(send(&server, "GET", "/hello/Ada", &[], ""));
    assert_eq!(res.status, 200, "the good version keeps serving");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("new version rejected"), "{log}");
    for secret in [SECRET, SECRET_NUMBER] {
        assert!(!log.contains(secret), "the log shows a secret:\n{log}");
    }
}

/// Waits until `log` reports `count` rejected versions.
fn wait_for(log: &Path, count: usize) {
    for _ in 0..100 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.matches("new version rejected").count() >= count {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the reload of version {count} was never rejected");
}
