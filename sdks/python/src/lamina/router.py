"""`Router`: Powertools-style routing inside one component.

::

    from lamina import Router, Request, HttpError

    app = Router()

    @app.get("/todos/{id}")
    def get_todo(id: str):
        return {"id": int(id)}          # a dict or list is sent as JSON

    @app.post("/todos")
    def create(request: Request):      # a parameter called `request` gets the request
        todo = request.json()
        return todo, 201                 # (body, status)

The host routes first (its config binds a route such as ``GET /py/todos/{id}`` to this
component), so the router dispatches on the route template the host matched and the
method. An app route matches when the host's template ends with it, segment by segment
(``/todos/{id}`` matches ``/py/todos/{id}`` and ``/api/v1/todos/{id}``), so one app works
under any prefix; of the routes that allow the method, the longest wins, and static
segments win over parameters over catch-alls (``/todos/new`` before ``/todos/{id}``); 405
(with the allowed methods in the details) only when none allows it. Parameter names need not agree: values are taken
by position from what the host matched. When the host route ends in a catch-all
(``ANY /py/{*rest}``) the router matches its templates against what the catch-all covers
(``/todos/9`` of ``/py/todos/9``), then against the whole path, so one host route can hand
a sub-tree to one app.

Templates use Lamina's spelling (``{id}``, ``{*rest}``) or Powertools' (``<id>``).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, TypeVar, Union

from .errors import HttpError
from .request import Request
from .response import Response

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)

_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$|^<([A-Za-z_][A-Za-z0-9_]*)>$")
_CATCH_ALL = re.compile(r"^\{\*([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass(frozen=True)
class _Segment:
    kind: str  # "literal", "param" or "rest"
    text: str  # the literal, or the parameter's name


def _segments(template: str) -> list[_Segment]:
    if not template.startswith("/"):
        raise ValueError(f"route {template!r} must start with '/'")
    parts = [p for p in template.split("/")[1:] if p != ""]
    out: list[_Segment] = []
    for i, part in enumerate(parts):
        if m := _PARAM.match(part):
            out.append(_Segment("param", m.group(1) or m.group(2)))
        elif m := _CATCH_ALL.match(part):
            if i != len(parts) - 1:
                raise ValueError(f"route {template!r}: a catch-all must be the last segment")
            out.append(_Segment("rest", m.group(1)))
        elif any(c in part for c in "{}<>"):
            raise ValueError(f"route {template!r}: cannot parse segment {part!r}")
        else:
            out.append(_Segment("literal", part))
    return out


_HOST_REST = re.compile(r"^\{\*[^}]*\}$|^\{[^}]*\+\}$")


def _host_segments(template: str) -> list[_Segment]:
    """The host's route template, read leniently: the host accepts more than app routes do
    (`{proxy+}`, `{todo-id}`, `{name}.json`). A catch-all is `{*x}` or `{x+}`; any other
    segment with a `{` holds a parameter; the rest are literals. Never raises."""
    parts = [p for p in template.split("/")[1:] if p != ""]
    out: list[_Segment] = []
    for part in parts:
        if _HOST_REST.match(part):
            out.append(_Segment("rest", part))
        elif "{" in part:
            out.append(_Segment("param", part))
        else:
            out.append(_Segment("literal", part))
    return out


_RANK = {"literal": 0, "param": 1, "rest": 2}


def _specificity(route: _Route) -> tuple[int, ...]:
    """Sort key: more segments first, then static before parameter before catch-all, segment
    by segment (so `/todos/new` wins over `/todos/{id}`)."""
    return (-len(route.segments), *(_RANK[s.kind] for s in route.segments))


def _same_shape(a: _Segment, b: _Segment) -> bool:
    return a.kind == b.kind and (a.kind != "literal" or a.text == b.text)


@dataclass
class _Route:
    methods: frozenset[str]
    template: str
    segments: list[_Segment]
    pattern: re.Pattern[str]
    handler: Handler
    wants_request: bool
    wants_all: bool

    def params(self) -> list[str]:
        return [s.text for s in self.segments if s.kind != "literal"]

    def match_template(self, host: list[_Segment]) -> bool:
        """This route's segments are the last ones of the host's template."""
        n = len(self.segments)
        if n == 0:
            return not host
        if n > len(host):
            return False
        tail = host[len(host) - n :]
        return all(_same_shape(a, b) for a, b in zip(self.segments, tail))

    def match_path(self, path: str) -> Optional[dict[str, str]]:
        m = self.pattern.match(path)
        return None if m is None else {k: v for k, v in m.groupdict().items()}

    def allows(self, method: str) -> bool:
        return "ANY" in self.methods or method in self.methods or (
            method == "HEAD" and "GET" in self.methods
        )


def _path_pattern(segments: list[_Segment]) -> re.Pattern[str]:
    body = ""
    for s in segments:
        if s.kind == "literal":
            body += "/" + re.escape(s.text)
        elif s.kind == "param":
            body += f"/(?P<{s.text}>[^/]+)"
        else:
            body += f"(?:/(?P<{s.text}>.*))?"
    return re.compile(f"^{body}/?$" if body else "^/?$")


class Router:
    """Routes requests to the functions registered with `get`, `post`, ... See the module
    docs."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self._exception_handlers: list[tuple[type[BaseException], Callable[[Any], Any]]] = []
        self.current_request: Optional[Request] = None
        """The request being handled (for helpers that do not take it as a parameter)."""

    @property
    def current_event(self) -> Optional[Request]:
        """`current_request`, spelled as Powertools spells it."""
        return self.current_request

    # Registration -------------------------------------------------------------------

    def route(self, path: str, method: Union[str, Iterable[str]] = "GET") -> Callable[[H], H]:
        """Registers the decorated function for `path` and `method` (a name, ``ANY``, or a
        list of names)."""
        methods = frozenset(m.upper() for m in ([method] if isinstance(method, str) else method))
        segments = _segments(path)

        def register(handler: H) -> H:
            signature = inspect.signature(handler)
            names = {s.text for s in segments if s.kind != "literal"}
            wants_all = any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
            )
            for name in names:
                if name not in signature.parameters and not wants_all:
                    raise TypeError(
                        f"{handler.__name__} has no parameter {name!r} for route {path!r}"
                    )
            self._routes.append(
                _Route(
                    methods=methods,
                    template=path,
                    segments=segments,
                    pattern=_path_pattern(segments),
                    handler=handler,
                    wants_request="request" in signature.parameters,
                    wants_all=wants_all,
                )
            )
            return handler

        return register

    def get(self, path: str) -> Callable[[H], H]:
        """Registers a GET route (HEAD requests are answered by it too)."""
        return self.route(path, "GET")

    def post(self, path: str) -> Callable[[H], H]:
        """Registers a POST route."""
        return self.route(path, "POST")

    def put(self, path: str) -> Callable[[H], H]:
        """Registers a PUT route."""
        return self.route(path, "PUT")

    def patch(self, path: str) -> Callable[[H], H]:
        """Registers a PATCH route."""
        return self.route(path, "PATCH")

    def delete(self, path: str) -> Callable[[H], H]:
        """Registers a DELETE route."""
        return self.route(path, "DELETE")

    def any(self, path: str) -> Callable[[H], H]:
        """Registers a route for every method."""
        return self.route(path, "ANY")

    def exception_handler(
        self, exc: type[BaseException]
    ) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        """Registers the decorated function to turn an exception of type `exc` (raised by a
        route) into a response, like Powertools' ``exception_handler``."""

        def register(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
            self._exception_handlers.append((exc, handler))
            return handler

        return register

    # Dispatch -----------------------------------------------------------------------

    def _find(self, request: Request) -> list[tuple[_Route, dict[str, str]]]:
        """The routes that match the request's route template (or, under a catch-all, its
        path), each with its parameter values, most specific first."""
        host = _host_segments(request.route) if request.route.startswith("/") else []
        found: list[tuple[_Route, dict[str, str]]] = []
        if host and host[-1].kind == "rest":
            # The app's templates are matched against what the catch-all covers, then
            # against the whole path.
            rest = request.params[-1][1] if request.params else ""
            for path in ("/" + rest, request.path):
                found = [(r, p) for r in self._routes if (p := r.match_path(path)) is not None]
                if found:
                    break
        else:
            values = [v for _, v in request.params]
            for r in self._routes:
                if r.match_template(host):
                    names = r.params()
                    bound = values[len(values) - len(names) :] if names else []
                    found.append((r, dict(zip(names, bound))))
        found.sort(key=lambda rp: _specificity(rp[0]))
        return found

    def __call__(self, request: Request) -> Response:
        found = self._find(request)
        if not found:
            raise HttpError.not_found(f"no route for {request.path}")
        # The most specific route that allows the method; 405 only when none does.
        chosen = next(((r, p) for r, p in found if r.allows(request.method)), None)
        if chosen is None:
            allowed = sorted({m for r, _ in found for m in r.methods})
            if "GET" in allowed and "HEAD" not in allowed:
                allowed = sorted([*allowed, "HEAD"])
            raise HttpError(
                405,
                "method-not-allowed",
                f"{request.method} is not allowed here (allowed: {', '.join(allowed)})",
                {"allow": allowed},
            )
        route, params = chosen
        kwargs: dict[str, Any] = {k: ("" if v is None else v) for k, v in params.items()}
        if route.wants_request:
            kwargs["request"] = request
        self.current_request = request
        try:
            return to_response(route.handler(**kwargs))
        except HttpError:
            raise
        except Exception as e:
            for kind, handler in self._exception_handlers:
                if isinstance(e, kind):
                    return to_response(handler(e))
            raise
        finally:
            self.current_request = None


def to_response(value: Any) -> Response:
    """What a route returned, as a `Response`: a `Response` as is; None → 204; ``str`` →
    text; ``bytes`` → ``application/octet-stream``; ``(body, status)`` or ``(body, status,
    headers)``; anything else → JSON."""
    if isinstance(value, Response):
        return value
    if isinstance(value, tuple) and 2 <= len(value) <= 3 and isinstance(value[1], int):
        response = to_response(value[0])
        response.status = value[1]
        if len(value) == 3:
            for name, header in dict(value[2]).items():
                response.set_header(name, header)
        return response
    if value is None:
        return Response.no_content()
    if isinstance(value, str):
        return Response.text(value)
    if isinstance(value, (bytes, bytearray)):
        return Response.bytes("application/octet-stream", bytes(value))
    return Response.json(value)
