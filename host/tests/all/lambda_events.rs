//! The Lambda loop at its edges: invocation deadlines with the cores busy, and payloads that
//! are not events, against the real binary and a Runtime API server on loopback.

use crate::lambda_loop::{Outcome, RuntimeApi, expect_response, http_event, start_function_with};
use crate::support::{faults_config, test_config_file};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Busy threads on every core until dropped: the machine as a loaded Lambda host sees it.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    /// Two spinning threads per core.
    pub(crate) fn start() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..cores * 2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[test]
fn guests_are_stopped_and_answered_504_before_the_invocation_deadline_with_the_cores_busy() {
    // A 30 s component timeout: only the invocation's deadline can stop the guest.
    let config = faults_config("deadline", "timeout = \"30s\"");
    let log = config.with_file_name("function.log");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let _function = start_function_with(api.addr, &config.display().to_string(), &[], &log);
        // Warm: the function is loaded and polling before the clock matters.
        api.invoke("warm", &http_event("GET", "/hello/warm", ""));
        expect_response(api.next_outcome().await, "warm");
        let _load = Load::start();
        let timeout = Duration::from_millis(1500);
        for (i, fault) in ["loop", "sleep", "loop", "loop"].iter().enumerate() {
            let id = format!("deadline-{i}");
            let sent = Instant::now();
            let event = http_event("GET", &format!("/faults/{fault}"), "");
            api.invoke_raw(&id, event.to_string().as_bytes(), timeout);
            let (outcome, arrived) = api.next_outcome_at().await;
            let reply = expect_response(outcome, &id);
            assert_eq!(reply["statusCode"], 504, "{fault}: {reply}");
            let took = arrived - sent;
            assert!(
                took < timeout,
                "{fault}: the 504 arrived {took:?} after the invocation started, past its {timeout:?} deadline"
            );
        }
        api.invoke("after", &http_event("GET", "/hello/after", ""));
        let reply = expect_response(api.next_outcome().await, "after");
        assert_eq!(reply["statusCode"], 200);
    });
}

/// What `lamina invoke` says about `payload` (on stderr, after `lamina: -: `).
fn invoke_message(config: &std::path::Path, payload: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(["invoke", "--config"])
        .arg(config)
        .arg("-")
        .env("LAMINA_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(payload).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "{:?} was accepted",
        String::from_utf8_lossy(payload)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    stderr
        .strip_prefix("lamina: -: ")
        .unwrap_or_else(|| panic!("unexpected stderr {stderr:?}"))
        .to_owned()
}

#[test]
fn payloads_that_are_not_events_fail_alike_in_the_loop_and_in_invoke() {
    let config = test_config_file("not-events");
    let log = config.with_file_name("function.log");
    let event = http_event("GET", "/hello", "").to_string();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "Lamina.InvalidEvent"),
        (
            "truncated",
            event.as_bytes()[..20].to_vec(),
            "Lamina.InvalidEvent",
        ),
        (
            "not UTF-8",
            b"{\"version\": \"2.0\", \"rawPath\": \"/\xff\"}".to_vec(),
            "Lamina.InvalidEvent",
        ),
        (
            "byte order mark",
            [b"\xEF\xBB\xBF".as_slice(), event.as_bytes()].concat(),
            "Lamina.InvalidEvent",
        ),
        (
            "trailing bytes",
            format!("{event}xyz").into_bytes(),
            "Lamina.InvalidEvent",
        ),
        (
            "two events",
            format!("{event}{event}").into_bytes(),
            "Lamina.InvalidEvent",
        ),
        (
            "wrong type",
            br#"{"version": 2, "requestContext": {}}"#.to_vec(),
            "Lamina.InvalidEvent",
        ),
        (
            "direct invocation",
            br#"{"hello": "world"}"#.to_vec(),
            "Lamina.UnsupportedEvent",
        ),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut api = RuntimeApi::start().await;
        let _function = start_function_with(api.addr, &config.display().to_string(), &[], &log);
        for (i, (what, payload, error_type)) in cases.iter().enumerate() {
            let id = format!("bad-{i}");
            api.invoke_raw(&id, payload, Duration::from_secs(30));
            let body: Value = match api.next_outcome().await {
                Outcome::Error { id: got, body } => {
                    assert_eq!(got, id);
                    body
                }
                other => panic!("{what}: expected an invocation error, got {other:?}"),
            };
            assert_eq!(body["errorType"], *error_type, "{what}: {body}");
            let message = body["errorMessage"].as_str().unwrap();
            assert_eq!(
                message,
                invoke_message(&config, payload),
                "{what}: the loop and invoke must agree"
            );
            for internal in ["lambda_runtime", "DeserializeError", "struct"] {
                assert!(!message.contains(internal), "{what}: {message}");
            }
        }
        // The loop still serves events.
        api.invoke("good", &http_event("GET", "/hello", ""));
        expect_response(api.next_outcome().await, "good");
    });
    let log = std::fs::read_to_string(&log).unwrap();
    for i in 0..cases.len() {
        let id = format!("\"bad-{i}\"");
        let lines = log
            .lines()
            .filter(|l| l.contains(&id) && !l.contains("lamina::access"))
            .count();
        assert_eq!(lines, 1, "one log line per rejected event ({id}):\n{log}");
    }
    assert!(!log.contains("lambda_runtime::layers::panic"), "{log}");
}
