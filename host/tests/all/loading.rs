//! Loading components and configs: digests, precompiled artifacts, bad bytes, bad configs.

use crate::support::{guest, lamina_check, runtime, temp_dir, test_config_file};
use lamina::component::{CodeSource, ComponentSpec, EngineTuning, sha256_hex};
use lamina::{App, Config, Guest, Runtime};
use std::path::Path;
use std::process::Command;

fn load(path: &Path, pin: Option<&str>, trust: bool) -> anyhow::Result<Guest> {
    let spec = ComponentSpec {
        sha256: pin.map(str::to_owned),
        trust_precompiled: trust,
        ..ComponentSpec::new(path)
    };
    Guest::load(runtime(), "t", spec)
}

fn error_of(result: anyhow::Result<Guest>) -> String {
    match result {
        Ok(_) => panic!("expected the load to fail"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn sha256_pins_are_checked_before_compiling() {
    let path = guest("hello");
    let digest = sha256_hex(&std::fs::read(&path).unwrap());
    let handler = load(&path, Some(&digest.to_uppercase()), false).unwrap();
    assert_eq!(handler.digest(), digest);
    assert_ne!(handler.code_source(), CodeSource::Precompiled);

    let wrong = "0".repeat(64);
    let error = error_of(load(&path, Some(&wrong), false));
    assert_eq!(
        error,
        format!("sha256 mismatch: the config pins {wrong}, the source has {digest}")
    );
}

#[test]
fn precompiled_components_need_a_pin_or_explicit_trust() {
    let dir = temp_dir("cwasm");
    let cwasm = dir.join("hello.cwasm");
    let out = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("compile")
        .arg(guest("hello"))
        .arg("-o")
        .arg(&cwasm)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&cwasm).unwrap();
    let digest = sha256_hex(&bytes);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&digest),
        "compile prints the pin"
    );

    let error = error_of(load(&cwasm, None, false));
    assert!(
        error.contains("refusing to load a precompiled .cwasm without a sha256 pin"),
        "{error}"
    );
    assert!(load(&cwasm, Some(&digest), false).unwrap().code_source() == CodeSource::Precompiled);
    assert!(load(&cwasm, None, true).unwrap().code_source() == CodeSource::Precompiled);

    // A tampered artifact no longer matches its pin, so it is never deserialized.
    let mut tampered = bytes.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    let path = dir.join("tampered.cwasm");
    std::fs::write(&path, &tampered).unwrap();
    assert!(error_of(load(&path, Some(&digest), false)).starts_with("sha256 mismatch"));
}

#[test]
fn a_read_only_cwasm_is_mapped_after_its_digest_is_checked_and_a_writable_one_is_copied() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("cwasm-mapped");
    let bytes = runtime()
        .engine()
        .precompile_component(&std::fs::read(guest("hello")).unwrap())
        .unwrap();
    let digest = sha256_hex(&bytes);
    let read_only = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        path
    };

    let writable = dir.join("writable.cwasm");
    std::fs::write(&writable, &bytes).unwrap();
    let copied = load(&writable, Some(&digest), false).unwrap();
    assert_eq!(copied.code_source(), CodeSource::Precompiled);
    assert!(
        !copied.code_is_mapped(),
        "a writable .cwasm could change under a mapping"
    );

    let mapped_path = read_only("hello.cwasm", &bytes);
    let mapped = load(&mapped_path, Some(&digest), false).unwrap();
    assert_eq!(mapped.code_source(), CodeSource::Precompiled);
    assert!(mapped.code_is_mapped());
    assert_eq!(mapped.digest(), digest);
    // The mapped code answers requests.
    let config = format!(
        "[components.hello]\nsource = {mapped_path:?}\nsha256 = \"{digest}\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n"
    );
    let app = App::from_config(&Config::parse(&config, dir.clone()).unwrap(), runtime()).unwrap();
    let response =
        crate::support::block_on(app.handle(crate::support::request("GET", "/hello/Ada")));
    assert_eq!(response.status, 200);
    assert!(String::from_utf8_lossy(&response.body).contains("Hello, Ada!"));

    // The mapped path checks pins and trust exactly as the copying one does.
    let mut tampered = bytes.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    let tampered = read_only("tampered.cwasm", &tampered);
    let error = error_of(load(&tampered, Some(&digest), false));
    assert!(error.starts_with("sha256 mismatch"), "{error}");
    let error = error_of(load(&mapped_path, None, false));
    assert!(
        error.contains("refusing to load a precompiled .cwasm without a sha256 pin"),
        "{error}"
    );
    assert!(load(&mapped_path, None, true).unwrap().code_is_mapped());
    let foreign = read_only("foreign.cwasm", &foreign_cwasm());
    let error = error_of(load(&foreign, Some(&sha256_hex(&foreign_cwasm())), false));
    assert!(
        error.contains("rebuild it with this host's `lamina compile`"),
        "{error}"
    );
}

