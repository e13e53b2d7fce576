"""The glue (`lamina._component`) against stand-ins for the bindings componentize-py
generates, so the conversions and the middleware decisions are tested on CPython."""

import sys
import types
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

import pytest


@pytest.fixture
def glue(monkeypatch):
    lines: list[tuple[Any, str, list[tuple[str, str]]]] = []

    class Err(Exception):
        def __init__(self, value: Any) -> None:
            self.value = value

    class Level(Enum):
        TRACE = 0
        DEBUG = 1
        INFO = 2
        WARN = 3
        ERROR = 4

    class Source(Enum):
        APIGW_REST = 0
        LOCAL = 7

    @dataclass
    class Context:
        source: Source
        request_id: str
        stage: Optional[str]
        source_ip: Optional[str]
        user_agent: Optional[str]
        authorizer: Optional[str]
        time_epoch_ms: int
        attributes: list

    @dataclass
    class Request:
        method: str
        path: str
        raw_path: str
        query: list
        raw_query: str
        headers: list
        cookies: list
        body: bytes
        params: list
        route: str
        context: Context

    @dataclass
    class Response:
        status: int
        headers: list
        body: bytes

    @dataclass
    class Error:
        status: int
        code: str
        message: str
        details: Optional[str]

    @dataclass
    class Action_Next:
        value: Any

    @dataclass
    class Action_Pass:
        value: Any

    @dataclass
    class Action_Respond:
        value: Any

    @dataclass
    class Error_NoSuchStore:
        pass

    @dataclass
    class Error_AccessDenied:
        pass

    @dataclass
    class Error_Other:
        value: str

    @dataclass
    class CasError_StoreError:
        value: Any

    @dataclass
    class CasError_CasFailed:
        value: Any

    class Cas:
        """A CAS handle over `bucket`'s dict: it fails once when `bucket.race` is set."""

        def __init__(self, bucket: Any, key: str) -> None:
            self.bucket, self.key = bucket, key

        @classmethod
        def new(cls, bucket: Any, key: str) -> "Cas":
            return cls(bucket, key)

        def current(self) -> Optional[bytes]:
            return self.bucket.data.get(self.key)

    class Bucket:
        def __init__(self) -> None:
            self.data: dict[str, bytes] = {}
            self.race = False

        def get(self, key: str) -> Optional[bytes]:
            if key == "down":
                raise Err(Error_Other("unavailable: DynamoDB table t did not answer GetItem"))
            return self.data.get(key)

    def swap(cas: Cas, value: bytes) -> None:
        if cas.bucket.race:
            cas.bucket.race = False
            cas.bucket.data[cas.key] = b'["other"]'
            raise Err(CasError_CasFailed(Cas(cas.bucket, cas.key)))
        cas.bucket.data[cas.key] = value

    buckets = {"todos": Bucket()}

    # The WIT `unit` enum as componentize-py names its cases.
    Unit = Enum("Unit", [
        "SECONDS", "MICROSECONDS", "MILLISECONDS", "BYTES", "KILOBYTES", "MEGABYTES",
        "GIGABYTES", "TERABYTES", "BITS", "KILOBITS", "MEGABITS", "GIGABITS", "TERABITS",
        "PERCENT", "COUNT", "BYTES_PER_SECOND", "KILOBYTES_PER_SECOND",
        "MEGABYTES_PER_SECOND", "GIGABYTES_PER_SECOND", "TERABYTES_PER_SECOND",
        "BITS_PER_SECOND", "KILOBITS_PER_SECOND", "MEGABITS_PER_SECOND",
        "GIGABITS_PER_SECOND", "TERABITS_PER_SECOND", "COUNT_PER_SECOND", "NONE",
    ])  # fmt: skip
    added: list[tuple[str, float, Any, list[tuple[str, str]]]] = []

    def metrics_add(name: str, value: float, unit: Any, dimensions: list) -> None:
        if name == "refused":
            raise Err('metric "refused": already holds 100 values')
        added.append((name, value, unit, dimensions))

    def open_store(name: str) -> Bucket:
        if name not in buckets:
            raise Err(Error_AccessDenied())
        return buckets[name]

    modules = {
        "componentize_py_types": types.SimpleNamespace(Err=Err),
        "wit_world.imports.store": types.SimpleNamespace(
            open=open_store, Error_NoSuchStore=Error_NoSuchStore,
            Error_AccessDenied=Error_AccessDenied, Error_Other=Error_Other,
        ),
        "wit_world.imports.atomics": types.SimpleNamespace(
            Cas=Cas, swap=swap, CasError_CasFailed=CasError_CasFailed,
            CasError_StoreError=CasError_StoreError,
        ),
        "wit_world.imports.batch": types.SimpleNamespace(),
        "wit_world": types.ModuleType("wit_world"),
        "wit_world.imports": types.ModuleType("wit_world.imports"),
        "wit_world.imports.config": types.SimpleNamespace(get=lambda k: None, get_all=lambda: []),
        "wit_world.imports.lamina_http_types": types.SimpleNamespace(
            Source=Source, Context=Context, Request=Request, Response=Response, Error=Error
        ),
        "wit_world.imports.log": types.SimpleNamespace(
            Level=Level, log=lambda level, message, fields: lines.append((level, message, fields))
        ),
        "wit_world.imports.metrics": types.SimpleNamespace(Unit=Unit, add=metrics_add),
        "wit_world.imports.trace": types.SimpleNamespace(header=lambda: "Root=1-a-b;Sampled=1"),
        "wit_world.exports": types.ModuleType("wit_world.exports"),
        "wit_world.exports.request_middleware": types.SimpleNamespace(
            Action_Next=Action_Next, Action_Pass=Action_Pass, Action_Respond=Action_Respond
        ),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "lamina._component", raising=False)
    import lamina._component as component

    def wit_request(path: str = "/x", headers: Optional[list] = None) -> Request:
        return Request(
            "GET", path, path, [], "", headers or [], [], b"", [], "/x",
            Context(Source.APIGW_REST, "rid", None, None, None, None, 5, []),
        )

    yield types.SimpleNamespace(
        component=component, request=wit_request, lines=lines, Err=Err, Level=Level,
        Action_Next=Action_Next, Action_Pass=Action_Pass, Action_Respond=Action_Respond,
        buckets=buckets, added=added, Unit=Unit,
    )
    from lamina.testing import FakeHost

    FakeHost().install()


