//! The tracing layer every log line goes through, host and guest: flat JSON objects in
//! Lambda's conventions, or escaped text, with the request's fields on every line.
//!
//! Written here rather than with `tracing_subscriber::fmt` because its JSON puts span
//! fields in a nested `span`/`spans` object, where Lambda's per-request fields
//! (`requestId`, ...) belong at the top level beside `level` and `message` — Lambda's log
//! level filter and Logs Insights' discovered fields both read top-level keys — and
//! because guest text must be escaped so it cannot end a line and forge another.
//!
//! Per-request debug sampling lives here too: when any app samples (`[logging]
//! sample-rate`), `DEBUG` lines of the host and guests are let through inside a request
//! whose span is marked `sampled`, whatever the level filter says.

use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Target of the spans the host opens per request and per component call.
pub(crate) const SPAN_TARGET: &str = "lamina::observe";
/// Target of the access line.
pub(crate) const ACCESS_TARGET: &str = "lamina::access";
/// Target of what components log.
pub(crate) const GUEST_TARGET: &str = "guest";
/// The field of a guest line that holds the guest's own fields: a JSON object of strings
/// the host serialized. They become fields of the line, after (never over) the host's.
pub(crate) const GUEST_FIELDS: &str = "guest_fields";
/// Prefix of a host field whose value is JSON text the host serialized; written as that
/// JSON under the name without the prefix (`json.components_ms`).
pub(crate) const JSON_PREFIX: &str = "json.";

/// How lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `timestamp LEVEL target: message key="value" ...`, escaped: for a terminal.
    Text,
    /// One flat JSON object per line: for CloudWatch Logs.
    Json,
}

impl LogFormat {
    /// `json` or `text`, in any case (Lambda's `AWS_LAMBDA_LOG_FORMAT` says `JSON`/`Text`).
    ///
    /// # Errors
    ///
    /// Any other word, named in the message.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "text" => Ok(Self::Text),
            _ => Err(format!("{text:?} is not a log format (json or text)")),
        }
    }

    /// The format the environment asks for: `LAMINA_LOG_FORMAT`, else Lambda's
    /// `AWS_LAMBDA_LOG_FORMAT`, else JSON inside Lambda (`AWS_LAMBDA_RUNTIME_API` set) and
    /// text elsewhere. A value that is not a format is reported and the default used.
    fn from_env() -> (Self, Option<String>) {
        let default = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            Self::Json
        } else {
            Self::Text
        };
        for name in ["LAMINA_LOG_FORMAT", "AWS_LAMBDA_LOG_FORMAT"] {
            if let Ok(text) = std::env::var(name) {
                return match Self::parse(&text) {
                    Ok(format) => (format, None),
                    Err(e) => (default, Some(format!("{name}: {e}; writing {default:?}"))),
                };
            }
        }
        (default, None)
    }
}

/// The level filter the environment asks for: `LAMINA_LOG` (an `EnvFilter` directive
/// list, `info` by default), else Lambda's `AWS_LAMBDA_LOG_LEVEL` for the host and guests
/// (other crates at `warn`, or `error` when that is the level).
fn filter_from_env() -> (EnvFilter, Option<String>) {
    if let Ok(text) = std::env::var("LAMINA_LOG") {
        return match EnvFilter::try_new(&text) {
            Ok(filter) => (filter, None),
            Err(e) => (
                EnvFilter::new("info"),
                Some(format!(
                    "LAMINA_LOG: {text:?} is not a filter ({e}); logging at info"
                )),
            ),
        };
    }
    if let Ok(text) = std::env::var("AWS_LAMBDA_LOG_LEVEL") {
        return match lambda_level(&text) {
            Some(level) => (EnvFilter::new(lambda_directives(level)), None),
            None => (
                EnvFilter::new("info"),
                Some(format!(
                    "AWS_LAMBDA_LOG_LEVEL: {text:?} is not a level (TRACE, DEBUG, INFO, WARN, \
                     ERROR, FATAL); logging at info"
                )),
            ),
        };
    }
    (EnvFilter::new("info"), None)
}

/// Lambda's log levels; `FATAL` is `ERROR` (the most severe level tracing has).
fn lambda_level(text: &str) -> Option<LevelFilter> {
    Some(match text.to_ascii_uppercase().as_str() {
        "TRACE" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "INFO" => LevelFilter::INFO,
        "WARN" => LevelFilter::WARN,
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        _ => return None,
    })
}

/// The host and its guests at `level`, the crates beneath them no chattier than `warn`.
fn lambda_directives(level: LevelFilter) -> String {
    let others = level.min(LevelFilter::WARN);
    format!("{others},lamina={level},{GUEST_TARGET}={level}")
}

