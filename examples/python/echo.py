"""`echo` in Python: returns, as JSON, everything the handler received.

Its output is byte-for-byte the Rust `echo`'s (examples/echo) for the same request: the same
fields, keys sorted as serde_json sorts them, compact separators, non-ASCII as is. The
contract test holds the Rust, Python and JavaScript echoes to that.
"""

import base64
import json
import re
from typing import Any

from lamina import Request, Response

Pairs = list[list[str]]

STATUS = re.compile(r"\+?[0-9]+")


def pairs(fields: list[tuple[str, str]]) -> Pairs:
    return [[k, v] for k, v in fields]


def body(data: bytes) -> dict[str, str]:
    try:
        return {"encoding": "utf-8", "data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "data": base64.b64encode(data).decode("ascii")}


def authorizer(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text, parse_constant=not_json)
    except ValueError:
        return text


def not_json(name: str) -> Any:
    """`NaN` and infinities are not JSON: like serde_json, keep such text as a string."""
    raise ValueError(name)


def app(request: Request) -> Response:
    c = request.context
    seen = {
        "method": request.method,
        "path": request.path,
        "raw-path": request.raw_path,
        "route": request.route,
        "params": pairs(request.params),
        "query": pairs(request.query_pairs),
        "raw-query": request.raw_query,
        "headers": pairs(request.headers),
        "cookies": pairs(request.cookies),
        "body": body(request.body),
        "context": {
            "source": c.source,
            "request-id": c.request_id,
            "stage": c.stage,
            "source-ip": c.source_ip,
            "user-agent": c.user_agent,
            "authorizer": authorizer(c.authorizer),
            "time-epoch-ms": c.time_epoch_ms,
            "attributes": pairs(c.attributes),
        },
    }
    response = Response.json(seen, sort_keys=True)
    # `?set-cookie=a&set-cookie=b` asks echo to set those cookies, so tests can check that
    # several Set-Cookie headers survive every source's response shape.
    for cookie in request.query_all("set-cookie"):
        response.with_header("set-cookie", cookie)
    # Parsed as Rust parses a u16 (an optional `+`, ASCII digits, at most 65535).
    status = request.query("status")
    if status is not None and STATUS.fullmatch(status) and int(status) <= 65535:
        response.status = int(status)
    return response
