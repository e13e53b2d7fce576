//! Guest output in the host's log: the `lamina:http/log` import and captured stdout/stderr,
//! bounded, escaped once, and written beside the host's own lines.
//!
//! A guest controls every byte of what it logs, so nothing it sends is trusted with the
//! host's output:
//!
//! - **Bounded.** A message keeps its first [`MAX_MESSAGE`] bytes, a field value its first
//!   [`MAX_FIELD_VALUE`] (a key [`MAX_FIELD_KEY`]), a line its first [`MAX_FIELDS`] fields;
//!   what is cut is replaced by a marker saying how many bytes (or fields) were dropped.
//!   Strings are read from the guest's memory in place, so a log call costs the host memory
//!   proportional to those caps, not to what the guest passed. Each component may write
//!   [`MAX_LINES`] lines and [`MAX_BYTES`] bytes per request; past that, lines are dropped
//!   and one summary line says how many when the request ends.
//! - **Escaped once, for the format in use.** Lines go through the host's log layer
//!   ([`crate::observe::lines`]): in text, control characters (CR, LF, ESC, C1 controls,
//!   U+2028/2029) and backslashes are written as escapes, so a guest cannot end a line and
//!   forge one that looks like the host's; in JSON the serializer escapes them.
//! - **Fields kept apart.** The host's fields (`level`, `requestId`, `component`, ...) come
//!   first and cannot be overwritten: a guest field is a field of the line (a real JSON
//!   field, not an escaped string), and one with a host field's name is written as
//!   `guest_<name>`.

use super::super::bindings::log::Level;
use super::super::state::State;
use super::{Capability, KeyList, Scope, Who};
use crate::observe::access::floor_char_boundary;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;
use wasmtime::component::{Linker, WasmList, WasmStr};

/// Bytes of one message kept.
pub const MAX_MESSAGE: usize = 8 << 10;
/// Bytes of one field key kept.
pub const MAX_FIELD_KEY: usize = 128;
/// Bytes of one field value kept.
pub const MAX_FIELD_VALUE: usize = 2 << 10;
/// Fields kept per line.
pub const MAX_FIELDS: usize = 32;
/// Lines one component may log per request.
pub const MAX_LINES: usize = 1000;
/// Bytes (of messages and fields, as kept) one component may log per request.
pub const MAX_BYTES: usize = 1 << 20;

/// The capability. It has no keys of its own: every component may log, within the caps.
pub(crate) struct Log;

/// Its (no) keys in `[components.NAME]`. The component's `secrets` (the `config`
/// capability's key, in [`Scope`]) are redacted from whatever it logs or prints, so a
/// component cannot put its own secret in the log by mistake.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct LogConfig {}

/// Secret values shorter than this are not redacted (replacing every `a` would garble
/// every line, and a one- or two-character secret protects nothing); as in config errors.
const MIN_SECRET: usize = 3;

/// The secret values to redact, longest first (so one that contains another goes whole).
#[derive(Clone, Debug, Default)]
pub(crate) struct Redact(Arc<[String]>);

impl Redact {
    fn new(secrets: &super::Secrets) -> Self {
        let mut values: Vec<String> = secrets
            .values()
            .filter(|v| v.len() >= MIN_SECRET)
            .map(str::to_owned)
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Self(values.into())
    }

    /// `text` with every secret replaced, cut to about `max` bytes with a marker. The cut
    /// is chosen in the original text and moved past the end of any secret that starts
    /// before it, so no part of a secret survives a cut; only the kept part plus the
    /// longest secret is searched, so a long text costs no more than a short one.
    fn kept(&self, text: Cow<'_, str>, max: usize) -> String {
        let Some(longest) = self.0.first().map(String::len) else {
            return truncated(text, max);
        };
        let mut cut = floor_char_boundary(&text, max);
        loop {
            let window = &text[..floor_char_boundary(&text, cut.saturating_add(longest))];
            let mut next = cut;
            for secret in self.0.iter() {
                for (at, _) in window.match_indices(secret.as_str()) {
                    if at < cut && at + secret.len() > next {
                        next = at + secret.len();
                    }
                }
            }
            if next == cut {
                break;
            }
            cut = next;
        }
        let mut kept = Cow::Borrowed(&text[..cut]);
        for secret in self.0.iter() {
            if kept.contains(secret.as_str()) {
                kept = Cow::Owned(kept.replace(secret.as_str(), crate::redact::REDACTED));
            }
        }
        if cut == text.len() {
            kept.into_owned()
        } else {
            format!("{kept}…[{} bytes dropped]", text.len() - cut)
        }
    }
}

impl KeyList for Log {
    const KEYS: &'static [&'static str] = &[];
}

impl Capability for Log {
    const NAME: &'static str = "log";
    type Config = LogConfig;
    type Grant = Redact;
    type Instance = Budget;

    fn grant(_config: &LogConfig, scope: &Scope<'_>) -> anyhow::Result<Redact> {
        Ok(Redact::new(scope.secrets))
    }

