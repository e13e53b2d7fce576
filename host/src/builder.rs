//! `lamina build [DIR]`: builds the component in a project made by `lamina new` (or any
//! project laid out the same way) with its language's toolchain, into `DIR/dist/NAME.wasm`.
//!
//! | project | toolchain |
//! | --- | --- |
//! | `Cargo.toml` | `cargo build --release --target wasm32-wasip2` with rustup's target; without it, Debian's `rustc-web` building std from source (`-Zbuild-std`), linked by rustup's `wasm-component-ld` |
//! | `pyproject.toml` with `[tool.lamina]` | `lamina-py build` (componentize-py): `$LAMINA_PY`, else `.venv/bin/lamina-py`, else on `PATH` |
//! | `package.json` with `"lamina"` | `lamina-js build` (componentize-js): `$LAMINA_JS`, else `node_modules/.bin/lamina-js`, else on `PATH` |
//!
//! A missing toolchain is an error that names what to install.

use crate::scaffold::{Kind, Lang};
use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A built component.
#[derive(Debug)]
pub struct Built {
    /// `DIR/dist/NAME.wasm`.
    pub wasm: PathBuf,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// The project's language.
    pub lang: Lang,
    /// What it is.
    pub kind: Kind,
}

/// A project: its language, name, entry file and kind.
struct Project {
    lang: Lang,
    name: String,
    entry: String,
    kind: Kind,
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

impl Project {
    fn find(dir: &Path) -> anyhow::Result<Self> {
        let cargo = dir.join("Cargo.toml");
        let pyproject = dir.join("pyproject.toml");
        let package = dir.join("package.json");
        if cargo.is_file() {
            let manifest: toml::Table = toml::from_str(&read(&cargo)?)
                .with_context(|| format!("{} is not valid TOML", cargo.display()))?;
            let name = manifest
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(toml::Value::as_str)
                .with_context(|| format!("{}: no [package] name", cargo.display()))?;
            // The kind is the export macro's: the bundle and `lamina check` read it back.
            let kind = if read(&dir.join("src/lib.rs"))
                .unwrap_or_default()
                .contains("export_middleware!")
            {
                Kind::Middleware
            } else {
                Kind::Handler
            };
            return Ok(Self {
                lang: Lang::Rust,
                name: name.to_owned(),
                entry: "src/lib.rs".to_owned(),
                kind,
            });
        }
        if pyproject.is_file() {
            let manifest: toml::Table = toml::from_str(&read(&pyproject)?)
                .with_context(|| format!("{} is not valid TOML", pyproject.display()))?;
            if let Some(lamina) = manifest.get("tool").and_then(|t| t.get("lamina")) {
                return Self::described(Lang::Python, &pyproject, "[tool.lamina]", |key| {
                    lamina
                        .get(key)
                        .and_then(toml::Value::as_str)
                        .map(str::to_owned)
                });
            }
        }
        if package.is_file() {
            let manifest: serde_json::Value = serde_json::from_str(&read(&package)?)
                .with_context(|| format!("{} is not valid JSON", package.display()))?;
            if let Some(lamina) = manifest.get("lamina") {
                let name = manifest["name"].as_str().map(str::to_owned);
                return Self::described(Lang::TypeScript, &package, "\"lamina\"", |key| {
                    if key == "name" {
                        return name.clone();
                    }
                    lamina.get(key).and_then(|v| v.as_str()).map(str::to_owned)
                });
            }
        }
        bail!(
            "{} is not a Lamina project: it has no Cargo.toml, no pyproject.toml with \
             [tool.lamina] and no package.json with \"lamina\" (`lamina new` makes one)",
            dir.display()
        )
    }

