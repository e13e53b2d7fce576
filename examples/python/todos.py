"""`todos` in Python: a small JSON API over several routes and methods, with 400/404/422
errors raised as `HttpError`.

Serves the same fixed seed list as the Rust `todos` (examples/todos) does without a table:
`POST` answers with the todo it would create, `DELETE` with whether it would have deleted
one. (The Rust example can also keep its todos in DynamoDB; this one has no outbound calls.)
"""

import json
import re
from typing import Any

from lamina import HttpError, Request, Response, Router, log

app = Router()

MAX_TITLE = 500
"""Longest title a todo may have."""

SEED = [
    {"id": 1, "title": "Write the WIT contract", "done": True},
    {"id": 2, "title": "Ship the host", "done": False},
    {"id": 3, "title": "Swap a component live", "done": False},
]


ID = re.compile(r"\+?[0-9]+")


def todo_id(raw: str) -> int:
    """Parsed as the Rust todos parses a u64: an optional `+`, ASCII digits, positive."""
    if ID.fullmatch(raw) and 0 < int(raw) < 2**64:
        return int(raw)
    raise HttpError.bad_request(f"todo id must be a positive integer, got {json.dumps(raw)}")


def find(id: int) -> dict[str, Any]:
    todo = next((t for t in SEED if t["id"] == id), None)
    if todo is None:
        raise HttpError.not_found(f"no todo with id {id}")
    return todo


@app.get("/todos")
def list_todos(request: Request) -> list[dict[str, Any]]:
    done = request.query("done")
    if done not in (None, "true", "false"):
        raise HttpError.bad_request(f"done must be true or false, got {json.dumps(done)}")
    return [t for t in SEED if done is None or t["done"] == (done == "true")]


@app.post("/todos")
def create(request: Request) -> Response:
    new = request.json()
    if not isinstance(new, dict):
        raise HttpError(400, "invalid-json", "request body: expected an object with a title")
    unknown = sorted(set(new) - {"title", "done"})
    if unknown:
        raise HttpError(
            400, "invalid-json", f"request body: unknown field {unknown[0]!r}, expected title or done"
        )
    title, done = new.get("title"), new.get("done", False)
    if not isinstance(title, str) or not isinstance(done, bool):
        raise HttpError(
            400, "invalid-json", "request body: title must be a string and done a boolean"
        )
    title = title.strip()
    if not title:
        raise HttpError.unprocessable(
            "a todo needs a title", [{"field": "title", "problem": "empty"}]
        )
    if len(title) > MAX_TITLE:
        raise HttpError.unprocessable(
            f"a title has at most {MAX_TITLE} characters",
            [{"field": "title", "problem": "too long"}],
        )
    todo = {"id": len(SEED) + 1, "title": title, "done": done}
    log.info(f"created todo {todo['id']}")
    location = f"{request.path.rstrip('/')}/{todo['id']}"
    return Response.json(todo, status=201).with_header("location", location)


@app.get("/todos/{id}")
def get_todo(id: str) -> dict[str, Any]:
    return find(todo_id(id))


@app.delete("/todos/{id}")
def delete_todo(id: str) -> Response:
    find(todo_id(id))
    return Response.no_content()
