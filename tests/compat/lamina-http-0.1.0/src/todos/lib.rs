//! `todos`: a small JSON API over several routes and methods, with 400/404/422 errors
//! through the SDK's error type.
//!
//! Instances are fresh per request, so the data is a fixed seed list: `POST` answers with
//! the todo it would create, `DELETE` with whether it would have deleted one.

use lamina_sdk::{Error, Request, Response, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize)]
struct Todo {
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

fn seed() -> Vec<Todo> {
    [("Write the WIT contract", true), ("Ship the host", false), ("Swap a component live", false)]
        .into_iter()
        .zip(1..)
        .map(|((title, done), id)| Todo { id, title: title.to_owned(), done })
        .collect()
}

fn todo_id(req: &Request) -> Result<u64> {
    let raw = req.param("id").unwrap_or_default();
    raw.parse()
        .map_err(|_| Error::bad_request(format!("todo id must be a positive integer, got {raw:?}")))
}

fn find(id: u64) -> Result<Todo> {
    seed()
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| Error::not_found(format!("no todo with id {id}")))
}

fn list(req: &Request) -> Result<Response> {
    let done = match req.query("done") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(Error::bad_request(format!("done must be true or false, got {other:?}")));
        }
    };
    let todos: Vec<Todo> = seed().into_iter().filter(|t| done.is_none_or(|d| t.done == d)).collect();
    Ok(Response::json(&todos))
}

fn create(req: &Request) -> Result<Response> {
    let new: NewTodo = req.json()?;
    let title = new.title.trim();
    if title.is_empty() {
        return Err(Error::unprocessable("a todo needs a title")
            .with_details(&serde_json::json!([{ "field": "title", "problem": "empty" }])));
    }
    let todo = Todo { id: seed().len() as u64 + 1, title: title.to_owned(), done: new.done };
    lamina_sdk::log::info(&format!("created todo {}", todo.id));
    Ok(Response::json(&todo)
        .with_status(201)
        .with_header("location", &format!("/todos/{}", todo.id)))
}

fn handle(req: Request) -> Result<Response> {
    match (req.method(), req.route()) {
        ("GET", "/todos") => list(&req),
        ("POST", "/todos") => create(&req),
        ("GET", "/todos/{id}") => Ok(Response::json(&find(todo_id(&req)?)?)),
        ("DELETE", "/todos/{id}") => find(todo_id(&req)?).map(|_| Response::no_content()),
        (method, route) => Err(Error::new(405, "method-not-allowed", format!("todos has no {method} {route}"))),
    }
}

lamina_sdk::export_handler!(handle);