def test_a_handler_round_trips_records_and_maps_errors(glue):
    from lamina import HttpError, Response

    def app(request):
        assert request.context.source == "apigw-rest" and request.context.time_epoch_ms == 5
        if request.path == "/typed":
            raise HttpError(418, "teapot", "short", {"spout": True})
        if request.path == "/boom":
            raise KeyError("k")
        return Response.text("ok")

    export = glue.component.handler_export(app)()
    out = export.handle(glue.request())
    assert (out.status, out.body) == (200, b"ok")
    with pytest.raises(glue.Err) as e:
        export.handle(glue.request("/typed"))
    assert (e.value.value.status, e.value.value.details) == (418, '{"spout":true}')
    with pytest.raises(glue.Err) as e:
        export.handle(glue.request("/boom"))
    assert (e.value.value.status, e.value.value.message) == (500, "internal error")
    level, message, fields = glue.lines[-1]
    assert (level, message) == (glue.Level.ERROR, "handler failed")
    assert dict(fields)["cause"] == "KeyError: 'k'"


def test_middleware_decisions(glue):
    from lamina import Middleware, Pass, Response

    class OnlyIn(Middleware):
        def on_request(self, request):
            if request.header("x-answer"):
                return Response.text("answered", status=401)
            if request.header("x-none"):
                return None
            request.set_header("x-seen", "1")
            return request

    class Both(Middleware):
        def on_request(self, request):
            self.kept = request.path
            return Pass(request) if request.header("x-pass") else request

        def on_response(self, response):
            response.set_header("x-kept", self.kept)
            return response

    only_in = glue.component.middleware_export(OnlyIn)()
    # No on_response: passed, so the host can drop the instance early.
    action = only_in.on_request(glue.request())
    assert isinstance(action, glue.Action_Pass)
    assert ("x-seen", "1") in action.value.headers
    assert action.value.context.source.name == "APIGW_REST"
    assert isinstance(only_in.on_request(glue.request(headers=[("x-none", "1")])), glue.Action_Pass)
    answered = only_in.on_request(glue.request(headers=[("x-answer", "1")]))
    assert isinstance(answered, glue.Action_Respond) and answered.value.status == 401

    both = glue.component.middleware_export(Both)
    first = both().on_request(glue.request("/kept"))
    assert isinstance(first, glue.Action_Next)
    # componentize-py makes a new export object per call: the SDK keeps the state.
    back = both().on_response(glue.component.response_to_wit(Response.text("x")))
    assert ("x-kept", "/kept") in back.headers
    assert isinstance(both().on_request(glue.request(headers=[("x-pass", "1")])), glue.Action_Pass)


def test_key_value_errors_and_lost_swaps_through_the_glue(glue):
    from lamina import kv

    store = kv.open("todos")
    with pytest.raises(kv.KvError) as e:
        store.get("down")
    assert (e.value.kind, e.value.status, e.value.code) == ("unavailable", 503, "store-unavailable")
    assert "did not answer" in e.value.detail and "did not answer" not in e.value.message
    with pytest.raises(kv.KvError) as e:
        kv.open("secrets")
    assert e.value.kind == "access-denied"
    glue.buckets["todos"].race = True
    assert store.swap_json("list", lambda xs: (xs or []) + ["mine"]) == ["other", "mine"]
    assert glue.buckets["todos"].data["list"] == b'["other","mine"]'


def test_metrics_units_and_refusals_through_the_glue(glue):
    from lamina import metrics, trace

    metrics.add("Rate", 3, "Bytes/Second", {"tier": "gold"})
    metrics.add("Idle", 0.5, "None")
    metrics.count("Checkouts")
    assert glue.added == [
        ("Rate", 3.0, glue.Unit.BYTES_PER_SECOND, [("tier", "gold")]),
        ("Idle", 0.5, glue.Unit.NONE, []),
        ("Checkouts", 1.0, glue.Unit.COUNT, []),
    ]
    with pytest.raises(metrics.MetricsError, match='^metrics: metric "refused": already holds'):
        metrics.count("refused")
    assert trace.trace_id() == "1-a-b"
