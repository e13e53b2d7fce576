//! Custom metrics from components: the `lamina:http/metrics` import.
//!
//! ```rust,ignore
//! lamina_sdk::metrics::add("OrdersPlaced", 1.0, Unit::Count, &[("tier", "gold")])?;
//! ```
//!
//! Every component may add metrics; there is no key to grant. What one instance adds is
//! checked against EMF's rules as it is added (so the guest gets the error, naming the
//! limit, at the call that broke it), aggregated per dimension set and name, and written
//! when the instance is dropped, as one EMF document per dimension set under the host
//! config's `[metrics]` namespace and dimensions plus `component` ([`crate::observe::metrics`]).
//! Without `[metrics]` the values are checked the same way and dropped, so a component
//! behaves the same with metrics on or off.
//!
//! Strings are read from the guest's memory in place and checked before anything is
//! copied, and an instance holds at most [`MAX_VALUES`] values, so a guest cannot make the
//! host hold more than a few hundred KiB for it.

use super::super::bindings::metrics::Unit;
use super::super::state::State;
use super::{Capability, KeyList, Scope, Who};
use crate::observe::metrics::{
    GUEST_DIMENSION, GuestSeries, MAX_DIMENSION_VALUE, MAX_DIMENSIONS, Metrics, valid_name,
};
use serde::Deserialize;
use std::sync::Arc;
use wasmtime::component::{Linker, WasmList, WasmStr};

/// Values one metric may hold in one document (EMF's limit).
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// Values one component instance may add per request.
pub const MAX_VALUES: usize = 1000;

/// The capability.
pub(crate) struct GuestMetrics;

/// Its (no) keys in `[components.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct MetricsConfig {}

impl KeyList for GuestMetrics {
    const KEYS: &'static [&'static str] = &[];
}

/// Where a component's metrics go: `[metrics]` checked, or nowhere.
#[derive(Clone, Default)]
pub(crate) struct MetricsGrant(Option<Arc<Metrics>>);

/// What one instance has added so far.
pub(crate) struct MetricsInstance {
    to: Option<Arc<Metrics>>,
    series: Vec<GuestSeries>,
    values: usize,
    /// Values refused this request (over a limit, or not valid EMF).
    refused: usize,
}

impl Capability for GuestMetrics {
    const NAME: &'static str = "metrics";
    type Config = MetricsConfig;
    type Grant = MetricsGrant;
    type Instance = MetricsInstance;

    fn grant(_config: &MetricsConfig, scope: &Scope<'_>) -> anyhow::Result<MetricsGrant> {
        Ok(MetricsGrant(
            scope
                .metrics
                .map(Metrics::from_config)
                .transpose()?
                .map(Arc::new),
        ))
    }

    fn link(
        linker: &mut Linker<State>,
        get: fn(&mut State) -> &mut MetricsInstance,
    ) -> wasmtime::Result<()> {
        let add = move |mut store: wasmtime::StoreContextMut<'_, State>,
                        (name, value, unit, dimensions): (
            WasmStr,
            f64,
            Unit,
            WasmList<(WasmStr, WasmStr)>,
        )| {
            let to = get(store.data_mut()).to.clone();
            let outcome = (|| {
                if dimensions.len() > MAX_DIMENSIONS {
                    return Err(format!(
                        "{} dimensions; an EMF metric has at most {MAX_DIMENSIONS}",
                        dimensions.len()
                    ));
                }
                let pairs: Vec<(WasmStr, WasmStr)> = dimensions
                    .iter(&mut store)
                    .and_then(Iterator::collect)
                    .map_err(|e| format!("{e}"))?;
                let read = |text: &WasmStr| text.to_str(&store).map_err(|e| format!("{e}"));
                let name = read(&name)?;
                let mut dims = Vec::with_capacity(pairs.len());
                for (key, value) in &pairs {
                    dims.push((read(key)?, read(value)?));
                }
                let dims: Vec<(&str, &str)> = dims.iter().map(|(k, v)| (&**k, &**v)).collect();
                let key = check(to.as_deref(), &name, value, &dims)?;
                Ok((name.into_owned(), key))
            })();
            let instance = get(store.data_mut());
            let outcome =
                outcome.and_then(|(name, dims)| instance.add(name, value, unit_name(unit), dims));
            if outcome.is_err() {
                instance.refused += 1;
            }
            Ok((outcome,))
        };
        linker
            .instance("lamina:http/metrics@0.2.0")?
            .func_wrap("add", add)?;
        Ok(())
    }

