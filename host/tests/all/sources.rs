//! Every event source round-tripped through a real component (`echo`, `faults`): what the
//! handler saw, and the reply in the shape the source expects.

use crate::support::{app, block_on};
use lamina::{EventFormat, event};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Rest,
    HttpV1,
    HttpV2,
    FunctionUrl,
    AlbSingle,
    AlbMulti,
    LatticeV1,
    LatticeV2,
}

pub(crate) const ALL: [Kind; 8] = [
    Kind::Rest,
    Kind::HttpV1,
    Kind::HttpV2,
    Kind::FunctionUrl,
    Kind::AlbSingle,
    Kind::AlbMulti,
    Kind::LatticeV1,
    Kind::LatticeV2,
];

/// Adds a request header to an event of any shape: `name: value` in each header object it
/// has, in that object's shape.
pub(crate) fn with_header(mut e: Value, name: &str, value: &str) -> Value {
    if let Some(headers) = e
        .get_mut("multiValueHeaders")
        .and_then(Value::as_object_mut)
    {
        headers.insert(name.to_owned(), json!([value]));
    }
    if let Some(headers) = e.get_mut("headers").and_then(Value::as_object_mut) {
        let entry = if headers.values().next().is_some_and(Value::is_array) {
            json!([value])
        } else {
            json!(value)
        };
        headers.insert(name.to_owned(), entry);
    }
    e
}