    fn link(
        linker: &mut Linker<State>,
        get: fn(&mut State) -> &mut Budget,
    ) -> wasmtime::Result<()> {
        link(linker, get)
    }

    fn instance(grant: &Redact) -> anyhow::Result<Budget> {
        Ok(Budget {
            redact: grant.clone(),
            ..Budget::default()
        })
    }

    fn describe(_grant: &Redact) -> Option<String> {
        Some(format!(
            "{MAX_LINES} lines and {} KiB per request, {} KiB per message",
            MAX_BYTES >> 10,
            MAX_MESSAGE >> 10
        ))
    }

    fn finish(budget: &Budget, who: &Who<'_>) {
        budget.summarize(who.component, who.request_id);
    }

    fn reusable(budget: &Budget) -> bool {
        budget.dropped_lines == 0
    }
}

/// What one component has logged during one request.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// The component's secrets, redacted from its lines.
    redact: Redact,
    lines: usize,
    bytes: usize,
    dropped_lines: usize,
    dropped_bytes: usize,
}

impl Budget {
    /// What the component's output is redacted of.
    pub(crate) fn redact(&self) -> &Redact {
        &self.redact
    }

    /// Whether a line of `bytes` may still be written; counts it either way.
    fn admit(&mut self, bytes: usize) -> bool {
        if self.lines < MAX_LINES && self.bytes + bytes <= MAX_BYTES {
            self.lines += 1;
            self.bytes += bytes;
            true
        } else {
            self.dropped_lines += 1;
            self.dropped_bytes += bytes;
            false
        }
    }

