//! One record per request: its span (where every line logged during it takes its request
//! fields), its debug-sampling decision, and what the access line reports at the end.
//!
//! The access line is the one an operator filters on in CloudWatch Logs Insights:
//! `filter logger = "lamina::access" and status >= 500 | stats pct(duration_ms, 99) by route`.
//! Its fields: `method`, `route` (the template, empty when none matched), `path`, `status`,
//! `bytes` (of the response body), `duration_ms`, `components_ms` (each component's time in
//! the chain, by name), `source`, `client_ip`, `cold_start`, `requestId`, and for an
//! invocation that fails instead of answering, `error_type`.

use super::Observe;
use super::lines::{ACCESS_TARGET, Direct, SPAN_TARGET};
use super::metrics::{Metrics, RequestMetrics};
use super::xray::{Outcome, Subsegment, TraceHeader};
use crate::request::{Invocation, Request};
use serde::Deserialize;
use std::fmt::Write as _;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tracing::Span;
use tracing::field::Empty;

/// `[logging]`: what the host logs per request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LoggingConfig {
    /// One access line per request (default on).
    #[serde(default = "on")]
    pub(crate) access_log: bool,
    /// The share of requests (0 to 1) whose `DEBUG` lines are written whatever the level,
    /// as Powertools Logger's `sample_rate` (default 0).
    #[serde(default)]
    pub(crate) sample_rate: f64,
    /// The `service` field of every request's lines (default: `$POWERTOOLS_SERVICE_NAME`,
    /// when set).
    pub(crate) service: Option<String>,
}

fn on() -> bool {
    true
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            access_log: true,
            sample_rate: 0.0,
            service: None,
        }
    }
}

/// `[logging]` checked, as an app holds it.
#[derive(Clone, Debug)]
pub(crate) struct Logging {
    access_log: bool,
    sample_rate: f64,
    service: Option<Arc<str>>,
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            access_log: true,
            sample_rate: 0.0,
            service: None,
        }
    }
}

impl Logging {
    /// Checks `config`; a sampling app turns sampling on in the log layer.
    ///
    /// # Errors
    ///
    /// A `sample-rate` outside 0 to 1.
    pub(crate) fn from_config(config: &LoggingConfig) -> anyhow::Result<Self> {
        let rate = config.sample_rate;
        if !(0.0..=1.0).contains(&rate) {
            anyhow::bail!("logging.sample-rate: {rate} is not a share of requests (0 to 1)");
        }
        if rate > 0.0 {
            super::lines::enable_sampling();
        }
        Ok(Self {
            access_log: config.access_log,
            sample_rate: rate,
            service: config.service.as_deref().map(Arc::from),
        })
    }

    /// Whether this request's debug lines are sampled in: a fair draw of `sample-rate`.
    fn draw(&self) -> bool {
        static DRAWS: AtomicU64 = AtomicU64::new(0);
        if self.sample_rate <= 0.0 {
            return false;
        }
        let n = DRAWS.fetch_add(1, Ordering::Relaxed);
        // RandomState's keys are random per process; hashing a counter with them gives
        // uniform, independent draws without a random-number crate.
        let draw = RandomState::new().hash_one(n) >> 11;
        #[allow(clippy::cast_precision_loss)]
        let share = draw as f64 / (1u64 << 53) as f64;
        share < self.sample_rate
    }
}

/// Whether the process has not answered a request yet: its first is the cold start.
static COLD: AtomicBool = AtomicBool::new(true);

/// One request, from the front door to the reply.
pub struct RequestRecord {
    started: Instant,
    span: Span,
    access_log: bool,
    metrics: Option<Arc<Metrics>>,
    /// The route template it matched (`direct` for `[direct]`).
    route: Option<String>,
    /// Whether a component ran out of time.
    timed_out: bool,
    /// The invocation's trace, when it has one.
    trace: Option<TraceHeader>,
    /// Component calls to send as X-Ray subsegments when the request ends.
    calls: Vec<Call>,
    request_id: String,
    /// The request span's other fields, which the access line carries too.
    xray_trace_id: Option<String>,
    service: Option<Arc<str>>,
    sampling: Option<(f64, bool)>,
    method: Option<String>,
    path: Option<String>,
    source: Option<&'static str>,
    client_ip: Option<String>,
    cold_start: bool,
    /// Time in each component of the chain, in the order they first ran.
    components: Vec<(String, Duration)>,
    status: Option<u16>,
    bytes: usize,
    error_type: Option<String>,
}

