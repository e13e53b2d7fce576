//! Shared by the benchmarks that measure `lamina serve` as a user runs it: the release
//! binary on a config, on a free loopback port, and plain HTTP/1.1 requests to it.
#![allow(dead_code)] // each benchmark uses a part

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The handlers of `examples/lamina.toml` that answer a plain `GET`.
pub(crate) const EXAMPLE_GET_PATHS: [&str; 9] = [
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

/// A running `lamina serve`, stopped when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    /// `host:port` it listens on.
    pub(crate) addr: String,
}

impl Server {
    /// `http://host:port`.
    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `lamina serve --port 0` on `config` with `LAMINA_LOG=log`, its log to `stderr`; returns
/// once it has printed the address it listens on.
///
/// # Errors
///
/// When it cannot be started or prints no address.
pub(crate) fn start(config: &Path, log: &str, stderr: Stdio) -> anyhow::Result<Server> {
    start_with(config, log, stderr, |_| {})
}

/// [`start`], with `prepare` given the command before it is spawned.
///
/// # Errors
///
/// As [`start`].
pub(crate) fn start_with(
    config: &Path,
    log: &str,
    stderr: Stdio,
    prepare: impl FnOnce(&mut Command),
) -> anyhow::Result<Server> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lamina"));
    command
        .args(["serve", "--port", "0", "--config"])
        .arg(config)
        .env("LAMINA_LOG", log)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .stdin(Stdio::null());
    prepare(&mut command);
    let mut child = command.spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    let Some(addr) = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .map(|a| a.trim_end_matches('/').to_owned())
    else {
        let _ = child.kill();
        anyhow::bail!("lamina serve printed no address: {line:?}");
    };
    Ok(Server { child, addr })
}

/// `GET path` on the keep-alive connection `stream`, reading exactly the response.
///
/// # Errors
///
/// When the connection fails or the answer is not a `200` with a `content-length`.
pub(crate) fn get(stream: &mut TcpStream, addr: &str, path: &str) -> anyhow::Result<()> {
    // One write: `write!` on the socket would send the pieces separately, and Nagle's
    // algorithm would hold the last piece for the server's delayed ACK (40 ms).
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    // Read the head, then exactly the body its content-length names.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .ok_or_else(|| anyhow::anyhow!("{path}: no content-length in {head}"))?;
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok(())
}