/// Fields of the function itself, on every JSON line: Powertools Logger's names, from the
/// variables Lambda sets (absent outside Lambda).
fn function_fields_from_env() -> Vec<(&'static str, Value)> {
    let mut fields = Vec::new();
    if let Ok(name) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
        fields.push(("function_name", Value::String(name)));
    }
    if let Ok(size) = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
        let value = size.parse::<u64>().map_or(Value::String(size), Value::from);
        fields.push(("function_memory_size", value));
    }
    if let Ok(service) = std::env::var("POWERTOOLS_SERVICE_NAME") {
        fields.push(("service", Value::String(service)));
    }
    fields
}

/// Whether any loaded app samples debug lines per request. Set once, never cleared: a
/// later app without sampling only costs the per-event check.
static SAMPLING: AtomicBool = AtomicBool::new(false);

/// Lets `DEBUG` lines through in sampled requests from now on (called when an app with
/// `sample-rate` loads). Callsites already registered as off are asked again.
pub(crate) fn enable_sampling() {
    if !SAMPLING.swap(true, Ordering::SeqCst) {
        tracing::callsite::rebuild_interest_cache();
    }
}

/// Installs the layer on stderr as the process's subscriber, in `format` when given, else
/// the environment's ([`LogFormat`]), with the environment's level. Variables that could
/// not be read are reported in the first lines. A second call keeps the first subscriber.
pub fn init(format: Option<LogFormat>) {
    let (env_format, format_warning) = LogFormat::from_env();
    let (filter, filter_warning) = filter_from_env();
    let layer = Lines::new(format.unwrap_or(env_format), filter, std::io::stderr);
    if tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .is_ok()
    {
        for warning in [format_warning, filter_warning].into_iter().flatten() {
            tracing::warn!("{warning}");
        }
    }
}

/// A subscriber writing lines in `format` at `filter` (an `EnvFilter` directive list) to
/// `writer`: for benchmarks and tests that measure or read the lines in-process.
///
/// # Errors
///
/// When `filter` is not a directive list.
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
) -> Result<impl Subscriber + Send + Sync + 'static, String>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).map_err(|e| format!("{filter:?}: {e}"))?;
    Ok(tracing_subscriber::registry().with(Lines::new(format, filter, writer)))
}

/// The layer: filters (the level filter, widened for sampled requests), keeps each span's
/// fields, and writes each event as one line with one `write`.
///
/// Not generic over its writer, so the host can find it in the current dispatcher
/// ([`write_direct`]) whatever it writes to.
pub(crate) struct Lines {
    format: LogFormat,
    base: EnvFilter,
    /// The level filter turns everything off: the host's spans are not opened either.
    off: bool,
    /// Writes one whole line.
    write: WriteLine,
    function: Vec<(&'static str, Value)>,
}

impl Lines {
    fn new<W>(format: LogFormat, base: EnvFilter, writer: W) -> Self
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        let off = <EnvFilter as Layer<tracing_subscriber::Registry>>::max_level_hint(&base)
            == Some(LevelFilter::OFF);
        Self {
            format,
            base,
            off,
            write: Box::new(move |line| {
                let _ = writer.make_writer().write_all(line);
            }),
            function: function_fields_from_env(),
        }
    }

    /// Ends `line` and writes it with one `write`.
    fn emit(&self, mut line: String) {
        line.push('\n');
        (self.write)(line.as_bytes());
    }
}

/// Writes one whole line to wherever the layer writes.
type WriteLine = Box<dyn Fn(&[u8]) + Send + Sync>;

/// A field value of a line the host writes without a `tracing` event ([`write_direct`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Direct<'a> {
    Str(&'a str),
    U64(u64),
    F64(f64),
    Bool(bool),
    /// JSON text the host serialized, written as it is.
    Json(&'a str),
}

impl Direct<'_> {
    fn push_json(self, out: &mut String) {
        match self {
            Self::Str(text) => push_json_str(out, text),
            Self::U64(n) => {
                let _ = write!(out, "{n}");
            }
            Self::F64(x) => match serde_json::Number::from_f64(x) {
                Some(n) => {
                    let _ = write!(out, "{n}");
                }
                None => out.push_str("null"),
            },
            Self::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Self::Json(text) => out.push_str(text),
        }
    }

    fn push_text(self, out: &mut String) {
        match self {
            Self::Str(text) => {
                out.push('"');
                escape_into(out, text);
                out.push('"');
            }
            // Numbers, booleans and the host's JSON (which has no raw control character)
            // are one line as they are.
            other => other.push_json(out),
        }
    }
}

