//! An OpenAPI 3.1 document built from the config's routes: `lamina openapi CONFIG` prints
//! it, and `[openapi]` can have the host serve it, with a Swagger UI page, as Powertools'
//! `enable_swagger()` does.
//!
//! ```toml
//! [openapi]
//! title = "Todos"                 # info.title (default "Lamina API")
//! version = "1.2.0"               # info.version (default "1.0.0")
//! servers = ["https://api.example.com"]
//! path = "/openapi.json"          # serve the document here (off when absent)
//! swagger-ui = "/docs"            # serve a Swagger UI page here (off when absent)
//!
//! [[routes]]
//! method = "GET"
//! path = "/todos/{id}"
//! component = "todos"
//! openapi = { summary = "One todo", tags = ["todos"], operation-id = "getTodo" }
//! ```
//!
//! What the document says comes from what the host enforces, so it cannot drift from it:
//!
//! - **paths and methods** from the route table (groups' prefixes applied; `{*rest}` and
//!   `{rest+}` become the parameter `{rest}`; an `ANY` route is listed under each of
//!   `get`, `put`, `post`, `delete` and `patch`);
//! - **parameters**: every path parameter (typed by `validate.params-schema` when it
//!   declares one), and the query parameters `validate.query-schema` declares;
//! - **request bodies**: `validate.schema` (under `components.schemas`, named after its
//!   file) or, for `validate.json` alone, any JSON;
//! - **responses**: `2XX` from the component; the validation answers the route can give
//!   (`400`, `413`, `415`, `422`); `4XX` and `5XX` in the configured `error-format`'s
//!   schema and media type;
//! - **CORS**: the `Access-Control-*` response headers, and the host's preflight answer
//!   as an `options` operation;
//! - per-route `summary`, `description`, `tags` (a group's `openapi = { tags = [...] }`
//!   come first), `operation-id`, `deprecated`, and `hidden = true` to leave a route out.
//!
//! Each operation also carries `x-lamina` (its component, middleware chain, and `ANY`).

use crate::app::{App, NativeHandler, Target};
use crate::config::{Config, RouteConfig, RouteCors};
use crate::cors::CorsConfig;
use crate::error::{Error, ErrorFormat};
use crate::request::Request;
use crate::response::Response;
use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// `[openapi]`: the document's `info` and `servers`, and where the host serves it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OpenApiConfig {
    /// `info.title` (default "Lamina API").
    pub(crate) title: Option<String>,
    /// `info.version`: the API's version, not Lamina's (default "1.0.0").
    pub(crate) version: Option<String>,
    /// `info.description`.
    pub(crate) description: Option<String>,
    /// `servers[].url`, in order.
    #[serde(default)]
    pub(crate) servers: Vec<String>,
    /// Serve the document (JSON) at this path; off when absent.
    pub(crate) path: Option<String>,
    /// Serve a Swagger UI page for the document at this path; off when absent.
    pub(crate) swagger_ui: Option<String>,
    /// Where the page loads `swagger-ui-bundle.js` and `swagger-ui.css` from (default
    /// [`SWAGGER_UI_ASSETS`]; point it at your own copy to keep browsers off the CDN).
    pub(crate) swagger_ui_assets: Option<String>,
}

/// A route's `openapi = { ... }`: how its operations are described.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OperationDocs {
    /// `summary`.
    pub(crate) summary: Option<String>,
    /// `description` (CommonMark).
    pub(crate) description: Option<String>,
    /// `tags`, after the group's.
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// `operationId` (default: the method and the path, `getTodosById`); an `ANY` route's
    /// operations get `_get`, `_post`, ... after it.
    pub(crate) operation_id: Option<String>,
    /// `deprecated: true`.
    #[serde(default)]
    pub(crate) deprecated: bool,
    /// Leave the route out of the document (it is still served).
    #[serde(default)]
    pub(crate) hidden: bool,
}

/// A group's `openapi = { tags = [...] }`: tags every route of the group carries first.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GroupDocs {
    /// Tags for every route of the group.
    #[serde(default)]
    pub(crate) tags: Vec<String>,
}

