//! `moto_server` on loopback, started and stopped by the tests that need AWS services
//! (`cargo xtask test` installs it from PyPI when it is missing and names it in
//! `LAMINA_MOTO_SERVER`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `moto_server` process, killed when dropped.
pub(crate) struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto_binary() -> PathBuf {
    std::env::var_os("LAMINA_MOTO_SERVER")
        .map_or_else(|| PathBuf::from("moto_server"), PathBuf::from)
}

/// Starts moto on `port`, appending its request log to `log`, and waits until it accepts
/// connections.
pub(crate) fn start_moto(port: u16, log: &Path) -> Moto {
    let mut command = Command::new(moto_binary());
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    spawn_moto(command, port, log)
}

/// moto answering one request at a time. `moto_server` serves each request on its own
/// thread, and its DynamoDB updates are not atomic per item then: 800 `ADD`s from 8
/// concurrent connections, each answered 200, left a counter at 797-799. Serving one at a
/// time makes each update atomic, as it is in DynamoDB, for the tests of what Lamina does
/// under contention.
pub(crate) fn start_moto_serial(port: u16, log: &Path) -> Moto {
    let python = moto_binary()
        .parent()
        .map(|bin| bin.join("python"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"));
    let mut command = Command::new(python);
    command.args([
        "-c",
        "import sys\n\
         from werkzeug.serving import run_simple\n\
         from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app\n\
         run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)\n",
        &port.to_string(),
    ]);
    spawn_moto(command, port, log)
}

fn spawn_moto(mut command: Command, port: u16, log: &Path) -> Moto {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): run the suite with `cargo xtask test`, which installs \
                 moto[server] from PyPI, or set LAMINA_MOTO_SERVER",
                moto_binary().display()
            )
        });
    let moto = Moto(child);
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return moto;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto_server did not listen on 127.0.0.1:{port} within 30 s");
}

/// A port nothing listens on at 127.0.0.1 now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `http://127.0.0.1:port`.
pub(crate) fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}
