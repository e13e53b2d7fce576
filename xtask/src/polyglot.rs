//! Python and JavaScript/TypeScript guests: the pinned tools that build them (componentize-py
//! in a virtualenv, componentize-js and esbuild from npm, both under `target/`), the
//! components built from `examples/` and `tests/components/` with the repo's own SDKs
//! (`sdks/python`, `sdks/js`), and the SDKs' own tests.
//!
//! Tools are installed once and reused; a component is rebuilt only when its source
//! directory, its SDK or the WIT changed since it was built.

use crate::python::venv;
use crate::toolchain::{apt_install, is_root};
use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// What the Python builds and tests need, pinned (the SDK's glue imports the module names
/// this componentize-py generates).
const PYTHON_TOOLS: [&str; 3] = ["componentize-py==0.25.1", "pytest==8.3.4", "mypy==1.13.0"];

/// `target/js-tools/package.json`: what the JavaScript builds and tests need, pinned.
/// componentize-js imports `@bytecodealliance/preview2-shim` without declaring it (npm only
/// sometimes hoists a copy to where that import finds it), and reads the WIT through that
/// shim's filesystem: 0.17 preopens `/`, 0.26 (what jco brings) preopens nothing, so every
/// build would fail with `reading file .../wit`. Hence the pin.
const JS_TOOLS: &str = r#"{
  "private": true,
  "description": "Written by cargo xtask: the tools that build and check Lamina's JavaScript guests",
  "dependencies": {
    "@bytecodealliance/componentize-js": "0.23.0",
    "@bytecodealliance/preview2-shim": "0.17.8",
    "componentize-qjs": "0.4.5",
    "esbuild": "0.24.2",
    "typescript": "5.7.2"
  }
}
"#;

#[derive(Clone, Copy)]
enum Lang {
    Python,
    /// SpiderMonkey (componentize-js), the JavaScript default.
    Js,
    /// QuickJS (componentize-qjs), the small JavaScript option.
    QuickJs,
}

/// One component: its language, its source (relative to the root), the name it is built
/// as (`<name>.wasm` in the guest directory), and whether it is a middleware.
struct Guest(Lang, &'static str, &'static str, bool);

const GUESTS: [Guest; 16] = [
    Guest(Lang::Python, "examples/python/hello.py", "py-hello", false),
    Guest(Lang::Python, "examples/python/echo.py", "py-echo", false),
    Guest(Lang::Python, "examples/python/todos.py", "py-todos", false),
    Guest(Lang::Python, "examples/python/timing.py", "py-timing", true),
    Guest(
        Lang::Python,
        "tests/components/python/faults.py",
        "py-faults",
        false,
    ),
    Guest(
        Lang::Python,
        "tests/components/python/tagger.py",
        "py-tagger",
        true,
    ),
    Guest(Lang::Js, "examples/js/hello.ts", "js-hello", false),
    Guest(Lang::Js, "examples/js/echo.ts", "js-echo", false),
    Guest(Lang::Js, "examples/js/todos.ts", "js-todos", false),
    Guest(Lang::Js, "examples/js/timing.ts", "js-timing", true),
    Guest(
        Lang::Js,
        "tests/components/js/faults.ts",
        "js-faults",
        false,
    ),
    Guest(Lang::Js, "tests/components/js/tagger.ts", "js-tagger", true),
    Guest(Lang::QuickJs, "examples/js/hello.ts", "qjs-hello", false),
    Guest(Lang::QuickJs, "examples/js/echo.ts", "qjs-echo", false),
    Guest(
        Lang::QuickJs,
        "tests/components/js/faults.ts",
        "qjs-faults",
        false,
    ),
    Guest(
        Lang::QuickJs,
        "tests/components/js/tagger.ts",
        "qjs-tagger",
        true,
    ),
];

/// The installed tools.
pub(crate) struct Tools {
    /// The virtualenv's Python, with componentize-py, pytest and mypy.
    python: PathBuf,
    /// The directory whose `node_modules/.bin` has componentize-js, esbuild and tsc.
    js: PathBuf,
}

