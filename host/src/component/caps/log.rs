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
//! - **Escaped once, for the format in use.** In text, control characters (CR, LF, ESC, C1
//!   controls, U+2028/2029) and backslashes are written as escapes, so a guest cannot end
//!   a line and forge one that looks like the host's; in JSON the serializer escapes them.
//! - **Fields kept apart.** The host's `component` and `request_id` come first and cannot be
//!   overwritten: guest fields follow them in text, and sit in their own `guest` object in
//!   JSON.

use super::super::bindings::log::Level;
use super::super::state::State;
use super::{Capability, KeyList, Scope, Who};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;
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

/// The capability. It has no keys: every component may log, within the caps.
pub(crate) struct Log;

/// Its (no) keys in `[components.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct LogConfig {}

impl KeyList for Log {
    const KEYS: &'static [&'static str] = &[];
}

impl Capability for Log {
    const NAME: &'static str = "log";
    type Config = LogConfig;
    type Grant = ();
    type Instance = Budget;

    fn grant(_config: &LogConfig, _scope: &Scope<'_>) -> anyhow::Result<()> {
        Ok(())
    }

    fn link(
        linker: &mut Linker<State>,
        get: fn(&mut State) -> &mut Budget,
    ) -> wasmtime::Result<()> {
        link(linker, get)
    }

    fn instance(_grant: &()) -> anyhow::Result<Budget> {
        Ok(Budget::default())
    }

    fn describe(_grant: &()) -> Option<String> {
        Some(format!(
            "{MAX_LINES} lines and {} KiB per request, {} KiB per message",
            MAX_BYTES >> 10,
            MAX_MESSAGE >> 10
        ))
    }

    fn finish(budget: &Budget, who: &Who<'_>) {
        budget.summarize(who.component, who.request_id);
    }
}

/// How log lines are written: set once by [`crate::init_logging`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `timestamp LEVEL target: message key="value" ...`
    Text,
    /// One JSON object per line.
    Json,
}

static FORMAT: OnceLock<Format> = OnceLock::new();

/// Sets the format guest lines are written in (the first call wins).
pub(crate) fn set_format(format: Format) {
    let _ = FORMAT.set(format);
}

fn format() -> Format {
    FORMAT.get().copied().unwrap_or(Format::Text)
}

/// What one component has logged during one request.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    lines: usize,
    bytes: usize,
    dropped_lines: usize,
    dropped_bytes: usize,
}

impl Budget {
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
                "lamina::guest",
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
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} bytes dropped]", &text[..end], text.len() - end)
}