/// A `.cwasm` of `hello` from an engine configured differently from the host's (no epoch
/// interruption): a foreign artifact.
fn foreign_cwasm() -> Vec<u8> {
    let other = Runtime::with_tuning(&EngineTuning {
        epoch_interruption: false,
        ..EngineTuning::default()
    })
    .unwrap();
    other
        .engine()
        .precompile_component(&std::fs::read(guest("hello")).unwrap())
        .unwrap()
}

#[test]
fn a_foreign_precompiled_artifact_is_rejected_with_what_to_do() {
    let dir = temp_dir("foreign");
    let path = dir.join("foreign.cwasm");
    let bytes = foreign_cwasm();
    std::fs::write(&path, &bytes).unwrap();
    let error = error_of(load(&path, Some(&sha256_hex(&bytes)), false));
    assert!(
        error.contains("rebuild it with this host's `lamina compile`"),
        "{error}"
    );
}

#[test]
fn the_compile_cache_skips_compilation_and_replaces_entries_that_do_not_load() {
    let dir = temp_dir("compile-cache");
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = Runtime::new().unwrap().with_cache_dir(Some(&dir)).unwrap();
    let load = || Guest::load(&runtime, "hello", ComponentSpec::new(guest("hello"))).unwrap();

    let first = load();
    assert_eq!(first.code_source(), CodeSource::Compiled);
    let digest = first.digest().to_owned();
    // Its code is mapped from the cache entry: dropped before the entry is replaced below.
    drop(first);
    let entry = runtime.cache().unwrap().path(&digest);
    assert!(entry.exists(), "{} was written", entry.display());
    assert!(
        entry
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&digest),
        "entries are named by the source digest"
    );
    assert_eq!(load().code_source(), CodeSource::Cache);
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    // An entry from another engine configuration, or damaged bytes, under the right name:
    // detected by wasmtime's header check, recompiled from the .wasm and replaced.
    for planted in [foreign_cwasm(), b"not an artifact".to_vec()] {
        // Planted by rename, never written in place: a file some loaded component still
        // maps must not change under it (that crashes the process, as it would the host).
        let planting = entry.with_extension("planting");
        std::fs::write(&planting, &planted).unwrap();
        std::fs::rename(&planting, &entry).unwrap();
        let reloaded = load();
        assert_eq!(reloaded.code_source(), CodeSource::Compiled);
        assert_ne!(std::fs::read(&entry).unwrap(), planted);
        assert_eq!(load().code_source(), CodeSource::Cache);
    }
    // The cached component serves like a compiled one.
    let config = Config::parse(
        &format!(
            "[components.hello]\nsource = {:?}\n[[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n",
            guest("hello").display().to_string()
        ),
        "/".into(),
    )
    .unwrap();
    let app = App::from_config(&config, &runtime).unwrap();
    assert_eq!(app.components()["hello"].code_source(), CodeSource::Cache);
    let res = crate::support::block_on(app.handle(crate::support::request("GET", "/hello/cache")));
    assert_eq!(res.status, 200);
}

#[cfg(unix)]
#[test]
fn a_cache_directory_others_can_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("open-cache");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let error = format!(
        "{:#}",
        Runtime::new()
            .unwrap()
            .with_cache_dir(Some(&dir))
            .err()
            .unwrap()
    );
    assert!(error.contains("can be written by other users"), "{error}");
}

#[test]
fn bytes_that_are_not_a_component_are_rejected_clearly() {
    let dir = temp_dir("bad-bytes");
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "garbage.wasm",
            b"definitely not wasm",
            "compiling component",
        ),
        ("module.wasm", b"\0asm\x01\0\0\0", "compiling component"),
        ("empty.wasm", b"", "compiling component"),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let error = error_of(load(&path, None, false));
        assert!(error.contains(expected), "{name}: {error}");
    }
    let error = error_of(load(&dir.join("missing.wasm"), None, false));
    assert!(error.contains("missing.wasm"), "{error}");
}