impl OperationDocs {
    /// A group route's docs: the group's tags, then its own.
    pub(crate) fn inherit(group: Option<&GroupDocs>, own: Option<Self>) -> Option<Self> {
        let Some(group) = group.filter(|g| !g.tags.is_empty()) else {
            return own;
        };
        let mut docs = own.unwrap_or_default();
        let mut tags = group.tags.clone();
        tags.extend(docs.tags.into_iter().filter(|t| !group.tags.contains(t)));
        docs.tags = tags;
        Some(docs)
    }
}

/// Where the Swagger UI page loads its script and stylesheet from by default (Swagger UI
/// 5, from the npm registry's CDN, as Powertools' page does).
pub const SWAGGER_UI_ASSETS: &str = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5";

/// The methods an `ANY` route is listed under (`HEAD` is the `GET` route's, and the host
/// answers CORS preflights itself).
const ANY_METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// The methods an OpenAPI path item can hold.
const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A built document, and what it could not express.
pub struct Document {
    /// The OpenAPI 3.1 document.
    pub value: Value,
    /// Routes or settings the document leaves out or cannot describe exactly, one sentence
    /// each (a method OpenAPI has no field for, a schema `$ref` that points outside it).
    pub warnings: Vec<String>,
}

impl Document {
    /// The document as indented JSON, its top-level fields in the specification's order
    /// (`openapi`, `info`, `servers`, `paths`, `components`).
    #[must_use]
    pub fn to_json_pretty(&self) -> String {
        #[derive(serde::Serialize)]
        struct Ordered<'a> {
            openapi: &'a Value,
            info: &'a Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            servers: Option<&'a Value>,
            paths: &'a Value,
            components: &'a Value,
        }
        let v = &self.value;
        let ordered = Ordered {
            openapi: &v["openapi"],
            info: &v["info"],
            servers: v.get("servers"),
            paths: &v["paths"],
            components: &v["components"],
        };
        let mut text = serde_json::to_string_pretty(&ordered).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Builds the document for `config`, reading the JSON Schema files its routes validate
/// with. Components are not loaded.
///
/// # Errors
///
/// A schema file that cannot be read or is not JSON, two routes with the same
/// `operation-id`, or two routes that describe the same method of the same OpenAPI path.
pub fn document(config: &Config) -> anyhow::Result<Document> {
    let mut builder = Builder {
        config,
        paths: BTreeMap::new(),
        preflights: BTreeMap::new(),
        schemas: Map::new(),
        schema_names: HashMap::new(),
        operation_ids: HashSet::new(),
        warnings: Vec::new(),
    };
    let routes = config.all_routes();
    for (at, route) in &routes {
        if !route.openapi.as_ref().is_some_and(|d| d.hidden) {
            builder.route(at, route)?;
        }
    }
    builder.finish()
}

/// One path template split into what OpenAPI writes and the parameters it names.
struct Template {
    /// The OpenAPI path: `/files/{rest}` for `/files/{*rest}` or `/files/{rest+}`.
    path: String,
    /// Parameter names in order, with whether each is a catch-all.
    params: Vec<(String, bool)>,
}

impl Template {
    fn parse(template: &str) -> Self {
        let mut path = String::with_capacity(template.len());
        let mut params = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            path.push_str(&rest[..open]);
            let inner = &rest[open + 1..close];
            let (name, catch_all) = match (inner.strip_prefix('*'), inner.strip_suffix('+')) {
                (Some(name), _) | (None, Some(name)) => (name, true),
                (None, None) => (inner, false),
            };
            path.push('{');
            path.push_str(name);
            path.push('}');
            params.push((name.to_owned(), catch_all));
            rest = &rest[close + 1..];
        }
        path.push_str(rest);
        Self { path, params }
    }

    /// `getTodosById` for `GET /todos/{id}`; `getRoot` for `/`.
    fn operation_id(&self, method: &str) -> String {
        let mut id = method.to_ascii_lowercase();
        let mut words = 0;
        for segment in self.path.split('/').filter(|s| !s.is_empty()) {
            let (param, text) = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => (true, name),
                None => (false, segment),
            };
            if param {
                id.push_str("By");
            }
            for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    id.push(first.to_ascii_uppercase());
                    id.extend(chars);
                    words += 1;
                }
            }
        }
        if words == 0 {
            id.push_str("Root");
        }
        id
    }
}