/// `raw_path` percent-encoded, `query` a raw query string, `body` base64.
pub(crate) fn event(
    kind: Kind,
    method: &str,
    raw_path: &str,
    query: &str,
    body_b64: &str,
) -> Value {
    let decoded_path = percent_decode(raw_path);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let multi = |decode: bool| {
        let mut map = serde_json::Map::new();
        for (k, v) in &pairs {
            let (k, v) = if decode {
                (percent_decode(k), percent_decode(v))
            } else {
                (k.clone(), v.clone())
            };
            map.entry(k)
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(json!(v));
        }
        Value::Object(map)
    };
    let single = |decode: bool| {
        let mut map = serde_json::Map::new();
        for (k, v) in &pairs {
            let (k, v) = if decode {
                (percent_decode(k), percent_decode(v))
            } else {
                (k.clone(), v.clone())
            };
            map.insert(k, json!(v));
        }
        Value::Object(map)
    };
    match kind {
        Kind::Rest | Kind::HttpV1 => {
            let mut e = json!({
                "resource": "/{proxy+}",
                // REST APIs send the path as the client sent it; HTTP APIs decode it.
                "path": if let Kind::Rest = kind { raw_path.to_owned() } else { decoded_path.clone() },
                "httpMethod": method,
                "headers": {"X-Rep": "two", "Cookie": "session=abc"},
                "multiValueHeaders": {"X-Rep": ["one", "two"], "Cookie": ["session=abc"]},
                "queryStringParameters": single(true),
                "multiValueQueryStringParameters": multi(true),
                "requestContext": {"resourcePath": "/{proxy+}", "stage": "prod", "path": format!("/prod{raw_path}"),
                                   "identity": {"sourceIp": "198.51.100.7", "userAgent": "ua"}},
                "body": body_b64,
                "isBase64Encoded": true,
            });
            if let Kind::HttpV1 = kind {
                e["version"] = json!("1.0");
                e["requestContext"]["stage"] = json!("$default");
            }
            e
        }
        Kind::HttpV2 | Kind::FunctionUrl => json!({
            "version": "2.0",
            // HTTP APIs decode rawPath; Function URLs send it as the client sent it.
            "rawPath": if let Kind::FunctionUrl = kind { raw_path.to_owned() } else { decoded_path.clone() },
            "rawQueryString": query,
            "cookies": ["session=abc"],
            "headers": {"x-rep": "one,two"},
            "requestContext": {
                "http": {"method": method, "path": decoded_path, "sourceIp": "198.51.100.7", "userAgent": "ua"},
                "domainName": if let Kind::FunctionUrl = kind { "abc.lambda-url.eu-west-1.on.aws" } else { "abc.execute-api.eu-west-1.amazonaws.com" },
                "stage": "$default",
            },
            "body": body_b64,
            "isBase64Encoded": true,
        }),
        Kind::AlbSingle => json!({
            "requestContext": {"elb": {"targetGroupArn": "arn"}},
            "httpMethod": method,
            "path": raw_path,
            "queryStringParameters": single(false),
            "headers": {"x-rep": "one, two", "cookie": "session=abc", "x-forwarded-for": "198.51.100.7"},
            "body": body_b64,
            "isBase64Encoded": true,
        }),
        Kind::AlbMulti => json!({
            "requestContext": {"elb": {"targetGroupArn": "arn"}},
            "httpMethod": method,
            "path": raw_path,
            "multiValueQueryStringParameters": multi(false),
            "multiValueHeaders": {"x-rep": ["one", "two"], "cookie": ["session=abc"], "x-forwarded-for": ["198.51.100.7"]},
            "body": body_b64,
            "isBase64Encoded": true,
        }),
        Kind::LatticeV1 => json!({
            "raw_path": if query.is_empty() { raw_path.to_owned() } else { format!("{raw_path}?{query}") },
            "method": method,
            "headers": {"x-rep": "one, two", "cookie": "session=abc", "x-forwarded-for": "198.51.100.7"},
            "query_string_parameters": single(true),
            "body": body_b64,
            "is_base64_encoded": true,
        }),
        Kind::LatticeV2 => json!({
            "version": "2.0",
            "path": raw_path,
            "method": method,
            "headers": {"x-rep": ["one", "two"], "cookie": ["session=abc"], "x-forwarded-for": ["198.51.100.7"]},
            "queryStringParameters": multi(true),
            "body": body_b64,
            "isBase64Encoded": true,
            "requestContext": {"serviceNetworkArn": "arn", "identity": {"type": "AWS_IAM"}, "timeEpoch": "1696331543569073"},
        }),
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// Decode → handle → encode, as the Lambda front door does.
fn round_trip(payload: &Value) -> (EventFormat, Value) {
    let (origin, request) = event::decode(payload.to_string().as_bytes(), "rt-1").unwrap();
    let response = block_on(app().handle(request));
    (
        origin,
        serde_json::from_slice(&event::encode(origin, &response)).unwrap(),
    )
}

/// The `Set-Cookie` values a reply carries, however its shape carries them.
fn reply_cookies(kind: Kind, reply: &Value) -> Vec<String> {
    let strings = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    match kind {
        Kind::Rest | Kind::HttpV1 | Kind::AlbMulti => {
            strings(&reply["multiValueHeaders"]["set-cookie"])
        }
        Kind::HttpV2 | Kind::FunctionUrl => strings(&reply["cookies"]),
        Kind::AlbSingle | Kind::LatticeV1 | Kind::LatticeV2 => {
            vec![reply["headers"]["set-cookie"].as_str().unwrap().to_owned()]
        }
    }
}

#[test]
fn echo_round_trips_through_every_source() {
    let query = "x=1&x=2&q=caf%C3%A9&set-cookie=c1%3D1&set-cookie=c2%3D2";
    for kind in ALL {
        let (origin, reply) = round_trip(&event(kind, "PUT", "/echo/a%20b", query, "AAEC/w=="));
        assert_eq!(reply["statusCode"], 200, "{kind:?}: {reply}");
        let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(seen["method"], "PUT", "{kind:?}");
        assert_eq!(seen["path"], "/echo/a b", "{kind:?}");
        assert_eq!(seen["params"], json!([["rest", "a b"]]), "{kind:?}");
        // (json! sorts the names in the events built here, so only per-name order is checked.)
        let values = |name: &str| -> Vec<String> {
            seen["query"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p[0] == name)
                .map(|p| p[1].as_str().unwrap().to_owned())
                .collect()
        };
        // ALB without multi-value headers delivers only the last value of a repeated query
        // parameter; that is the load balancer's doing, not something a host can undo.
        let single_query = matches!(kind, Kind::AlbSingle);
        let xs: &[&str] = if single_query { &["2"] } else { &["1", "2"] };
        let set: &[&str] = if single_query {
            &["c2=2"]
        } else {
            &["c1=1", "c2=2"]
        };
        assert_eq!(values("x"), xs, "{kind:?}");
        assert_eq!(values("q"), ["café"], "{kind:?}");
        assert_eq!(values("set-cookie"), set, "{kind:?}");
        assert_eq!(seen["cookies"], json!([["session", "abc"]]), "{kind:?}");
        assert_eq!(
            seen["body"],
            json!({"encoding": "base64", "data": "AAEC/w=="}),
            "{kind:?}"
        );
        assert_eq!(
            seen["context"]["source"],
            origin.source().as_str(),
            "{kind:?}"
        );
        assert_eq!(seen["context"]["source-ip"], "198.51.100.7", "{kind:?}");
        assert_eq!(seen["context"]["request-id"], "rt-1", "{kind:?}");
        let reps: Vec<&Value> = seen["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0] == "x-rep")
            .map(|h| &h[1])
            .collect();
        assert!(
            !reps.is_empty(),
            "{kind:?}: repeated headers reach the guest"
        );

        let cookies = reply_cookies(kind, &reply);
        match kind {
            Kind::AlbSingle => assert_eq!(cookies, ["c2=2"], "{kind:?}"),
            Kind::LatticeV1 | Kind::LatticeV2 => {
                assert_eq!(
                    cookies,
                    ["c1=1"],
                    "{kind:?}: one Set-Cookie is all this shape carries"
                );
            }
            _ => assert_eq!(
                cookies,
                ["c1=1", "c2=2"],
                "{kind:?}: every Set-Cookie survives"
            ),
        }
        if matches!(
            kind,
            Kind::AlbSingle | Kind::AlbMulti | Kind::LatticeV1 | Kind::LatticeV2
        ) {
            assert_eq!(reply["statusDescription"], "200 OK", "{kind:?}");
        }
    }
}

#[test]
fn binary_responses_are_base64_for_every_source() {
    for kind in ALL {
        let (_, reply) = round_trip(&event(kind, "GET", "/faults/binary", "", ""));
        assert_eq!(reply["statusCode"], 200, "{kind:?}");
        assert_eq!(reply["isBase64Encoded"], true, "{kind:?}");
        assert_eq!(reply["body"], "AJ+Slv8=", "{kind:?}");
    }
}

#[test]
fn errors_keep_the_source_shape() {
    for kind in ALL {
        let (_, reply) = round_trip(&event(kind, "GET", "/nowhere", "", ""));
        assert_eq!(reply["statusCode"], 404, "{kind:?}");
        let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["request-id"], "rt-1", "{kind:?}");
    }
}

#[test]
fn named_stages_and_configured_prefixes_are_stripped() {
    let mut staged = event(Kind::HttpV2, "GET", "/prod/echo/s", "", "");
    staged["requestContext"]["stage"] = json!("prod");
    let (_, reply) = round_trip(&staged);
    let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (seen["path"].as_str(), seen["raw-path"].as_str()),
        (Some("/echo/s"), Some("/prod/echo/s"))
    );
    assert_eq!(seen["context"]["stage"], "prod");

    for kind in [Kind::Rest, Kind::AlbMulti, Kind::LatticeV2] {
        let (_, reply) = round_trip(&event(kind, "GET", "/api/echo/p", "", ""));
        assert_eq!(
            reply["statusCode"], 200,
            "{kind:?}: strip-prefixes applies to every source"
        );
        let seen: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(seen["path"], "/echo/p", "{kind:?}");
    }
    let (_, reply) = round_trip(&event(Kind::HttpV2, "GET", "/apix/echo", "", ""));
    assert_eq!(
        reply["statusCode"], 404,
        "a prefix strips whole segments only"
    );
}
