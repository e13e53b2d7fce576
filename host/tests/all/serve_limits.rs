//! `lamina serve` under pressure: saturation, slow clients, spinning guests, oversized
//! bodies and config files written in place, each against the real binary over loopback.

use crate::serve::{Reply, send, start_with_args};
use crate::support::{guest, temp_dir};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A config in its own directory: `hello` on `GET /hello/{name}`, `echo` on
/// `ANY /echo/{*rest}`, `faults` (with `timeout`) on `GET /faults/{fault}`, the `timing`
/// middleware in front of everything when `middleware` is set, then `extra`.
fn config(name: &str, timeout: &str, middleware: bool, extra: &str) -> PathBuf {
    let dir = temp_dir(name);
    let path = dir.join("lamina.toml");
    let global = if middleware {
        "middleware = [\"timing\"]\n"
    } else {
        ""
    };
    let text = format!(
        "{global}{extra}\n\
         [components.hello]\nsource = {hello:?}\n\
         [components.echo]\nsource = {echo:?}\n\
         [components.faults]\nsource = {faults:?}\ntimeout = {timeout:?}\n\
         [components.timing]\nsource = {timing:?}\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n\
         [[routes]]\nmethod = \"ANY\"\npath = \"/echo/{{*rest}}\"\ncomponent = \"echo\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/faults/{{fault}}\"\ncomponent = \"faults\"\n",
        hello = guest("hello"),
        echo = guest("echo"),
        faults = guest("faults"),
        timing = guest("timing"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn statuses(replies: &[Reply]) -> Vec<u16> {
    let mut s: Vec<u16> = replies.iter().map(|r| r.status).collect();
    s.sort_unstable();
    s
}

#[test]
fn saturation_queues_then_answers_503_with_retry_after_never_500() {
    // 8 pool slots, one global middleware: 2 instances per request, so 4 at once; 8 wait.
    let config = config("saturate", "1s", true, "");
    let log = config.with_file_name("serve.log");
    let server = Arc::new(start_with_args(&config, &["--instances", "8"], Some(&log)));
    runtime().block_on(async {
        let slow: Vec<_> = (0..16)
            .map(|_| {
                let server = server.clone();
                tokio::spawn(async move { send(&server, "GET", "/faults/sleep", &[], "").await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let hello = send(&server, "GET", "/hello/Ada", &[], "").await;
        let mut replies = vec![hello];
        for task in slow {
            replies.push(task.await.unwrap());
        }
        let all = statuses(&replies);
        assert!(
            !all.contains(&500),
            "saturation must never be a 500: {all:?}"
        );
        let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
        assert!(
            refused.len() >= 4,
            "16 slow requests, 4 running and 8 queued: the rest are refused ({all:?})"
        );
        for reply in &refused {
            assert_eq!(reply.headers["retry-after"], "1");
            assert_eq!(reply.json()["error"]["code"], "overloaded");
        }
        // The running and queued slow requests time out in their component: 504.
        assert!(all.iter().filter(|s| **s == 504).count() >= 4, "{all:?}");
        let res = send(&server, "GET", "/hello/Ada", &[], "").await;
        assert_eq!(res.status, 200, "capacity comes back");
    });
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("at capacity"), "{log}");
    assert!(
        !log.contains("component timing failed") && !log.contains("component faults failed"),
        "capacity must not be blamed on a component: {log}"
    );
}

#[test]
fn a_pool_smaller_than_the_admitted_concurrency_answers_503_not_500() {
    // Admission lets 8 in, but the pool has 2 slots: the rest get the pool's 503.
    let config = config("pool", "1s", true, "");
    let server = Arc::new(start_with_args(
        &config,
        &["--instances", "2", "--concurrency", "8"],
        None,
    ));
    runtime().block_on(async {
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let server = server.clone();
                tokio::spawn(async move { send(&server, "GET", "/faults/sleep", &[], "").await })
            })
            .collect();
        let mut replies = Vec::new();
        for task in tasks {
            replies.push(task.await.unwrap());
        }
        let all = statuses(&replies);
        assert!(!all.contains(&500), "{all:?}");
        let refused = replies.iter().find(|r| r.status == 503).expect("some 503");
        assert_eq!(refused.json()["error"]["code"], "overloaded");
        assert_eq!(refused.headers["retry-after"], "1");
    });
}

#[test]
fn spinning_guests_do_not_stall_other_requests() {
    let config = config("spin", "3s", false, "");
    let server = Arc::new(start_with_args(&config, &[], None));
    runtime().block_on(async {
        let started = Instant::now();
        // One looper per async worker of the server (it runs one per core, two here).
        let loops: Vec<_> = (0..2)
            .map(|_| {
                let server = server.clone();
                tokio::spawn(async move {
                    let res = send(&server, "GET", "/faults/loop", &[], "").await;
                    (res.status, started.elapsed())
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut answered = Vec::new();
        for _ in 0..5 {
            let res = send(&server, "GET", "/hello/Ada", &[], "").await;
            assert_eq!(res.status, 200);
            answered.push(started.elapsed());
        }
        for task in loops {
            let (status, finished) = task.await.unwrap();
            assert_eq!(status, 504);
            assert!(
                answered.iter().all(|t| *t < finished),
                "requests must be answered while the loops run: hello at {answered:?}, loop ended at {finished:?}"
            );
        }
    });
}

#[test]
fn the_configured_body_limit_answers_413_for_declared_and_chunked_bodies() {
    let config = config("body", "1s", false, "max-request-body = \"1KiB\"");
    let server = start_with_args(&config, &[], None);
    runtime().block_on(async {
        let small = send(&server, "POST", "/echo/x", &[], &"a".repeat(512)).await;
        assert_eq!(small.status, 200);
        let large = send(&server, "POST", "/echo/x", &[], &"a".repeat(2048)).await;
        assert_eq!(large.status, 413);
        assert_eq!(large.json()["error"]["code"], "payload-too-large");
        assert!(
            large.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("2048 bytes; the limit is 1024"),
            "{}",
            large.json()
        );
    });
    // Chunked: no Content-Length, so the limit stops the read.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let chunk = "b".repeat(600);
    write!(
        stream,
        "POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(
        reply.contains("larger than the limit of 1024 bytes"),
        "{reply}"
    );
}

/// Reads from `stream` until it closes; how long that took.
fn time_until_closed(mut stream: TcpStream, drip: &[u8]) -> Duration {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 1024];
    for byte in drip.iter().cycle() {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never closed");
    }
    started.elapsed()
}

#[test]
fn slow_clients_are_dropped_after_the_read_timeouts() {
    let config = config("slow", "1s", false, "");
    let server = start_with_args(
        &config,
        &["--header-timeout", "1s", "--body-timeout", "1s"],
        None,
    );
    // Headers a byte at a time: the connection is closed once the header timeout passes.
    let took = time_until_closed(
        TcpStream::connect(server.addr()).unwrap(),
        b"GET /hello/Ada HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    // A body that stops arriving: 408.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    write!(
        stream,
        "POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\nabc"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("request-timeout"), "{reply}");
    // The server still answers.
    let res = runtime().block_on(send(&server, "GET", "/hello/Ada", &[], ""));
    assert_eq!(res.status, 200);
}

/// Sends `GET /hello/Ada` in a loop for `for_how_long`, counting each status.
async fn hammer(server: &crate::serve::Server, for_how_long: Duration) -> Vec<u16> {
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < for_how_long {
        seen.push(send(server, "GET", "/hello/Ada", &[], "").await.status);
    }
    seen
}

#[test]
fn an_empty_or_rewritten_in_place_config_never_serves_nothing() {
    let config = config("inplace", "1s", false, "");
    let good = std::fs::read(&config).unwrap();
    let log = config.with_file_name("serve.log");
    let server = Arc::new(start_with_args(&config, &[], Some(&log)));
    runtime().block_on(async {
        let load = {
            let server = server.clone();
            tokio::spawn(async move { hammer(&server, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Emptied (as `: > lamina.toml` does): a config with no routes is refused.
        std::fs::write(&config, b"").unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Truncated and rewritten in place 50 ms later, as a careless editor or a copy does.
        truncate_then_write(&config, &good, Duration::from_millis(50));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let seen = load.await.unwrap();
        let not_ok = seen.iter().filter(|s| **s != 200).count();
        assert_eq!(
            not_ok,
            0,
            "{not_ok} of {} requests were not 200",
            seen.len()
        );
    });
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("the config serves nothing"), "{log}");
}

fn truncate_then_write(path: &Path, bytes: &[u8], pause: Duration) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    file.flush().unwrap();
    std::thread::sleep(pause);
    file.write_all(bytes).unwrap();
}
