//! Request validation before the component runs, declared per route:
//!
//! ```toml
//! [[routes]]
//! method = "POST"
//! path = "/todos"
//! component = "todos"
//! validate = { json = "required", schema = "schemas/new-todo.json", query-schema = "schemas/q.json" }
//! ```
//!
//! `json = "required"` wants a JSON body (`Content-Type: application/json` or `+json`,
//! else 415; empty, else 400; malformed, else 400 naming line and column);
//! `"optional"` applies the same checks only when there is a body. `schema` is a JSON
//! Schema for the body, compiled once at load: a body that breaks it gets a 422 listing
//! every violation with its instance path. `query-schema` and `params-schema` check the
//! query parameters and route parameters as an object of strings (a repeated query name
//! becomes an array of strings); a violation is a 400.

use crate::error::Error;
use crate::request::{Fields, Request};
use crate::response::media_essence;
use anyhow::Context as _;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Whether a route takes a JSON body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JsonBody {
    /// A JSON body must be present.
    Required,
    /// A body, if present, must be JSON.
    Optional,
}

/// `validate = { ... }` on a route.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ValidateConfig {
    /// Whether the body must be JSON.
    pub json: Option<JsonBody>,
    /// A JSON Schema file for the body (relative to the config file).
    pub schema: Option<String>,
    /// A JSON Schema file for the query parameters.
    pub query_schema: Option<String>,
    /// A JSON Schema file for the route parameters.
    pub params_schema: Option<String>,
}

/// A route's compiled validation.
pub struct Validation {
    json: Option<JsonBody>,
    body: Option<jsonschema::Validator>,
    query: Option<jsonschema::Validator>,
    params: Option<jsonschema::Validator>,
}

/// Reads the JSON Schema file `file` (relative to `base`) that `setting` names: the one
/// reading validation and the OpenAPI document share.
///
/// # Errors
///
/// A file that cannot be read or is not JSON, naming the setting and the path.
pub(crate) fn read_schema(base: &Path, file: &str, setting: &str) -> anyhow::Result<Value> {
    let path: PathBuf = base.join(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{setting}: reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{setting}: {} is not JSON", path.display()))
}

fn compile(
    base: &Path,
    file: Option<&String>,
    setting: &str,
) -> anyhow::Result<Option<jsonschema::Validator>> {
    let Some(file) = file else {
        return Ok(None);
    };
    let schema = read_schema(base, file, setting)?;
    let path = base.join(file);
    let validator = jsonschema::validator_for(&schema).map_err(|e| {
        anyhow::anyhow!(
            "{setting}: {} is not a valid JSON Schema: {e}",
            path.display()
        )
    })?;
    Ok(Some(validator))
}

impl Validation {
    /// Compiles a route's validation; schema files resolve against `base`. `at` names the
    /// route in messages (`routes[3]`).
    ///
    /// # Errors
    ///
    /// A schema file that cannot be read, is not JSON, or is not a valid schema.
    pub fn compile(config: &ValidateConfig, base: &Path, at: &str) -> anyhow::Result<Self> {
        let json = if config.schema.is_some() {
            Some(config.json.unwrap_or(JsonBody::Required))
        } else {
            config.json
        };
        Ok(Self {
            json,
            body: compile(
                base,
                config.schema.as_ref(),
                &format!("{at}.validate.schema"),
            )?,
            query: compile(
                base,
                config.query_schema.as_ref(),
                &format!("{at}.validate.query-schema"),
            )?,
            params: compile(
                base,
                config.params_schema.as_ref(),
                &format!("{at}.validate.params-schema"),
            )?,
        })
    }

    /// Checks a request before its component runs.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with the status the problem calls for (400, 415, 422) and, for
    /// schema violations, the list of them in `details`.
    pub fn check(&self, request: &Request, params: &Fields) -> Result<(), Error> {
        if let Some(validator) = &self.params {
            violations(
                validator,
                &as_object(params),
                StatusCode::BAD_REQUEST,
                "invalid-params",
                "route parameters",
            )?;
        }
        if let Some(validator) = &self.query {
            violations(
                validator,
                &as_object(&request.query),
                StatusCode::BAD_REQUEST,
                "invalid-query",
                "query parameters",
            )?;
        }
        let Some(mode) = self.json else {
            return Ok(());
        };
        if request.body.is_empty() {
            return match mode {
                JsonBody::Optional => Ok(()),
                JsonBody::Required => Err(invalid(
                    StatusCode::BAD_REQUEST,
                    "missing-body",
                    "a JSON body is required".to_owned(),
                    None,
                )),
            };
        }
        let json_type = request.header("content-type").is_some_and(|ct| {
            let essence = media_essence(ct);
            essence == "application/json" || essence.ends_with("+json")
        });
        if !json_type {
            return Err(invalid(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!(
                    "expected Content-Type: application/json, got {}",
                    request
                        .header("content-type")
                        .map_or_else(|| "none".to_owned(), |c| format!("{c:?}"))
                ),
                None,
            ));
        }
        let body: Value = serde_json::from_slice(&request.body).map_err(|e| {
            invalid(
                StatusCode::BAD_REQUEST,
                "invalid-json",
                format!("the body is not valid JSON: {e}"),
                Some(json!({"line": e.line(), "column": e.column()})),
            )
        })?;
        if let Some(validator) = &self.body {
            violations(
                validator,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "schema-violation",
                "the body",
            )?;
        }
        Ok(())
    }
}

fn invalid(
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Value>,
) -> Error {
    Error::Invalid {
        status,
        code,
        message,
        details,
    }
}

/// Query or route parameters as the object a schema sees.
fn as_object(fields: &Fields) -> Value {
    let mut map = Map::new();
    for (k, v) in fields {
        match map.get_mut(k) {
            None => {
                map.insert(k.clone(), Value::String(v.clone()));
            }
            Some(Value::Array(list)) => list.push(Value::String(v.clone())),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v.clone())]);
            }
        }
    }
    Value::Object(map)
}

fn violations(
    validator: &jsonschema::Validator,
    instance: &Value,
    status: StatusCode,
    code: &'static str,
    // The subject and verb for the message, e.g. "the body does not".
    what: &str,
) -> Result<(), Error> {
    let list: Vec<Value> = validator
        .iter_errors(instance)
        .map(|e| {
            let mut item = json!({
                "path": e.instance_path().to_string(),
                "keyword": e.kind().keyword(),
                "message": e.to_string(),
            });
            // The missing property is in the error, not in the instance path.
            if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind() {
                item["property"] = property.clone();
            }
            item
        })
        .collect();
    if list.is_empty() {
        return Ok(());
    }
    let message = format!(
        "{what} do not match the schema ({} problem{})",
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    );
    Err(invalid(
        status,
        code,
        message.replace("the body do ", "the body does "),
        Some(Value::Array(list)),
    ))
}