impl RequestRecord {
    /// Starts the record of `invocation`, and opens its span.
    pub(crate) fn start(observe: &Observe, invocation: &Invocation) -> Self {
        let logging = &observe.logging;
        let cold_start = COLD.swap(false, Ordering::Relaxed);
        let id = invocation.request_id.as_str();
        let span = tracing::info_span!(
            target: SPAN_TARGET,
            "request",
            requestId = id,
            function_request_id = id,
            xray_trace_id = Empty,
            route = Empty,
            cold_start,
            service = Empty,
            sampling_rate = Empty,
            sampled = Empty,
        );
        let xray_trace_id = invocation.trace_root().map(str::to_owned);
        if let Some(root) = &xray_trace_id {
            span.record("xray_trace_id", root.as_str());
        }
        if let Some(service) = &logging.service {
            span.record("service", &**service);
        }
        let mut sampling = None;
        if logging.sample_rate > 0.0 {
            span.record("sampling_rate", logging.sample_rate);
            let sampled = logging.draw();
            if sampled {
                span.record("sampled", true);
            }
            sampling = Some((logging.sample_rate, sampled));
        }
        Self {
            started: Instant::now(),
            span,
            access_log: logging.access_log,
            metrics: observe.metrics.clone(),
            route: None,
            timed_out: false,
            trace: invocation
                .trace_header
                .as_deref()
                .and_then(TraceHeader::parse),
            calls: Vec::new(),
            request_id: invocation.request_id.clone(),
            xray_trace_id,
            service: logging.service.clone(),
            sampling,
            method: None,
            path: None,
            source: None,
            client_ip: None,
            cold_start,
            components: Vec::new(),
            status: None,
            bytes: 0,
            error_type: None,
        }
    }

    /// The request's span: run its work inside it.
    #[must_use]
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// What the request is, once decoded.
    pub(crate) fn request(&mut self, request: &Request) {
        self.method = Some(request.method.as_str().to_owned());
        self.path = Some(request.path.clone());
        self.source = Some(request.context.source.as_str());
        self.client_ip.clone_from(&request.context.source_ip);
    }

    /// The route template it matched.
    pub(crate) fn route(&mut self, template: &str) {
        self.span.record("route", template);
        self.route = Some(template.to_owned());
    }

    /// An error the pipeline rendered (a timeout counts in `Timeouts`).
    pub(crate) fn error(&mut self, error: &crate::Error) {
        if matches!(error, crate::Error::Timeout { .. }) {
            self.timed_out = true;
        }
    }

