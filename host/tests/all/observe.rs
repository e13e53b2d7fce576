//! What an operator sees, read back from the real binary: every log line of a Lambda-mode
//! run parsed as JSON, one access line per invocation, EMF documents checked against the
//! specification and against the requests sent, X-Ray subsegments on a UDP listener, the
//! trace header on a component's outbound call, debug sampling, and secrets nowhere.

use crate::lambda_loop::{Outcome, RuntimeApi, TRACE_HEADER, function_command, http_event};
use crate::outbound::upstream;
use crate::serve::{send, start_with_env};
use crate::support::{JWT_SECRET, faults_config, guest, temp_dir, test_config_text, tokio_runtime};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

/// The trace id of [`TRACE_HEADER`], and Lambda's segment in it.
const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const LAMBDA_SEGMENT: &str = "53995c3f42cd8ad8";
/// The `faults` component's secret in the test config.
const FAULTS_SECRET: &str = "s3cr3t-token-value";

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every line as JSON, each with the fields Lambda and Powertools readers rely on.
fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let stamp = value["timestamp"].as_str().unwrap_or_default();
            assert!(
                stamp.len() >= 20 && stamp.contains('T') && stamp.ends_with('Z'),
                "no RFC 3339 timestamp: {line}"
            );
            assert!(
                ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                    .contains(&value["level"].as_str().unwrap_or_default()),
                "{line}"
            );
            assert!(
                value["message"].is_string() && value["logger"].is_string(),
                "{line}"
            );
            value
        })
        .collect()
}

/// Checks `doc` against the EMF specification's structure: `_aws.Timestamp` (ms),
/// directives with a valid namespace, dimension sets of at most 30 keys each naming a
/// string root member, at most 100 metrics each with a valid unit and a numeric root
/// member. Returns the directives' metric names.
fn check_emf(doc: &Value) -> Vec<String> {
    const UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    let aws = doc["_aws"].as_object().expect("_aws is an object");
    let timestamp = aws["Timestamp"].as_u64().expect("Timestamp is an integer");
    assert!(
        timestamp > 1_600_000_000_000,
        "Timestamp in ms: {timestamp}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty());
    let mut names = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert!(
            !namespace.is_empty()
                && namespace.len() <= 256
                && namespace
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._#:/-".contains(c)),
            "{namespace}"
        );
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30);
            for key in set {
                let key = key.as_str().expect("a dimension key is a string");
                assert!(
                    doc[key].is_string(),
                    "dimension {key} is a string root member"
                );
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(metrics.len() <= 100);
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!(!name.is_empty() && name.len() <= 255);
            if let Some(unit) = metric.get("Unit") {
                assert!(UNITS.contains(&unit.as_str().unwrap()), "{unit}");
            }
            let value = &doc[name];
            assert!(
                value.is_number()
                    || value
                        .as_array()
                        .is_some_and(|v| v.len() <= 100 && v.iter().all(Value::is_number)),
                "metric {name} is a number root member: {doc}"
            );
            names.push(name.to_owned());
        }
    }
    names
}

