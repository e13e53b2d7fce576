//! The Lambda front door: the `lambda_runtime` loop over the Runtime API.

use crate::App;
use crate::component::Runtime;
use crate::fetch::Location;
use crate::swap::{Outcome, Reloader, Swap};
use anyhow::Context as _;
use bytes::Bytes;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Diagnostic, LambdaEvent, LambdaInvocation, service_fn};
use lambda_runtime_api_client::body::Body;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "LAMINA_CONFIG";

/// Variables the Lambda runtime sets; `lambda_runtime` needs all of them.
const REQUIRED_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// The config: `$LAMINA_CONFIG` (a path or `s3://bucket/key`), else
/// `$LAMBDA_TASK_ROOT/lamina.toml` (next to the `bootstrap`), else
/// `/opt/lamina/lamina.toml` (a layer).
///
/// # Errors
///
/// When `$LAMINA_CONFIG` is a malformed `s3://` URL.
pub fn config_location() -> anyhow::Result<Location> {
    if let Some(text) = std::env::var_os(CONFIG_ENV) {
        let text = text.to_string_lossy();
        let cwd = Location::File(std::env::current_dir().unwrap_or_default());
        return Location::parse(&text, &cwd).with_context(|| format!("${CONFIG_ENV}"));
    }
    if let Some(root) = std::env::var_os("LAMBDA_TASK_ROOT") {
        let path = PathBuf::from(root).join("lamina.toml");
        if path.exists() {
            return Ok(Location::File(path));
        }
    }
    Ok(Location::File(PathBuf::from("/opt/lamina/lamina.toml")))
}

/// Runs the Lambda loop over the config at `config` until the Runtime API goes away.
///
/// If the config or a component fails to load, the error is reported to the Runtime API's
/// `/runtime/init/error` (so Lambda shows it as an init failure) and returned. With
/// `reload-interval` set, changed sources are picked up between invocations; with
/// `admin-events` set, `{"lamina": {"reload": true}}` checks them at once.
///
/// # Errors
///
/// When a required Lambda environment variable is missing, the app cannot be built, or the
/// runtime loop fails.
pub async fn run(config: Location) -> anyhow::Result<()> {
    if let Some(missing) = REQUIRED_ENV.iter().find(|v| std::env::var_os(v).is_none()) {
        anyhow::bail!(
            "{missing} is not set: `lamina lambda` runs inside AWS Lambda or an emulator of its \
             Runtime API (use `lamina serve` or `lamina invoke` locally)"
        );
    }
    let started = std::time::Instant::now();
    let loaded = Runtime::new().and_then(|runtime| {
        let (parsed, app) = App::load(&config, &runtime)?;
        Ok((runtime, parsed, app))
    });
    let (runtime, parsed, app) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            report_init_error(&error).await;
            return Err(error);
        }
    };
    tracing::info!(config = %config, took = ?started.elapsed(), "ready");
    let swap = Arc::new(Swap::new(app));
    let interval = parsed.reload_interval();
    // Without `reload-interval` the reloader only serves admin events.
    let reloader = Arc::new(Reloader::new(
        config,
        runtime,
        swap.clone(),
        interval.unwrap_or(Duration::MAX),
    ));
    let payloads = Payloads::default();
    let handler = {
        let payloads = payloads.clone();
        service_fn(move |event: LambdaEvent<IgnoredAny>| {
            if interval.is_some() {
                reloader.maybe_check();
            }
            let app = swap.current();
            let reloader = reloader.clone();
            let payload = payloads.take(&event.context.request_id);
            async move {
                match admin_command(&payload) {
                    Some(command) => admin(&app, &reloader, command).await,
                    None => invoke(&app, &payload, &event.context).await,
                }
            }
        })
    };
    // No `lambda_runtime::layers::TracingLayer`: each invocation's span is the host's own
    // ([`crate::observe`]), with the request id and trace id under Powertools' names.
    lambda_runtime::Runtime::new(handler)
        .layer(KeepPayload(payloads))
        .run()
        .await
        .map_err(|e| anyhow::anyhow!("Lambda runtime loop failed: {e}"))
}

/// Each invocation's payload as the Runtime API delivered it, by request id, from the
/// [`KeepPayload`] layer to the handler.
#[derive(Clone, Default)]
struct Payloads(Arc<Mutex<HashMap<String, Bytes>>>);

impl Payloads {
    fn put(&self, request_id: String, payload: Bytes) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(request_id, payload);
    }

    fn take(&self, request_id: &str) -> Bytes {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(request_id)
            .unwrap_or_default()
    }
}

/// Takes each invocation's payload before `lambda_runtime` deserializes it, and hands the
/// handler `null` in its place, so events are decoded by [`App::answer`] — the decoder
/// `lamina invoke` uses, with one set of messages and error types for both. (The
/// runtime's own step accepts trailing bytes after the JSON, and reports an empty or
/// truncated payload with its internal type name as the `errorType`.)
struct KeepPayload(Payloads);