struct Builder<'a> {
    config: &'a Config,
    /// OpenAPI path → method → operation, and which route made each (for messages).
    paths: BTreeMap<String, BTreeMap<String, (Value, String)>>,
    /// OpenAPI path → the preflight operation, from the first route with CORS there.
    preflights: BTreeMap<String, (Value, Vec<String>)>,
    /// `components.schemas`.
    schemas: Map<String, Value>,
    /// A schema file's setting value → its name under `components.schemas`.
    schema_names: HashMap<String, String>,
    operation_ids: HashSet<String>,
    warnings: Vec<String>,
}

impl Builder<'_> {
    fn route(&mut self, at: &str, route: &RouteConfig) -> anyhow::Result<()> {
        let template = Template::parse(&route.path);
        let docs = route.openapi.clone().unwrap_or_default();
        let any = route.method.eq_ignore_ascii_case("any") || route.method == "*";
        let methods: Vec<String> = if any {
            ANY_METHODS.iter().map(|m| (*m).to_owned()).collect()
        } else {
            let method = route.method.to_ascii_lowercase();
            if !OPENAPI_METHODS.contains(&method.as_str()) {
                self.warnings.push(format!(
                    "{at}: {} {} is left out: OpenAPI has no field for the {} method",
                    route.method, route.path, route.method
                ));
                return Ok(());
            }
            vec![method]
        };
        let parameters = self.parameters(at, route, &template)?;
        let body = self.request_body(at, route)?;
        let responses = self.responses(route, body.is_some());
        let mut chain: Vec<&str> = self.config.middleware.iter().map(String::as_str).collect();
        chain.extend(route.middleware.iter().map(String::as_str));
        for method in &methods {
            let id = match (&docs.operation_id, any) {
                (Some(id), false) => {
                    if !self.operation_ids.insert(id.clone()) {
                        bail!("{at}.openapi.operation-id: {id:?} is already another route's");
                    }
                    id.clone()
                }
                (Some(id), true) => self.unique_id(format!("{id}_{method}")),
                (None, _) => self.unique_id(template.operation_id(method)),
            };
            let mut operation = Map::new();
            operation.insert("operationId".into(), json!(id));
            if let Some(summary) = &docs.summary {
                operation.insert("summary".into(), json!(summary));
            }
            if let Some(description) = &docs.description {
                operation.insert("description".into(), json!(description));
            }
            if !docs.tags.is_empty() {
                operation.insert("tags".into(), json!(docs.tags));
            }
            if docs.deprecated {
                operation.insert("deprecated".into(), json!(true));
            }
            if !parameters.is_empty() {
                operation.insert("parameters".into(), json!(parameters));
            }
            // A body on GET, HEAD or DELETE has no defined meaning (RFC 9110 §9.3), and
            // OpenAPI tools drop it; an ANY route's validated body is documented on the
            // methods that carry one.
            if let Some(body) = &body
                && !(any && matches!(method.as_str(), "get" | "delete"))
            {
                operation.insert("requestBody".into(), body.clone());
            }
            operation.insert("responses".into(), responses.clone());
            let mut lamina = json!({"component": route.component, "middleware": chain});
            if any {
                lamina["method"] = json!("ANY");
            }
            operation.insert("x-lamina".into(), lamina);
            let operations = self.paths.entry(template.path.clone()).or_default();
            if let Some((_, other)) = operations.get(method.as_str()) {
                bail!(
                    "{at}: {} {} is already described by {other} (the paths differ only in how their parameters are written)",
                    method.to_ascii_uppercase(),
                    template.path
                );
            }
            operations.insert(method.clone(), (Value::Object(operation), at.to_owned()));
        }
        if let Some(cors) = cors_of(self.config, route) {
            let entry = self
                .preflights
                .entry(template.path.clone())
                .or_insert_with(|| (preflight(cors, &parameters, &docs.tags), Vec::new()));
            entry
                .1
                .extend(methods.iter().map(|m| m.to_ascii_uppercase()));
        }
        Ok(())
    }

    fn unique_id(&mut self, base: String) -> String {
        let mut id = base;
        let base = id.clone();
        let mut n = 2;
        while !self.operation_ids.insert(id.clone()) {
            id = format!("{base}{n}");
            n += 1;
        }
        id
    }

    /// The schema a `validate` setting names, as a `$ref` into `components.schemas`.
    fn schema_ref(&mut self, at: &str, setting: &str, file: &str) -> anyhow::Result<Value> {
        if let Some(name) = self.schema_names.get(file) {
            return Ok(json!({"$ref": format!("#/components/schemas/{name}")}));
        }
        let schema = crate::validate::read_schema(
            &self.config.base_dir,
            file,
            &format!("{at}.validate.{setting}"),
        )?;
        if contains_ref(&schema) {
            self.warnings.push(format!(
                "{at}.validate.{setting}: {file} uses `$ref`; inside the OpenAPI document it \
                 resolves against the document, not the file"
            ));
        }
        let stem: String = std::path::Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let stem = if stem.is_empty() {
            "schema".into()
        } else {
            stem
        };
        let mut name = stem.clone();
        let mut n = 2;
        while self.schemas.contains_key(&name) || name == "Error" {
            name = format!("{stem}-{n}");
            n += 1;
        }
        self.schemas.insert(name.clone(), schema);
        self.schema_names.insert(file.to_owned(), name.clone());
        Ok(json!({"$ref": format!("#/components/schemas/{name}")}))
    }

    /// The schema's own copy, for reading `properties` and `required`.
    fn schema_value(&self, file: &str) -> Option<&Value> {
        self.schema_names
            .get(file)
            .and_then(|name| self.schemas.get(name))
    }

    fn parameters(
        &mut self,
        at: &str,
        route: &RouteConfig,
        template: &Template,
    ) -> anyhow::Result<Vec<Value>> {
        let validate = route.validate.clone().unwrap_or_default();
        let mut out = Vec::new();
        let params_schema = match &validate.params_schema {
            Some(file) => {
                self.schema_ref(at, "params-schema", file)?;
                self.schema_value(file).cloned()
            }
            None => None,
        };
        for (name, catch_all) in &template.params {
            let schema = params_schema
                .as_ref()
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.get(name))
                .cloned()
                .unwrap_or_else(|| json!({"type": "string"}));
            let mut param = json!({"name": name, "in": "path", "required": true, "schema": schema});
            if *catch_all {
                param["description"] =
                    json!("The rest of the path: one or more segments, `/` included.");
            }
            out.push(param);
        }
        if let Some(file) = &validate.query_schema {
            self.schema_ref(at, "query-schema", file)?;
            let schema = self.schema_value(file).cloned().unwrap_or_default();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    out.push(json!({
                        "name": name,
                        "in": "query",
                        "required": required.contains(&name.as_str()),
                        "schema": property,
                    }));
                }
            }
        }
        Ok(out)
    }

    fn request_body(&mut self, at: &str, route: &RouteConfig) -> anyhow::Result<Option<Value>> {
        let Some(validate) = &route.validate else {
            return Ok(None);
        };
        let schema = match &validate.schema {
            Some(file) => self.schema_ref(at, "schema", file)?,
            None if validate.json.is_some() => json!({}),
            None => return Ok(None),
        };
        // A schema implies a required JSON body, as validation applies it.
        let required = validate.json != Some(crate::validate::JsonBody::Optional);
        Ok(Some(json!({
            "required": required,
            "content": {"application/json": {"schema": schema}},
        })))
    }

    fn responses(&self, route: &RouteConfig, has_body: bool) -> Value {
        let mut success = json!({
            "description": format!("The response of component `{}`.", route.component),
        });
        let mut headers = Map::new();
        if let Some(value) = &route.cache_control {
            headers.insert(
                "Cache-Control".into(),
                json!({
                    "description": format!("`{value}`, unless the component sets its own."),
                    "schema": {"type": "string"},
                }),
            );
        }
        if let Some(cors) = cors_of(self.config, route) {
            headers.extend(cors_headers(cors));
        }
        if !headers.is_empty() {
            success["headers"] = Value::Object(headers);
        }
        let error = |description: String| json!({"$ref": "#/components/responses/Error", "description": description});
        let mut responses = Map::new();
        responses.insert("2XX".into(), success);
        if let Some(validate) = &route.validate {
            if validate.query_schema.is_some() || validate.params_schema.is_some() {
                responses.insert(
                    "400".into(),
                    error("The query or path parameters break the route's schema, or the JSON body is malformed.".into()),
                );
            } else if has_body {
                responses.insert(
                    "400".into(),
                    error("The JSON body is missing or malformed.".into()),
                );
            }
            if has_body {
                responses.insert(
                    "415".into(),
                    error("The body is not `application/json` (or `+json`).".into()),
                );
            }
            if validate.schema.is_some() {
                responses.insert(
                    "422".into(),
                    error(
                        "The body breaks the route's schema; `details` lists every violation."
                            .into(),
                    ),
                );
            }
        }
        if has_body {
            let limit = self
                .config
                .max_request_body
                .map_or(crate::limits::DEFAULT_MAX_REQUEST_BODY, |b| b.0);
            responses.insert(
                "413".into(),
                error(format!("The body is larger than {limit} bytes.")),
            );
        }
        responses.insert(
            "4XX".into(),
            json!({"$ref": "#/components/responses/Error"}),
        );
        responses.insert(
            "5XX".into(),
            error("The component failed, timed out or answered too much (500, 502, 504), or the host is at capacity (503).".into()),
        );
        Value::Object(responses)
    }

    fn finish(mut self) -> anyhow::Result<Document> {
        let format = self.config.error_format;
        let mut paths = Map::new();
        for (path, operations) in std::mem::take(&mut self.paths) {
            let mut item: Map<String, Value> = operations
                .into_iter()
                .map(|(method, (operation, _))| (method, operation))
                .collect();
            if let Some((mut preflight, methods)) = self.preflights.remove(&path)
                && !item.contains_key("options")
            {
                preflight["operationId"] = json!(self.unique_id(format!(
                    "{}Preflight",
                    Template::parse(&path).operation_id("options")
                )));
                preflight["description"] = json!(format!(
                    "Answered by the host, never by a component: `204` with the methods this \
                     path answers ({}) when the origin is allowed, and without CORS headers \
                     otherwise.",
                    methods.join(", ")
                ));
                item.insert("options".into(), preflight);
            }
            paths.insert(path, Value::Object(item));
        }
        let openapi = self.config.openapi.clone().unwrap_or_default();
        let mut info = json!({
            "title": openapi.title.as_deref().unwrap_or("Lamina API"),
            "version": openapi.version.as_deref().unwrap_or("1.0.0"),
        });
        if let Some(description) = &openapi.description {
            info["description"] = json!(description);
        }
        self.schemas.insert("Error".into(), error_schema(format));
        let mut value = json!({
            "openapi": "3.1.0",
            "info": info,
            "paths": paths,
            "components": {
                "schemas": self.schemas,
                "responses": {
                    "Error": {
                        "description": format!(
                            "An error from the host or a component, in the `{}` error format.",
                            format.as_str()
                        ),
                        "content": {
                            error_media_type(format): {
                                "schema": {"$ref": "#/components/schemas/Error"}
                            }
                        },
                    }
                },
            },
        });
        if !openapi.servers.is_empty() {
            value["servers"] = openapi
                .servers
                .iter()
                .map(|url| json!({"url": url}))
                .collect();
        }
        Ok(Document {
            value,
            warnings: self.warnings,
        })
    }
}

