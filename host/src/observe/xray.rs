//! X-Ray: the invocation's trace header carried through the chain and onto outbound
//! calls, and, with `[tracing] xray = true`, a subsegment per component call and per
//! outbound call sent to the X-Ray daemon.
//!
//! The header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`)
//! comes from the Runtime API's `Lambda-Runtime-Trace-Id` (or, in `lamina serve`, the
//! client's `X-Amzn-Trace-Id`). Each component call gets it with `Parent=` set to the call's
//! own subsegment, so what the component calls out to is parented to it; an outbound call
//! carries it as `X-Amzn-Trace-Id` and as W3C `traceparent`
//! (`00-5759e988bd862e3fe1be46a994272793-<parent>-01`) unless the component set its own.
//!
//! Subsegments are sent only for sampled invocations (`Sampled=1`, Lambda's active
//! tracing), as the daemon protocol has it: UDP datagrams to `AWS_XRAY_DAEMON_ADDRESS`
//! (default `127.0.0.1:2000`), each `{"format": "json", "version": 1}`, a newline, and one
//! segment document (<https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html>).
//! Component subsegments carry the annotations `route` and `status`.

use serde::Deserialize;
use serde_json::{Value, json};
use std::hash::{BuildHasher as _, RandomState};
use std::net::{SocketAddr, ToSocketAddrs as _, UdpSocket};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

/// `[tracing]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TracingConfig {
    /// Send subsegments to the X-Ray daemon for sampled invocations (default off; the
    /// header is propagated either way).
    #[serde(default)]
    pub(crate) xray: bool,
}

/// Whether the serving app sends subsegments (set whenever an app is built).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns sending on or off for the app about to serve.
pub(crate) fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The daemon's default address.
const DEFAULT_DAEMON: &str = "127.0.0.1:2000";
/// The largest datagram the daemon takes.
const MAX_DATAGRAM: usize = 64 << 10;
/// What precedes every document in a datagram.
const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

/// A parsed trace header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TraceHeader {
    /// `1-<8 hex>-<24 hex>`.
    root: String,
    parent: Option<String>,
    sampled: Option<bool>,
    /// Every other `key=value` pair (`Lineage=…`, which Lambda's recursive-loop detection
    /// reads), kept in order and passed on unchanged.
    rest: Vec<String>,
}

impl TraceHeader {
    /// The header's parts; `None` when it has no well-formed `Root=`.
    pub(crate) fn parse(header: &str) -> Option<Self> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = None;
        let mut rest = Vec::new();
        for part in header.split(';') {
            let part = part.trim();
            match part.split_once('=') {
                Some(("Root", value)) => root = Some(value.to_owned()),
                Some(("Parent", value)) if is_hex(value, 16) && !is_zero(value) => {
                    parent = Some(value.to_owned());
                }
                Some(("Parent", _)) => {}
                Some(("Sampled", "1")) => sampled = Some(true),
                Some(("Sampled", "0")) => sampled = Some(false),
                Some((key, _)) if !key.is_empty() && key != "Sampled" => rest.push(part.to_owned()),
                _ => {}
            }
        }
        let root = root.filter(|r| w3c_trace_id(r).is_some())?;
        Some(Self {
            root,
            parent,
            sampled,
            rest,
        })
    }

    /// Whether subsegments are sent for this trace: sampled, with a parent segment to
    /// hang them from (a subsegment document must name one), and sending on.
    pub(crate) fn records(&self) -> bool {
        self.sampled == Some(true) && self.parent.is_some() && enabled()
    }

    /// The header with `parent` as its `Parent=`.
    pub(crate) fn with_parent(&self, parent: &str) -> String {
        self.write(Some(parent))
    }

    /// The header as it is (when no subsegment is made for a call).
    pub(crate) fn header(&self) -> String {
        self.write(self.parent.as_deref())
    }

    fn write(&self, parent: Option<&str>) -> String {
        let mut header = format!("Root={}", self.root);
        if let Some(parent) = parent {
            header.push_str(";Parent=");
            header.push_str(parent);
        }
        if let Some(sampled) = self.sampled {
            header.push_str(if sampled { ";Sampled=1" } else { ";Sampled=0" });
        }
        for part in &self.rest {
            header.push(';');
            header.push_str(part);
        }
        header
    }

    /// The W3C `traceparent` for a call whose parent span is `parent` (or this header's
    /// `Parent=`, or a new id).
    pub(crate) fn traceparent(&self, parent: Option<&str>) -> Option<String> {
        let trace_id = w3c_trace_id(&self.root)?;
        let parent = parent
            .map(str::to_owned)
            .or_else(|| self.parent.clone())
            .unwrap_or_else(new_id);
        let flags = if self.sampled == Some(true) {
            "01"
        } else {
            "00"
        };
        Some(format!("00-{trace_id}-{parent}-{flags}"))
    }

    /// The trace id (`Root=`).
    pub(crate) fn root(&self) -> &str {
        &self.root
    }

    /// The parent segment's id, if the header names one.
    pub(crate) fn parent(&self) -> Option<&str> {
        self.parent.as_deref()
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// All zeros: an id W3C calls invalid.
fn is_zero(text: &str) -> bool {
    text.chars().all(|c| c == '0')
}

/// `1-5759e988-bd862e3fe1be46a994272793` as W3C's 32-digit trace id.
fn w3c_trace_id(root: &str) -> Option<String> {
    let mut parts = root.split('-');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("1"), Some(time), Some(random), None)
            if is_hex(time, 8) && is_hex(random, 24) && !(is_zero(time) && is_zero(random)) =>
        {
            Some(format!("{time}{random}").to_ascii_lowercase())
        }
        _ => None,
    }
}