/// Writes an `INFO` line at `target` with `message` and `fields` (in that order, each name
/// once; the first wins) through the current subscriber, when that is the host's layer,
/// without a `tracing` event: no per-field conversion and no span walk, for the line the
/// host writes on every request (the access line), whose fields it holds itself — the
/// request span's included. The caller checks the level filter first
/// (`tracing::enabled!`). Returns false when the current subscriber is another one: the
/// caller then logs a `tracing` event for it.
pub(crate) fn write_direct(
    target: &'static str,
    message: &str,
    fields: &[(&'static str, Direct<'_>)],
) -> bool {
    tracing::dispatcher::get_default(|dispatch| {
        let Some(lines) = dispatch.downcast_ref::<Lines>() else {
            return false;
        };
        if lines.off {
            return true;
        }
        let line = match lines.format {
            LogFormat::Json => {
                let mut object = JsonObject::new();
                object.put_timestamp();
                object.put_str("level", "INFO");
                object.put_str("message", message);
                object.put_str("logger", target);
                for (name, value) in fields {
                    if object.key(name) {
                        value.push_json(&mut object.out);
                    }
                }
                for (name, value) in &lines.function {
                    object.put(name, &Written::Value(value));
                }
                object.finish()
            }
            LogFormat::Text => {
                let mut line = String::with_capacity(256);
                push_timestamp(&mut line);
                let _ = write!(line, "  INFO {target}: ");
                direct_text(&mut line, target, message, fields);
                line
            }
        };
        lines.emit(line);
        true
    })
}

/// The text of a direct line after its level and target: the access line's aligned
/// columns, or the message; then the other fields as ` name=value`.
pub(crate) fn direct_text(
    line: &mut String,
    target: &str,
    message: &str,
    fields: &[(&'static str, Direct<'_>)],
) {
    let mut shown: Vec<&str> = Vec::with_capacity(fields.len());
    if target == ACCESS_TARGET {
        shown.extend(access_columns(line, fields));
    } else {
        escape_into(line, message);
    }
    // `function_request_id` is `requestId` again, for Powertools queries: not in text.
    shown.push("function_request_id");
    for (name, value) in fields {
        if !shown.contains(name) {
            shown.push(name);
            line.push(' ');
            escape_key_into(line, name);
            line.push('=');
            value.push_text(line);
        }
    }
}

/// The fields recorded on a span, kept in its extensions for the lines logged inside it.
struct SpanFields(Vec<(&'static str, Value)>);

/// Marks a request span whose debug lines are sampled in.
struct Sampled;

/// A host span: always open (unless logging is off), since lines inside them take their
/// request fields from them.
fn is_own_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.target() == SPAN_TARGET
}

/// A line sampling may let through: a `DEBUG` event of the host or a guest (or an
/// `enabled!` check for one, which is not an event but a hint).
fn samplable(meta: &Metadata<'_>) -> bool {
    !meta.is_span()
        && *meta.level() == Level::DEBUG
        && (meta.target().starts_with("lamina") || meta.target() == GUEST_TARGET)
}

/// `lambda_runtime` logs every error a handler returns at its `layers::panic` target; the
/// Lambda loop logs a rejected event itself, with the request id, so that line would be a
/// second copy. The runtime's line for a real panic carries an `error` field: kept.
fn is_runtime_copy(meta: &Metadata<'_>) -> bool {
    meta.target() == "lambda_runtime::layers::panic" && meta.fields().field("error").is_none()
}

impl<S> Layer<S> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // The base filter sees every callsite first, so its span-scoped directives
        // (`[component{component=auth}]=debug`) know the host's spans too.
        let base = <EnvFilter as Layer<S>>::register_callsite(&self.base, meta);
        if self.off || is_runtime_copy(meta) {
            // Static: decided here, since an `always` callsite never reaches `enabled`.
            Interest::never()
        } else if is_own_span(meta) {
            Interest::always()
        } else if base.is_never() && samplable(meta) && SAMPLING.load(Ordering::Relaxed) {
            Interest::sometimes()
        } else {
            base
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, cx: Context<'_, S>) -> bool {
        if self.off || is_runtime_copy(meta) {
            return false;
        }
        is_own_span(meta)
            || <EnvFilter as Layer<S>>::enabled(&self.base, meta, cx.clone())
            || (samplable(meta) && SAMPLING.load(Ordering::Relaxed) && in_sampled_request(&cx))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        if self.off {
            return Some(LevelFilter::OFF);
        }
        let floor = if SAMPLING.load(Ordering::Relaxed) {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        };
        <EnvFilter as Layer<S>>::max_level_hint(&self.base).map(|hint| hint.max(floor))
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, cx: Context<'_, S>) {
        <EnvFilter as Layer<S>>::on_new_span(&self.base, attrs, id, cx.clone());
        let Some(span) = cx.span(id) else { return };
        let mut fields = Vec::new();
        attrs.record(&mut Collect {
            fields: &mut fields,
            message: None,
        });
        let mut extensions = span.extensions_mut();
        if is_sampled(&fields) {
            extensions.insert(Sampled);
        }
        extensions.insert(SpanFields(fields));
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, cx: Context<'_, S>) {
        <EnvFilter as Layer<S>>::on_record(&self.base, id, values, cx.clone());
        let Some(span) = cx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let mut sampled = false;
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Collect {
                fields,
                message: None,
            });
            sampled = is_sampled(fields);
        }
        if sampled && extensions.get_mut::<Sampled>().is_none() {
            extensions.insert(Sampled);
        }
    }

    fn on_enter(&self, id: &span::Id, cx: Context<'_, S>) {
        <EnvFilter as Layer<S>>::on_enter(&self.base, id, cx);
    }

    fn on_exit(&self, id: &span::Id, cx: Context<'_, S>) {
        <EnvFilter as Layer<S>>::on_exit(&self.base, id, cx);
    }

    fn on_close(&self, id: span::Id, cx: Context<'_, S>) {
        <EnvFilter as Layer<S>>::on_close(&self.base, id, cx);
    }

    fn on_event(&self, event: &Event<'_>, cx: Context<'_, S>) {
        let mut message = String::new();
        let mut fields = Vec::new();
        event.record(&mut Collect {
            fields: &mut fields,
            message: Some(&mut message),
        });
        // The request's fields: the innermost span's first (a component call's, then its
        // request's), so the more specific value wins. Every field a span or the event
        // declares is the host's, set or not: a guest field cannot fill one in. Only a
        // guest's line needs that list.
        let spans: Vec<_> = cx.event_scope(event).into_iter().flatten().collect();
        let mut reserved: Vec<&'static str> = Vec::new();
        if fields.iter().any(|(name, _)| *name == GUEST_FIELDS) {
            reserved.extend(event.metadata().fields().iter().map(|f| f.name()));
            for span in &spans {
                reserved.extend(span.metadata().fields().iter().map(|f| f.name()));
            }
        }
        // Read in place, under each span's extensions lock, without copying the values.
        let extensions: Vec<_> = spans.iter().map(|span| span.extensions()).collect();
        let context: Vec<&(&'static str, Value)> = extensions
            .iter()
            .filter_map(|e| e.get::<SpanFields>())
            .flat_map(|SpanFields(fields)| fields.iter())
            .collect();
        let line = Line {
            meta: event.metadata(),
            message: &message,
            fields: &fields,
            context: &context,
            reserved: &reserved,
        };
        self.emit(match self.format {
            LogFormat::Json => line.json(&self.function),
            LogFormat::Text => line.text(),
        });
    }
}

