"""Key-value stores the host config lets this component open (``key-value = [...]`` in
its ``[components.NAME]``): an embedded file locally, DynamoDB in Lambda, the same calls
either way. The same API as the Rust SDK's ``lamina_sdk::kv``::

    from lamina import kv

    store = kv.open("todos")
    id = store.increment("next-id")                 # atomic: no two creates share an id
    store.set_json(f"todo:{id}", {"id": id, "title": "try lamina"})
    todo = store.get_json("todo:1")                 # None when absent
    views = store.swap_json("views", lambda n: (n or 0) + 1)   # compare-and-swap, retried
    for key in store.keys(): ...                    # every key, a page at a time

A failure raises `KvError`, an `HttpError`: left unhandled it answers 503
``store-unavailable`` when the store did not answer in time, 413 for a value over
`MAX_VALUE`, 400 for an invalid key, else a 500 without internals (the cause is logged).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Optional, TypeVar

from . import _host, log
from ._host import CasLost, KvFailure
from .errors import HttpError

MAX_KEY = 2048
"""Longest key, in bytes, on every backend."""
MAX_VALUE = 400_000
"""Largest value, in bytes, on every backend."""
MAX_SWAP_ATTEMPTS = 64
"""Compare-and-swap attempts `Store.swap` makes before giving up on a contended key."""

T = TypeVar("T")

_STATUS = {
    "unavailable": (503, "store-unavailable", "the data store is unavailable; try again"),
    "too-large": (413, "too-large", None),
    "invalid-key": (400, "bad-request", None),
    "contended": (409, "conflict", "too many concurrent updates; try again"),
}


class KvError(HttpError):
    """A key-value call that failed. `kind` says why (``access-denied``, ``unavailable``,
    ``too-large``, ``invalid-key``, ``decode``, ``contended``, ``other``) and `detail` is the
    store's own message; as an `HttpError` it answers without internals."""

    def __init__(self, kind: str, detail: str) -> None:
        status, code, public = _STATUS.get(kind, (500, "internal", "internal error"))
        super().__init__(status, code, public or detail)
        self.kind = kind
        self.detail = detail


def _raise(failure: KvFailure) -> KvError:
    # A denied open is the host's to log (it does, naming the store); the rest is logged
    # here, since the client sees none of it.
    if failure.kind != "access-denied":
        log.error("key-value store call failed", cause=str(failure))
    return KvError(failure.kind, failure.message)


def _decode(key: str, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as e:
        raise KvError("decode", f"the value at {key!r} is not JSON: {e}") from None


def _encode(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as e:
        raise KvError("other", f"cannot encode the value as JSON: {e}") from None


class Store:
    """An open store (`open`)."""

    def __init__(self, name: str, bucket: _host.Bucket) -> None:
        self.name = name
        self._bucket = bucket

    def get(self, key: str) -> Optional[bytes]:
        """The value at `key`, or None."""
        try:
            return self._bucket.get(key)
        except KvFailure as f:
            raise _raise(f) from None

    def get_json(self, key: str) -> Any:
        """The value at `key` decoded from JSON, or None when absent."""
        raw = self.get(key)
        return None if raw is None else _decode(key, raw)

    def set(self, key: str, value: bytes) -> None:
        """Sets `key` to `value`."""
        try:
            self._bucket.set(key, bytes(value))
        except KvFailure as f:
            raise _raise(f) from None

    def set_json(self, key: str, value: Any) -> None:
        """Sets `key` to `value` as JSON."""
        self.set(key, _encode(value))

    def delete(self, key: str) -> None:
        """Removes `key` (nothing happens when it is absent)."""
        try:
            self._bucket.delete(key)
        except KvFailure as f:
            raise _raise(f) from None

    def exists(self, key: str) -> bool:
        """Whether `key` has a value."""
        try:
            return self._bucket.exists(key)
        except KvFailure as f:
            raise _raise(f) from None

    def list_page(self, cursor: Optional[str] = None) -> tuple[list[str], Optional[str]]:
        """One page of keys after `cursor`, and the next page's cursor (None at the end).
        Keys come in no particular order."""
        try:
            return self._bucket.list_keys(cursor)
        except KvFailure as f:
            raise _raise(f) from None

    def keys(self) -> Iterator[str]:
        """Every key, fetched a page at a time."""
        cursor: Optional[str] = None
        while True:
            page, cursor = self.list_page(cursor)
            yield from page
            if cursor is None:
                return

    def increment(self, key: str, delta: int = 1) -> int:
        """Adds `delta` to the counter at `key` (absent counts as 0) atomically; the new
        value. A counter reads back (`get`) as its decimal text."""
        try:
            return self._bucket.increment(key, delta)
        except KvFailure as f:
            raise _raise(f) from None

    def swap(self, key: str, update: Callable[[Optional[bytes]], bytes]) -> bytes:
        """Replaces the value at `key` with ``update(current)`` atomically, calling `update`
        again on the new value when another writer got there first (up to
        `MAX_SWAP_ATTEMPTS` times); returns what was written."""
        return self._compare_and_swap(key, lambda current: (w := update(current), w))

    def swap_json(self, key: str, update: Callable[[Any], T]) -> T:
        """`swap` on JSON values: `update` gets the current value (None when absent) and
        returns the new one. Nothing is written when the stored value is not JSON."""

        def step(current: Optional[bytes]) -> tuple[bytes, T]:
            new = update(None if current is None else _decode(key, current))
            return _encode(new), new

        return self._compare_and_swap(key, step)

    def _compare_and_swap(self, key: str, step: Callable[[Optional[bytes]], tuple[bytes, T]]) -> T:
        try:
            current, handle = self._bucket.cas(key)
            for _ in range(MAX_SWAP_ATTEMPTS):
                written, result = step(current)
                try:
                    self._bucket.swap(handle, written)
                    return result
                except CasLost as lost:
                    current, handle = lost.current, lost.handle
        except KvFailure as f:
            raise _raise(f) from None
        raise KvError("contended", f"{key!r} changed under {MAX_SWAP_ATTEMPTS} attempts to update it")

    def get_many(self, keys: list[str]) -> list[Optional[bytes]]:
        """The values of `keys`, in order (None for each absent key)."""
        try:
            return self._bucket.get_many(list(keys))
        except KvFailure as f:
            raise _raise(f) from None

    def set_many(self, pairs: list[tuple[str, bytes]]) -> None:
        """Sets every ``(key, value)``; not atomic: on an error, some may be set."""
        try:
            self._bucket.set_many([(k, bytes(v)) for k, v in pairs])
        except KvFailure as f:
            raise _raise(f) from None

    def delete_many(self, keys: list[str]) -> None:
        """Removes every key in `keys`; not atomic."""
        try:
            self._bucket.delete_many(list(keys))
        except KvFailure as f:
            raise _raise(f) from None


def open(name: str) -> Store:  # noqa: A001 - mirrors the Rust SDK's `kv::open`
    """Opens the store `name`. Raises `KvError` with kind ``access-denied`` when the host
    config does not let this component open it."""
    try:
        return Store(name, _host.current().kv_open(name))
    except KvFailure as f:
        raise _raise(f) from None
