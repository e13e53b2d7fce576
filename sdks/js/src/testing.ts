/**
 * Run handlers and middleware on Node, in unit tests, without building a component.
 *
 * ```ts
 * import { Request } from "@lamina/sdk";
 * import { FakeHost } from "@lamina/sdk/testing";
 * const host = new FakeHost({ greeting: "Hi" }).install();
 * const res = app.handle(new Request({ path: "/hello/Ada", route: "/hello/{name}", params: [["name", "Ada"]] }));
 * ```
 */
import { CasLost, KvFailure, install, type Bucket, type Level, type Unit } from "./host.js";
import * as utf8 from "./utf8.js";

const PAGE = 1000;
const MAX_KEY = 2048;
const MAX_VALUE = 400_000;

/** An in-memory key-value store with the host's rules: the same limits, decimal-text
 * counters, versions for compare-and-swap, sorted pages of 1,000 keys. `data` is what it
 * holds; set `unavailable` to make every call fail as an unreachable store does. */
export class FakeStore implements Bucket {
  readonly data = new Map<string, Uint8Array>();
  unavailable = false;
  private readonly versions = new Map<string, number>();
  private next = 1;

  private check(key: string, value?: Uint8Array): void {
    if (this.unavailable) throw new KvFailure("unavailable", "the fake store is marked unavailable");
    if (key === "") throw new KvFailure("invalid-key", "a key is at least one byte");
    const size = utf8.encode(key).length;
    if (size > MAX_KEY) throw new KvFailure("too-large", `a key of ${size} bytes is over the limit of ${MAX_KEY}`);
    if (value && value.length > MAX_VALUE) {
      throw new KvFailure("too-large", `a value of ${value.length} bytes is over the store's limit of ${MAX_VALUE} bytes`);
    }
  }
  private put(key: string, value: Uint8Array): void {
    this.data.set(key, value.slice());
    this.versions.set(key, this.next++);
  }
  get(key: string): Uint8Array | undefined {
    this.check(key);
    return this.data.get(key)?.slice();
  }
  set(key: string, value: Uint8Array): void {
    this.check(key, value);
    this.put(key, value);
  }
  delete(key: string): void {
    this.check(key);
    this.data.delete(key);
    this.versions.delete(key);
  }
  exists(key: string): boolean {
    this.check(key);
    return this.data.has(key);
  }
  listKeys(cursor: string | undefined): { keys: string[]; cursor: string | undefined } {
    if (this.unavailable) throw new KvFailure("unavailable", "the fake store is marked unavailable");
    const keys = [...this.data.keys()].filter((k) => cursor === undefined || k > cursor).sort();
    const page = keys.slice(0, PAGE);
    return { keys: page, cursor: keys.length > PAGE ? page[page.length - 1] : undefined };
  }
  increment(key: string, delta: number): number {
    this.check(key);
    const text = utf8.decode(this.data.get(key) ?? utf8.encode("0")).trim();
    if (!/^[+-]?[0-9]+$/.test(text)) {
      throw new KvFailure("other", "the key holds a value that is not a decimal integer, so it cannot be incremented");
    }
    const sum = BigInt(text) + BigInt(Math.trunc(delta));
    if (sum > 2n ** 63n - 1n || sum < -(2n ** 63n)) {
      throw new KvFailure("other", `incrementing by ${delta} overflows a 64-bit counter`);
    }
    this.put(key, utf8.encode(String(sum)));
    return Number(sum);
  }
  cas(key: string): { current: Uint8Array | undefined; handle: unknown } {
    this.check(key);
    return { current: this.data.get(key)?.slice(), handle: [key, this.versions.get(key)] };
  }
  swap(handle: unknown, value: Uint8Array): void {
    const [key, version] = handle as [string, number | undefined];
    this.check(key, value);
    if (this.versions.get(key) !== version) {
      const fresh = this.cas(key);
      throw new CasLost(fresh.current, fresh.handle);
    }
    this.put(key, value);
  }
  getMany(keys: string[]): (Uint8Array | undefined)[] {
    return keys.map((k) => this.get(k));
  }
  setMany(pairs: [string, Uint8Array][]): void {
    for (const [k, v] of pairs) this.set(k, v);
  }
  deleteMany(keys: string[]): void {
    for (const k of keys) this.delete(k);
  }
}

/** An in-memory host: `config` values, every log line kept in `lines`, every metric value
 * in `metrics`, the `traceHeader` the component sees, and the key-value
 * stores the component may open, `stores` (`new FakeHost({}, ["todos"])` makes empty ones). */
export class FakeHost {
  readonly lines: { level: Level; message: string; fields: Record<string, string> }[] = [];
  readonly stores = new Map<string, FakeStore>();
  /** Every metric value added; the real host also checks EMF's limits, which this does not. */
  readonly metrics: { name: string; value: number; unit: Unit; dimensions: Record<string, string> }[] = [];
  /** The trace header the component sees. */
  traceHeader: string | undefined = undefined;
  constructor(
    readonly config: Record<string, string> = {},
    stores: string[] = [],
  ) {
    for (const name of stores) this.stores.set(name, new FakeStore());
  }

  /** Makes this the host `log`, `config` and `kv` talk to; returns it. */
  install(): this {
    install({
      log: (level, message, fields) => this.lines.push({ level, message, fields: Object.fromEntries(fields) }),
      configGet: (key) => this.config[key],
      configAll: () => Object.entries(this.config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      kvOpen: (name) => {
        const store = this.stores.get(name);
        if (!store) throw new KvFailure("access-denied", `the store ${JSON.stringify(name)} is not granted`);
        return store;
      },
      metricsAdd: (name, value, unit, dimensions) =>
        this.metrics.push({ name, value, unit, dimensions: Object.fromEntries(dimensions) }),
      traceHeader: () => this.traceHeader,
    });
    return this;
  }
}