fn is_sampled(fields: &[(&'static str, Value)]) -> bool {
    fields
        .iter()
        .any(|(name, value)| *name == "sampled" && *value == Value::Bool(true))
}

/// Whether the current span is (inside) a request whose debug lines are sampled in.
fn in_sampled_request<S>(cx: &Context<'_, S>) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    cx.lookup_current().is_some_and(|span| {
        span.scope()
            .any(|s| s.extensions().get::<Sampled>().is_some())
    })
}

/// Records fields as JSON values: strings, numbers and booleans as themselves, anything
/// else by its `Debug` (which for `%value` fields is its `Display`).
struct Collect<'a> {
    fields: &'a mut Vec<(&'static str, Value)>,
    /// Where an event's `message` goes (spans have none).
    message: Option<&'a mut String>,
}

impl Collect<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message"
            && let Some(message) = self.message.as_deref_mut()
        {
            match value {
                Value::String(text) => *message = text,
                other => *message = other.to_string(),
            }
            return;
        }
        match self
            .fields
            .iter_mut()
            .find(|(name, _)| *name == field.name())
        {
            Some((_, old)) => *old = value,
            None => self.fields.push((field.name(), value)),
        }
    }
}

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

/// One event with what it is written from.
struct Line<'a> {
    meta: &'a Metadata<'a>,
    message: &'a str,
    /// The event's own fields.
    fields: &'a [(&'static str, Value)],
    /// Its spans' fields, innermost first.
    context: &'a [&'a (&'static str, Value)],
    /// Every field name the host declares for the line, set or not.
    reserved: &'a [&'static str],
}

/// Names the host writes on lines besides span and event fields.
const HOST_NAMES: &[&str] = &[
    "timestamp",
    "level",
    "message",
    "logger",
    "function_name",
    "function_memory_size",
    "service",
];

