//! Decode and encode tests over real AWS sample events (`host/tests/fixtures/events/`).

use super::*;
use crate::request::Fields;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../tests/fixtures/events/", $name))
    };
}

fn pairs(list: &[(&str, &str)]) -> Fields {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn decode_ok(payload: &str) -> (EventFormat, Request) {
    decode(payload.as_bytes(), "lambda-req-1").unwrap_or_else(|e| panic!("{e}"))
}

/// What a decoded fixture must contain.
struct Expected {
    format: EventFormat,
    method: &'static str,
    path: &'static str,
    raw_path: &'static str,
    query: &'static [(&'static str, &'static str)],
    raw_query: &'static str,
    cookies: &'static [(&'static str, &'static str)],
    body: &'static str,
    stage: Option<&'static str>,
    source_ip: Option<&'static str>,
    user_agent: Option<&'static str>,
    authorizer: Option<Value>,
    /// `None` where the source gives no time (the receive time is used).
    time_epoch_ms: Option<u64>,
}

#[test]
fn aws_fixtures_decode_to_the_expected_request() {
    let cases: Vec<(&str, Expected)> = vec![
        (
            fixture!("01-rest-v1.rust-events.json"),
            Expected {
                format: EventFormat::ApigwRest,
                method: "POST",
                path: "/hello/world",
                raw_path: "/hello/world",
                query: &[("name", "me")],
                raw_query: "name=me",
                cookies: &[],
                body: "{\r\n\t\"a\": 1\r\n}",
                stage: Some("testStage"),
                source_ip: Some("192.168.196.186"),
                user_agent: Some("PostmanRuntime/2.4.5"),
                authorizer: Some(
                    json!({"principalId": "admin", "clientId": 1, "clientName": "Exata"}),
                ),
                time_epoch_ms: Some(1_589_522_469_693),
            },
        ),
        (
            fixture!("02-httpapi-payload-v1.powertools.json"),
            Expected {
                format: EventFormat::ApigwHttpV1,
                method: "GET",
                path: "/my/path",
                raw_path: "/my/path",
                query: &[
                    ("parameter1", "value1"),
                    ("parameter1", "value2"),
                    ("parameter2", "value"),
                ],
                raw_query: "parameter1=value1&parameter1=value2&parameter2=value",
                cookies: &[],
                body: "Hello from Lambda!",
                stage: Some("$default"),
                source_ip: Some("192.168.0.1/32"),
                user_agent: Some("user-agent"),
                authorizer: Some(json!({"claims": null, "scopes": null})),
                time_epoch_ms: Some(1_583_349_317_135),
            },
        ),
        (
            fixture!("03-httpapi-v2.powertools.json"),
            Expected {
                format: EventFormat::ApigwHttpV2,
                method: "POST",
                path: "/my/path",
                raw_path: "/my/path",
                query: &[
                    ("parameter1", "value1"),
                    ("parameter1", "value2"),
                    ("parameter2", "value"),
                ],
                raw_query: "parameter1=value1&parameter1=value2&parameter2=value",
                cookies: &[("cookie1", ""), ("cookie2", "")],
                body: "{\"message\": \"hello world\", \"username\": \"tom\"}",
                stage: Some("$default"),
                source_ip: Some("192.168.0.1/32"),
                user_agent: Some("agent"),
                authorizer: Some(
                    json!({"jwt": {"claims": {"claim1": "value1", "claim2": "value2"}, "scopes": ["scope1", "scope2"]}}),
                ),
                time_epoch_ms: Some(1_583_348_638_390),
            },
        ),
        (
            fixture!("04-httpapi-v2-iam.rust-events.json"),
            Expected {
                format: EventFormat::ApigwHttpV2,
                method: "GET",
                path: "/my/path",
                raw_path: "/my/path",
                query: &[
                    ("parameter1", "value1"),
                    ("parameter1", "value2"),
                    ("parameter2", "value"),
                ],
                raw_query: "parameter1=value1&parameter1=value2&parameter2=value",
                cookies: &[("cookie1", ""), ("cookie2", "")],
                body: "{\r\n\t\"a\": 1\r\n}",
                stage: Some("$default"),
                source_ip: Some("IP"),
                user_agent: Some("agent"),
                authorizer: None, // checked below: the IAM block is large
                time_epoch_ms: Some(1_583_348_638_390),
            },
        ),
        (
            fixture!("05-function-url.aws-lambda-go.json"),
            Expected {
                format: EventFormat::FunctionUrl,
                method: "POST",
                path: "/my/path",
                raw_path: "/my/path",
                query: &[
                    ("parameter1", "value1"),
                    ("parameter1", "value2"),
                    ("parameter2", "value"),
                ],
                raw_query: "parameter1=value1&parameter1=value2&parameter2=value",
                cookies: &[("cookie1", ""), ("cookie2", "")],
                body: "Hello from client!",
                stage: None,
                source_ip: Some("123.123.123.123"),
                user_agent: Some("agent"),
                authorizer: Some(json!({"iam": {
                    "accessKey": "AKIA...", "accountId": "111122223333", "callerId": "AIDA...",
                    "userArn": "arn:aws:iam::111122223333:user/example-user", "userId": "AIDA..."
                }})),
                time_epoch_ms: Some(1_583_348_638_390),
            },
        ),
        (
            fixture!("06-alb-single-value.rust-events.json"),
            Expected {
                format: EventFormat::Alb { multi_value: false },
                method: "GET",
                path: "/",
                raw_path: "/",
                query: &[("key", "hello")],
                raw_query: "key=hello",
                cookies: &[],
                body: "",
                stage: None,
                source_ip: Some("25.12.198.67"),
                user_agent: Some("curl/7.54.0"),
                authorizer: None,
                time_epoch_ms: None,
            },
        ),
        (
            fixture!("07-alb-multi-value.rust-events.json"),
            Expected {
                format: EventFormat::Alb { multi_value: true },
                method: "GET",
                path: "/",
                raw_path: "/",
                query: &[("key", "hello")],
                raw_query: "key=hello",
                cookies: &[],
                body: "Some text",
                stage: None,
                source_ip: Some("72.21.198.67"),
                user_agent: Some("curl/7.54.0"),
                authorizer: None,
                time_epoch_ms: None,
            },
        ),
        (
            fixture!("08-alb-encoded-query.rust-lambda-http.json"),
            Expected {
                format: EventFormat::Alb { multi_value: false },
                method: "GET",
                path: "/",
                raw_path: "/",
                query: &[("myKey", "?showAll=true")],
                raw_query: "myKey=%3FshowAll%3Dtrue",
                cookies: &[("cookies", "")],
                body: "request_body",
                stage: None,
                source_ip: Some("72.21.198.66"),
                user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6)"),
                authorizer: None,
                time_epoch_ms: None,
            },
        ),
        (
            fixture!("09-alb-health-check.rust-lambda-http.json"),
            Expected {
                format: EventFormat::Alb { multi_value: false },
                method: "GET",
                path: "/",
                raw_path: "/",
                query: &[],
                raw_query: "",
                cookies: &[],
                body: "",
                stage: None,
                source_ip: None,
                user_agent: Some("ELB-HealthChecker/2.0"),
                authorizer: None,
                time_epoch_ms: None,
            },
        ),
        (
            fixture!("10-vpc-lattice-v1.powertools.json"),
            Expected {
                format: EventFormat::VpcLatticeV1,
                method: "GET",
                path: "/testpath",
                raw_path: "/testpath",
                query: &[("order-id", "1")],
                raw_query: "order-id=1",
                cookies: &[],
                body: "{\"test\": \"event\"}",
                stage: None,
                source_ip: Some("10.213.229.10"),
                user_agent: None,
                authorizer: None,
                time_epoch_ms: None,
            },
        ),
        (
            fixture!("11-vpc-lattice-v2.powertools.json"),
            Expected {
                format: EventFormat::VpcLatticeV2,
                method: "GET",
                path: "/newpath",
                raw_path: "/newpath",
                query: &[("order-id", "1")],
                raw_query: "order-id=1",
                cookies: &[],
                body: "{\"message\": \"Hello from Lambda!\"}",
                stage: None,
                source_ip: Some("10.213.229.10"),
                user_agent: None,
                authorizer: Some(json!({
                    "sourceVpcArn": "arn:aws:ec2:region:123456789012:vpc/vpc-0b8276c84697e7339",
                    "type": "AWS_IAM",
                    "principal": "arn:aws:sts::123456789012:assumed-role/example-role/057d00f8b51257ba3c853a0f248943cf",
                    "sessionName": "057d00f8b51257ba3c853a0f248943cf",
                    "x509SanDns": "example.com"
                })),
                time_epoch_ms: Some(1_696_331_543_569),
            },
        ),
    ];
    for (payload, want) in cases {
        let (format, req) = decode_ok(payload);
        let name = format!("{:?} {}", want.format, want.path);
        assert_eq!(format, want.format, "{name}");
        assert_eq!(req.context.source, want.format.source(), "{name}");
        assert_eq!(req.method.as_str(), want.method, "{name}");
        assert_eq!(req.path, want.path, "{name}");
        assert_eq!(req.raw_path, want.raw_path, "{name}");
        assert_eq!(req.query, pairs(want.query), "{name}");
        assert_eq!(req.raw_query, want.raw_query, "{name}");
        assert_eq!(req.cookies, pairs(want.cookies), "{name}");
        assert_eq!(std::str::from_utf8(&req.body).unwrap(), want.body, "{name}");
        assert_eq!(req.context.request_id, "lambda-req-1", "{name}");
        assert_eq!(req.context.stage.as_deref(), want.stage, "{name}");
        assert_eq!(req.context.source_ip.as_deref(), want.source_ip, "{name}");
        assert_eq!(req.context.user_agent.as_deref(), want.user_agent, "{name}");
        if let Some(ms) = want.time_epoch_ms {
            assert_eq!(req.context.time_epoch_ms, ms, "{name}");
        }
        if let Some(authorizer) = want.authorizer {
            let got: Value =
                serde_json::from_str(req.context.authorizer.as_deref().unwrap()).unwrap();
            assert_eq!(got, authorizer, "{name}");
        }
        for (k, _) in &req.headers {
            assert_eq!(
                *k,
                k.to_ascii_lowercase(),
                "{name}: header names are lowercase"
            );
        }
    }
}

