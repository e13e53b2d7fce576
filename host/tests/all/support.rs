//! Shared helpers: where the guests are, configs that bind them, building apps.

use lamina::{App, Config, Context, Request, Runtime, Source};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where `cargo xtask guests` put the components.
pub(crate) fn guest_dir() -> PathBuf {
    let dir = std::env::var_os("LAMINA_GUEST_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/wasm32-wasip2/release"),
        PathBuf::from,
    );
    assert!(
        dir.join("hello.wasm").exists() && dir.join("faults.wasm").exists(),
        "guest components are missing from {}: run `cargo xtask guests` (or `cargo xtask test`)",
        dir.display()
    );
    dir
}

pub(crate) fn guest(name: &str) -> PathBuf {
    guest_dir().join(format!("{name}.wasm"))
}

/// The examples' routes plus the `faults` test component, with absolute sources.
pub(crate) fn test_config_text() -> String {
    let dir = guest_dir();
    let mut text = format!(
        r#"
strip-prefixes = ["/api"]

[components.hello]
source = "{hello}"
config = {{ greeting = "Howdy" }}

[components.echo]
source = "{echo}"

[components.todos]
source = "{todos}"

[components.faults]
source = "{faults}"
memory = "32MiB"
# Short, so the loop and sleep faults end quickly; long enough that filling 32 MiB
# (20 ms alone) still ends in its out-of-memory 500 with the suite loading both cores.
timeout = "1s"
max-response = "1MiB"
env = {{ GRANTED = "yes" }}
files = {{ host = "{data}", guest = "/data" }}
secrets = {{ token = "s3cr3t-token-value" }}

[components.timing]
source = "{timing}"
config = {{ name = "lamina" }}

[components.auth]
source = "{auth}"
secrets = {{ secret = "{jwt_secret}" }}
config = {{ issuer = "https://issuer.example", required-scope = "todos:write" }}

[components.envelope]
source = "{envelope}"

# The example middleware: timing on the whole group, envelope and auth per route.
[[groups]]
prefix = "/mw"
middleware = ["timing"]

[[groups.routes]]
method = "GET"
path = "/hello/{{name}}"
component = "hello"
middleware = ["envelope"]

[[groups.routes]]
method = "ANY"
path = "/secure/{{*rest}}"
component = "echo"
middleware = ["auth"]

[[routes]]
method = "GET"
path = "/faults/{{fault}}"
component = "faults"

[[routes]]
method = "ANY"
path = "/echo/{{*rest}}"
component = "echo"
"#,
        hello = dir.join("hello.wasm").display(),
        echo = dir.join("echo.wasm").display(),
        todos = dir.join("todos.wasm").display(),
        faults = dir.join("faults.wasm").display(),
        jwt_secret = JWT_SECRET,
        timing = dir.join("timing.wasm").display(),
        auth = dir.join("auth.wasm").display(),
        envelope = dir.join("envelope.wasm").display(),
        data = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/data")
            .display(),
    );
    for (method, path, component) in [
        ("GET", "/hello", "hello"),
        ("GET", "/hello/{name}", "hello"),
        ("GET", "/todos", "todos"),
        ("POST", "/todos", "todos"),
        ("GET", "/todos/{id}", "todos"),
        ("DELETE", "/todos/{id}", "todos"),
    ] {
        text.push_str(&format!(
            "\n[[routes]]\nmethod = \"{method}\"\npath = \"{path}\"\ncomponent = \"{component}\"\n"
        ));
    }
    text
}

/// The HMAC key the test config gives the `auth` middleware.
pub(crate) const JWT_SECRET: &str = "test-hs256-secret";

/// An HS256 JWT over `claims`, signed with `secret` (HMAC-SHA256 written out with `sha2`,
/// so the tests check the guest's verification against an independent implementation).
pub(crate) fn jwt(claims: &serde_json::Value, secret: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest as _, Sha256};
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let mut key = [0u8; 64];
    key[..secret.len()].copy_from_slice(secret.as_bytes());
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(input.as_bytes())
        .finalize();
    let mac = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// A temporary directory unique to this test process and `name`.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lamina-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Replaces `to` with `bytes` atomically, as a deploy tool would (write, then rename).