/// A new 64-bit segment id in 16 hex digits.
pub(crate) fn new_id() -> String {
    static IDS: AtomicU64 = AtomicU64::new(0);
    // RandomState's keys are random per process: hashing a counter gives distinct,
    // unpredictable ids without a random-number crate.
    let n = IDS.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}", RandomState::new().hash_one(n))
}

/// Seconds since the epoch, as X-Ray's `start_time`/`end_time` are written.
pub(crate) fn epoch_seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One finished subsegment.
pub(crate) struct Subsegment<'a> {
    pub(crate) name: &'a str,
    pub(crate) id: &'a str,
    pub(crate) trace: &'a TraceHeader,
    /// Its parent's id (the invocation's segment, or a component call's subsegment).
    pub(crate) parent_id: Option<&'a str>,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    /// `remote` for an outbound call, `aws` for a signed AWS call.
    pub(crate) namespace: Option<&'a str>,
    pub(crate) annotations: Value,
    /// The `http` object of an outbound call.
    pub(crate) http: Option<Value>,
    /// How it ended, for X-Ray's flags.
    pub(crate) outcome: Outcome,
}

/// How a call ended, as X-Ray flags it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 1xx–3xx.
    Ok,
    /// A 4xx other than 429: `error`.
    ClientError,
    /// A 429: `error` and `throttle`.
    Throttled,
    /// A 5xx, a trap, a timeout, a refused connection: `fault`.
    Fault,
}

impl Outcome {
    /// The outcome of a call answered with `status`, or not answered (`None`).
    pub(crate) fn of(status: Option<u16>) -> Self {
        match status {
            None => Self::Fault,
            Some(429) => Self::Throttled,
            Some(s) if s >= 500 => Self::Fault,
            Some(s) if s >= 400 => Self::ClientError,
            Some(_) => Self::Ok,
        }
    }
}

impl Subsegment<'_> {
    /// The segment document.
    pub(crate) fn document(&self) -> Value {
        let mut doc = json!({
            "name": self.name,
            "id": self.id,
            "trace_id": self.trace.root(),
            "start_time": epoch_seconds(self.start),
            "end_time": epoch_seconds(self.end),
            "type": "subsegment",
        });
        if let Some(parent) = self.parent_id {
            doc["parent_id"] = Value::from(parent);
        }
        if let Some(namespace) = self.namespace {
            doc["namespace"] = Value::from(namespace);
        }
        if self.annotations.as_object().is_some_and(|a| !a.is_empty()) {
            doc["annotations"] = self.annotations.clone();
        }
        if let Some(http) = &self.http {
            doc["http"] = http.clone();
        }
        match self.outcome {
            Outcome::Ok => {}
            Outcome::ClientError => doc["error"] = Value::Bool(true),
            Outcome::Throttled => {
                doc["error"] = Value::Bool(true);
                doc["throttle"] = Value::Bool(true);
            }
            Outcome::Fault => doc["fault"] = Value::Bool(true),
        }
        doc
    }

    /// Sends it to the daemon (best effort: UDP, never blocking the request).
    pub(crate) fn send(&self) {
        send(&self.document());
    }
}