#[test]
fn rest_headers_keep_every_multi_value_in_order() {
    let (_, req) = decode_ok(fixture!("02-httpapi-payload-v1.powertools.json"));
    assert_eq!(
        req.headers,
        pairs(&[
            ("header1", "value1"),
            ("origin", "https://aws.amazon.com"),
            ("header2", "value1"),
            ("header2", "value2"),
        ])
    );
    let (_, req) = decode_ok(fixture!("01-rest-v1.rust-events.json"));
    assert_eq!(req.headers.len(), 19);
    assert_eq!(
        req.header("x-forwarded-for"),
        Some("54.240.196.186, 54.182.214.83")
    );
}

#[test]
fn v2_cookies_become_a_cookie_header_and_iam_claims_pass_through() {
    let (_, req) = decode_ok(fixture!("04-httpapi-v2-iam.rust-events.json"));
    assert_eq!(req.header("cookie"), Some("cookie1; cookie2"));
    assert_eq!(req.header("header2"), Some("value2"));
    let authorizer: Value =
        serde_json::from_str(req.context.authorizer.as_deref().unwrap()).unwrap();
    assert_eq!(authorizer["iam"]["cognitoIdentity"]["amr"], json!(["foo"]));
}

#[test]
fn non_http_payloads_are_rejected_naming_what_was_detected() {
    let cases: &[(&str, &str)] = &[
        (
            fixture!("12-apigw-websocket-connect.aws-lambda-go.json"),
            "an API Gateway WebSocket event",
        ),
        (
            fixture!("13-rest-authorizer-token.powertools.json"),
            "an API Gateway authorizer event",
        ),
        (
            fixture!("14-rest-authorizer-request.powertools.json"),
            "an API Gateway authorizer event",
        ),
        (
            fixture!("15-httpapi-authorizer-v2.powertools.json"),
            "an API Gateway authorizer event",
        ),
        (
            "<html>",
            "the payload is not JSON: expected value at line 1 column 1",
        ),
        ("[1, 2]", "a JSON value that is not an object"),
        ("{}", "a JSON object without `requestContext`"),
        (r#"{"hello": "world"}"#, "looks like a direct invocation"),
        (
            r#"{"Records": [{"eventSource": "aws:sqs"}]}"#,
            "an event-source batch",
        ),
        (r#"{"requestContext": {}}"#, "no HTTP markers"),
        (
            r#"{"version": "3.0", "requestContext": {"http": {}}}"#,
            "version \"3.0\"",
        ),
        (
            r#"{"version": "2.0", "requestContext": {"http": {"method": 7}}}"#,
            "API Gateway HTTP API (payload 2.0) event is malformed at `requestContext.http.method`: must be a string, not integer `7`",
        ),
        (
            r#"{"version": "2.0", "requestContext": {"http": {"path": "/"}}}"#,
            "malformed at `requestContext.http`: missing field `method`",
        ),
        (
            r#"{"httpMethod": ["GET"], "requestContext": {"stage": "prod"}}"#,
            "API Gateway REST event is malformed at `httpMethod`",
        ),
        // Wrong types and repeated keys name the field and the type the event needs, not
        // the host's internal struct names.
        (
            r#"{"version": 2, "requestContext": {"http": {"method": "GET"}}}"#,
            "the event's `version` must be a string, not integer `2`",
        ),
        (
            r#"{"httpMethod": "GET", "requestContext": "prod"}"#,
            "the event's `requestContext` must be an object, not string \"prod\"",
        ),
        (
            r#"{"version": "2.0", "requestContext": {"domainName": 5, "http": {"method": "GET"}}}"#,
            "the event's `requestContext.domainName` must be a string, not integer `5`",
        ),
        (
            r#"{"version": "2.0", "version": "2.0", "requestContext": {"http": {"method": "GET"}}}"#,
            "the event's `version` appears more than once",
        ),
        (
            r#"{"version": "2.0", "requestContext": {"stage": "a", "stage": "b", "http": {"method": "GET"}}}"#,
            "the event's `requestContext` has a duplicate key `stage`",
        ),
        (
            r#"{"version": "2.0", "requestContext": {"http": "GET"}}"#,
            "malformed at `requestContext.http`: must be an object, not string \"GET\"",
        ),
        ("", "the payload is not JSON: it is empty"),
        ("\u{feff}{}", "starts with a UTF-8 byte order mark"),
        (
            r#"{"httpMethod": "GET""#,
            "the payload is not JSON: EOF while parsing",
        ),
        (
            r#"{"httpMethod": "GET", "requestContext": {"stage": "p"}} xyz"#,
            "the payload is not JSON: trailing characters",
        ),
        (
            r#"{"httpMethod": "GET", "requestContext": {"stage": "p"}}{"httpMethod": "GET"}"#,
            "the payload is not JSON: trailing characters",
        ),
    ];
    for (payload, expected) in cases {
        let error = decode(payload.as_bytes(), "id").unwrap_err();
        assert!(!matches!(error, DecodeError::Rejected { .. }), "{payload}");
        let message = error.to_string();
        for internal in ["struct", "Probe", "elements", "untagged"] {
            assert!(!message.contains(internal), "{payload}: {message}");
        }
        assert!(
            message.contains(expected),
            "{payload}\n  got: {message}\n  want: {expected}"
        );
    }
}

#[test]
fn invalid_utf8_payloads_are_not_json_with_a_stable_error_type() {
    let error = decode(
        b"{\"httpMethod\": \"GET\", \"path\": \"/\xff\", \"requestContext\": {\"stage\": \"p\"}}",
        "id",
    )
    .unwrap_err();
    assert!(error.to_string().contains("not valid UTF-8"), "{error}");
    assert_eq!(error.error_type(), "Lamina.InvalidEvent");
    let error = decode(br#"{"hello": "world"}"#, "id").unwrap_err();
    assert_eq!(error.error_type(), "Lamina.UnsupportedEvent");
}

#[test]
fn invalid_base64_body_is_a_bad_request_not_a_panic() {
    let payload = json!({
        "version": "2.0",
        "rawPath": "/x",
        "requestContext": {"http": {"method": "POST"}},
        "body": "not*base64!",
        "isBase64Encoded": true,
    });
    match decode(payload.to_string().as_bytes(), "id") {
        Err(DecodeError::Rejected { format, error }) => {
            assert_eq!(format, EventFormat::ApigwHttpV2);
            assert_eq!(error.status(), 400);
            assert!(error.to_string().contains("body is base64"), "{error}");
        }
        other => panic!("expected a bad request, got {other:?}"),
    }
}

#[test]
fn base64_bodies_decode_to_bytes() {
    let payload = json!({
        "httpMethod": "PUT",
        "path": "/upload",
        "requestContext": {"stage": "prod"},
        "body": "AAEC/w==",
        "isBase64Encoded": true,
    });
    let (_, req) = decode_ok(&payload.to_string());
    assert_eq!(&req.body[..], &[0, 1, 2, 255]);
}

#[test]
fn minimal_events_decode_with_defaults() {
    let rest = json!({"httpMethod": "GET", "requestContext": {"resourcePath": "/"}});
    let (format, req) = decode_ok(&rest.to_string());
    assert_eq!(format, EventFormat::ApigwRest);
    assert_eq!((req.path.as_str(), req.body.len()), ("/", 0));
    assert!(req.headers.is_empty() && req.query.is_empty() && req.cookies.is_empty());
    assert!(
        req.context.time_epoch_ms > 0,
        "falls back to the receive time"
    );

    let v2 = json!({"version": "2.0", "requestContext": {"http": {"method": "GET", "path": "/p"}}});
    let (_, req) = decode_ok(&v2.to_string());
    assert_eq!(
        (
            req.path.as_str(),
            req.raw_path.as_str(),
            req.raw_query.as_str()
        ),
        ("/p", "/p", "")
    );
}

#[test]
fn paths_are_decoded_exactly_once_per_source() {
    // HTTP APIs hand over a decoded path: a `%` in it is literal (the client sent `%25`).
    // REST APIs and Function URLs hand over the path as sent.
    let cases = [
        (
            json!({"version": "2.0", "rawPath": "/files/100%2F", "requestContext": {"http": {"method": "GET"}, "domainName": "x.execute-api.eu-west-1.amazonaws.com"}}),
            "/files/100%2F",
        ),
        (
            json!({"version": "2.0", "rawPath": "/files/caf%C3%A9%20menu", "requestContext": {"http": {"method": "GET"}, "domainName": "x.lambda-url.eu-west-1.on.aws"}}),
            "/files/café menu",
        ),
        (
            json!({"version": "1.0", "httpMethod": "GET", "path": "/files/a b%", "requestContext": {"stage": "$default"}}),
            "/files/a b%",
        ),
        (
            json!({"httpMethod": "GET", "path": "/files/a%20b%2Fc", "requestContext": {"stage": "prod"}}),
            "/files/a b/c",
        ),
    ];
    for (payload, path) in cases {
        let (format, req) = decode_ok(&payload.to_string());
        assert_eq!(req.path, path, "{format:?}");
    }
}

#[test]
fn v2_named_stage_is_stripped_and_query_decoded() {
    let payload = json!({
        "version": "2.0",
        "rawPath": "/prod/files/café menu.txt",
        "rawQueryString": "q=a+b&q=%26",
        "requestContext": {"http": {"method": "GET"}, "stage": "prod"},
    });
    let (_, req) = decode_ok(&payload.to_string());
    assert_eq!(req.path, "/files/café menu.txt");
    assert_eq!(req.raw_path, "/prod/files/café menu.txt");
    assert_eq!(req.query, pairs(&[("q", "a b"), ("q", "&")]));
    assert_eq!(req.context.stage.as_deref(), Some("prod"));
}

#[test]
fn rest_cookie_headers_are_parsed() {
    let payload = json!({
        "httpMethod": "GET",
        "path": "/",
        "multiValueHeaders": {"Cookie": ["a=1; b=2", "c=3"]},
        "requestContext": {"stage": "prod"},
    });
    let (_, req) = decode_ok(&payload.to_string());
    assert_eq!(req.cookies, pairs(&[("a", "1"), ("b", "2"), ("c", "3")]));
}

fn response_with(headers: &[(&'static str, &'static str)], body: &'static [u8]) -> Response {
    let mut res = Response::new(StatusCode::CREATED);
    for (k, v) in headers {
        res.headers.append(*k, HeaderValue::from_static(v));
    }
    res.body = bytes::Bytes::from_static(body);
    res
}

#[test]
fn rest_reply_keeps_every_set_cookie_in_multi_value_headers() {
    let res = response_with(
        &[
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("content-type", "text/plain"),
        ],
        b"hi",
    );
    let reply: Value = serde_json::from_slice(&encode(EventFormat::ApigwRest, &res)).unwrap();
    assert_eq!(
        reply,
        json!({
            "statusCode": 201,
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "content-type": ["text/plain"]},
            "body": "hi",
            "isBase64Encoded": false,
        })
    );
}

#[test]
fn v2_reply_moves_set_cookie_to_cookies_and_joins_repeats() {
    let res = response_with(
        &[
            ("set-cookie", "a=1; Path=/"),
            ("x-multi", "one"),
            ("set-cookie", "b=2"),
            ("x-multi", "two"),
        ],
        b"{}",
    );
    let reply: Value = serde_json::from_slice(&encode(EventFormat::FunctionUrl, &res)).unwrap();
    assert_eq!(
        reply,
        json!({
            "statusCode": 201,
            "headers": {"x-multi": "one, two"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "{}",
            "isBase64Encoded": false,
        })
    );
}

#[test]
fn binary_bodies_are_base64_in_every_shape() {
    let mut res = response_with(&[], &[0, 159, 146, 150, 255]);
    res.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    for format in [
        EventFormat::ApigwRest,
        EventFormat::ApigwHttpV1,
        EventFormat::ApigwHttpV2,
        EventFormat::FunctionUrl,
    ] {
        let reply: Value = serde_json::from_slice(&encode(format, &res)).unwrap();
        assert_eq!(reply["isBase64Encoded"], json!(true), "{format:?}");
        assert_eq!(reply["body"], json!("AJ+Slv8="), "{format:?}");
    }
}

#[test]
fn decode_never_panics_on_arbitrary_input() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..512), |bytes| {
            let _ = decode(&bytes, "id");
            Ok(())
        })
        .unwrap();
    // Mutations of real events: every byte position replaced.
    let base = fixture!("03-httpapi-v2.powertools.json").as_bytes();
    runner
        .run(&(0..base.len(), any::<u8>()), |(at, byte)| {
            let mut bytes = base.to_vec();
            bytes[at] = byte;
            let _ = decode(&bytes, "id");
            Ok(())
        })
        .unwrap();
}

