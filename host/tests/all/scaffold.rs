//! `lamina new` → `lamina build` → the template's own unit test → `lamina bundle` → the
//! bundle under AWS's Runtime Interface Emulator, for a handler and a middleware in each of
//! Rust, Python and TypeScript, in a directory outside the repository. The Python and
//! JavaScript builds use the SDK tools `cargo xtask guests` installed under `target/`
//! (`LAMINA_PY`, `LAMINA_JS`, as a project's own `.venv` or `node_modules` would hold).

use crate::rie::start_bootstrap;
use crate::support::{guest_dir, temp_dir};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// `lamina ARGS` in `dir`, with the SDK tools of this checkout.
fn lamina(dir: &Path, args: &[&str]) -> Output {
    let repo = repo();
    Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(args)
        .current_dir(dir)
        .env(
            "LAMINA_PY",
            format!(
                "{} -m lamina",
                repo.join("target/polyglot-venv/bin/python").display()
            ),
        )
        .env("PYTHONPATH", repo.join("sdks/python/src"))
        .env(
            "LAMINA_JS",
            format!("node {}", repo.join("sdks/js/bin/lamina-js.mjs").display()),
        )
        .env("LAMINA_JS_TOOLS", repo.join("target/js-tools"))
        // The guests' target directory already holds std built for wasm32-wasip2 (and, with
        // the examples' lock file below, the SDK's dependencies).
        .env(
            "CARGO_TARGET_DIR",
            guest_dir().parent().unwrap().parent().unwrap(),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn event(path: &str, headers: &Value) -> Vec<u8> {
    json!({
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": "GET"}, "stage": "$default"},
        "isBase64Encoded": false,
    })
    .to_string()
    .into_bytes()
}

#[test]
fn new_projects_build_test_bundle_and_serve_in_every_language() {
    let dir = temp_dir("new-projects");
    assert!(!dir.starts_with(repo()));
    for lang in ["rust", "python", "ts"] {
        let out = lamina(&dir, &["new", &format!("{lang}-hello"), "--lang", lang]);
        let stdout = ok(&out, "lamina new");
        assert!(
            stdout.contains(&format!(
                "[components.{lang}-hello]\nsource = \"{lang}-hello/dist/{lang}-hello.wasm\""
            )),
            "{stdout}"
        );
        let out = lamina(
            &dir,
            &[
                "new",
                &format!("{lang}-mw"),
                "--lang",
                lang,
                "--kind",
                "middleware",
            ],
        );
        ok(&out, "lamina new --kind middleware");
    }
    for project in ["rust-hello", "rust-mw"] {
        // Versions the registry cache already holds (a user's first build resolves the newest).
        std::fs::copy(
            repo().join("examples/Cargo.lock"),
            dir.join(project).join("Cargo.lock"),
        )
        .unwrap();
    }

    let mut built = Vec::new();
    for (project, kind) in [
        ("rust-hello", "Rust handler"),
        ("rust-mw", "Rust middleware"),
        ("python-hello", "Python handler"),
        ("python-mw", "Python middleware"),
        ("ts-hello", "TypeScript handler"),
        ("ts-mw", "TypeScript middleware"),
    ] {
        let out = lamina(&dir.join(project), &["build"]);
        let stdout = ok(&out, &format!("lamina build {project}"));
        let wasm = dir.join(project).join(format!("dist/{project}.wasm"));
        let sha = lamina::component::sha256_hex(&std::fs::read(&wasm).unwrap());
        assert_eq!(
            stdout.trim(),
            format!("{}: {kind}, sha256 = \"{sha}\"", wasm.display()),
            "{project}"
        );
        built.push(wasm);
    }

    // Each template's own unit test passes as its README says to run it.
    let test = Command::new("cargo")
        .args(["test", "--quiet"])
        .current_dir(dir.join("rust-hello"))
        .env("CARGO_TARGET_DIR", dir.join("native-target"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    ok(&test, "cargo test in rust-hello");
    for project in ["python-hello", "python-mw"] {
        let test = Command::new(repo().join("target/polyglot-venv/bin/python"))
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .current_dir(dir.join(project))
            .env("PYTHONPATH", repo().join("sdks/python/src"))
            .output()
            .unwrap();
        ok(&test, &format!("pytest in {project}"));
    }
    for project in ["ts-hello", "ts-mw"] {
        // What `npm install` would leave: the SDK under node_modules, its tools on PATH.
        let modules = dir.join(project).join("node_modules/@lamina");
        std::fs::create_dir_all(&modules).unwrap();
        let _ = std::fs::remove_file(modules.join("sdk"));
        std::os::unix::fs::symlink(repo().join("sdks/js"), modules.join("sdk")).unwrap();
        let script: Value =
            serde_json::from_slice(&std::fs::read(dir.join(project).join("package.json")).unwrap())
                .unwrap();
        let path = format!(
            "{}:{}",
            repo().join("target/js-tools/node_modules/.bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let test = Command::new("sh")
            .args(["-c", script["scripts"]["test"].as_str().unwrap()])
            .current_dir(dir.join(project))
            .env("PATH", path)
            .output()
            .unwrap();
        ok(&test, &format!("npm test in {project}"));
    }

    // One config: the three handlers, behind the three middlewares.
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        "middleware = [\"rust-mw\", \"python-mw\", \"ts-mw\"]\n\
         [components.rust-hello]\nsource = \"rust-hello/dist/rust-hello.wasm\"\nconfig = { greeting = \"Hi\" }\n\
         [components.python-hello]\nsource = \"python-hello/dist/python-hello.wasm\"\nconfig = { greeting = \"Hi\" }\n\
         [components.ts-hello]\nsource = \"ts-hello/dist/ts-hello.wasm\"\nconfig = { greeting = \"Hi\" }\n\
         [components.rust-mw]\nsource = \"rust-mw/dist/rust-mw.wasm\"\n\
         [components.python-mw]\nsource = \"python-mw/dist/python-mw.wasm\"\n\
         [components.ts-mw]\nsource = \"ts-mw/dist/ts-mw.wasm\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/hello/{name}\"\ncomponent = \"rust-hello\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/py/hello/{name}\"\ncomponent = \"python-hello\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/ts/hello/{name}\"\ncomponent = \"ts-hello\"\n",
    )
    .unwrap();
    let out = lamina(&dir, &["bundle", "lamina.toml", "-o", "bundle"]);
    let stdout = ok(&out, "lamina bundle");
    assert!(
        stdout.contains("checked: the packaged bootstrap loads the bundle"),
        "{stdout}"
    );
    let bundle = dir.join("bundle");
    let opt = bundle.join("opt");
    zip::ZipArchive::new(std::fs::File::open(bundle.join("layer.zip")).unwrap())
        .unwrap()
        .extract(&opt)
        .unwrap();
    let Some(emulator) = start_bootstrap(
        "new-projects-rie",
        Path::new(env!("CARGO_BIN_EXE_lamina")),
        &opt.join("lamina/lamina.toml"),
        30,
        "off",
    ) else {
        return;
    };
    for path in ["/hello/Ada", "/py/hello/Ada", "/ts/hello/Ada"] {
        let (status, body) = emulator.invoke(&event(path, &json!({"x-api-key": "k"})));
        assert_eq!(status, 200);
        let reply: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(reply["statusCode"], 200, "{path}: {reply}");
        let greeting: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(greeting["message"], "Hi, Ada!", "{path}: {reply}");
        for header in ["x-rust-mw", "x-python-mw", "x-ts-mw"] {
            assert!(
                reply["headers"][header].is_string(),
                "{path}: no {header} from its middleware: {reply}"
            );
        }
    }
    // The first middleware answers for a request without a key; the handler never runs.
    let (_, body) = emulator.invoke(&event("/py/hello/Ada", &json!({})));
    let reply: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["statusCode"], 401, "{reply}");
    assert_eq!(reply["body"], "missing x-api-key\n");
}

#[test]
fn new_and_build_name_what_is_wrong() {
    let dir = temp_dir("new-mistakes");
    let out = lamina(&dir, &["new", "9lives", "--lang", "rust"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"9lives\": a component name is letters"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lamina(&dir, &["new", "app", "--lang", "cobol"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"cobol\" is not a language here"));

    ok(
        &lamina(&dir, &["new", "app", "--lang", "python"]),
        "lamina new",
    );
    let out = lamina(&dir, &["new", "app", "--lang", "ts"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exists and is not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // No SDK tool anywhere: the message says what to run.
    let out = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("build")
        .arg(dir.join("app"))
        .env_remove("LAMINA_PY")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no lamina-py")
            && stderr.contains(
                "run `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt`"
            ),
        "{stderr}"
    );

    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = lamina(&empty, &["build"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("is not a Lamina project"), "{stderr}");
}
