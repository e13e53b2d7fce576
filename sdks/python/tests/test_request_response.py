import pytest

from lamina import Context, HttpError, Request, Response


def make(**kw):
    return Request("post", "/todos", **kw)


def test_header_lookup_is_case_insensitive_and_keeps_repeats():
    req = make(headers=[("Accept", "a"), ("accept", "b"), ("x-one", "1")])
    assert req.method == "POST"
    assert req.header("ACCEPT") == "a"
    assert req.header_all("Accept") == ["a", "b"]
    assert req.header("missing") is None
    assert req.header("missing", "d") == "d"
    assert req.headers == [("accept", "a"), ("accept", "b"), ("x-one", "1")]


def test_query_param_cookie_attribute():
    req = make(
        query=[("a", "1"), ("a", "2")],
        params=[("id", "7")],
        cookies=[("session", "abc")],
        context=Context(source="alb", request_id="r", attributes=[("sub", "u1")]),
    )
    assert req.query("a") == "1"
    assert req.query_all("a") == ["1", "2"]
    assert req.query("b", "x") == "x"
    assert req.param("id") == "7" and req.param("nope") is None
    assert req.cookie("session") == "abc"
    assert req.attribute("sub") == "u1"
    req.set_attribute("sub", "u2")
    assert req.context.attributes == [("sub", "u2")]


def test_json_errors_name_line_and_column():
    assert make(body=b'{"a": [1, 2]}').json() == {"a": [1, 2]}
    with pytest.raises(HttpError) as e:
        make(body=b'{"a":\n  tru}').json()
    assert (e.value.status, e.value.code) == (400, "invalid-json")
    assert "line 2 column 3" in e.value.message
    with pytest.raises(HttpError) as e:
        make(body=b"\xff\xfe").text()
    assert (e.value.status, e.value.code) == (400, "bad-request")
    assert "byte 0" in e.value.message


def test_header_changes():
    req = make(headers=[("x-a", "1"), ("x-a", "2")])
    req.set_header("X-A", "3")
    req.append_header("x-b", "4")
    assert req.headers == [("x-a", "3"), ("x-b", "4")]
    req.remove_header("x-b")
    assert req.headers == [("x-a", "3")]


def test_responses():
    r = Response.json({"é": 1, "b": [True, None]}, status=201)
    assert r.status == 201
    assert r.body == '{"é":1,"b":[true,null]}'.encode()
    assert r.header("Content-Type") == "application/json"
    assert Response.json({"b": 1, "a": 2}, sort_keys=True).body == b'{"a":2,"b":1}'
    assert Response.text("hi").headers == [("content-type", "text/plain; charset=utf-8")]
    assert Response.redirect("/x").status == 302
    assert Response.redirect("/x", 308).header("location") == "/x"
    assert Response.no_content().status == 204 and Response.no_content().body == b""
    r = Response.text("x").with_header("Set-Cookie", "a=1").with_header("set-cookie", "b=2")
    assert [v for k, v in r.headers if k == "set-cookie"] == ["a=1", "b=2"]


def test_unserializable_json_is_a_typed_500(fake_host):
    for value in [{"when": object()}, {"n": float("nan")}, {"s": "\ud800"}]:
        with pytest.raises(HttpError) as e:
            Response.json(value)
        assert (e.value.status, e.value.code) == (500, "internal")
    assert [line[0] for line in fake_host.lines] == ["error"] * 3


def test_json_refuses_what_is_not_json_text():
    for body in [b'{"n": NaN}', b'[Infinity]', b'"\\ud800"', b'{"\\udc00": 1}']:
        with pytest.raises(HttpError) as e:
            make(body=body).json()
        assert (e.value.status, e.value.code) == (400, "invalid-json"), body
    assert make(body=b'"\\ud83d\\ude00"').json() == "\U0001f600"
    assert make(body=b"\xef\xbb\xbfA").text() == "\ufeffA"


def test_error_details_are_json():
    e = HttpError.unprocessable("bad", [{"field": "title"}])
    assert (e.status, e.code) == (422, "unprocessable")
    assert e.details_json() == '[{"field":"title"}]'
    assert HttpError.internal().details_json() is None
    assert HttpError(400, "x", "y", {"bad": object()}).details_json() is None
