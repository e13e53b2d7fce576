"""The glue between the SDK and the bindings componentize-py generates (`wit_world`).

Imported only by the entry module `lamina-py build` generates, inside the component. It
converts WIT records to SDK objects and back, installs the host's log and config imports,
and turns exceptions into typed errors, so nothing in user code sees a generated type.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable, Optional

from componentize_py_types import Err
from wit_world.imports import config as wit_config
from wit_world.imports import lamina_http_types as wit
from wit_world.imports import log as wit_log

from . import _host
from .errors import HttpError
from .middleware import Middleware, Pass
from .request import Context, Request
from .response import Response
from .router import to_response

_LEVELS = {name: getattr(wit_log.Level, name.upper()) for name in _host.LEVELS}


def _log(level: str, message: str, fields: list[tuple[str, str]]) -> None:
    wit_log.log(_LEVELS[level], message, fields)


_host.install(_host.Host(log=_log, config_get=wit_config.get, config_all=wit_config.get_all))


def _source_name(source: Any) -> str:
    return str(source.name).lower().replace("_", "-")


def request_from_wit(r: Any) -> Request:
    c = r.context
    context = Context(
        source=_source_name(c.source),
        request_id=c.request_id,
        stage=c.stage,
        source_ip=c.source_ip,
        user_agent=c.user_agent,
        authorizer=c.authorizer,
        time_epoch_ms=c.time_epoch_ms,
        attributes=list(c.attributes),
    )
    return Request(
        r.method,
        r.path,
        raw_path=r.raw_path,
        query=list(r.query),
        raw_query=r.raw_query,
        headers=list(r.headers),
        cookies=list(r.cookies),
        body=bytes(r.body),
        params=list(r.params),
        route=r.route,
        context=context,
    )


def request_to_wit(r: Request) -> Any:
    c = r.context
    return wit.Request(
        method=r.method,
        path=r.path,
        raw_path=r.raw_path,
        query=r.query_pairs,
        raw_query=r.raw_query,
        headers=r.headers,
        cookies=r.cookies,
        body=r.body,
        params=r.params,
        route=r.route,
        context=wit.Context(
            source=wit.Source[c.source.upper().replace("-", "_")],
            request_id=c.request_id,
            stage=c.stage,
            source_ip=c.source_ip,
            user_agent=c.user_agent,
            authorizer=c.authorizer,
            time_epoch_ms=c.time_epoch_ms,
            attributes=c.attributes,
        ),
    )


def response_to_wit(r: Response) -> Any:
    return wit.Response(status=r.status, headers=r.headers, body=r.body)


def response_from_wit(r: Any) -> Response:
    return Response(r.status, bytes(r.body), list(r.headers))


def _typed(error: HttpError) -> Err:
    return Err(wit.Error(error.status, error.code, error.message, error.details_json()))


def _failed(what: str, e: BaseException) -> Err:
    """An exception nobody handled: the client gets a 500 ``internal error`` (the host adds
    the request id), the log gets the cause."""
    _log(
        "error",
        f"{what} failed",
        [("cause", f"{type(e).__name__}: {e}"), ("traceback", traceback.format_exc())],
    )
    return _typed(HttpError.internal())


def handler_export(handler: Callable[[Request], Any]) -> type:
    """The class componentize-py exports as ``request-handler``, calling `handler` (a
    `Router` or any function of a `Request`)."""

    class RequestHandler:
        def handle(self, request: Any) -> Any:
            try:
                return response_to_wit(to_response(handler(request_from_wit(request))))
            except HttpError as e:
                raise _typed(e) from None
            except Exception as e:
                raise _failed("handler", e) from None

    return RequestHandler


def middleware_export(cls: type[Middleware]) -> type:
    """The class componentize-py exports as ``request-middleware``, making one `cls` per
    request and keeping it between the hooks (componentize-py makes a new export object
    per call, so the SDK, not ``self`` of the export, holds it)."""
    from wit_world.exports import request_middleware as wit_mw

    current: list[Optional[Middleware]] = [None]

    class RequestMiddleware:
        def on_request(self, request: Any) -> Any:
            try:
                middleware = cls()
                current[0] = middleware
                req = request_from_wit(request)
                decision = middleware.on_request(req)
                if decision is None:
                    decision = req
                if isinstance(decision, Response):
                    return wit_mw.Action_Respond(response_to_wit(decision))
                if isinstance(decision, Pass):
                    return wit_mw.Action_Pass(request_to_wit(decision.request))
                if isinstance(decision, Request):
                    if cls.wants_response():
                        return wit_mw.Action_Next(request_to_wit(decision))
                    return wit_mw.Action_Pass(request_to_wit(decision))
                raise TypeError(
                    f"{cls.__name__}.on_request returned {type(decision).__name__}: "
                    "return a Request, Pass(request), a Response or None"
                )
            except HttpError as e:
                raise _typed(e) from None
            except Exception as e:
                raise _failed("middleware on_request", e) from None

        def on_response(self, response: Any) -> Any:
            try:
                middleware = current[0] or cls()
                out = middleware.on_response(response_from_wit(response))
                if not isinstance(out, Response):
                    raise TypeError(
                        f"{cls.__name__}.on_response returned {type(out).__name__}, "
                        "not a Response"
                    )
                return response_to_wit(out)
            except HttpError as e:
                raise _typed(e) from None
            except Exception as e:
                raise _failed("middleware on_response", e) from None

    return RequestMiddleware
