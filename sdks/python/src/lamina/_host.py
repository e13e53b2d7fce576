"""The host's imports (log, config, key-value stores, metrics, trace) behind a small seam.

Inside a component the generated glue (`lamina._component`) installs the real WIT imports
here; in unit tests on CPython, `lamina.testing` installs an in-memory stand-in. SDK code
never imports the generated `wit_world` bindings directly, so it runs (and is tested)
outside a component too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Protocol

LEVELS = ("trace", "debug", "info", "warn", "error")

KV_KINDS = ("access-denied", "unavailable", "too-large", "invalid-key", "other")
"""What a key-value call can fail with (`KvFailure.kind`)."""


class KvFailure(Exception):
    """A key-value call that failed, as a bucket reports it: `kind` is one of `KV_KINDS`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


UNITS = (
    "Seconds", "Microseconds", "Milliseconds",
    "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
    "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second",
    "None",
)  # fmt: skip
"""The metric units CloudWatch accepts, as it spells them (`lamina.metrics.add`)."""


class MetricsError(Exception):
    """A metric value the host refused; the message names the limit it broke."""

    def __init__(self, message: str) -> None:
        super().__init__(f"metrics: {message}")
        self.reason = message


class CasLost(Exception):
    """A compare-and-swap whose value changed since it began: `current` and `handle` are
    a fresh one's, to retry with."""

    def __init__(self, current: Optional[bytes], handle: object) -> None:
        super().__init__("the value changed")
        self.current = current
        self.handle = handle


class Bucket(Protocol):
    """An open key-value store, as the host provides it. Every method raises `KvFailure`."""

    def get(self, key: str) -> Optional[bytes]: ...
    def set(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def list_keys(self, cursor: Optional[str]) -> tuple[list[str], Optional[str]]: ...
    def increment(self, key: str, delta: int) -> int: ...
    def cas(self, key: str) -> tuple[Optional[bytes], object]:
        """Begins a compare-and-swap: the current value, and a handle for `swap`."""
        ...
    def swap(self, handle: object, value: bytes) -> None:
        """Writes `value` if the key did not change since `handle` began; else `CasLost`."""
        ...
    def get_many(self, keys: list[str]) -> list[Optional[bytes]]: ...
    def set_many(self, pairs: list[tuple[str, bytes]]) -> None: ...
    def delete_many(self, keys: list[str]) -> None: ...


@dataclass
class Host:
    """The functions the host provides to a component."""

    log: Callable[[str, str, list[tuple[str, str]]], None]
    config_get: Callable[[str], Optional[str]]
    config_all: Callable[[], list[tuple[str, str]]]
    kv_open: Callable[[str], Bucket]
    metrics_add: Callable[[str, float, str, list[tuple[str, str]]], None]
    """Adds one value (name, value, unit as in `UNITS`, dimensions); raises `MetricsError`."""
    trace_header: Callable[[], Optional[str]]


def _unbound(*_args: object) -> None:
    raise RuntimeError(
        "the Lamina host is not available here: log, config, kv, metrics and trace work "
        "inside a component "
        "(not while it is being built, at import time) or under lamina.testing"
    )


_host = Host(
    log=_unbound,
    config_get=_unbound,
    config_all=_unbound,  # type: ignore[arg-type]
    kv_open=_unbound,  # type: ignore[arg-type]
    metrics_add=_unbound,
    trace_header=_unbound,
)


def install(host: Host) -> None:
    """Makes `host` the one `lamina.log`, `lamina.config`, `lamina.kv`, `lamina.metrics` and
    `lamina.trace` talk to."""
    global _host
    _host = host


def current() -> Host:
    """The installed host."""
    return _host
