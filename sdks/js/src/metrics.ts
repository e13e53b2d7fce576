/**
 * Custom CloudWatch metrics, written by the host as embedded metric format (EMF) beside
 * its own, under the host config's `[metrics]` namespace and dimensions plus `component`.
 *
 * ```ts
 * import { metrics } from "@lamina/sdk";
 * metrics.add("OrdersPlaced", 1, "Count", { tier: "gold" });
 * metrics.count("Checkouts");
 * ```
 *
 * Values are aggregated per request: every `add` of one name under one dimension set
 * becomes one metric holding the list of values. The host checks each call against EMF's
 * limits and refuses one that breaks them with `MetricsError`, naming the limit (100 values
 * per metric, 30 dimensions, 1000 values per request, names and values CloudWatch accepts);
 * nothing of a refused call is recorded. Without `[metrics]` in the host config the values
 * are checked the same way and dropped.
 */
import { host, MetricsError, UNITS, type Unit } from "./host.js";

export { MetricsError, UNITS, type Unit };

/** Adds `value` to metric `name` under `dimensions`. Throws `MetricsError` when the host
 * refuses it, `RangeError` for a unit CloudWatch does not know. */
export function add(name: string, value: number, unit: Unit = "Count", dimensions: Record<string, string> = {}): void {
  if (!UNITS.includes(unit)) {
    throw new RangeError(`metric unit must be one of ${UNITS.join(", ")}, not ${String(unit)}`);
  }
  if (typeof value !== "number") {
    throw new TypeError(`metric value must be a number, not ${typeof value}`);
  }
  host().metricsAdd(
    name,
    value,
    unit,
    Object.entries(dimensions).map(([k, v]) => [k, String(v)]),
  );
}

/** Adds 1 to the count `name`, with no dimensions of its own. */
export function count(name: string): void {
  add(name, 1, "Count");
}
