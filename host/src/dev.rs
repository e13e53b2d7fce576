//! `lamina serve`: a local HTTP server in front of the same `App::handle`, for development.

use crate::App;
use crate::request::{Context, Request, Source, cookies_from_headers};
use crate::response::Response;
use crate::swap::Swap;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

/// Largest request body accepted: Lambda's synchronous invocation payload limit.
pub const MAX_BODY: usize = 6 * 1024 * 1024;

/// Serves the app `swap` holds on `listener` until the process is stopped.
///
/// # Errors
///
/// When accepting connections fails.
pub async fn serve(swap: Arc<Swap>, listener: TcpListener) -> anyhow::Result<()> {
    let counter = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, peer) = listener.accept().await?;
        let swap = swap.clone();
        let counter = counter.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                // Each request runs on the version current when it arrived.
                let app = swap.current();
                let id = counter.fetch_add(1, Ordering::Relaxed);
                async move { Ok::<_, Infallible>(handle(&app, req, peer, id).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

async fn handle(
    app: &App,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    id: u64,
) -> hyper::Response<Full<Bytes>> {
    let request_id = format!("local-{:x}-{id}", std::process::id());
    let response = match into_request(req, peer, request_id.clone()).await {
        Ok(request) => app.handle(request).await,
        Err(message) => app.reject(message, &request_id),
    };
    into_hyper(response)
}

/// Converts a hyper request into the normalized request, as an event source would.
async fn into_request(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    request_id: String,
) -> Result<Request, String> {
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the request body failed: {e}"))?
        .to_bytes();
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.push((name.as_str().to_owned(), value));
    }
    let cookies = cookies_from_headers(&headers);
    let mut context = Context::new(Source::Local, request_id);
    context.source_ip = Some(peer.ip().to_string());
    context.user_agent = parts
        .headers
        .get(http::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    Ok(Request {
        method: parts.method,
        path: crate::event::decode_path(&raw_path)?,
        query: crate::event::parse_query(&raw_query),
        raw_path,
        raw_query,
        headers,
        cookies,
        body,
        context,
    })
}

fn into_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(response.body));
    *out.status_mut() = response.status;
    *out.headers_mut() = response.headers;
    out
}