/// The CORS policy that applies to `route`, as [`crate::policy::Policies`] picks it.
fn cors_of<'r>(config: &'r Config, route: &'r RouteConfig) -> Option<&'r CorsConfig> {
    match &route.cors {
        None | Some(RouteCors::Enabled(true)) => config.cors.as_ref(),
        Some(RouteCors::Enabled(false)) => None,
        Some(RouteCors::Policy(policy)) => Some(policy),
    }
}

/// Whether a schema refers to another with `$ref` anywhere.
fn contains_ref(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.contains_key("$ref") || map.values().any(contains_ref),
        Value::Array(items) => items.iter().any(contains_ref),
        _ => false,
    }
}

/// The response headers CORS adds for an allowed origin.
fn cors_headers(cors: &CorsConfig) -> Map<String, Value> {
    let mut headers = Map::new();
    let origins = cors
        .allow_origins
        .iter()
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ");
    headers.insert(
        "Access-Control-Allow-Origin".into(),
        json!({
            "description": format!("Sent when the request's `Origin` is allowed: {origins}."),
            "schema": {"type": "string"},
        }),
    );
    if cors.allow_credentials {
        headers.insert(
            "Access-Control-Allow-Credentials".into(),
            json!({"schema": {"type": "string", "const": "true"}}),
        );
    }
    if !cors.expose_headers.is_empty() {
        headers.insert(
            "Access-Control-Expose-Headers".into(),
            json!({"schema": {"type": "string", "const": cors.expose_headers.join(", ")}}),
        );
    }
    headers
}