#[test]
fn alb_replies_in_the_mode_the_request_used() {
    let res = response_with(
        &[
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("x-multi", "one"),
            ("x-multi", "two"),
        ],
        b"",
    );
    let multi: Value =
        serde_json::from_slice(&encode(EventFormat::Alb { multi_value: true }, &res)).unwrap();
    assert_eq!(
        multi,
        json!({
            "statusCode": 201,
            "statusDescription": "201 Created",
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "x-multi": ["one", "two"]},
            "body": "",
            "isBase64Encoded": false,
        })
    );
    let single: Value =
        serde_json::from_slice(&encode(EventFormat::Alb { multi_value: false }, &res)).unwrap();
    assert_eq!(
        single,
        json!({
            "statusCode": 201,
            "statusDescription": "201 Created",
            "headers": {"set-cookie": "a=1", "x-multi": "one, two"},
            "body": "",
            "isBase64Encoded": false,
        }),
        "single-value mode can carry one cookie; the body is never null"
    );
}

#[test]
fn lattice_replies_with_status_description_and_single_headers() {
    let res = response_with(
        &[("content-type", "text/plain"), ("x-a", "1"), ("x-a", "2")],
        b"ok",
    );
    for format in [EventFormat::VpcLatticeV1, EventFormat::VpcLatticeV2] {
        let reply: Value = serde_json::from_slice(&encode(format, &res)).unwrap();
        assert_eq!(
            reply,
            json!({
                "statusCode": 201,
                "statusDescription": "201 Created",
                "headers": {"content-type": "text/plain", "x-a": "1, 2"},
                "body": "ok",
                "isBase64Encoded": false,
            })
        );
    }
}