    fn instance(grant: &MetricsGrant) -> anyhow::Result<MetricsInstance> {
        Ok(MetricsInstance {
            to: grant.0.clone(),
            series: Vec::new(),
            values: 0,
            refused: 0,
        })
    }

    fn describe(grant: &MetricsGrant) -> Option<String> {
        // Without `[metrics]` there is nothing to say: the values are checked and dropped.
        grant
            .0
            .as_ref()
            .map(|_| format!("EMF under [metrics], at most {MAX_VALUES} values per request"))
    }

    fn finish(instance: &MetricsInstance, who: &Who<'_>) {
        if let Some(to) = &instance.to
            && !instance.series.is_empty()
        {
            to.emit_guest(who.component, who.request_id, &instance.series);
        }
    }

    fn reusable(instance: &MetricsInstance) -> bool {
        instance.refused == 0
    }
}

/// A guest's text in a message: enough to recognise it, never a page of it.
fn shown(text: &str) -> String {
    let end = crate::observe::access::floor_char_boundary(text, 64);
    if end < text.len() {
        format!("{:?}…", &text[..end])
    } else {
        format!("{text:?}")
    }
}

/// Checks one `add` against EMF's rules and the names the document needs; returns its
/// dimensions sorted by name, owned (the series' identity).
fn check(
    to: Option<&Metrics>,
    name: &str,
    value: f64,
    dimensions: &[(&str, &str)],
) -> Result<Vec<(String, String)>, String> {
    let configured: Vec<&str> = to
        .map(|m| m.dimension_names().collect())
        .unwrap_or_default();
    let taken = |n: &str| n == "requestId" || n == GUEST_DIMENSION || configured.contains(&n);
    let rule = "1 to 255 ASCII characters without control characters, not starting with ':'";
    if !valid_name(name) {
        return Err(format!("metric name {}: must be {rule}", shown(name)));
    }
    if taken(name) || dimensions.iter().any(|(k, _)| *k == name) {
        return Err(format!(
            "metric name {}: the document already uses it for a dimension or requestId",
            shown(name)
        ));
    }
    if !value.is_finite() {
        return Err(format!(
            "metric {}: {value} is not a finite number",
            shown(name)
        ));
    }
    let limit = MAX_DIMENSIONS - 1 - configured.len();
    if dimensions.len() > limit {
        return Err(format!(
            "metric {}: {} dimensions; EMF allows {MAX_DIMENSIONS}, of which the host adds {} \
             (component and the config's), so at most {limit} here",
            shown(name),
            dimensions.len(),
            MAX_DIMENSIONS - limit
        ));
    }
    let mut sorted: Vec<(String, String)> = Vec::with_capacity(dimensions.len());
    for (key, value) in dimensions {
        if !valid_name(key) {
            return Err(format!("dimension name {}: must be {rule}", shown(key)));
        }
        if taken(key) {
            return Err(format!(
                "dimension name {}: the host sets it (component, requestId or a dimension of \
                 the config's [metrics])",
                shown(key)
            ));
        }
        if value.is_empty()
            || value.len() > MAX_DIMENSION_VALUE
            || value.chars().any(char::is_control)
        {
            return Err(format!(
                "dimension {}: a value is 1 to {MAX_DIMENSION_VALUE} bytes without control \
                 characters",
                shown(key)
            ));
        }
        if sorted.iter().any(|(k, _)| k == key) {
            return Err(format!("dimension {} given twice", shown(key)));
        }
        sorted.push(((*key).to_owned(), (*value).to_owned()));
    }
    sorted.sort();
    Ok(sorted)
}

