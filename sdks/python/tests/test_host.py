import pytest

from lamina import config, log
from lamina.middleware import Middleware
from lamina.testing import FakeHost


def test_log_and_config_go_to_the_host(fake_host):
    log.info("created", id=3)
    log.warn("careful")
    assert fake_host.lines == [("info", "created", {"id": "3"}), ("warn", "careful", {})]
    assert config.get("greeting") == "Hi"
    assert config.get("missing") is None
    assert config.get("missing", "d") == "d"
    assert config.all() == {"greeting": "Hi"}


def test_any_field_name_is_a_field(fake_host):
    log.info("x", level="high", message="m")
    assert fake_host.lines == [("info", "x", {"level": "high", "message": "m"})]


def test_bad_level_is_refused(fake_host):
    with pytest.raises(ValueError, match="log level"):
        log.log("loud", "x")


def test_without_a_host_the_error_says_why():
    from lamina import _host

    saved = _host.current()
    _host.install(
        _host.Host(
            log=_host._unbound,
            config_get=_host._unbound,
            config_all=_host._unbound,
            kv_open=_host._unbound,
            metrics_add=_host._unbound,
            trace_header=_host._unbound,
        )
    )
    try:
        with pytest.raises(RuntimeError, match="not available here"):
            config.get("x")
    finally:
        _host.install(saved)


def test_middleware_knows_whether_it_wants_the_response():
    class Check(Middleware):
        pass

    class Wrap(Middleware):
        def on_response(self, response):
            return response

    assert not Check.wants_response()
    assert Wrap.wants_response()


def test_build_entry_names_the_world_export():
    from lamina.build import entry_source

    assert "handler_export(_app.app)" in entry_source("hello", "app", False)
    assert "middleware_export(_app.middleware)" in entry_source("timing", "middleware", True)


def test_metrics_and_the_trace_header_go_to_the_host():
    from lamina import metrics, trace

    host = FakeHost(trace_header="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1;Sampled=1")
    host.install()
    metrics.add("Orders", 2, "Count", {"tier": "gold"})
    metrics.add("Latency", 1.5, "Milliseconds")
    metrics.count("Checkouts")
    assert host.metrics == [
        ("Orders", 2.0, "Count", {"tier": "gold"}),
        ("Latency", 1.5, "Milliseconds", {}),
        ("Checkouts", 1.0, "Count", {}),
    ]
    with pytest.raises(ValueError, match="metric unit must be one of"):
        metrics.add("Orders", 1, "Parsecs")
    with pytest.raises(TypeError, match="must be a number"):
        metrics.add("Orders", "1")  # type: ignore[arg-type]
    assert trace.trace_id() == "1-5759e988-bd862e3fe1be46a994272793"
    assert FakeHost().install() and trace.header() is None and trace.trace_id() is None


def test_a_refused_metric_names_the_limit():
    from lamina import _host, metrics

    def refuse(*_args: object) -> None:
        raise _host.MetricsError("metric \"Orders\": already holds 100 values")

    host = FakeHost().install()
    _host.install(_host.Host(**{**vars(_host.current()), "metrics_add": refuse}))
    with pytest.raises(metrics.MetricsError, match="^metrics: metric .*100 values"):
        metrics.count("Orders")
    assert host.metrics == []
