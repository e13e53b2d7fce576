// Runs the handler in Node, without building a component: `npm test`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Request } from "@lamina/sdk";
import { FakeHost } from "@lamina/sdk/testing";
import { app } from "./app.js";

test("greets by name", () => {
  new FakeHost({ greeting: "Hi" }).install();
  const res = app.handle(
    new Request({ path: "/hello/Ada", route: "/hello/{name}", params: [["name", "Ada"]] }),
  );
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(res.body)), { message: "Hi, Ada!" });
});
