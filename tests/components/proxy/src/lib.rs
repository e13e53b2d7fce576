//! `proxy`: a plain `wasi:http/proxy` component, the kind Spin or `wasmtime serve` runs,
//! written against the raw WASI bindings with nothing from Lamina, so the host's support
//! for the standard world is tested with what users bring. The last path segment picks
//! what it does, whatever the prefix:
//!
//! - anything else → `200`, JSON: method, path with query, scheme, authority, headers, body.
//! - `.../stream?size=N` → `N` bytes of `x`, written 4 KiB at a time (more than the host's body
//!   stream buffers, so the host must read while the guest writes), `set-cookie` twice.
//! - `.../status?code=N` → an empty response with status `N`.
//! - `.../trap` → panics before answering.
//! - `.../late-trap` → answers, finishes the body, then panics.
//! - `.../no-response` → returns without setting a response.
//! - `.../error-code` → sets the error `internal-error` instead of a response.
//! - `.../unfinished` → writes part of a body and returns without finishing it.
//! - `.../spin` → loops forever after setting the response head.
//! - `.../big-headers?size=N` → an empty body under a header of `N` bytes.
//! - `.../hoard` → builds header sets of 60 KiB and keeps every one, until the host says no
//!   (the host traps it when it holds too many live resources).

wit_bindgen::generate!({
    world: "wasi:http/proxy@0.2.12",
    path: "../../../wit",
    generate_all,
});

use exports::wasi::http::incoming_handler::Guest;
use wasi::http::types::{
    ErrorCode, Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
    Scheme,
};

struct Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_default();
        let (path, query) = path_with_query
            .split_once('?')
            .unwrap_or((path_with_query.as_str(), ""));
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_owned())
        };
        match path.rsplit('/').next().unwrap_or_default() {
            "stream" => {
                let size: usize = param("size").and_then(|s| s.parse().ok()).unwrap_or(0);
                let headers = fields(&[
                    ("content-type", "text/plain"),
                    ("set-cookie", "a=1; Path=/"),
                    ("set-cookie", "b=2; Path=/"),
                ]);
                respond(out, 200, headers, |body| {
                    let stream = body.write().expect("body stream");
                    let chunk = [b'x'; 4096];
                    let mut left = size;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if stream.blocking_write_and_flush(&chunk[..n]).is_err() {
                            // The host stopped reading (the response is over its limit).
                            return false;
                        }
                        left -= n;
                    }
                    true
                });
            }
            "status" => {
                let code = param("code").and_then(|s| s.parse().ok()).unwrap_or(200);
                respond(out, code, Fields::new(), |_| true);
            }
            "trap" => panic!("the proxy guest was asked to trap"),
            "late-trap" => {
                respond(out, 200, Fields::new(), |body| {
                    write_all(body, b"finished");
                    true
                });
                panic!("trapping after the response was finished");
            }
            "no-response" => drop(out),
            "error-code" => ResponseOutparam::set(
                out,
                Err(ErrorCode::InternalError(Some("the guest gave up".into()))),
            ),
            "unfinished" => {
                let response = OutgoingResponse::new(Fields::new());
                let body = response.body().expect("body");
                ResponseOutparam::set(out, Ok(response));
                write_all(&body, b"only part");
                // Neither finished nor dropped: the host must not take this as complete.
                std::mem::forget(body);
            }
            "spin" => {
                let response = OutgoingResponse::new(Fields::new());
                let _body = response.body().expect("body");
                ResponseOutparam::set(out, Ok(response));
                #[allow(clippy::empty_loop)]
                loop {}
            }
            "big-headers" => {
                let size: usize = param("size").and_then(|s| s.parse().ok()).unwrap_or(0);
                let value = "h".repeat(size);
                respond(out, 200, fields(&[("x-big", value.as_str())]), |_| true);
            }
            "hoard" => {
                let value = vec![b'v'; 60 << 10];
                let mut kept = Vec::new();
                loop {
                    match Fields::from_list(&[("x-hoard".to_owned(), value.clone())]) {
                        Ok(fields) => kept.push(fields),
                        Err(error) => panic!("refused after {} header sets: {error:?}", kept.len()),
                    }
                }
            }
            _ => echo(request, out),
        }
    }
}

/// Answers with what the request looked like, as JSON (written by hand: no serde here).
fn echo(request: IncomingRequest, out: ResponseOutparam) {
    let method = match request.method() {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        Method::Other(other) => other,
    };
    let scheme = match request.scheme() {
        Some(Scheme::Http) => "http".to_owned(),
        Some(Scheme::Https) => "https".to_owned(),
        Some(Scheme::Other(other)) => other,
        None => String::new(),
    };
    let headers: Vec<String> = request
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| {
            format!(
                "[{},{}]",
                json_string(&name),
                json_string(&String::from_utf8_lossy(&value))
            )
        })
        .collect();
    let body = read_all(&request);
    let json = format!(
        r#"{{"method":{},"path_with_query":{},"scheme":{},"authority":{},"headers":[{}],"body":{}}}"#,
        json_string(&method),
        json_string(&request.path_with_query().unwrap_or_default()),
        json_string(&scheme),
        json_string(&request.authority().unwrap_or_default()),
        headers.join(","),
        json_string(&String::from_utf8_lossy(&body)),
    );
    let headers = fields(&[
        ("content-type", "application/json"),
        ("x-world", "wasi:http/proxy"),
        ("x-method", method.as_str()),
    ]);
    respond(out, 200, headers, |body| {
        write_all(body, json.as_bytes());
        true
    });
}

fn read_all(request: &IncomingRequest) -> Vec<u8> {
    let body = request.consume().expect("request body");
    let stream = body.stream().expect("request body stream");
    let mut out = Vec::new();
    while let Ok(chunk) = stream.blocking_read(64 * 1024) {
        out.extend_from_slice(&chunk);
    }
    drop(stream);
    drop(wasi::http::types::IncomingBody::finish(body));
    out
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    let list: Vec<(String, Vec<u8>)> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
        .collect();
    Fields::from_list(&list).expect("valid headers")
}

/// Sets a `status` response with `headers`, lets `write` fill the body, and finishes it
/// when `write` says the body is whole.
fn respond(
    out: ResponseOutparam,
    status: u16,
    headers: Fields,
    write: impl FnOnce(&OutgoingBody) -> bool,
) {
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("status");
    let body = response.body().expect("body");
    ResponseOutparam::set(out, Ok(response));
    if write(&body) {
        OutgoingBody::finish(body, None).expect("finish");
    }
}

fn write_all(body: &OutgoingBody, bytes: &[u8]) {
    let stream = body.write().expect("body stream");
    for chunk in bytes.chunks(4096) {
        stream.blocking_write_and_flush(chunk).expect("write");
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

export!(Component);