/// The time now as RFC 3339 in UTC, to the microsecond (`2026-12-02T15:34:53.123456Z`),
/// appended to `out` (humantime writes it from a fixed buffer in one piece). A clock set
/// before 1970 is written as the epoch: humantime panics on such a time, and a log line
/// must never panic.
fn push_timestamp(out: &mut String) {
    let now = std::time::SystemTime::now().max(std::time::UNIX_EPOCH);
    let _ = write!(out, "{}", humantime::format_rfc3339_micros(now));
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// A guest's fields, parsed back from the JSON object the host wrote for them.
fn guest_fields(value: &Value) -> serde_json::Map<String, Value> {
    match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or_default(),
        _ => serde_json::Map::new(),
    }
}

/// A host field's value as written.
enum Written<'a> {
    Value(&'a Value),
    /// JSON text the host serialized (a `json.` field), written as it is.
    Raw(&'a str),
}

/// A host field's name and value as written: `json.` fields as the JSON they hold.
fn host_field<'a>(name: &'static str, value: &'a Value) -> (&'static str, Written<'a>) {
    match (name.strip_prefix(JSON_PREFIX), value) {
        (Some(bare), Value::String(text)) => (bare, Written::Raw(text)),
        _ => (name, Written::Value(value)),
    }
}

/// Appends `text` as a JSON string (quoted, escaped), without an intermediate copy: runs
/// that need no escape (nearly all of a log line) are copied whole, and found eight bytes
/// at a time.
///
/// Written here rather than with `serde_json`'s serializer, which looks up every byte in a
/// table: the access line and the EMF document (about 1 KB per request together) were the
/// largest cost of logging in the pipeline benchmark before the word-at-a-time scan.
pub(crate) fn push_json_str(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let bytes = text.as_bytes();
    let mut clean = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8)
            && !needs_escape(u64::from_le_bytes(word.try_into().unwrap_or_default()))
        {
            at += 8;
            continue;
        }
        let byte = bytes[at];
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => {
                at += 1;
                continue;
            }
        };
        // Every byte matched is ASCII, so `at` is a character boundary.
        out.push_str(&text[clean..at]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{:04x}", byte);
        } else {
            out.push_str(escaped);
        }
        at += 1;
        clean = at;
    }
    out.push_str(&text[clean..]);
    out.push('"');
}

/// Whether any of the eight bytes of `word` is a control character, `"` or `\\` (what a
/// JSON string escapes). The classic zero-byte tests: a byte below 0x20 borrows when 0x20
/// is taken from it; a byte equal to `c` is zero after XOR with `c`. Bytes of 0x80 and
/// above (UTF-8 past ASCII) never match.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    below(word, 0x20)
        | below(word ^ (ONES * u64::from(b'"')), 1)
        | below(word ^ (ONES * u64::from(b'\\')), 1)
        != 0
}

/// A JSON object written key by key, in order, each key at most once (the first wins),
/// straight into one string.
struct JsonObject<'k> {
    out: String,
    keys: Vec<&'k str>,
}

impl<'k> JsonObject<'k> {
    fn new() -> Self {
        Self {
            out: String::with_capacity(512),
            keys: Vec::with_capacity(24),
        }
    }

    fn has(&self, key: &str) -> bool {
        self.keys.contains(&key)
    }

    /// Starts member `key`; false when the object has one already.
    fn key(&mut self, key: &'k str) -> bool {
        if self.has(key) {
            return false;
        }
        self.out.push(if self.keys.is_empty() { '{' } else { ',' });
        push_json_str(&mut self.out, key);
        self.out.push(':');
        self.keys.push(key);
        true
    }

    /// Member `timestamp`, the time now (RFC 3339 needs no escape).
    fn put_timestamp(&mut self) {
        if self.key("timestamp") {
            self.out.push('"');
            push_timestamp(&mut self.out);
            self.out.push('"');
        }
    }

    fn put_str(&mut self, key: &'k str, value: &str) {
        if self.key(key) {
            push_json_str(&mut self.out, value);
        }
    }

    fn put(&mut self, key: &'k str, value: &Written<'_>) {
        if self.key(key) {
            match value {
                Written::Value(Value::String(text)) => push_json_str(&mut self.out, text),
                Written::Value(value) => {
                    let _ = write!(self.out, "{value}");
                }
                Written::Raw(text) => self.out.push_str(text),
            }
        }
    }

    fn finish(mut self) -> String {
        if self.keys.is_empty() {
            self.out.push('{');
        }
        self.out.push('}');
        self.out
    }
}

