//! What an operator sees of each request without writing a line of component code: log
//! lines in Lambda's conventions and one access line per request.
//!
//! 1. [`init`] installs the one [`tracing`] layer every line goes through, the host's and
//!    the guests' alike ([`lines`]): JSON in Lambda (`AWS_LAMBDA_LOG_FORMAT`, or
//!    `LAMINA_LOG_FORMAT`), text locally; the level from `LAMINA_LOG`, else Lambda's
//!    `AWS_LAMBDA_LOG_LEVEL`. A JSON line is one flat object — `timestamp`, `level`,
//!    `message`, `logger`, then what is known of its request (`requestId`, `route`,
//!    `component`, `xray_trace_id`, `cold_start`, `service`) and of the function
//!    (`function_name`, `function_memory_size`), Powertools Logger's names where they
//!    overlap — so CloudWatch Logs Insights and Lambda's own level filter read it as is.
//! 2. Each invocation opens a [`RequestRecord`] ([`access`]): the request's span (which is
//!    where every line logged during it gets its request fields), the per-request debug
//!    sampling decision (`[logging] sample-rate`), and the measurements that end up in the
//!    access line: route, status, bytes, duration, each component's time, cold start.
//! 3. With `[metrics]`, the record's numbers also leave as CloudWatch EMF documents on
//!    stdout ([`metrics`]): per route and status class, with cold starts, swaps and
//!    rejected versions counted; what components add through the `metrics` import
//!    (`component::caps`) is written beside them, one document per dimension set.
//! 4. The invocation's X-Ray trace header goes into every component call and onto every
//!    outbound call (`X-Amzn-Trace-Id`, W3C `traceparent`); with `[tracing] xray = true`
//!    each component call and outbound call of a sampled invocation is sent to the X-Ray
//!    daemon as a subsegment ([`xray`]).
//!
//! ```toml
//! [logging]
//! access-log = true     # one line per request (the default)
//! sample-rate = 0.05    # debug lines for 5% of requests, as Powertools' sample_rate
//! service = "orders"    # the `service` field (default: $POWERTOOLS_SERVICE_NAME)
//!
//! [metrics]
//! namespace = "Lamina/orders"
//! dimensions = { environment = "prod" }
//!
//! [tracing]
//! xray = true           # subsegments to $AWS_XRAY_DAEMON_ADDRESS for sampled invocations
//! ```

pub mod access;
pub mod lines;
pub mod metrics;
pub mod xray;

pub use access::{LoggingConfig, RequestRecord};
pub use lines::{LogFormat, init};
pub use metrics::MetricsConfig;
pub use xray::TracingConfig;

use access::Logging;
use metrics::Metrics;
use std::sync::Arc;

/// What an app observes, from `[logging]`, `[metrics]` and `[tracing]`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observe {
    pub(crate) logging: Logging,
    /// EMF metrics, when `[metrics]` is set.
    pub(crate) metrics: Option<Arc<Metrics>>,
    /// `[tracing] xray`: turned on for the process when the app is built whole
    /// ([`Observe::serve`]).
    xray: bool,
}

impl Observe {
    /// Checks both sections.
    ///
    /// # Errors
    ///
    /// As [`Logging::from_config`] and [`Metrics::from_config`], naming the setting.
    pub(crate) fn from_config(
        logging: &LoggingConfig,
        metrics: Option<&MetricsConfig>,
        tracing: &TracingConfig,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            logging: Logging::from_config(logging)?,
            metrics: metrics.map(Metrics::from_config).transpose()?.map(Arc::new),
            xray: tracing.xray,
        })
    }

    /// Makes the process send subsegments as this app says: called once the app has
    /// loaded, so a version that fails to load changes nothing.
    pub(crate) fn serve(&self) {
        xray::set_enabled(self.xray);
    }

    /// Counts a host event (`Swaps`, `RejectedVersions`) when metrics are on.
    pub(crate) fn count(&self, event: &'static str) {
        if let Some(metrics) = &self.metrics {
            metrics.emit_event(event);
        }
    }
}
