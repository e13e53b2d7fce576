//! `deploy/template.yaml`, the AWS SAM template: `cfn-lint` (PyPI, installed by `cargo
//! xtask test` and named in `LAMINA_LINT_PYTHON`) passes it, and its permissions are
//! exactly what the host calls: every DynamoDB operation the key-value backend makes, and
//! only those.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lint_python() -> String {
    std::env::var("LAMINA_LINT_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

#[test]
fn the_checked_in_template_is_the_one_bundles_carry() {
    let deploy = std::fs::read_to_string(repo().join("deploy/template.yaml")).unwrap();
    let carried = lamina::bundle::SAM_TEMPLATE
        .replace("ContentUri: layer.zip", "ContentUri: bundle/layer.zip")
        .replace("CodeUri: function.zip", "CodeUri: bundle/function.zip");
    assert_eq!(
        deploy, carried,
        "deploy/template.yaml and host/templates/sam.yaml differ beyond the zips' paths"
    );
}

#[test]
fn the_deployment_template_passes_cfn_lint() {
    let out = Command::new(lint_python())
        .arg("-c")
        .arg("import sys\nfrom cfnlint.runner import main\nsys.argv[0] = 'cfn-lint'\nsys.exit(main())")
        .arg(repo().join("deploy/template.yaml"))
        .output()
        .expect("running cfn-lint (run the suite with cargo xtask test, which installs it)");
    assert!(
        out.status.success(),
        "cfn-lint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The template as JSON, read by cfn-lint's own decoder (which knows `!Ref` and friends).
fn template() -> Value {
    let out = Command::new(lint_python())
        .arg("-c")
        .arg(
            "import json, sys\nfrom cfnlint.decode import decode\n\
             template, problems = decode(sys.argv[1])\n\
             assert not problems, problems\nprint(json.dumps(template))",
        )
        .arg(repo().join("deploy/template.yaml"))
        .output()
        .expect("running cfn-lint's decoder");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every `Action` of every policy statement of the function, by service prefix.
fn actions(template: &Value, service: &str) -> BTreeSet<String> {
    fn walk(value: &Value, service: &str, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(actions)) = map.get("Action") {
                    out.extend(
                        actions
                            .iter()
                            .filter_map(Value::as_str)
                            .filter_map(|a| a.strip_prefix(&format!("{service}:")))
                            .map(str::to_owned),
                    );
                }
                map.values().for_each(|v| walk(v, service, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, service, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(
        &template["Resources"]["Function"]["Properties"]["Policies"],
        service,
        &mut out,
    );
    out
}

#[test]
fn the_template_grants_what_the_host_calls_and_nothing_more() {
    let template = template();
    // The DynamoDB operations the key-value backend makes, read from its source.
    let source =
        std::fs::read_to_string(repo().join("host/src/component/caps/kv/dynamodb.rs")).unwrap();
    let called: BTreeSet<String> = regex::Regex::new(r#"\.(?:must|call)\(\s*"([A-Za-z]+)""#)
        .unwrap()
        .captures_iter(&source)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(
        called.contains("GetItem") && called.len() >= 5,
        "{called:?}"
    );
    assert_eq!(actions(&template, "dynamodb"), called);
    // S3: the host only GETs its sources, by ETag or versionId.
    assert_eq!(
        actions(&template, "s3"),
        ["GetObject", "GetObjectVersion"]
            .map(str::to_owned)
            .into_iter()
            .collect()
    );

    // The function is what `lamina bundle` makes: bootstrap on provided.al2023, the layer's
    // config where the host looks for it.
    let function = &template["Resources"]["Function"]["Properties"];
    assert_eq!(function["Runtime"], "provided.al2023");
    assert_eq!(function["Handler"], "bootstrap");
    assert_eq!(function["CodeUri"], "bundle/function.zip");
    assert_eq!(
        template["Resources"]["Components"]["Properties"]["ContentUri"],
        "bundle/layer.zip"
    );
    let config = &function["Environment"]["Variables"]["LAMINA_CONFIG"]["Fn::If"];
    assert_eq!(config[2], "/opt/lamina/lamina.toml", "{config}");
    assert_eq!(
        template["Parameters"]["Architecture"]["AllowedValues"],
        serde_json::json!(["x86_64", "arm64"])
    );
    // The table has the layout the DynamoDB backend uses.
    let table = &template["Resources"]["KeyValue"]["Properties"];
    assert_eq!(
        table["KeySchema"],
        serde_json::json!([{"AttributeName": "k", "KeyType": "HASH"}])
    );
}
