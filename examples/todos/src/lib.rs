//! `todos`: a small JSON API over several routes and methods, with 400/404/422 errors
//! through the SDK's error type, and its data in DynamoDB.
//!
//! With `config = { table = "todos" }` and `aws = { services = ["dynamodb"] }` in the host
//! config, the todos live in that DynamoDB table (key `id`, a number), reached through
//! `lamina_sdk::aws`: the host signs each call with the function's credentials, which this
//! component never sees. Without a table it serves a fixed seed list, so the demo runs with
//! no AWS at all: `POST` answers with the todo it would create, `DELETE` with whether it
//! would have deleted one.

mod dynamo;

use lamina_sdk::{Error, Request, Response, Result, config};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Todo {
    id: u64,
    title: String,
    done: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTodo {
    title: String,
    #[serde(default)]
    done: bool,
}

/// Where the todos are.
enum Store {
    /// The built-in seed list, read-only.
    Seed,
    /// A DynamoDB table.
    Table(dynamo::Table),
}

impl Store {
    fn from_config() -> Self {
        match config::get("table") {
            Some(name) if !name.is_empty() => Self::Table(dynamo::Table::new(name)),
            _ => Self::Seed,
        }
    }

    fn list(&self, done: Option<bool>) -> Result<Vec<Todo>> {
        let todos = match self {
            Self::Seed => seed(),
            Self::Table(table) => table.scan()?,
        };
        Ok(todos
            .into_iter()
            .filter(|t| done.is_none_or(|d| t.done == d))
            .collect())
    }

    fn get(&self, id: u64) -> Result<Option<Todo>> {
        match self {
            Self::Seed => Ok(seed().into_iter().find(|t| t.id == id)),
            Self::Table(table) => table.get(id),
        }
    }

    fn create(&self, title: String, done: bool) -> Result<Todo> {
        match self {
            Self::Seed => Ok(Todo {
                id: seed().len() as u64 + 1,
                title,
                done,
            }),
            Self::Table(table) => table.create(title, done),
        }
    }

    /// Whether there was a todo `id` (and, with a table, it is gone now).
    fn delete(&self, id: u64) -> Result<bool> {
        match self {
            Self::Seed => Ok(seed().iter().any(|t| t.id == id)),
            Self::Table(table) => table.delete(id),
        }
    }
}

/// Longest title a todo may have (a DynamoDB item is at most 400 KB; a title is not).
const MAX_TITLE: usize = 500;

fn seed() -> Vec<Todo> {
    [
        ("Write the WIT contract", true),
        ("Ship the host", false),
        ("Swap a component live", false),
    ]
    .into_iter()
    .zip(1..)
    .map(|((title, done), id)| Todo {
        id,
        title: title.to_owned(),
        done,
    })
    .collect()
}

fn todo_id(req: &Request) -> Result<u64> {
    let raw = req.param("id").unwrap_or_default();
    raw.parse().ok().filter(|&id| id > 0).ok_or_else(|| {
        Error::bad_request(format!("todo id must be a positive integer, got {raw:?}"))
    })
}

fn not_found(id: u64) -> Error {
    Error::not_found(format!("no todo with id {id}"))
}

fn list(store: &Store, req: &Request) -> Result<Response> {
    let done = match req.query("done") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(Error::bad_request(format!(
                "done must be true or false, got {other:?}"
            )));
        }
    };
    Ok(Response::json(&store.list(done)?))
}

fn create(store: &Store, req: &Request) -> Result<Response> {
    let new: NewTodo = req.json()?;
    let title = new.title.trim();
    if title.is_empty() {
        return Err(Error::unprocessable("a todo needs a title")
            .with_details(&serde_json::json!([{ "field": "title", "problem": "empty" }])));
    }
    if title.chars().count() > MAX_TITLE {
        return Err(
            Error::unprocessable(format!("a title has at most {MAX_TITLE} characters"))
                .with_details(&serde_json::json!([{ "field": "title", "problem": "too long" }])),
        );
    }
    let todo = store.create(title.to_owned(), new.done)?;
    lamina_sdk::log::info(&format!("created todo {}", todo.id));
    Ok(Response::json(&todo)
        .with_status(201)
        .with_header("location", &format!("/todos/{}", todo.id)))
}

fn handle(req: Request) -> Result<Response> {
    let store = Store::from_config();
    match (req.method(), req.route()) {
        ("GET", "/todos") => list(&store, &req),
        ("POST", "/todos") => create(&store, &req),
        ("GET", "/todos/{id}") => {
            let id = todo_id(&req)?;
            Ok(Response::json(
                &store.get(id)?.ok_or_else(|| not_found(id))?,
            ))
        }
        ("DELETE", "/todos/{id}") => {
            let id = todo_id(&req)?;
            if store.delete(id)? {
                Ok(Response::no_content())
            } else {
                Err(not_found(id))
            }
        }
        (method, route) => Err(Error::new(
            405,
            "method-not-allowed",
            format!("todos has no {method} {route}"),
        )),
    }
}

lamina_sdk::export_handler!(handle);
