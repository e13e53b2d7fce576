//! The example and test guests called through `App::handle`, in process.

use crate::support::{app, block_on, request};
use lamina::{Request, Response};
use serde_json::{Value, json};

fn call(req: Request) -> Response {
    block_on(app().handle(req))
}

fn json_body(res: &Response) -> Value {
    serde_json::from_slice(&res.body).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {}",
            String::from_utf8_lossy(&res.body)
        )
    })
}

fn header<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers.get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn hello_answers_text_and_json_with_config_and_decoded_param() {
    let res = call(request("GET", "/hello"));
    assert_eq!(res.status, 200);
    assert_eq!(
        header(&res, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(&res.body[..], b"Howdy, world!\n");

    let res = call(request("GET", "/hello/Ada Lovelace"));
    assert_eq!(res.status, 200);
    assert_eq!(
        json_body(&res),
        json!({"message": "Howdy, Ada Lovelace!", "name": "Ada Lovelace"})
    );
}

#[test]
fn echo_sees_every_field_of_the_request() {
    let mut req = request("PUT", "/echo/a/b c");
    req.raw_path = "/echo/a/b%20c".to_owned();
    req.query = vec![
        ("tag".into(), "x".into()),
        ("tag".into(), "y".into()),
        ("set-cookie".into(), "s=1".into()),
        ("set-cookie".into(), "t=2".into()),
    ];
    req.raw_query = "tag=x&tag=y&set-cookie=s%3D1&set-cookie=t%3D2".to_owned();
    req.headers = vec![
        ("x-one".into(), "1".into()),
        ("x-rep".into(), "a".into()),
        ("x-rep".into(), "b".into()),
    ];
    req.cookies = vec![("session".into(), "abc".into())];
    req.body = bytes::Bytes::from_static(&[0, 1, 2, 0xff]);
    req.context.stage = Some("prod".into());
    req.context.source_ip = Some("198.51.100.1".into());
    req.context.user_agent = Some("tester".into());
    req.context.authorizer = Some(r#"{"jwt":{"claims":{"sub":"42"}}}"#.into());
    req.context.time_epoch_ms = 1_700_000_000_000;

    let res = call(req);
    assert_eq!(res.status, 200);
    let cookies: Vec<&str> = res
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["s=1", "t=2"]);
    assert_eq!(
        json_body(&res),
        json!({
            "method": "PUT",
            "path": "/echo/a/b c",
            "raw-path": "/echo/a/b%20c",
            "route": "/echo/{*rest}",
            "params": [["rest", "a/b c"]],
            "query": [["tag", "x"], ["tag", "y"], ["set-cookie", "s=1"], ["set-cookie", "t=2"]],
            "raw-query": "tag=x&tag=y&set-cookie=s%3D1&set-cookie=t%3D2",
            "headers": [["x-one", "1"], ["x-rep", "a"], ["x-rep", "b"]],
            "cookies": [["session", "abc"]],
            "body": {"encoding": "base64", "data": "AAEC/w=="},
            "context": {
                "source": "local",
                "request-id": "test-request-id",
                "stage": "prod",
                "source-ip": "198.51.100.1",
                "user-agent": "tester",
                "authorizer": {"jwt": {"claims": {"sub": "42"}}},
                "time-epoch-ms": 1_700_000_000_000u64,
                "attributes": [],
            },
        })
    );
}

#[test]
fn todos_serves_its_routes_and_error_paths() {
    struct Case {
        method: &'static str,
        path: &'static str,
        body: &'static str,
        status: u16,
        check: fn(&Response),
    }
    let cases = [
        Case {
            method: "GET",
            path: "/todos",
            body: "",
            status: 200,
            check: |r| {
                assert_eq!(json_body(r).as_array().unwrap().len(), 3);
            },
        },
        Case {
            method: "GET",
            path: "/todos?done=true",
            body: "",
            status: 200,
            check: |_| {},
        },
        Case {
            method: "GET",
            path: "/todos/2",
            body: "",
            status: 200,
            check: |r| {
                assert_eq!(
                    json_body(r),
                    json!({"id": 2, "title": "Ship the host", "done": false})
                );
            },
        },
        Case {
            method: "GET",
            path: "/todos/99",
            body: "",
            status: 404,
            check: |r| {
                let body = json_body(r);
                assert_eq!(body["error"]["code"], "not-found");
                assert_eq!(body["error"]["message"], "no todo with id 99");
                assert_eq!(body["error"]["request-id"], "test-request-id");
            },
        },
        Case {
            method: "GET",
            path: "/todos/abc",
            body: "",
            status: 400,
            check: |r| {
                assert_eq!(json_body(r)["error"]["code"], "bad-request");
            },
        },
        Case {
            method: "POST",
            path: "/todos",
            body: r#"{"title": "new"}"#,
            status: 201,
            check: |r| {
                assert_eq!(header(r, "location"), Some("/todos/4"));
                assert_eq!(
                    json_body(r),
                    json!({"id": 4, "title": "new", "done": false})
                );
            },
        },
        Case {
            method: "POST",
            path: "/todos",
            body: r#"{"title": "#,
            status: 400,
            check: |r| {
                let body = json_body(r);
                assert_eq!(body["error"]["code"], "invalid-json");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("line 1 column"),
                    "{body}"
                );
            },
        },
        Case {
            method: "POST",
            path: "/todos",
            body: r#"{"title": "  "}"#,
            status: 422,
            check: |r| {
                assert_eq!(
                    json_body(r)["error"]["details"],
                    json!([{"field": "title", "problem": "empty"}])
                );
            },
        },
        Case {
            method: "DELETE",
            path: "/todos/1",
            body: "",
            status: 204,
            check: |r| assert!(r.body.is_empty()),
        },
        Case {
            method: "DELETE",
            path: "/todos/7",
            body: "",
            status: 404,
            check: |_| {},
        },
        Case {
            method: "PATCH",
            path: "/todos/1",
            body: "",
            status: 405,
            check: |r| {
                assert_eq!(header(r, "allow"), Some("GET, DELETE, HEAD"));
            },
        },
        Case {
            method: "GET",
            path: "/nope",
            body: "",
            status: 404,
            check: |r| {
                assert_eq!(json_body(r)["error"]["message"], "no route for /nope");
            },
        },
    ];
    for case in cases {
        let (path, query) = case.path.split_once('?').unwrap_or((case.path, ""));
        let mut req = request(case.method, path);
        req.query = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        req.body = bytes::Bytes::from_static(case.body.as_bytes());
        let res = call(req);
        assert_eq!(
            res.status,
            case.status,
            "{} {}: {}",
            case.method,
            case.path,
            String::from_utf8_lossy(&res.body)
        );
        (case.check)(&res);
    }
}

#[test]
fn head_is_served_by_get_without_a_body() {
    let res = call(request("HEAD", "/hello"));
    assert_eq!(res.status, 200);
    assert_eq!(
        header(&res, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(res.body.is_empty());
}

#[test]
fn a_panicking_guest_is_a_500_with_the_request_id_and_the_next_request_succeeds() {
    for _ in 0..3 {
        let res = call(request("GET", "/faults/panic"));
        assert_eq!(res.status, 500);
        let body = json_body(&res);
        assert_eq!(
            body,
            json!({"error": {"code": "internal", "message": "internal error", "request-id": "test-request-id"}})
        );
        let res = call(request("GET", "/faults/ok"));
        assert_eq!((res.status.as_u16(), &res.body[..]), (200, &b"fine"[..]));
    }
}

#[test]
fn guest_faults_map_to_clean_statuses_without_internals() {
    for fault in ["trap", "bad-status", "bad-header", "bad-header-name"] {
        let res = call(request("GET", &format!("/faults/{fault}")));
        assert_eq!(res.status, 500, "{fault}");
        let body = json_body(&res);
        assert_eq!(body["error"]["message"], "internal error", "{fault}");
        assert!(res.headers.get("x-injected").is_none());
    }
    let res = call(request("GET", "/faults/error"));
    assert_eq!(res.status, 418);
    assert_eq!(
        json_body(&res)["error"],
        json!({"code": "teapot", "message": "short and stout", "details": {"spout": true}, "request-id": "test-request-id"})
    );
    let res = call(request("GET", "/faults/error-status-200"));
    assert_eq!(res.status, 500, "an error cannot claim a success status");
}

#[test]
fn every_request_gets_a_fresh_instance() {
    for _ in 0..5 {
        let res = call(request("GET", "/faults/calls"));
        assert_eq!(&res.body[..], b"1", "state leaked between requests");
    }
}

#[test]
fn guest_output_and_multi_value_headers_survive() {
    let res = call(request("GET", "/faults/stderr"));
    assert_eq!(res.status, 200);
    let res = call(request("GET", "/faults/cookies"));
    let cookies: Vec<_> = res.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; HttpOnly"]);
    let multi: Vec<_> = res.headers.get_all("x-multi").iter().collect();
    assert_eq!(multi, ["one", "two"]);
    let res = call(request("GET", "/faults/binary"));
    assert_eq!(&res.body[..], &[0u8, 159, 146, 150, 255]);
    assert!(res.body_is_binary());
}

#[test]
fn runaway_guests_are_stopped_with_the_right_status() {
    let cases: &[(&str, u16, &str)] = &[
        ("loop", 504, "timeout"),
        ("sleep", 504, "timeout"),
        ("recurse", 500, "internal"),
        ("alloc", 500, "internal"),
        ("big-body", 500, "internal"),
        ("bad-cookie", 500, "internal"),
    ];
    for (fault, status, code) in cases {
        let started = std::time::Instant::now();
        let res = call(request("GET", &format!("/faults/{fault}")));
        assert_eq!(
            res.status,
            *status,
            "{fault}: {}",
            String::from_utf8_lossy(&res.body)
        );
        let body = json_body(&res);
        assert_eq!(body["error"]["code"], *code, "{fault}");
        assert_eq!(body["error"]["request-id"], "test-request-id", "{fault}");
        // Generous: the point is that a 60 s sleep and an endless loop are cut at 1 s.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{fault} took {:?}",
            started.elapsed()
        );
        let res = call(request("GET", "/faults/ok"));
        assert_eq!(res.status, 200, "the next request after {fault} is served");
    }
}

#[test]
fn capabilities_are_only_what_the_config_grants() {
    let res = call(request("GET", "/faults/env"));
    assert_eq!(
        std::str::from_utf8(&res.body).unwrap(),
        "GRANTED=Some(\"yes\") HOME=None vars=1",
        "only the granted variable, nothing inherited"
    );
    let res = call(request("GET", "/faults/read-file"));
    assert_eq!(
        (res.status.as_u16(), &res.body[..]),
        (200, &b"hello from a granted directory\n"[..])
    );
    for fault in ["write-file", "read-etc"] {
        let res = call(request("GET", &format!("/faults/{fault}")));
        assert_eq!(
            res.status,
            403,
            "{fault}: {}",
            String::from_utf8_lossy(&res.body)
        );
    }
    // Another component has no grants at all.
    let res = call(request("GET", "/echo/x"));
    assert_eq!(res.status, 200);
}
