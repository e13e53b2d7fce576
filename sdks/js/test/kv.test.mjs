import assert from "node:assert/strict";
import { test } from "node:test";
import { HttpError, kv, utf8 } from "../dist/index.js";
import { FakeHost } from "../dist/testing.js";

const text = (bytes) => (bytes === undefined ? undefined : utf8.decode(bytes));

test("values round-trip as bytes and JSON", () => {
  new FakeHost({}, ["todos"]).install();
  const store = kv.open("todos");
  assert.equal(store.get("a"), undefined);
  assert.equal(store.exists("a"), false);
  store.set("a", new Uint8Array([0, 255, 104]));
  assert.deepEqual([...store.get("a")], [0, 255, 104]);
  store.set("empty", new Uint8Array());
  assert.equal(store.get("empty").length, 0, "an empty value is a value");
  store.setJson("t", { id: 1, title: "é" });
  assert.deepEqual(store.getJson("t"), { id: 1, title: "é" });
  store.delete("a");
  store.delete("a");
  assert.equal(store.get("a"), undefined);
  store.setMany([["x", utf8.encode("1")], ["y", utf8.encode("2")]]);
  store.deleteMany(["x", "nope"]);
  assert.deepEqual(store.getMany(["x", "y"]).map(text), [undefined, "2"]);
});

test("keys page through every key", () => {
  new FakeHost({}, ["todos"]).install();
  const store = kv.open("todos");
  const all = Array.from({ length: 2500 }, (_, i) => `k${String(i).padStart(5, "0")}`);
  store.setMany(all.map((k) => [k, new Uint8Array()]));
  const first = store.listPage();
  assert.equal(first.keys.length, 1000);
  assert.notEqual(first.cursor, undefined);
  assert.deepEqual([...store.keys()].sort(), all);
});

test("counters and compare-and-swap", () => {
  const host = new FakeHost({}, ["todos"]).install();
  const store = kv.open("todos");
  assert.equal(store.increment("n"), 1);
  assert.equal(store.increment("n", 41), 42);
  assert.equal(text(store.get("n")), "42");
  store.set("text", "hello");
  assert.throws(() => store.increment("text"), (e) => e instanceof kv.KvError && e.status === 500);
  assert.deepEqual(store.swapJson("list", (xs) => [...(xs ?? []), "a"]), ["a"]);
  const calls = [];
  const result = store.swapJson("list", (xs) => {
    calls.push([...xs]);
    if (calls.length === 1) host.stores.get("todos").set("list", utf8.encode('["a","other"]'));
    return [...xs, "b"];
  });
  assert.deepEqual(result, ["a", "other", "b"], "the update ran again on the new value");
  store.set("bad", "not json");
  assert.throws(() => store.swapJson("bad", (v) => v), (e) => e.kind === "decode");
  assert.equal(text(store.get("bad")), "not json", "nothing written");
});

test("failures are HttpErrors without internals", () => {
  const host = new FakeHost({}, ["todos"]).install();
  const store = kv.open("todos");
  assert.throws(() => store.set("big", new Uint8Array(kv.MAX_VALUE + 1)), (e) => e.status === 413 && e.code === "too-large");
  assert.throws(() => store.set("", "x"), (e) => e.status === 400);
  host.stores.get("todos").unavailable = true;
  assert.throws(
    () => store.get("a"),
    (e) => e instanceof HttpError && e.status === 503 && e.code === "store-unavailable" && !e.message.includes("fake"),
  );
  assert.ok(host.lines.some((l) => l.message === "key-value store call failed"), "the cause is logged");
  assert.throws(() => kv.open("sessions"), (e) => e.kind === "access-denied" && e.status === 500);
});
