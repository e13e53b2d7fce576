import pytest

from lamina import HttpError, Request, Response, Router


def req(method, path, route, params=()):
    return Request(method, path, route=route, params=list(params))


@pytest.fixture
def app():
    app = Router()

    @app.get("/todos")
    def list_todos():
        return [1, 2]

    @app.post("/todos")
    def create(request: Request):
        return request.json(), 201

    @app.get("/todos/{id}")
    def get(id):
        return {"id": id}

    @app.delete("/todos/<todo_id>")
    def delete(todo_id):
        return None

    @app.get("/files/{*rest}")
    def files(rest):
        return f"file {rest}"

    @app.get("/")
    def root():
        return "root"

    return app


def test_dispatches_on_the_host_template_under_any_prefix(app):
    r = app(req("GET", "/py/todos/3", "/py/todos/{id}", [("id", "3")]))
    assert (r.status, r.body) == (200, b'{"id":"3"}')
    r = app(req("GET", "/todos", "/todos"))
    assert r.body == b"[1,2]"
    # Parameter names are taken by position, so the host may call it {n}.
    r = app(req("DELETE", "/api/todos/5", "/api/todos/{n}", [("n", "5")]))
    assert r.status == 204


def test_post_with_request_and_status(app):
    r = app(Request("POST", "/todos", route="/todos", body=b'{"t":1}'))
    assert (r.status, r.body) == (201, b'{"t":1}')
    assert r.header("content-type") == "application/json"


def test_head_is_answered_by_get(app):
    assert app(req("HEAD", "/todos", "/todos")).status == 200


def test_wrong_method_is_405_and_unknown_route_404(app):
    with pytest.raises(HttpError) as e:
        app(req("PUT", "/todos/3", "/todos/{id}", [("id", "3")]))
    assert e.value.status == 405
    assert "DELETE, GET" in e.value.message
    with pytest.raises(HttpError) as e:
        app(req("GET", "/nope", "/nope"))
    assert (e.value.status, e.value.code) == (404, "not-found")


def test_catch_all_host_route_matches_on_the_path(app):
    r = app(req("GET", "/py/todos/9", "/py/{*rest}", [("rest", "todos/9")]))
    assert r.body == b'{"id":"9"}'
    r = app(req("GET", "/py/files/a/b.txt", "/py/{*rest}", [("rest", "files/a/b.txt")]))
    assert r.body == b"file a/b.txt"
    r = app(req("GET", "/", "/{*rest}", [("rest", "")]))
    assert r.body == b"root"


def test_longest_route_wins():
    app = Router()

    @app.get("/{id}")
    def short(id):
        return "short"

    @app.get("/todos/{id}")
    def long(id):
        return "long"

    assert app(req("GET", "/todos/1", "/todos/{id}", [("id", "1")])).body == b"long"
    assert app(req("GET", "/x/1", "/x/{id}", [("id", "1")])).body == b"short"


def test_exception_handlers_and_unhandled_exceptions():
    app = Router()

    @app.get("/boom")
    def boom():
        raise KeyError("k")

    @app.get("/value")
    def value():
        raise ValueError("v")

    @app.exception_handler(ValueError)
    def on_value(e):
        return Response.text(f"bad value: {e}", status=400)

    assert app(req("GET", "/value", "/value")).body == b"bad value: v"
    with pytest.raises(KeyError):
        app(req("GET", "/boom", "/boom"))
    assert app.current_event is None


def test_registration_errors():
    app = Router()
    with pytest.raises(TypeError, match="no parameter 'id'"):
        app.get("/todos/{id}")(lambda: None)
    with pytest.raises(ValueError, match="must start with"):
        app.get("todos")
    with pytest.raises(ValueError, match="catch-all must be the last"):
        app.get("/{*a}/b")


def test_return_values():
    from lamina.router import to_response

    assert to_response(b"\x00").header("content-type") == "application/octet-stream"
    r = to_response(({"a": 1}, 202, {"x-y": "z"}))
    assert (r.status, r.header("x-y")) == (202, "z")
    assert to_response("t").header("content-type").startswith("text/plain")


def test_host_templates_the_app_grammar_does_not_have():
    app = Router()

    @app.get("/todos/{id}")
    def get(id):
        return {"id": id}

    @app.get("/files/{*rest}")
    def files(rest):
        return rest

    # A dashed name and an in-segment parameter are parameters; `{proxy+}` a catch-all.
    r = app(req("GET", "/todos/4", "/todos/{todo-id}", [("todo-id", "4")]))
    assert r.body == b'{"id":"4"}'
    r = app(req("GET", "/todos/4.json", "/todos/{id}.json", [("id", "4")]))
    assert r.body == b'{"id":"4"}'
    r = app(req("GET", "/api/files/a/b", "/api/{proxy+}", [("proxy", "files/a/b")]))
    assert r.body == b"a/b"


def test_static_segments_win_under_a_catch_all_whatever_the_order():
    app = Router()

    @app.get("/todos/{id}")
    def by_id(id):
        return "by id"

    @app.get("/todos/new")
    def new():
        return "new"

    assert app(req("GET", "/x/todos/new", "/x/{*rest}", [("rest", "todos/new")])).body == b"new"
    assert app(req("GET", "/x/todos/7", "/x/{*rest}", [("rest", "todos/7")])).body == b"by id"


def test_a_shorter_route_that_allows_the_method_beats_a_405():
    app = Router()

    @app.get("/items/{id}")
    def get(id):
        return "get"

    @app.delete("/{id}")
    def delete(id):
        return "delete"

    r = app(req("DELETE", "/items/3", "/items/{id}", [("id", "3")]))
    assert r.body == b"delete"
    with pytest.raises(HttpError) as e:
        app(req("PUT", "/items/3", "/items/{id}", [("id", "3")]))
    assert e.value.status == 405
    assert e.value.details == {"allow": ["DELETE", "GET", "HEAD"]}