impl MetricsInstance {
    /// Adds one checked value, under the limits that depend on what came before.
    fn add(
        &mut self,
        name: String,
        value: f64,
        unit: &'static str,
        dimensions: Vec<(String, String)>,
    ) -> Result<(), String> {
        if self.values >= MAX_VALUES {
            return Err(format!(
                "metric {}: this request already added {MAX_VALUES} values, the host's limit \
                 per component",
                shown(&name)
            ));
        }
        if let Some(other) = self
            .series
            .iter()
            .flat_map(|s| &s.metrics)
            .find(|(n, u, _)| *n == name && *u != unit)
        {
            return Err(format!(
                "metric {}: added as {unit}, but this request added it as {} before",
                shown(&name),
                other.1
            ));
        }
        let at = match self.series.iter().position(|s| s.dimensions == dimensions) {
            Some(at) => at,
            None => {
                self.series.push(GuestSeries {
                    dimensions,
                    metrics: Vec::new(),
                });
                self.series.len() - 1
            }
        };
        let series = &mut self.series[at];
        match series.metrics.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, values)) if values.len() >= MAX_VALUES_PER_METRIC => {
                return Err(format!(
                    "metric {}: already holds {MAX_VALUES_PER_METRIC} values in this request \
                     (EMF's limit per metric)",
                    shown(&name)
                ));
            }
            Some((_, _, values)) => values.push(value),
            None => series.metrics.push((name, unit, vec![value])),
        }
        self.values += 1;
        Ok(())
    }
}