/// The preflight operation for a path whose routes have CORS (its description and
/// operation id are filled in once every route of the path is known).
fn preflight(cors: &CorsConfig, parameters: &[Value], tags: &[String]) -> Value {
    let mut headers = cors_headers(cors);
    headers.insert(
        "Access-Control-Allow-Methods".into(),
        json!({"schema": {"type": "string"}}),
    );
    headers.insert(
        "Access-Control-Allow-Headers".into(),
        json!({"schema": {"type": "string"}}),
    );
    if let Some(max_age) = cors.max_age {
        headers.insert(
            "Access-Control-Max-Age".into(),
            json!({"schema": {"type": "string", "const": max_age.to_string()}}),
        );
    }
    let path_params: Vec<&Value> = parameters.iter().filter(|p| p["in"] == "path").collect();
    let mut operation = json!({
        "summary": "CORS preflight",
        "parameters": path_params,
        "responses": {"204": {"description": "The preflight answer.", "headers": headers}},
        "x-lamina": {"host": "cors-preflight"},
    });
    if path_params.is_empty() {
        operation.as_object_mut().map(|o| o.remove("parameters"));
    }
    if !tags.is_empty() {
        operation["tags"] = json!(tags);
    }
    operation
}

/// The media type of error responses in `format`.
fn error_media_type(format: ErrorFormat) -> &'static str {
    match format {
        ErrorFormat::Problem => "application/problem+json",
        ErrorFormat::Lamina | ErrorFormat::Powertools | ErrorFormat::ApiEventUtils => {
            "application/json"
        }
    }
}

