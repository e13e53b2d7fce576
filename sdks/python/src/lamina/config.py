"""Read-only configuration values the host config declares for this component
(``[components.NAME.config]``). A component sees only its own values."""

from __future__ import annotations

from typing import Optional, overload

from . import _host


@overload
def get(key: str) -> Optional[str]: ...
@overload
def get(key: str, default: str) -> str: ...
def get(key: str, default: Optional[str] = None) -> Optional[str]:
    """The value of `key`, or `default` when the host config does not declare it."""
    value = _host.current().config_get(key)
    return default if value is None else value


def all() -> dict[str, str]:  # noqa: A001 - mirrors the Rust SDK's `config::all`
    """Every declared key and value."""
    return dict(_host.current().config_all())
