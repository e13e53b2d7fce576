//! Finding a toolchain that builds `wasm32-wasip2` components, without downloading one.

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Debian packages that provide a rustc with its std source and wasi-libc (docs/TOOLCHAIN.md).
const DEBIAN_PACKAGES: [&str; 4] = ["rustc-web", "cargo-web", "rust-web-src", "wasi-libc"];
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library";
const WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

/// How guests get built on this machine.
pub(crate) enum Toolchain {
    /// rustup has the `wasm32-wasip2` target: plain `cargo build`.
    Rustup,
    /// Debian's rustc-web builds std for the target; rustup's bundled `wasm-component-ld`
    /// and `wasm-ld` link it.
    BuildStd {
        /// rustup's host `bin` directory holding `wasm-component-ld` and `gcc-ld/wasm-ld`.
        linker_bin: PathBuf,
    },
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(crate) fn is_root() -> bool {
    output(Command::new("id").arg("-u")).as_deref() == Some("0")
}

/// `apt-get install -y` (after an `apt-get update` whose failure is only reported).
///
/// # Errors
///
/// When the install fails.
pub(crate) fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("apt-get")
        .arg("update")
        .stdout(Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("xtask: apt-get update failed; trying the install with the current lists");
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("apt-get install {} failed", packages.join(" "));
    }
    Ok(())
}

impl Toolchain {
    /// Picks the rustup target when installed, else the Debian build-std recipe (installing
    /// its packages when root).
    ///
    /// # Errors
    ///
    /// When neither path is available, with what to install.
    pub(crate) fn find() -> anyhow::Result<Self> {
        let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))
            .unwrap_or_default();
        if installed.lines().any(|l| l.trim() == "wasm32-wasip2") {
            return Ok(Self::Rustup);
        }
        let sysroot = output(Command::new("rustc").args(["--print", "sysroot"]))
            .context("running `rustc --print sysroot`")?;
        let linker_bin = Path::new(&sysroot).join("lib/rustlib/x86_64-unknown-linux-gnu/bin");
        if !linker_bin.join("wasm-component-ld").exists()
            || !linker_bin.join("gcc-ld/wasm-ld").exists()
        {
            bail!(
                "the wasm32-wasip2 target is not installed and {} lacks wasm-component-ld and \
                 gcc-ld/wasm-ld; run `rustup target add wasm32-wasip2`",
                linker_bin.display()
            );
        }
        let have_debian = Path::new(DEBIAN_RUSTC).exists()
            && Path::new(DEBIAN_CARGO).exists()
            && Path::new(DEBIAN_STD_SRC).exists()
            && Path::new(WASI_LIBC).join("libc.a").exists();
        if !have_debian {
            if !is_root() {
                bail!(
                    "the wasm32-wasip2 target is not installed; either run `rustup target add \
                     wasm32-wasip2` or, as root, `apt-get install -y {}`",
                    DEBIAN_PACKAGES.join(" ")
                );
            }
            eprintln!(
                "xtask: wasm32-wasip2 is not installed; installing Debian's rustc-web and std source"
            );
            apt_install(&DEBIAN_PACKAGES)?;
        }
        Ok(Self::BuildStd { linker_bin })
    }

    /// `cargo build --release --target wasm32-wasip2` for the workspace at `dir`.
    pub(crate) fn cargo_build(&self, dir: &Path, target_dir: &Path) -> Command {
        let mut cmd = match self {
            Self::Rustup => Command::new("cargo"),
            Self::BuildStd { .. } => Command::new(DEBIAN_CARGO),
        };
        cmd.current_dir(dir)
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .env("CARGO_TARGET_DIR", target_dir)
            // The host build's settings must not leak into the guest build.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTC_WRAPPER");
        if let Self::BuildStd { linker_bin } = self {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.args(["-Zbuild-std=std,panic_abort"])
                .env(
                    "PATH",
                    format!("{}:{path}", linker_bin.join("gcc-ld").display()),
                )
                .env("RUSTC", DEBIAN_RUSTC)
                .env_remove("RUSTUP_TOOLCHAIN")
                .env("RUSTC_BOOTSTRAP", "1")
                .env(
                    "CARGO_TARGET_WASM32_WASIP2_LINKER",
                    linker_bin.join("wasm-component-ld"),
                )
                .env("RUSTFLAGS", format!("-L {WASI_LIBC}"));
        }
        cmd
    }
}

/// What cross-building the host for `aarch64-unknown-linux-gnu` takes from Debian: a C
/// cross compiler and libc for the C parts (ring, zstd) and the link, and qemu-user to run
/// the result here. With no rustup target to download, std is built from Debian's
/// `rust-web-src` by Debian's `rustc-web` (as for the guests).
const AARCH64_PACKAGES: [&str; 3] = [
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "qemu-user",
];

/// `cargo build --release -p lamina --target aarch64-unknown-linux-gnu` into
/// `target_dir`, with rustup's target when installed, else Debian's rustc-web building std
/// from source; installs the cross compiler (and the rustc-web packages) when root.
///
/// # Errors
///
/// When the packages are missing and cannot be installed.
pub(crate) fn aarch64_host_build(root: &Path, target_dir: &Path) -> anyhow::Result<Command> {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    let rustup = installed
        .lines()
        .any(|l| l.trim() == "aarch64-unknown-linux-gnu");
    let cross_gcc = Path::new("/usr/bin/aarch64-linux-gnu-gcc").exists();
    let debian_rust = Path::new(DEBIAN_RUSTC).exists() && Path::new(DEBIAN_STD_SRC).exists();
    if !cross_gcc || (!rustup && !debian_rust) {
        if !is_root() {
            bail!(
                "building for aarch64 needs `apt-get install {}` and either `rustup target add \
                 aarch64-unknown-linux-gnu` or `apt-get install {}`",
                AARCH64_PACKAGES.join(" "),
                DEBIAN_PACKAGES.join(" ")
            );
        }
        let mut packages = AARCH64_PACKAGES.to_vec();
        if !rustup {
            packages.extend(DEBIAN_PACKAGES);
        }
        apt_install(&packages)?;
    }
    let mut cmd = if rustup {
        Command::new("cargo")
    } else {
        let mut cmd = Command::new(DEBIAN_CARGO);
        cmd.arg("-Zbuild-std")
            .env("RUSTC", DEBIAN_RUSTC)
            .env_remove("RUSTUP_TOOLCHAIN")
            .env("RUSTC_BOOTSTRAP", "1");
        cmd
    };
    cmd.current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "lamina",
            "--bin",
            "lamina",
            "--target",
            "aarch64-unknown-linux-gnu",
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )
        .env("CC_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-gcc")
        .env("AR_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-ar");
    Ok(cmd)
}
