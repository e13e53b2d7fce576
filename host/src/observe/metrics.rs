//! CloudWatch metrics without an API call: the embedded metric format (EMF), one JSON
//! document per invocation on stdout, which CloudWatch Logs turns into metrics.
//!
//! Per request, under the dimensions `[metrics] dimensions` plus `route`
//! (`GET /hello/{name}`; `unmatched` when no route matched, `direct` for `[direct]`) and
//! `status_class` (`2xx` … `5xx`, `error` for an invocation that failed):
//!
//! | metric | unit | value |
//! |---|---|---|
//! | `Requests` | Count | 1 |
//! | `Latency` | Milliseconds | front door to reply |
//! | `Errors` | Count | 1 for a 5xx or a failed invocation, else 0 |
//! | `Timeouts` | Count | 1 when a component ran out of time, else 0 |
//! | `ComponentTime` | Milliseconds | time in all components of the chain |
//! | `ComponentTime.<name>` | Milliseconds | time in that component |
//!
//! `ColdStart` (Count, 1) under the configured dimensions (and `function_name` in Lambda)
//! in the first invocation of a process; `Swaps` and `RejectedVersions` (Count) under the
//! same when a reload swaps in a new version or refuses one.
//!
//! The format, from the specification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
//! a root object whose `_aws` member holds `Timestamp` (ms since the epoch) and
//! `CloudWatchMetrics`, a list of directives `{Namespace, Dimensions: [[key, ...]],
//! Metrics: [{Name, Unit}]}`; every dimension key and metric name is a member of the root
//! object (a dimension's value a string, a metric's a number). A directive holds at most
//! [`MAX_METRICS`] metrics, a dimension set at most [`MAX_DIMENSIONS`] keys: checked at
//! load for the configured dimensions, and a document with more metrics is split.

use super::lines::push_json_str;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;

/// Metrics one EMF directive may hold.
pub const MAX_METRICS: usize = 100;
/// Keys one EMF dimension set may hold.
pub const MAX_DIMENSIONS: usize = 30;
/// The dimensions the host adds to request metrics.
const REQUEST_DIMENSIONS: [&str; 2] = ["route", "status_class"];
/// Root members the host writes besides those: no configured dimension may take one.
const HOST_MEMBERS: &[&str] = &[
    "requestId",
    "function_name",
    "Requests",
    "Latency",
    "Errors",
    "Timeouts",
    "ComponentTime",
    "ColdStart",
    "Swaps",
    "RejectedVersions",
];
/// Longest dimension value CloudWatch accepts.
pub(crate) const MAX_DIMENSION_VALUE: usize = 1024;
/// Longest namespace CloudWatch accepts.
const MAX_NAMESPACE: usize = 256;

/// The units EMF accepts, as CloudWatch spells them.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// `[metrics]`: turns EMF metrics on.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetricsConfig {
    /// The CloudWatch namespace (`Lamina/orders`): letters, digits and `. _ # : / -`.
    pub(crate) namespace: String,
    /// Dimensions on every metric (`{ environment = "prod" }`).
    #[serde(default)]
    pub(crate) dimensions: BTreeMap<String, String>,
}

/// Where EMF documents go: stdout, where Lambda reads them, unless the front door needs
/// stdout for itself (`lamina invoke` prints the reply there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// The default.
    Stdout,
    /// Beside the log lines.
    Stderr,
    /// `/dev/null`: written (the syscall is paid) and dropped, for benchmarks.
    Null,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends EMF documents to `sink` from now on (the first call wins).
pub fn set_sink(sink: Sink) {
    let _ = SINK.set(sink);
}

/// Writes one document as one line, with one `write`.
fn write(document: String) {
    let mut line = document;
    line.push('\n');
    let _ = match SINK.get().copied().unwrap_or(Sink::Stdout) {
        Sink::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
        Sink::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
        Sink::Null => {
            static NULL: OnceLock<Option<std::fs::File>> = OnceLock::new();
            match NULL.get_or_init(|| std::fs::File::create("/dev/null").ok()) {
                Some(file) => (&*file).write_all(line.as_bytes()),
                None => Ok(()),
            }
        }
    };
}

/// `[metrics]` checked, as an app holds it.
#[derive(Clone, Debug)]
pub(crate) struct Metrics {
    namespace: String,
    dimensions: Vec<(String, String)>,
}

/// Whether `name` can be an EMF dimension key or metric name: 1 to 255 ASCII characters
/// without control characters, not starting with `:` (CloudWatch's rules), and not a
/// name EMF itself uses.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
        && !name.starts_with(':')
        && name != "_aws"
}

