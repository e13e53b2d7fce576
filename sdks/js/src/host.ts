/**
 * The host's imports (log, config, key-value stores, metrics, trace) behind a small seam: inside a component the glue
 * (`component.ts`) installs the real WIT imports; in unit tests on Node, `testing.ts`
 * installs an in-memory stand-in. SDK code never imports `lamina:http/*` directly, so it
 * runs (and is tested) outside a component too.
 */

export const LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
/** A log level, as the WIT `level` enum spells it. */
export type Level = (typeof LEVELS)[number];

/** What a key-value call can fail with (`KvFailure.kind`). */
export type KvKind = "access-denied" | "unavailable" | "too-large" | "invalid-key" | "other";

/** A key-value call that failed, as a bucket reports it. */
export class KvFailure extends Error {
  constructor(
    readonly kind: KvKind,
    readonly detail: string,
  ) {
    super(`${kind}: ${detail}`);
    this.name = "KvFailure";
  }
}

/** The metric units CloudWatch accepts, as it spells them (`metrics.add`). */
export const UNITS = [
  "Seconds", "Microseconds", "Milliseconds",
  "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
  "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
  "Percent", "Count",
  "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
  "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
  "Gigabits/Second", "Terabits/Second", "Count/Second",
  "None",
] as const;
/** A metric unit. */
export type Unit = (typeof UNITS)[number];

/** A metric value the host refused; the message names the limit it broke. */
export class MetricsError extends Error {
  constructor(readonly reason: string) {
    super(`metrics: ${reason}`);
    this.name = "MetricsError";
  }
}

/** A compare-and-swap whose value changed since it began: `current` and `handle` are a
 * fresh one's, to retry with. */
export class CasLost extends Error {
  constructor(
    readonly current: Uint8Array | undefined,
    readonly handle: unknown,
  ) {
    super("the value changed");
    this.name = "CasLost";
  }
}

/** An open key-value store, as the host provides it. Every method throws `KvFailure`. */
export interface Bucket {
  get(key: string): Uint8Array | undefined;
  set(key: string, value: Uint8Array): void;
  delete(key: string): void;
  exists(key: string): boolean;
  listKeys(cursor: string | undefined): { keys: string[]; cursor: string | undefined };
  increment(key: string, delta: number): number;
  /** Begins a compare-and-swap: the current value, and a handle for `swap`. */
  cas(key: string): { current: Uint8Array | undefined; handle: unknown };
  /** Writes `value` if the key did not change since `handle` began; else throws `CasLost`. */
  swap(handle: unknown, value: Uint8Array): void;
  getMany(keys: string[]): (Uint8Array | undefined)[];
  setMany(pairs: [string, Uint8Array][]): void;
  deleteMany(keys: string[]): void;
}

/** The functions the host provides to a component. */
export interface Host {
  log(level: Level, message: string, fields: [string, string][]): void;
  configGet(key: string): string | undefined;
  configAll(): [string, string][];
  kvOpen(name: string): Bucket;
  /** Adds one metric value; throws `MetricsError` when the host refuses it. */
  metricsAdd(name: string, value: number, unit: Unit, dimensions: [string, string][]): void;
  traceHeader(): string | undefined;
}

function unbound(): never {
  throw new Error(
    "the Lamina host is not available here: log, config, kv, metrics and trace work inside a component " +
      "(not at module load, while it is being built) or under @lamina/sdk/testing",
  );
}

let current: Host = {
  log: unbound,
  configGet: unbound,
  configAll: unbound,
  kvOpen: unbound,
  metricsAdd: unbound,
  traceHeader: unbound,
};

/** Makes `host` the one `log`, `config`, `kv`, `metrics` and `trace` talk to. */
export function install(host: Host): void {
  current = host;
}

/** The installed host. */
export function host(): Host {
  return current;
}