/// Links the `lamina:http/log` import, at every contract version the host serves (the
/// interface is the same in each): strings are read from the guest's memory in place
/// and cut to the caps before anything is copied; `budget` finds the instance's counts.
fn link(linker: &mut Linker<State>, budget: fn(&mut State) -> &mut Budget) -> wasmtime::Result<()> {
    let log =
        move |mut store: wasmtime::StoreContextMut<'_, State>,
              (level, message, fields): (Level, WasmStr, WasmList<(WasmStr, WasmStr)>)| {
            let total_fields = fields.len();
            let kept: Vec<(WasmStr, WasmStr)> = fields
                .iter(&mut store)?
                .take(MAX_FIELDS)
                .collect::<wasmtime::Result<_>>()?;
            let message = truncated(message.to_str(&store)?, MAX_MESSAGE);
            let mut pairs = Vec::with_capacity(kept.len() + 1);
            for (key, value) in &kept {
                pairs.push((
                    truncated(key.to_str(&store)?, MAX_FIELD_KEY),
                    truncated(value.to_str(&store)?, MAX_FIELD_VALUE),
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
            if budget(state).admit(size) && enabled(level) {
                write_line(
                    level,
                    "guest",
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
/// text), when it wrote anything.
pub(crate) fn write_output(component: &str, request_id: &str, output: &str) {
    if !output.is_empty() && enabled(Level::Warn) {
        write_line(
            Level::Warn,
            "lamina::guest",
            "guest wrote to stdout/stderr",
            component,
            request_id,
            &[("output".to_owned(), output.trim_end().to_owned())],
        );
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "TRACE",
        Level::Debug => "DEBUG",
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Error => "ERROR",
    }
}

/// Writes one line to stderr, in the host's format, as one `write` (so lines from
/// concurrent requests do not interleave).
fn write_line(
    level: Level,
    target: &str,
    message: &str,
    component: &str,
    request_id: &str,
    fields: &[(String, String)],
) {
    let mut timestamp = String::new();
    {
        use tracing_subscriber::fmt::time::FormatTime as _;
        let mut writer = tracing_subscriber::fmt::format::Writer::new(&mut timestamp);
        let _ = tracing_subscriber::fmt::time::SystemTime.format_time(&mut writer);
    }
    let line = match format() {
        Format::Text => text_line(
            &timestamp, level, target, message, component, request_id, fields,
        ),
        Format::Json => json_line(
            &timestamp, level, target, message, component, request_id, fields,
        ),
    };
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn text_line(
    timestamp: &str,
    level: Level,
    target: &str,
    message: &str,
    component: &str,
    request_id: &str,
    fields: &[(String, String)],
) -> String {
    let mut line = format!("{timestamp} {:>5} {target}: ", level_name(level));
    escape_into(&mut line, message);
    let _ = write!(line, " component=\"");
    escape_into(&mut line, component);
    let _ = write!(line, "\" request_id=\"");
    escape_into(&mut line, request_id);
    line.push('"');
    for (key, value) in fields {
        line.push(' ');
        escape_key_into(&mut line, key);
        line.push_str("=\"");
        escape_into(&mut line, value);
        line.push('"');
    }
    line.push('\n');
    line
}

fn json_line(
    timestamp: &str,
    level: Level,
    target: &str,
    message: &str,
    component: &str,
    request_id: &str,
    fields: &[(String, String)],
) -> String {
    let guest: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let mut line = serde_json::json!({
        "timestamp": timestamp,
        "level": level_name(level),
        "fields": {
            "message": message,
            "component": component,
            "request_id": request_id,
            "guest": guest,
        },
        "target": target,
    })
    .to_string();
    line.push('\n');
    line
}

/// Whether a character could break a text log line or restyle a terminal.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Appends `text` with control characters and backslashes escaped (`\n`, `\u{1b}`, `\\`)
/// and double quotes as `\"`, so the result is one line whose quoting cannot be broken.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// A field key in text: its characters that are not safe in `key=` become `_`.
fn escape_key_into(out: &mut String, key: &str) {
    if key.is_empty() {
        out.push('_');
    }
    for c in key.chars() {
        out.push(if c.is_alphanumeric() || "-_.".contains(c) {
            c
        } else {
            '_'
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_cannot_be_broken_or_forged() {
        let line = text_line(
            "T",
            Level::Info,
            "guest",
            "ok\n2026-12-01T00:00:00Z ERROR lamina: FORGED host line\x1b[31m\u{2028}\\",
            "auth",
            "r1",
            &[("k\n=\"x".to_owned(), "v\"\r\n".to_owned())],
        );
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(line.ends_with('\n'));
        assert!(!line.contains('\x1b'));
        assert!(
            line.contains(r#"ok\n2026-12-01T00:00:00Z ERROR lamina: FORGED host line\u{1b}[31m\u{2028}\\ component="auth" request_id="r1" k___x="v\"\r\n""#),
            "{line}"
        );
    }

    #[test]
    fn json_lines_escape_once_and_keep_guest_fields_apart() {
        let line = json_line(
            "T",
            Level::Warn,
            "guest",
            "a\nb",
            "auth",
            "r1",
            &[("component".to_owned(), "forged".to_owned())],
        );
        assert_eq!(line.matches('\n').count(), 1);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["fields"]["message"], "a\nb");
        assert_eq!(value["fields"]["component"], "auth");
        assert_eq!(value["fields"]["guest"]["component"], "forged");
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
        };
        Log::grant(&LogConfig::default(), &scope).unwrap();
        assert!(Log::describe(&()).unwrap().contains("1000 lines"));
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