/// Every datagram on `socket` until it is quiet: the daemon header checked, the segment
/// document returned.
fn subsegments(socket: &UdpSocket) -> Vec<Value> {
    socket
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = socket.recv(&mut buf) {
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let (header, doc) = text.split_once('\n').expect("a header line");
        let header: Value = serde_json::from_str(header).unwrap();
        assert_eq!(header, serde_json::json!({"format": "json", "version": 1}));
        let doc: Value = serde_json::from_str(doc).unwrap();
        assert_eq!(doc["type"], "subsegment", "{doc}");
        let id = doc["id"].as_str().unwrap();
        assert!(
            id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
        assert!(doc["start_time"].as_f64().unwrap() <= doc["end_time"].as_f64().unwrap());
        out.push(doc);
    }
    out
}

#[test]
fn a_lambda_run_writes_json_lines_an_access_line_metrics_and_subsegments() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = temp_dir("observe-lambda");
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[logging]\nservice = \"orders\"\n\n[metrics]\nnamespace = \"Lamina/test\"\n\
             dimensions = {{ environment = \"test\" }}\n\n[tracing]\nxray = true\n",
            test_config_text()
        ),
    )
    .unwrap();
    let (stderr, stdout) = (dir.join("stderr.log"), dir.join("stdout.log"));
    let invocations: Vec<(&str, Value)> = vec![
        ("r-hello", http_event("GET", "/hello", "")),
        ("r-chain", http_event("GET", "/mw/hello/ann", "")),
        ("r-panic", http_event("GET", "/faults/panic", "")),
        ("r-missing", http_event("GET", "/nowhere", "")),
        ("r-secret", http_event("GET", "/faults/log-secret", "")),
        ("r-metrics", http_event("GET", "/faults/metrics", "")),
        ("r-refused", serde_json::json!({"not": "an event"})),
    ];
    let mut replies = BTreeMap::new();
    tokio_runtime().block_on(async {
        let mut api = RuntimeApi::start().await;
        let mut command = function_command(api.addr, &config.display().to_string(), "");
        command
            // JSON is the default in Lambda; the level is Lambda's.
            .env_remove("LAMINA_LOG")
            .env_remove("LAMINA_LOG_FORMAT")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            .env(
                "AWS_XRAY_DAEMON_ADDRESS",
                udp.local_addr().unwrap().to_string(),
            )
            .stderr(std::fs::File::create(&stderr).unwrap())
            .stdout(std::fs::File::create(&stdout).unwrap());
        let _function = crate::lambda_loop::Function(command.spawn().unwrap());
        for (id, event) in &invocations {
            api.invoke(id, event);
            match api.next_outcome().await {
                Outcome::Response { id: got, body } | Outcome::Error { id: got, body } => {
                    assert_eq!(&got, id);
                    replies.insert(got, body);
                }
                other => panic!("{other:?}"),
            }
        }
        // The last lines are written after the reply is posted.
        tokio::time::sleep(Duration::from_millis(300)).await;
    });

    let lines = lines_of(&stderr);
    for line in &lines {
        assert!(!line.contains(FAULTS_SECRET), "a secret in the log: {line}");
        assert!(!line.contains(JWT_SECRET), "a secret in the log: {line}");
    }
    let lines = json_lines(&lines);
    for line in &lines {
        assert_eq!(line["function_name"], "lamina-test", "{line}");
        assert_eq!(line["function_memory_size"], 128, "{line}");
        if line.get("requestId").is_some() {
            assert_eq!(line["xray_trace_id"], ROOT, "{line}");
            assert_eq!(line["service"], "orders", "{line}");
            assert_eq!(line["function_request_id"], line["requestId"], "{line}");
        }
    }
    let access: BTreeMap<&str, &Value> = lines
        .iter()
        .filter(|l| l["logger"] == "lamina::access")
        .map(|l| (l["requestId"].as_str().unwrap(), l))
        .collect();
    assert_eq!(
        access.len(),
        invocations.len(),
        "one access line per invocation: {access:#?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["logger"] == "lamina::access")
            .count(),
        invocations.len()
    );
    let hello = access["r-hello"];
    assert_eq!(hello["method"], "GET");
    assert_eq!(hello["route"], "/hello");
    assert_eq!(hello["path"], "/hello");
    assert_eq!(hello["status"], 200);
    assert_eq!(hello["source"], "apigw-http-v2");
    assert_eq!(hello["client_ip"], "203.0.113.9");
    assert_eq!(hello["cold_start"], true);
    assert!(hello["bytes"].as_u64().unwrap() > 0);
    assert!(hello["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(hello["components_ms"]["hello"].as_f64().unwrap() > 0.0);
    let chain = access["r-chain"];
    assert_eq!(chain["cold_start"], false);
    assert_eq!(chain["route"], "/mw/hello/{name}");
    for component in ["timing", "envelope", "hello"] {
        assert!(chain["components_ms"][component].is_number(), "{chain}");
    }
    assert_eq!(access["r-panic"]["status"], 500);
    assert_eq!(access["r-missing"]["status"], 404);
    assert!(access["r-missing"].get("route").is_none());
    assert!(access["r-refused"]["error_type"].is_string());

    // A guest's fields are fields of the line; its `route` does not replace the host's.
    let served = lines
        .iter()
        .find(|l| l["logger"] == "guest" && l["message"] == "request served")
        .expect("the timing middleware's line");
    assert_eq!(served["component"], "timing");
    assert_eq!(served["requestId"], "r-chain");
    assert_eq!(served["status"], "200");
    assert_eq!(served["route"], "/mw/hello/{name}");
    assert_eq!(served["guest_route"], "/mw/hello/{name}");
    let secret = lines
        .iter()
        .find(|l| l["logger"] == "guest" && l["requestId"] == "r-secret")
        .expect("the faults component's line");
    assert_eq!(secret["message"], "calling with <redacted>");
    assert_eq!(secret["token"], "<redacted>");
    assert!(
        lines
            .iter()
            .any(|l| l["requestId"] == "r-secret" && l["output"] == "token=<redacted>"),
        "stderr redacted too"
    );
    let panic = lines
        .iter()
        .find(|l| l["requestId"] == "r-panic" && l["level"] == "ERROR")
        .expect("the panic's error line");
    assert_eq!(panic["route"], "/faults/{fault}");

    // Metrics: one document per invocation, plus the cold start.
    let docs: Vec<Value> = lines_of(&stdout)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout not EMF ({e}): {l}")))
        .collect();
    let mut requests = BTreeMap::new();
    for doc in &docs {
        let names = check_emf(doc);
        assert_eq!(doc["environment"], "test");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "Lamina/test"
        );
        if names.contains(&"Requests".to_owned()) {
            requests.insert(doc["requestId"].as_str().unwrap().to_owned(), doc.clone());
        }
    }
    assert_eq!(requests.len(), invocations.len(), "{docs:#?}");
    assert_eq!(
        docs.iter().filter(|d| d.get("ColdStart").is_some()).count(),
        1
    );
    let total: f64 = requests
        .values()
        .map(|d| d["Requests"].as_f64().unwrap())
        .sum();
    assert_eq!(total, invocations.len() as f64);
    assert_eq!(requests["r-hello"]["route"], "GET /hello");
    assert_eq!(requests["r-hello"]["status_class"], "2xx");
    assert_eq!(requests["r-hello"]["Errors"], 0.0);
    assert_eq!(requests["r-chain"]["route"], "GET /mw/hello/{name}");
    assert!(requests["r-chain"]["ComponentTime.timing"].is_number());
    assert_eq!(requests["r-panic"]["status_class"], "5xx");
    assert_eq!(requests["r-panic"]["Errors"], 1.0);
    assert_eq!(requests["r-missing"]["route"], "unmatched");
    assert_eq!(requests["r-missing"]["status_class"], "4xx");
    assert_eq!(requests["r-refused"]["status_class"], "error");
    assert_eq!(requests["r-refused"]["Errors"], 1.0);

    // The component's own metrics: aggregated per dimension set, under the configured
    // dimensions and `component`, apart from the host's; refused calls recorded nothing.
    let guest: Vec<&Value> = docs
        .iter()
        .filter(|d| d["requestId"] == "r-metrics" && d.get("Requests").is_none())
        .collect();
    assert_eq!(guest.len(), 2, "one document per dimension set: {guest:#?}");
    let gold = guest
        .iter()
        .find(|d| d["tier"] == "gold")
        .expect("tier=gold");
    assert_eq!(gold["component"], "faults");
    assert_eq!(gold["Orders"], serde_json::json!([2, 3]));
    assert_eq!(gold["BasketSize"], serde_json::json!([1536]));
    let directive = &gold["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([["environment", "component", "tier"]])
    );
    assert_eq!(
        directive["Metrics"],
        serde_json::json!([{"Name": "Orders", "Unit": "Count"}, {"Name": "BasketSize", "Unit": "Bytes"}])
    );
    let plain = guest.iter().find(|d| d.get("tier").is_none()).unwrap();
    assert_eq!(plain["Checkouts"], serde_json::json!([1]));
    assert!(plain.get("Bad").is_none() && plain.get("Orders").is_none());
    let reply: Value =
        serde_json::from_str(replies["r-metrics"]["body"].as_str().unwrap()).unwrap();
    let refused: Vec<&str> = reply["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(refused.len(), 3, "{reply}");
    assert!(refused[0].contains("added it as Count before"), "{reply}");
    assert!(refused[1].contains("not a finite number"), "{reply}");
    assert!(refused[2].contains("already uses it"), "{reply}");
    // The trace header the component sees: the invocation's root, its own subsegment.
    let trace = reply["trace"].as_str().unwrap();
    assert!(
        trace.starts_with(&format!("Root={ROOT};Parent=")),
        "{trace}"
    );
    assert!(!trace.contains(LAMBDA_SEGMENT), "its own parent: {trace}");
    assert!(trace.ends_with(";Sampled=1"), "{trace}");
    assert_eq!(reply["trace_id"], ROOT);

    // Subsegments: every component call of the sampled invocations, under Lambda's segment.
    let segments = subsegments(&udp);
    for segment in &segments {
        assert_eq!(segment["trace_id"], ROOT, "{segment}");
        assert_eq!(segment["parent_id"], LAMBDA_SEGMENT, "{segment}");
    }
    let named = |name: &str| segments.iter().filter(|s| s["name"] == name).count();
    assert_eq!(named("hello"), 2, "{segments:#?}");
    assert!(named("timing") >= 1 && named("envelope") >= 1);
    let faults: Vec<&Value> = segments.iter().filter(|s| s["name"] == "faults").collect();
    assert_eq!(faults.len(), 3);
    assert!(
        faults
            .iter()
            .any(|s| s["fault"] == true && s["annotations"]["status"] == 500),
        "{faults:#?}"
    );
    assert!(
        segments
            .iter()
            .any(|s| s["annotations"]["route"] == "/mw/hello/{name}")
    );
}

#[test]
fn the_trace_header_reaches_an_outbound_call_and_its_subsegment_nests() {
    let (addr, seen) = upstream();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = temp_dir("observe-outbound");
    let config = dir.join("lamina.toml");
    std::fs::write(
        &config,
        format!(
            "[tracing]\nxray = true\n\n[components.outbound]\nsource = {:?}\n\
             allowed-outbound-hosts = [\"http://127.0.0.1:{}\"]\n\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/call\"\ncomponent = \"outbound\"\n",
            guest("outbound"),
            addr.port()
        ),
    )
    .unwrap();
    let log = dir.join("serve.log");
    let daemon = udp.local_addr().unwrap().to_string();
    let server = start_with_env(
        &config,
        &[],
        &[("AWS_XRAY_DAEMON_ADDRESS", &daemon), ("LAMINA_LOG", "info")],
        Some(&log),
    );
    let url = format!("http://127.0.0.1:{}/echo", addr.port())
        .replace(':', "%3A")
        .replace('/', "%2F");
    tokio_runtime().block_on(async {
        let res = send(
            &server,
            "GET",
            &format!("/call?url={url}"),
            &[("x-amzn-trace-id", TRACE_HEADER)],
            "",
        )
        .await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        // Without a header of the client's, none is made up.
        let res = send(&server, "GET", &format!("/call?url={url}"), &[], "").await;
        assert_eq!(res.status, 200);
    });
    let segments = subsegments(&udp);
    drop(server);
    let requests = seen.requests.lock().unwrap();
    assert_eq!(requests.len(), 2);
    let header = |i: usize, name: &str| {
        requests[i]
            .2
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let sent = header(0, "x-amzn-trace-id").expect("the trace header on the outbound call");
    assert!(sent.starts_with(&format!("Root={ROOT};Parent=")), "{sent}");
    assert!(sent.ends_with(";Sampled=1"), "{sent}");
    let call_id = sent
        .split(";Parent=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert_ne!(call_id, LAMBDA_SEGMENT);
    assert_eq!(
        header(0, "traceparent").unwrap(),
        format!("00-5759e988bd862e3fe1be46a994272793-{call_id}-01")
    );
    assert!(header(1, "x-amzn-trace-id").is_none() && header(1, "traceparent").is_none());

    // The outbound call's subsegment is the one the header names, under the component's.
    let component = segments
        .iter()
        .find(|s| s["name"] == "outbound")
        .expect("the component call's subsegment");
    assert_eq!(component["parent_id"], LAMBDA_SEGMENT);
    let remote = segments
        .iter()
        .find(|s| s["namespace"] == "remote")
        .expect("the outbound call's subsegment");
    assert_eq!(remote["id"], call_id);
    assert_eq!(remote["parent_id"], component["id"]);
    assert_eq!(remote["name"], "127.0.0.1");
    assert_eq!(remote["http"]["response"]["status"], 200);
    assert_eq!(remote["http"]["request"]["method"], "GET");
    assert_eq!(segments.len(), 2, "{segments:#?}");

    // Locally the access line is text, in columns.
    let text = std::fs::read_to_string(&log).unwrap();
    let access: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("lamina::access:"))
        .collect();
    assert_eq!(access.len(), 2, "{text}");
    for line in &access {
        let columns = line.split("lamina::access: ").nth(1).unwrap();
        assert!(columns.starts_with("GET     200 "), "{line}");
        assert!(columns.contains("B  /call "), "{line}");
    }
}

/// `lamina serve` over a `faults` config with `logging`, its log lines.
fn serve_log(name: &str, logging: &str, args: &[&str], paths: &[&str]) -> Vec<String> {
    let config = faults_config(name, "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("\n[logging]\n{logging}\n"));
    std::fs::write(&config, text).unwrap();
    let log = config.with_file_name("serve.log");
    let server = start_with_env(&config, args, &[("LAMINA_LOG", "info")], Some(&log));
    tokio_runtime().block_on(async {
        for path in paths {
            assert_eq!(send(&server, "GET", path, &[], "").await.status, 200);
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    drop(server);
    lines_of(&log)
}

#[test]
fn debug_lines_are_written_for_sampled_requests_only() {
    let paths = ["/faults/log-debug"; 3];
    let sampled = serve_log(
        "observe-sampled",
        "sample-rate = 1.0",
        &["--log-format", "json"],
        &paths,
    );
    let sampled = json_lines(&sampled);
    let debug: Vec<&Value> = sampled
        .iter()
        .filter(|l| l["message"] == "debug detail from the guest")
        .collect();
    assert_eq!(debug.len(), 3, "every request sampled at 1.0");
    assert!(
        debug
            .iter()
            .all(|l| l["level"] == "DEBUG" && l["sampling_rate"] == 1.0)
    );
    let plain = serve_log(
        "observe-unsampled",
        "sample-rate = 0.0",
        &["--log-format", "json"],
        &paths,
    );
    let plain = json_lines(&plain);
    assert!(
        !plain.iter().any(|l| l["level"] == "DEBUG"),
        "no debug line at info without sampling"
    );
    assert_eq!(
        plain
            .iter()
            .filter(|l| l["logger"] == "lamina::access")
            .count(),
        3
    );
}

#[test]
fn the_access_line_can_be_turned_off_and_bad_settings_are_named() {
    let lines = serve_log(
        "observe-no-access",
        "access-log = false",
        &[],
        &["/faults/ok"],
    );
    assert!(
        !lines.iter().any(|l| l.contains("lamina::access")),
        "{lines:#?}"
    );
    for (section, message) in [
        ("[logging]\nsample-rate = 2", "logging.sample-rate"),
        ("[logging]\nlevel = \"debug\"", "unknown field `level`"),
        (
            "[metrics]\nnamespace = \"bad namespace\"",
            "metrics.namespace",
        ),
        (
            "[metrics]\nnamespace = \"ok\"\ndimensions = { route = \"x\" }",
            "route",
        ),
        ("[tracing]\nxray = \"yes\"", "xray"),
    ] {
        let config = faults_config("observe-bad", "");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!("\n{section}\n"));
        std::fs::write(&config, text).unwrap();
        let out = crate::support::lamina_check(&config);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{section}");
        assert!(stderr.contains(message), "{section}: {stderr}");
    }
}
