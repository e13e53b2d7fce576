import pytest

from lamina import HttpError, kv
from lamina.kv import MAX_VALUE, KvError
from lamina.testing import FakeHost


@pytest.fixture
def host():
    return FakeHost(stores=["todos"]).install()


def test_values_round_trip_as_bytes_and_json(host):
    store = kv.open("todos")
    assert store.get("a") is None and not store.exists("a")
    store.set("a", b"\x00\xffhi")
    assert store.get("a") == b"\x00\xffhi" and store.exists("a")
    store.set("empty", b"")
    assert store.get("empty") == b"", "an empty value is a value"
    store.set_json("t", {"id": 1, "title": "é"})
    assert store.get_json("t") == {"id": 1, "title": "é"}
    store.delete("a")
    store.delete("a")
    assert store.get("a") is None
    assert store.get_many(["t", "nope"]) == [store.get("t"), None]
    store.set_many([("x", b"1"), ("y", b"2")])
    store.delete_many(["x", "nope"])
    assert store.get_many(["x", "y"]) == [None, b"2"]


def test_keys_page_through_every_key(host):
    store = kv.open("todos")
    store.set_many([(f"k{i:05}", b"") for i in range(2500)])
    page, cursor = store.list_page()
    assert len(page) == 1000 and cursor is not None
    assert sorted(store.keys()) == [f"k{i:05}" for i in range(2500)]


def test_counters_and_compare_and_swap(host):
    store = kv.open("todos")
    assert store.increment("n") == 1
    assert store.increment("n", 41) == 42
    assert store.get("n") == b"42"
    store.set("text", b"hello")
    with pytest.raises(KvError) as error:
        store.increment("text")
    assert error.value.status == 500 and "not a decimal integer" in error.value.detail
    assert store.swap_json("list", lambda xs: (xs or []) + ["a"]) == ["a"]

    # A writer that gets in between the read and the write: the update runs again.
    fake = host.stores["todos"]
    calls = []

    def update(xs):
        calls.append(list(xs))
        if len(calls) == 1:
            fake.set("list", b'["a","other"]')
        return xs + ["b"]

    assert store.swap_json("list", update) == ["a", "other", "b"]
    assert calls == [["a"], ["a", "other"]]
    store.set("bad", b"not json")
    with pytest.raises(KvError) as error:
        store.swap_json("bad", lambda v: v)
    assert error.value.kind == "decode"
    assert store.get("bad") == b"not json", "nothing written"


def test_failures_are_http_errors_without_internals(host):
    store = kv.open("todos")
    with pytest.raises(KvError) as error:
        store.set("big", b"x" * (MAX_VALUE + 1))
    assert (error.value.status, error.value.code) == (413, "too-large")
    with pytest.raises(KvError) as error:
        store.set("", b"x")
    assert error.value.status == 400
    host.stores["todos"].unavailable = True
    with pytest.raises(HttpError) as error:
        store.get("a")
    assert (error.value.status, error.value.code) == (503, "store-unavailable")
    assert "fake" not in error.value.message, "the cause is logged, not answered"
    assert any(line[1] == "key-value store call failed" for line in host.lines)
    with pytest.raises(KvError) as error:
        kv.open("sessions")
    assert (error.value.kind, error.value.status) == ("access-denied", 500)
