//! The unmodified `lamina` binary as the `bootstrap` of AWS's own Lambda Runtime Interface
//! Emulator (`cargo xtask test` fetches it from the `aws-sam-cli` wheel on PyPI and sets
//! `LAMINA_RIE`): the example events, an init error, the response-size limit, and
//! timeouts of a sleeping and of a spinning guest with the cores busy.

use crate::lambda_events::Load;
use crate::support::{faults_config, temp_dir};
use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The emulator running `lamina`, killed (with its bootstrap) when dropped.
pub(crate) struct Emulator {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator binary, or `None` when `cargo xtask test` could not fetch it (it said so,
/// and set `LAMINA_RIE=skip`). Unset means the tests run outside the xtask: that is a
/// mistake, not a skip.
fn emulator_binary() -> Option<PathBuf> {
    match std::env::var("LAMINA_RIE") {
        Ok(v) if v == "skip" => {
            eprintln!("rie: skipped (no emulator could be fetched; see the xtask warning)");
            None
        }
        Ok(v) => Some(PathBuf::from(v)),
        Err(_) => panic!("LAMINA_RIE is not set: run the suite with `cargo xtask test`"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the emulator on loopback with `config` and a function timeout of `timeout_s`,
/// compiling every component at init (no compile cache).
fn start(name: &str, config: &Path, timeout_s: u32) -> Option<Emulator> {
    start_with_cache(name, config, timeout_s, "off")
}

/// [`start`] with `LAMINA_CACHE_DIR` set to `cache`.
fn start_with_cache(name: &str, config: &Path, timeout_s: u32, cache: &str) -> Option<Emulator> {
    start_bootstrap(
        name,
        Path::new(env!("CARGO_BIN_EXE_lamina")),
        config,
        timeout_s,
        cache,
    )
}

/// The emulator running `bootstrap` (a `lamina` executable) with `config`, a function
/// timeout of `timeout_s` and `LAMINA_CACHE_DIR` set to `cache`; `None` when the emulator
/// could not be fetched.
pub(crate) fn start_bootstrap(
    name: &str,
    bootstrap: &Path,
    config: &Path,
    timeout_s: u32,
    cache: &str,
) -> Option<Emulator> {
    let rie = emulator_binary()?;
    let addr = format!("127.0.0.1:{}", free_port());
    let runtime_api = format!("127.0.0.1:{}", free_port());
    let log = temp_dir(name).join("rie.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(rie)
        .args(["--runtime-interface-emulator-address", &addr])
        .args(["--runtime-api-address", &runtime_api])
        .arg(bootstrap)
        .env("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout_s.to_string())
        .env("LAMINA_CONFIG", config)
        .env("LAMINA_LOG", "info")
        .env("LAMINA_CACHE_DIR", cache)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the emulator did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Emulator { child, addr, log })
}

impl Emulator {
    /// Invokes the function with `payload`: the emulator's HTTP status and body.
    pub(crate) fn invoke(&self, payload: &[u8]) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: {}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            payload.len()
        )
        .unwrap();
        stream.write_all(payload).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        let split = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&reply[..split]).into_owned();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut body = reply[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        (status, body)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap().trim(), 16)
            .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 2 + size + 2..];
    }
}

/// `text` with request ids (the emulator's UUIDs, `lamina invoke`'s `invoke-<hex>`) as `ID`.
fn mask_ids(text: &str) -> String {
    let is_hex = |c: u8| c.is_ascii_hexdigit();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let uuid = bytes.len() - i >= 36
            && bytes[i..i + 36].iter().enumerate().all(|(j, &c)| {
                if [8, 13, 18, 23].contains(&j) {
                    c == b'-'
                } else {
                    is_hex(c)
                }
            });
        if uuid {
            out.push_str("ID");
            i += 36;
        } else if text[i..].starts_with("invoke-") {
            out.push_str("ID");
            i += "invoke-".len();
            while i < bytes.len() && is_hex(bytes[i]) {
                i += 1;
            }
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The response JSON without what differs from run to run: request ids and timings.
fn masked(reply: &[u8]) -> Value {
    let text = mask_ids(&String::from_utf8_lossy(reply));
    let mut reply: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {text:?}"));
    for headers in ["headers", "multiValueHeaders"] {
        if let Some(h) = reply.get_mut(headers).and_then(Value::as_object_mut) {
            h.remove("server-timing");
        }
    }
    reply
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn the_example_events_answer_under_the_emulator_as_lamina_invoke_answers_them() {
    // The todos in memory: the function under the emulator and each `lamina invoke` start
    // from an empty store, so the same events get the same answers (and neither holds a
    // store file the other needs).
    let config = crate::support::example_config(
        &temp_dir("rie-examples-config"),
        crate::support::TodosStore::Memory,
    );
    if emulator_binary().is_none() {
        return;
    }
    // Compiling the Python and JavaScript examples (interpreters, 13-18 MB each) with
    // Cranelift takes longer than Lambda's 10 s init phase on these cores, so, as a
    // deployment would, compile them before the cold start: here into the compile cache
    // the rest of the suite shares (so each is compiled once per run), which the
    // function's init then maps.
    let cache = std::env::temp_dir().join("lamina-cache");
    let warm = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(["check"])
        .arg(&config)
        .env("LAMINA_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert!(
        warm.status.success(),
        "{}",
        String::from_utf8_lossy(&warm.stderr)
    );
    let Some(rie) = start_with_cache("rie-examples", &config, 10, cache.to_str().unwrap()) else {
        return;
    };
    let mut events: Vec<PathBuf> = std::fs::read_dir(examples().join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    events.sort();
    assert!(events.len() >= 6);
    for event in &events {
        let payload = std::fs::read(event).unwrap();
        let (status, reply) = rie.invoke(&payload);
        assert_eq!(
            status,
            200,
            "{}: {}",
            event.display(),
            String::from_utf8_lossy(&reply)
        );
        let local = Command::new(env!("CARGO_BIN_EXE_lamina"))
            .args(["invoke", "--config"])
            .arg(&config)
            .arg(event)
            .env("LAMINA_LOG", "off")
            .output()
            .unwrap();
        assert!(local.status.success());
        assert_eq!(masked(&reply), masked(&local.stdout), "{}", event.display());
    }
    let log = rie.log();
    assert_eq!(
        log.matches("INIT START").count(),
        1,
        "one cold start:\n{log}"
    );
}

#[test]
fn an_init_error_reaches_the_emulator_with_its_reason() {
    let dir = temp_dir("rie-init");
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        "[components.a]\nsource = \"missing.wasm\"\n[[routes]]\nmethod = \"GET\"\npath = \"/\"\ncomponent = \"a\"\n",
    )
    .unwrap();
    let Some(rie) = start("rie-init", &config, 10) else {
        return;
    };
    let (status, reply) = rie.invoke(b"{}");
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&reply));
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["errorType"], "Lamina.InitError");
    let message = reply["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("components.a: loading") && message.contains("missing.wasm"),
        "{message}"
    );
}

/// Room for large bodies, and a timeout only the function's own can cut.
const FAULTS_LIMITS: &str = "max-response = \"10MiB\"\nmemory = \"64MiB\"\ntimeout = \"30s\"";

/// A minimal HTTP API event for `GET path?query`.
pub(crate) fn http_event(path: &str, query: &str) -> Vec<u8> {
    serde_json::json!({
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": query,
        "requestContext": {"http": {"method": "GET"}, "stage": "$default"},
        "isBase64Encoded": false,
    })
    .to_string()
    .into_bytes()
}

#[test]
fn responses_up_to_the_lambda_limit_pass_the_emulator_and_larger_ones_are_lamina_502s() {
    let config = faults_config("rie-size", FAULTS_LIMITS);
    let Some(rie) = start("rie-size", &config, 10) else {
        return;
    };
    // 6,291,300 bytes of text: the encoded reply is just under 6 MiB, which Lambda takes.
    let (status, reply) = rie.invoke(&http_event(
        "/faults/big-body",
        "size=6291300&type=text/plain",
    ));
    assert_eq!(status, 200);
    assert!(
        reply.len() > 6_291_300 && reply.len() <= 6 << 20,
        "{}",
        reply.len()
    );
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["statusCode"], 200);
    // Over it: Lamina answers 502 itself rather than letting Lambda fail the invocation.
    for query in ["size=7000000&type=text/plain", "size=4800000"] {
        let (status, reply) = rie.invoke(&http_event("/faults/big-body", query));
        assert_eq!(status, 200, "{query}");
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(reply["statusCode"], 502, "{query}: {reply}");
        assert!(
            reply["body"]
                .as_str()
                .unwrap()
                .contains("response-too-large")
        );
    }
    assert!(!rie.log().contains("ResponseSizeTooLarge"), "{}", rie.log());
}

#[test]
fn timeouts_hold_under_the_emulator_with_the_cores_busy() {
    let config = faults_config("rie-timeout", FAULTS_LIMITS);
    let Some(rie) = start("rie-timeout", &config, 2) else {
        return;
    };
    let (status, _) = rie.invoke(&http_event("/hello/warm", ""));
    assert_eq!(status, 200);
    let _load = Load::start();
    for fault in ["sleep", "loop", "loop"] {
        let started = Instant::now();
        let (status, reply) = rie.invoke(&http_event(&format!("/faults/{fault}"), ""));
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&reply).into_owned();
        assert_eq!(status, 200, "{fault}: {text}");
        let reply: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{fault}: the emulator answered {text:?} after {took:?}"));
        assert_eq!(reply["statusCode"], 504, "{fault}: {reply}");
        assert!(took < Duration::from_secs(2), "{fault}: {took:?}");
    }
    let (status, reply) = rie.invoke(&http_event("/hello/after", ""));
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&reply).unwrap()["statusCode"],
        200
    );
    let log = rie.log();
    assert!(!log.contains("Task timed out"), "{log}");
    assert_eq!(
        log.matches("INIT START").count(),
        1,
        "no sandbox reset:\n{log}"
    );
}

#[test]
fn a_direct_invocation_error_reaches_the_emulator_as_a_function_error() {
    let dir = temp_dir("rie-direct");
    let config = crate::direct::direct_config(&dir);
    let Some(rie) = start("rie-direct", &config, 10) else {
        return;
    };
    let (status, reply) = rie.invoke(br#"{"action": "create", "item": "tea", "quantity": 1}"#);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["id"], 42, "{reply}");
    let (_, reply) = rie.invoke(br#"{"action": "missing"}"#);
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["errorType"], "not-found", "{reply}");
    let message = reply["errorMessage"].as_str().unwrap();
    assert!(
        crate::direct::selects(r#".*"status":404.*"#, message),
        "{message}"
    );
    assert!(
        !crate::direct::selects(r#".*"status":400.*"#, message),
        "{message}"
    );
    let (_, reply) = rie.invoke(br#"{"action": "panic"}"#);
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["errorType"], "Lamina.ComponentFailed", "{reply}");
    assert!(!reply.to_string().contains("secret-token"), "{reply}");
}
