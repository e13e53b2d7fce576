//! What an event may carry: headers that are valid HTTP and within the source's limits, a
//! body within `max-request-body` (measured before base64 decoding), through the same path
//! the Lambda loop takes ([`lamina::App::answer`]).

use crate::sources::{Kind, event, with_header};
use crate::support::{app, block_on, temp_dir, test_config_file};
use serde_json::{Value, json};

/// The reply [`lamina::App::answer`] gives for `event`: status and the error body.
fn answer(event: &Value) -> (u16, Value) {
    let reply = block_on(app().answer(
        event.to_string().as_bytes(),
        &lamina::Invocation::new("limits-1"),
    ))
    .expect("a well-formed event is answered, not failed");
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    let body = reply["body"].as_str().unwrap_or_default();
    (
        u16::try_from(reply["statusCode"].as_u64().unwrap()).unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[test]
fn invalid_header_names_and_values_are_400_in_the_source_shape_with_or_without_middleware() {
    let bad: [(&str, &str, &str); 5] = [
        ("x-evil\r\nset-cookie", "v", "is not a valid HTTP token"),
        ("bad name", "v", "is not a valid HTTP token"),
        ("x-nul\u{0}", "v", "is not a valid HTTP token"),
        ("x-crlf", "a\r\nset-cookie: evil=1", "control characters"),
        ("x-nul-value", "a\u{0}b", "control characters"),
    ];
    for kind in [
        Kind::Rest,
        Kind::HttpV2,
        Kind::AlbMulti,
        Kind::AlbSingle,
        Kind::LatticeV2,
    ] {
        // `/echo/...` has no middleware, `/mw/hello/...` runs behind `timing`.
        for path in ["/echo/x", "/mw/hello/Ada"] {
            for (name, value, problem) in bad {
                let e = with_header(event(kind, "GET", path, "", ""), name, value);
                let (status, body) = answer(&e);
                assert_eq!(status, 400, "{kind:?} {path} {name:?}: {body}");
                assert_eq!(body["error"]["code"], "bad-request", "{kind:?}");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(message.contains(problem), "{kind:?} {name:?}: {message}");
            }
        }
    }
    // An empty name is possible in the object-shaped sources.
    let e = with_header(event(Kind::HttpV2, "GET", "/echo/x", "", ""), "", "v");
    assert_eq!(answer(&e).0, 400);
}

#[test]
fn headers_over_the_source_limits_are_431_and_many_names_cost_linear_time() {
    // 100k single-value names and 100k different multi-value names: what made the merge
    // quadratic (23 s of CPU). Now linear, and refused as more than API Gateway accepts.
    let mut e = event(Kind::Rest, "GET", "/echo/x", "", "");
    let single: serde_json::Map<String, Value> = (0..100_000)
        .map(|i| (format!("s-{i}"), json!("v")))
        .collect();
    let multi: serde_json::Map<String, Value> = (0..100_000)
        .map(|i| (format!("m-{i}"), json!(["v"])))
        .collect();
    e["headers"] = Value::Object(single);
    e["multiValueHeaders"] = Value::Object(multi);
    let (status, body) = answer(&e);
    assert_eq!(status, 431, "{body}");
    assert_eq!(body["error"]["code"], "headers-too-large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("200000 header lines"),
        "{body}"
    );

    // One header larger than API Gateway's whole header budget.
    let big = "x".repeat(20_000);
    for kind in [Kind::Rest, Kind::HttpV1, Kind::HttpV2] {
        let e = with_header(event(kind, "GET", "/echo/x", "", ""), "x-big", &big);
        assert_eq!(answer(&e).0, 431, "{kind:?}");
    }
    // Within ALB's 64 KiB in total, over API Gateway's: ALB serves it, API Gateway refuses.
    let mut alb = event(Kind::AlbMulti, "GET", "/echo/x", "", "");
    let mut rest = event(Kind::Rest, "GET", "/echo/x", "", "");
    for i in 0..4 {
        alb = with_header(alb, &format!("x-{i}"), &"v".repeat(8_000));
        rest = with_header(rest, &format!("x-{i}"), &"v".repeat(8_000));
    }
    assert_eq!(answer(&alb).0, 200);
    assert_eq!(answer(&rest).0, 431);
}

#[test]
fn an_oversized_base64_body_is_413_without_being_decoded() {
    // Not even valid base64: a decoder that ran first would answer 400.
    let mut e = event(Kind::HttpV2, "POST", "/echo/x", "", "");
    e["body"] = json!("*".repeat(9 << 20));
    e["isBase64Encoded"] = json!(true);
    let (status, body) = answer(&e);
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload-too-large");
    // Within the limit and valid: served.
    let mut e = event(Kind::Rest, "POST", "/echo/x", "", "");
    e["body"] = json!("QUJD".repeat(1000));
    e["isBase64Encoded"] = json!(true);
    assert_eq!(answer(&e).0, 200);
}

#[test]
fn refusing_a_50_mb_base64_body_costs_about_the_payload_not_four_times_it() {
    let dir = temp_dir("big-body");
    let path = dir.join("event.json");
    let mut e = event(Kind::HttpV2, "POST", "/echo/x", "", "");
    e["body"] = json!("QUJD".repeat(50_000_000 / 4));
    e["isBase64Encoded"] = json!(true);
    std::fs::write(&path, e.to_string()).unwrap();
    // Peak RSS of `lamina invoke` on that file, from the kernel (getrusage of the child).
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import resource, subprocess, sys\n\
             r = subprocess.run(sys.argv[1:], capture_output=True)\n\
             print(r.stdout.decode())\n\
             print('maxrss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
        )
        .arg(env!("CARGO_BIN_EXE_lamina"))
        .args(["invoke", "--config"])
        .arg(test_config_file("big-body"))
        .arg(&path)
        .env("LAMINA_LOG", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"statusCode\":413"), "{stdout}");
    let maxrss_mib: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kib "))
        .unwrap()
        .trim()
        .parse::<u64>()
        .unwrap()
        / 1024;
    // The payload itself is 50 MB and is read whole; decoding the body first took 206 MB.
    assert!(
        maxrss_mib < 110,
        "refusing the body peaked at {maxrss_mib} MiB of RSS"
    );
}
