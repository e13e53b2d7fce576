"""Run handlers and middleware on CPython, in unit tests, without building a component.

::

    from lamina import Request
    from lamina.testing import FakeHost
    import app

    def test_hello():
        host = FakeHost(config={"greeting": "Hi"}).install()
        response = app.app(Request("GET", "/hello/Ada", route="/hello/{name}",
                                   params=[("name", "Ada")]))
        assert response.status == 200
        assert host.lines == []
"""

from __future__ import annotations

from typing import Optional

from . import _host


class FakeHost:
    """An in-memory host: `config` values, and every log line kept in `lines` as
    ``(level, message, fields)``."""

    def __init__(self, config: Optional[dict[str, str]] = None) -> None:
        self.config = dict(config or {})
        self.lines: list[tuple[str, str, dict[str, str]]] = []

    def install(self) -> FakeHost:
        """Makes this the host `lamina.log` and `lamina.config` talk to; returns it."""
        _host.install(
            _host.Host(
                log=lambda level, message, fields: self.lines.append(
                    (level, message, dict(fields))
                ),
                config_get=self.config.get,
                config_all=lambda: sorted(self.config.items()),
            )
        )
        return self