    /// One line for the end of the request if anything was dropped.
    fn summarize(&self, component: &str, request_id: &str) {
        if self.dropped_lines > 0 {
            write_line(
                Level::Warn,
                false,
                &format!(
                    "guest log limit reached: {} more lines ({} bytes) dropped; a component may \
                     log {MAX_LINES} lines and {MAX_BYTES} bytes per request",
                    self.dropped_lines, self.dropped_bytes
                ),
                component,
                request_id,
                &[],
            );
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary, with a marker saying how
/// many bytes were dropped.
fn truncated(text: Cow<'_, str>, max: usize) -> String {
    if text.len() <= max {
        return text.into_owned();
    }
    let end = floor_char_boundary(&text, max);
    format!("{}…[{} bytes dropped]", &text[..end], text.len() - end)
}

/// Links the `lamina:http/log` import, at every contract version the host serves (the
/// interface is the same in each): strings are read from the guest's memory in place
/// and cut to the caps before anything is copied; `budget` finds the instance's counts.
fn link(linker: &mut Linker<State>, budget: fn(&mut State) -> &mut Budget) -> wasmtime::Result<()> {
    let log =
        move |mut store: wasmtime::StoreContextMut<'_, State>,
              (level, message, fields): (Level, WasmStr, WasmList<(WasmStr, WasmStr)>)| {
            // A line the filter drops costs nothing and does not count against the caps.
            if !enabled(level) {
                return Ok(());
            }
            let total_fields = fields.len();
            let kept: Vec<(WasmStr, WasmStr)> = fields
                .iter(&mut store)?
                .take(MAX_FIELDS)
                .collect::<wasmtime::Result<_>>()?;
            let redact = budget(store.data_mut()).redact.clone();
            let message = redact.kept(message.to_str(&store)?, MAX_MESSAGE);
            let mut pairs = Vec::with_capacity(kept.len() + 1);
            for (key, value) in &kept {
                pairs.push((
                    redact.kept(key.to_str(&store)?, MAX_FIELD_KEY),
                    redact.kept(value.to_str(&store)?, MAX_FIELD_VALUE),
                ));
            }
            if total_fields > MAX_FIELDS {
                pairs.push((
                    "fields_dropped".to_owned(),
                    (total_fields - MAX_FIELDS).to_string(),
                ));
            }
            let size = message.len() + pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
            let state = store.data_mut();
            if budget(state).admit(size) {
                write_line(
                    level,
                    true,
                    &message,
                    &state.component,
                    &state.request_id,
                    &pairs,
                );
            }
            Ok(())
        };
    for instance in ["lamina:http/log@0.2.0", "lamina:http/log@0.1.0"] {
        linker.instance(instance)?.func_wrap("log", log)?;
    }
    Ok(())
}

/// Whether the host's log filter (`LAMINA_LOG`) lets guest lines of `level` through.
fn enabled(level: Level) -> bool {
    match level {
        Level::Trace => tracing::enabled!(target: "guest", tracing::Level::TRACE),
        Level::Debug => tracing::enabled!(target: "guest", tracing::Level::DEBUG),
        Level::Info => tracing::enabled!(target: "guest", tracing::Level::INFO),
        Level::Warn => tracing::enabled!(target: "guest", tracing::Level::WARN),
        Level::Error => tracing::enabled!(target: "guest", tracing::Level::ERROR),
    }
}

/// What a component wrote to stdout/stderr, as one warning line (escaped like any guest
/// text, its secrets redacted), when it wrote anything.
pub(crate) fn write_output(who: &Who<'_>, output: &str) {
    if !output.is_empty() && tracing::enabled!(target: "lamina::guest", tracing::Level::WARN) {
        let output = who
            .redact
            .kept(Cow::Borrowed(output.trim_end()), usize::MAX);
        write_line(
            Level::Warn,
            false,
            "guest wrote to stdout/stderr",
            who.component,
            who.request_id,
            &[("output".to_owned(), output)],
        );
    }
}

/// Writes one line through the host's log layer ([`crate::observe`]), which escapes it for
/// the format in use and adds the request's fields: `target` is `guest` for what the guest
/// logged, `lamina::guest` for what the host says about it. The guest's `fields` travel as
/// one JSON object the host serialized, and become fields of the line after the host's.
fn write_line(
    level: Level,
    from_guest: bool,
    message: &str,
    component: &str,
    request_id: &str,
    fields: &[(String, String)],
) {
    use crate::observe::lines::GUEST_TARGET;
    use tracing::Level as L;
    let guest: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let guest = serde_json::Value::Object(guest).to_string();
    macro_rules! line {
        ($target:expr, $level:expr) => {
            tracing::event!(
                target: $target,
                $level,
                component,
                requestId = request_id,
                guest_fields = guest.as_str(),
                "{message}"
            )
        };
    }
    match (from_guest, level) {
        (true, Level::Trace) => line!(GUEST_TARGET, L::TRACE),
        (true, Level::Debug) => line!(GUEST_TARGET, L::DEBUG),
        (true, Level::Info) => line!(GUEST_TARGET, L::INFO),
        (true, Level::Warn) => line!(GUEST_TARGET, L::WARN),
        (true, Level::Error) => line!(GUEST_TARGET, L::ERROR),
        (false, Level::Trace) => line!("lamina::guest", L::TRACE),
        (false, Level::Debug) => line!("lamina::guest", L::DEBUG),
        (false, Level::Info) => line!("lamina::guest", L::INFO),
        (false, Level::Warn) => line!("lamina::guest", L::WARN),
        (false, Level::Error) => line!("lamina::guest", L::ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_whole_even_across_the_cut() {
        let secrets: super::super::Secrets =
            toml::from_str("token = \"s3cr3t-token\"\nlonger = \"s3cr3t-token-2\"\nshort = \"ab\"")
                .unwrap();
        let redact = Redact::new(&secrets);
        assert_eq!(
            redact.kept(Cow::Borrowed("a s3cr3t-token-2 b s3cr3t-token ab"), 100),
            "a <redacted> b <redacted> ab"
        );
        // The secret starts before the cut and ends after it: no prefix of it survives.
        let cut = redact.kept(Cow::Borrowed("xxxxs3cr3t-token yyyy"), 8);
        assert_eq!(cut, "xxxx<redacted>…[5 bytes dropped]");
        // A replacement shortens the text: what follows is cut where the original was.
        let text = format!("s3cr3t-token{}s3cr3t-token", "z".repeat(30));
        let cut = redact.kept(Cow::Borrowed(&text), 44);
        assert!(!cut.contains("s3c"), "{cut}");
        assert_eq!(cut, format!("<redacted>{}<redacted>", "z".repeat(30)));
        let none = Redact::default();
        assert_eq!(
            none.kept(Cow::Borrowed("s3cr3t-token"), 100),
            "s3cr3t-token"
        );
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary_with_a_marker() {
        let text = "é".repeat(10);
        let cut = truncated(Cow::Borrowed(&text), 5);
        assert_eq!(cut, "éé…[16 bytes dropped]");
        assert_eq!(truncated(Cow::Borrowed("short"), 5), "short");
    }

    #[test]
    fn links_once_and_grants_with_no_keys() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<State>::new(&engine);
        Log::link(&mut linker, |s| &mut s.caps.log).unwrap();
        assert!(
            Log::link(&mut linker, |s| &mut s.caps.log).is_err(),
            "the import is defined"
        );
        let scope = Scope {
            component: "c",
            base_dir: std::path::Path::new("/"),
            stores: &Default::default(),
            secrets: &Default::default(),
            metrics: None,
        };
        Log::grant(&LogConfig::default(), &scope).unwrap();
        assert!(
            Log::describe(&Redact::default())
                .unwrap()
                .contains("1000 lines")
        );
    }

    #[test]
    fn the_budget_admits_lines_and_bytes_up_to_the_caps() {
        let mut budget = Budget::default();
        for _ in 0..MAX_LINES {
            assert!(budget.admit(10));
        }
        assert!(!budget.admit(10));
        assert_eq!((budget.dropped_lines, budget.dropped_bytes), (1, 10));
        let mut budget = Budget::default();
        assert!(budget.admit(MAX_BYTES));
        assert!(!budget.admit(1));
    }
}