impl Tools {
    /// Installs (or finds, when already installed) the pinned tools under `target/`.
    ///
    /// # Errors
    ///
    /// When Python or Node is missing and cannot be installed, or a registry is
    /// unreachable on the first run.
    pub(crate) fn install(root: &Path) -> anyhow::Result<Self> {
        let python = venv(root, "polyglot-venv", &PYTHON_TOOLS)
            .context("installing componentize-py, pytest and mypy from PyPI")?
            .join("bin/python");
        Ok(Self {
            python,
            js: js_tools(root)?,
        })
    }

    fn bin(&self, tool: &str) -> PathBuf {
        self.js.join("node_modules/.bin").join(tool)
    }

    fn python_cmd(&self, root: &Path) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.env("PYTHONPATH", root.join("sdks/python/src"));
        cmd
    }

    fn node_cmd(&self) -> Command {
        let mut cmd = Command::new("node");
        cmd.env("LAMINA_JS_TOOLS", &self.js);
        cmd
    }
}

fn has_node() -> bool {
    ["node", "npm"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// `target/js-tools` with [`JS_TOOLS`] installed by npm (again only when that list changed
/// or a tool is missing).
fn js_tools(root: &Path) -> anyhow::Result<PathBuf> {
    if !has_node() {
        if !is_root() {
            bail!("node and npm are needed for the JavaScript guests: install Node.js 20 or newer");
        }
        eprintln!("xtask: node/npm missing; installing nodejs and npm");
        apt_install(&["nodejs", "npm"])?;
    }
    let dir = root.join("target/js-tools");
    std::fs::create_dir_all(&dir)?;
    let manifest = dir.join("package.json");
    let installed = std::fs::read_to_string(&manifest).is_ok_and(|text| text == JS_TOOLS)
        && ["componentize-js", "componentize-qjs", "esbuild", "tsc"]
            .iter()
            .all(|tool| dir.join("node_modules/.bin").join(tool).exists());
    if !installed {
        std::fs::write(&manifest, JS_TOOLS)?;
        crate::run(Command::new("npm").current_dir(&dir).args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]))
        .context("installing componentize-js, componentize-qjs, esbuild and typescript from npm")?;
    }
    Ok(dir)
}

/// The newest modification time of any file under `path`.
fn newest(path: &Path) -> SystemTime {
    let Ok(meta) = std::fs::metadata(path) else {
        return SystemTime::UNIX_EPOCH;
    };
    if !meta.is_dir() {
        return meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            !matches!(name.to_str(), Some("node_modules" | "dist" | "__pycache__"))
        })
        .map(|e| newest(&e.path()))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Builds every Python and JavaScript guest into `out` that is missing or older than its
/// inputs.
///
/// # Errors
///
/// When a build fails (the tool's output is included).
pub(crate) fn build(root: &Path, tools: &Tools, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    // The JS SDK's declarations (dist/) are what TypeScript users import; building them
    // also type-checks the SDK.
    crate::run(
        Command::new(tools.bin("tsc"))
            .args(["-p"])
            .arg(root.join("sdks/js")),
    )
    .context("type-checking and building the JavaScript SDK")?;
    for Guest(lang, source, name, middleware) in GUESTS {
        let source = root.join(source);
        let target = out.join(format!("{name}.wasm"));
        let sdk = match lang {
            Lang::Python => root.join("sdks/python/src"),
            // Sources and the build tool (bin/); dist/ and node_modules/ are skipped.
            Lang::Js | Lang::QuickJs => root.join("sdks/js"),
        };
        let inputs = [source.parent().unwrap_or(root), &sdk, &root.join("wit")]
            .iter()
            .map(|p| newest(p))
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        if newest(&target) > inputs {
            continue;
        }
        let mut cmd = match lang {
            Lang::Python => {
                let mut cmd = tools.python_cmd(root);
                cmd.args(["-m", "lamina", "build"]);
                cmd
            }
            Lang::Js | Lang::QuickJs => {
                let mut cmd = tools.node_cmd();
                cmd.arg(root.join("sdks/js/bin/lamina-js.mjs")).arg("build");
                if matches!(lang, Lang::QuickJs) {
                    cmd.args(["--engine", "quickjs"]);
                }
                cmd
            }
        };
        if middleware {
            cmd.arg("--middleware");
        }
        cmd.arg(&source)
            .arg("-o")
            .arg(&target)
            .stdout(Stdio::null());
        crate::run(&mut cmd).with_context(|| format!("building {name}.wasm"))?;
    }
    Ok(())
}

