//! `lamina openapi` and `[openapi]`: the document from the routes, checked by an
//! independent validator (`openapi-spec-validator` from PyPI, which `cargo xtask test`
//! installs and names in `LAMINA_LINT_PYTHON`), and served by `lamina serve`.

use crate::serve::{send, start_with};
use crate::support::{guest, temp_dir, tokio_runtime};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lamina_openapi(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("openapi")
        .arg(config)
        .output()
        .unwrap()
}

/// The document of `config`, and what `lamina openapi` warned about.
fn document(config: &Path) -> (Value, String) {
    let out = lamina_openapi(config);
    assert!(
        out.status.success(),
        "lamina openapi {}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs openapi-spec-validator on each file; panics with its message on the first that
/// is not a valid OpenAPI 3.1 document.
fn assert_valid(files: &[PathBuf]) {
    let python = std::env::var("LAMINA_LINT_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python)
        .arg("-c")
        .arg(
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             for path in sys.argv[1:]:\n    \
                 with open(path) as f:\n        validate(json.load(f))\n",
        )
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e} (run through cargo xtask test)"));
    assert!(
        out.status.success(),
        "openapi-spec-validator refused a document (run through cargo xtask test, which \
         installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A config with validation, CORS, groups, an `ANY` catch-all, a hidden route and a
/// method OpenAPI cannot list, in its own directory with the schema files.
fn rich_config(name: &str, error_format: &str) -> PathBuf {
    let dir = temp_dir(name);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas");
    for schema in ["new-todo.json", "search-query.json"] {
        std::fs::copy(fixtures.join(schema), dir.join(schema)).unwrap();
    }
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        format!(
            r#"error-format = "{error_format}"
middleware = ["timing"]
cors = {{ allow-origins = ["https://app.example.com"], max-age = 600, allow-credentials = true }}

[openapi]
title = "Todos"
version = "2.1.0"
description = "The todos API."
servers = ["https://api.example.com"]

[components.todos]
source = "todos.wasm"
[components.auth]
source = "auth.wasm"
[components.timing]
source = "timing.wasm"

[[routes]]
method = "POST"
path = "/todos"
component = "todos"
middleware = ["auth"]
validate = {{ schema = "new-todo.json" }}
openapi = {{ summary = "Create a todo", tags = ["todos"], operation-id = "createTodo" }}

[[routes]]
method = "GET"
path = "/todos"
component = "todos"
validate = {{ query-schema = "search-query.json" }}
cache-control = "public, max-age=60"

[[routes]]
method = "ANY"
path = "/files/{{*rest}}"
component = "todos"
cors = false

[[routes]]
method = "GET"
path = "/internal"
component = "todos"
openapi = {{ hidden = true }}

[[groups]]
prefix = "/v2"
openapi = {{ tags = ["v2"] }}

[[groups.routes]]
method = "GET"
path = "/todos/{{id}}"
component = "todos"
openapi = {{ tags = ["todos"], deprecated = true }}

[[groups.routes]]
method = "PROPFIND"
path = "/dav"
component = "todos"
"#
        ),
    )
    .unwrap();
    config
}

#[test]
fn the_document_says_what_the_host_enforces_and_validates() {
    let config = rich_config("openapi-rich", "problem");
    let (doc, warnings) = document(&config);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["info"],
        json!({"title": "Todos", "version": "2.1.0", "description": "The todos API."})
    );
    assert_eq!(doc["servers"], json!([{"url": "https://api.example.com"}]));

    // The validated body: the schema file, under components, required, with the answers
    // validation gives.
    let create = &doc["paths"]["/todos"]["post"];
    assert_eq!(create["operationId"], "createTodo");
    assert_eq!(create["summary"], "Create a todo");
    assert_eq!(create["tags"], json!(["todos"]));
    assert_eq!(create["requestBody"]["required"], true);
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/new-todo"})
    );
    let schema_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas");
    let new_todo: Value =
        serde_json::from_slice(&std::fs::read(schema_file.join("new-todo.json")).unwrap()).unwrap();
    assert_eq!(doc["components"]["schemas"]["new-todo"], new_todo);
    let statuses: Vec<&String> = create["responses"].as_object().unwrap().keys().collect();
    assert_eq!(
        statuses,
        ["2XX", "400", "413", "415", "422", "4XX", "5XX"],
        "{create}"
    );
    assert_eq!(
        create["x-lamina"],
        json!({"component": "todos", "middleware": ["timing", "auth"]})
    );

    // The query schema, as parameters; the route's Cache-Control and CORS headers.
    let list = &doc["paths"]["/todos"]["get"];
    assert_eq!(list["operationId"], "getTodos");
    let params: Vec<(&str, &str, bool)> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["in"].as_str().unwrap(),
                p["required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        params,
        [("limit", "query", false), ("q", "query", true)],
        "{list}"
    );
    let headers = &list["responses"]["2XX"]["headers"];
    assert!(
        headers["Cache-Control"]["description"]
            .as_str()
            .unwrap()
            .contains("public, max-age=60")
    );
    assert!(
        headers["Access-Control-Allow-Origin"]["description"]
            .as_str()
            .unwrap()
            .contains("https://app.example.com")
    );
    assert_eq!(
        headers["Access-Control-Allow-Credentials"]["schema"]["const"],
        "true"
    );
    assert_eq!(
        list["responses"]["400"]["$ref"],
        "#/components/responses/Error"
    );
    assert!(list["responses"].get("422").is_none(), "{list}");

    // The host's preflight answer for the CORS path, listing both methods.
    let preflight = &doc["paths"]["/todos"]["options"];
    assert_eq!(preflight["x-lamina"]["host"], "cors-preflight");
    assert!(
        preflight["description"]
            .as_str()
            .unwrap()
            .contains("POST, GET")
    );
    assert_eq!(
        preflight["responses"]["204"]["headers"]["Access-Control-Max-Age"]["schema"]["const"],
        "600"
    );

    // ANY, catch-all, no CORS: five methods, one `rest` parameter, no preflight.
    let files = doc["paths"]["/files/{rest}"].as_object().unwrap();
    let methods: Vec<&String> = files.keys().collect();
    assert_eq!(methods, ["delete", "get", "patch", "post", "put"]);
    assert_eq!(files["put"]["x-lamina"]["method"], "ANY");
    assert_eq!(
        files["get"]["parameters"][0]["name"], "rest",
        "{}",
        files["get"]
    );
    assert_eq!(files["get"]["parameters"][0]["in"], "path");
    assert_eq!(files["get"]["parameters"][0]["required"], true);
    assert!(files["get"]["responses"]["2XX"].get("headers").is_none());

    // The group: its prefix and tags first.
    let by_id = &doc["paths"]["/v2/todos/{id}"]["get"];
    assert_eq!(by_id["operationId"], "getV2TodosById");
    assert_eq!(by_id["tags"], json!(["v2", "todos"]));
    assert_eq!(by_id["deprecated"], true);

    // Left out: the hidden route, and the method OpenAPI has no field for (with a warning).
    assert!(doc["paths"].get("/internal").is_none());
    assert!(doc["paths"].get("/v2/dav").is_none());
    assert!(
        warnings.contains("groups[0].routes[1]: PROPFIND /v2/dav is left out"),
        "{warnings}"
    );

    // The error format's schema and media type.
    assert!(
        doc["components"]["responses"]["Error"]["content"]
            .get("application/problem+json")
            .is_some()
    );
    assert_eq!(
        doc["components"]["schemas"]["Error"]["required"],
        json!(["type", "title", "status"])
    );

    // Every error format's document, and the example app's, pass an independent validator.
    let mut files = Vec::new();
    for format in ["lamina", "powertools", "api-event-utils", "problem"] {
        let config = rich_config(&format!("openapi-{format}"), format);
        let out = config.with_file_name("openapi.json");
        let status = Command::new(env!("CARGO_BIN_EXE_lamina"))
            .arg("openapi")
            .arg(&config)
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        files.push(out);
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/lamina.toml");
    let (example_doc, _) = document(&examples);
    assert!(example_doc["paths"]["/py/todos/{id}"]["delete"].is_object());
    let example_file = temp_dir("openapi-examples").join("openapi.json");
    std::fs::write(&example_file, example_doc.to_string()).unwrap();
    files.push(example_file);
    assert_valid(&files);
}

#[test]
fn the_host_serves_the_document_and_a_swagger_ui_page() {
    let dir = temp_dir("openapi-serve");
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        format!(
            "[openapi]\ntitle = \"Hello </title>\"\npath = \"/openapi.json\"\nswagger-ui = \"/docs\"\n\
             [components.hello]\nsource = {:?}\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n\
             openapi = {{ summary = \"Greets </script> by name\" }}\n",
            guest("hello"),
        ),
    )
    .unwrap();
    let (printed, _) = document(&config);
    let check = crate::support::lamina_check(&config);
    let listed = String::from_utf8_lossy(&check.stdout);
    assert!(
        listed.contains("route GET /openapi.json -> (host: the OpenAPI document)")
            && listed.contains("route GET /docs -> (host: Swagger UI)"),
        "{listed}"
    );
    let server = start_with(&config);
    tokio_runtime().block_on(async {
        let res = send(&server, "GET", "/openapi.json", &[], "").await;
        assert_eq!(res.status, 200);
        assert_eq!(res.headers["content-type"], "application/json");
        let served = res.json();
        assert_eq!(served, printed, "the served document is the printed one");
        // The host's own routes are not part of the API.
        let paths: Vec<&String> = served["paths"].as_object().unwrap().keys().collect();
        assert_eq!(paths, ["/hello/{name}"]);

        let res = send(&server, "GET", "/docs", &[], "").await;
        assert_eq!(res.status, 200);
        assert_eq!(res.headers["content-type"], "text/html; charset=utf-8");
        let page = String::from_utf8(res.body.to_vec()).unwrap();
        assert!(
            page.contains(&format!(
                "src=\"{}/swagger-ui-bundle.js\"",
                lamina::openapi::SWAGGER_UI_ASSETS
            )),
            "{page}"
        );
        assert!(
            page.contains("<title>Hello &lt;/title&gt;</title>"),
            "{page}"
        );
        // The document is inline, and its text cannot end the script element.
        assert!(page.contains("\"getHelloByName\""), "{page}");
        assert!(!page.contains("Greets </script>"), "{page}");
        assert!(page.contains("Greets \\u003c/script> by name"), "{page}");

        // The routes are still the component's.
        let res = send(&server, "GET", "/hello/Ada", &[], "").await;
        assert_eq!(res.status, 200);
    });
}

#[test]
fn openapi_mistakes_are_named() {
    let dir = temp_dir("openapi-mistakes");
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let hello = format!(
        "[components.hello]\nsource = {:?}\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n",
        guest("hello")
    );

    let twice = write(
        "twice.toml",
        format!(
            "{hello}openapi = {{ operation-id = \"greet\" }}\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hi/{{name}}\"\ncomponent = \"hello\"\n\
             openapi = {{ operation-id = \"greet\" }}\n"
        ),
    );
    let out = lamina_openapi(&twice);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("routes[1].openapi.operation-id: \"greet\" is already another route's"),
        "{stderr}"
    );

    let typo = write(
        "typo.toml",
        format!("{hello}openapi = {{ summry = \"Greets\" }}\n"),
    );
    let out = lamina_openapi(&typo);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown field `summry`") && stderr.contains("summary"),
        "{stderr}"
    );

    // The served paths must not take a route's place, and `lamina check` says whose it is.
    let taken = write(
        "taken.toml",
        format!("[openapi]\npath = \"/hello/{{name}}\"\n{hello}"),
    );
    let out = crate::support::lamina_check(&taken);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("openapi.path:") && stderr.contains("already bound by routes[0]"),
        "{stderr}"
    );
    let relative = write(
        "relative.toml",
        format!("[openapi]\nswagger-ui = \"docs\"\n{hello}"),
    );
    let out = crate::support::lamina_check(&relative);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("openapi.swagger-ui: \"docs\" must start with '/'"),
        "{stderr}"
    );
}
