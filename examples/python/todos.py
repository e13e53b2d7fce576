"""`todos` in Python: a small JSON API over several routes and methods, with 400/404/422
errors raised as `HttpError`.

Like the Rust `todos` (examples/todos): with ``key-value = ["todos"]`` in its host config
each todo is the JSON at ``todo:{id}`` in that store, with ids from the atomic counter
``next-id`` (the same layout, so the two can share a store). Without a store it serves the
same fixed seed list: `POST` answers with the todo it would create, `DELETE` with whether
it would have deleted one.
"""

import json
import re
from typing import Any, Optional

from lamina import HttpError, Request, Response, Router, kv, log

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


def store() -> Optional[kv.Store]:
    """The `todos` store, or None when the host config grants none (the seed list)."""
    try:
        return kv.open("todos")
    except kv.KvError as e:
        if e.kind == "access-denied":
            return None
        raise


def find(id: int) -> dict[str, Any]:
    s = store()
    todo = s.get_json(f"todo:{id}") if s else next((t for t in SEED if t["id"] == id), None)
    if todo is None:
        raise HttpError.not_found(f"no todo with id {id}")
    return dict(todo)


def every_todo(s: kv.Store) -> list[dict[str, Any]]:
    keys = [k for k in s.keys() if k.startswith("todo:")]
    todos = [json.loads(v) for v in s.get_many(keys) if v is not None]
    return sorted(todos, key=lambda t: int(t["id"]))


@app.get("/todos")
def list_todos(request: Request) -> list[dict[str, Any]]:
    done = request.query("done")
    if done not in (None, "true", "false"):
        raise HttpError.bad_request(f"done must be true or false, got {json.dumps(done)}")
    s = store()
    todos = every_todo(s) if s else SEED
    return [t for t in todos if done is None or t["done"] == (done == "true")]


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
    s = store()
    id = s.increment("next-id") if s else len(SEED) + 1
    todo = {"id": id, "title": title, "done": done}
    if s:
        s.set_json(f"todo:{id}", todo)
    log.info(f"created todo {todo['id']}")
    location = f"{request.path.rstrip('/')}/{todo['id']}"
    return Response.json(todo, status=201).with_header("location", location)


@app.get("/todos/{id}")
def get_todo(id: str) -> dict[str, Any]:
    return find(todo_id(id))


@app.delete("/todos/{id}")
def delete_todo(id: str) -> Response:
    n = todo_id(id)
    find(n)
    s = store()
    if s:
        s.delete(f"todo:{n}")
    return Response.no_content()
