//! `lamina serve`: a local HTTP server in front of the same `App::handle`, for development.
//!
//! What a shared server needs and a Lambda sandbox does not: admission control (a fixed
//! number of requests run at once, a bounded queue waits, the rest get `503` with
//! `Retry-After`, so saturation never turns into errors blamed on a component), and read
//! timeouts (a client that sends its headers or body a byte at a time is dropped).

use crate::App;
use crate::error::Error;
use crate::event::HeaderLimits;
use crate::request::{Context, Request, Source, cookies_from_headers, header_text};
use crate::response::Response;
use crate::swap::Swap;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long a client has to send a request's headers unless configured (also how long an
/// idle keep-alive connection stays open).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to send a request's body once its headers are in, unless
/// configured.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How many requests run at once, how many may wait for a turn, and how long clients have
/// to send them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// Requests in the pipeline at once.
    pub concurrency: usize,
    /// Requests waiting for one of those slots; beyond this they get `503`.
    pub queue: usize,
    /// Time to send the headers; the connection is closed after it.
    pub header_timeout: Duration,
    /// Time to send the body; `408` after it.
    pub body_timeout: Duration,
}

impl Capacity {
    /// The capacity `runtime`'s instance pool sustains for `app`: each request holds one
    /// instance per component of its longest chain (middleware that `next` keep theirs
    /// until the response), so `slots / chain` requests can never run out of them; the
    /// queue holds twice that. When a component reuses instances, the slots idle instances
    /// may hold ([`Runtime::idle_instances`](crate::component::Runtime::idle_instances))
    /// are not counted. Default read timeouts.
    #[must_use]
    pub fn for_pool(runtime: &crate::component::Runtime, app: &App) -> Self {
        let reusing = app
            .components()
            .values()
            .any(|guest| guest.instance_policy() != crate::component::InstancePolicy::Fresh);
        let idle = if reusing { runtime.idle_instances() } else { 0 };
        let usable = runtime.instances().saturating_sub(idle);
        let concurrency = (usable / app.longest_chain().max(1)).max(1);
        Self {
            concurrency,
            queue: concurrency * 2,
            header_timeout: HEADER_READ_TIMEOUT,
            body_timeout: BODY_READ_TIMEOUT,
        }
    }
}

/// The admission gate: permits for running requests, and a count of those waiting.
struct Admission {
    running: Semaphore,
    waiting: AtomicUsize,
    capacity: Capacity,
    /// When a refusal was last logged (ms since the server started), so a burst is logged
    /// once a second, not per request.
    last_warned_ms: AtomicU64,
    refused: AtomicU64,
    started: std::time::Instant,
}

impl Admission {
    fn new(capacity: Capacity) -> Self {
        Self {
            running: Semaphore::new(capacity.concurrency),
            waiting: AtomicUsize::new(0),
            capacity,
            last_warned_ms: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            started: std::time::Instant::now(),
        }
    }

    /// A running slot, waiting in the queue for one if needed; [`Error::Overloaded`] when
    /// the queue is full too.
    async fn admit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Error> {
        if let Ok(permit) = self.running.try_acquire() {
            return Ok(permit);
        }
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        if queued >= self.capacity.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(self.refuse(queued));
        }
        let permit = self.running.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit.map_err(|_| self.refuse(queued))
    }

    fn refuse(&self, queued: usize) -> Error {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_warned_ms.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= 1000)
            && self
                .last_warned_ms
                .compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                concurrency = self.capacity.concurrency,
                queue = self.capacity.queue,
                refused_so_far = refused,
                "at capacity: every request slot is busy and the queue is full; answering 503 \
                 (raise --concurrency/--queue, or --instances for a larger pool)"
            );
        }
        Error::Overloaded {
            in_flight: self.capacity.concurrency,
            limit: self.capacity.concurrency,
            queued,
            queue: self.capacity.queue,
        }
    }
}

/// Serves the app `swap` holds on `listener` until the process is stopped, at most
/// `capacity` requests at a time.
///
/// # Errors
///
/// When accepting connections fails.
pub async fn serve(
    swap: Arc<Swap>,
    listener: TcpListener,
    capacity: Capacity,
) -> anyhow::Result<()> {
    let counter = Arc::new(AtomicU64::new(0));
    let admission = Arc::new(Admission::new(capacity));
    loop {
        let (stream, peer) = listener.accept().await?;
        let swap = swap.clone();
        let counter = counter.clone();
        let admission = admission.clone();
        let capacity = admission.capacity;
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                // Each request runs on the version current when it arrived.
                let app = swap.current();
                let id = counter.fetch_add(1, Ordering::Relaxed);
                let admission = admission.clone();
                async move { Ok::<_, Infallible>(handle(&app, &admission, req, peer, id).await) }
            });
            if let Err(e) = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(capacity.header_timeout)
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
    admission: &Admission,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    id: u64,
) -> hyper::Response<Full<Bytes>> {
    let request_id = format!("local-{:x}-{id}", std::process::id());
    let body_timeout = admission.capacity.body_timeout;
    let response = match into_request(app, req, peer, request_id.clone(), body_timeout).await {
        Ok(request) => match admission.admit().await {
            Ok(_permit) => app.handle(request).await,
            Err(error) => app.reject(error, &request_id),
        },
        Err(error) => app.reject(error, &request_id),
    };
    into_hyper(response)
}

/// Converts a hyper request into the normalized request, as an event source would, within
/// the app's body limit (`413`) and `body_timeout` (`408`).
async fn into_request(
    app: &App,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    request_id: String,
    body_timeout: Duration,
) -> Result<Request, Error> {
    let (parts, body) = req.into_parts();
    let limit = app.max_request_body();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(size) = declared.filter(|&size| size > limit) {
        return Err(Error::PayloadTooLarge {
            size: Some(size),
            limit,
        });
    }
    let body = match tokio::time::timeout(body_timeout, Limited::new(body, limit).collect()).await {
        Err(_elapsed) => {
            return Err(Error::RequestTimeout {
                message: format!("the request body did not arrive within {body_timeout:?}"),
            });
        }
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(Error::PayloadTooLarge { size: None, limit });
        }
        Ok(Err(e)) => {
            return Err(Error::BadRequest {
                message: format!("reading the request body failed: {e}"),
            });
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        headers.push((name.as_str().to_owned(), header_text(value)));
    }
    crate::event::check_headers(&headers, HeaderLimits::LOCAL)?;
    let cookies = cookies_from_headers(&headers);
    let mut context = Context::new(Source::Local, request_id);
    context.source_ip = Some(peer.ip().to_string());
    context.user_agent = parts.headers.get(http::header::USER_AGENT).map(header_text);
    // A client's X-Ray header stands in for the one Lambda hands each invocation.
    context.trace_header = parts.headers.get("x-amzn-trace-id").map(header_text);
    let paths = crate::event::Paths::from_encoded(&raw_path)
        .map_err(|message| Error::BadRequest { message })?;
    Ok(Request {
        method: parts.method,
        path: paths.path,
        route_path: paths.route_path,
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