#[test]
fn config_errors_name_the_setting() {
    let hello = guest("hello");
    let cases = [
        (
            format!(
                "[components.a]\nsource = {hello:?}\n[[routes]]\nmethod = \"GET\"\npath = \"/x/{{id}}\"\ncomponent = \"a\"\n\
                 [[routes]]\nmethod = \"GET\"\npath = \"/x/{{name}}\"\ncomponent = \"a\"\n"
            ),
            "routes[1]: path \"/x/{name}\" conflicts with routes[0]",
        ),
        (
            format!(
                "[components.a]\nsource = {hello:?}\n[[routes]]\nmethod = \"FETCH IT\"\npath = \"/\"\ncomponent = \"a\"\n"
            ),
            "routes[0].method: \"FETCH IT\" is not an HTTP method",
        ),
        (
            "not-found = \"a\"\n[components.a]\nsource = \"nope.wasm\"\n".to_owned(),
            "components.a: loading /nope/nope.wasm",
        ),
    ];
    for (text, expected) in cases {
        let config = Config::parse(&text, "/nope".into()).unwrap();
        let error = match App::from_config(&config, runtime()) {
            Ok(_) => panic!("expected an error for {text}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn lamina_check_lists_components_and_rejects_bad_configs() {
    let config = test_config_file("check");
    let out = lamina_check(&config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("component hello (handler, lamina:http@0.2.0):")
            && stdout.contains("sha256="),
        "{stdout}"
    );
    assert!(
        stdout.contains("route GET /todos/{id} -> todos"),
        "{stdout}"
    );
    assert!(
        stdout.contains("component timing (middleware, lamina:http@0.2.0):")
            && stdout.contains("route GET /mw/hello/{name} -> timing -> envelope -> hello"),
        "{stdout}"
    );

    let bad = temp_dir("check-bad").join("lamina.toml");
    std::fs::write(
        &bad,
        "[components.a]\nsource = \"a.wasm\"\ntimeuot = \"3s\"\n",
    )
    .unwrap();
    let out = lamina_check(&bad);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown field `timeuot`") && stderr.contains("line 3"),
        "{stderr}"
    );
}

#[test]
fn components_load_in_parallel_and_report_in_config_order() {
    let dir = temp_dir("load-all");
    let broken = dir.join("broken.wasm");
    std::fs::write(&broken, b"not a component").unwrap();
    let specs = |names: &[(&str, &Path)]| -> Vec<(String, ComponentSpec)> {
        names
            .iter()
            .map(|(name, path)| ((*name).to_owned(), ComponentSpec::new(*path)))
            .collect()
    };
    let hello = guest("hello");
    let echo = guest("echo");
    // Every one loads, and each result is the component named beside it.
    let all = Guest::load_all(
        runtime(),
        specs(&[("a", &hello), ("b", &echo), ("c", &hello), ("d", &echo)]),
    );
    let names: Vec<&str> = all.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
    for (name, guest) in &all {
        let guest = guest.as_ref().unwrap();
        assert_eq!(guest.name(), name);
        let expected = if name == "a" || name == "c" {
            &hello
        } else {
            &echo
        };
        assert_eq!(
            guest.digest(),
            sha256_hex(&std::fs::read(expected).unwrap()),
            "{name}"
        );
    }
    // A broken one in the middle: its own error is in its place, and whatever else did not
    // load says why; the first error in config order is the broken component's.
    let results = Guest::load_all(
        runtime(),
        specs(&[("a", &hello), ("b", &broken), ("c", &hello), ("d", &hello)]),
    );
    assert!(results[0].1.is_ok());
    let first = results
        .iter()
        .find_map(|(name, r)| r.as_ref().err().map(|e| (name.as_str(), format!("{e:#}"))))
        .unwrap();
    assert_eq!(first.0, "b");
    assert!(!first.1.contains("not loaded"), "{}", first.1);
    for (name, result) in &results[2..] {
        if let Err(e) = result {
            assert!(
                format!("{e:#}").contains("not loaded: an earlier component failed"),
                "{name}: {e:#}"
            );
        }
    }
    // Through a config, the message names the setting of the broken one.
    let text = format!(
        "[components.a]\nsource = {hello:?}\n[components.b]\nsource = {broken:?}\n\
         [components.c]\nsource = {hello:?}\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/\"\ncomponent = \"a\"\n"
    );
    let error = match App::from_config(&Config::parse(&text, dir.clone()).unwrap(), runtime()) {
        Ok(_) => panic!("expected components.b to fail"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.starts_with("components.b: loading"), "{error}");
}