    /// `took` more in component `name`.
    pub(crate) fn component(&mut self, name: &str, took: Duration) {
        match self.components.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += took,
            None => self.components.push((name.to_owned(), took)),
        }
    }

    /// A new call into a component: its subsegment id when X-Ray records this request,
    /// and the trace header the call sees (its own id as `Parent=`), which the caller puts
    /// in the request it hands the component.
    pub(crate) fn call(&self) -> (Option<String>, Option<String>) {
        match &self.trace {
            Some(trace) if trace.records() => {
                let id = super::xray::new_id();
                let header = trace.with_parent(&id);
                (Some(id), Some(header))
            }
            Some(trace) => (None, Some(trace.header())),
            None => (None, None),
        }
    }

    /// Runs `work`, call `id` (from [`RequestRecord::call`]) into component `name`, inside
    /// the component's span, and adds its time to the component's.
    pub(crate) async fn in_component<T>(
        &mut self,
        name: &str,
        id: Option<String>,
        work: impl std::future::Future<Output = Result<T, crate::Error>>,
    ) -> Result<T, crate::Error> {
        let span = tracing::info_span!(target: SPAN_TARGET, "component", component = name);
        let started = Instant::now();
        let started_at = SystemTime::now();
        let out = tracing::Instrument::instrument(work, span).await;
        self.component(name, started.elapsed());
        if let Some(id) = id {
            self.calls.push(Call {
                component: name.to_owned(),
                id,
                start: started_at,
                end: SystemTime::now(),
                failed: out.as_ref().err().map(|e| e.status().as_u16()),
            });
        }
        out
    }

    /// The reply: its status and body size.
    pub(crate) fn respond(&mut self, status: u16, bytes: usize) {
        self.status = Some(status);
        self.bytes = bytes;
    }

    /// The invocation failed with `error_type` instead of answering (a payload that is
    /// not an event, a direct invocation's error).
    pub(crate) fn fail(&mut self, error_type: &str) {
        self.error_type = Some(error_type.to_owned());
    }

    /// Ends the request: writes its access line (unless `access-log = false`) and its
    /// metrics (with `[metrics]`).
    pub(crate) fn finish(self) {
        let took = self.started.elapsed();
        if let Some(trace) = &self.trace {
            let mut annotations = serde_json::json!({
                "route": self.route.as_deref().unwrap_or(""),
            });
            if let Some(status) = self.status {
                annotations["status"] = status.into();
            }
            for call in &self.calls {
                Subsegment {
                    name: &call.component,
                    id: &call.id,
                    trace,
                    parent_id: trace.parent(),
                    start: call.start,
                    end: call.end,
                    namespace: None,
                    annotations: annotations.clone(),
                    http: None,
                    // A call's own error says how it ended; one that returned ended well.
                    outcome: call.failed.map_or(Outcome::Ok, |s| Outcome::of(Some(s))),
                }
                .send();
            }
        }
        if let Some(metrics) = &self.metrics {
            let components: Vec<(String, f64)> = self
                .components
                .iter()
                .map(|(name, took)| (name.clone(), millis(*took)))
                .collect();
            let route = match (&self.route, &self.method) {
                (Some(template), Some(method)) if template != "direct" => {
                    format!("{method} {template}")
                }
                (Some(template), _) => template.clone(),
                (None, _) => "unmatched".to_owned(),
            };
            metrics.emit_request(&RequestMetrics {
                route: &route,
                status: self.status.filter(|_| self.error_type.is_none()),
                latency_ms: millis(took),
                timed_out: self.timed_out,
                components: &components,
                cold_start: self.cold_start,
                request_id: &self.request_id,
                timestamp_ms: crate::request::now_epoch_ms(),
            });
        }
        if !self.access_log {
            return;
        }
        let _inside = self.span.enter();
        if !tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO) {
            return;
        }
        let mut components = String::with_capacity(16 + 24 * self.components.len());
        components.push('{');
        for (i, (name, took)) in self.components.iter().enumerate() {
            if i > 0 {
                components.push(',');
            }
            crate::observe::lines::push_json_str(&mut components, name);
            let _ = write!(components, ":{:.3}", millis(*took));
        }
        components.push('}');
        let fields = self.access_fields(took, &components);
        // Straight into the host's log layer; another subscriber gets an event whose
        // message is the line as text.
        if !super::lines::write_direct(ACCESS_TARGET, "request", &fields) {
            let mut line = String::new();
            super::lines::direct_text(&mut line, ACCESS_TARGET, "request", &fields);
            tracing::info!(target: ACCESS_TARGET, "{line}");
        }
    }

    /// The access line's fields, then the request span's (which every line of the
    /// request carries), in the order written; those the request lacks are left out.
    fn access_fields<'a>(
        &'a self,
        took: Duration,
        components: &'a str,
    ) -> Vec<(&'static str, Direct<'a>)> {
        let mut fields = Vec::with_capacity(20);
        let mut put = |name, value: Option<Direct<'a>>| {
            if let Some(value) = value {
                fields.push((name, value));
            }
        };
        put(
            "method",
            Some(Direct::Str(self.method.as_deref().unwrap_or("-"))),
        );
        put("status", self.status.map(|s| Direct::U64(s.into())));
        put("duration_ms", Some(Direct::F64(round3(millis(took)))));
        put("bytes", Some(Direct::U64(self.bytes as u64)));
        put("route", self.route.as_deref().map(Direct::Str));
        put("path", self.path.as_deref().map(Direct::Str));
        put("components_ms", Some(Direct::Json(components)));
        put("source", self.source.map(Direct::Str));
        put("client_ip", self.client_ip.as_deref().map(Direct::Str));
        put("error_type", self.error_type.as_deref().map(Direct::Str));
        put("requestId", Some(Direct::Str(&self.request_id)));
        put("cold_start", Some(Direct::Bool(self.cold_start)));
        put("function_request_id", Some(Direct::Str(&self.request_id)));
        put(
            "xray_trace_id",
            self.xray_trace_id.as_deref().map(Direct::Str),
        );
        put("service", self.service.as_deref().map(Direct::Str));
        put(
            "sampling_rate",
            self.sampling.map(|(rate, _)| Direct::F64(rate)),
        );
        put(
            "sampled",
            self.sampling
                .filter(|(_, sampled)| *sampled)
                .map(|_| Direct::Bool(true)),
        );
        fields
    }
}

/// One component call, for its subsegment.
struct Call {
    component: String,
    id: String,
    start: SystemTime,
    end: SystemTime,
    /// The status of the error the call ended in, if it did.
    failed: Option<u16>,
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The largest character boundary of `text` at or below `at`.
pub(crate) fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut end = at.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// `ms` to the microsecond, so the line does not carry float noise.
fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_rate_must_be_a_share() {
        let config = |rate| LoggingConfig {
            sample_rate: rate,
            ..LoggingConfig::default()
        };
        let error = Logging::from_config(&config(1.5)).unwrap_err().to_string();
        assert!(error.contains("logging.sample-rate"), "{error}");
        assert!(Logging::from_config(&config(-0.1)).is_err());
        assert!(Logging::from_config(&config(0.0)).is_ok());
    }

    #[test]
    fn draws_match_the_rate() {
        let logging = Logging {
            sample_rate: 0.25,
            ..Logging::default()
        };
        let hits = (0..20_000).filter(|_| logging.draw()).count();
        assert!((4_000..6_000).contains(&hits), "{hits} of 20000 at 0.25");
        let never = Logging::default();
        assert!(!(0..1000).any(|_| never.draw()));
        let always = Logging {
            sample_rate: 1.0,
            ..Logging::default()
        };
        assert!((0..1000).all(|_| always.draw()));
    }

    #[test]
    fn component_times_add_up_by_name() {
        let mut record = RequestRecord::start(&Observe::default(), &Invocation::new("r"));
        record.component("auth", Duration::from_millis(1));
        record.component("hello", Duration::from_millis(2));
        record.component("auth", Duration::from_millis(3));
        assert_eq!(
            record.components,
            vec![
                ("auth".to_owned(), Duration::from_millis(4)),
                ("hello".to_owned(), Duration::from_millis(2))
            ]
        );
    }
}