/// The JSON Schema of an error body in `format` ([`crate::error_format`] renders them).
fn error_schema(format: ErrorFormat) -> Value {
    let string = json!({"type": "string"});
    match format {
        ErrorFormat::Lamina => json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message", "request-id"],
                "properties": {
                    "code": string,
                    "message": string,
                    "request-id": string,
                    "details": {"description": "What failed, e.g. each schema violation."},
                },
            }},
        }),
        ErrorFormat::Powertools => json!({
            "type": "object",
            "required": ["statusCode"],
            "properties": {
                "statusCode": {"type": "integer"},
                "message": string,
                "detail": {
                    "type": "array",
                    "description": "Validation errors: `loc` and `type` of each.",
                    "items": {"type": "object"},
                },
            },
        }),
        ErrorFormat::ApiEventUtils => json!({
            "type": "object",
            "required": ["Error"],
            "properties": {"Error": {
                "type": "object",
                "required": ["Code", "Message"],
                "properties": {"Code": string, "Message": string},
            }},
        }),
        ErrorFormat::Problem => json!({
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": string,
                "title": string,
                "status": {"type": "integer"},
                "detail": string,
                "code": string,
                "request-id": string,
                "details": {"description": "What failed, e.g. each schema violation."},
            },
        }),
    }
}

/// A fixed body the host serves itself (the document, the Swagger UI page).
struct Served {
    /// What `lamina check` lists as the route's target.
    what: &'static str,
    content_type: &'static str,
    body: Bytes,
}

