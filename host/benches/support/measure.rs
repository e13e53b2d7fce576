//! Shared by the benchmarks: where the guests are, and how samples become figures.
#![allow(dead_code)] // each benchmark uses a part

use lamina::component::{CallStage, Observer};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Mebibytes.
pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A `kB` field of `/proc/PID/status` (`VmRSS:`, `VmHWM:`), in bytes; 0 when unreadable.
pub(crate) fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// An API Gateway HTTP API (v2) event for `GET path`.
pub(crate) fn get_event(path: &str) -> Vec<u8> {
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json"},
        "requestContext": {"http": {"method": "GET", "path": path}, "stage": "$default"},
        "isBase64Encoded": false,
    })
    .to_string()
    .into_bytes()
}

/// Time spent in each stage of component calls, summed, as the runtime's observer reports
/// it (nanoseconds: store, instantiate, call, drop).
#[derive(Default)]
pub(crate) struct Timings([AtomicU64; 4]);

impl Observer for Timings {
    fn stage(&self, _component: &str, _request_id: &str, stage: CallStage, took: Duration) {
        let slot = match stage {
            CallStage::Store => 0,
            CallStage::Instantiate => 1,
            CallStage::Call => 2,
            CallStage::Drop => 3,
        };
        self.0[slot].fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

impl Timings {
    pub(crate) fn reset(&self) {
        for slot in &self.0 {
            slot.store(0, Ordering::Relaxed);
        }
    }

    /// Microseconds per request in `stage` (0..4: store, instantiate, call, drop) over
    /// `requests`.
    pub(crate) fn per_request(&self, stage: usize, requests: usize) -> f64 {
        self.0[stage].load(Ordering::Relaxed) as f64 / 1e3 / requests as f64
    }
}

/// Minor page faults this process has taken so far (`getrusage`).
pub(crate) fn minor_faults() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` fills the buffer for `RUSAGE_SELF` and reports failure otherwise;
    // the buffer is read only when it succeeded.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) == 0 {
            u64::try_from(usage.assume_init().ru_minflt).unwrap_or(0)
        } else {
            0
        }
    }
}
