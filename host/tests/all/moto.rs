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
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(moto_binary())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
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
