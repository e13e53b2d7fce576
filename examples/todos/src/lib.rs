//! `todos`: a small JSON API over several routes and methods, with 400/404/422 errors
//! through the SDK's error type, and its todos in a key-value store.
//!
//! With `key-value = ["todos"]` in its host config (and a `[key-value.todos]` store: a
//! file locally, DynamoDB in Lambda), each todo is the JSON at `todo:{id}`, and new ids
//! come from the counter `next-id` (an atomic increment, so concurrent creates never share
//! an id). Without a store it serves a fixed, read-only seed list: `POST` answers with the
//! todo it would create, `DELETE` with whether it would have deleted one.

use lamina_sdk::kv::{self, KvError};
use lamina_sdk::{Error, Request, Response, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// The counter new ids come from.
const NEXT_ID: &str = "next-id";
/// The prefix of every todo's key.
const TODO: &str = "todo:";
/// Todos read per batch when listing.
const BATCH: usize = 100;

/// Where the todos are.
enum Store {
    /// The built-in seed list, read-only.
    Seed,
    /// The `todos` key-value store.
    Kv(kv::Store),
}

fn key(id: u64) -> String {
    format!("{TODO}{id}")
}

impl Store {
    fn open() -> Result<Self> {
        match kv::open("todos") {
            Ok(store) => Ok(Self::Kv(store)),
            // Not granted a store: the demo's read-only data.
            Err(KvError::AccessDenied(_)) => Ok(Self::Seed),
            Err(other) => Err(other.into()),
        }
    }

    fn list(&self, done: Option<bool>) -> Result<Vec<Todo>> {
        let mut todos = match self {
            Self::Seed => seed(),
            Self::Kv(store) => {
                let keys = store
                    .list()
                    .filter(|k| k.as_ref().map_or(true, |k| k.starts_with(TODO)))
                    .collect::<std::result::Result<Vec<String>, KvError>>()?;
                let mut todos = Vec::with_capacity(keys.len());
                for chunk in keys.chunks(BATCH) {
                    let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    for value in store.get_many(&chunk)?.into_iter().flatten() {
                        let todo: Todo = serde_json::from_slice(&value).map_err(|e| {
                            Error::internal(format!("a stored todo is not valid: {e}"))
                        })?;
                        todos.push(todo);
                    }
                }
                todos
            }
        };
        todos.sort_by_key(|t| t.id);
        todos.retain(|t| done.is_none_or(|d| t.done == d));
        Ok(todos)
    }

    fn get(&self, id: u64) -> Result<Option<Todo>> {
        match self {
            Self::Seed => Ok(seed().into_iter().find(|t| t.id == id)),
            Self::Kv(store) => Ok(store.get_json(&key(id))?),
        }
    }

    fn create(&self, title: String, done: bool) -> Result<Todo> {
        match self {
            Self::Seed => Ok(Todo {
                id: seed().len() as u64 + 1,
                title,
                done,
            }),
            Self::Kv(store) => {
                let id = u64::try_from(store.increment(NEXT_ID, 1)?)
                    .map_err(|_| Error::internal("the id counter is negative"))?;
                let todo = Todo { id, title, done };
                store.set_json(&key(id), &todo)?;
                Ok(todo)
            }
        }
    }

    /// Whether there was a todo `id` (and, with a store, it is gone now).
    fn delete(&self, id: u64) -> Result<bool> {
        match self {
            Self::Seed => Ok(seed().iter().any(|t| t.id == id)),
            Self::Kv(store) => {
                let existed = store.exists(&key(id))?;
                if existed {
                    store.delete(&key(id))?;
                }
                Ok(existed)
            }
        }
    }
}

/// Longest title a todo may have.
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
    let store = Store::open()?;
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