impl NativeHandler for Served {
    fn handle(
        &self,
        _request: Request,
        _template: &str,
        _params: Vec<(String, String)>,
    ) -> Result<Response, Error> {
        let mut response = Response::new(StatusCode::OK);
        response.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        response.body = self.body.clone();
        Ok(response)
    }

    fn describe(&self) -> &str {
        self.what
    }
}

/// Binds `[openapi]`'s `path` and `swagger-ui` in `app`, when set: the document is built
/// once, here, from the same config as the routes.
///
/// # Errors
///
/// As [`document`], and a path that is not absolute or is already bound, naming the
/// setting.
pub(crate) fn bind(app: &mut App, config: &Config) -> anyhow::Result<()> {
    let Some(openapi) = &config.openapi else {
        return Ok(());
    };
    if openapi.path.is_none() && openapi.swagger_ui.is_none() {
        return Ok(());
    }
    let document = document(config).context("openapi")?;
    let json = serde_json::to_string(&document.value)?;
    let mut bind = |setting: &str, path: &str, served: Served| -> anyhow::Result<()> {
        if !path.starts_with('/') {
            bail!("openapi.{setting}: {path:?} must start with '/'");
        }
        app.route("GET", path, Target::Native(Arc::new(served)))
            .map_err(|e| anyhow::anyhow!("openapi.{setting}: {e}"))
    };
    if let Some(path) = &openapi.path {
        bind(
            "path",
            path,
            Served {
                what: "(host: the OpenAPI document)",
                content_type: "application/json",
                body: Bytes::from(json.clone()),
            },
        )?;
    }
    if let Some(path) = &openapi.swagger_ui {
        let assets = openapi
            .swagger_ui_assets
            .as_deref()
            .unwrap_or(SWAGGER_UI_ASSETS)
            .trim_end_matches('/');
        let title = document.value["info"]["title"].as_str().unwrap_or_default();
        bind(
            "swagger-ui",
            path,
            Served {
                what: "(host: Swagger UI)",
                content_type: "text/html; charset=utf-8",
                body: Bytes::from(swagger_page(title, assets, &json)),
            },
        )?;
    }
    Ok(())
}

/// The Swagger UI page, with the document inline: it works behind any stage or base path,
/// with no second request for the document.
fn swagger_page(title: &str, assets: &str, json: &str) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    // `</script>` inside a string would end the script element: JSON may write `<` as
    // `\u003c` anywhere in a string.
    let spec = json.replace('<', "\\u003c");
    let (title, assets) = (escape(title), escape(assets));
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"{assets}/swagger-ui.css\">\n\
         </head>\n<body>\n<div id=\"swagger-ui\"></div>\n\
         <script src=\"{assets}/swagger-ui-bundle.js\"></script>\n\
         <script>\nSwaggerUIBundle({{ spec: {spec}, dom_id: \"#swagger-ui\", deepLinking: true }});\n</script>\n\
         </body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_openapi_paths_with_their_parameters() {
        let t = Template::parse("/files/{*rest}");
        assert_eq!(t.path, "/files/{rest}");
        assert_eq!(t.params, vec![("rest".to_owned(), true)]);
        let t = Template::parse("/{proxy+}");
        assert_eq!(t.path, "/{proxy}");
        assert_eq!(t.params, vec![("proxy".to_owned(), true)]);
        let t = Template::parse("/users/{id}/posts/{post}");
        assert_eq!(t.path, "/users/{id}/posts/{post}");
        assert_eq!(
            t.params,
            vec![("id".to_owned(), false), ("post".to_owned(), false)]
        );
    }

    #[test]
    fn operation_ids_spell_the_method_and_the_path() {
        assert_eq!(
            Template::parse("/todos/{id}").operation_id("GET"),
            "getTodosById"
        );
        assert_eq!(
            Template::parse("/api-v1/user_list").operation_id("post"),
            "postApiV1UserList"
        );
        assert_eq!(Template::parse("/").operation_id("get"), "getRoot");
    }

    #[test]
    fn the_page_cannot_be_broken_out_of() {
        let page = swagger_page("a<b", "https://x", r#"{"d":"</script><script>alert(1)"}"#);
        assert!(!page.contains("</script><script>alert"));
        assert!(page.contains("<title>a&lt;b</title>"));
    }
}
