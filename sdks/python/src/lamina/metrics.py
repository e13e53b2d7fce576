"""Custom CloudWatch metrics, written by the host as embedded metric format (EMF) beside
its own, under the host config's `[metrics]` namespace and dimensions plus ``component``::

    from lamina import metrics
    metrics.add("OrdersPlaced", 1, "Count", {"tier": "gold"})
    metrics.count("Checkouts")

Values are aggregated per request: every `add` of one name under one dimension set becomes
one metric holding the list of values. The host checks each call against EMF's limits and
refuses one that breaks them with `MetricsError`, naming the limit (100 values per metric,
30 dimensions, 1000 values per request, names and values CloudWatch accepts); nothing of a
refused call is recorded. Without `[metrics]` in the host config the values are checked the
same way and dropped.
"""

from __future__ import annotations

from typing import Mapping, Optional

from . import _host
from ._host import UNITS, MetricsError

__all__ = ["UNITS", "MetricsError", "add", "count"]


def add(
    name: str,
    value: float,
    unit: str = "Count",
    dimensions: Optional[Mapping[str, str]] = None,
) -> None:
    """Adds `value` to metric `name` under `dimensions`; `unit` is one of `UNITS`
    (``"Milliseconds"``, ``"Bytes"``, ``"Count/Second"``, ...). Raises `MetricsError` when
    the host refuses it, `ValueError` for a unit CloudWatch does not know."""
    if unit not in UNITS:
        raise ValueError(f"metric unit must be one of {', '.join(UNITS)}, not {unit!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"metric value must be a number, not {type(value).__name__}")
    pairs = [(str(k), str(v)) for k, v in (dimensions or {}).items()]
    _host.current().metrics_add(name, float(value), unit, pairs)


def count(name: str) -> None:
    """Adds 1 to the count `name`, with no dimensions of its own."""
    add(name, 1, "Count")
