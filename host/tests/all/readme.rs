//! The README's "Writing a handler" steps, run as written in a directory outside the
//! repository: its `Cargo.toml` and `src/lib.rs`, the build command for the toolchain this
//! machine has (the rustup target, else Debian's offline recipe), its `lamina.toml`, and
//! `lamina serve` answering a real HTTP client.

use crate::serve::{send, start_with};
use crate::support::tokio_runtime;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The code block after `<!-- readme-test: NAME -->` in the README.
fn block(readme: &str, name: &str) -> String {
    let marker = format!("<!-- readme-test: {name} -->");
    let after = &readme[readme
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker}"))..];
    let fence = after.find("```").unwrap() + 3;
    let body = &after[fence..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_owned()
}

/// Whether rustup has the `wasm32-wasip2` target (else the README's offline recipe).
fn has_rustup_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|line| line.trim() == "wasm32-wasip2")
        })
}

#[test]
fn a_handler_built_outside_the_repository_answers() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    // Outside the repository, so no workspace of ours is found above it.
    let dir = std::env::temp_dir().join(format!("lamina-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    assert!(!dir.starts_with(repo()));
    let manifest = block(&readme, "Cargo.toml").replace(
        "/path/to/lamina/guest-sdk",
        &repo().join("guest-sdk").display().to_string(),
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/lib.rs"), block(&readme, "src/lib.rs")).unwrap();
    std::fs::write(dir.join("lamina.toml"), block(&readme, "lamina.toml")).unwrap();
    // The examples' lock file pins what the crate resolves to versions the registry cache
    // already holds (the README's reader gets the newest; this test wants no surprises).
    std::fs::copy(repo().join("examples/Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let (which, script) = if has_rustup_target() {
        ("build-rustup", block(&readme, "build-rustup"))
    } else {
        // The packages are what `cargo xtask guests` installed before the tests; the
        // `apt-get` line needs root and the network, so it is the one line not run here.
        let script = block(&readme, "build-offline");
        let script: Vec<&str> = script
            .lines()
            .filter(|line| !line.starts_with("sudo apt-get"))
            .collect();
        ("build-offline", script.join("\n"))
    };
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        // As a user's shell would be: none of the test harness's cargo settings.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{which} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.join("target/wasm32-wasip2/release/hello_lamina.wasm")
            .exists(),
        "{which} built no component"
    );

    let server = start_with(&dir.join("lamina.toml"));
    let rt = tokio_runtime();
    let reply = rt.block_on(send(&server, "GET", "/hello/ada", &[], ""));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), serde_json::json!({ "message": "Hi, ada!" }));
    let reply = rt.block_on(send(
        &server,
        "POST",
        "/orders",
        &[("content-type", "application/json")],
        r#"{"item": ""}"#,
    ));
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
