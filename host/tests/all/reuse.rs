//! Opt-in instance reuse (`instances = "reuse"`): an instance serves requests in turn,
//! only its own component's, never two at once, and never again after any failure or
//! after `max-requests`. The `faults` guest counts calls per instance (`/faults/calls`).

use crate::support::{block_on, guest, request, tokio_runtime};
use lamina::{App, Config, Response};
use std::path::PathBuf;
use std::sync::Arc;

/// `faults` as two components, `a` and `b` (each with `settings`), on
/// `/a/{fault}` and `/b/{fault}`.
fn app(settings: &str) -> App {
    let faults = guest("faults");
    let text = format!(
        "[components.a]\nsource = {faults:?}\n{settings}\n\
         [components.b]\nsource = {faults:?}\n{settings}\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/a/{{fault}}\"\ncomponent = \"a\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/b/{{fault}}\"\ncomponent = \"b\"\n"
    );
    let config = Config::parse(&text, PathBuf::from("/")).unwrap();
    App::from_config(&config, crate::support::runtime()).unwrap()
}

/// `GET path`, with `path`'s `?name=value` query, if any.
fn with_query(path: &str) -> lamina::Request {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut req = request("GET", path);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        req.query.push((name.to_owned(), value.to_owned()));
    }
    req.raw_query = query.to_owned();
    req
}

fn get(app: &App, path: &str) -> Response {
    block_on(app.handle(with_query(path)))
}

/// Runs `body` with the host's log layer installed (writing nowhere): guest log lines are
/// counted against the per-request budget only when something would write them.
fn logging<T>(body: impl FnOnce() -> T) -> T {
    let subscriber =
        lamina::observe::lines::subscriber(lamina::observe::LogFormat::Json, "info", std::io::sink)
            .unwrap();
    tracing::subscriber::with_default(subscriber, body)
}

fn calls(app: &App, component: &str) -> String {
    let res = get(app, &format!("/{component}/calls"));
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    String::from_utf8(res.body.to_vec()).unwrap()
}

#[test]
fn a_reused_instance_serves_its_components_requests_in_turn() {
    let app = app("instances = \"reuse\"");
    assert_eq!(calls(&app, "a"), "1");
    assert_eq!(calls(&app, "a"), "2");
    assert_eq!(calls(&app, "b"), "1", "b has its own instances");
    assert_eq!(calls(&app, "a"), "3");
    assert_eq!(calls(&app, "b"), "2");
    // A typed error is the guest's own answer: the instance goes on serving.
    assert_eq!(get(&app, "/a/error").status, 418);
    assert_eq!(calls(&app, "a"), "5");
}

#[test]
fn fresh_instances_stay_the_default() {
    let app = app("");
    for _ in 0..3 {
        assert_eq!(calls(&app, "a"), "1");
    }
}

#[test]
fn an_instance_that_failed_is_never_reused() {
    // Each way an instance can fail: a trap, a panic, a timeout, the memory limit, a
    // response the host refuses, and the per-request log budget.
    let app = app("instances = \"reuse\"\ntimeout = \"300ms\"\nmemory = \"32MiB\"");
    logging(|| failures_replace_the_instance(&app));
}

fn failures_replace_the_instance(app: &App) {
    for (fault, status) in [
        ("trap", 500),
        ("panic", 500),
        ("loop", 504),
        ("alloc", 500),
        ("bad-status", 500),
        ("log-flood?size=1500", 200),
    ] {
        assert_eq!(calls(app, "a"), "1", "before {fault}");
        assert_eq!(calls(app, "a"), "2", "before {fault}");
        let res = get(app, &format!("/a/{fault}"));
        assert_eq!(res.status, status, "{fault}");
        assert_eq!(
            calls(app, "a"),
            "1",
            "the instance that ran {fault} was replaced"
        );
        // Leave a fresh instance for the next round's count to start from 1.
        assert_eq!(get(app, "/a/trap").status, 500);
    }
}

#[test]
fn max_requests_is_honoured() {
    let app = app("instances = \"reuse\"\nmax-requests = 2");
    let seen: Vec<String> = (0..5).map(|_| calls(&app, "a")).collect();
    assert_eq!(seen, ["1", "2", "1", "2", "1"]);
}

#[test]
fn per_request_state_starts_again_in_a_reused_instance() {
    let app = app("instances = \"reuse\"");
    // The log budget (1000 lines) is per request: a reused instance may log as much again
    // (lines count only when something would write them: the host's log layer is on).
    logging(|| {
        for _ in 0..3 {
            let res = get(&app, "/a/log-flood?size=600");
            assert_eq!(res.status, 200);
        }
        assert_eq!(
            calls(&app, "a"),
            "4",
            "600 lines is within the budget each time"
        );
    });
}