impl Metrics {
    /// Checks `config`.
    ///
    /// # Errors
    ///
    /// A namespace CloudWatch would refuse, a dimension name or value it would refuse, one
    /// of the host's own (`route`, `status_class`), or too many dimensions.
    pub(crate) fn from_config(config: &MetricsConfig) -> anyhow::Result<Self> {
        let namespace = &config.namespace;
        if namespace.is_empty()
            || namespace.len() > MAX_NAMESPACE
            || !namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._#:/-".contains(c))
        {
            anyhow::bail!(
                "metrics.namespace: {namespace:?} is not a CloudWatch namespace (1 to \
                 {MAX_NAMESPACE} letters, digits and . _ # : / -)"
            );
        }
        let limit = MAX_DIMENSIONS - REQUEST_DIMENSIONS.len();
        if config.dimensions.len() > limit {
            anyhow::bail!(
                "metrics.dimensions: {} dimensions; a metric may have {MAX_DIMENSIONS}, of which \
                 the host adds {} (route, status_class), so at most {limit} here",
                config.dimensions.len(),
                REQUEST_DIMENSIONS.len()
            );
        }
        for (name, value) in &config.dimensions {
            let hosts = REQUEST_DIMENSIONS.contains(&name.as_str())
                || HOST_MEMBERS.contains(&name.as_str())
                || name == GUEST_DIMENSION
                || name.starts_with("ComponentTime.");
            if !valid_name(name) || hosts {
                anyhow::bail!(
                    "metrics.dimensions: {name:?} cannot be a dimension name (1 to 255 ASCII \
                     characters, not starting with ':', and none the host writes: route, \
                     status_class, component, requestId, function_name or a metric name)"
                );
            }
            if value.is_empty()
                || value.len() > MAX_DIMENSION_VALUE
                || value.chars().any(char::is_control)
            {
                anyhow::bail!(
                    "metrics.dimensions.{name}: a dimension value is 1 to 1024 characters \
                     without control characters"
                );
            }
        }
        Ok(Self {
            namespace: namespace.clone(),
            dimensions: config
                .dimensions
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// The documents for one finished request.
    pub(crate) fn request_documents(&self, request: &RequestMetrics<'_>) -> Vec<String> {
        let mut route = request.route;
        if route.len() > MAX_DIMENSION_VALUE {
            route = &route[..super::access::floor_char_boundary(route, MAX_DIMENSION_VALUE)];
        }
        let status_class = request.status_class();
        let mut set = Set::new(
            self,
            vec![("route", route), ("status_class", &status_class)],
        );
        // Not a dimension: a member that ties the document to the request's log lines.
        set.members.push(("requestId", request.request_id));
        set.metric("Requests".into(), "Count", 1.0);
        set.metric("Latency".into(), "Milliseconds", request.latency_ms);
        set.metric(
            "Errors".into(),
            "Count",
            f64::from(u8::from(request.is_error())),
        );
        set.metric(
            "Timeouts".into(),
            "Count",
            f64::from(u8::from(request.timed_out)),
        );
        let total: f64 = request.components.iter().map(|(_, ms)| ms).sum();
        set.metric("ComponentTime".into(), "Milliseconds", total);
        for (name, ms) in request.components {
            set.metric(format!("ComponentTime.{name}").into(), "Milliseconds", *ms);
        }
        let mut documents = set.documents(request.timestamp_ms);
        if request.cold_start {
            documents.extend(self.event("ColdStart", request.timestamp_ms));
        }
        documents
    }

    /// The document for one host event counted under the configured dimensions only
    /// (`ColdStart`, `Swaps`, `RejectedVersions`), with `function_name` in Lambda.
    fn event(&self, name: &'static str, timestamp_ms: u64) -> Vec<String> {
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok();
        let extra = match &function {
            Some(function) => vec![("function_name", function.as_str())],
            None => Vec::new(),
        };
        let mut set = Set::new(self, extra);
        set.metric(name.into(), "Count", 1.0);
        set.documents(timestamp_ms)
    }

    /// The names a guest's dimension or metric may not take: the configured dimensions'.
    pub(crate) fn dimension_names(&self) -> impl Iterator<Item = &str> {
        self.dimensions.iter().map(|(k, _)| k.as_str())
    }

    /// The documents for what one component instance added through the `metrics` import
    /// (checked as it was added, `caps::metrics`): one per dimension set, each under the
    /// configured dimensions, `component`, and the set's own; `requestId` a member.
    pub(crate) fn guest_documents(
        &self,
        component: &str,
        request_id: &str,
        series: &[GuestSeries],
        timestamp_ms: u64,
    ) -> Vec<String> {
        let mut documents = Vec::new();
        for one in series {
            let mut dimensions = Vec::with_capacity(one.dimensions.len() + 1);
            dimensions.push((GUEST_DIMENSION, component));
            dimensions.extend(one.dimensions.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let mut set = Set::new(self, dimensions);
            set.members.push(("requestId", request_id));
            for (name, unit, values) in &one.metrics {
                set.metrics
                    .push((Cow::Borrowed(name), unit, Value::Many(values)));
            }
            documents.extend(set.documents(timestamp_ms));
        }
        documents
    }

    /// Writes [`Metrics::guest_documents`].
    pub(crate) fn emit_guest(&self, component: &str, request_id: &str, series: &[GuestSeries]) {
        let now = crate::request::now_epoch_ms();
        for document in self.guest_documents(component, request_id, series, now) {
            write(document);
        }
    }

    /// Writes the documents for one finished request.
    pub(crate) fn emit_request(&self, request: &RequestMetrics<'_>) {
        for document in self.request_documents(request) {
            write(document);
        }
    }

    /// Writes a `Swaps` or `RejectedVersions` document now.
    pub(crate) fn emit_event(&self, name: &'static str) {
        for document in self.event(name, crate::request::now_epoch_ms()) {
            write(document);
        }
    }
}

/// The dimension the host adds to a guest's metrics: the component's name.
pub(crate) const GUEST_DIMENSION: &str = "component";

/// Metrics one component instance added under one dimension set: `(name, unit, values)`,
/// in the order first added.
#[derive(Debug, Default)]
pub(crate) struct GuestSeries {
    pub(crate) dimensions: Vec<(String, String)>,
    pub(crate) metrics: Vec<(String, &'static str, Vec<f64>)>,
}

/// What a finished request reports.
pub(crate) struct RequestMetrics<'a> {
    pub(crate) route: &'a str,
    /// `None` when the invocation failed instead of answering.
    pub(crate) status: Option<u16>,
    pub(crate) latency_ms: f64,
    pub(crate) timed_out: bool,
    pub(crate) components: &'a [(String, f64)],
    pub(crate) cold_start: bool,
    pub(crate) request_id: &'a str,
    pub(crate) timestamp_ms: u64,
}

impl RequestMetrics<'_> {
    fn status_class(&self) -> String {
        self.status
            .map_or_else(|| "error".to_owned(), |s| format!("{}xx", s / 100))
    }

    fn is_error(&self) -> bool {
        self.status.is_none_or(|s| s >= 500)
    }
}

/// A metric's value in a document: one number, or the list a guest added in one request.
#[derive(Clone, Copy)]
enum Value<'a> {
    One(f64),
    Many(&'a [f64]),
}

/// Metrics that share one dimension set, written straight into their documents' text
/// (no intermediate JSON tree: this runs once per request).
struct Set<'a> {
    config: &'a Metrics,
    /// Dimensions after the configured ones, with their values.
    dimensions: Vec<(&'a str, &'a str)>,
    /// Other string members of the root.
    members: Vec<(&'static str, &'a str)>,
    metrics: Vec<(Cow<'a, str>, &'static str, Value<'a>)>,
}

impl<'a> Set<'a> {
    fn new(config: &'a Metrics, dimensions: Vec<(&'a str, &'a str)>) -> Self {
        Self {
            config,
            dimensions,
            members: Vec::new(),
            metrics: Vec::new(),
        }
    }

    fn metric(&mut self, name: Cow<'a, str>, unit: &'static str, value: f64) {
        self.metrics.push((name, unit, Value::One(round3(value))));
    }

    /// The documents: one, or one per [`MAX_METRICS`] metrics, each with the root members
    /// its metrics and dimensions need.
    fn documents(&self, timestamp_ms: u64) -> Vec<String> {
        self.metrics
            .chunks(MAX_METRICS)
            .map(|chunk| {
                let mut out = String::with_capacity(640);
                let _ = write!(
                    out,
                    "{{\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":[{{\"Namespace\":"
                );
                push_json_str(&mut out, &self.config.namespace);
                out.push_str(",\"Dimensions\":[[");
                let keys = self
                    .config
                    .dimensions
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .chain(self.dimensions.iter().map(|(k, _)| *k));
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_json_str(&mut out, key);
                }
                out.push_str("]],\"Metrics\":[");
                for (i, (name, unit, _)) in chunk.iter().enumerate() {
                    out.push_str(if i > 0 { ",{\"Name\":" } else { "{\"Name\":" });
                    push_json_str(&mut out, name);
                    out.push_str(",\"Unit\":");
                    push_json_str(&mut out, unit);
                    out.push('}');
                }
                out.push_str("]}]}");
                let members = self
                    .config
                    .dimensions
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .chain(self.dimensions.iter().copied())
                    .chain(self.members.iter().copied());
                for (key, value) in members {
                    out.push(',');
                    push_json_str(&mut out, key);
                    out.push(':');
                    push_json_str(&mut out, value);
                }
                for (name, _, value) in chunk {
                    out.push(',');
                    push_json_str(&mut out, name);
                    match value {
                        Value::One(value) => {
                            let _ = write!(out, ":{value}");
                        }
                        Value::Many(values) => {
                            out.push_str(":[");
                            for (i, value) in values.iter().enumerate() {
                                let _ = write!(out, "{}{value}", if i > 0 { "," } else { "" });
                            }
                            out.push(']');
                        }
                    }
                }
                out.push('}');
                out
            })
            .collect()
    }
}

/// To the microsecond: no float noise in the document.
fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn metrics(dimensions: &[(&str, &str)]) -> anyhow::Result<Metrics> {
        Metrics::from_config(&MetricsConfig {
            namespace: "Lamina/test".to_owned(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
    }

    fn parsed(docs: Vec<String>) -> Vec<Value> {
        docs.into_iter()
            .map(|d| serde_json::from_str(&d).unwrap_or_else(|e| panic!("{e}: {d}")))
            .collect()
    }

    fn request<'a>(components: &'a [(String, f64)], status: Option<u16>) -> RequestMetrics<'a> {
        RequestMetrics {
            route: "GET /hello/{name}",
            status,
            latency_ms: 1.25,
            timed_out: false,
            components,
            cold_start: false,
            request_id: "r-1",
            timestamp_ms: 1_764_000_000_000,
        }
    }

    #[test]
    fn a_request_is_one_document_with_its_dimensions_at_the_root() {
        let components = vec![("auth".to_owned(), 0.5), ("hello".to_owned(), 0.25)];
        let docs = parsed(
            metrics(&[("environment", "prod")])
                .unwrap()
                .request_documents(&request(&components, Some(201))),
        );
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!(doc["environment"], "prod");
        assert_eq!(doc["route"], "GET /hello/{name}");
        assert_eq!(doc["status_class"], "2xx");
        assert_eq!(doc["Requests"], 1.0);
        assert_eq!(doc["Errors"], 0.0);
        assert_eq!(doc["ComponentTime"], 0.75);
        assert_eq!(doc["ComponentTime.auth"], 0.5);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Lamina/test");
        assert_eq!(
            directive["Dimensions"],
            json!([["environment", "route", "status_class"]])
        );
        assert_eq!(doc["_aws"]["Timestamp"], 1_764_000_000_000_u64);
    }

    #[test]
    fn a_failed_invocation_is_an_error_and_a_cold_start_is_counted_apart() {
        let m = metrics(&[]).unwrap();
        let mut failed = request(&[], None);
        failed.cold_start = true;
        let docs = parsed(m.request_documents(&failed));
        assert_eq!(docs[0]["status_class"], "error");
        assert_eq!(docs[0]["Errors"], 1.0);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["ColdStart"], 1.0);
        assert!(docs[1].get("route").is_none());
    }

    #[test]
    fn more_than_a_hundred_metrics_are_split_into_documents() {
        let components: Vec<(String, f64)> = (0..150).map(|i| (format!("c{i}"), 1.0)).collect();
        let docs = parsed(
            metrics(&[])
                .unwrap()
                .request_documents(&request(&components, Some(200))),
        );
        assert_eq!(docs.len(), 2);
        for doc in &docs {
            let listed = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap();
            assert!(listed.len() <= MAX_METRICS);
            for metric in listed {
                assert!(doc.get(metric["Name"].as_str().unwrap()).is_some());
            }
        }
        assert!(
            docs[1].get("ComponentTime.c0").is_none(),
            "each metric once"
        );
    }

    #[test]
    fn config_errors_name_the_setting() {
        let bad_ns = Metrics::from_config(&MetricsConfig {
            namespace: "has space".to_owned(),
            dimensions: BTreeMap::new(),
        })
        .unwrap_err()
        .to_string();
        assert!(bad_ns.contains("metrics.namespace"), "{bad_ns}");
        for name in [
            "route",
            "requestId",
            "function_name",
            "Latency",
            "ComponentTime.x",
        ] {
            let reserved = metrics(&[(name, "x")]).unwrap_err().to_string();
            assert!(reserved.contains(&format!("{name:?}")), "{reserved}");
        }
        let many: Vec<(String, String)> = (0..29).map(|i| (format!("d{i}"), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let error = metrics(&many).unwrap_err().to_string();
        assert!(error.contains("at most 28"), "{error}");
        assert!(metrics(&[("env", "")]).is_err());
    }
}
