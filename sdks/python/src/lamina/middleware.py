"""`Middleware`: a component in front of handlers that sees, changes or answers requests,
and sees or changes responses.

::

    import time
    from lamina import Middleware, Request, Response

    class Timing(Middleware):
        def on_request(self, request: Request) -> Request:
            self.start = time.perf_counter()
            return request                   # pass it on, and call on_response

        def on_response(self, response: Response) -> Response:
            took = (time.perf_counter() - self.start) * 1000
            response.set_header("server-timing", f"app;dur={took:.3f}")
            return response

    middleware = Timing                      # what `lamina-py build --middleware` exports

The SDK makes one object of the class per request and calls both hooks on it, so what
``on_request`` keeps on ``self`` is there in ``on_response`` (and gone by the next request:
the host gives every request a fresh instance of the component).

``on_request`` returns the (possibly changed) request to pass it on, ``Pass(request)`` to
pass it on without looking at the response (the host skips ``on_response`` and releases the
instance at once: the cheapest choice for a check such as auth), or a `Response` to answer
now. A class that does not override ``on_response`` passes automatically. Raising
`HttpError` in either hook answers with that error.
"""

from __future__ import annotations

from typing import Union

from .request import Request
from .response import Response


class Pass:
    """Pass `request` on without calling ``on_response``."""

    def __init__(self, request: Request) -> None:
        self.request = request


Decision = Union[Request, Pass, Response, None]
"""What ``on_request`` may return (None passes the request on unchanged)."""


class Middleware:
    """Base class of a middleware; override ``on_request`` and/or ``on_response``."""

    def on_request(self, request: Request) -> Decision:
        """Called before the handler (and later middleware) with the request."""
        return request

    def on_response(self, response: Response) -> Response:
        """Called on the way back with the response from further down the chain."""
        return response

    @classmethod
    def wants_response(cls) -> bool:
        """Whether this class overrides ``on_response`` (else requests are passed)."""
        return cls.on_response is not Middleware.on_response
