// Runs the middleware in Node, without building a component: `npm test`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Request, Response } from "@lamina/sdk";
import { FakeHost } from "@lamina/sdk/testing";
import Middleware from "./app.js";

test("a request without a key is refused", () => {
  new FakeHost().install();
  const answer = new Middleware().onRequest(new Request({ path: "/" }));
  assert.ok(answer instanceof Response && answer.status === 401);
});

test("a request with a key passes and its response is timed", () => {
  new FakeHost().install();
  const m = new Middleware();
  const req = new Request({ path: "/", headers: [["x-api-key", "k"]] });
  assert.equal(m.onRequest(req), req);
  assert.notEqual(m.onResponse(Response.text("ok")).header("x-{{name}}"), undefined);
});