pub(crate) fn replace_file(to: &Path, bytes: &[u8]) {
    let tmp = to.with_extension("upload");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

/// A directory `name` with `app.wasm` (a copy of the `hello` guest) bound to
/// `GET /hello/{name}` by `lamina.toml`, whose first lines are `header`. Returns the
/// directory, the component file and the config file.
pub(crate) fn hello_app(name: &str, header: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = temp_dir(name);
    let component = dir.join("app.wasm");
    std::fs::copy(guest("hello"), &component).unwrap();
    let config = dir.join("lamina.toml");
    replace_file(
        &config,
        format!(
            "{header}\n[components.app]\nsource = \"app.wasm\"\n[[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"app\"\n"
        )
        .as_bytes(),
    );
    (dir, component, config)
}

/// A config in its own directory `name`: `faults` (with `limits`, TOML keys such as
/// `timeout = "30s"`) on `GET /faults/{fault}` and `hello` on `GET /hello/{name}`. Returns
/// the config file.
pub(crate) fn faults_config(name: &str, limits: &str) -> PathBuf {
    let path = temp_dir(name).join("lamina.toml");
    std::fs::write(
        &path,
        format!(
            "[components.faults]\nsource = {:?}\n{limits}\n\
             [components.hello]\nsource = {:?}\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/faults/{{fault}}\"\ncomponent = \"faults\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n",
            guest("faults"),
            guest("hello"),
        ),
    )
    .unwrap();
    path
}

/// `lamina check CONFIG`, run to completion.
pub(crate) fn lamina_check(config: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("check")
        .arg(config)
        .output()
        .unwrap()
}

/// Writes the test config to a file and returns its path.
pub(crate) fn test_config_file(name: &str) -> PathBuf {
    let path = temp_dir(name).join("lamina.toml");
    std::fs::write(&path, test_config_text()).unwrap();
    path
}

pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().unwrap())
}

/// The app over the test config, built once per test binary.
pub(crate) fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let config = Config::parse(&test_config_text(), PathBuf::from("/")).unwrap();
        App::from_config(&config, runtime()).unwrap()
    })
}

pub(crate) fn request(method: &str, path: &str) -> Request {
    Request::new(
        method.parse().unwrap(),
        path,
        Context::new(Source::Local, "test-request-id"),
    )
}

/// A fresh multi-threaded tokio runtime, for tests that serve and call at once.
pub(crate) fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `future` to completion on a fresh current-thread runtime.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Where the todos of a copy of `examples/lamina.toml` ([`example_config`]) live.
#[derive(Clone, Copy)]
pub(crate) enum TodosStore<'a> {
    /// A store file at this path (not the demo's own data).
    File(&'a Path),
    /// A `memory` store: each process starts empty.
    Memory,
    /// No store: the Rust todos serve their read-only seed list, as the Python and
    /// TypeScript ones do.
    Seed,
}

/// `examples/lamina.toml` as it ships, written into `dir` with its relative paths made
/// absolute (the guests stay in the default guest directory) and the todos' store as
/// `store` says, so a test never touches the demo's data or holds its file.
pub(crate) fn example_config(dir: &Path, store: TodosStore<'_>) -> PathBuf {
    guest_dir();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let shipped = std::fs::read_to_string(examples.join("lamina.toml")).unwrap();
    let store_lines = "backend = \"file\"\npath = \"../target/demo-data/todos.redb\"\n";
    let grant = "key-value = [\"todos\"]\n";
    assert!(
        shipped.contains(store_lines) && shipped.contains(grant),
        "examples/lamina.toml no longer declares the todos store as the tests expect"
    );
    let text = match store {
        TodosStore::File(path) => shipped.replace(
            store_lines,
            &format!(
                "backend = \"file\"\npath = {:?}\n",
                path.display().to_string()
            ),
        ),
        TodosStore::Memory => shipped.replace(store_lines, "backend = \"memory\"\n"),
        TodosStore::Seed => shipped
            .replace(grant, "")
            .replace(&format!("[key-value.todos]\n{store_lines}"), ""),
    }
    .replace("\"../target/", &format!("\"{}/", target.display()));
    let config = dir.join("lamina.toml");
    std::fs::write(&config, text).unwrap();
    config
}
