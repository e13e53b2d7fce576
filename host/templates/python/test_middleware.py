"""Runs the middleware on CPython, without building a component: `pytest`."""

from lamina import Request, Response
from lamina.testing import FakeHost

import app


def test_a_request_without_a_key_is_refused() -> None:
    FakeHost().install()
    answer = app.middleware().on_request(Request("GET", "/"))
    assert isinstance(answer, Response) and answer.status == 401


def test_a_request_with_a_key_passes_and_its_response_is_timed() -> None:
    FakeHost().install()
    m = app.middleware()
    request = Request("GET", "/", headers=[("x-api-key", "k")])
    assert m.on_request(request) is request
    response = m.on_response(Response.text("ok"))
    assert response.header("x-{{name}}") is not None
