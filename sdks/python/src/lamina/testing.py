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

import itertools
import re
from typing import Optional

from . import _host
from ._host import CasLost, KvFailure

_PAGE = 1000
_MAX_KEY = 2048
_MAX_VALUE = 400_000


class FakeStore:
    """An in-memory key-value store with the host's rules: the same limits, decimal-text
    counters, versions for compare-and-swap, sorted pages of 1,000 keys. `data` is what it
    holds; `unavailable` makes every call fail as an unreachable store does."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.unavailable = False
        self._versions: dict[str, int] = {}
        self._next = itertools.count(1)

    def _check(self, key: str, value: Optional[bytes] = None) -> None:
        if self.unavailable:
            raise KvFailure("unavailable", "the fake store is marked unavailable")
        if not key:
            raise KvFailure("invalid-key", "a key is at least one byte")
        if len(key.encode()) > _MAX_KEY:
            raise KvFailure("too-large", f"a key of {len(key.encode())} bytes is over the limit of {_MAX_KEY}")
        if value is not None and len(value) > _MAX_VALUE:
            raise KvFailure(
                "too-large",
                f"a value of {len(value)} bytes is over the store's limit of {_MAX_VALUE} bytes",
            )

    def _put(self, key: str, value: bytes) -> None:
        self.data[key] = bytes(value)
        self._versions[key] = next(self._next)

    def get(self, key: str) -> Optional[bytes]:
        self._check(key)
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        self._check(key, value)
        self._put(key, value)

    def delete(self, key: str) -> None:
        self._check(key)
        self.data.pop(key, None)
        self._versions.pop(key, None)

    def exists(self, key: str) -> bool:
        self._check(key)
        return key in self.data

    def list_keys(self, cursor: Optional[str]) -> tuple[list[str], Optional[str]]:
        if self.unavailable:
            raise KvFailure("unavailable", "the fake store is marked unavailable")
        keys = sorted(k for k in self.data if cursor is None or k > cursor)
        page = keys[:_PAGE]
        return page, (page[-1] if len(keys) > _PAGE else None)

    def increment(self, key: str, delta: int) -> int:
        self._check(key)
        text = self.data.get(key, b"0").decode(errors="replace").strip()
        # What the host accepts: an optional sign and ASCII digits (not int()'s "1_000").
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise KvFailure(
                "other", "the key holds a value that is not a decimal integer, so it cannot be incremented"
            )
        new = int(text) + delta
        if not -(2**63) <= new < 2**63:
            raise KvFailure("other", f"incrementing by {delta} overflows a 64-bit counter")
        self._put(key, str(new).encode())
        return new

    def cas(self, key: str) -> tuple[Optional[bytes], object]:
        self._check(key)
        return self.data.get(key), (key, self._versions.get(key))

    def swap(self, handle: object, value: bytes) -> None:
        assert isinstance(handle, tuple), "a handle from cas()"
        key: str = handle[0]
        version: Optional[int] = handle[1]
        self._check(key, value)
        if self._versions.get(key) != version:
            raise CasLost(*self.cas(key))
        self._put(key, value)

    def get_many(self, keys: list[str]) -> list[Optional[bytes]]:
        return [self.get(k) for k in keys]

    def set_many(self, pairs: list[tuple[str, bytes]]) -> None:
        for key, value in pairs:
            self.set(key, value)

    def delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self.delete(key)


class FakeHost:
    """An in-memory host: `config` values, every log line kept in `lines` as
    ``(level, message, fields)``, every metric value in `metrics`, the `trace_header` the
    component sees, and the key-value stores the component may open, `stores` (name →
    `FakeStore`; ``FakeHost(stores=["todos"])`` makes empty ones)."""

    def __init__(
        self,
        config: Optional[dict[str, str]] = None,
        stores: Optional[list[str]] = None,
        trace_header: Optional[str] = None,
    ) -> None:
        self.config = dict(config or {})
        self.lines: list[tuple[str, str, dict[str, str]]] = []
        self.stores: dict[str, FakeStore] = {name: FakeStore() for name in stores or []}
        self.metrics: list[tuple[str, float, str, dict[str, str]]] = []
        """Every metric value added, as ``(name, value, unit, dimensions)``; the real host
        also checks EMF's limits, which this does not."""
        self.trace_header = trace_header

    def _open(self, name: str) -> _host.Bucket:
        store = self.stores.get(name)
        if store is None:
            raise KvFailure("access-denied", f"the store {name!r} is not granted")
        return store

    def install(self) -> FakeHost:
        """Makes this the host `lamina.log`, `lamina.config` and `lamina.kv` talk to;
        returns it."""
        _host.install(
            _host.Host(
                log=lambda level, message, fields: self.lines.append(
                    (level, message, dict(fields))
                ),
                config_get=self.config.get,
                config_all=lambda: sorted(self.config.items()),
                kv_open=self._open,
                metrics_add=lambda name, value, unit, dims: self.metrics.append(
                    (name, value, unit, dict(dims))
                ),
                trace_header=lambda: self.trace_header,
            )
        )
        return self
