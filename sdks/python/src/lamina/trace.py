"""The X-Ray trace this call is part of::

    from lamina import trace
    log.info("charging", trace_id=trace.trace_id())

The header is the one the host adds to this component's outbound HTTP calls: `Root=` and
`Sampled=` of the invocation, `Parent=` this call's subsegment when the host sends them.
"""

from __future__ import annotations

from typing import Optional

from . import _host

__all__ = ["header", "trace_id"]


def header() -> Optional[str]:
    """The ``X-Amzn-Trace-Id`` header of this call, or `None` without a trace."""
    return _host.current().trace_header()


def trace_id() -> Optional[str]:
    """The ``Root=`` of `header`: the trace id to put in a log line or an error report."""
    value = header()
    if value is None:
        return None
    for pair in value.split(";"):
        key, _, rest = pair.strip().partition("=")
        if key == "Root":
            return rest
    return None
