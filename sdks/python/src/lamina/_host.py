"""The host's imports (log, config) behind a small seam.

Inside a component the generated glue (`lamina._component`) installs the real WIT imports
here; in unit tests on CPython, `lamina.testing` installs an in-memory stand-in. SDK code
never imports the generated `wit_world` bindings directly, so it runs (and is tested)
outside a component too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

LEVELS = ("trace", "debug", "info", "warn", "error")


@dataclass
class Host:
    """The functions the host provides to a component."""

    log: Callable[[str, str, list[tuple[str, str]]], None]
    config_get: Callable[[str], Optional[str]]
    config_all: Callable[[], list[tuple[str, str]]]


def _unbound(*_args: object) -> None:
    raise RuntimeError(
        "the Lamina host is not available here: log and config work inside a component "
        "(not while it is being built, at import time) or under lamina.testing"
    )


_host = Host(log=_unbound, config_get=_unbound, config_all=_unbound)  # type: ignore[arg-type]


def install(host: Host) -> None:
    """Makes `host` the one `lamina.log` and `lamina.config` talk to."""
    global _host
    _host = host


def current() -> Host:
    """The installed host."""
    return _host