    /// A Python or TypeScript project from its manifest's `name`, `entry` and `kind`.
    fn described(
        lang: Lang,
        manifest: &Path,
        section: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let need = |key: &str| {
            get(key).with_context(|| format!("{}: {section} has no `{key}`", manifest.display()))
        };
        Ok(Self {
            lang,
            name: need("name")?,
            entry: need("entry")?,
            kind: Kind::parse(&get("kind").unwrap_or_else(|| "handler".to_owned()))
                .map_err(|e| anyhow::anyhow!("{}: {section} kind: {e}", manifest.display()))?,
        })
    }
}

/// Builds the project in `dir` (see the module docs).
///
/// # Errors
///
/// `dir` is not a project, its toolchain is missing (the message says what to install),
/// or the build fails (the toolchain's own output is on stderr).
pub fn build(dir: &Path) -> anyhow::Result<Built> {
    // Tools run in the project directory: every path handed to them is absolute.
    let dir = &dir
        .canonicalize()
        .with_context(|| format!("{}", dir.display()))?;
    let project = Project::find(dir)?;
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
    let wasm = dist.join(format!("{}.wasm", project.name));
    match project.lang {
        Lang::Rust => build_rust(dir, &wasm)?,
        Lang::Python => {
            let tool = sdk_tool(
                "LAMINA_PY",
                &dir.join(".venv/bin/lamina-py"),
                "lamina-py",
                "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt",
            )?;
            run_sdk_tool(&tool, dir, &project, &wasm)?;
        }
        Lang::TypeScript => {
            let tool = sdk_tool(
                "LAMINA_JS",
                &dir.join("node_modules/.bin/lamina-js"),
                "lamina-js",
                "npm install",
            )?;
            run_sdk_tool(&tool, dir, &project, &wasm)?;
        }
    }
    let bytes =
        std::fs::read(&wasm).with_context(|| format!("the build wrote no {}", wasm.display()))?;
    Ok(Built {
        wasm,
        sha256: crate::component::sha256_hex(&bytes),
        lang: project.lang,
        kind: project.kind,
    })
}

/// The SDK's build command: `$env` (a command line), else `local`, else `name` on `PATH`.
fn sdk_tool(env: &str, local: &Path, name: &str, install: &str) -> anyhow::Result<Vec<String>> {
    if let Ok(command) = std::env::var(env) {
        let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
        if !words.is_empty() {
            return Ok(words);
        }
    }
    if local.is_file() {
        return Ok(vec![local.display().to_string()]);
    }
    if on_path(name).is_some() {
        return Ok(vec![name.to_owned()]);
    }
    bail!(
        "no {name} (the Lamina SDK's build tool) in {} or on PATH: run `{install}` in the \
         project (or set {env} to the command)",
        local
            .parent()
            .map_or_else(String::new, |p| p.display().to_string())
    )
}

fn run_sdk_tool(tool: &[String], dir: &Path, project: &Project, wasm: &Path) -> anyhow::Result<()> {
    let mut cmd = Command::new(&tool[0]);
    cmd.args(&tool[1..])
        .arg("build")
        .arg(&project.entry)
        .arg("-o")
        .arg(wasm)
        .current_dir(dir)
        // The tool's progress goes to stderr: stdout is `lamina build`'s one result line.
        .stdout(std::io::stderr());
    if project.kind == Kind::Middleware {
        cmd.arg("--middleware");
    }
    let status = cmd
        .status()
        .with_context(|| format!("running {}", tool.join(" ")))?;
    if !status.success() {
        bail!("{} build failed ({status})", tool.join(" "));
    }
    Ok(())
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn succeeds(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

// Debian's packages that build std for wasm32-wasip2 from source: the recipe of
// ../shared/DESIGN.md §7, which `cargo xtask guests` also follows (xtask/src/toolchain.rs).
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library";
const WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

/// `cargo build --release --target wasm32-wasip2`, then the cdylib copied to `wasm`.
fn build_rust(dir: &Path, wasm: &Path) -> anyhow::Result<()> {
    let rustup_target = succeeds(Command::new("rustup").args(["target", "list", "--installed"]))
        .is_some_and(|list| list.lines().any(|l| l.trim() == "wasm32-wasip2"));
    let mut cmd = if rustup_target {
        Command::new("cargo")
    } else {
        let sysroot = succeeds(Command::new("rustc").args(["--print", "sysroot"]))
            .context("no rustc: install Rust (rustup) with the wasm32-wasip2 target")?;
        let bin = Path::new(&sysroot).join(format!(
            "lib/rustlib/{}-unknown-linux-gnu/bin",
            std::env::consts::ARCH
        ));
        let debian = [DEBIAN_RUSTC, DEBIAN_CARGO, DEBIAN_STD_SRC]
            .iter()
            .all(|p| Path::new(p).exists())
            && Path::new(WASI_LIBC).join("libc.a").exists();
        if !debian || !bin.join("wasm-component-ld").exists() {
            bail!(
                "the wasm32-wasip2 target is not installed: run `rustup target add \
                 wasm32-wasip2`, or on Debian 12 without downloads `apt-get install rustc-web \
                 cargo-web rust-web-src wasi-libc` (with rustup's toolchain for its \
                 wasm-component-ld)"
            );
        }
        let path = std::env::var("PATH").unwrap_or_default();
        let mut cmd = Command::new(DEBIAN_CARGO);
        cmd.arg("-Zbuild-std=std,panic_abort")
            .env("PATH", format!("{}:{path}", bin.join("gcc-ld").display()))
            .env("RUSTC", DEBIAN_RUSTC)
            .env_remove("RUSTUP_TOOLCHAIN")
            .env("RUSTC_BOOTSTRAP", "1")
            .env(
                "CARGO_TARGET_WASM32_WASIP2_LINKER",
                bin.join("wasm-component-ld"),
            )
            .env("RUSTFLAGS", format!("-L {WASI_LIBC}"));
        cmd
    };
    if rustup_target {
        cmd.env_remove("RUSTFLAGS");
    }
    let out = cmd
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo")?;
    if !out.status.success() {
        bail!("cargo build --target wasm32-wasip2 failed ({})", out.status);
    }
    // The artifact cargo reports: wherever the target directory is.
    let built = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
        .context("cargo built no .wasm: is the crate a cdylib (crate-type = [\"cdylib\"])?")?;
    std::fs::copy(&built, wasm)
        .with_context(|| format!("copying {} to {}", built.display(), wasm.display()))?;
    Ok(())
}
