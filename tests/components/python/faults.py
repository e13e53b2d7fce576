"""`faults` in Python: misbehaves on purpose, one way per `/faults/{fault}`, like the Rust
`faults` test guest, so the host's fault handling is tested against a real Python guest."""

import math

from lamina import HttpError, Request, Response, metrics, trace

CALLS = 0
"""Calls in this instance: the host instantiates per request, so every request sees 1."""


def recurse(depth: int) -> int:
    return recurse(depth + 1) + 1


def app(request: Request) -> Response:
    global CALLS
    CALLS += 1
    fault = request.param("fault") or ""
    if fault == "calls":
        return Response.text(str(CALLS))
    if fault == "ok":
        return Response.text("fine")
    if fault == "panic":
        raise RuntimeError("the faults component raised on purpose")
    if fault == "error":
        raise HttpError(418, "teapot", "short and stout", {"spout": True})
    if fault == "loop":
        n = 0
        while True:
            n += 1
    if fault == "alloc":
        chunks = []
        while True:
            chunks.append(bytearray(b"\x01" * (1 << 20)))
    if fault == "recurse":
        return Response.text(str(recurse(0)))
    if fault == "bad-status":
        return Response.text("status out of range", status=1000)
    if fault == "bad-header":
        return Response.text("x").with_header("x-injected", "a\r\nset-cookie: evil=1")
    if fault == "metrics":
        # As the Rust `faults`: values the host keeps, then three it refuses.
        metrics.add("Orders", 2, "Count", {"tier": "gold"})
        metrics.add("Orders", 3, "Count", {"tier": "gold"})
        metrics.add("BasketSize", 1536, "Bytes", {"tier": "gold"})
        metrics.count("Checkouts")
        refused = []
        for name, value, unit in (
            ("Orders", 1.0, "Seconds"),
            ("Bad", math.inf, "Count"),
            ("component", 1.0, "Count"),
        ):
            try:
                metrics.add(name, value, unit)
            except metrics.MetricsError as e:
                refused.append(str(e))
        return Response.json(
            {"refused": refused, "trace": trace.header(), "trace_id": trace.trace_id()}
        )
    raise HttpError.not_found(f"no fault {fault!r}")
