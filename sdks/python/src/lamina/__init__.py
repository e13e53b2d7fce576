"""Lamina's Python SDK: handlers and middleware for Lamina, the WebAssembly host for AWS
Lambda, written in Python and built into components with ``lamina-py build``.

::

    from lamina import Router, Request, HttpError

    app = Router()

    @app.get("/hello/{name}")
    def hello(name: str):
        if not name:
            raise HttpError.bad_request("name must not be empty")
        return {"message": f"Hello, {name}!"}

- `Request`: the normalized request (headers, query, params, cookies, body, context).
- `Response`: ``Response.json/text/html/bytes/redirect/no_content``.
- `HttpError`: raise it anywhere to answer with a typed error.
- `Router`: Powertools-style ``@app.get(...)`` routing on the route the host matched.
- `Middleware`, `Pass`: middleware components.
- `log`, `config`: the host's log and this component's config values.
- `kv`: the key-value stores the host config grants (``kv.open("todos")``).
- `metrics`: custom CloudWatch metrics (``metrics.add("Orders", 1, "Count")``).
- `trace`: the X-Ray trace header of the call (``trace.header()``).
"""

from . import config, kv, log, metrics, trace
from .errors import HttpError
from .middleware import Middleware, Pass
from .request import SOURCES, Context, Request
from .response import Response
from .router import Router

__all__ = [
    "SOURCES",
    "Context",
    "HttpError",
    "Middleware",
    "Pass",
    "Request",
    "Response",
    "Router",
    "config",
    "kv",
    "log",
    "metrics",
    "trace",
]
