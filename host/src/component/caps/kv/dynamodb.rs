//! `backend = "dynamodb"`: one DynamoDB table per store, called over DynamoDB's JSON
//! protocol with the function's own credentials, signed by the same SigV4 code and sent on
//! the same pooled connections as a component's own AWS calls (`caps::aws`, `caps::http`).
//!
//! The table: partition key `k` (string), nothing else to declare. An item is
//!
//! | attribute | type | holds |
//! |---|---|---|
//! | `k` | S | the key |
//! | `v` | B | the value (absent while the key is a counter) |
//! | `n` | N | a counter's value, kept by `increment`'s `ADD` |
//! | `ver` | S | a random token, new on every write: compare-and-swap's version |
//!
//! Reads are strongly consistent (`ConsistentRead`), so a component reads its writes.
//! `list-keys` is a paginated `Scan` (the cursor is the last key's `ExclusiveStartKey`),
//! batches are `BatchGetItem` (100 keys a call) and `BatchWriteItem` (25), retrying what
//! DynamoDB leaves unprocessed. Throttling and server errors are retried with exponential
//! backoff while the request's deadline allows, then reported as `unavailable`. A write
//! that is not idempotent (`increment`'s `ADD`, a compare-and-swap) is retried only when
//! DynamoDB cannot have applied it (throttled, or the connection never made): after a
//! timeout or a server error its outcome is unknown, and the guest is told so rather than
//! have it counted twice.

use super::super::aws::sign_request;
use super::super::http::send;
use super::backend::{Budget, Failure, Outcome, PAGE, Version, incremented};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt as _, Limited};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher as _, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Keys one `BatchGetItem` call may carry.
const BATCH_GET: usize = 100;
/// Writes one `BatchWriteItem` call may carry.
const BATCH_WRITE: usize = 25;
/// The longest one attempt may take before it is abandoned and retried.
const ATTEMPT: Duration = Duration::from_secs(3);
/// The first wait before a retry; it doubles each time, up to [`MAX_BACKOFF`].
const BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Time kept back from the request's deadline when retrying, so the guest gets
/// `unavailable` and can answer (a 503) before the host's own timeout stops it.
const RESERVE: Duration = Duration::from_millis(150);
/// The largest response the host reads (a `BatchGetItem` returns up to 16 MB of items,
/// a third more as base64 in JSON).
const MAX_RESPONSE: usize = 24 << 20;
/// Times `increment` retries its conditional write when the key holds a plain value that
/// changes under it.
const CONTENDED: usize = 16;

/// One store: its table, where DynamoDB is, and the region to sign for.
pub(crate) struct Dynamo {
    table: String,
    region: String,
    endpoint: Uri,
}

/// An error DynamoDB answered with that retrying would not fix.
struct Refused {
    /// The type after the `#` (`ConditionalCheckFailedException`).
    code: String,
    message: String,
}

/// Whether an error type means "refused for load, not applied": safe to retry any call.
fn throttled(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded"
    )
}

/// Whether an error type means "try again later", when the call may be repeated.
fn transient(code: &str) -> bool {
    throttled(code)
        || matches!(
            code,
            "InternalServerError" | "ServiceUnavailable" | "TransactionConflictException"
        )
}

/// Whether a call may be sent again when its outcome is unknown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Reads, and writes that leave the same state when applied twice.
    Safe,
    /// `ADD`, and conditional writes whose second try would fail on the first's effect.
    Once,
}

/// A token no other write has: a per-process random seed, a counter and the time.
fn token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one(n);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{random:016x}{n:x}{nanos:x}")
}

fn key_of(key: &str) -> Value {
    json!({ "k": { "S": key } })
}

/// The value an item holds: `v`, or a counter's `n` as decimal text.
fn value_of(item: &Value) -> Outcome<Option<Vec<u8>>> {
    if let Some(b) = item
        .get("v")
        .and_then(|v| v.get("B"))
        .and_then(Value::as_str)
    {
        return BASE64.decode(b).map(Some).map_err(|_| {
            Failure::Other("DynamoDB returned a value that is not base64".to_owned())
        });
    }
    if let Some(n) = item
        .get("n")
        .and_then(|v| v.get("N"))
        .and_then(Value::as_str)
    {
        return Ok(Some(n.as_bytes().to_vec()));
    }
    Ok(None)
}