/// The unit as CloudWatch spells it.
fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Seconds => "Seconds",
        Unit::Microseconds => "Microseconds",
        Unit::Milliseconds => "Milliseconds",
        Unit::Bytes => "Bytes",
        Unit::Kilobytes => "Kilobytes",
        Unit::Megabytes => "Megabytes",
        Unit::Gigabytes => "Gigabytes",
        Unit::Terabytes => "Terabytes",
        Unit::Bits => "Bits",
        Unit::Kilobits => "Kilobits",
        Unit::Megabits => "Megabits",
        Unit::Gigabits => "Gigabits",
        Unit::Terabits => "Terabits",
        Unit::Percent => "Percent",
        Unit::Count => "Count",
        Unit::BytesPerSecond => "Bytes/Second",
        Unit::KilobytesPerSecond => "Kilobytes/Second",
        Unit::MegabytesPerSecond => "Megabytes/Second",
        Unit::GigabytesPerSecond => "Gigabytes/Second",
        Unit::TerabytesPerSecond => "Terabytes/Second",
        Unit::BitsPerSecond => "Bits/Second",
        Unit::KilobitsPerSecond => "Kilobits/Second",
        Unit::MegabitsPerSecond => "Megabits/Second",
        Unit::GigabitsPerSecond => "Gigabits/Second",
        Unit::TerabitsPerSecond => "Terabits/Second",
        Unit::CountPerSecond => "Count/Second",
        Unit::None => "None",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::metrics::UNITS;

    fn instance(dimensions: &[(&str, &str)]) -> MetricsInstance {
        let config: crate::observe::MetricsConfig = toml::from_str(&format!(
            "namespace = \"Lamina/test\"\ndimensions = {{ {} }}",
            dimensions
                .iter()
                .map(|(k, v)| format!("{k} = \"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .unwrap();
        MetricsInstance {
            to: Some(Arc::new(Metrics::from_config(&config).unwrap())),
            series: Vec::new(),
            values: 0,
            refused: 0,
        }
    }

    fn add(
        instance: &mut MetricsInstance,
        name: &str,
        value: f64,
        unit: &'static str,
        dimensions: &[(&str, &str)],
    ) -> Result<(), String> {
        let dims = check(instance.to.as_deref(), name, value, dimensions)?;
        instance.add(name.to_owned(), value, unit, dims)
    }

    #[test]
    fn values_aggregate_per_name_and_dimension_set_in_any_order() {
        let mut m = instance(&[]);
        add(&mut m, "Orders", 1.0, "Count", &[("a", "1"), ("b", "2")]).unwrap();
        add(&mut m, "Orders", 2.0, "Count", &[("b", "2"), ("a", "1")]).unwrap();
        add(&mut m, "Orders", 3.0, "Count", &[]).unwrap();
        assert_eq!(m.series.len(), 2);
        assert_eq!(
            m.series[0].metrics,
            vec![("Orders".into(), "Count", vec![1.0, 2.0])]
        );
        let docs =
            m.to.as_ref()
                .unwrap()
                .guest_documents("shop", "r-1", &m.series, 5);
        let first: serde_json::Value = serde_json::from_str(&docs[0]).unwrap();
        assert_eq!(first["Orders"], serde_json::json!([1, 2]), "as numbers");
        assert_eq!(first["component"], "shop");
        assert_eq!(first["requestId"], "r-1");
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["component", "a", "b"]])
        );
    }

    #[test]
    fn every_limit_is_an_error_that_names_it_and_adds_nothing() {
        let mut m = instance(&[("env", "prod")]);
        type Case<'a> = (&'a str, f64, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case<'_>; 9] = [
            ("", 1.0, &[], "1 to 255"),
            (":x", 1.0, &[], "not starting with ':'"),
            ("component", 1.0, &[], "already uses it"),
            ("env", 1.0, &[], "already uses it"),
            ("d", 1.0, &[("d", "v")], "already uses it"),
            ("m", f64::NAN, &[], "not a finite number"),
            ("m", 1.0, &[("env", "x")], "the host sets it"),
            ("m", 1.0, &[("k", "")], "1 to 1024 bytes"),
            ("m", 1.0, &[("k", "a"), ("k", "b")], "given twice"),
        ];
        for (name, value, dims, expected) in cases {
            let error = add(&mut m, name, value, "Count", dims).unwrap_err();
            assert!(error.contains(expected), "{name:?}: {error}");
        }
        let many: Vec<(String, String)> = (0..29).map(|i| (format!("d{i}"), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let error = add(&mut m, "m", 1.0, "Count", &many).unwrap_err();
        assert!(error.contains("at most 28 here"), "{error}");
        assert!(m.series.is_empty() && m.values == 0);
    }

    #[test]
    fn units_stay_fixed_and_counts_are_capped() {
        let mut m = instance(&[]);
        add(&mut m, "Size", 1.0, "Bytes", &[]).unwrap();
        let error = add(&mut m, "Size", 1.0, "Count", &[("x", "y")]).unwrap_err();
        assert!(error.contains("added it as Bytes before"), "{error}");
        for _ in 1..MAX_VALUES_PER_METRIC {
            add(&mut m, "Size", 1.0, "Bytes", &[]).unwrap();
        }
        let error = add(&mut m, "Size", 1.0, "Bytes", &[]).unwrap_err();
        assert!(error.contains("already holds 100 values"), "{error}");
        for i in 0..(MAX_VALUES - MAX_VALUES_PER_METRIC) {
            add(&mut m, &format!("M{}", i % 200), 1.0, "Count", &[]).unwrap();
        }
        let error = add(&mut m, "Another", 1.0, "Count", &[]).unwrap_err();
        assert!(error.contains("already added 1000 values"), "{error}");
        // 201 names under one dimension set: split into documents of at most 100 metrics.
        let docs =
            m.to.as_ref()
                .unwrap()
                .guest_documents("c", "r", &m.series, 1);
        assert_eq!(docs.len(), 3);
    }

    #[test]
    fn every_wit_unit_is_an_emf_unit() {
        use Unit::*;
        let all = [
            Seconds,
            Microseconds,
            Milliseconds,
            Bytes,
            Kilobytes,
            Megabytes,
            Gigabytes,
            Terabytes,
            Bits,
            Kilobits,
            Megabits,
            Gigabits,
            Terabits,
            Percent,
            Count,
            BytesPerSecond,
            KilobytesPerSecond,
            MegabytesPerSecond,
            GigabytesPerSecond,
            TerabytesPerSecond,
            BitsPerSecond,
            KilobitsPerSecond,
            MegabitsPerSecond,
            GigabitsPerSecond,
            TerabitsPerSecond,
            CountPerSecond,
            None,
        ];
        let names: Vec<&str> = all.into_iter().map(unit_name).collect();
        assert_eq!(names, UNITS);
    }
}
