"""The glue between the SDK and the bindings componentize-py generates (`wit_world`).

Imported only by the entry module `lamina-py build` generates, inside the component. It
converts WIT records to SDK objects and back, installs the host's imports,
and turns exceptions into typed errors, so nothing in user code sees a generated type.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable, Optional

from componentize_py_types import Err
from wit_world.imports import atomics as wit_atomics
from wit_world.imports import batch as wit_batch
from wit_world.imports import config as wit_config
from wit_world.imports import lamina_http_types as wit
from wit_world.imports import log as wit_log
from wit_world.imports import metrics as wit_metrics
from wit_world.imports import store as wit_store
from wit_world.imports import trace as wit_trace

from . import _host
from .errors import HttpError
from .middleware import Middleware, Pass
from .request import Context, Request
from .response import Response
from .router import to_response

_LEVELS = {name: getattr(wit_log.Level, name.upper()) for name in _host.LEVELS}


def _log(level: str, message: str, fields: list[tuple[str, str]]) -> None:
    wit_log.log(_LEVELS[level], message, fields)


# "Bytes/Second" is the WIT enum's `bytes-per-second`, `Unit.BYTES_PER_SECOND` here.
_UNITS = {u: getattr(wit_metrics.Unit, u.upper().replace("/", "_PER_")) for u in _host.UNITS}


def _metrics_add(name: str, value: float, unit: str, dimensions: list[tuple[str, str]]) -> None:
    try:
        wit_metrics.add(name, value, _UNITS[unit], dimensions)
    except Err as e:
        raise _host.MetricsError(str(e.value)) from None


def _failure(e: Err) -> _host.KvFailure:
    """A `wasi:keyvalue` error as the SDK's: the host prefixes `other`'s message with the
    kind (``unavailable: ...``)."""
    error = e.value
    if isinstance(error, (wit_store.Error_NoSuchStore, wit_store.Error_AccessDenied)):
        return _host.KvFailure("access-denied", "the host config does not grant this store")
    message = str(getattr(error, "value", error))
    for kind in ("unavailable", "too-large", "invalid-key"):
        if message.startswith(kind + ": "):
            return _host.KvFailure(kind, message[len(kind) + 2 :])
    return _host.KvFailure("other", message)


class _Bucket:
    """`_host.Bucket` over the generated `wasi:keyvalue` bindings."""

    def __init__(self, bucket: Any) -> None:
        self._b = bucket

    def get(self, key: str) -> Optional[bytes]:
        try:
            value = self._b.get(key)
        except Err as e:
            raise _failure(e) from None
        return None if value is None else bytes(value)

    def set(self, key: str, value: bytes) -> None:
        try:
            self._b.set(key, value)
        except Err as e:
            raise _failure(e) from None

    def delete(self, key: str) -> None:
        try:
            self._b.delete(key)
        except Err as e:
            raise _failure(e) from None

    def exists(self, key: str) -> bool:
        try:
            return bool(self._b.exists(key))
        except Err as e:
            raise _failure(e) from None

    def list_keys(self, cursor: Optional[str]) -> tuple[list[str], Optional[str]]:
        try:
            page = self._b.list_keys(cursor)
        except Err as e:
            raise _failure(e) from None
        return list(page.keys), page.cursor

    def increment(self, key: str, delta: int) -> int:
        try:
            return int(wit_atomics.increment(self._b, key, delta))
        except Err as e:
            raise _failure(e) from None

    def cas(self, key: str) -> tuple[Optional[bytes], object]:
        try:
            handle = wit_atomics.Cas.new(self._b, key)
            current = handle.current()
        except Err as e:
            raise _failure(e) from None
        return (None if current is None else bytes(current)), handle

    def swap(self, handle: object, value: bytes) -> None:
        try:
            wit_atomics.swap(handle, value)
        except Err as e:
            if isinstance(e.value, wit_atomics.CasError_CasFailed):
                fresh = e.value.value
                try:
                    current = fresh.current()
                except Err as again:
                    raise _failure(again) from None
                raise _host.CasLost(None if current is None else bytes(current), fresh) from None
            raise _failure(Err(e.value.value)) from None

    def get_many(self, keys: list[str]) -> list[Optional[bytes]]:
        try:
            found = wit_batch.get_many(self._b, keys)
        except Err as e:
            raise _failure(e) from None
        return [None if pair is None else bytes(pair[1]) for pair in found]

    def set_many(self, pairs: list[tuple[str, bytes]]) -> None:
        try:
            wit_batch.set_many(self._b, pairs)
        except Err as e:
            raise _failure(e) from None

    def delete_many(self, keys: list[str]) -> None:
        try:
            wit_batch.delete_many(self._b, keys)
        except Err as e:
            raise _failure(e) from None


def _kv_open(name: str) -> _host.Bucket:
    try:
        return _Bucket(wit_store.open(name))
    except Err as e:
        raise _failure(e) from None


_host.install(
    _host.Host(
        log=_log,
        config_get=wit_config.get,
        config_all=wit_config.get_all,
        kv_open=_kv_open,
        metrics_add=_metrics_add,
        trace_header=wit_trace.header,
    )
)


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