impl Dynamo {
    pub(crate) fn new(table: String, region: String, endpoint: Uri) -> Self {
        Self {
            table,
            region,
            endpoint,
        }
    }

    /// Calls `operation` with `input` (the table name added), retrying with backoff until
    /// `deadline`: throttling and connections never made always, server errors, timeouts
    /// and lost connections only when `repeat` allows.
    async fn call(
        &self,
        operation: &str,
        mut input: Value,
        repeat: Repeat,
        deadline: Instant,
    ) -> Outcome<Result<Value, Refused>> {
        if input.get("RequestItems").is_none() {
            input["TableName"] = json!(self.table);
        }
        let body = Bytes::from(input.to_string());
        let deadline = deadline.checked_sub(RESERVE).unwrap_or(deadline);
        let mut wait = BACKOFF;
        loop {
            if Instant::now() >= deadline {
                return Err(Failure::Unavailable(format!(
                    "no time left in the request for DynamoDB {operation} on table {}",
                    self.table
                )));
            }
            let problem = match self.attempt(operation, body.clone(), deadline).await? {
                Ok(output) => return Ok(Ok(output)),
                Err(Attempt::Refused(refused))
                    if throttled(&refused.code)
                        || (repeat == Repeat::Safe && transient(&refused.code)) =>
                {
                    format!("{}: {}", refused.code, refused.message)
                }
                Err(Attempt::Refused(refused)) if transient(&refused.code) => {
                    return Err(self.unknown(operation, &refused.code));
                }
                Err(Attempt::Refused(refused)) => return Ok(Err(refused)),
                Err(Attempt::NotSent(problem)) => problem,
                Err(Attempt::Failed(problem)) if repeat == Repeat::Safe => problem,
                Err(Attempt::Failed(problem)) => return Err(self.unknown(operation, &problem)),
            };
            if Instant::now() + wait >= deadline {
                return Err(Failure::Unavailable(format!(
                    "DynamoDB table {} did not answer {operation} before the request's deadline ({problem})",
                    self.table
                )));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_BACKOFF);
        }
    }

    /// What the guest is told when a write that must not be repeated may or may not have
    /// been applied.
    fn unknown(&self, operation: &str, problem: &str) -> Failure {
        Failure::Unavailable(format!(
            "DynamoDB {operation} on table {} failed with its outcome unknown, so it was not repeated ({problem})",
            self.table
        ))
    }

