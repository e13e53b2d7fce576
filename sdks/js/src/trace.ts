/**
 * The X-Ray trace this call is part of.
 *
 * ```ts
 * import { log, trace } from "@lamina/sdk";
 * log.info("charging", { trace_id: trace.traceId() });
 * ```
 *
 * The header is the one the host adds to this component's outbound HTTP calls: `Root=` and
 * `Sampled=` of the invocation, `Parent=` this call's subsegment when the host sends them.
 */
import { host } from "./host.js";

/** The `X-Amzn-Trace-Id` header of this call, or `undefined` without a trace. */
export function header(): string | undefined {
  return host().traceHeader() ?? undefined;
}

/** The `Root=` of `header()`: the trace id to put in a log line or an error report. */
export function traceId(): string | undefined {
  for (const pair of (header() ?? "").split(";")) {
    const [key, ...rest] = pair.trim().split("=");
    if (key === "Root" && rest.length > 0) return rest.join("=");
  }
  return undefined;
}
