//! Shared by the benchmarks: where the guests are, and how samples become figures.
#![allow(dead_code)] // each benchmark uses a part

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where `cargo xtask guests` put the components (`LAMINA_GUEST_DIR` when set).
pub(crate) fn guest_dir() -> PathBuf {
    std::env::var_os("LAMINA_GUEST_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/wasm32-wasip2/release"),
        PathBuf::from,
    )
}

/// The median, 99th percentile and mean of a run.
pub(crate) struct Stats {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) mean: Duration,
}

pub(crate) fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let total: Duration = samples.iter().sum();
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        mean: total / u32::try_from(samples.len()).unwrap_or(u32::MAX),
    }
}

/// Microseconds.
pub(crate) fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Milliseconds.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