    /// One signed call, the answer read whole, within the deadline and [`ATTEMPT`].
    async fn attempt(
        &self,
        operation: &str,
        body: Bytes,
        deadline: Instant,
    ) -> Outcome<Result<Value, Attempt>> {
        let mut request = http::Request::post(self.endpoint.clone())
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
            .body(body)
            .map_err(|e| Failure::Other(format!("cannot build the DynamoDB request: {e}")))?;
        sign_request(&self.region, "dynamodb", &mut request).map_err(|e| {
            Failure::Other(format!("the host cannot sign DynamoDB requests: {e:#}"))
        })?;
        let left = deadline.saturating_duration_since(Instant::now());
        let exchange = async {
            let response = send(request).await.map_err(|error| {
                if error.is_connect() {
                    Attempt::NotSent(format!("connecting: {error}"))
                } else {
                    Attempt::Failed(error.to_string())
                }
            })?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map_err(|error| Attempt::Failed(format!("reading the answer: {error}")))?
                .to_bytes();
            Ok::<_, Attempt>((status, bytes))
        };
        let (status, bytes) = match tokio::time::timeout(left.min(ATTEMPT), exchange).await {
            Err(_) => return Ok(Err(Attempt::Failed("timed out".to_owned()))),
            Ok(Err(attempt)) => return Ok(Err(attempt)),
            Ok(Ok(answer)) => answer,
        };
        let output: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Ok(output));
        }
        let code = output
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned());
        let message = output
            .get("message")
            .or_else(|| output.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Err(match code {
            Some(code) => Attempt::Refused(Refused { code, message }),
            None => Attempt::Failed(format!("HTTP {status}")),
        }))
    }

    /// `call` of a call that may be repeated, with every refusal an error for the guest.
    async fn must(&self, operation: &str, input: Value, deadline: Instant) -> Outcome<Value> {
        self.call(operation, input, Repeat::Safe, deadline)
            .await?
            .map_err(|refused| self.refusal(operation, &refused))
    }

    /// What the guest is told about a refusal.
    fn refusal(&self, operation: &str, refused: &Refused) -> Failure {
        match refused.code.as_str() {
            "ResourceNotFoundException" => Failure::Unavailable(format!(
                "the DynamoDB table {} does not exist in {}",
                self.table, self.region
            )),
            "ValidationException" if refused.message.contains("size") => {
                tracing::warn!(
                    table = self.table,
                    operation,
                    message = refused.message,
                    "DynamoDB refused an item as too large"
                );
                Failure::TooLarge("the item is over the store's size limit".to_owned())
            }
            "AccessDeniedException" | "UnrecognizedClientException" => Failure::Other(format!(
                "the function may not call {operation} on the DynamoDB table {}: {}",
                self.table, refused.message
            )),
            _ => Failure::Other(format!(
                "DynamoDB refused {operation}: {}: {}",
                refused.code, refused.message
            )),
        }
    }

    pub(crate) async fn read(
        &self,
        key: &str,
        deadline: Instant,
    ) -> Outcome<(Option<Vec<u8>>, Version)> {
        let output = self
            .must(
                "GetItem",
                json!({ "Key": key_of(key), "ConsistentRead": true }),
                deadline,
            )
            .await?;
        let Some(item) = output.get("Item").filter(|i| i.is_object()) else {
            return Ok((None, None));
        };
        let version = item
            .get("ver")
            .and_then(|v| v.get("S"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok((value_of(item)?, Some(version)))
    }

    pub(crate) async fn exists(&self, key: &str, deadline: Instant) -> Outcome<bool> {
        // Through `read`, so an item with neither `v` nor `n` (written by something else)
        // is absent for `exists` as it is for `get`.
        Ok(self.read(key, deadline).await?.0.is_some())
    }

    pub(crate) async fn list(
        &self,
        cursor: Option<String>,
        deadline: Instant,
    ) -> Outcome<(Vec<String>, Option<String>)> {
        let mut input =
            json!({ "ProjectionExpression": "k", "Limit": PAGE, "ConsistentRead": true });
        if let Some(cursor) = cursor {
            input["ExclusiveStartKey"] = key_of(&cursor);
        }
        let output = self.must("Scan", input, deadline).await?;
        let keys = output["Items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["k"]["S"].as_str().map(str::to_owned))
            .collect();
        let cursor = output["LastEvaluatedKey"]["k"]["S"]
            .as_str()
            .map(str::to_owned);
        Ok((keys, cursor))
    }

    pub(crate) async fn increment(&self, key: &str, delta: i64, deadline: Instant) -> Outcome<i64> {
        for _ in 0..CONTENDED {
            // A counter (or a new key): DynamoDB adds atomically.
            // Refused (and then reported by `incremented` below) when the sum would leave the
            // 64-bit range, which DynamoDB's 38-digit numbers would otherwise store.
            let (guard, bound) = if delta >= 0 {
                ("n <= :bound", i64::MAX - delta)
            } else {
                ("n >= :bound", i64::MIN - delta)
            };
            let added = self
                .call(
                    "UpdateItem",
                    json!({
                        "Key": key_of(key),
                        "UpdateExpression": "ADD n :delta SET ver = :ver",
                        "ConditionExpression": format!("attribute_not_exists(v) AND (attribute_not_exists(n) OR {guard})"),
                        "ExpressionAttributeValues": {
                            ":delta": { "N": delta.to_string() },
                            ":ver": { "S": token() },
                            ":bound": { "N": bound.to_string() },
                        },
                        "ReturnValues": "UPDATED_NEW",
                    }),
                    Repeat::Once,
                    deadline,
                )
                .await?;
            match added {
                Ok(output) => {
                    return output["Attributes"]["n"]["N"]
                        .as_str()
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| {
                            Failure::Other("the counter is outside the 64-bit range".to_owned())
                        });
                }
                Err(refused) if refused.code != "ConditionalCheckFailedException" => {
                    return Err(self.refusal("UpdateItem", &refused));
                }
                Err(_) => {}
            }
            // The key holds a value written by `set` (a number in text becomes the counter,
            // if nobody changed it meanwhile), or the sum would overflow (`incremented` says
            // so).
            let (current, version) = self.read(key, deadline).await?;
            let new = incremented(current.as_deref(), delta)?;
            if self
                .conditional_put(key, Put::Counter(new), &version, deadline)
                .await?
            {
                return Ok(new);
            }
        }
        Err(Failure::Unavailable(format!(
            "the counter kept changing under {CONTENDED} attempts to increment it"
        )))
    }

    pub(crate) async fn swap(
        &self,
        key: &str,
        expected: &Version,
        value: Vec<u8>,
        deadline: Instant,
    ) -> Outcome<bool> {
        self.conditional_put(key, Put::Bytes(value), expected, deadline)
            .await
    }

    /// Writes `what` at `key` if the item's version is still `expected`.
    async fn conditional_put(
        &self,
        key: &str,
        what: Put,
        expected: &Version,
        deadline: Instant,
    ) -> Outcome<bool> {
        let mut item = json!({ "k": { "S": key }, "ver": { "S": token() } });
        match what {
            Put::Bytes(value) => item["v"] = json!({ "B": BASE64.encode(value) }),
            Put::Counter(n) => item["n"] = json!({ "N": n.to_string() }),
        }
        let mut input = json!({ "Item": item });
        match expected {
            None => input["ConditionExpression"] = json!("attribute_not_exists(k)"),
            // Written by something other than the host: no version to compare.
            Some(v) if v.is_empty() => {
                input["ConditionExpression"] =
                    json!("attribute_exists(k) AND attribute_not_exists(ver)");
            }
            Some(v) => {
                input["ConditionExpression"] = json!("ver = :expected");
                input["ExpressionAttributeValues"] = json!({ ":expected": { "S": v } });
            }
        }
        match self.call("PutItem", input, Repeat::Once, deadline).await? {
            Ok(_) => Ok(true),
            Err(refused) if refused.code == "ConditionalCheckFailedException" => Ok(false),
            Err(refused) => Err(self.refusal("PutItem", &refused)),
        }
    }

    pub(crate) async fn get_many(
        &self,
        keys: Vec<String>,
        deadline: Instant,
    ) -> Outcome<Vec<Option<(String, Vec<u8>)>>> {
        let unique: Vec<&String> = {
            let mut seen = HashSet::new();
            keys.iter().filter(|k| seen.insert(k.as_str())).collect()
        };
        let mut found: HashMap<String, Vec<u8>> = HashMap::new();
        let mut fetched = Budget::default();
        for chunk in unique.chunks(BATCH_GET) {
            let mut pending: Vec<Value> = chunk.iter().map(|k| key_of(k)).collect();
            let mut wait = BACKOFF;
            while !pending.is_empty() {
                let input = json!({ "RequestItems": { &self.table: {
                    "Keys": pending, "ConsistentRead": true,
                } } });
                let output = self.must("BatchGetItem", input, deadline).await?;
                for item in output["Responses"][&self.table]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    if let (Some(key), Some(value)) = (item["k"]["S"].as_str(), value_of(item)?) {
                        fetched.take(&value)?;
                        found.insert(key.to_owned(), value);
                    }
                }
                pending = output["UnprocessedKeys"][&self.table]["Keys"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                self.pause_for_unprocessed(&pending, &mut wait, deadline)
                    .await?;
            }
        }
        let mut budget = Budget::default();
        keys.into_iter()
            .map(|k| match found.get(&k) {
                Some(v) => {
                    budget.take(v)?;
                    Ok(Some((k, v.clone())))
                }
                None => Ok(None),
            })
            .collect()
    }

    /// Before retrying what a batch left unprocessed (DynamoDB's answer to load), waits,
    /// longer each time, or gives up at the deadline.
    async fn pause_for_unprocessed(
        &self,
        pending: &[Value],
        wait: &mut Duration,
        deadline: Instant,
    ) -> Outcome<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let deadline = deadline.checked_sub(RESERVE).unwrap_or(deadline);
        if Instant::now() + *wait >= deadline {
            return Err(Failure::Unavailable(format!(
                "DynamoDB table {} left {} items of a batch unprocessed until the request's deadline",
                self.table,
                pending.len()
            )));
        }
        tokio::time::sleep(*wait).await;
        *wait = (*wait * 2).min(MAX_BACKOFF);
        Ok(())
    }

    pub(crate) async fn set_many(
        &self,
        pairs: Vec<(String, Vec<u8>)>,
        deadline: Instant,
    ) -> Outcome<()> {
        if let [(key, value)] = pairs.as_slice() {
            let item = json!({ "k": { "S": key }, "v": { "B": BASE64.encode(value) }, "ver": { "S": token() } });
            self.must("PutItem", json!({ "Item": item }), deadline)
                .await?;
            return Ok(());
        }
        // A batch may not name a key twice: the last value wins, as it would one by one.
        let mut last: HashMap<&str, &[u8]> = HashMap::new();
        let mut order = Vec::new();
        for (key, value) in &pairs {
            if last.insert(key, value).is_none() {
                order.push(key.as_str());
            }
        }
        let requests: Vec<Value> = order
            .iter()
            .map(|key| {
                json!({ "PutRequest": { "Item": {
                    "k": { "S": key },
                    "v": { "B": BASE64.encode(last[key]) },
                    "ver": { "S": token() },
                } } })
            })
            .collect();
        self.write_batches(requests, deadline).await
    }

    pub(crate) async fn delete_many(&self, keys: Vec<String>, deadline: Instant) -> Outcome<()> {
        if let [key] = keys.as_slice() {
            self.must("DeleteItem", json!({ "Key": key_of(key) }), deadline)
                .await?;
            return Ok(());
        }
        let mut seen = HashSet::new();
        let requests: Vec<Value> = keys
            .iter()
            .filter(|k| seen.insert(k.as_str()))
            .map(|k| json!({ "DeleteRequest": { "Key": key_of(k) } }))
            .collect();
        self.write_batches(requests, deadline).await
    }

    /// `BatchWriteItem` over `requests`, 25 at a time, until none is left unprocessed.
    async fn write_batches(&self, requests: Vec<Value>, deadline: Instant) -> Outcome<()> {
        for chunk in requests.chunks(BATCH_WRITE) {
            let mut pending = chunk.to_vec();
            let mut wait = BACKOFF;
            while !pending.is_empty() {
                let input = json!({ "RequestItems": { &self.table: pending } });
                let output = self.must("BatchWriteItem", input, deadline).await?;
                pending = output["UnprocessedItems"][&self.table]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                self.pause_for_unprocessed(&pending, &mut wait, deadline)
                    .await?;
            }
        }
        Ok(())
    }
}

/// How one attempt went wrong.
enum Attempt {
    /// DynamoDB answered with an error type.
    Refused(Refused),
    /// The connection was never made: DynamoDB did not see the call.
    NotSent(String),
    /// No usable answer after sending: a timeout, a lost connection, an error without a
    /// type. The call may have been applied.
    Failed(String),
}

/// What a conditional write stores.
enum Put {
    Bytes(Vec<u8>),
    Counter(i64),
}
