//! The todos in a DynamoDB table, through `lamina_sdk::aws` (the JSON protocol, signed by
//! the host).
//!
//! Table layout: partition key `id` (number). Each todo is an item `{id, title, done}`;
//! the item with `id = 0` holds `next_id`, the counter new ids come from (an atomic
//! `ADD`, so concurrent creates never share an id).

use crate::Todo;
use lamina_sdk::aws::{self, AwsError};
use lamina_sdk::{Error, Result};
use serde_json::{Value, json};

/// The id of the counter item; todo ids start at 1.
const COUNTER: &str = "0";

/// Pages a scan reads at most (1 MB each): the example stays bounded whatever the table.
const MAX_PAGES: usize = 10;

pub(crate) struct Table {
    name: String,
}

impl Table {
    pub(crate) fn new(name: String) -> Self {
        Self { name }
    }

    /// `operation` on the table; any failure is the store being unavailable.
    fn call(&self, operation: &str, input: Value) -> Result<Value> {
        self.try_call(operation, input)
            .map_err(|e| unavailable(&self.name, operation, &e))
    }

    fn try_call(&self, operation: &str, mut input: Value) -> std::result::Result<Value, AwsError> {
        input["TableName"] = json!(self.name);
        aws::call(
            "dynamodb",
            &format!("DynamoDB_20120810.{operation}"),
            &input,
        )
    }

    pub(crate) fn get(&self, id: u64) -> Result<Option<Todo>> {
        let output = self.call("GetItem", json!({ "Key": key(id), "ConsistentRead": true }))?;
        output.get("Item").map(from_item).transpose()
    }

    pub(crate) fn scan(&self) -> Result<Vec<Todo>> {
        let mut todos = Vec::new();
        let mut start: Option<Value> = None;
        for _ in 0..MAX_PAGES {
            let mut input = json!({
                "FilterExpression": "id <> :counter",
                "ExpressionAttributeValues": { ":counter": { "N": COUNTER } },
                // A todo created just before is in the list.
                "ConsistentRead": true,
            });
            if let Some(start) = start.take() {
                input["ExclusiveStartKey"] = start;
            }
            let output = self.call("Scan", input)?;
            for item in output["Items"].as_array().into_iter().flatten() {
                todos.push(from_item(item)?);
            }
            match output.get("LastEvaluatedKey") {
                Some(next) if !next.is_null() => start = Some(next.clone()),
                _ => {
                    todos.sort_by_key(|t| t.id);
                    return Ok(todos);
                }
            }
        }
        // Scan order is hash order: a list cut short would be an arbitrary subset.
        lamina_sdk::log::error(&format!(
            "table {} holds more todos than {MAX_PAGES} scan pages; not listing a part of them",
            self.name
        ));
        Err(Error::new(
            507,
            "too-many-todos",
            "there are more todos than one list can show",
        ))
    }

    pub(crate) fn create(&self, title: String, done: bool) -> Result<Todo> {
        let counter = self.call(
            "UpdateItem",
            json!({
                "Key": { "id": { "N": COUNTER } },
                "UpdateExpression": "ADD next_id :one",
                "ExpressionAttributeValues": { ":one": { "N": "1" } },
                "ReturnValues": "UPDATED_NEW",
            }),
        )?;
        let id: u64 = counter["Attributes"]["next_id"]["N"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Error::internal("the id counter did not come back as a number"))?;
        let put = self.try_call(
            "PutItem",
            json!({
                "Item": {
                    "id": { "N": id.to_string() },
                    "title": { "S": title },
                    "done": { "BOOL": done },
                },
                "ConditionExpression": "attribute_not_exists(id)",
            }),
        );
        match put {
            Ok(_) => Ok(Todo { id, title, done }),
            // The counter is behind an item written some other way.
            Err(AwsError::Service { code, .. }) if code == "ConditionalCheckFailedException" => {
                Err(Error::conflict(format!(
                    "a todo with id {id} already exists"
                )))
            }
            Err(error) => Err(unavailable(&self.name, "PutItem", &error)),
        }
    }

    pub(crate) fn delete(&self, id: u64) -> Result<bool> {
        let output = self.call(
            "DeleteItem",
            json!({ "Key": key(id), "ReturnValues": "ALL_OLD" }),
        )?;
        Ok(output
            .get("Attributes")
            .and_then(Value::as_object)
            .is_some_and(|a| !a.is_empty()))
    }
}

fn key(id: u64) -> Value {
    json!({ "id": { "N": id.to_string() } })
}

fn from_item(item: &Value) -> Result<Todo> {
    let id = item["id"]["N"].as_str().and_then(|n| n.parse().ok());
    let title = item["title"]["S"].as_str();
    let done = item["done"]["BOOL"].as_bool().unwrap_or(false);
    match (id, title) {
        (Some(id), Some(title)) => Ok(Todo {
            id,
            title: title.to_owned(),
            done,
        }),
        _ => Err(Error::internal(
            "a todo item in the table has no numeric id or string title",
        )),
    }
}

/// A failed call as the client sees it: 503 without the details, which go to the log
/// (the table name and the service's message are for the operator).
fn unavailable(table: &str, operation: &str, error: &AwsError) -> Error {
    lamina_sdk::log::error(&format!(
        "DynamoDB {operation} on table {table} failed: {error}"
    ));
    Error::new(
        503,
        "storage-unavailable",
        "the todo store is unavailable; try again later",
    )
}
