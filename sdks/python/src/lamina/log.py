"""Structured logging into the host's log (CloudWatch in Lambda).

The host adds the component name and the request id to every line, so a handler never
carries them::

    from lamina import log
    log.info("todo created", id=str(todo_id), title=title)

Field values are converted with ``str()``; any name is a field name (``level=``,
``message=`` included).
"""

from __future__ import annotations

from . import _host


def log(level: str, message: str, /, **fields: object) -> None:
    """Writes one line at `level` (``trace``, ``debug``, ``info``, ``warn`` or ``error``)."""
    if level not in _host.LEVELS:
        raise ValueError(f"log level must be one of {', '.join(_host.LEVELS)}, not {level!r}")
    _host.current().log(level, message, [(k, str(v)) for k, v in fields.items()])


def trace(message: str, /, **fields: object) -> None:
    """A ``trace`` line."""
    log("trace", message, **fields)


def debug(message: str, /, **fields: object) -> None:
    """A ``debug`` line."""
    log("debug", message, **fields)


def info(message: str, /, **fields: object) -> None:
    """An ``info`` line."""
    log("info", message, **fields)


def warn(message: str, /, **fields: object) -> None:
    """A ``warn`` line."""
    log("warn", message, **fields)


warning = warn


def error(message: str, /, **fields: object) -> None:
    """An ``error`` line."""
    log("error", message, **fields)
