import assert from "node:assert/strict";
import { test } from "node:test";
import { Middleware, config, log, metrics, trace, utf8 } from "../dist/index.js";
import { FakeHost } from "../dist/testing.js";

test("log and config go to the host", () => {
  const host = new FakeHost({ greeting: "Hi", b: "2" }).install();
  log.info("created", { id: 3 });
  log.warn("careful");
  assert.deepEqual(host.lines, [
    { level: "info", message: "created", fields: { id: "3" } },
    { level: "warn", message: "careful", fields: {} },
  ]);
  assert.equal(config.get("greeting"), "Hi");
  assert.equal(config.get("missing"), undefined);
  assert.equal(config.get("missing", "d"), "d");
  assert.deepEqual(config.all(), { b: "2", greeting: "Hi" });
  assert.throws(() => log.write("loud", "x"), /log level/);
});

test("middleware knows whether it wants the response", () => {
  class Check extends Middleware {}
  class Wrap extends Middleware {
    onResponse(r) {
      return r;
    }
  }
  assert.equal(Check.wantsResponse(), false);
  assert.equal(Wrap.wantsResponse(), true);
});

test("the fallback UTF-8 codec agrees with TextEncoder/TextDecoder", async () => {
  // Load utf8.js with the globals hidden, as QuickJS has them.
  const saved = [globalThis.TextEncoder, globalThis.TextDecoder];
  globalThis.TextEncoder = undefined;
  globalThis.TextDecoder = undefined;
  let fallback;
  try {
    fallback = await import(`../dist/utf8.js?fallback=${Date.now()}`);
  } finally {
    [globalThis.TextEncoder, globalThis.TextDecoder] = saved;
  }
  for (const s of ["", "plain", "é ü ñ", "日本語", "emoji 😀 ok", "lone \ud800 surrogate", "\u0000\u007f\u0080\u07ff\u0800\uffff", "\ufeffBOM first"]) {
    assert.deepEqual(fallback.encode(s), utf8.encode(s), s);
    assert.equal(fallback.decode(utf8.encode(s)), utf8.decode(utf8.encode(s)), s);
  }
  for (const bad of [[0xff], [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80]]) {
    assert.throws(() => fallback.decode(new Uint8Array(bad)), TypeError, JSON.stringify(bad));
    assert.throws(() => utf8.decode(new Uint8Array(bad)), TypeError, JSON.stringify(bad));
  }
});

test("metrics and the trace header go to the host", () => {
  const host = new FakeHost().install();
  host.traceHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1;Sampled=1";
  metrics.add("Orders", 2, "Count", { tier: "gold" });
  metrics.add("Latency", 1.5, "Milliseconds");
  metrics.count("Checkouts");
  assert.deepEqual(host.metrics, [
    { name: "Orders", value: 2, unit: "Count", dimensions: { tier: "gold" } },
    { name: "Latency", value: 1.5, unit: "Milliseconds", dimensions: {} },
    { name: "Checkouts", value: 1, unit: "Count", dimensions: {} },
  ]);
  assert.throws(() => metrics.add("Orders", 1, "Parsecs"), /metric unit must be one of/);
  assert.throws(() => metrics.add("Orders", "1"), /must be a number/);
  assert.equal(trace.traceId(), "1-5759e988-bd862e3fe1be46a994272793");
  host.traceHeader = undefined;
  assert.equal(trace.header(), undefined);
  assert.equal(trace.traceId(), undefined);
  const error = new metrics.MetricsError("metric \"Orders\": already holds 100 values");
  assert.equal(error.message, 'metrics: metric "Orders": already holds 100 values');
});