/// The daemon's address: `AWS_XRAY_DAEMON_ADDRESS` (`host:port`, or Lambda's
/// `udp:host:port tcp:host:port` form), else the default.
fn daemon() -> Option<SocketAddr> {
    static DAEMON: OnceLock<Option<SocketAddr>> = OnceLock::new();
    *DAEMON.get_or_init(|| {
        let text = std::env::var("AWS_XRAY_DAEMON_ADDRESS").unwrap_or_default();
        let udp = text
            .split_whitespace()
            .find_map(|part| part.strip_prefix("udp:"))
            .or_else(|| {
                text.split_whitespace()
                    .find(|part| !part.starts_with("tcp:"))
            })
            .unwrap_or(DEFAULT_DAEMON);
        let address = udp.to_socket_addrs().ok().and_then(|mut a| a.next());
        if address.is_none() {
            tracing::warn!(
                address = udp,
                "AWS_XRAY_DAEMON_ADDRESS is not host:port; no X-Ray subsegments"
            );
        }
        address
    })
}

fn send(document: &Value) {
    static SOCKET: OnceLock<Option<UdpSocket>> = OnceLock::new();
    let Some(to) = daemon() else { return };
    let socket = SOCKET.get_or_init(|| {
        let local: SocketAddr = if to.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).ok()?;
        socket.set_nonblocking(true).ok()?;
        Some(socket)
    });
    let Some(socket) = socket else { return };
    let datagram = format!("{DAEMON_HEADER}{document}");
    if datagram.len() > MAX_DATAGRAM {
        tracing::debug!(bytes = datagram.len(), "X-Ray subsegment too large to send");
        return;
    }
    if let Err(error) = socket.send_to(datagram.as_bytes(), to) {
        tracing::debug!(%error, "X-Ray subsegment not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn headers_parse_and_carry_a_new_parent() {
        let trace = TraceHeader::parse(HEADER).unwrap();
        assert_eq!(trace.root(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(trace.parent(), Some("53995c3f42cd8ad8"));
        assert_eq!(trace.header(), HEADER);
        assert_eq!(
            trace.with_parent("0123456789abcdef"),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0123456789abcdef;Sampled=1"
        );
        assert_eq!(
            trace.traceparent(Some("0123456789abcdef")).unwrap(),
            "00-5759e988bd862e3fe1be46a994272793-0123456789abcdef-01"
        );
        let bare = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert_eq!(bare.header(), "Root=1-5759e988-bd862e3fe1be46a994272793");
        assert!(bare.traceparent(None).unwrap().ends_with("-00"));
        assert!(TraceHeader::parse("Root=nonsense").is_none());
        let lineage = TraceHeader::parse(&format!("{HEADER};Lineage=a87bd80c:1")).unwrap();
        assert!(
            lineage
                .with_parent("0123456789abcdef")
                .ends_with(";Sampled=1;Lineage=a87bd80c:1")
        );
        let orphan =
            TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1").unwrap();
        assert!(
            !orphan.records(),
            "no parent segment: nothing to hang a subsegment from"
        );
        assert!(TraceHeader::parse("Root=1-00000000-000000000000000000000000").is_none());
        assert!(TraceHeader::parse("Parent=53995c3f42cd8ad8").is_none());
    }

    #[test]
    fn ids_are_sixteen_hex_digits_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert!(is_hex(&a, 16) && is_hex(&b, 16), "{a} {b}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_subsegment_document_has_the_daemon_fields() {
        let trace = TraceHeader::parse(HEADER).unwrap();
        let start = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        let doc = Subsegment {
            name: "hello",
            id: "0123456789abcdef",
            trace: &trace,
            parent_id: trace.parent(),
            start,
            end: start + std::time::Duration::from_millis(250),
            namespace: None,
            annotations: json!({"route": "/hello/{name}", "status": 200}),
            http: None,
            outcome: Outcome::of(Some(200)),
        }
        .document();
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(doc["start_time"], 1.5);
        assert_eq!(doc["end_time"], 1.75);
        assert_eq!(doc["annotations"]["status"], 200);
        assert!(doc.get("fault").is_none());
    }
}
