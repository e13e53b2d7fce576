"""Runs the handler on CPython, without building a component: `pytest`."""

import json

from lamina import Request
from lamina.testing import FakeHost

import app


def test_greets_by_name() -> None:
    FakeHost(config={"greeting": "Hi"}).install()
    response = app.app(
        Request("GET", "/hello/Ada", route="/hello/{name}", params=[("name", "Ada")])
    )
    assert response.status == 200
    assert json.loads(response.body) == {"message": "Hi, Ada!"}
