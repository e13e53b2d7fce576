//! Custom CloudWatch metrics, written by the host as embedded metric format (EMF) beside
//! its own, under the host config's `[metrics]` namespace and dimensions plus `component`.
//!
//! ```no_run
//! use lamina_sdk::metrics::{self, Unit};
//! # fn place() -> lamina_sdk::Result<()> {
//! metrics::add("OrdersPlaced", 1.0, Unit::Count, &[("tier", "gold")])?;
//! metrics::count("Checkouts")?;
//! # Ok(()) }
//! ```
//!
//! Values are aggregated per request: every `add` of one name under one dimension set
//! becomes one metric holding the list of values. The host checks each call against EMF's
//! limits and refuses one that breaks them with a [`MetricsError`] naming the limit (100
//! values per metric, 30 dimensions, 1000 values per request, names and values CloudWatch
//! accepts); nothing of a refused call is recorded. Without `[metrics]` in the host config
//! the values are checked the same way and dropped.

use crate::__private::bindings::lamina::http::metrics as wit;

pub use wit::Unit;

/// A value the host refused, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsError(pub String);

impl std::fmt::Display for MetricsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "metrics: {}", self.0)
    }
}

/// With `?` in a handler a refused metric becomes a logged 500, like any error.
impl std::error::Error for MetricsError {}

/// Adds `value` to metric `name` under `dimensions`.
///
/// # Errors
///
/// [`MetricsError`] when the host refuses the value (see the module docs).
pub fn add(
    name: &str,
    value: f64,
    unit: Unit,
    dimensions: &[(&str, &str)],
) -> Result<(), MetricsError> {
    let dimensions: Vec<(String, String)> = dimensions
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    wit::add(name, value, unit, &dimensions).map_err(MetricsError)
}

/// Adds 1 to the count `name`, with no dimensions of its own.
///
/// # Errors
///
/// As [`add`].
pub fn count(name: &str) -> Result<(), MetricsError> {
    add(name, 1.0, Unit::Count, &[])
}