#[test]
fn lattice_replies_carry_status_description_and_one_cookie() {
    // AWS's Lattice response type (aws-lambda-go `VPCLatticeResponse`) has single-value
    // `headers` and no `cookies`: one `Set-Cookie` is all it can carry.
    let res = response_with(&[("set-cookie", "a=1"), ("set-cookie", "b=2")], b"ok");
    for format in [EventFormat::VpcLatticeV1, EventFormat::VpcLatticeV2] {
        let reply: Value = serde_json::from_slice(&encode(format, &res)).unwrap();
        assert_eq!(reply["headers"]["set-cookie"], "a=1", "{format}");
        assert!(reply.get("cookies").is_none(), "{format}: {reply}");
        assert!(
            reply.get("multiValueHeaders").is_none(),
            "{format}: {reply}"
        );
    }
}

#[test]
fn alb_multi_value_query_and_headers_keep_repeats_and_decode_once() {
    let payload = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn"}},
        "httpMethod": "POST",
        "path": "/a%20b/c",
        "multiValueQueryStringParameters": {"q": ["x%2By", "a+b"], "e%C3%A9": ["1"]},
        "multiValueHeaders": {"Cookie": ["s=1", "t=2"], "X-Rep": ["1", "2"], "x-forwarded-for": ["1.1.1.1, 2.2.2.2"]},
        "body": "aGk=",
        "isBase64Encoded": true,
    });
    let (format, req) = decode_ok(&payload.to_string());
    assert_eq!(format, EventFormat::Alb { multi_value: true });
    assert_eq!(
        (req.path.as_str(), req.raw_path.as_str()),
        ("/a b/c", "/a%20b/c")
    );
    // json! sorts keys; document order itself is pinned by the fields tests.
    assert_eq!(req.query, pairs(&[("eé", "1"), ("q", "x+y"), ("q", "a b")]));
    assert_eq!(req.raw_query, "e%C3%A9=1&q=x%2By&q=a+b");
    assert_eq!(req.cookies, pairs(&[("s", "1"), ("t", "2")]));
    assert_eq!(req.header("x-rep"), Some("1"));
    assert_eq!(req.headers.iter().filter(|(k, _)| k == "x-rep").count(), 2);
    assert_eq!(
        req.context.source_ip.as_deref(),
        Some("2.2.2.2"),
        "the IP the ALB saw"
    );
    assert_eq!(&req.body[..], b"hi");
}

