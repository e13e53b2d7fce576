//! `lamina bundle`: a config with Rust, Python and JavaScript components made into a layer
//! zip and a function zip, unpacked as Lambda would (`/var/task`, `/opt`) and run under AWS's
//! Runtime Interface Emulator with no compile cache; cross-compiled for arm64; and refused
//! where the bundle would not load.

use crate::rie::{http_event, start_bootstrap};
use crate::support::{guest, temp_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lamina_bundle(config: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("bundle")
        .arg(config)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// Unzips `zip` into `to`, keeping each entry's Unix mode as Lambda does.
fn unzip(zip: &Path, to: &Path) {
    let file = std::fs::File::open(zip).unwrap();
    zip::ZipArchive::new(file).unwrap().extract(to).unwrap();
}

/// A config in its own directory: `hello` in Rust, Python and JavaScript under `/rs`, `/py`
/// and `/js`, and `echo` behind a body schema, with a file store the bundle has to move.
fn polyglot_config(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::create_dir_all(dir.join("schemas")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas/new-todo.json"),
        dir.join("schemas/new-todo.json"),
    )
    .unwrap();
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        format!(
            r#"# A comment the bundle does not need.
[components.hello]
source = {rs:?}
config = {{ greeting = "Hi" }}
[components.py-hello]
source = {py:?}
config = {{ greeting = "Hi" }}
[components.js-hello]
source = {js:?}
config = {{ greeting = "Hi" }}
[components.todos]
source = {todos:?}
key-value = ["todos"]
[key-value.todos]
backend = "file"
path = "data/todos.redb"

[[routes]]
method = "GET"
path = "/rs/hello/{{name}}"
component = "hello"
[[routes]]
method = "GET"
path = "/py/hello/{{name}}"
component = "py-hello"
[[routes]]
method = "GET"
path = "/js/hello/{{name}}"
component = "js-hello"
[[routes]]
method = "POST"
path = "/todos"
component = "todos"
validate = {{ schema = "schemas/new-todo.json" }}
[[routes]]
method = "GET"
path = "/todos"
component = "todos"
"#,
            rs = guest("hello"),
            py = guest("py-hello"),
            js = guest("js-hello"),
            todos = guest("todos"),
        ),
    )
    .unwrap();
    config
}

fn post_event(path: &str, body: &str) -> Vec<u8> {
    serde_json::json!({
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST"}, "stage": "$default"},
        "body": body,
        "isBase64Encoded": false,
    })
    .to_string()
    .into_bytes()
}

#[test]
fn a_bundle_of_rust_python_and_js_components_serves_from_its_zips_under_the_emulator() {
    let config = polyglot_config("bundle-polyglot");
    let out = config.with_file_name("bundle");
    let run = lamina_bundle(&config, &out, &[]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains(
            "checked: the packaged bootstrap loads the bundle, every component precompiled"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("note: key-value.todos: the file store moves from data/todos.redb to /tmp/lamina/todos.redb"),
        "{stdout}"
    );

    assert!(
        stdout.contains("note: function.zip has no THIRD-PARTY-LICENSES.txt"),
        "{stdout}"
    );

    // Unpacked as Lambda does: the function zip in the task root, the layer under /opt.
    let task = out.join("var-task");
    let opt = out.join("opt");
    unzip(&out.join("function.zip"), &task);
    unzip(&out.join("layer.zip"), &opt);
    let bootstrap = task.join("bootstrap");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&bootstrap).unwrap().permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "bootstrap is executable");
    assert!(task.join("LICENSE").is_file() && task.join("NOTICE").is_file());

    // Every component pinned to a .cwasm in the layer, whose digest is the pin.
    let bundled = opt.join("lamina/lamina.toml");
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(&bundled).unwrap()).unwrap();
    let components = table["components"].as_table().unwrap();
    assert_eq!(components.len(), 4);
    for (name, component) in components {
        let source = component["source"].as_str().unwrap();
        assert!(
            source.starts_with(&format!("components/{name}-")) && source.ends_with(".cwasm"),
            "{name}: {source}"
        );
        let bytes = std::fs::read(opt.join("lamina").join(source)).unwrap();
        assert_eq!(
            component["sha256"].as_str().unwrap(),
            lamina::component::sha256_hex(&bytes),
            "{name}"
        );
    }
    assert_eq!(
        components["hello"]["config"]["greeting"].as_str(),
        Some("Hi")
    );
    assert!(opt.join("lamina/schemas/new-todo.json").is_file());

    let Some(emulator) = start_bootstrap("bundle-polyglot-rie", &bootstrap, &bundled, 30, "off")
    else {
        return;
    };
    for lang in ["rs", "py", "js"] {
        let (status, body) = emulator.invoke(&http_event(&format!("/{lang}/hello/Ada"), ""));
        assert_eq!(status, 200, "{lang}: {}", String::from_utf8_lossy(&body));
        let reply: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(reply["statusCode"], 200, "{lang}: {reply}");
        let greeting: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(greeting["message"], "Hi, Ada!", "{lang}: {reply}");
    }
    // The schema travelled with the bundle: a body that breaks it is the host's 422.
    let (_, body) = emulator.invoke(&post_event("/todos", r#"{"title": ""}"#));
    let reply: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["statusCode"], 422, "{reply}");
    // And the moved store works: a todo created is listed.
    let (_, body) = emulator.invoke(&post_event("/todos", r#"{"title": "bundled"}"#));
    let reply: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["statusCode"], 201, "{reply}");
    // Each component came from its .cwasm (the start-up log's JSON lines say so).
    let log = emulator.log();
    let loaded: Vec<(String, String)> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "component loaded")
        .map(|line| {
            (
                line["component"].as_str().unwrap_or_default().to_owned(),
                line["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut names: Vec<&str> = loaded.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["hello", "js-hello", "py-hello", "todos"], "{log}");
    assert!(
        loaded.iter().all(|(_, code)| code == "precompiled"),
        "{loaded:?}"
    );
}

#[test]
fn bundles_cross_compile_for_arm64_are_reproducible_and_refuse_what_would_not_load() {
    let dir = temp_dir("bundle-arm64");
    let config = dir.join("lamina.toml");
    let hello = format!(
        "[components.hello]\nsource = {:?}\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n",
        guest("hello")
    );
    std::fs::write(&config, &hello).unwrap();

    // arm64: every .cwasm is aarch64 code; no bootstrap of that architecture here.
    let out = dir.join("arm64");
    let run = lamina_bundle(&config, &out, &["--arch", "arm64"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("not checked: not loaded here"), "{stdout}");
    assert!(stdout.contains("note: no function.zip"), "{stdout}");
    assert!(!out.join("function.zip").exists());
    // The template beside the layer deploys arm64 unless told otherwise.
    let template = std::fs::read_to_string(out.join("template.yaml")).unwrap();
    assert!(
        template.contains("    Default: arm64\n    AllowedValues: [x86_64, arm64]\n")
            && template.contains("CodeUri: function.zip")
            && template.contains("ContentUri: layer.zip"),
        "{template}"
    );
    let components = out.join("layer/lamina/components");
    let cwasm = std::fs::read_dir(&components)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&cwasm).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");
    assert_eq!(
        u16::from_le_bytes([bytes[18], bytes[19]]),
        183,
        "EM_AARCH64"
    );

    // A bootstrap of the wrong architecture is refused, naming both.
    let run = lamina_bundle(
        &config,
        &dir.join("arm64-wrong"),
        &[
            "--arch",
            "aarch64",
            "--bootstrap",
            env!("CARGO_BIN_EXE_lamina"),
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("is built for x86_64, not arm64"),
        "{stderr}"
    );

    // The dependencies' licence texts beside a bootstrap travel with it.
    let host = dir.join("host");
    std::fs::create_dir_all(&host).unwrap();
    let _ = std::fs::remove_file(host.join("bootstrap"));
    std::fs::hard_link(env!("CARGO_BIN_EXE_lamina"), host.join("bootstrap")).unwrap();
    std::fs::write(host.join("THIRD-PARTY-LICENSES.txt"), "the notices\n").unwrap();
    let out = dir.join("with-notices");
    let bootstrap = host.join("bootstrap");
    let run = lamina_bundle(&config, &out, &["--bootstrap", bootstrap.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!String::from_utf8_lossy(&run.stdout).contains("has no THIRD-PARTY"));
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(out.join("function.zip")).unwrap()).unwrap();
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        ["LICENSE", "NOTICE", "THIRD-PARTY-LICENSES.txt", "bootstrap"]
    );
    let mut notices = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("THIRD-PARTY-LICENSES.txt").unwrap(),
        &mut notices,
    )
    .unwrap();
    assert_eq!(notices, "the notices\n");

    // The same inputs make the same layer, byte for byte.
    let first = dir.join("x86-1");
    let second = dir.join("x86-2");
    for out in [&first, &second] {
        let run = lamina_bundle(&config, out, &[]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    assert_eq!(
        std::fs::read(first.join("layer.zip")).unwrap(),
        std::fs::read(second.join("layer.zip")).unwrap()
    );

    // Refused: a pin the source breaks, a source that is already precompiled, a missing
    // schema; each names the setting.
    let pinned = dir.join("pinned.toml");
    std::fs::write(
        &pinned,
        hello.replace(
            "\n[[routes]]",
            &format!("\nsha256 = \"{}\"\n[[routes]]", "0".repeat(64)),
        ),
    )
    .unwrap();
    let run = lamina_bundle(&pinned, &dir.join("pinned"), &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success()
            && stderr.contains("components.hello:")
            && stderr.contains("but the config pins 0000"),
        "{stderr}"
    );

    let precompiled = dir.join("precompiled.toml");
    let cwasm_x86 = std::fs::read_dir(first.join("layer/lamina/components"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(
        &precompiled,
        format!(
            "[components.hello]\nsource = {cwasm_x86:?}\ntrust-precompiled = true\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n"
        ),
    )
    .unwrap();
    let run = lamina_bundle(&precompiled, &dir.join("precompiled"), &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success()
            && stderr.contains("components.hello:")
            && stderr.contains("is already precompiled; bundle from its .wasm"),
        "{stderr}"
    );

    let schema = dir.join("schema.toml");
    std::fs::write(
        &schema,
        format!("{hello}validate = {{ query-schema = \"missing.json\" }}\n"),
    )
    .unwrap();
    let run = lamina_bundle(&schema, &dir.join("schema"), &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success()
            && stderr.contains("routes[0].validate.query-schema: copying")
            && stderr.contains("missing.json"),
        "{stderr}"
    );
}
