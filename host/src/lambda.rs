//! The Lambda front door: the `lambda_runtime` loop over the Runtime API.

use crate::App;
use crate::component::Runtime;
use crate::config::Config;
use crate::event::{self, DecodeError};
use crate::swap::{Reloader, Swap};
use anyhow::Context as _;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use lambda_runtime_api_client::body::Body;
use serde_json::value::RawValue;
use std::path::PathBuf;
use std::sync::Arc;

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "LAMINA_CONFIG";

/// Variables the Lambda runtime sets; `lambda_runtime` needs all of them.
const REQUIRED_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// The config file: `$LAMINA_CONFIG`, else `$LAMBDA_TASK_ROOT/lamina.toml` (next to the
/// `bootstrap`), else `/opt/lamina/lamina.toml` (a layer).
#[must_use]
pub fn config_path() -> PathBuf {
    if let Some(path) = std::env::var_os(CONFIG_ENV) {
        return PathBuf::from(path);
    }
    if let Some(root) = std::env::var_os("LAMBDA_TASK_ROOT") {
        let path = PathBuf::from(root).join("lamina.toml");
        if path.exists() {
            return path;
        }
    }
    PathBuf::from("/opt/lamina/lamina.toml")
}

/// Runs the Lambda loop over the config at `config_path` until the Runtime API goes away.
///
/// If the config or a component fails to load, the error is reported to the Runtime API's
/// `/runtime/init/error` (so Lambda shows it as an init failure) and returned. With
/// `reload-interval` set, changed files are picked up between invocations.
///
/// # Errors
///
/// When a required Lambda environment variable is missing, the app cannot be built, or the
/// runtime loop fails.
pub async fn run(config_path: PathBuf) -> anyhow::Result<()> {
    if let Some(missing) = REQUIRED_ENV.iter().find(|v| std::env::var_os(v).is_none()) {
        anyhow::bail!(
            "{missing} is not set: `lamina lambda` runs inside AWS Lambda or an emulator of its \
             Runtime API (use `lamina serve` or `lamina invoke` locally)"
        );
    }
    let loaded = (|| {
        let runtime = Runtime::new()?;
        let config = Config::load(&config_path)?;
        let app = App::from_config(&config, &runtime)?;
        anyhow::Ok((runtime, config, app))
    })();
    let (runtime, config, app) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            report_init_error(&error).await;
            return Err(error);
        }
    };
    let swap = Arc::new(Swap::new(app));
    let reloader = config.reload_interval.map(|interval| {
        Arc::new(Reloader::new(
            config_path,
            runtime,
            swap.clone(),
            interval.0,
        ))
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        if let Some(reloader) = &reloader {
            reloader.maybe_check();
        }
        let app = swap.current();
        async move { invoke(&app, &event).await }
    }))
    .await
    .map_err(|e| anyhow::anyhow!("Lambda runtime loop failed: {e}"))
}

/// Handles one invocation: decode, run the pipeline, encode.
async fn invoke(
    app: &App,
    event: &LambdaEvent<Box<RawValue>>,
) -> Result<Box<RawValue>, Diagnostic> {
    let request_id = &event.context.request_id;
    let encoded = match event::decode(event.payload.get().as_bytes(), request_id) {
        Ok((origin, mut request)) => {
            request.context.deadline = Some(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline),
            );
            let accept_encoding = request.header("accept-encoding").map(str::to_owned);
            let response = app.handle(request).await;
            app.encode(origin, response, accept_encoding.as_deref(), request_id)
        }
        Err(DecodeError::BadRequest { origin, message }) => {
            event::encode(origin, &app.reject(message, request_id))
        }
        Err(error) => {
            tracing::error!(request_id = request_id.as_str(), %error, "event rejected");
            return Err(Diagnostic {
                error_type: "Lamina.UnsupportedEvent".to_owned(),
                error_message: error.to_string(),
            });
        }
    };
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