impl Line<'_> {
    /// Whether a guest field named `name` must be renamed: the host has, or may have, one.
    fn is_hosts(&self, name: &str) -> bool {
        self.reserved.contains(&name) || HOST_NAMES.contains(&name)
    }

    /// The guest's fields of a guest line.
    fn guest(&self) -> serde_json::Map<String, Value> {
        self.fields
            .iter()
            .find(|(name, _)| *name == GUEST_FIELDS)
            .map(|(_, value)| guest_fields(value))
            .unwrap_or_default()
    }

    /// The host's fields: the event's, then its spans', without the guest's.
    fn host(&self) -> impl Iterator<Item = (&'static str, Written<'_>)> + '_ {
        self.fields
            .iter()
            .chain(self.context.iter().copied())
            .filter(|(name, _)| *name != GUEST_FIELDS)
            .map(|(name, value)| host_field(name, value))
    }

    fn json(&self, function: &[(&'static str, Value)]) -> String {
        // A guest field never replaces the host's: one with a host field's name is
        // written as `guest_<name>`.
        let guest: Vec<(std::borrow::Cow<'_, str>, Value)> = self
            .guest()
            .into_iter()
            .map(|(name, value)| {
                if self.is_hosts(&name) {
                    (format!("guest_{name}").into(), value)
                } else {
                    (name.into(), value)
                }
            })
            .collect();
        let mut object = JsonObject::new();
        object.put_timestamp();
        object.put_str("level", level_name(*self.meta.level()));
        object.put_str("message", self.message);
        object.put_str("logger", self.meta.target());
        for (name, value) in self.host() {
            object.put(name, &value);
        }
        for (name, value) in function {
            object.put(name, &Written::Value(value));
        }
        for (name, value) in &guest {
            object.put(name, &Written::Value(value));
        }
        object.finish()
    }

    fn text(&self) -> String {
        let mut line = String::with_capacity(256);
        push_timestamp(&mut line);
        let _ = write!(
            line,
            " {:>5} {}: ",
            level_name(*self.meta.level()),
            self.meta.target()
        );
        let mut shown: Vec<&str> = Vec::new();
        escape_into(&mut line, self.message);
        // `function_request_id` is `requestId` again, for Powertools queries: not in text.
        shown.push("function_request_id");
        for (name, value) in self.host() {
            if !shown.contains(&name) {
                shown.push(name);
                match value {
                    Written::Value(value) => push_text_field(&mut line, name, value),
                    // Serialized JSON has no raw control character: one line as it is.
                    Written::Raw(text) => {
                        line.push(' ');
                        escape_key_into(&mut line, name);
                        line.push('=');
                        line.push_str(text);
                    }
                }
            }
        }
        for (name, value) in self.guest() {
            let name = if shown.contains(&name.as_str()) || self.is_hosts(&name) {
                format!("guest_{name}")
            } else {
                name
            };
            push_text_field(&mut line, &name, &value);
        }
        line
    }
}

/// The access line's leading columns, aligned: method, status, duration, bytes, route
/// template and path (`-` for one it lacks). Returns their names, which the rest of the
/// line skips.
fn access_columns(line: &mut String, fields: &[(&'static str, Direct<'_>)]) -> [&'static str; 6] {
    const COLUMNS: [&str; 6] = ["method", "status", "duration_ms", "bytes", "route", "path"];
    let mut cells: [String; 6] = Default::default();
    for (cell, name) in cells.iter_mut().zip(COLUMNS) {
        match fields.iter().find(|(n, _)| *n == name).map(|(_, v)| *v) {
            Some(Direct::F64(ms)) if name == "duration_ms" => {
                let _ = write!(cell, "{ms:.3}ms");
            }
            Some(Direct::Str(text)) => escape_into(cell, text),
            Some(value) => value.push_json(cell),
            None => {}
        }
        if cell.is_empty() {
            cell.push('-');
        }
    }
    let [method, status, duration, bytes, route, path] = &cells;
    let _ = write!(
        line,
        "{method:<7} {status:>3} {duration:>11} {bytes:>9}B  {route:<28} {path}"
    );
    COLUMNS
}

/// ` name="value"` (strings quoted and escaped; numbers, booleans and JSON bare).
fn push_text_field(line: &mut String, name: &str, value: &Value) {
    line.push(' ');
    escape_key_into(line, name);
    line.push('=');
    match value {
        Value::String(text) => {
            line.push('"');
            escape_into(line, text);
            line.push('"');
        }
        // Numbers, booleans and the host's JSON: serialized JSON has no raw control
        // character, so it is one line as it is.
        other => line.push_str(&other.to_string()),
    }
}

/// Whether a character could break a text log line or restyle a terminal.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Appends `text` with control characters and backslashes escaped (`\n`, `\u{1b}`, `\\`)
/// and double quotes as `\"`, so the result is one line whose quoting cannot be broken.
/// Runs of safe characters are copied whole.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    let mut clean = 0;
    for (at, c) in text.char_indices() {
        let escaped = match c {
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\\' => "\\\\",
            '"' => "\\\"",
            c if is_unsafe(c) => "",
            _ => continue,
        };
        out.push_str(&text[clean..at]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push_str(escaped);
        }
        clean = at + c.len_utf8();
    }
    out.push_str(&text[clean..]);
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
    use std::sync::{Arc, Mutex};

    /// Lines written in-process, for reading back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Self;

        fn make_writer(&'w self) -> Self {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    fn capture(format: LogFormat, filter: &str, body: impl FnOnce()) -> Vec<String> {
        let captured = Captured::default();
        let subscriber = subscriber(format, filter, captured.clone()).unwrap();
        tracing::subscriber::with_default(subscriber, body);
        captured.lines()
    }

    #[test]
    fn json_lines_are_flat_with_the_request_fields_at_the_top() {
        let lines = capture(LogFormat::Json, "info", || {
            let request = tracing::info_span!(target: SPAN_TARGET, "request", requestId = "r-1", route = tracing::field::Empty);
            request.record("route", "/hello/{name}");
            let _request = request.enter();
            let component =
                tracing::info_span!(target: SPAN_TARGET, "component", component = "hello");
            let _component = component.enter();
            tracing::warn!(target: "lamina::x", status = 502_u16, "it \"failed\"\n");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "it \"failed\"\n");
        assert_eq!(line["logger"], "lamina::x");
        assert_eq!(line["requestId"], "r-1");
        assert_eq!(line["route"], "/hello/{name}");
        assert_eq!(line["component"], "hello");
        assert_eq!(line["status"], 502);
        let stamp = line["timestamp"].as_str().unwrap();
        assert!(
            stamp.len() >= 20 && stamp.ends_with('Z') && stamp.contains('T'),
            "{stamp}"
        );
    }

    #[test]
    fn guest_fields_never_replace_the_hosts() {
        let guest = serde_json::json!({"user": "ann", "level": "FATAL", "requestId": "forged"});
        let lines = capture(LogFormat::Json, "info", || {
            let request = tracing::info_span!(target: SPAN_TARGET, "request", requestId = "r-2");
            let _request = request.enter();
            tracing::info!(target: GUEST_TARGET, component = "auth", guest_fields = guest.to_string().as_str(), "hi");
        });
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["user"], "ann");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["guest_level"], "FATAL");
        assert_eq!(line["requestId"], "r-2");
        assert_eq!(line["guest_requestId"], "forged");
        assert!(line.get(GUEST_FIELDS).is_none());
    }

    #[test]
    fn text_lines_cannot_be_broken_or_forged() {
        let guest = serde_json::json!({"k\n=\"x": "v\"\r\n"});
        let lines = capture(LogFormat::Text, "info", || {
            tracing::info!(
                target: GUEST_TARGET,
                component = "auth",
                guest_fields = guest.to_string().as_str(),
                "ok\n2026-12-01T00:00:00Z ERROR lamina: FORGED host line\x1b[31m\u{2028}\\"
            );
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert!(!line.contains('\x1b'));
        assert!(
            line.contains(r#"ok\n2026-12-01T00:00:00Z ERROR lamina: FORGED host line\u{1b}[31m\u{2028}\\ component="auth" k___x="v\"\r\n""#),
            "{line}"
        );
    }

    #[test]
    fn the_access_line_has_aligned_columns_in_text() {
        let lines = capture(LogFormat::Text, "info", || {
            for (method, path) in [("GET", "/hello/ann"), ("DELETE", "/todos/1")] {
                let written = write_direct(
                    ACCESS_TARGET,
                    "request",
                    &[
                        ("method", Direct::Str(method)),
                        ("status", Direct::U64(200)),
                        ("duration_ms", Direct::F64(1.5)),
                        ("bytes", Direct::U64(12)),
                        ("route", Direct::Str("/hello/{name}")),
                        ("path", Direct::Str(path)),
                        ("requestId", Direct::Str("r-1")),
                        ("function_request_id", Direct::Str("r-1")),
                    ],
                );
                assert!(written);
            }
        });
        let at = |line: &str, what: &str| line.find(what).unwrap();
        assert_eq!(at(&lines[0], " 200 "), at(&lines[1], " 200 "), "{lines:#?}");
        assert_eq!(
            at(&lines[0], "/hello/{name}"),
            at(&lines[1], "/hello/{name}")
        );
        assert!(lines[0].contains("1.500ms"), "{}", lines[0]);
        assert!(
            lines[0].ends_with(r#"/hello/ann requestId="r-1""#),
            "{}",
            lines[0]
        );
        assert!(!lines[0].contains("request "), "{}", lines[0]);
    }

    #[test]
    fn direct_lines_are_json_objects_with_each_name_once() {
        let lines = capture(LogFormat::Json, "info", || {
            let fields = [
                ("status", Direct::U64(200)),
                ("duration_ms", Direct::F64(0.25)),
                ("components_ms", Direct::Json(r#"{"a":1.0}"#)),
                ("cold_start", Direct::Bool(true)),
                ("path", Direct::Str("/x\n\"y")),
                ("status", Direct::U64(500)),
                ("level", Direct::Str("FORGED")),
            ];
            assert!(write_direct(ACCESS_TARGET, "request", &fields));
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["logger"], ACCESS_TARGET);
        assert_eq!(line["message"], "request");
        assert_eq!(line["status"], 200);
        assert_eq!(line["duration_ms"], 0.25);
        assert_eq!(line["components_ms"]["a"], 1.0);
        assert_eq!(line["cold_start"], true);
        assert_eq!(line["path"], "/x\n\"y");
        assert_eq!(lines[0].matches("\"status\"").count(), 1, "{}", lines[0]);
    }

    #[test]
    fn direct_lines_need_the_hosts_layer() {
        let written = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            write_direct(ACCESS_TARGET, "request", &[])
        });
        assert!(!written);
    }

    #[test]
    fn debug_lines_pass_only_in_sampled_requests() {
        enable_sampling();
        let lines = capture(LogFormat::Json, "info", || {
            for (id, sampled) in [("r-plain", false), ("r-sampled", true)] {
                let request = tracing::info_span!(target: SPAN_TARGET, "request", requestId = id, sampled = tracing::field::Empty);
                if sampled {
                    request.record("sampled", true);
                }
                let _request = request.enter();
                tracing::debug!(target: "lamina::x", "detail");
                tracing::debug!(target: "hyper", "not ours");
            }
            tracing::debug!(target: "lamina::x", "outside any request");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("r-sampled"), "{}", lines[0]);
    }

    #[test]
    fn lambda_levels_and_formats_are_read_as_lambda_writes_them() {
        assert_eq!(lambda_level("debug"), Some(LevelFilter::DEBUG));
        assert_eq!(lambda_level("FATAL"), Some(LevelFilter::ERROR));
        assert_eq!(lambda_level("verbose"), None);
        assert_eq!(
            lambda_directives(LevelFilter::DEBUG),
            "warn,lamina=debug,guest=debug"
        );
        assert_eq!(
            lambda_directives(LevelFilter::ERROR),
            "error,lamina=error,guest=error"
        );
        assert_eq!(LogFormat::parse("JSON"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse("Text"), Ok(LogFormat::Text));
        assert!(LogFormat::parse("xml").unwrap_err().contains("xml"));
    }

    #[test]
    fn off_writes_nothing() {
        let lines = capture(LogFormat::Json, "off", || {
            let request = tracing::info_span!(target: SPAN_TARGET, "request", requestId = "r");
            let _request = request.enter();
            tracing::error!("nothing");
        });
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[test]
    fn json_strings_read_back_as_written() {
        let cases = [
            "",
            "plain text",
            "quote \" backslash \\ slash /",
            "lines\nand\rreturns\ttabs",
            "controls \u{0} \u{1} \u{1f} \u{7f}",
            "unicode é ☃ 🦀 \u{2028} \u{2029} at the end é",
            "\"",
            "🦀\n",
        ];
        for text in cases {
            let mut out = String::from("[");
            push_json_str(&mut out, text);
            out.push(']');
            let parsed: Vec<String> = serde_json::from_str(&out).unwrap();
            assert_eq!(parsed, [text], "{out}");
            assert!(
                !out.bytes().any(|b| b < 0x20),
                "raw control byte in {out:?}"
            );
        }
    }

    #[test]
    fn the_word_scan_finds_every_byte_that_needs_an_escape() {
        for byte in 0..=255_u8 {
            let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
            for at in 0..8 {
                let mut word = *b"abcdefgh";
                word[at] = byte;
                assert_eq!(
                    needs_escape(u64::from_le_bytes(word)),
                    expected,
                    "byte {byte:#04x} at {at}"
                );
            }
        }
        // Escapes at every offset of a long string, around and inside whole words.
        for at in 0..40 {
            let mut text: String = "x".repeat(40);
            text.replace_range(at..=at, "\n");
            let mut out = String::new();
            push_json_str(&mut out, &text);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text);
        }
    }

    #[test]
    fn text_escapes_only_what_is_unsafe() {
        let mut out = String::from("head ");
        escape_into(&mut out, "a\"b\\c\nd\u{1b}[31m é 🦀");
        assert_eq!(out, "head a\\\"b\\\\c\\nd\\u{1b}[31m é 🦀");
    }

    #[test]
    fn timestamps_are_rfc3339_utc_micros() {
        let mut out = String::new();
        push_timestamp(&mut out);
        assert_eq!(out.len(), "2026-12-02T15:34:53.123456Z".len(), "{out}");
        assert!(out.ends_with('Z') && out.as_bytes()[10] == b'T', "{out}");
        humantime::parse_rfc3339(&out).unwrap();
    }
}
