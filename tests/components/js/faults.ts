// `faults` in TypeScript: misbehaves on purpose, one way per `/faults/{fault}`, like the
// Rust `faults` test guest, so the host's fault handling is tested against real
// JavaScript guests (SpiderMonkey and QuickJS).
import { HttpError, Request, Response, metrics, trace } from "@lamina/sdk";

/** Calls in this instance: the host instantiates per request, so every request sees 1. */
let calls = 0;

function recurse(depth: number): number {
  return recurse(depth + 1) + 1;
}

export default function faults(req: Request): Response {
  calls += 1;
  const fault = req.param("fault") ?? "";
  switch (fault) {
    case "calls":
      return Response.text(String(calls));
    case "ok":
      return Response.text("fine");
    case "panic":
      throw new Error("the faults component threw on purpose");
    case "error":
      throw new HttpError(418, "teapot", "short and stout", { spout: true });
    case "loop": {
      let n = 0;
      for (;;) n = (n + 1) | 0;
    }
    case "alloc": {
      const chunks: Uint8Array[] = [];
      for (;;) chunks.push(new Uint8Array(1 << 20).fill(1));
    }
    case "recurse":
      return Response.text(String(recurse(0)));
    case "bad-status":
      return Response.text("status out of range", 1000);
    case "bad-header":
      return Response.text("x").withHeader("x-injected", "a\r\nset-cookie: evil=1");
    case "metrics": {
      // As the Rust `faults`: values the host keeps, then three it refuses.
      metrics.add("Orders", 2, "Count", { tier: "gold" });
      metrics.add("Orders", 3, "Count", { tier: "gold" });
      metrics.add("BasketSize", 1536, "Bytes", { tier: "gold" });
      metrics.count("Checkouts");
      const refused: string[] = [];
      for (const [name, value, unit] of [
        ["Orders", 1, "Seconds"],
        ["Bad", Infinity, "Count"],
        ["component", 1, "Count"],
      ] as const) {
        try {
          metrics.add(name, value, unit);
        } catch (e) {
          if (!(e instanceof metrics.MetricsError)) throw e;
          refused.push(e.message);
        }
      }
      return Response.json({ refused, trace: trace.header() ?? null, trace_id: trace.traceId() ?? null });
    }
    default:
      throw HttpError.notFound(`no fault ${JSON.stringify(fault)}`);
  }
}
