import assert from "node:assert/strict";
import { test } from "node:test";
import { HttpError, Request, Response, utf8 } from "../dist/index.js";
import { FakeHost } from "../dist/testing.js";

test("header lookups are case-insensitive and keep repeats", () => {
  const req = new Request({ method: "post", headers: [["Accept", "a"], ["accept", "b"]] });
  assert.equal(req.method, "POST");
  assert.equal(req.header("ACCEPT"), "a");
  assert.deepEqual(req.headerAll("accept"), ["a", "b"]);
  assert.equal(req.header("missing"), undefined);
  req.setHeader("Accept", "c");
  req.appendHeader("x-b", "1");
  assert.deepEqual(req.headers, [["accept", "c"], ["x-b", "1"]]);
  req.removeHeader("X-B");
  assert.deepEqual(req.headers, [["accept", "c"]]);
});

test("query, params, cookies, attributes", () => {
  const req = new Request({
    query: [["a", "1"], ["a", "2"]],
    params: [["id", "7"]],
    cookies: [["session", "abc"]],
    context: { source: "alb", requestId: "r", attributes: [["sub", "u1"]] },
  });
  assert.equal(req.query("a"), "1");
  assert.deepEqual(req.queryAll("a"), ["1", "2"]);
  assert.equal(req.param("id"), "7");
  assert.equal(req.cookie("session"), "abc");
  assert.equal(req.attribute("sub"), "u1");
  req.setAttribute("sub", "u2");
  assert.deepEqual(req.context.attributes, [["sub", "u2"]]);
  assert.equal(req.context.source, "alb");
});

test("json and text errors are typed 400s", () => {
  assert.deepEqual(new Request({ body: '{"a":[1,2]}' }).json(), { a: [1, 2] });
  assert.throws(
    () => new Request({ body: '{"a":' }).json(),
    // The position is the engine's to give: SpiderMonkey says "at line 1 column 6" (the
    // contract test checks it in a component); Node's V8 gives none for this input.
    (e) => e instanceof HttpError && e.status === 400 && e.code === "invalid-json" && e.message.startsWith("request body: "),
  );
  assert.throws(
    () => new Request({ body: new Uint8Array([0xff, 0xfe]) }).text(),
    (e) => e instanceof HttpError && e.status === 400 && e.code === "bad-request",
  );
});

test("responses", () => {
  const r = Response.json({ é: 1, b: [true, null] }, 201);
  assert.equal(r.status, 201);
  assert.equal(utf8.decode(r.body), '{"é":1,"b":[true,null]}');
  assert.equal(r.header("Content-Type"), "application/json");
  assert.equal(utf8.decode(Response.json({ b: 1, a: { d: 1, c: 2 } }, 200, { sortKeys: true }).body), '{"a":{"c":2,"d":1},"b":1}');
  assert.equal(Response.redirect("/x").status, 302);
  assert.equal(Response.redirect("/x", 308).header("location"), "/x");
  assert.equal(Response.noContent().status, 204);
  const c = Response.text("x").withHeader("Set-Cookie", "a=1").withHeader("set-cookie", "b=2");
  assert.deepEqual(c.headers.filter(([k]) => k === "set-cookie").map(([, v]) => v), ["a=1", "b=2"]);
});

test("an unserializable JSON body is a typed 500", () => {
  const host = new FakeHost().install();
  assert.throws(
    () => Response.json({ n: 1n }),
    (e) => e instanceof HttpError && e.status === 500 && e.code === "internal",
  );
  assert.equal(host.lines[0].level, "error");
});

test("sorted keys follow code points, as serde_json's byte order does", () => {
  const text = utf8.decode(Response.json({ "\u{1F600}": 1, "\uFFFD": 2, b: 3 }, 200, { sortKeys: true }).body);
  assert.equal(text, '{"b":3,"\uFFFD":2,"\u{1F600}":1}');
});

test("a leading byte order mark is kept, as Rust and Python keep it", () => {
  assert.equal(new Request({ body: new Uint8Array([0xef, 0xbb, 0xbf, 0x41]) }).text(), "\uFEFFA");
});

test("errors carry details as JSON", () => {
  const e = HttpError.unprocessable("bad", [{ field: "title" }]);
  assert.equal(e.status, 422);
  assert.equal(e.code, "unprocessable");
  assert.equal(e.detailsJson(), '[{"field":"title"}]');
  assert.equal(HttpError.internal().detailsJson(), undefined);
  assert.equal(new HttpError(400, "x", "y", { n: 1n }).detailsJson(), undefined);
});