#[test]
fn concurrent_requests_never_share_an_instance() {
    let app = Arc::new(app("instances = \"reuse\""));
    let rt = tokio_runtime();
    // Two waves of eight requests that each hold their instance for 200 ms.
    let mut answers: Vec<(u64, u32, u128, u128)> = Vec::new();
    for _ in 0..2 {
        let wave: Vec<_> = (0..8)
            .map(|_| {
                let app = app.clone();
                rt.spawn(async move { app.handle(with_query("/a/hold?ms=200")).await })
            })
            .collect();
        for task in wave {
            let res = rt.block_on(task).unwrap();
            assert_eq!(res.status, 200);
            let text = String::from_utf8(res.body.to_vec()).unwrap();
            let parts: Vec<&str> = text.split(' ').collect();
            answers.push((
                parts[0].parse().unwrap(),
                parts[1].parse().unwrap(),
                parts[2].parse().unwrap(),
                parts[3].parse().unwrap(),
            ));
        }
    }
    let mut ids: Vec<u64> = answers.iter().map(|a| a.0).collect();
    ids.sort_unstable();
    ids.dedup();
    assert!(
        ids.len() > 1,
        "overlapping requests got instances of their own: {answers:?}"
    );
    for id in ids {
        let mut served: Vec<_> = answers.iter().filter(|a| a.0 == id).collect();
        served.sort_by_key(|a| a.2);
        for (i, pair) in served.windows(2).enumerate() {
            assert!(
                pair[0].3 <= pair[1].2,
                "instance {id} served two requests at once: {served:?}"
            );
            assert_eq!(pair[1].1, pair[0].1 + 1, "calls {i} in turn: {served:?}");
        }
    }
}

#[test]
fn a_reused_middleware_keeps_each_requests_own_data() {
    let text = format!(
        "[components.tag]\nsource = {:?}\ninstances = \"reuse\"\nconfig = {{ tag = \"t\" }}\n\
         [components.hello]\nsource = {:?}\ninstances = \"reuse\"\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n\
         middleware = [\"tag\"]\n",
        guest("tagger"),
        guest("hello"),
    );
    let config = Config::parse(&text, PathBuf::from("/")).unwrap();
    let app = App::from_config(&config, crate::support::runtime()).unwrap();
    for name in ["ann", "bob", "cy"] {
        let res = get(&app, &format!("/hello/{name}"));
        assert_eq!(res.status, 200);
        assert_eq!(
            res.headers.get("x-kept-t").unwrap(),
            &format!("/hello/{name}"),
            "the data on-request kept is this request's"
        );
        assert_eq!(res.headers.get("x-trail-back").unwrap(), "t");
    }
}

#[test]
fn lamina_check_names_the_policy_and_refuses_a_stray_max_requests() {
    let dir = crate::support::temp_dir("reuse-check");
    let path = dir.join("lamina.toml");
    let hello = guest("hello");
    std::fs::write(
        &path,
        format!(
            "[components.hello]\nsource = {hello:?}\ninstances = \"reuse\"\nmax-requests = 50\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n"
        ),
    )
    .unwrap();
    let out = crate::support::lamina_check(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("instances: reused, up to 50 requests each"),
        "{stdout}"
    );
    std::fs::write(
        &path,
        format!(
            "[components.hello]\nsource = {hello:?}\nmax-requests = 50\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n"
        ),
    )
    .unwrap();
    let out = crate::support::lamina_check(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("components.hello.max-requests: only for reused instances"),
        "{stderr}"
    );
}

#[test]
fn python_and_javascript_instances_serve_in_turn() {
    for prefix in ["py-", "js-", "qjs-"] {
        let text = format!(
            "[components.hello]\nsource = {:?}\ninstances = \"reuse\"\n\
             [[routes]]\nmethod = \"GET\"\npath = \"/hello/{{name}}\"\ncomponent = \"hello\"\n",
            guest(&format!("{prefix}hello")),
        );
        let config = Config::parse(&text, PathBuf::from("/")).unwrap();
        let app = App::from_config(&config, crate::support::runtime()).unwrap();
        for name in ["Ada", "Grace", "Edsger"] {
            let res = get(&app, &format!("/hello/{name}"));
            let body = String::from_utf8_lossy(&res.body);
            assert_eq!(res.status, 200, "{prefix}: {body}");
            assert!(
                body.contains(&format!("Hello, {name}!")),
                "{prefix}: {body}"
            );
        }
    }
}

#[test]
fn an_instance_whose_request_was_abandoned_mid_call_is_not_reused() {
    let app = app("instances = \"reuse\"");
    assert_eq!(calls(&app, "a"), "1");
    // The request future dropped while the guest holds its instance (a client gone, an
    // outer timeout): the instance is mid-call, and must not serve again.
    let abandoned = block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_millis(100),
            app.handle(with_query("/a/hold?ms=3000")),
        )
        .await
    });
    assert!(abandoned.is_err(), "the hold outlasted the timeout");
    assert_eq!(
        calls(&app, "a"),
        "1",
        "a fresh instance after the abandoned one"
    );
}
