"""`hello` in Python: a text greeting, and a JSON greeting with a path parameter. The
greeting word comes from the component's config (`greeting`), if set.

Answers like the Rust `hello` (examples/hello): bound under any prefix, e.g.
`GET /py/hello` and `GET /py/hello/{name}`.
"""

from lamina import HttpError, Response, Router, config

app = Router()


def greeting() -> str:
    return config.get("greeting", "Hello")


@app.get("/hello")
def world() -> Response:
    return Response.text(f"{greeting()}, world!\n")


@app.get("/hello/{name}")
def by_name(name: str) -> dict[str, str]:
    if not name:
        raise HttpError.bad_request("name must not be empty")
    return {"message": f"{greeting()}, {name}!", "name": name}
