//! `outbound`: calls the URL it is given with `lamina_sdk::http` and reports what came
//! back, so the host's allow-list, limits and connection reuse can be tested from a real
//! guest.
//!
//! - `GET /call?url=U[&method=M][&header=name:value][&body=B]` → the response as JSON, or
//!   the error as a status: denied 403, limit 429, timeout 504, too large 502,
//!   connection 503, anything else 500.
//! - `GET /many?url=U&n=N` → calls `U` `N` times and answers how many got a 2xx.
//! - `GET /loop?url=U&n=N` → calls `U` `N` times whatever happens, and answers how each
//!   call ended, as JSON counts (`ok`, `denied`, `limit`, `timeout`, `other`).
//! - `GET /timed?url=U&n=N` → calls `U` `N` times and answers each call's duration as the
//!   guest's monotonic clock saw it (send to the last body byte), in nanoseconds, as JSON.
//! - `GET /aws?service=S&target=T` → `lamina_sdk::aws::call(S, T, {})`: the output, or the
//!   service's error as its status.
//! - `GET /leak` → everything the guest can read of its world (environment, config, the
//!   request), to check that no credential is among it.

use lamina_sdk::http::{self, HttpError};
use lamina_sdk::{Error, Request, Response, Result};

fn handle(req: Request) -> Result<Response> {
    let url = req.query("url").unwrap_or_default().to_owned();
    match req.route() {
        "/call" => {
            let mut outgoing = http::Request::new(req.query("method").unwrap_or("GET"), &url);
            for header in req.query_all("header") {
                if let Some((name, value)) = header.split_once(':') {
                    outgoing = outgoing.header(name, value);
                }
            }
            if let Some(body) = req.query("body") {
                outgoing = outgoing.body(body.as_bytes().to_vec());
            }
            let response = http::send(outgoing).map_err(as_error)?;
            Ok(Response::json(&serde_json::json!({
                "status": response.status(),
                "headers": response.headers(),
                "body": String::from_utf8_lossy(response.body()),
            })))
        }
        "/many" => {
            let n: usize = req.query("n").and_then(|n| n.parse().ok()).unwrap_or(1);
            let mut ok = 0;
            for _ in 0..n {
                match http::get(&url) {
                    Ok(response) if (200..300).contains(&response.status()) => ok += 1,
                    Ok(_) => {}
                    Err(error) => return Err(as_error(error)),
                }
            }
            Ok(Response::text(ok.to_string()))
        }
        "/loop" => {
            let n: usize = req.query("n").and_then(|n| n.parse().ok()).unwrap_or(1);
            let mut counts = std::collections::BTreeMap::<&str, usize>::new();
            for _ in 0..n {
                let outcome = match http::get(&url) {
                    Ok(response) if (200..300).contains(&response.status()) => "ok",
                    Ok(_) => "other",
                    Err(HttpError::Denied) => "denied",
                    Err(HttpError::Limit) => "limit",
                    Err(HttpError::Timeout) => "timeout",
                    Err(_) => "other",
                };
                *counts.entry(outcome).or_default() += 1;
            }
            Ok(Response::json(&counts))
        }
        "/timed" => {
            let n: usize = req.query("n").and_then(|n| n.parse().ok()).unwrap_or(1);
            let mut nanos = Vec::with_capacity(n);
            for _ in 0..n {
                let started = std::time::Instant::now();
                let response = http::get(&url).map_err(as_error)?;
                std::hint::black_box(response.body());
                nanos.push(started.elapsed().as_nanos() as u64);
            }
            Ok(Response::json(&nanos))
        }
        "/aws" => {
            let service = req.query("service").unwrap_or("dynamodb");
            let target = req.query("target").unwrap_or("DynamoDB_20120810.ListTables");
            match lamina_sdk::aws::call(service, target, &serde_json::json!({})) {
                Ok(output) => Ok(Response::json(&output)),
                Err(lamina_sdk::aws::AwsError::Service { status, code, message }) => {
                    Err(Error::new(status, &code, message))
                }
                Err(lamina_sdk::aws::AwsError::Http(error)) => Err(as_error(error)),
            }
        }
        "/leak" => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            Ok(Response::json(&serde_json::json!({
                "env": env,
                "config": lamina_sdk::config::all(),
                "headers": req.headers(),
                "context": format!("{:?}", req.context()),
            })))
        }
        other => Err(Error::not_found(format!("no route {other}"))),
    }
}

/// An outbound failure as the status a real handler might answer with.
fn as_error(error: HttpError) -> Error {
    let (status, code) = match &error {
        HttpError::Denied => (403, "denied"),
        HttpError::Limit => (429, "limit"),
        HttpError::Timeout => (504, "timeout"),
        HttpError::TooLarge => (502, "too-large"),
        HttpError::Connection(_) => (503, "connection"),
        _ => (500, "outbound"),
    };
    Error::new(status, code, error.to_string())
}

lamina_sdk::export_handler!(handle);
