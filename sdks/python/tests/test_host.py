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