impl<S> Layer<S> for KeepPayload {
    type Service = KeepPayloadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KeepPayloadService {
            inner,
            payloads: self.0.clone(),
        }
    }
}

/// The service [`KeepPayload`] wraps around the runtime's.
struct KeepPayloadService<S> {
    inner: S,
    payloads: Payloads,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for KeepPayloadService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let payload = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        self.payloads
            .put(invocation.context.request_id.clone(), payload);
        self.inner.call(invocation)
    }
}

/// A direct invocation addressed to the host rather than to a route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminEvent {
    lamina: AdminCommand,
}

/// What an admin event asks for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminCommand {
    /// Check every source now and swap in what changed.
    reload: bool,
}

/// The admin command in `payload`, if it is an admin event (`{"lamina": {...}}` and
/// nothing else); any other payload goes to event decoding.
fn admin_command(payload: &[u8]) -> Option<AdminCommand> {
    if !payload.windows(8).any(|w| w == b"\"lamina\"") {
        return None;
    }
    serde_json::from_slice::<AdminEvent>(payload)
        .ok()
        .map(|e| e.lamina)
}

/// Answers an admin event: refused unless the config enables them; otherwise runs the
/// check on a blocking thread and reports what serves now.
async fn admin(
    app: &App,
    reloader: &Arc<Reloader>,
    command: AdminCommand,
) -> Result<Box<RawValue>, Diagnostic> {
    if !app.admin_events() {
        return Err(Diagnostic {
            error_type: "Lamina.AdminDisabled".to_owned(),
            error_message: "admin events are off: set `admin-events = true` in the config to \
                            allow {\"lamina\": {\"reload\": true}}"
                .to_owned(),
        });
    }
    let outcome = if command.reload {
        let reloader = reloader.clone();
        tokio::task::spawn_blocking(move || reloader.reload_if_changed())
            .await
            .map_err(|e| Diagnostic {
                error_type: "Lamina.Internal".to_owned(),
                error_message: format!("reload check failed: {e}"),
            })?
    } else {
        Outcome::Unchanged
    };
    let serving = reloader.serving();
    let components: serde_json::Map<String, serde_json::Value> = serving
        .components()
        .iter()
        .map(|(name, c)| {
            (
                name.clone(),
                serde_json::json!({"sha256": c.digest(), "kind": c.kind().as_str(), "code": c.code_source().as_str()}),
            )
        })
        .collect();
    let reply = serde_json::json!({
        "lamina": {"reload": format!("{outcome:?}").to_lowercase(), "components": components}
    });
    RawValue::from_string(reply.to_string()).map_err(|e| Diagnostic {
        error_type: "Lamina.Internal".to_owned(),
        error_message: e.to_string(),
    })
}

/// Handles one invocation: [`App::answer`], with the invocation's deadline.
async fn invoke(
    app: &App,
    payload: &[u8],
    context: &lambda_runtime::Context,
) -> Result<Box<RawValue>, Diagnostic> {
    let request_id = &context.request_id;
    let invocation = crate::Invocation {
        request_id: request_id.clone(),
        deadline: Some(std::time::UNIX_EPOCH + Duration::from_millis(context.deadline)),
        trace_header: context.xray_trace_id.clone(),
    };
    let encoded = app.answer(payload, &invocation).await.map_err(|error| {
        // The pipeline logged the error (in the invocation's span), once.
        Diagnostic {
            error_type: error.error_type,
            error_message: error.error_message,
        }
    })?;
    let text = String::from_utf8(encoded).map_err(|e| Diagnostic {
        error_type: "Lamina.Internal".to_owned(),
        error_message: format!("encoded response is not UTF-8: {e}"),
    })?;
    RawValue::from_string(text).map_err(|e| Diagnostic {
        error_type: "Lamina.Internal".to_owned(),
        error_message: format!("encoded response is not JSON: {e}"),
    })
}

/// Tells the Runtime API that initialization failed, so Lambda reports the reason instead
/// of a timeout. Failures to report are logged: the process exits either way.
async fn report_init_error(error: &anyhow::Error) {
    let diagnostic = serde_json::json!({
        "errorType": "Lamina.InitError",
        "errorMessage": format!("{error:#}"),
    });
    let result = async {
        let client = lambda_runtime_api_client::Client::builder()
            .build()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let request = lambda_runtime_api_client::build_request()
            .method(http::Method::POST)
            .uri("/2018-06-01/runtime/init/error")
            .header("lambda-runtime-function-error-type", "Lamina.InitError")
            .body(Body::from(diagnostic.to_string()))
            .context("building init error request")?;
        client
            .call(request)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("posting /runtime/init/error")
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %format!("{e:#}"), "could not report the init error to the Runtime API");
    }
}