/// The SDKs' own tests: pytest and mypy (strict, SDK and Python guests) for Python; node's
/// test runner for the JavaScript SDK and `tsc --noEmit` over the TypeScript guests.
///
/// # Errors
///
/// When a test or a type check fails.
pub(crate) fn test_sdks(root: &Path, tools: &Tools) -> anyhow::Result<()> {
    let python_sdk = root.join("sdks/python");
    crate::run(
        tools
            .python_cmd(root)
            .current_dir(&python_sdk)
            .args(["-m", "pytest", "-q", "tests"]),
    )
    .context("the Python SDK's tests")?;
    crate::run(
        tools
            .python_cmd(root)
            .current_dir(&python_sdk)
            .args(["-m", "mypy"]),
    )
    .context("type-checking the Python SDK and guests (mypy --strict)")?;
    crate::run(
        tools
            .node_cmd()
            .current_dir(root.join("sdks/js"))
            .args(["--test", "test/"]),
    )
    .context("the JavaScript SDK's tests")?;
    crate::run(
        Command::new(tools.bin("tsc"))
            .args(["--noEmit", "-p"])
            .arg(root.join("examples/js")),
    )
    .context("type-checking the TypeScript guests")?;
    Ok(())
}

/// The Python and JavaScript SDKs as their users get them: the wheel and the npm tarball,
/// each built (pip and npm may use their registries for that), installed with no index
/// into a scratch project outside the repository, and used there (with none of the
/// repository's tools on hand) to build `hello`, which must answer through `lamina
/// invoke`. `lamina` is the host binary.
///
/// # Errors
///
/// When a package does not build, install offline, or build a component that loads.
pub(crate) fn test_sdk_packages(root: &Path, tools: &Tools, lamina: &Path) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("lamina-sdk-packages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let dist = scratch.join("dist");
    std::fs::create_dir_all(&dist)?;

    // Python: the wheel, and componentize-py's (its one dependency) fetched beforehand, so
    // the install itself reads no index.
    crate::run(
        Command::new(&tools.python)
            .args(["-m", "pip", "wheel", "--no-deps", "-q", "-w"])
            .arg(&dist)
            .arg(root.join("sdks/python")),
    )
    .context("building the Python SDK's wheel")?;
    crate::run(
        Command::new(&tools.python)
            .args(["-m", "pip", "download", "--no-deps", "-q", "-d"])
            .arg(&dist)
            .arg(PYTHON_TOOLS[0]),
    )
    .context("fetching componentize-py's wheel for the offline install")?;
    let wheel = std::fs::read_dir(&dist)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("lamina_sdk-"))
        .context("pip wrote no lamina_sdk wheel")?;
    let listing = Command::new(&tools.python)
        .args(["-m", "zipfile", "-l"])
        .arg(&wheel)
        .output()?;
    contains_all(
        &String::from_utf8_lossy(&listing.stdout),
        "the wheel",
        &[
            "lamina/wit/http.wit",
            "lamina/wit/VENDORED.md",
            "lamina/wit/deps/keyvalue/store.wit",
            // PEP 639 (setuptools 77+, which pyproject.toml requires).
            "dist-info/licenses/LICENSE",
            "dist-info/licenses/NOTICE",
        ],
    )?;
    let venv = scratch.join("venv");
    crate::run(Command::new(&tools.python).args(["-m", "venv"]).arg(&venv))?;
    crate::run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--no-index", "--find-links"])
            .arg(&dist)
            .arg("lamina-sdk"),
    )
    .context("installing the Python SDK's wheel offline")?;
    let py = scratch.join("py");
    std::fs::create_dir_all(&py)?;
    std::fs::copy(root.join("examples/python/hello.py"), py.join("hello.py"))?;
    crate::run(
        Command::new(venv.join("bin/lamina-py"))
            .current_dir(&py)
            .env_remove("PYTHONPATH")
            .args(["build", "hello.py", "-o", "hello.wasm"]),
    )
    .context("building a component with the installed Python SDK")?;

    // JavaScript: the tarball (prepack puts the WIT in it), installed from npm's cache.
    crate::run(
        Command::new("npm")
            .current_dir(root.join("sdks/js"))
            .args(["pack", "--silent", "--pack-destination"])
            .arg(&dist),
    )
    .context("packing the JavaScript SDK")?;
    let tarball = std::fs::read_dir(&dist)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .context("npm pack wrote no .tgz")?;
    let listing = Command::new("tar").arg("tzf").arg(&tarball).output()?;
    contains_all(
        &String::from_utf8_lossy(&listing.stdout),
        "the npm tarball",
        &[
            "package/wit/http.wit",
            "package/wit/VENDORED.md",
            "package/wit/deps/keyvalue/store.wit",
            "package/dist/index.d.ts",
            "package/LICENSE",
            "package/NOTICE",
        ],
    )?;
    let js = scratch.join("js");
    std::fs::create_dir_all(&js)?;
    std::fs::write(
        js.join("package.json"),
        r#"{ "name": "hello-app", "private": true, "type": "module" }"#,
    )?;
    crate::run(
        Command::new("npm")
            .current_dir(&js)
            .args([
                "install",
                "--offline",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .arg(&tarball),
    )
    .context("installing the JavaScript SDK's tarball offline (from npm's cache)")?;
    std::fs::copy(root.join("examples/js/hello.ts"), js.join("hello.ts"))?;
    crate::run(
        Command::new("node")
            .current_dir(&js)
            .env_remove("LAMINA_JS_TOOLS")
            .args([
                "node_modules/.bin/lamina-js",
                "build",
                "hello.ts",
                "-o",
                "hello.wasm",
            ]),
    )
    .context("building a component with the installed JavaScript SDK")?;

    std::fs::write(
        scratch.join("lamina.toml"),
        "[components.py]\nsource = \"py/hello.wasm\"\n[components.js]\nsource = \"js/hello.wasm\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/py/hello/{name}\"\ncomponent = \"py\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/js/hello/{name}\"\ncomponent = \"js\"\n",
    )?;
    let event = std::fs::read_to_string(root.join("examples/events/hello-python-http-api.json"))?;
    for lang in ["py", "js"] {
        let file = scratch.join(format!("{lang}-event.json"));
        std::fs::write(&file, event.replace("/py/hello", &format!("/{lang}/hello")))?;
        let out = Command::new(lamina)
            .args(["invoke", "--config"])
            .arg(scratch.join("lamina.toml"))
            .arg(&file)
            .env("LAMINA_CACHE_DIR", "off")
            .output()
            .context("running lamina invoke")?;
        let reply = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !reply.contains("Hello, Ada Lovelace!") {
            bail!(
                "the {lang} component built with the installed SDK answered {reply}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// Fails unless `listing` (a package's file list) names every one of `files`.
fn contains_all(listing: &str, what: &str, files: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&&str> = files.iter().filter(|f| !listing.contains(**f)).collect();
    if !missing.is_empty() {
        bail!("{what} lacks {missing:?}; it holds:\n{listing}");
    }
    Ok(())
}