#[test]
fn lattice_v1_query_in_raw_path_is_the_raw_query() {
    let payload = json!({
        "raw_path": "/orders/a%2Fb?id=7&tag=x+y",
        "method": "DELETE",
        "headers": {"x-forwarded-for": "10.0.0.1"},
        "query_string_parameters": {"id": "7", "tag": "x y"},
        "is_base64_encoded": false,
    });
    let (format, req) = decode_ok(&payload.to_string());
    assert_eq!(format, EventFormat::VpcLatticeV1);
    assert_eq!(
        (req.path.as_str(), req.raw_path.as_str()),
        ("/orders/a/b", "/orders/a%2Fb")
    );
    assert_eq!(
        (req.raw_query.as_str(), req.query.clone()),
        ("id=7&tag=x+y", pairs(&[("id", "7"), ("tag", "x y")]))
    );
    assert_eq!(req.method, http::Method::DELETE);
}

#[test]
fn lattice_v2_list_values_are_kept_in_order() {
    let payload = json!({
        "version": "2.0",
        "path": "/p",
        "method": "GET",
        "headers": {"x-rep": ["1", "2"], "cookie": ["a=1"]},
        "queryStringParameters": {"k": ["v1", "v2"]},
        "requestContext": {"serviceNetworkArn": "arn", "timeEpoch": 1_696_331_543_569_073u64},
    });
    let (_, req) = decode_ok(&payload.to_string());
    assert_eq!(req.query, pairs(&[("k", "v1"), ("k", "v2")]));
    assert_eq!(
        req.headers,
        pairs(&[("cookie", "a=1"), ("x-rep", "1"), ("x-rep", "2")])
    );
    assert_eq!(req.cookies, pairs(&[("a", "1")]));
    assert_eq!(req.context.time_epoch_ms, 1_696_331_543_569);
}

#[test]
fn raw_query_strings_that_break_other_libraries_are_parsed() {
    // lambda_http panics on a space in rawQueryString; a stray `%` is kept literally.
    let payload = json!({
        "version": "2.0",
        "rawPath": "/q",
        "rawQueryString": "a=b c&d&e=100%&f=%zz&=empty-name",
        "requestContext": {"http": {"method": "GET"}},
    });
    let (_, req) = decode_ok(&payload.to_string());
    assert_eq!(
        req.query,
        pairs(&[
            ("a", "b c"),
            ("d", ""),
            ("e", "100%"),
            ("f", "%zz"),
            ("", "empty-name")
        ])
    );
    assert_eq!(req.raw_query, "a=b c&d&e=100%&f=%zz&=empty-name");
}
